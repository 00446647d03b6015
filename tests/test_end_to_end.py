"""`cx run` end to end on a small generated sample: every notebook runs, reports render,
raw data stays byte-identical, and no personal data reaches processed files or HTML."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import cli, paths
from helpers.ingest import readers
from helpers.reporting import browser
from helpers.sample import program


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


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
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    raw, processed, reports = tmp / "raw", tmp / "processed", tmp / "reports"
    program.write(program.generate(rows=1500, seed=11), raw)
    before = _digest(raw)
    params = _params_for(tmp, raw, processed)
    code = cli.main(["run", "--params", str(params), "--out", str(reports)])
    return {"code": code, "raw": raw, "processed": processed, "reports": reports, "before": before,
            "params": params}


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
    """The index and all six reports: no console errors, every image loaded, no code cells;
    screenshots saved into the run folder."""
    run_dir = (run["reports"] / "latest").resolve()
    checks = browser.check_run(run_dir)
    assert len(checks) == 1 + len(list(run_dir.glob("*.html")))
    for c in checks:
        assert not c.errors and not c.broken_images and c.code_cells == 0, c
    assert len(list((run_dir / "screenshots").glob("*.png"))) == len(checks)
    charts = {Path(c.screenshot).stem: c.images for c in checks}
    assert charts["02_segments"] >= 3 and charts["03_promoter_drivers"] >= 3


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
