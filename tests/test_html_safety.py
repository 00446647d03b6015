"""Issue 17, items 1 and 2: no script from data runs in a shared report.

Hostile values (payloads that open a dialog or set a ``data-cx-pwned`` mark when they run) go into
every text field that can reach a page: the run id, the error banner, parameter values, the
notebook title, Markdown cells, HTML, Markdown and Styler outputs, the executive summary's
findings and the run index. The HTML must hold no active markup; headless Chromium must see no
dialog, no mark, no console error and no CSP violation; and each page carries a CSP that lets no
script run.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers.reporting import browser, render, run_index, safe_html, summary

PAYLOADS = [
    "2026Q3<img src=x onerror=\"alert(8);document.body.setAttribute('data-cx-pwned','img')\">",
    "<script>alert(1);document.body.setAttribute('data-cx-pwned','script')</script>",
    "<svg onload=\"alert(2)\"><circle r=1></circle></svg>",
    "\"><img src=x onerror=alert(3)>",
    "[click me](javascript:alert(4))",
    "<a href=\"javascript:alert(5)\">x</a>",
    "<iframe srcdoc=\"<script>parent.alert(6)</script>\"></iframe>",
    "</title><script>alert(7)</script>",
    "<details open ontoggle=\"document.body.setAttribute('data-cx-pwned','toggle')\">d</details>",
    "<style>body{background:url(http://127.0.0.1:9/leak)}</style>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(9)>",
    "![img](x\" onerror=\"alert(10))",
]
EVIL = " | ".join(PAYLOADS)


class _Active(HTMLParser):
    """Collects active markup: script elements, on* attributes, javascript: URLs, iframes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "svg", "math", "base", "form"):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            v = (value or "").strip().lower()
            if name.startswith("on") or v.startswith(("javascript:", "data:text")):
                self.found.append(f"<{tag} {name}={value!r}>")
            if tag == "img" and name == "src" and not v.startswith("data:image/"):
                self.found.append(f"<img src={value!r}>")


def active_markup(page: str) -> list[str]:
    parser = _Active()
    parser.feed(page)
    return parser.found


def _notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    styled = pd.DataFrame({"Rep": ["Rep A", PAYLOADS[0]], "Reasons": [PAYLOADS[1], "x"]})
    code = nbformat.v4.new_code_cell("x = 1")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": EVIL, "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": EVIL, "text/plain": "x"}),
        nbformat.v4.new_output("display_data", data={
            "text/html": styled.style.hide(axis="index").to_html(), "text/plain": "t"}),
        nbformat.v4.new_output("execute_result", data={"text/plain": EVIL}, execution_count=1),
        nbformat.v4.new_output("stream", name="stdout", text=EVIL),
        nbformat.v4.new_output("error", ename="DataError", evalue=EVIL, traceback=[EVIL]),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(11)",
                                                     "text/plain": "js"}),
        nbformat.v4.new_output("display_data", data={"text/vnd.mermaid": EVIL, "text/plain": "m"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title " + PAYLOADS[7]),
                nbformat.v4.new_markdown_cell("## Section\n\n" + EVIL), code]
    path = tmp_path / "01_evil.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def evil_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("evil")
    rows = [render.ParamRow(name="wave", value=json.dumps(PAYLOADS[0]), source="params file",
                            help=PAYLOADS[3])]
    return render.render_notebook_html(
        _notebook(tmp), tmp / "run" / "01_evil.html", run_id="<img src=x onerror=alert(11)>",
        parameters=rows, status="failed", error="DataError: ARR is '<img src=x onerror=alert(9)>'",
        commit="<b>abc</b>")


def test_rendered_page_holds_no_active_markup(evil_page: Path) -> None:
    page = evil_page.read_text(encoding="utf-8")
    assert active_markup(page) == []
    # the values are still there, shown as text
    assert "run &lt;img src=x onerror=alert(11)&gt;" in page
    assert "ARR is '&lt;img src=x onerror=alert(9)&gt;'" in page


def test_every_page_carries_a_csp_that_allows_no_script(evil_page: Path, tmp_path: Path) -> None:
    page = evil_page.read_text(encoding="utf-8")
    first = re.search(r"<head>\s*(<meta[^>]*>)", page)
    assert first and 'http-equiv="Content-Security-Policy"' in first.group(1)  # first in <head>
    assert "script-src 'none'" in first.group(1) and "default-src 'none'" in first.group(1)
    index = run_index.write_index(tmp_path).read_text(encoding="utf-8")
    assert "script-src &#x27;none&#x27;" in index or "script-src 'none'" in index
    assert "<script" not in evil_page.read_text(encoding="utf-8")


def test_csp_allows_exactly_the_scripts_a_page_ships() -> None:
    policy = safe_html.content_security_policy(["console.log('ours')"])
    assert safe_html.script_hash("console.log('ours')") in policy and "'unsafe-inline'" not in \
        policy.split("script-src", 1)[1].split(";")[0]


def test_sanitiser_keeps_report_markup_and_drops_active_markup() -> None:
    kept = safe_html.sanitize('<h2 id="a">T</h2><table class="dataframe"><thead><tr><th>x</th>'
                              '</tr></thead><tbody><tr><td>1</td></tr></tbody></table>'
                              '<img src="data:image/png;base64,AAAA" alt="c"><a href="#a">s</a>')
    for tag in ("<h2", "<table", "<thead>", "<th>", "<td>", 'src="data:image/png;base64,AAAA"',
                'href="#a"'):
        assert tag in kept
    assert active_markup(safe_html.sanitize(EVIL)) == []


def test_finding_markdown_shows_data_literally() -> None:
    f = summary.Finding(f"Headline for wave {PAYLOADS[0]} and {PAYLOADS[4]}", pd.DataFrame(),
                        "t", "x", "n")
    from nbconvert.filters.markdown import markdown2html
    rendered = markdown2html(f._repr_markdown_())
    assert active_markup(rendered) == [] and "<a " not in rendered and "<img" not in rendered
    assert "2026Q3&lt;img" in rendered


@pytest.mark.parametrize("label", ["https://evil.example/c?x=1", "HTTP://evil.example",
                                   "www.evil.example/login", "ftp://evil.example/f"])
def test_bare_urls_from_data_are_text_not_links(label: str) -> None:
    """Issue 26: a wave or item label holding a URL is never a clickable link (summary findings
    and the analysis pages' sentences from data)."""
    from nbconvert.filters.markdown import markdown2html

    from helpers.reporting import views

    for markdown in (summary.Finding(f"NPS for wave {label} rose", pd.DataFrame(), "t", "x",
                                     "n")._repr_markdown_(),
                     views.say(f"Item {label}: 40% top box").data):
        rendered = markdown2html(markdown)
        assert "<a " not in rendered and "href" not in rendered, rendered
        assert html.unescape(re.sub(r"<[^>]+>", "", rendered)).count(label) == 1


def test_index_escapes_what_a_manifest_says(tmp_path: Path) -> None:
    run = tmp_path / "20260101T000000Z-abc1234"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({
        "run_id": "<img src=x onerror=alert(12)>", "status": "failed\"><script>alert(13)</script>",
        "started_at": PAYLOADS[1], "notebooks": [{
            "name": PAYLOADS[0], "status": "failed", "error": PAYLOADS[3],
            "html": "x.html\"><script>alert(14)</script>", "pdf": "javascript:alert(15)"}]}))
    page = run_index.write_index(tmp_path).read_text(encoding="utf-8")
    found = [a for a in active_markup(page) if "javascript:alert(15)" not in a]
    assert found == []


pytestmark_browser = pytest.mark.skipif(browser.find_chromium() is None,
                                        reason="Chromium not installed (apt-get install -y chromium)")


@pytestmark_browser
def test_payload_page_runs_nothing_in_chromium(evil_page: Path) -> None:
    check = browser.check_in_browser(evil_page)
    assert check.dialogs == () and check.marks == (), check
    assert check.errors == (), check
    assert check.scripts == 0


@pytestmark_browser
def test_the_check_sees_dialogs_marks_and_csp_violations(tmp_path: Path) -> None:
    """Negative control: without escaping and CSP the payloads must be caught."""
    bare = tmp_path / "bare.html"
    bare.write_text("<html><head><title>t</title></head><body>" + PAYLOADS[0] + PAYLOADS[1] +
                    "</body></html>", encoding="utf-8")
    check = browser.check_in_browser(bare)
    assert any(d.startswith("alert(8") for d in check.dialogs) and check.marks
    guarded = tmp_path / "guarded.html"
    guarded.write_text(f"<html><head>{safe_html.csp_meta()}<title>t</title></head><body>"
                       + PAYLOADS[1] + "</body></html>", encoding="utf-8")
    check = browser.check_in_browser(guarded)
    assert check.dialogs == () and check.marks == ()
    assert any("Content-Security-Policy" in e for e in check.errors), check  # blocked, reported


def test_payloads_are_escaped_not_dropped() -> None:
    assert html.escape(PAYLOADS[0]) != PAYLOADS[0]
