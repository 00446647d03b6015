"""Browser test: the index and every report of a run, opened in headless Chromium.

Fails on console/script errors, resources that did not load, images that did not load and any
code cell (.jp-InputArea / input prompt) in the DOM; saves a screenshot of each page into the run
folder (screenshots/). Skipped when Chromium is absent (Debian: apt-get install -y chromium);
nothing here downloads a browser.

By default it checks a fresh run of the tiny fixture pipeline. Set CX_BROWSER_RUN_DIR to a real
run folder (e.g. reports/latest) to check that run and its index as well.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import paths
from helpers.reporting import browser, pipeline, render

FIX = Path(__file__).parent / "fixtures" / "pipeline"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5Er"
       "kJggg==")

pytestmark = pytest.mark.skipif(browser.find_chromium() is None,
                                reason="Chromium not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    result = pipeline.run(FIX / "params.yaml", out_dir=out, pipeline_path=FIX / "pipeline_ok.yaml")
    assert result.status == "succeeded"
    return result.run_dir


def _pages(run: Path) -> list[Path]:
    return [run.parent / "index.html", *sorted(run.glob("*.html"))]


def _assert_clean(page: Path, run: Path) -> browser.BrowserCheck:
    check = browser.check_in_browser(page, screenshot=run / "screenshots" / f"{page.stem}.png")
    assert not check.errors, f"{page.name}: console/resource errors {check.errors}"
    assert not check.broken_images, f"{page.name}: images that did not load {check.broken_images}"
    assert check.code_cells == 0, f"{page.name}: {check.code_cells} code cell(s) in the DOM"
    assert check.images_without_alt == 0, f"{page.name}: images without alt text"
    assert check.screenshot and Path(check.screenshot).stat().st_size > 1000
    return check


def test_index_and_every_report_render_cleanly(run_dir: Path) -> None:
    checks = {p.name: _assert_clean(p, run_dir) for p in _pages(run_dir)}
    assert set(checks) == {"index.html", "01_ok.html"}
    assert checks["01_ok.html"].images >= 1  # the chart is there, and loaded
    # an analysis page: contents folded, run parameters at the end, the chart on the first screen
    assert checks["01_ok.html"].chart_above_fold, checks["01_ok.html"].chart
    page = (run_dir / "01_ok.html").read_text()
    assert page.index('class="cx-toc cx-toc-folded"') < page.index('<main class="cx-main">')
    assert page.index('aria-label="Run parameters"') > page.index("</main>")


def test_the_check_catches_errors_broken_images_and_code(tmp_path: Path) -> None:
    """Negative control: a page with each defect must be reported, or the test above proves nothing."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><head><title>bad</title></head><body>"
        '<div class="jp-InputArea"><pre>print("code")</pre></div>'
        '<img src="missing.png" alt="missing">'
        f'<img src="data:image/png;base64,{PNG}">'
        f'<img src="data:image/png;base64,{PNG}" alt="No description has been provided for this image">'
        "<script>notDefinedAnywhere()</script></body></html>", encoding="utf-8")
    check = browser.check_in_browser(bad)
    assert not check.ok
    assert check.code_cells == 1
    assert check.images_without_alt == 2  # none, and nbconvert's placeholder
    assert "2 image(s) without alt text" in check.problems()
    assert any("missing.png" in b for b in check.broken_images)
    assert any("notDefinedAnywhere" in e for e in check.errors)


def test_pdf_of_a_report(run_dir: Path) -> None:
    pdf, message = render.print_pdf(run_dir / "01_ok.html", run_dir / "01_ok.pdf")
    assert pdf is not None, message
    assert pdf.read_bytes()[:5] == b"%PDF-"


@pytest.mark.skipif(not os.environ.get("CX_BROWSER_RUN_DIR"), reason="CX_BROWSER_RUN_DIR not set")
def test_a_real_run(tmp_path: Path) -> None:
    run = paths.resolve(os.environ["CX_BROWSER_RUN_DIR"]).resolve()
    for page in _pages(run):
        _assert_clean(page, run)


def _notebook_with(tmp_path: Path, html: str, leadership: bool = False) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if leadership:
        nb.metadata["cx"] = {"layout": "leadership"}
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": html,
                                                                  "text/plain": "table"})]
    nb.cells = [nbformat.v4.new_markdown_cell("# A page\n\nProse."), cell]
    src = tmp_path / "page.ipynb"
    nbformat.write(nb, src)
    return render.render_notebook_html(src, tmp_path / "page.html", run_id="r1")


def _big_table(interactive: bool = True) -> str:
    import pandas as pd

    from helpers.reporting import tables as t
    df = pd.DataFrame({"segment": [f"Segment {c}" for c in "DACEB"] * 4,
                       "n": [5, 1200, 30, 999, 70] * 4, "nps": [-3.0, 17.8, 4.2, -12.5, 40.0] * 4})
    return t.table(df, [t.text("segment", "Segment"), t.count(), t.points("nps", "NPS")],
                   interactive=interactive).to_html()


def test_interactive_tables_sort_filter_and_search_offline_under_the_csp(tmp_path: Path) -> None:
    page = _notebook_with(tmp_path, _big_table())
    text = page.read_text()
    assert text.count("<script>") == 1 and render.TABLES_JS in text
    assert "http://" not in render.TABLES_JS and "https://" not in render.TABLES_JS  # no CDN
    check = browser.check_in_browser(page)
    assert check.ok, check.problems()  # no CSP violation: the script is allowed by its hash
    inter = check.interactive
    assert inter["tables"] == 1 and inter["enhanced"] == 1 and inter["rows"] == 20
    assert inter["search_key"] == "Segment B" and inter["search_rows"] == 4 and inter["search_all_match"]
    assert inter["aria"] == "ascending"
    assert inter["ascending"][:4] == ["-12.5"] * 4 and inter["ascending"][-1] == "+40.0"
    assert inter["descending"][0] == "+40.0"


def test_a_changed_script_is_blocked_by_the_csp(tmp_path: Path) -> None:
    """Negative control: the hash allows exactly the shipped script, nothing else."""
    page = _notebook_with(tmp_path, _big_table())
    text = page.read_text()
    assert render.TABLES_JS in text
    page.write_text(text.replace(render.TABLES_JS, render.TABLES_JS + "\n/* one more line */"))
    check = browser.check_in_browser(page)
    assert any("Content-Security-Policy" in e for e in check.errors), check.errors
    assert check.interactive["enhanced"] == 0


def test_leadership_pages_stay_static(tmp_path: Path) -> None:
    page = _notebook_with(tmp_path, _big_table(), leadership=True)
    assert "<script>" not in page.read_text()
    check = browser.check_in_browser(page)
    assert check.ok and check.scripts == 0 and check.interactive["enhanced"] == 0


def test_scorecard_of_a_run_fits_above_the_fold_on_a_laptop(tmp_path: Path) -> None:
    """The scorecard of a two-market run (tiles and what to fix first) ends within the first
    screen at 1366x768; the check reports where it ends."""
    import pandas as pd

    from helpers import catalog
    from helpers.ingest import schema
    from helpers.measures import find_statistic
    from helpers.reporting import scorecard, summary
    run = tmp_path / "run"
    rows = []
    measures = schema.load().measures
    for market in ("B2B", "B2C"):
        for metric, est in (("nps", 17.8), ("ces_mean", 4.76), ("ces_agree", 60.6), ("csat_top2", 61.1)):
            described = find_statistic(measures, metric)[1].describe()
            rows.append({"market": market, "metric": metric, "estimate": est, "ci_low": est - 4,
                         "ci_high": est + 4, "n": 731, **described})
    catalog.save_result(pd.DataFrame(rows), "market_headline", run)
    catalog.save_result(pd.DataFrame({"market": ["B2B"] * 3 + ["B2C"] * 3,
                                      "driver": list("abcdef"), "share": [0.3, 0.2, 0.1] * 2,
                                      "performance": [3.0] * 6, "quadrant": ["fix first"] * 6}),
                        "drivers_priority", run)
    card = scorecard.build(summary.load_artefacts(run))
    assert len(card.tiles) == 6 and len(card.fixes) == 3
    page = _notebook_with(tmp_path, card.to_html(), leadership=True)
    check = browser.check_in_browser(page, screenshot=tmp_path / "fold.png", shot_height=768)
    assert check.ok, check.problems()
    assert check.scorecard_above_fold, check.fold
