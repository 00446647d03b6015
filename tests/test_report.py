"""Tests of helpers.reporting (render, run_index, summary, formats): HTML rendering pieces, metrics flattening, the index and its trend,
the PDF fallback, and the executive-summary readers (which must never recompute, only read)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from helpers import catalog, paths
from helpers.analysis import drivers
from helpers.contract import ContractError
from helpers.measures import Measure, find_statistic, statistics
from helpers.reporting import formats, render, run_index, summary


def _fig(est: float, lo: float, hi: float, n: int) -> dict:
    return {"estimate": est, "se": (hi - lo) / 3.92, "ci_low": lo, "ci_high": hi, "n": n}


#: The sample programme's measures: LTR (NPS), CES 1-7 (agree), CSAT 1-5 (top-2 box).
MEASURES = [Measure.define("ltr", scale=(0, 10), rule="nps"),
            Measure.define("ces", scale=(1, 7), rule="agree", name="CES"),
            Measure.define("csat", scale=(1, 5), rule="top_box", name="CSAT")]


def _stat(key: str, est: float, lo: float, hi: float, n: int) -> dict:
    """A headline figure as notebook 02 writes it: the estimate with its statistic's description."""
    return {**_fig(est, lo, hi, n), **find_statistic(MEASURES, key)[1].describe()}


def _fake_run(root: Path, run_id: str, status: str, metrics: dict | None) -> Path:
    run = root / run_id
    (run / "metrics").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({
        "run_id": run_id, "status": status, "started_at": "2026-11-23T06:15:00Z", "duration_s": 42.0,
        "notebooks": [{"name": "02_segments", "status": status, "html": "02_segments.html",
                       "error": None if status == "succeeded" else "ValueError: boom"}]}))
    if metrics is not None:
        catalog.save_metrics(metrics, "02_segments", run)
    return run


def test_flatten_metrics_keeps_figures_and_drops_non_numbers() -> None:
    flat = run_index.flatten_metrics({"02_segments": {
        "nps": {"B2B": _fig(31.2, 27.0, 35.4, 812)}, "n_waves": 4, "wave": "2025Q4",
        "ok": True, "bad": {"estimate": float("nan")}}})
    assert set(flat) == {"02_segments.nps.B2B", "02_segments.n_waves"}
    assert flat["02_segments.nps.B2B"]["ci_high"] == 35.4
    assert flat["02_segments.n_waves"] == {"estimate": 4}


def test_metric_label() -> None:
    assert formats.metric_label("02_segments.nps_b2b") == "NPS B2B (segments)"
    assert formats.metric_label("ces_agree_b2c") == "CES agree B2C"


def test_format_figure() -> None:
    assert formats.format_figure(_fig(31.2, 27.0, 35.4, 812)) == "31.2 [27.0, 35.4] n=812"
    assert formats.format_figure({"estimate": 1234.5}, digits=0) == "1,234"


def test_table_of_contents_links_headings() -> None:
    body = ('<h1 id="Title">Title<a class="anchor-link" href="#Title">¶</a></h1>'
            '<h2 id="NPS-&amp;-CES">NPS &amp; CES<a class="anchor-link">¶</a></h2><h4 id="x">x</h4>')
    toc = render.table_of_contents(body)
    assert '<a href="#Title">Title</a>' in toc
    assert '<li class="cx-toc-2"><a href="#NPS-&amp;-CES">NPS &amp; CES</a></li>' in toc
    assert "#x" not in toc  # only h1-h3


def test_sparkline_scales_points_into_the_box() -> None:
    svg = run_index.sparkline_svg([("r1", 10.0, 5.0, 15.0), ("r2", 20.0, 15.0, 25.0)], 200, 60)
    assert svg.startswith("<svg") and svg.count("<circle") == 2 and svg.count("<line") == 2
    # lowest value (5) at the bottom padding (y = 60 - 14), highest (25) at the top (y = 14)
    assert 'y1="46.0"' in svg and 'y2="14.0"' in svg
    assert run_index.sparkline_svg([]) == ""


def test_index_shows_history_trend_and_latest(tmp_path: Path) -> None:
    _fake_run(tmp_path, "20261101T061500Z-aaaaaaa", "succeeded", {"nps_b2b": _fig(30.0, 26.0, 34.0, 800)})
    _fake_run(tmp_path, "20261108T061500Z-bbbbbbb", "failed", None)
    _fake_run(tmp_path, "20261115T061500Z-ccccccc", "succeeded", {"nps_b2b": _fig(36.0, 32.0, 40.0, 790)})
    os.symlink("20261115T061500Z-ccccccc", tmp_path / "latest")
    page = run_index.write_index(tmp_path).read_text()
    assert page.index("20261115T061500Z-ccccccc") < page.index("20261101T061500Z-aaaaaaa")  # newest first
    assert "NPS B2B (segments)</b>: latest 36.0 [32.0, 40.0] n=790; 2 successful run(s)" in page
    assert page.count("<circle") == 2  # the failed run has no point
    assert "ValueError: boom" in page and 'href="latest/"' in page
    assert oct((tmp_path / "index.html").stat().st_mode & 0o777) == "0o644"


def test_headline_keys_prefers_configuration(tmp_path: Path) -> None:
    _fake_run(tmp_path, "r1", "succeeded", {"a": _fig(1, 0, 2, 5), "b": 3})
    runs = run_index.read_runs(tmp_path)
    assert run_index.headline_keys(runs) == ["02_segments.a"]  # only figures with a CI by default
    assert run_index.headline_keys(runs, ["02_segments.b"]) == ["02_segments.b"]


def test_pdf_is_skipped_with_a_clear_message_without_chromium(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CX_CHROMIUM", str(tmp_path / "no-such-browser"))
    pdf, message = render.print_pdf(tmp_path / "x.html", tmp_path / "x.pdf")
    assert pdf is None and "Chromium not found" in message and "apt-get install" in message
    assert not (tmp_path / "x.pdf").exists()


def test_render_hides_code_and_shows_parameters_and_toc(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = nbformat.v4.new_code_cell("secret_code_line = 1\nprint('visible output')")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="visible output\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# My report\n\n## Section one\n\nProse."), code]
    src = tmp_path / "07_x.ipynb"
    nbformat.write(nb, src)
    out = render.render_notebook_html(
        src, tmp_path / "07_x.html", run_id="R1",
        parameters=[render.ParamRow("min_n", "10", "params file", "smallest <cell>")])
    page = out.read_text()
    assert "visible output" in page and "secret_code_line" not in page
    assert "<td><code>min_n</code></td>" in page and "smallest &lt;cell&gt;" in page
    assert '<a href="#Section-one">Section one</a>' in page
    assert "<title>My report</title>" in page
    assert page.count(">My report<") == 2  # <title> and header; the repeated h1 is dropped
    assert "id=\"My-report\"" not in page
    assert 'class="jp-InputArea' not in page


def test_cells_marked_to_fold_render_as_one_collapsed_block(tmp_path: Path) -> None:
    """Consecutive cells with the same cx_fold text are one <details>; a hidden check cell
    (hide_output) at the end of the run does not leave it open."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    intro = nbformat.v4.new_markdown_cell("# Report\n\nLong method notes.")
    data = nbformat.v4.new_markdown_cell("## The data\n\nRows and waves.")
    shown = nbformat.v4.new_code_cell("print('data sentence')")
    shown.outputs = [nbformat.v4.new_output("stream", name="stdout", text="data sentence\n")]
    check = nbformat.v4.new_code_cell("print(1)", metadata={"tags": [render.HIDE_OUTPUT]})
    for cell, label in ((intro, "About"), (data, "The data"), (shown, "The data"), (check, "The data")):
        cell.metadata[render.FOLD] = label
    nb.cells = [intro, data, shown, check, nbformat.v4.new_markdown_cell("## Results\n\nFirst.")]
    src = tmp_path / "08_x.ipynb"
    nbformat.write(nb, src)
    page = render.render_notebook_html(src, tmp_path / "08_x.html", run_id="R").read_text()
    main = page[page.index('<main class="cx-main">'):page.index("</main>")]
    assert main.count("<details") == 2 and main.count("</details>") == 2
    assert '<summary>The data</summary>' in main
    block = main[main.index("<summary>The data</summary>"):]
    assert block.index("data sentence") < block.index("</details>") < block.index("Results")


def test_summary_readers_say_not_available_when_artefacts_are_missing(tmp_path: Path) -> None:
    art = summary.load_artefacts(tmp_path)
    assert art.metrics == {} and art.tables == {}
    assert summary.headline_figures(art).empty            # no statistic reported
    assert formats.MISSING in summary.headline_finding(art).text
    assert summary.significant_changes(art).empty
    assert summary.top_drivers(art).empty
    assert summary.revenue_gap(art).empty


def test_headline_figures_read_the_registered_metrics_only(tmp_path: Path) -> None:
    catalog.save_metrics({"nps_b2c": _stat("nps", 12.0, 9.0, 15.0, 2100),
                          "csat_top2_b2c": _stat("csat_top2", 78.0, 75.5, 80.5, 2100)},
                         "02_segments", tmp_path)
    catalog.save_metrics({"nps_b2b": _stat("nps", 31.2, 27.0, 35.4, 812)}, "03_promoter_drivers",
                         tmp_path)
    head = summary.headline_figures(summary.load_artefacts(tmp_path)).set_index(["market", "metric"])
    assert head.loc[("B2C", "nps"), "estimate"] == 12.0
    assert head.loc[("B2C", "nps"), "text"] == "+12.0 [+9.0, +15.0] (n=2,100)"
    assert head.loc[("B2C", "csat_top2"), "n"] == 2100
    # a figure written by another notebook than the contract names is not picked up
    assert head.loc[("B2B", "nps"), "text"] == formats.MISSING
    with pytest.raises(ContractError, match="result table 'headline' is not registered"):
        summary.load_artefacts(tmp_path).table("headline")


@pytest.fixture()
def run_art(tmp_path: Path) -> summary.Artefacts:
    """A run folder shaped like the real notebooks' artefacts (keys as 01/02/04/05 write them)."""
    catalog.save_metrics({"rows_raw": 5000, "rows_included": 4710,
                          "flagged": {"test": 30, "duplicate": 50, "speeder": 0}},
                         "01_clean_survey", tmp_path)
    catalog.save_metrics({"wave": "2026Q3", "nps_b2b": {**_stat("nps", 17.8, 9.4, 25.9, 731),
                                                        "design": "clustered by account"},
                          "ces_mean_b2b": _stat("ces_mean", 4.76, 4.67, 4.86, 731),
                          "csat_top2_b2c": _stat("csat_top2", 71.7, 66.7, 76.2, 460)},
                         "02_segments", tmp_path)
    catalog.save_result(pd.DataFrame([
        {"market": "B2B", "dimension": "all", "segment": "all", "wave_from": "2026Q2",
         "wave_to": "2026Q3", "change": -9.0, "ci_low": -15.0, "ci_high": -3.0, "p_value": 0.001,
         "p_adjusted": 0.02, "significant": True, "test": "paired"},
        {"market": "B2C", "dimension": "channel", "segment": "Store", "wave_from": "2026Q2",
         "wave_to": "2026Q3", "change": 12.0, "ci_low": 1.0, "ci_high": 23.0, "p_value": 0.03,
         "p_adjusted": 0.4, "significant": False, "test": "independent"},
        {"market": "B2B", "dimension": "region", "segment": "EMEA", "wave_from": "2026Q1",
         "wave_to": "2026Q2", "change": 15.0, "ci_low": 8.0, "ci_high": 22.0, "p_value": 0.0001,
         "p_adjusted": 0.003, "significant": True, "test": "paired"},
    ]), "wave_changes", tmp_path)
    catalog.save_result(pd.DataFrame({  # columns as 03_promoter_drivers writes drivers_ranked
        "market": ["B2B"] * 4, "driver": ["impl_on_time", "sales_needs", "impl_onboarding", "x"],
        "label": ["implementation: on time", "sales: needs", "implementation: onboarding", "x"],
        "importance": [0.05, 0.12, 0.08, 0.01], "share": [0.19, 0.46, 0.31, 0.04],
        "share_ci_low": [0.12, 0.40, 0.25, 0.0], "share_ci_high": [0.25, 0.52, 0.37, 0.08],
        "top3_share": [0.9, 1.0, 1.0, 0.1], "n": 2463, "r2": 0.26}), "drivers_ranked", tmp_path)
    catalog.save_result(pd.DataFrame([{"basis": "Renewal rate: laggards to middle", "gap": 0.1,
                                       "estimate": 832306.6, "se": 5e5, "ci_low": -167984.2,
                                       "ci_high": 1975282.7, "n": 165}]), "gap_value", tmp_path)
    catalog.save_metrics({"leader_laggard_gap_renewed_pts": _fig(16.4, 2.7, 29.8, 110),
                          "revenue_at_risk_expected_churn_arr": _fig(3.53e6, 2.51e6, 4.79e6, 97)},
                         "04_leaders_vs_laggards", tmp_path)
    catalog.save_metrics({"reps_flagged": {"estimate": 3, "n": 25},
                          "nps_all": _fig(13.5, 6.8, 20.0, 2836),
                          "nps_without_flagged": _fig(8.1, 1.0, 15.0, 2533)},
                         "05_score_integrity", tmp_path)
    return summary.load_artefacts(tmp_path)


def test_headline_finding_states_numbers_cis_and_n(run_art: summary.Artefacts) -> None:
    f = summary.headline_finding(run_art)
    assert "wave 2026Q3" in f.text
    assert ("NPS **+17.8 points [+9.4, +25.9] (n=731)** (standard errors allow for several "
            "contacts per account); CES") in f.text
    assert "CES mean (1-7) 4.76 [4.67, 4.86]" in f.text
    # B2C has no NPS here: its first figure leads its line (a programme without NPS still reads)
    assert "**B2C**: CSAT **71.7% [66.7, 76.2] (n=460)**." in f.text
    assert list(f.table["label"]) == ["B2B NPS"] and f.table["n"].iloc[0] == 731
    assert repr(f) == f.text and f._repr_markdown_() == f.text  # nbval checks the plain text


def test_changes_finding_reports_only_significant_changes(run_art: summary.Artefacts) -> None:
    f = summary.changes_finding(run_art)
    assert "**1 of the 2 NPS changes into 2026Q3 tested is significant**" in f.text
    assert "across all 3 tests of the run" in f.text
    assert "EMEA" not in f.text  # significant, but between earlier waves: not 'since the previous'

    assert "B2B all (2026Q2 to 2026Q3): **-9.0 [-15.0, -3.0]** points (adjusted p = 0.020" in f.text
    assert "Store" not in f.text  # p = 0.03 unadjusted, not significant after BH: not news
    assert list(f.table["estimate"]) == [-9.0]


def test_changes_finding_says_when_nothing_changed(tmp_path: Path) -> None:
    catalog.save_result(pd.DataFrame({"market": ["B2B"], "change": [3.0], "ci_low": [-1.0],
                                      "ci_high": [7.0], "p_value": [0.2], "p_adjusted": [0.2],
                                      "significant": [False]}), "wave_changes", tmp_path)
    f = summary.changes_finding(summary.load_artefacts(tmp_path))
    assert f.text.startswith("**No significant change since the previous wave.** Of the 1 "
                             "wave-over-wave NPS changes tested")
    assert f.table.empty


def test_drivers_finding_ranks_by_importance(run_art: summary.Artefacts) -> None:
    f = summary.drivers_finding(run_art, k=3)
    assert ("- **B2B** (all items together explain 26% of LTR variance):\n    1. sales: needs "
            "(46.0% [40.0, 52.0] of explained variance, top 3 in 100% of resamples)\n"
            "    2. implementation: onboarding") in f.text
    assert "3. implementation: on time (19.0% [12.0, 25.0]" in f.text
    assert " x (" not in f.text  # fourth driver not listed with k=3
    assert list(f.table["estimate"].round(1)) == [46.0, 31.0, 19.0]


def test_drivers_use_the_schema_labels_stored_with_the_ranking(tmp_path: Path) -> None:
    catalog.save_result(pd.DataFrame({"market": ["B2C"], "driver": ["q6_3"], "label": ["Quality"],
                                      "share": [0.322], "share_ci_low": [0.27], "share_ci_high": [0.371],
                                      "top3_share": [1.0], "n": [1711], "r2": [0.59]}),
                        "drivers_ranked", tmp_path)
    f = summary.drivers_finding(summary.load_artefacts(tmp_path))
    assert "**B2C** (all items together explain 59% of LTR variance):\n    1. Quality (32.2% [27.0, 37.1]" in f.text


def test_drivers_finding_of_a_satisfaction_programme_names_the_measure_modelled(
        tmp_path: Path) -> None:
    """A CSAT-headline study that also asks CES (listed first): the drivers explain CSAT, the
    measure notebook 03 modelled and stored with its metrics, not the first tile nor LTR."""
    catalog.save_metrics({"statistics": [s.describe() for s in statistics(MEASURES[1:])]},
                         "02_segments", tmp_path)
    catalog.save_result(pd.DataFrame({"market": ["B2C"], "driver": ["loesung"],
                                      "label": ["Dauerhafte Lösung"], "share": [0.41],
                                      "share_ci_low": [0.3], "share_ci_high": [0.5],
                                      "top3_share": [1.0], "n": [380], "r2": [0.6206]}),
                        "drivers_ranked", tmp_path)
    catalog.save_metrics(drivers.headline_metrics({}, outcome=MEASURES[2]), "03_promoter_drivers",
                         tmp_path)
    art = summary.load_artefacts(tmp_path)
    f = summary.drivers_finding(art)
    assert f.text.startswith("What moves CSAT: the top 3 experiences per market by their share "
                             "of the explained variance in CSAT")
    assert "(all items together explain 62% of CSAT variance)" in f.text
    assert "R² of CSAT (1-5)" in f.note and f.title == "Top 3 drivers of CSAT"
    assert not {"CES", "LTR", "promoter"} & set(re.findall(r"\w+", f.text + f.note + f.title))
    assert "03_promoter_drivers" not in art.metrics  # only the outcome is read, no figure


def test_revenue_finding_in_money_with_cis(run_art: summary.Artefacts) -> None:
    f = summary.revenue_finding(run_art)
    assert "renewal rate: **+16.4 percentage points [+2.7, +29.8] (n=110)**." in f.text
    assert ("Renewal rate: laggards to middle: worth **USD 832k** ARR a year (95% CI USD -168k to "
            "USD 1.98M); the interval includes zero") in f.text
    assert "detractor accounts: **USD 3.53M** (95% CI USD 2.51M to USD 4.79M; 97 accounts)" in f.text
    assert f.table["estimate"].iloc[0] == pytest.approx(0.8323066)  # charted in millions


def test_integrity_finding_with_exclusions_and_flags(run_art: summary.Artefacts) -> None:
    f = summary.integrity_finding(run_art)
    assert "290 of 5,000 survey responses (5.8%) were excluded before analysis: 30 test, 50 duplicate." in f.text
    assert "**3 of 25 account teams**" in f.text
    assert "(-5.4 points)" in f.text and "not proof" in f.text
    assert list(f.table["label"]) == ["all responses", "without flagged teams"]


def test_integrity_and_revenue_findings_of_a_satisfaction_programme(tmp_path: Path) -> None:
    """Without the LTR the findings name the headline (CSAT, a share in %) and the low-CSAT
    accounts, never NPS or detractors."""
    catalog.save_metrics({"reps_flagged": {"estimate": 1, "n": 6},
                          "csat_top2_all": {**_fig(47.7, 33.2, 62.6, 218), "name": "CSAT",
                                            "unit": "pct"},
                          "csat_top2_without_flagged": {**_fig(45.0, 30.1, 60.2, 180),
                                                        "name": "CSAT", "unit": "pct"}},
                         "05_score_integrity", tmp_path)
    catalog.save_metrics({"revenue_at_risk_expected_churn_arr": {
        **_fig(3.53e5, 2.51e5, 4.79e5, 9), "accounts": "low-CSAT accounts"}},
        "04_leaders_vs_laggards", tmp_path)
    art = summary.load_artefacts(tmp_path)
    f = summary.integrity_finding(art, min_n=5)
    assert "B2B CSAT across the waves analysed, all responses: 47.7% [33.2, 62.6] (n=218)" in f.text
    assert "45.0% [30.1, 60.2]" in f.text and "(-2.7 points)" in f.text
    assert "NPS" not in f.text + f.note + f.title and "10s" not in f.note
    r = summary.revenue_finding(art)
    assert "ARR expected to churn in low-CSAT accounts" in r.text and "detractor" not in r.text


def test_findings_without_artefacts_say_so(tmp_path: Path) -> None:
    art = summary.load_artefacts(tmp_path)
    for finding in (summary.changes_finding(art), summary.drivers_finding(art),
                    summary.revenue_finding(art), summary.integrity_finding(art)):
        assert formats.MISSING in finding.text and finding.table.empty


def test_money() -> None:
    assert formats.money(1_975_282.7) == "USD 1.98M"
    assert formats.money(-167_984.2, "EUR") == "EUR -168k"
    assert formats.money(950) == "USD 950"


def test_index_links_the_latest_summary_and_its_pdf(tmp_path: Path) -> None:
    run = _fake_run(tmp_path, "20261115T061500Z-ccccccc", "succeeded", None)
    doc = json.loads((run / "manifest.json").read_text())
    doc["notebooks"].append({"name": "06_executive_summary", "status": "succeeded",
                             "html": "06_executive_summary.html", "pdf": "06_executive_summary.pdf"})
    (run / "manifest.json").write_text(json.dumps(doc))
    os.symlink(run.name, tmp_path / "latest")
    page = run_index.write_index(tmp_path).read_text()
    assert '<a href="latest/06_executive_summary.html"><b>Read the executive summary</b></a>' in page
    assert '(<a href="latest/06_executive_summary.pdf">PDF</a>)' in page
    assert "started 2026-11-23 06:15 UTC" in page


_LATEST = paths.REPORTS_DIR / "latest"
_TRUTH = paths.RAW_DIR / "truth.json"


def _latest_run_is_on_this_sample() -> bool:
    """The latest run read the generated export whose truth.json this suite holds (not, say, an
    analyst's own export run with `cx run --raw`)."""
    export = paths.RAW_DIR / "survey_export.csv"
    if not (_LATEST.is_dir() and _TRUTH.is_file() and export.is_file()):
        return False
    import hashlib
    inputs = json.loads((_LATEST / "manifest.json").read_text()).get("inputs", {})
    return hashlib.sha256(export.read_bytes()).hexdigest() in inputs.values()


@pytest.mark.skipif(not _latest_run_is_on_this_sample(),
                    reason="needs a finished `make report` on the generated sample")
def test_summary_of_the_latest_run_names_the_planted_top_drivers() -> None:
    """Planted truth (data/raw/truth.json top3) must come through the whole chain to the summary."""
    art = summary.load_artefacts(_LATEST)
    if "drivers_ranked" not in art.tables:
        pytest.skip("the latest run has no drivers table")
    truth = json.loads(_TRUTH.read_text())["top3"]
    drv = summary.top_drivers(art, k=3)
    for market, items in truth.items():
        assert set(drv.loc[drv["market"] == market, "driver"]) == set(items)
    text = summary.drivers_finding(art).text
    for label in drv["label"]:  # the schema's labels of the planted items, as the run stored them
        assert label in text


def test_index_counts_the_sections_a_run_could_not_show(tmp_path: Path) -> None:
    run = _fake_run(tmp_path, "20261115T061500Z-ccccccc", "succeeded", None)
    (run / "sections").mkdir()
    (run / "sections" / "02_segments.json").write_text(json.dumps({"notebook": "02_segments",
        "sections": [{"title": "Response rates <by tier>", "available": False},
                     {"title": "NPS by segment", "available": True}]}))
    page = run_index.write_index(tmp_path).read_text()
    assert "1 section not available" in page
    assert "Response rates &lt;by tier&gt;" in page and "<by tier>" not in page


def test_run_index_names_a_figure_by_the_label_stored_with_it() -> None:
    figure = {"estimate": 61.0, **find_statistic(MEASURES, "csat_top2")[1].describe()}
    assert run_index.figure_label("02_segments.csat_top2_b2c", figure) == "B2C CSAT % top-2 box (4-5)"
    assert run_index.figure_label("02_segments.nps_b2b", {"estimate": 1.0}) == "NPS B2B (segments)"


def test_programme_words_read_once_per_version_of_the_schema(tmp_path: Path, monkeypatch) -> None:
    from helpers.ingest import schema as schema_mod

    nps = (paths.CONFIG_DIR / "survey.yaml").read_text(encoding="utf-8")
    target = tmp_path / "survey.yaml"
    target.write_text(nps, encoding="utf-8")
    reads: list[str] = []
    load = schema_mod.load
    monkeypatch.setattr(schema_mod, "load", lambda p: reads.append(str(p)) or load(p))
    assert [render.programme_words(str(target)) for _ in range(9)] == [None] * 9
    assert len(reads) == 1  # nine pages of a run, one read
    without_ltr = "\n".join(line for line in nps.splitlines() if not line.strip().startswith("ltr:"))
    target.write_text(without_ltr + "\nheadline: csat\n", encoding="utf-8")
    words = render.programme_words(str(target))
    assert words is not None and words[0].lower() == "csat" and len(reads) == 2
    target.unlink()
    assert render.programme_words(str(target), words) == words  # unreadable: the last known
