"""`cx run` end to end on a small generated sample: every notebook runs, reports render,
raw data stays byte-identical, and no personal data reaches processed files or HTML.

The sample is laden with hostile values (issue 17): the latest wave label, an industry, a few
comments and a string parameter carry markup that opens a dialog or sets a ``data-cx-pwned`` mark
if it ever runs; headless Chromium must see none of that on any page.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import cli, contract, paths
from helpers.ingest import readers
from helpers.reporting import browser, render, safe_html
from helpers.sample import program, writers


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


WAVE_EVIL = "2026Q3<img src=x onerror=\"alert(8);document.body.setAttribute('data-cx-pwned','w')\">"
INDUSTRY_EVIL = "Retail\"><svg onload=\"alert(12)\"><circle r=1></circle></svg>"
LABEL_EVIL = "Acme<img src=x onerror=alert(13)>"
COMMENT_EVIL = ["Great onboarding <script>alert(1);document.body.dataset.cxPwned=1</script>",
                "Support was slow <img src=x onerror=alert(2)> [see](javascript:alert(3))",
                "Fine <details open ontoggle=alert(4)>x</details>"]


def _plant_payloads(sample: program.Sample) -> None:
    """Hostile values in every text field that reaches a page: wave, industry, comments."""
    for frame, col in ((sample.export, "Wave"), (sample.invitations, "wave")):
        frame[col] = frame[col].astype(object).where(frame[col] != "2026Q3", WAVE_EVIL)
    first = sample.accounts["industry"].iloc[0]
    sample.accounts["industry"] = sample.accounts["industry"].where(
        sample.accounts["industry"] != first, INDUSTRY_EVIL)
    sample.export["Industry"] = sample.export["Industry"].astype(object).where(
        sample.export["Industry"] != first, INDUSTRY_EVIL)
    comments = sample.export["Q7"].astype(object)
    rows = comments.index[comments.fillna("").str.len() > 0][:60]
    for i, row in enumerate(rows):
        comments[row] = f"{comments[row]} {COMMENT_EVIL[i % len(COMMENT_EVIL)]}"
    sample.export["Q7"] = comments


#: The run's measures are on other scales than the sample's (issue 21): CES on 1-5 (the sample's
#: 1-7 answers folded), CSAT on 0-10 (doubled) and an extra "Ease of doing business" on 1-7.
CES_1_TO_5 = {"1": "1", "2": "1", "3": "2", "4": "3", "5": "4", "6": "4", "7": "5"}
OWN_LABELS = ["CES % agree (4-5)", "CSAT % top-2 box (9-10)", "Ease of doing business % top-2 box (6-7)"]
SAMPLE_LABELS = ["CES % agree (5-7)", "CSAT % top-2 box (4-5)", "CES mean (1-7)"]


def _own_scales(sample: program.Sample) -> None:
    """CES 1-5, CSAT 0-10 and a 1-7 "ease" question (Q9) in the export; out-of-range answers
    stay out of range."""
    ex = sample.export
    ces = ex["Q2"].astype(str)
    ex["Q9"] = ces.where(ces.isin(list(CES_1_TO_5)), "")
    ex["Q2"] = ces.map(CES_1_TO_5).fillna(ces)
    csat = pd.to_numeric(ex["Q3"], errors="coerce")
    ex["Q3"] = (2 * csat).astype("Int64").astype(str).where(csat.notna(), ex["Q3"].astype(str))
    sample.questions["Q9"] = "How easy is it to do business with Acme Cloud?"
    sample.import_ids["Q9"] = '{"ImportId":"QID9"}'


def _own_scales_schema(survey: dict) -> None:
    fields = survey["fields"]
    fields["ces"] = {**{k: v for k, v in fields["ces"].items() if k != "labels"}, "scale": [1, 5]}
    fields["csat"] = {**{k: v for k, v in fields["csat"].items() if k != "labels"}, "scale": [0, 10]}
    fields["ease"] = {"column": "Q9", "type": "score", "scale": [1, 7]}
    survey["measures"] = {"ease": {"label": "Ease of doing business", "rule": "top_box"}}


def _params_for(tmp: Path, raw: Path, processed: Path) -> Path:
    """config/params.yaml with every data/raw and data/processed path moved into tmp folders."""
    doc = yaml.safe_load((paths.CONFIG_DIR / "params.yaml").read_text())

    def move(v):
        if isinstance(v, str) and v.startswith("data/raw/"):
            return str(raw / v.removeprefix("data/raw/"))
        if isinstance(v, str) and v.startswith("data/processed"):
            return str(processed / v.removeprefix("data/processed").lstrip("/"))
        return v

    for section in doc["notebooks"].values():
        for k, v in section.items():
            section[k] = move(v)
    doc["notebooks"].setdefault("01_clean_survey", {})["out_dir"] = str(processed)
    survey = yaml.safe_load((paths.CONFIG_DIR / "survey.yaml").read_text())
    survey["company"] = LABEL_EVIL  # our name, shown beside the competitors
    _own_scales_schema(survey)
    (tmp / "survey.yaml").write_text(yaml.safe_dump(survey, sort_keys=False))
    doc["notebooks"]["01_clean_survey"]["schema_path"] = str(tmp / "survey.yaml")
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    raw, processed, reports = tmp / "raw", tmp / "processed", tmp / "reports"
    sample = program.generate(rows=1500, seed=11)
    _plant_payloads(sample)
    _own_scales(sample)
    writers.write(sample, raw)
    before = _digest(raw)
    params = _params_for(tmp, raw, processed)
    outbox = tmp / "outbox"
    code = cli.main(["run", "--params", str(params), "--out", str(reports),
                     "--send-to-file", str(outbox)])
    return {"code": code, "raw": raw, "processed": processed, "reports": reports, "before": before,
            "params": params, "outbox": outbox}


def test_run_succeeds_and_renders_every_notebook(run):
    assert run["code"] == 0
    latest = run["reports"] / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["status"] == "succeeded"
    expected = [n["name"] for n in yaml.safe_load((paths.CONFIG_DIR / "pipeline.yaml").read_text())["notebooks"]]
    assert [n["name"] for n in manifest["notebooks"]] == expected
    for name in expected:
        html = (latest / f"{name}.html").read_text()
        assert 'class="jp-InputArea' not in html and "from helpers import" not in html  # code hidden
    assert (run["reports"] / "index.html").exists()
    hashed = manifest["inputs"]
    assert any(k.endswith("survey_export.csv") for k in hashed)
    assert all(len(v) == 64 for v in hashed.values())  # SHA-256 of every input file


def test_the_run_wrote_registered_artefacts_only(run):
    """In a run the catalog refuses a table a notebook does not own and a read it did not declare
    (helpers.contract): that every notebook succeeded above proves TABLES and READS complete for
    the real notebooks. What the run left matches the registry."""
    latest = run["reports"] / "latest"
    tables = {p.stem for p in (latest / "tables").glob("*.parquet")}
    assert tables <= set(contract.TABLES)
    assert {contract.TABLES[t] for t in tables} == set(contract.TABLES.values())  # each writer wrote
    assert {p.stem for p in (latest / "metrics").glob("*.json")} == set(contract.METRICS)


def test_the_summary_reads_exactly_what_the_contract_declares(run, monkeypatch):
    """Notebook 06 again, in this process, over the run's artefacts, every read recorded: the
    result tables and metrics files it reads are those helpers.contract.READS declares for it
    (tables are also checked in the run itself; metrics files only here)."""
    import nbformat

    from helpers.reporting import summary

    tables, metrics = set(), set()
    read_table, read_metric = contract.table_name, summary.Artefacts.metric
    monkeypatch.setattr(contract, "table_name", lambda name: tables.add(name) or read_table(name))
    monkeypatch.setattr(summary.Artefacts, "metric", lambda self, key, notebook: (
        metrics.add(notebook) or read_metric(self, key, notebook)))
    monkeypatch.setenv(contract.NOTEBOOK_ENV, "06_executive_summary")
    monkeypatch.setenv("CX_RUN_ID", "replay")  # the parameters below, not config/params.yaml's
    nb = nbformat.read(paths.NOTEBOOKS_DIR / "06_executive_summary.ipynb", as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    namespace: dict = {}
    exec(cells[0], namespace)  # the parameters cell  # noqa: S102 - our own notebook
    namespace["run_dir"] = str((run["reports"] / "latest").resolve())
    for source in cells[1:]:
        exec(source, namespace)  # noqa: S102 - our own notebook
    declared = contract.READS["06_executive_summary"]
    assert (tables, metrics) == (set(declared.tables), set(declared.metrics))


def test_raw_data_is_byte_identical_after_a_run(run):
    assert _digest(run["raw"]) == run["before"]


def test_no_personal_data_in_processed_files_or_reports(run):
    raw = readers.read_survey(run["raw"] / "survey_export.csv").data
    emails = {e for e in raw["RecipientEmail"].dropna() if e}
    names = {f"{first} {last}" for first, last in
             zip(raw["RecipientFirstName"].fillna(""), raw["RecipientLastName"].fillna(""), strict=True) if first and last}
    texts = [p.read_text(errors="ignore") for p in run["reports"].rglob("*.html")]
    texts += [p.read_text(errors="ignore") for p in run["reports"].rglob("*.csv")]
    texts += ["\n".join(map(str, pd.read_parquet(p).astype(object).to_numpy().ravel()))
              for p in list(run["processed"].glob("*.parquet")) + list(run["reports"].rglob("*.parquet"))]
    blob = "\n".join(texts)
    assert not [e for e in emails if e in blob]
    assert not [n for n in names if n in blob]


@pytest.mark.skipif(browser.find_chromium() is None, reason="Debian chromium not installed")
def test_every_real_report_opens_cleanly_in_headless_chromium(run):
    """The index and every report: no console errors, every image loaded and described (alt
    text), no code cells, no script but the interactive tables' on analysis pages; the scorecard
    above the fold at 1366x768; screenshots saved into the run folder."""
    run_dir = (run["reports"] / "latest").resolve()
    checks = browser.check_run(run_dir)
    assert len(checks) == 1 + len(list(run_dir.glob("*.html")))
    for c in checks:
        assert not c.errors and not c.broken_images and c.code_cells == 0, c
        assert c.images_without_alt == 0, c  # every chart says what it shows
        text = Path(c.page).read_text()
        shipped = text.count("<script>")  # only the interactive-table script, allowed by hash
        assert shipped == (1 if render.TABLES_JS in text else 0) and c.scripts == shipped, c
        assert c.dialogs == () and c.marks == (), c  # no payload ran
    assert len(list((run_dir / "screenshots").glob("*.png"))) == len(checks)
    by_page = {Path(c.page).stem: c for c in checks}
    assert by_page["02_segments"].images >= 3 and by_page["03_promoter_drivers"].images >= 3
    for leadership in ("06_executive_summary", "07_sales_briefing"):
        assert by_page[leadership].scripts == 0  # leadership pages stay static
    assert by_page["06_executive_summary"].scorecard_above_fold, by_page["06_executive_summary"].fold
    for analysis in ("01_clean_survey", "02_segments", "03_promoter_drivers",
                     "04_leaders_vs_laggards", "05_score_integrity", "08_account_programme"):
        assert by_page[analysis].chart_above_fold, (analysis, by_page[analysis].chart)
    inter = by_page["02_segments"].interactive  # analysts sort, filter and search
    assert inter["enhanced"] >= 2 and inter["search_all_match"] and inter["aria"] == "ascending"


def test_the_sales_briefing_exists_when_competitor_data_exists(run):
    latest = run["reports"] / "latest"
    page = (latest / "07_sales_briefing.html").read_text()
    assert "Where we lead and where we lag" in page and "Not available in this run" not in page
    gaps = pd.read_parquet(latest / "tables" / "sales_competitor_gaps.parquet")
    assert len(gaps) >= 2 and {"ci_low", "ci_high", "n", "verdict"} <= set(gaps.columns)
    by_segment = pd.read_parquet(latest / "tables" / "sales_competitor_gaps_by_segment.parquet")
    assert {"tier", "region"} <= set(by_segment["field"])
    assert "By region: our NPS minus theirs" in page and "By tier: our NPS minus theirs" in page


def test_the_workbook_and_the_delivery_dry_run(run):
    import openpyxl
    latest = (run["reports"] / "latest").resolve()
    wb = openpyxl.load_workbook(latest / "tables.xlsx", read_only=True)
    assert wb.sheetnames[0] == "README" and "market_headline" in wb.sheetnames
    assert "sales_competitor_gaps" in wb.sheetnames
    rep_ids = set(pd.read_csv(run["raw"] / "accounts.csv")["rep_id"].astype(str))
    values = {str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row}
    assert not rep_ids & values
    eml = run["outbox"] / f"{latest.name}-summary.eml"
    import email
    from email import policy
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    types = [p.get_content_type() for p in msg.walk()]
    assert "application/pdf" in types or browser.find_chromium() is None
    assert "image/png" in types and 'id="cx-scorecard"' in msg.get_body(("html",)).get_content()
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["workbook"] == "tables.xlsx"
    assert manifest["delivery"] == [f"written (not sent): {eml}"]


def test_the_shared_workbook_holds_no_formula_and_no_small_account(run):
    """Issue 26 on the real run: per-account sheets list accounts with n >= min_n only (all of
    them in the analyst's 0600 workbook), the part beside its whole has a banded n."""
    import openpyxl

    from helpers.reporting import workbook
    latest = (run["reports"] / "latest").resolve()
    wb = openpyxl.load_workbook(latest / "tables.xlsx")
    assert not [c.coordinate for ws in wb.worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f"]
    ranking = list(wb["account_nps_ranking"].iter_rows(values_only=True))
    n_at = ranking[0].index("n")
    assert all(r[n_at] >= 10 for r in ranking[1:])
    full = pd.read_parquet(latest / "tables" / "account_nps_ranking.parquet")
    assert (full["n"] < 10).any()  # the sample has small accounts: the check above can fail
    assert len(ranking) - 1 == int((full["n"] >= 10).sum())
    assert (latest / workbook.ANALYST_FILE).stat().st_mode & 0o777 == 0o600
    integrity = list(wb["integrity_nps"].iter_rows(values_only=True))
    assert all(isinstance(r[integrity[0].index("n")], str) for r in integrity[2:])


def test_measures_on_their_own_scales_are_labelled_by_their_own_cuts(run):
    """CSAT 0-10, CES 1-5 and an extra 1-7 measure: every page and sheet that shows them names
    the cut of their own scale (9-10, 4-5, 6-7), none the sample's (4-5 on 1-5, 5-7 on 1-7)."""
    import openpyxl
    latest = (run["reports"] / "latest").resolve()
    pages = {p.name: safe_html.text_of(p.read_text(encoding="utf-8"))
             for p in latest.glob("*.html")}
    wb = openpyxl.load_workbook(latest / "tables.xlsx", read_only=True)
    sheet = " ".join(str(v) for row in wb["market_headline"].iter_rows(values_only=True) for v in row)
    for where, text in {"02_segments.html": pages["02_segments.html"], "tables.xlsx": sheet}.items():
        for label in OWN_LABELS:
            assert label in text, (where, label)
    summary = pages["06_executive_summary.html"]
    assert "Ease of doing business" in summary and "% answering 9-10 on 0-10" in summary
    for where, text in {**pages, "tables.xlsx": sheet}.items():
        for label in SAMPLE_LABELS:
            assert label not in text, (where, label)
    processed = pd.read_parquet(run["processed"] / "responses.parquet")
    assert processed["csat"].max() == 10 and processed["ces"].max() == 5
    assert processed["ease"].notna().any() and processed["ease"].dropna().between(1, 7).all()


@pytest.mark.parametrize("market", ["B2B", "B2C"])
def test_cx_drivers_equals_notebook_03(run, market, capsys):
    """`cx drivers` selects, weights and resamples as notebook 03 does: same shares and CIs."""
    table = pd.read_parquet(run["reports"] / "latest" / "tables" / "drivers_ranked.parquet")
    table = table[table["market"] == market].set_index("driver")
    capsys.readouterr()
    assert cli.main(["drivers", "--market", market, "--params", str(run["params"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    printed = {ln.split()[0]: ln.split() for ln in lines[2:2 + len(table)]}
    assert set(printed) == set(table.index)
    for driver, r in table.iterrows():
        row = printed[driver]
        assert int(row[1]) == int(r["rank"])
        assert float(row[2]) == pytest.approx(round(100 * r["share"], 1), abs=0.051)
        assert " ".join(row[3:5]) == f"[{100 * r['share_ci_low']:.1f}, {100 * r['share_ci_high']:.1f}]"


def test_hostile_values_reach_the_pages_as_text(run):
    """The payloads are shown (escaped), not dropped: the test above is not vacuous."""
    latest = run["reports"] / "latest"
    summary_page = (latest / "06_executive_summary.html").read_text()
    assert "2026Q3&lt;img src=x onerror=" in summary_page
    assert "<img src=\"x\"" not in summary_page and "<img src=x" not in summary_page
    pages = "".join(p.read_text() for p in latest.glob("*.html"))
    assert "Acme&lt;img src=x onerror=alert(13)&gt;" in pages
    assert "<script>alert" not in pages and "onerror=alert" not in pages.replace("&lt;img src=x onerror=alert", "")


def test_error_banner_of_a_failed_run_runs_nothing(run, tmp_path):
    """An ARR cell with markup fails notebook 01; its error page must show it as text."""
    raw = tmp_path / "raw"
    shutil.copytree(run["raw"], raw)
    accounts = pd.read_csv(raw / "accounts.csv")
    accounts["arr"] = accounts["arr"].astype(object)
    accounts.loc[3, "arr"] = "<img src=x onerror=\"alert(9);document.body.dataset.cxPwned=1\">"
    accounts.to_csv(raw / "accounts.csv", index=False)
    params = _params_for(tmp_path, raw, tmp_path / "processed")
    reports = tmp_path / "reports"
    assert cli.main(["run", "--params", str(params), "--out", str(reports)]) == 1
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir() and not p.name.startswith(".")]
    page = run_dir / "01_clean_survey.html"
    text = page.read_text()
    assert "This report did not finish" in text and "&lt;img src=x onerror=" in text
    if browser.find_chromium() is not None:
        check = browser.check_in_browser(page)
        assert check.dialogs == () and check.marks == () and check.scripts == 0, check
        assert not check.errors, check


def test_leadership_pages_show_no_rep_id_and_no_exact_rep_count(run):
    """Issue 17 item 6: 03, 05 and 06 never print a rep id, nor a rep's exact "k of n" count."""
    import re
    latest = run["reports"] / "latest"
    accounts = pd.read_csv(run["raw"] / "accounts.csv")
    rep_ids = set(accounts["rep_id"].astype(str))
    for name in ("03_promoter_drivers", "05_score_integrity", "06_executive_summary",
                 "07_sales_briefing"):
        text = re.sub(r"<[^>]+>|data:image/[^\"']+", " ", (latest / f"{name}.html").read_text())
        assert not [r for r in rep_ids if re.search(rf"\b{re.escape(r)}\b", text)], name
        assert "responses," not in text or not re.search(r"\(shrunk \d+%, \d+ of \d+", text)


def _pdf_pages(data: bytes) -> int:
    """Pages of a PDF by its page objects (Chromium writes them uncompressed)."""
    import re
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


@pytest.mark.skipif(browser.find_chromium() is None, reason="Debian chromium not installed")
def test_summary_pdf_is_at_most_three_a4_pages_with_the_scorecard_on_page_one(run):
    """Page count by a small PDF parse (and pdfinfo when poppler-utils is installed); page 1's
    text and a rendered image of it with pdftotext / pdftoppm (apt-get install poppler-utils)."""
    import subprocess
    latest = (run["reports"] / "latest").resolve()
    pdf = latest / "06_executive_summary.pdf"
    pages = _pdf_pages(pdf.read_bytes())
    assert 1 <= pages <= 3, pages
    assert b"/MediaBox [0 0 594.9" in pdf.read_bytes()  # A4 (595 x 842 pt)
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        assert f"Pages:           {pages}" in info
    if not (shutil.which("pdftotext") and shutil.which("pdftoppm")):
        pytest.skip("poppler-utils not installed: page 1 not rendered")
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True,
                           text=True).stdout
    for needle in ("B2B · NPS", "B2C · CSAT", "95% CI", "What to fix first"):
        assert needle in first, needle
    image = latest / "screenshots" / "06_executive_summary-pdf-page1"
    image.parent.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "60", "-f", "1", "-l", "1", "-png", "-singlefile", str(pdf),
                    str(image)], check=True)
    from PIL import Image
    with Image.open(f"{image}.png") as im:
        w, h = im.size
        assert abs(h / w - 842 / 595) < 0.01  # an A4 page
        assert im.convert("L").getextrema()[0] < 100  # ink on it
