"""Notebook -> standalone HTML (code hidden) and PDF, in the house template.

Rendering uses nbconvert's HTMLExporter with the template ``templates/cx`` (the JupyterLab look
without external scripts, so every file stands alone for email), a visible run-parameters table
(hiding input also hides papermill's injected parameters cell) and a table of contents built from
the notebook's headings. PDFs are printed by headless Chromium.
"""

from __future__ import annotations

import functools
import html
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import catalog
from helpers.reporting import safe_html, tables
from helpers.reporting.browser import chromium_command, find_chromium
from helpers.reporting.manifest import Status

log = logging.getLogger("helpers.reporting.render")

TEMPLATES_DIR = Path(__file__).with_name("templates")
CSS = (TEMPLATES_DIR / "cx" / "cx.css").read_text(encoding="utf-8")
#: The interactive-tables script (sort, filter, search), inline and allowed by its hash.
TABLES_JS = (TEMPLATES_DIR / "cx" / "tables.js").read_text(encoding="utf-8")
#: Cell tag: the cell's output is kept in the notebook (nbval compares it) but not shown on the
#: rendered page (checks of headline numbers, next to the table or chart the reader sees).
HIDE_OUTPUT = "hide_output"
#: Cell metadata: consecutive cells with the same ``cx_fold`` text render as one collapsed block
#: with that text as its summary (an analysis page's method notes and data description, so
#: the first chart is on the first screen).
FOLD = "cx_fold"
_HEADING = re.compile(r'<h([1-3]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class ParamRow:
    """One line of the run-parameters table shown at the end of every report."""

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


_NO_ALT = re.compile(r"<img\b(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'(<div\b[^>]*\bclass="[^"]*\b(?:jp-Cell-inputWrapper|jp-OutputArea-output)\b[^"]*")')


def focus_and_alt(page: str) -> str:
    """What nbconvert's HTMLExporter does to a page with BeautifulSoup (a minute for a page with
    a 30,000-row table), by pattern: an image without alt text gets nbconvert's placeholder,
    the cells' input and output wrappers become focusable, and an apostrophe is written as
    itself (as BeautifulSoup did; the page quotes attributes with double quotes)."""
    page = _NO_ALT.sub('<img alt="No description has been provided for this image"', page)
    page = page.replace("&#39;", "'").replace("&#x27;", "'")
    return _FOCUSABLE.sub(r'\1 tabindex="0"', page)


@functools.cache
def _exporter() -> Any:
    """One HTMLExporter per process: compiling the templates costs about a second. Its page
    skips nbconvert's BeautifulSoup pass over the whole page (:func:`focus_and_alt` instead)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
    from nbconvert.preprocessors import TagRemovePreprocessor

    class Exporter(HTMLExporter):
        def from_notebook_node(  # type: ignore[override]
                self, nb: Any, resources: Any = None, **kw: Any) -> tuple[str, Any]:
            info = nb.metadata.get("language_info", {})
            self.register_filter("highlight_code", self.filters.get("highlight_code", Highlight2HTML(
                pygments_lexer=info.get("pygments_lexer", info.get("name")), parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return focus_and_alt(page), resources

    exporter = Exporter(
        template_name="cx",
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        sanitize_html=True,  # Markdown cells and HTML/Markdown outputs pass the allow-list
    )
    exporter.register_filter("clean_html", safe_html.sanitize)
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"remove_cell", HIDE_OUTPUT},
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
    status: Status = Status.SUCCEEDED,
    error: str | None = None,
    commit: str | None = None,
) -> Path:
    """Render an executed notebook to one self-contained HTML file with code hidden.

    Also used for failed notebooks: papermill leaves the error banner and traceback in the
    executed notebook, and `error` adds a one-line banner at the top. The notebook's
    ``metadata.cx.words`` (:func:`write_in_programme_words`) name the headline of a programme
    without the LTR: its prose and parameter help are written in them.
    """
    src, target = Path(ipynb), Path(out)
    import nbformat  # lazy: its jsonschema formats cost seconds of import in every kernel

    nb = nbformat.read(src, as_version=4)
    words = nb.metadata.get("cx", {}).get("words")
    if not words:  # an NPS programme: the prose written for other headlines is left out
        nb.cells = [c for c in nb.cells if HEADLINE_TAG not in c.get("metadata", {}).get("tags", [])]
    mark_folds(nb)
    name = src.stem
    title = _title_of(nb, name)
    layout = layout_of(nb)
    interactive = layout != "leadership" and has_interactive_tables(nb)
    resources = {
        "metadata": {"name": title},
        "cx": {
            "css": CSS, "run_id": run_id, "status": str(status), "error": error,
            "layout": layout,
            "title": title, "notebook": name, "commit": commit,
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "csp": safe_html.content_security_policy([TABLES_JS] if interactive else []),
            "parameters": [
                {k: _NPS_WORD.sub(words[0], str(getattr(p, k))) if words and k == "help"
                 else str(getattr(p, k)) for k in ("name", "value", "source", "help")}
                for p in parameters
            ],
        },
    }
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    body = _drop_repeated_title(body, title)
    body = body.replace("<!--CX_TOC-->", table_of_contents(body), 1)
    if interactive:  # exactly the hashed text, after everything else
        at = body.rfind("</body>")
        body = body[:at] + f"<script>{TABLES_JS}</script>\n" + body[at:]
    return publish_bytes(target, body.encode("utf-8"))


#: Markdown cells written for an NPS programme carry this tag: left out of the page of a
#: programme without the likelihood to recommend (the section's card says what it needs, or a
#: cell tagged HEADLINE_TAG says the same in the programme's words).
LTR_TAG = "ltr"
#: Markdown cells written for a programme whose headline is not NPS; left out of NPS pages.
HEADLINE_TAG = "headline"
_NPS_WORD = re.compile(r"\bNPS\b")
_RECOMMEND_WORDS = re.compile(r"(?i)likelihood to recommend")


def programme_words(schema_path: str, known: tuple[str, str] | None = None
                    ) -> tuple[str, str] | None:
    """(headline name, measure in words) of a programme whose headline is not NPS, read from
    its survey schema (``("CSAT", "satisfaction")``); None for an NPS programme; `known` when the
    schema cannot be read."""
    from helpers import paths

    try:
        st = paths.resolve(schema_path).stat()
        return _schema_words(schema_path, st.st_size, st.st_mtime_ns, st.st_ino)
    except (OSError, ValueError):
        return known


@functools.lru_cache(maxsize=8)
def _schema_words(schema_path: str, *identity: int) -> tuple[str, str] | None:
    """:func:`programme_words` of one version of a schema file (a run renders nine pages of one
    schema: it is read once, not once a page)."""
    from helpers.ingest import schema as schema_mod

    head = schema_mod.load(schema_path).headline_measure
    if head.headline.kind == "nps":
        return None
    return head.headline.name, head.label.lower()


def write_in_programme_words(ipynb: str | os.PathLike[str], words: tuple[str, str]) -> None:
    """Rewrite an executed notebook's prose in the words of a programme without the LTR
    (:func:`in_programme_words`), remembering them in ``metadata.cx.words`` for rendering."""
    import nbformat

    nb = nbformat.read(Path(ipynb), as_version=4)
    in_programme_words(nb, *words)
    nb.metadata.setdefault("cx", {})["words"] = list(words)
    catalog.atomic_write_bytes(Path(ipynb), nbformat.writes(nb).encode("utf-8"))


def in_programme_words(nb: Any, name: str, measure: str) -> None:
    """Prose of a programme without the LTR: markdown cells tagged :data:`LTR_TAG` left out;
    in text outputs, "NPS" written as the headline's `name` and "likelihood to recommend" as
    its `measure` (the sections shown run on the headline)."""

    def words(text: str) -> str:
        text = _NPS_WORD.sub(name, text)
        return _RECOMMEND_WORDS.sub(
            lambda m: measure[:1].upper() + measure[1:] if m.group(0)[0].isupper() else measure,
            text)

    kept = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if LTR_TAG in cell.get("metadata", {}).get("tags", []):
                continue
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = words("".join(out["text"]))
            for mime in ("text/plain", "text/markdown", "text/html"):
                if mime in out.get("data", {}):
                    out["data"][mime] = words("".join(out["data"][mime]))
        kept.append(cell)
    nb.cells = kept


def mark_folds(nb: Any) -> None:
    """Mark where each run of cells with the same :data:`FOLD` text opens and closes
    (``cx_fold_open`` / ``cx_fold_close`` in the cell metadata, read by the template), over
    the cells the page shows (not those removed by tag)."""
    removed = {"remove_cell", HIDE_OUTPUT}
    shown = [c for c in nb.cells if not removed & set(c.get("metadata", {}).get("tags", []))]
    folds = [c.get("metadata", {}).get(FOLD) or None for c in shown]
    for i, cell in enumerate(shown):
        if not folds[i]:
            continue
        if i == 0 or folds[i - 1] != folds[i]:
            cell.metadata["cx_fold_open"] = str(folds[i])
        if i == len(shown) - 1 or folds[i + 1] != folds[i]:
            cell.metadata["cx_fold_close"] = True


def has_interactive_tables(nb: Any) -> bool:
    """True when an output of the notebook holds a table marked for sorting and filtering."""
    mark = f'class="cx-table cx-data {tables.INTERACTIVE_CLASS}"'
    return any(mark in "".join(o.get("data", {}).get("text/html", ""))
               for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def layout_of(nb: Any) -> str:
    """'leadership' for notebooks that declare it (metadata ``cx.layout``), else 'analysis'.

    Leadership pages (executive summary, sales briefing) get a compact header, contents and run
    parameters at the end, and never ship the interactive-table script.
    """
    cx = nb.metadata.get("cx") or {}
    return "leadership" if isinstance(cx, dict) and cx.get("layout") == "leadership" else "analysis"


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
