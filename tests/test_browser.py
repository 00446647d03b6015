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
    assert check.screenshot and Path(check.screenshot).stat().st_size > 1000
    return check


def test_index_and_every_report_render_cleanly(run_dir: Path) -> None:
    checks = {p.name: _assert_clean(p, run_dir) for p in _pages(run_dir)}
    assert set(checks) == {"index.html", "01_ok.html"}
    assert checks["01_ok.html"].images >= 1  # the chart is there, and loaded


def test_the_check_catches_errors_broken_images_and_code(tmp_path: Path) -> None:
    """Negative control: a page with each defect must be reported, or the test above proves nothing."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><head><title>bad</title></head><body>"
        '<div class="jp-InputArea"><pre>print("code")</pre></div>'
        '<img src="missing.png" alt="missing">'
        "<script>notDefinedAnywhere()</script></body></html>", encoding="utf-8")
    check = browser.check_in_browser(bad)
    assert not check.ok
    assert check.code_cells == 1
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
