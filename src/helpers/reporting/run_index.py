"""The run index: ``reports/index.html`` lists every run with status, headline figures and the
trend of those figures across runs as small inline SVG charts."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import catalog, paths
from helpers.analysis import disclosure
from helpers.errors import DataError
from helpers.reporting import analyst_notes, cards, manifest, studies
from helpers.reporting.formats import format_figure, is_number, metric_label, too_few_text
from helpers.reporting.manifest import Status, StepRecord
from helpers.reporting.render import CSS, publish_bytes
from helpers.reporting.safe_html import csp_meta

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
            if is_number(value["estimate"]):
                out[name] = dict(value)
        elif isinstance(value, Mapping):
            out.update(flatten_metrics(value, f"{name}."))
        elif is_number(value):
            out[name] = {"estimate": value}
    return out


@dataclass(frozen=True)
class RunSummary:
    """What the index shows about one run (read from its manifest and metrics)."""

    run_id: str
    status: Status
    started_at: str
    duration_s: float | None
    notebooks: tuple[StepRecord, ...]
    figures: dict[str, dict[str, Any]]
    not_available: tuple[str, ...] = ()   # titles of the sections the run could not show
    workbook: str | None = None
    study: str = paths.STUDY_DEFAULT          # the survey programme (helpers.reporting.studies)


def read_runs(reports_dir: str | os.PathLike[str]) -> list[RunSummary]:
    """Every run folder with a manifest.json, oldest first (run ids sort chronologically)."""
    root = Path(reports_dir)
    runs = []
    for path in sorted(root.glob(f"*/{manifest.FILE}")):
        folder = path.parent
        if folder.is_symlink():  # reports/latest points at a run listed anyway
            continue
        try:
            doc = manifest.read(folder)
        except (OSError, ValueError):
            continue
        try:
            figures = _governed(flatten_metrics(catalog.load_metrics(folder)))
        except (OSError, json.JSONDecodeError):
            figures = {}
        try:
            missing = tuple(str(r.get("title", "")) for r in cards.not_available(folder))
        except (OSError, json.JSONDecodeError, DataError):
            missing = ()
        runs.append(RunSummary(
            run_id=doc.run_id, status=doc.status, started_at=doc.started_at or "",
            duration_s=doc.duration_s, notebooks=tuple(doc.notebooks), workbook=doc.workbook,
            figures=figures, not_available=missing, study=doc.study or _study_of(doc.parameters),
        ))
    return runs


def _governed(figures: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mark the segments notebook's figures on fewer responses than the run's min_n
    (``too_few``): the index says so instead of showing them, as the summary's tiles do."""
    min_n = figures.get("02_segments.min_n", {}).get("estimate")
    if not is_number(min_n):
        return figures
    for key, fig in figures.items():
        if key.startswith("02_segments.") and "n" in fig and disclosure.too_few(fig["n"], int(min_n)):
            fig["too_few"] = True
    return figures


def _shown(figure: Mapping[str, Any]) -> str:
    """A figure's text on the index: the figure, or why it is not shown."""
    return too_few_text(figure.get("n")) if figure.get("too_few") else format_figure(figure)


def _study_of(parameters: Mapping[str, Any]) -> str:
    """The study of a run recorded before manifests named it: from its notebooks' schema and
    export parameters (:func:`helpers.reporting.studies.study_id`)."""
    files = {k: Path(str(v)) for p in parameters.values() if isinstance(p, Mapping)
             for k, v in p.items() if k in ("schema_path", "raw_path") and v}
    return studies.study_id(files) if files else paths.STUDY_DEFAULT


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
    pts = [(lab, est, lo, hi) for lab, est, lo, hi in points if is_number(est)]
    if not pts:
        return ""
    values = [v for _, est, lo, hi in pts for v in (est, lo, hi) if is_number(v)]
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
        if is_number(lo) and is_number(hi):
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


def figure_label(key: str, figure: Any = None) -> str:
    """A key figure's name: the label its notebook stored with it (a statistic's own label,
    helpers.measures) and its market, else the key in words (formats.metric_label)."""
    label = figure.get("label") if isinstance(figure, Mapping) else None
    if not label:
        return metric_label(key)
    market = key.rsplit("_", 1)[-1].upper() if key.endswith(("_b2b", "_b2c")) else ""
    return f"{market} {label}".strip()


def _trend_section(runs: Sequence[RunSummary], keys: Sequence[str]) -> str:
    ok = [r for r in runs if r.status is Status.SUCCEEDED]
    if not keys or not ok:
        return "<p>No headline figures yet: they appear once a run has finished successfully.</p>"
    figs = []
    for key in keys:
        points = [(r.run_id, r.figures[key]["estimate"], r.figures[key].get("ci_low"),
                   r.figures[key].get("ci_high")) for r in ok
                  if key in r.figures and not r.figures[key].get("too_few")]
        if not any(key in r.figures for r in ok):
            figs.append(f'<figure class="cx-trend"><figcaption><b>{html.escape(metric_label(key))}'
                        "</b>: not available in any successful run</figcaption></figure>")
            continue
        latest = next(r for r in reversed(ok) if key in r.figures).figures[key]
        figs.append(f'<figure class="cx-trend">{sparkline_svg(points)}<figcaption>'
                    f'<b title="{html.escape(key)}">{html.escape(figure_label(key, latest))}</b>: '
                    f"latest {html.escape(_shown(latest))}; "
                    f"{len(points)} successful run(s), bars = 95% CI</figcaption></figure>")
    return "".join(figs)


def _status(s: Status) -> str:
    return f'<span class="cx-status cx-status-{html.escape(s)}">{html.escape(s)}</span>'


def _run_row(run: RunSummary, keys: Sequence[str], latest_id: str | None) -> str:
    links = []
    for nb in run.notebooks:
        name = html.escape(nb.name)
        if nb.html:
            link = f'<a href="{html.escape(run.run_id)}/{html.escape(nb.html)}">{name}</a>'
        else:
            link = name
        if nb.pdf:
            link += f' (<a href="{html.escape(run.run_id)}/{html.escape(nb.pdf)}">PDF</a>)'
        note = ""
        if nb.status is not Status.SUCCEEDED:
            reason = nb.error or nb.reason or ""
            note = f" {_status(nb.status)}" + (f" <small>{html.escape(reason)[:200]}</small>"
                                               if reason else "")
        links.append(f"<li>{link}{note}</li>")
    if run.workbook:
        links.append(f'<li><a href="{html.escape(run.run_id)}/{html.escape(run.workbook)}">'
                     "All result tables (Excel)</a></li>")
    if run.not_available:
        links.append(f'<li><a href="{html.escape(run.run_id)}/{analyst_notes.FILE}">'
                     "Analyst notes: what this run could not show</a></li>")
    figs = "".join(f'<li class="cx-kf" title="{html.escape(k)}">'
                   f"{html.escape(figure_label(k, run.figures[k]))}: "
                   f"{html.escape(_shown(run.figures[k]))}</li>"
                   for k in keys if k in run.figures)
    dur = f"{run.duration_s:,.0f} s" if is_number(run.duration_s) else ""
    mark = " (latest)" if run.run_id == latest_id else ""
    na = ""
    if run.not_available:
        titles = "; ".join(run.not_available)
        na = (f'<br><small title="{html.escape(titles)}">{len(run.not_available)} section'
              f'{"s" if len(run.not_available) != 1 else ""} not available</small>')
    return (f"<tr><td><code>{html.escape(run.run_id)}</code>{mark}<br><small>study "
            f"{html.escape(run.study)}</small></td><td>{_status(run.status)}{na}</td>"
            f"<td>{html.escape(_when(run.started_at))}<br><small>{dur}</small></td>"
            f"<td><ul>{''.join(links)}</ul></td><td><ul>{figs or '<li>none</li>'}</ul></td></tr>")


def _when(stamp: str) -> str:
    """'2026-11-23T14:45:01Z' -> '2026-11-23 14:45 UTC' (as stored when it does not parse)."""
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def _latest_block(runs: Sequence[RunSummary], latest_id: str | None, href: str = "latest") -> str:
    """The first thing a reader sees: a link to the newest successful run's summary (and PDF),
    through the link `href` (``latest``, or a study's ``latest-<study>``)."""
    run = next((r for r in runs if r.run_id == latest_id), None)
    if run is None:
        return "<p>No successful run yet.</p>"
    href = html.escape(href)
    links = []
    for nb in run.notebooks:
        if nb.pdf and nb.html:
            name = html.escape(nb.name.split("_", 1)[-1].replace("_", " "))
            links.append(f'<a href="{href}/{html.escape(nb.html)}"><b>Read the {name}</b></a> '
                         f'(<a href="{href}/{html.escape(nb.pdf)}">PDF</a>)')
        elif nb.name == "07_sales_briefing" and nb.html:
            links.append(f'<a href="{href}/{html.escape(nb.html)}">Sales briefing</a>')
    if run.workbook:
        links.append(f'<a href="{href}/{html.escape(run.workbook)}">All tables (Excel)</a>')
    started = html.escape(_when(run.started_at))
    overall = href == "latest"
    what = "Latest successful run" if overall else "Latest successful run of this study"
    study = f" (study <code>{html.escape(run.study)}</code>)" if overall else ""
    return (f'<p class="cx-latest">{what}: <a href="{href}/">{html.escape(run.run_id)}'
            f"</a>{study}, started {started}. {' '.join(links)}</p>")


def _study_sections(root: Path, runs: Sequence[RunSummary], keys: Sequence[str]) -> str:
    """Per study (newest first): the link to its latest successful run and its own trends, so
    figures of different programmes never share a chart."""
    order = list(dict.fromkeys(r.study for r in reversed(runs)))
    out = []
    for study in order:
        mine = [r for r in runs if r.study == study]
        link = studies.latest_link(study)
        ok = [r for r in mine if r.status is Status.SUCCEEDED]
        latest_id = (os.readlink(root / link) if (root / link).is_symlink()
                     else ok[-1].run_id if ok else None)
        href = link if (root / link).is_symlink() else latest_id or link
        own = _latest_block(mine, latest_id, href) if len(order) > 1 else ""  # else: as above
        out.append(f'<section class="cx-study"><h3>Study <code>{html.escape(study)}</code></h3>'
                   f"{own}{_trend_section(mine, keys)}</section>")
    return "".join(out)


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
<html lang="en"><head>{csp_meta()}<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>CX reports: run history</title>
<style>{CSS}</style></head>
<body class="cx-index">
<header class="cx-header"><h1 class="cx-title">CX reports</h1>
<p class="cx-meta">{len(runs)} run(s) &middot; updated {datetime.now(UTC):%Y-%m-%d %H:%M UTC}</p>
</header>
{latest_link}
<h2>Headline figures across runs, per study</h2>
<p class="cx-methods">Each chart shows one headline figure per successful run of one study (one
survey programme), oldest left, with its 95% confidence interval as a vertical bar where the
notebook reported one. Figures come from each run's <code>metrics/*.json</code>; a missing point
means the figure was not available in that run. Each study's latest run is also at
<code>reports/latest-&lt;study&gt;</code>.</p>
{_study_sections(root, runs, keys)}
<h2>Run history</h2>
<table class="cx-table"><thead><tr><th>Run</th><th>Status</th><th>Started (UTC)</th>
<th>Reports</th><th>Key figures</th></tr></thead>
<tbody>{rows or '<tr><td colspan="5">No runs yet.</td></tr>'}</tbody></table>
<footer class="cx-footer">Each run folder holds the executed notebooks, their HTML, manifest.json
(git commit, input checksums, parameters, package versions) and run.log.</footer>
</body></html>
"""
    return publish_bytes(root / "index.html", page.encode("utf-8"))
