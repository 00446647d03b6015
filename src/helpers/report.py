"""Reports leadership reads: notebook -> standalone HTML (code hidden), PDF, and the run index.

Rendering uses nbconvert's HTMLExporter with the house template ``templates/cx`` (the JupyterLab
look without external scripts, so every file stands alone for email), a visible run-parameters
table (hiding input also hides papermill's injected parameters cell) and a table of contents
built from the notebook's headings. The index page lists every run in ``reports/`` with status,
headline figures and the trend of those figures across runs as small inline SVG charts.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import catalog, paths

log = logging.getLogger("helpers.report")

TEMPLATES_DIR = Path(__file__).with_name("templates")
CSS = (TEMPLATES_DIR / "cx" / "cx.css").read_text(encoding="utf-8")
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_HEADING = re.compile(r'<h([1-3]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class ParamRow:
    """One line of the run-parameters table shown at the top of every report."""

    name: str
    value: str
    source: str
    help: str = ""


def publish_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write a report file atomically and make it world-readable (a web server serves it)."""
    p = Path(target)
    catalog.atomic_write_bytes(p, data)
    p.chmod(0o644)
    return p


@functools.cache
def _exporter() -> Any:
    """One HTMLExporter per process: compiling the templates costs about a second."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="cx",
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"remove_cell"},
                              remove_all_outputs_tags={"remove_output"}, enabled=True),
        enabled=True,
    )
    return exporter


def table_of_contents(body: str) -> str:
    """An HTML list linking to every h1-h3 heading (with an id) in a rendered notebook."""
    items = []
    for level, anchor, inner in _HEADING.findall(body):
        text = html.unescape(_TAG.sub("", inner)).rstrip("¶").strip()
        if text:
            items.append(f'<li class="cx-toc-{level}"><a href="#{anchor}">{html.escape(text)}</a></li>')
    return "<ul>" + "".join(items) + "</ul>" if items else "<p>(no sections)</p>"


def render_notebook_html(
    ipynb: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    run_id: str,
    parameters: Sequence[ParamRow] = (),
    status: str = "succeeded",
    error: str | None = None,
    title: str | None = None,
    commit: str | None = None,
) -> Path:
    """Render an executed notebook to one self-contained HTML file with code hidden.

    Also used for failed notebooks: papermill leaves the error banner and traceback in the
    executed notebook, and `error` adds a one-line banner at the top.
    """
    src, target = Path(ipynb), Path(out)
    import nbformat  # lazy: its jsonschema formats cost seconds of import in every kernel

    nb = nbformat.read(src, as_version=4)
    name = src.stem
    title = title or _title_of(nb, name)
    resources = {
        "metadata": {"name": title},
        "cx": {
            "css": CSS, "run_id": run_id, "status": status, "error": error,
            "title": title, "notebook": name, "commit": commit,
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "parameters": [
                {k: html.escape(str(getattr(p, k))) for k in ("name", "value", "source", "help")}
                for p in parameters
            ],
        },
    }
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    body = _drop_repeated_title(body, resources["cx"]["title"])
    body = body.replace("<!--CX_TOC-->", table_of_contents(body), 1)
    return publish_bytes(target, body.encode("utf-8"))


def _drop_repeated_title(body: str, title: str) -> str:
    """Remove the notebook's first h1 when it repeats the page title shown in the header."""
    main = body.find('<main class="cx-main">')
    m = _HEADING.search(body, main if main >= 0 else 0)
    if m and m.group(1) == "1":
        text = html.unescape(_TAG.sub("", m.group(3))).rstrip("¶").strip()
        if text == title.strip():
            return body[:m.start()] + body[m.end():]
    return body


def _title_of(nb: Any, fallback: str) -> str:
    """First level-1 markdown heading of the notebook, else a readable form of its name."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return re.sub(r"^\d+_", "", fallback).replace("_", " ").capitalize()


# --- PDF -------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Path of a headless-capable Chromium (env CX_CHROMIUM overrides), or None when absent."""
    env = os.environ.get("CX_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_command(chromium: str, profile: str, *args: str) -> list[str]:
    """Headless Chromium command line that never touches the network or a user profile."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]


def print_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str],
              timeout: float = 120) -> tuple[Path | None, str]:
    """Print an HTML report to PDF with headless Chromium.

    Returns ``(path, message)``; path is None (and the message says why) when Chromium is absent
    or fails, so a run without a browser still completes.
    """
    chromium = find_chromium()
    if chromium is None:
        return None, ("PDF skipped: Chromium not found (install Debian's package: "
                      "apt-get install -y chromium, or set CX_CHROMIUM)")
    src, target = Path(html_path).resolve(), Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory(prefix="cx-chromium-") as profile:
        cmd = chromium_command(chromium, profile, "--no-pdf-header-footer",
                               f"--print-to-pdf={target}", src.as_uri())
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"PDF failed: {type(exc).__name__}: {exc}"
    if proc.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return None, f"PDF failed: chromium exit {proc.returncode}: {tail[0]}"
    return target, f"PDF written: {target}"


# --- metrics and the run index ---------------------------------------------------------------


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Flatten ``{notebook: {key: {estimate, ci_low, ...} | number | {nested}}}`` to dotted keys.

    A leaf is either a mapping with an ``estimate`` or a plain number (bools and strings are not
    figures and are dropped). Values come back as ``{"estimate", "ci_low", "ci_high", "n", ...}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "estimate" in value:
            if _is_number(value["estimate"]):
                out[name] = dict(value)
        elif isinstance(value, Mapping):
            out.update(flatten_metrics(value, f"{name}."))
        elif _is_number(value):
            out[name] = {"estimate": value}
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(float(x))


def format_figure(value: Mapping[str, Any], digits: int = 1) -> str:
    """'31.2 [27.0, 35.4] n=812' style text of one metric (CI and n when present)."""
    est = float(value["estimate"])
    text = f"{est:,.{digits}f}"
    lo, hi = value.get("ci_low"), value.get("ci_high")
    if _is_number(lo) and _is_number(hi):
        text += f" [{float(lo):,.{digits}f}, {float(hi):,.{digits}f}]"
    if _is_number(value.get("n")):
        text += f" n={int(value['n']):,}"
    return text


@dataclass(frozen=True)
class RunSummary:
    """What the index shows about one run (read from its manifest and metrics)."""

    run_id: str
    status: str
    started_at: str
    duration_s: float | None
    notebooks: tuple[dict[str, Any], ...]
    figures: dict[str, dict[str, Any]]


def read_runs(reports_dir: str | os.PathLike[str]) -> list[RunSummary]:
    """Every run folder with a manifest.json, oldest first (run ids sort chronologically)."""
    root = Path(reports_dir)
    runs = []
    for manifest in sorted(root.glob("*/manifest.json")):
        if manifest.parent.is_symlink():  # reports/latest points at a run listed anyway
            continue
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        try:
            figures = flatten_metrics(catalog.load_metrics(manifest.parent))
        except (OSError, json.JSONDecodeError):
            figures = {}
        runs.append(RunSummary(
            run_id=str(doc.get("run_id", manifest.parent.name)),
            status=str(doc.get("status", "unknown")),
            started_at=str(doc.get("started_at", "")),
            duration_s=doc.get("duration_s"),
            notebooks=tuple(doc.get("notebooks", [])),
            figures=figures,
        ))
    return runs


_UPPER = {"nps", "ces", "csat", "b2b", "b2c", "arr", "nrr", "ci", "dm"}


def metric_label(key: str) -> str:
    """Readable name of a dotted metric key: '02_segments.nps_b2b' -> 'NPS B2B (segments)'."""
    head, _, rest = key.partition(".")
    if not rest:
        head, rest = "", key
    words = [w.upper() if w.lower() in _UPPER else w for w in re.split(r"[._]+", rest) if w]
    source = re.sub(r"^\d+_", "", head).replace("_", " ")
    return " ".join(words) + (f" ({source})" if source else "")


def headline_keys(runs: Sequence[RunSummary], configured: Iterable[str] = (), limit: int = 6) -> list[str]:
    """Configured headline keys (pipeline.yaml ``headline``), else the first few with a CI."""
    keys = [k for k in configured]
    if keys:
        return keys
    for run in reversed(runs):
        with_ci = [k for k, v in run.figures.items() if "ci_low" in v]
        if with_ci:
            return with_ci[:limit]
    return []


def sparkline_svg(points: Sequence[tuple[str, float, float | None, float | None]],
                  width: int = 240, height: int = 70) -> str:
    """Inline SVG of a figure across runs: line with CI whiskers, first and last value labelled."""
    pts = [(lab, est, lo, hi) for lab, est, lo, hi in points if _is_number(est)]
    if not pts:
        return ""
    values = [v for _, est, lo, hi in pts for v in (est, lo, hi) if _is_number(v)]
    vmin, vmax = min(values), max(values)
    span = (vmax - vmin) or 1.0
    pad_x, pad_y = 8, 14

    def x(i: int) -> float:
        if len(pts) == 1:
            return width / 2
        return pad_x + (width - 2 * pad_x) * (i / (len(pts) - 1))

    def y(v: float) -> float:
        return pad_y + (height - 2 * pad_y) * (1 - (v - vmin) / span)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    for i, (_, _, lo, hi) in enumerate(pts):
        if _is_number(lo) and _is_number(hi):
            parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(lo):.1f}" y2="{y(hi):.1f}" '
                         'stroke="#56B4E9" stroke-width="3" stroke-opacity="0.6"/>')
    path = " ".join(f"{x(i):.1f},{y(est):.1f}" for i, (_, est, _, _) in enumerate(pts))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#0072B2" stroke-width="1.5"/>')
    for i, (lab, est, _, _) in enumerate(pts):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(est):.1f}" r="2.5" fill="#0072B2">'
                     f"<title>{html.escape(lab)}: {est:,.1f}</title></circle>")
    first, last = pts[0], pts[-1]
    parts.append(f'<text x="{pad_x}" y="{height - 2}" font-size="10" fill="#57606a">{first[1]:,.1f}</text>')
    parts.append(f'<text x="{width - pad_x}" y="{height - 2}" font-size="10" fill="#1f2328" '
                 f'text-anchor="end">{last[1]:,.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _trend_section(runs: Sequence[RunSummary], keys: Sequence[str]) -> str:
    ok = [r for r in runs if r.status == "succeeded"]
    if not keys or not ok:
        return "<p>No headline figures yet: they appear once a run has finished successfully.</p>"
    figs = []
    for key in keys:
        points = [(r.run_id, r.figures[key]["estimate"], r.figures[key].get("ci_low"),
                   r.figures[key].get("ci_high")) for r in ok if key in r.figures]
        if not points:
            figs.append(f'<figure class="cx-trend"><figcaption><b>{html.escape(metric_label(key))}'
                        "</b>: not available in any successful run</figcaption></figure>")
            continue
        latest = next(r for r in reversed(ok) if key in r.figures).figures[key]
        figs.append(f'<figure class="cx-trend">{sparkline_svg(points)}<figcaption>'
                    f'<b title="{html.escape(key)}">{html.escape(metric_label(key))}</b>: '
                    f"latest {html.escape(format_figure(latest))}; "
                    f"{len(points)} successful run(s), bars = 95% CI</figcaption></figure>")
    return "".join(figs)


def _status(s: str) -> str:
    return f'<span class="cx-status cx-status-{html.escape(s)}">{html.escape(s)}</span>'


def _run_row(run: RunSummary, keys: Sequence[str], latest_id: str | None) -> str:
    links = []
    for nb in run.notebooks:
        name = html.escape(str(nb.get("name", "")))
        status = str(nb.get("status", ""))
        if nb.get("html"):
            link = f'<a href="{html.escape(run.run_id)}/{html.escape(nb["html"])}">{name}</a>'
        else:
            link = name
        if nb.get("pdf"):
            link += f' (<a href="{html.escape(run.run_id)}/{html.escape(nb["pdf"])}">PDF</a>)'
        note = ""
        if status != "succeeded":
            reason = nb.get("error") or nb.get("reason") or ""
            note = f" {_status(status)}" + (f" <small>{html.escape(str(reason))[:200]}</small>"
                                            if reason else "")
        links.append(f"<li>{link}{note}</li>")
    figs = "".join(f'<li class="cx-kf" title="{html.escape(k)}">{html.escape(metric_label(k))}: '
                   f"{html.escape(format_figure(run.figures[k]))}</li>"
                   for k in keys if k in run.figures)
    dur = f"{run.duration_s:,.0f} s" if _is_number(run.duration_s) else ""
    mark = " (latest)" if run.run_id == latest_id else ""
    return (f"<tr><td><code>{html.escape(run.run_id)}</code>{mark}</td><td>{_status(run.status)}</td>"
            f"<td>{html.escape(_when(run.started_at))}<br><small>{dur}</small></td>"
            f"<td><ul>{''.join(links)}</ul></td><td><ul>{figs or '<li>none</li>'}</ul></td></tr>")


def _when(stamp: str) -> str:
    """'2026-11-23T14:45:01Z' -> '2026-11-23 14:45 UTC' (as stored when it does not parse)."""
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def _latest_block(runs: Sequence[RunSummary], latest_id: str | None) -> str:
    """The first thing a reader sees: a link to the newest successful run's summary (and PDF)."""
    run = next((r for r in runs if r.run_id == latest_id), None)
    if run is None:
        return "<p>No successful run yet.</p>"
    links = []
    for nb in run.notebooks:
        if nb.get("pdf") and nb.get("html"):
            name = html.escape(str(nb.get("name", "")).split("_", 1)[-1].replace("_", " "))
            links.append(f'<a href="latest/{html.escape(nb["html"])}"><b>Read the {name}</b></a> '
                         f'(<a href="latest/{html.escape(nb["pdf"])}">PDF</a>)')
    started = html.escape(_when(run.started_at))
    return (f'<p class="cx-latest">Latest successful run: <a href="latest/">{html.escape(run.run_id)}'
            f"</a>, started {started}. {' '.join(links)}</p>")


def write_index(reports_dir: str | os.PathLike[str], headline: Iterable[str] = ()) -> Path:
    """(Re)write ``reports/index.html``: run history (newest first) and headline trends."""
    root = Path(reports_dir)
    runs = read_runs(root)
    keys = headline_keys(runs, headline)
    latest = root / "latest"
    latest_id = os.readlink(latest) if latest.is_symlink() else None
    rows = "".join(_run_row(r, keys, latest_id) for r in reversed(runs))
    latest_link = _latest_block(runs, latest_id)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>CX reports: run history</title>
<style>{CSS}</style></head>
<body class="cx-index">
<header class="cx-header"><h1 class="cx-title">CX reports</h1>
<p class="cx-meta">{len(runs)} run(s) &middot; updated {datetime.now(UTC):%Y-%m-%d %H:%M UTC}</p>
</header>
{latest_link}
<h2>Headline figures across runs</h2>
<p class="cx-methods">Each chart shows one headline figure per successful run, oldest left, with
its 95% confidence interval as a vertical bar where the notebook reported one. Figures come from
each run's <code>metrics/*.json</code>; a missing point means the figure was not available in that
run.</p>
{_trend_section(runs, keys)}
<h2>Run history</h2>
<table class="cx-table"><thead><tr><th>Run</th><th>Status</th><th>Started (UTC)</th>
<th>Reports</th><th>Key figures</th></tr></thead>
<tbody>{rows or '<tr><td colspan="5">No runs yet.</td></tr>'}</tbody></table>
<footer class="cx-footer">Each run folder holds the executed notebooks, their HTML, manifest.json
(git commit, input checksums, parameters, package versions) and run.log.</footer>
</body></html>
"""
    return publish_bytes(root / "index.html", page.encode("utf-8"))


# --- browser check (used by tests/test_browser.py and after a run) ----------------------------

_PROBE = """<script>/* cx browser check: collects errors, broken images and code cells */
window.__cx = {errors: []};
window.addEventListener("error", function (e) {
  var t = e.target;
  window.__cx.errors.push(t && t !== window && (t.src || t.href) ? "failed to load " + (t.src || t.href)
                          : String(e.message || e));
}, true);
window.addEventListener("unhandledrejection", function (e) { window.__cx.errors.push("unhandled rejection: " + e.reason); });
(function () { var ce = console.error; console.error = function () {
  window.__cx.errors.push("console.error: " + Array.prototype.join.call(arguments, " ")); ce.apply(console, arguments); }; })();
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                   .map(function (i) { return (i.currentSrc || i.src).slice(0, 120); });
  var code = document.querySelectorAll(".jp-InputArea, .jp-InputPrompt, .jp-InputArea-editor, .jp-CodeMirrorEditor, .input_area, .prompt.input_prompt").length;
  var out = document.createElement("pre"); out.id = "__cx_result"; out.hidden = true;
  out.textContent = JSON.stringify({errors: window.__cx.errors, images: imgs.length, broken: broken,
                                    code_cells: code, title: document.title});
  document.body.appendChild(out);
});
</script>"""
_RESULT = re.compile(r'<pre id="__cx_result"[^>]*>(.*?)</pre>', re.S)


@dataclass(frozen=True)
class BrowserCheck:
    """What headless Chromium saw on one page: errors, images and (forbidden) code cells."""

    page: str
    errors: tuple[str, ...]
    images: int
    broken_images: tuple[str, ...]
    code_cells: int
    screenshot: str | None

    @property
    def ok(self) -> bool:
        """No console/script/resource error, every image loaded, no code cell in the DOM."""
        return not self.errors and not self.broken_images and self.code_cells == 0


def check_in_browser(page: str | os.PathLike[str], screenshot: str | os.PathLike[str] | None = None,
                     chromium: str | None = None, timeout: float = 90) -> BrowserCheck:
    """Open an HTML file in headless Chromium and report errors, broken images and code cells.

    A copy of the page with a small probe script is loaded beside the original (so relative links
    resolve the same); Chromium's own console log on stderr is read too. With `screenshot`, the
    original page is also saved as a full-width PNG. Raises FileNotFoundError without Chromium.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("Chromium not found (apt-get install -y chromium)")
    src = Path(page).resolve()
    text = src.read_text(encoding="utf-8")
    probe = src.with_name(f".cx-browsercheck-{src.name}")
    head = re.search(r"<head[^>]*>", text, re.I)
    at = head.end() if head else 0
    probe.write_text(text[:at] + _PROBE + text[at:], encoding="utf-8")
    shot: Path | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="cx-chromium-") as profile:
            cmd = chromium_command(chromium, profile, "--enable-logging=stderr", "--v=0",
                                   "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
            if screenshot is not None:
                shot = Path(screenshot).resolve()
                shot.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(chromium_command(chromium, profile, "--hide-scrollbars",
                                                "--window-size=1280,1600", f"--screenshot={shot}",
                                                src.as_uri()),
                               capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        probe.unlink(missing_ok=True)
    found = _RESULT.search(proc.stdout)
    if not found:
        return BrowserCheck(page=str(src), errors=(f"page did not load (chromium exit "
                                                   f"{proc.returncode})",), images=0,
                            broken_images=(), code_cells=0, screenshot=None)
    result = json.loads(html.unescape(found.group(1)))
    errors = list(result["errors"])
    for line in proc.stderr.splitlines():
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line) and not any(
                e.split(": ", 1)[-1][:40] in line for e in errors):
            errors.append(line.split("] ", 1)[-1].strip())
    return BrowserCheck(page=str(src), errors=tuple(errors), images=int(result["images"]),
                        broken_images=tuple(result["broken"]), code_cells=int(result["code_cells"]),
                        screenshot=str(shot) if shot and shot.is_file() else None)


# --- executive summary: read the run's artefacts, never recompute ----------------------------

MISSING = "not available in this run"
MARKETS = ("B2B", "B2C")
HEADLINE_METRICS = {  # metric key -> (label, unit, signed)
    "nps": ("NPS", "points, -100 to +100", True),
    "ces_mean": ("CES mean", "1-7 agreement scale", False),
    "ces_agree": ("CES % agree (5-7)", "%", False),
    "csat_top2": ("CSAT % top-2 box (4-5)", "%", False),
}


@dataclass(frozen=True)
class Artefacts:
    """Everything one run wrote: metrics by notebook and result tables by name."""

    run_dir: Path
    metrics: dict[str, dict[str, Any]]
    tables: dict[str, Any]

    def metric(self, key: str, prefer: Sequence[str] = ()) -> Any:
        """A top-level metric `key` from the preferred notebooks first, then any notebook."""
        order = [*[n for n in prefer if n in self.metrics],
                 *[n for n in self.metrics if n not in prefer]]
        for nb in order:
            if key in self.metrics[nb]:
                return self.metrics[nb][key]
        return None

    def table(self, *names: str) -> Any:
        """The first of `names` that this run wrote, else None."""
        for name in names:
            if name in self.tables:
                return self.tables[name]
        return None


def load_artefacts(run_dir: str | os.PathLike[str]) -> Artefacts:
    """Read ``<run_dir>/metrics/*.json`` and ``<run_dir>/tables/*.parquet`` (what exists)."""
    import pandas as pd

    root = Path(run_dir)
    folder = paths.resolve(root)
    metrics = catalog.load_metrics(folder) if (folder / "metrics").is_dir() else {}
    tables = {p.stem: pd.read_parquet(p) for p in sorted((folder / "tables").glob("*.parquet"))}
    return Artefacts(run_dir=folder, metrics=metrics, tables=tables)


def ci_text(est: float, lo: float | None, hi: float | None, n: Any = None, signed: bool = False,
            digits: int = 1, unit: str = "") -> str:
    """'+31.2 [+27.0, +35.4] (n=812)': estimate, 95% CI and n in one phrase."""
    if not _is_number(est):
        return MISSING
    f = f"{{:{'+' if signed else ''},.{digits}f}}"
    text = f.format(est) + unit
    if _is_number(lo) and _is_number(hi):
        text += f" [{f.format(lo)}, {f.format(hi)}]"
    if _is_number(n):
        text += f" (n={int(n):,})"
    return text


def headline_figures(art: Artefacts) -> Any:
    """NPS / CES / CSAT per market from the segments notebook (metrics ``<metric>_<market>``, or
    a ``headline`` table with market and metric columns). Missing figures say so in `text`."""
    import pandas as pd

    table = art.table("headline", "market_headline")
    rows = []
    for market in MARKETS:
        for metric, (label, unit, signed) in HEADLINE_METRICS.items():
            value = art.metric(f"{metric}_{market.lower()}", prefer=("02_segments",))
            if not isinstance(value, Mapping) and table is not None and {"market", "metric"} <= set(table):
                hit = table[(table["market"] == market) & (table["metric"] == metric)]
                value = hit.iloc[0].to_dict() if len(hit) else None
            value = value if isinstance(value, Mapping) else {}
            est = value.get("estimate")
            rows.append({
                "market": market, "metric": metric, "label": label, "unit": unit,
                "estimate": float(est) if _is_number(est) else float("nan"),
                "ci_low": _num(value.get("ci_low")), "ci_high": _num(value.get("ci_high")),
                "n": _num(value.get("n")), "design": value.get("design") or "",
                "text": ci_text(est, value.get("ci_low"), value.get("ci_high"), value.get("n"),
                                signed=signed),
            })
    return pd.DataFrame(rows)


def _num(x: Any) -> float:
    return float(x) if _is_number(x) else float("nan")


def latest_wave(art: Artefacts) -> str | None:
    """The wave the run reports on: the segments notebook's ``wave`` metric, else the newest
    ``wave_to`` of the wave-changes table."""
    wave = art.metric("wave", prefer=("02_segments",))
    if isinstance(wave, str) and wave:
        return wave
    table = art.table("wave_changes")
    if table is not None and "wave_to" in table and table["wave_to"].notna().any():
        return str(sorted(table["wave_to"].dropna().astype(str))[-1])
    return None


def _since_previous(df: Any, wave: str | None) -> Any:
    """Rows comparing the reported wave with the one before it (all rows when unknown)."""
    if wave is None or "wave_to" not in df:
        return df
    return df[df["wave_to"].astype(str) == wave]


def significant_changes(art: Artefacts) -> Any:
    """Changes since the previous wave that are significant after false-discovery control, and
    only those.

    Read from the ``wave_changes`` table (column ``significant``) or the ``significant_changes``
    list in the metrics, restricted to the pair ending in the reported wave; nothing is
    re-tested here.
    """
    import pandas as pd

    cols = ["market", "dimension", "segment", "wave_from", "wave_to", "change", "ci_low",
            "ci_high", "p_adjusted", "test"]
    table = art.table("wave_changes")
    if table is not None and "significant" in table:
        sig = table[table["significant"].fillna(False).astype(bool)]
    else:
        listed = art.metric("significant_changes", prefer=("02_segments",))
        sig = pd.DataFrame(listed) if isinstance(listed, list) else pd.DataFrame(columns=cols)
    sig = _since_previous(sig, latest_wave(art))
    sig = sig[[c for c in cols if c in sig]].copy()
    if sig.empty:
        return sig
    sig["label"] = [_change_label(r) for r in sig.to_dict("records")]
    return sig.sort_values("change", key=abs, ascending=False).reset_index(drop=True)


def _change_label(r: Mapping[str, Any]) -> str:
    seg = "all" if r.get("segment") in (None, "all") else f"{r.get('dimension')}: {r.get('segment')}"
    return f"{r.get('market', '')} {seg} ({r.get('wave_from')} to {r.get('wave_to')})".strip()


def changes_tested(art: Artefacts) -> tuple[int | None, int | None]:
    """(changes tested since the previous wave, size of the false-discovery family)."""
    table = art.table("wave_changes")
    if table is not None and "p_value" in table:
        tested = table[table["p_value"].notna()]
        return int(len(_since_previous(tested, latest_wave(art)))), int(len(tested))
    value = art.metric("changes_tested", prefer=("02_segments",))
    return (None, int(value)) if _is_number(value) else (None, None)


_DRIVER_TABLES = ("drivers_ranked", "driver_importance", "drivers_importance", "importance",
                  "shapley_importance")
_ITEM_PREFIX = {"impl": "implementation", "sales": "sales", "tp": "touchpoint"}


def driver_label(item: str) -> str:
    """'impl_time_to_value' -> 'implementation: time to value' (plain words for leadership)."""
    head, _, rest = str(item).partition("_")
    if head in _ITEM_PREFIX and rest:
        return f"{_ITEM_PREFIX[head]}: {rest.replace('_', ' ')}"
    return str(item).replace("_", " ")


def top_drivers(art: Artefacts, k: int = 3) -> Any:
    """The `k` most important drivers of LTR per market, as the drivers notebook ranked them.

    Reads the ``drivers_ranked`` table (or another table named for driver importance) with
    ``market``, ``driver`` and ``importance`` / ``share`` (+ CIs); without a table, the
    ``<market>_driver_<rank>`` metrics. Columns: market, rank, driver, importance, ci_low,
    ci_high and, when present, share (of R²) with share_ci_low / share_ci_high, top3_share, n.
    """
    import pandas as pd

    cols = ["market", "rank", "driver", "importance", "ci_low", "ci_high"]
    name = next((n for n in _DRIVER_TABLES if n in art.tables), None)
    if name is not None:
        t = art.tables[name].copy()
        if "driver" not in t:
            t = t.reset_index().rename(columns={"index": "driver"})
        if "importance" not in t and "share" in t:
            t["importance"] = t["share"]
        if "market" not in t or "importance" not in t:
            return pd.DataFrame(columns=cols)
        if "segment" in t:  # overall rows only, not per-segment breakdowns
            t = t[t["segment"].astype(str).str.lower().isin(["all", "overall", "total"])]
        t = t.sort_values(["market", "importance"], ascending=[True, False])
        t["rank"] = t.groupby("market").cumcount() + 1
    else:
        rows = []
        for market in MARKETS:
            for rank in range(1, k + 1):
                v = art.metric(f"{market.lower()}_driver_{rank}", prefer=("03_promoter_drivers",))
                if isinstance(v, Mapping) and "driver" in v and _is_number(v.get("estimate")):
                    rows.append({"market": market, "rank": rank, "driver": v["driver"],
                                 "importance": v["estimate"] / 100, "share": v["estimate"] / 100,
                                 "share_ci_low": _num(v.get("ci_low")) / 100,
                                 "share_ci_high": _num(v.get("ci_high")) / 100,
                                 "top3_share": v.get("top3_share"), "n": v.get("n")})
        t = pd.DataFrame(rows, columns=None if rows else cols)
    keep = [c for c in (*cols, "share", "share_ci_low", "share_ci_high", "top3_share", "n", "r2")
            if c in t]
    return t[t["rank"] <= k][keep].reset_index(drop=True)


def revenue_gap(art: Artefacts) -> Any:
    """The leaders-vs-laggards gap in revenue terms (ARR, USD) from the leaders notebook.

    Reads a ``gap_value`` table (basis, gap, estimate, ci_low, ci_high, n) or metrics of
    04_leaders_vs_laggards whose key mentions a gap, value or revenue and carries an estimate.
    """
    import pandas as pd

    table = art.table("gap_value", "leader_gap_value", "revenue_gap")
    if table is not None and {"estimate", "ci_low", "ci_high"} <= set(table):
        out = table.copy()
        out["label"] = out["basis"] if "basis" in out else [f"gap {i + 1}" for i in range(len(out))]
        return out.reset_index(drop=True)
    rows = []
    for nb, values in art.metrics.items():
        if not nb.startswith("04"):
            continue
        for key, v in flatten_metrics(values).items():
            low = key.lower()
            if any(w in low for w in ("value", "revenue", "arr", "risk")) and "ci_low" in v:
                rows.append({"label": key.replace("_", " "), **v})
    return pd.DataFrame(rows, columns=None if rows else ["label", "estimate", "ci_low", "ci_high", "n"])


def integrity_summary(art: Artefacts) -> dict[str, Any]:
    """Reps flagged and NPS with / without their responses (from the integrity notebook)."""
    return {key: art.metric(key, prefer=("05_score_integrity",))
            for key in ("reps_flagged", "nps_all", "nps_without_flagged")}


def available(art: Artefacts) -> Any:
    """Which notebooks left metrics and which tables exist: the summary's inventory."""
    import pandas as pd

    rows = [{"artefact": f"metrics/{nb}.json", "written by": nb, "entries": len(v)}
            for nb, v in art.metrics.items()]
    rows += [{"artefact": f"tables/{name}.parquet", "written by": "", "entries": len(t)}
             for name, t in art.tables.items()]
    return pd.DataFrame(rows, columns=["artefact", "written by", "entries"]).set_index("artefact")


# --- executive summary: findings in plain words, each with one chart and a methods note -------


@dataclass(frozen=True)
class Finding:
    """One section of the executive summary: plain-words text (Markdown) and the rows to chart.

    Displays as Markdown in a notebook; its plain-text form is the same text, so nbval can check
    the numbers. `table` has label, estimate, ci_low, ci_high and n (empty: nothing to chart).
    """

    text: str
    table: Any
    title: str
    xlabel: str
    note: str

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def money(x: float, currency: str = "USD") -> str:
    """Compact money: 1234567 -> 'USD 1.23M', -45000 -> 'USD -45k'."""
    if not _is_number(x):
        return MISSING
    if abs(x) >= 1e6:
        return f"{currency} {x / 1e6:,.2f}M"
    if abs(x) >= 1e3:
        return f"{currency} {x / 1e3:,.0f}k"
    return f"{currency} {x:,.0f}"


def _zero_note(v: Mapping[str, Any]) -> str:
    """', not distinguishable from zero' when the 95% CI spans zero."""
    lo, hi = v.get("ci_low"), v.get("ci_high")
    if _is_number(lo) and _is_number(hi) and lo < 0 < hi:
        return "; the interval includes zero, so this is not established at the 95% level"
    return ""


def _bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


_DESIGNS = {"clustered by account": "standard errors allow for several contacts per account",
            "raked weights": "weighted to the customer population"}


def headline_finding(art: Artefacts) -> Finding:
    """Headline NPS, CES and CSAT per market with 95% CIs and n (from 02_segments)."""
    import pandas as pd

    head = headline_figures(art)
    wave = art.metric("wave", prefer=("02_segments",))
    lines = []
    for market in MARKETS:
        h = head[head["market"] == market].set_index("metric")
        nps, ces, agree, csat = (h.loc[m] for m in ("nps", "ces_mean", "ces_agree", "csat_top2"))
        design = _DESIGNS.get(nps["design"], nps["design"])
        design = f" ({design})" if design else ""
        nps_text = ci_text(nps["estimate"], nps["ci_low"], nps["ci_high"], nps["n"], signed=True,
                           unit=" points")
        lines.append(
            f"**{market}**: NPS **{nps_text}**{design}; "
            f"CES {ci_text(ces['estimate'], ces['ci_low'], ces['ci_high'], digits=2)} on 1-7 "
            f"({ci_text(agree['estimate'], agree['ci_low'], agree['ci_high'], unit='%')} agree); "
            f"CSAT top-2 box {ci_text(csat['estimate'], csat['ci_low'], csat['ci_high'], unit='%')}.")
    when = f"wave {wave}" if isinstance(wave, str) and wave else "the reported wave"
    text = (f"Headline figures for {when}, with 95% confidence intervals in brackets and the "
            f"number of responses:\n\n" + _bullets(lines))
    rows = head[(head["metric"] == "nps") & head["estimate"].notna()]
    table = pd.DataFrame({"label": rows["market"] + " NPS", "estimate": rows["estimate"],
                          "ci_low": rows["ci_low"], "ci_high": rows["ci_high"], "n": rows["n"]})
    note = ("NPS = % promoters (9-10) - % detractors (0-6), in points. 95% CI: adjusted Wald; "
            "B2B SE clustered by account, B2C weighted by raking to population margins. "
            f"n = included responses in {when} (test, duplicate, speeder, straightliner, "
            "out-of-range and incomplete responses excluded). Source: metrics/02_segments.json.")
    return Finding(text, table.reset_index(drop=True), f"NPS by market, {when}",
                   "NPS (points, -100 to +100)", note)


def changes_finding(art: Artefacts, q: float = 0.05) -> Finding:
    """NPS changes since the previous wave that survive false-discovery control, and only those."""
    import pandas as pd

    sig = significant_changes(art)
    tested, family = changes_tested(art)
    wave = latest_wave(art)
    empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    if family is None and sig.empty:
        return Finding(f"Changes since the previous wave: {MISSING}.", empty, "", "", "")
    scope = (f"{tested} NPS changes into {wave} tested" if tested is not None and wave
             else f"{family} wave-over-wave NPS changes tested")
    control = (f"Benjamini-Hochberg false-discovery control (q = {q:g}, across all {family} "
               "tests of the run)")
    if sig.empty:
        text = (f"**No significant change since the previous wave.** Of the {scope} (overall and "
                f"per segment, both markets), none survives {control}; movements in the trend "
                "charts are within sampling noise.")
        return Finding(text, empty, "", "", "")
    lines = [f"{r['label']}: **{ci_text(r['change'], r['ci_low'], r['ci_high'], signed=True)}** "
             f"points (adjusted p = {r['p_adjusted']:.3f}; {r.get('test') or 'tested'})"
             for r in sig.to_dict("records")]
    text = (f"**{len(sig)} of the {scope} {'is' if len(sig) == 1 else 'are'} significant** "
            f"after {control}; only these are reported:\n\n" + _bullets(lines))
    table = pd.DataFrame({"label": sig["label"], "estimate": sig["change"],
                          "ci_low": sig["ci_low"], "ci_high": sig["ci_high"]})
    note = ("Change in NPS points from the previous wave with 95% CI. B2B: paired on accounts "
            "answering in both waves; B2C: independent weighted samples. Significant after "
            f"Benjamini-Hochberg across all {family} tests at q = {q:g}. "
            "Source: tables/wave_changes.parquet (02_segments).")
    return Finding(text, table, f"Significant NPS changes into {wave or 'the latest wave'}",
                   "Change in NPS (points)", note)


def drivers_finding(art: Artefacts, k: int = 3) -> Finding:
    """The top-k drivers of LTR per market with their importance intervals (03_promoter_drivers)."""
    import pandas as pd

    drv = top_drivers(art, k)
    empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    if drv.empty:
        return Finding(f"Top drivers of promoters: {MISSING}.", empty, "", "", "")
    as_share = "share" in drv and drv["share"].notna().all()
    if as_share:
        est = 100 * drv["share"]
        lo = 100 * drv["share_ci_low"] if "share_ci_low" in drv else est * float("nan")
        hi = 100 * drv["share_ci_high"] if "share_ci_high" in drv else est * float("nan")
    else:
        est = drv["importance"]
        lo = drv["ci_low"] if "ci_low" in drv else est * float("nan")
        hi = drv["ci_high"] if "ci_high" in drv else est * float("nan")
    lines = []
    for market in sorted(drv["market"].unique()):
        idx = drv.index[drv["market"] == market]
        parts = []
        for i in idx:
            r = drv.loc[i]
            figure = (ci_text(est[i], lo[i], hi[i], unit="%") + " of explained variance"
                      if as_share else ci_text(est[i], lo[i], hi[i], digits=3))
            stable = (f", top 3 in {100 * r['top3_share']:.0f}% of resamples"
                      if _is_number(r.get("top3_share")) else "")
            parts.append(f"{int(r['rank'])}. {driver_label(r['driver'])} ({figure}{stable})")
        r2 = drv.loc[idx[0]].get("r2") if "r2" in drv else None
        r2_text = f" (all items together explain {100 * r2:.0f}% of LTR variance)" if _is_number(r2) else ""
        lines.append(f"**{market}**{r2_text}:\n" + "\n".join(f"    {p}" for p in parts))
    text = (f"What moves customers to promoter: the top {k} experiences per market by their share "
            "of the explained variance in likelihood to recommend, with 95% bootstrap intervals:"
            "\n\n" + _bullets(lines))
    n = drv["n"] if "n" in drv else None
    table = pd.DataFrame({"label": drv["market"] + " · " + drv["driver"].map(driver_label),
                          "estimate": est, "ci_low": lo.fillna(est), "ci_high": hi.fillna(est)})
    if n is not None:
        table["n"] = n.to_numpy()
    note = ("Importance = Shapley / LMG decomposition of R² of LTR (0-10) on the experience items "
            "(general dominance), as a share of the model's R². 95% CIs from bootstrap resamples "
            "(B2B resampling accounts, B2C contacts); n = complete responses used. "
            "Source: tables/drivers_ranked.parquet (03_promoter_drivers).")
    return Finding(text, table, f"Top {k} drivers of likelihood to recommend",
                   "Share of explained variance (%)" if as_share else "Importance (R²)", note)


def revenue_finding(art: Artefacts, currency: str = "USD") -> Finding:
    """Leaders vs laggards in revenue terms: gap value and ARR at risk (04_leaders_vs_laggards)."""
    import pandas as pd

    gap = revenue_gap(art)
    risk = art.metric("revenue_at_risk_expected_churn_arr", prefer=("04_leaders_vs_laggards",))
    pts = {k: art.metric(f"leader_laggard_gap_{k}_pts", prefer=("04_leaders_vs_laggards",))
           for k in ("renewed", "nrr", "churned")}
    lines = []
    for key, label in (("renewed", "renewal rate"), ("nrr", "net revenue retention"),
                       ("churned", "churn rate")):
        v = pts[key]
        if isinstance(v, Mapping) and _is_number(v.get("estimate")):
            figure = ci_text(v["estimate"], v.get("ci_low"), v.get("ci_high"), v.get("n"),
                             signed=True, unit=" percentage points")
            lines.append(f"Leaders vs laggards, {label}: **{figure}**{_zero_note(v)}.")
    for r in gap.to_dict("records"):
        lines.append(f"{str(r['label']).capitalize()}: worth **{money(r['estimate'], currency)}** "
                     f"ARR a year (95% CI {money(r['ci_low'], currency)} to "
                     f"{money(r['ci_high'], currency)}){_zero_note(r)}.")
    if isinstance(risk, Mapping) and _is_number(risk.get("estimate")):
        lines.append(f"ARR expected to churn in detractor accounts: **{money(risk['estimate'], currency)}**"
                     f" (95% CI {money(risk.get('ci_low'), currency)} to "
                     f"{money(risk.get('ci_high'), currency)}; {int(risk.get('n') or 0)} accounts).")
    if not lines:
        empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
        return Finding(f"Leaders vs laggards in revenue terms: {MISSING}.", empty, "", "", "")
    text = ("Does better experience pay? Accounts ranked by NPS, top quartile (leaders) against "
            "bottom quartile (laggards), on next-period outcomes:\n\n" + _bullets(lines) +
            "\n\nThese are associations, not guaranteed returns: an upper bound on what the "
            "experience gap alone explains.")
    table = pd.DataFrame({"label": [str(x) for x in gap.get("label", [])],
                          "estimate": gap.get("estimate", []) / 1e6 if len(gap) else [],
                          "ci_low": gap.get("ci_low", []) / 1e6 if len(gap) else [],
                          "ci_high": gap.get("ci_high", []) / 1e6 if len(gap) else []})
    if len(gap) and "n" in gap:
        table["n"] = gap["n"].to_numpy()
    note = ("Gap value = difference in outcome rate (laggards vs the target group) x laggards' ARR; "
            "CI of the difference (Newcombe / Welch) times that ARR. Leaders / laggards = top / "
            "bottom quartile of account NPS (accounts with enough rated contacts). "
            "Source: tables/gap_value.parquet, metrics/04_leaders_vs_laggards.json.")
    return Finding(text, table, "What closing the experience gap is worth",
                   f"ARR ({currency} millions)", note)


def data_quality_line(art: Artefacts) -> str | None:
    """'290 of 5,000 responses (5.8%) excluded before analysis: 30 test, ...' from 01's metrics."""
    raw = art.metric("rows_raw", prefer=("01_clean_survey",))
    kept = art.metric("rows_included", prefer=("01_clean_survey",))
    if not (_is_number(raw) and _is_number(kept)) or raw <= 0:
        return None
    flags = art.metric("flagged", prefer=("01_clean_survey",))
    detail = ""
    if isinstance(flags, Mapping):
        parts = [f"{int(v):,} {k.replace('_', ' ')}" for k, v in flags.items() if _is_number(v) and v]
        detail = (": " + ", ".join(parts)) if parts else ""
    dropped = int(raw) - int(kept)
    return (f"{dropped:,} of {int(raw):,} survey responses ({100 * dropped / raw:.1f}%) were "
            f"excluded before analysis{detail}.")


def integrity_finding(art: Artefacts) -> Finding:
    """Integrity caveats: reps flagged for possible score gaming and how much they move NPS."""
    import pandas as pd

    info = integrity_summary(art)
    flagged, all_, without = info["reps_flagged"], info["nps_all"], info["nps_without_flagged"]
    empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    quality = data_quality_line(art)
    if not isinstance(flagged, Mapping):
        text = "Integrity caveats:\n\n" + _bullets([
            f"Score integrity checks: {MISSING}.", quality or f"Data-quality exclusions: {MISSING}."])
        return Finding(text, empty, "", "", "")
    n_flag, n_reps = int(flagged.get("estimate") or 0), flagged.get("n")
    lines = [quality or f"Data-quality exclusions: {MISSING}.",
             f"**{n_flag} of {n_reps} account teams** show several independent signs of "
             "pressured or gamed scores (pseudonyms and reasons in the score-integrity report)."]
    rows = []
    if isinstance(all_, Mapping) and isinstance(without, Mapping):
        moved = float(without["estimate"]) - float(all_["estimate"])
        lines.append(
            f"B2B NPS across the waves analysed, all responses: {ci_text(all_['estimate'], all_.get('ci_low'), all_.get('ci_high'), all_.get('n'), signed=True)}; "
            f"without the flagged teams' responses: "
            f"{ci_text(without['estimate'], without.get('ci_low'), without.get('ci_high'), without.get('n'), signed=True)}"
            f" ({moved:+.1f} points).")
        rows = [{"label": lab, **{k: v.get(k) for k in ("estimate", "ci_low", "ci_high", "n")}}
                for lab, v in (("all responses", all_), ("without flagged teams", without))]
    lines.append("A flag is a reason to look, not proof of misconduct.")
    text = "Integrity caveats:\n\n" + _bullets(lines)
    note = ("NPS of B2B responses with and without the flagged teams, 95% CI adjusted Wald with SE "
            "clustered by account. Flags need at least two independent kinds of evidence "
            "(share of 10s vs peers with empirical-Bayes shrinkage and false-discovery control, "
            "LTR contradicting the experience ratings, tone, timing, repeated devices). "
            "Source: metrics/05_score_integrity.json.")
    return Finding(text, pd.DataFrame(rows) if rows else empty,
                   "B2B NPS with and without flagged account teams", "NPS (points)", note)


def show(finding: Finding) -> None:
    """Display a finding's text and its chart with the methods note (or say none is available)."""
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display

    from helpers import plots

    display(finding)
    if finding.table is None or len(finding.table) == 0:
        if MISSING not in finding.text:
            display(Markdown("_No chart: nothing to show for this section in this run._"))
        return
    ax = plots.ci_points(finding.table, label="label", xlabel=finding.xlabel, title=finding.title,
                         n="n" if "n" in finding.table else None)
    plots.methods_note(ax, finding.note)
    plt.show()


def check_run(run_dir: str | os.PathLike[str], screenshots: bool = True) -> list[BrowserCheck]:
    """Browser-check the index and every report of a run; screenshots into ``<run>/screenshots``."""
    run = Path(run_dir).resolve()
    pages = [run.parent / "index.html", *sorted(run.glob("*.html"))]
    return [check_in_browser(p, screenshot=(run / "screenshots" / f"{p.stem}.png")
                             if screenshots else None) for p in pages if p.is_file()]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.report check RUN_DIR``: browser-check a finished run (exit 1 on problems,
    0 with a note when Chromium is absent); ``index [REPORTS_DIR]``: rewrite the index page."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m helpers.report")
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="open the index and every report of a run in headless Chromium")
    c.add_argument("run_dir", nargs="?", default="reports/latest")
    i = sub.add_parser("index", help="rewrite reports/index.html from the run folders")
    i.add_argument("reports_dir", nargs="?", default="reports")
    args = ap.parse_args(argv)
    if args.command == "index":
        from helpers import config

        print(write_index(paths.resolve(args.reports_dir), config.load_pipeline().headline))
        return 0
    if find_chromium() is None:
        print("browser check skipped: Chromium not found (apt-get install -y chromium)")
        return 0
    failed = 0
    for check in check_run(paths.resolve(args.run_dir)):
        problems = [*check.errors, *(f"image did not load: {b}" for b in check.broken_images)]
        if check.code_cells:
            problems.append(f"{check.code_cells} code cell(s) in the DOM")
        failed += bool(problems)
        status = "ok" if not problems else "FAILED: " + "; ".join(problems)
        print(f"{Path(check.page).name}: {status} ({check.images} images)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
