"""The whole pipeline on every shape of programme: each sample profile and the real B2C export.

Every notebook succeeds; a section whose data the programme lacks shows a "not available" card
(recorded in the run's sections/*.json and listed by the executive summary), and the sections
it has run. Runs use a small sample and few bootstrap resamples to keep the suite fast.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import cli, paths
from helpers.reporting import cards
from helpers.sample import profiles

GARDEN = paths.PROJECT_ROOT / "tests" / "data" / "real-exports" / "garden_retailer_nps_fr.csv"
B2B_SECTIONS = {"segments.account_nps", "segments.dm_coverage", "segments.revenue_coverage",
                "segments.response_rates", "segments.archetypes", "drivers.journey",
                "drivers.walk_back", "drivers.teams", "outcomes.leaders", "integrity.reps"}


def _params(tmp: Path) -> Path:
    """config/params.yaml with data/processed moved into `tmp` and light bootstraps."""
    doc = yaml.safe_load((paths.CONFIG_DIR / "params.yaml").read_text())
    processed = tmp / "processed"
    for section in doc["notebooks"].values():
        for k, v in section.items():
            if isinstance(v, str) and v.startswith("data/processed"):
                section[k] = str(processed / v.removeprefix("data/processed").lstrip("/"))
    doc["notebooks"]["03_promoter_drivers"].update(n_boot=20, whatif_boot=10, cv_folds=2)
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _run(tmp: Path, export: Path, schema: Path, *extra: str) -> tuple[dict, set[str], str]:
    reports = tmp / "reports"
    code = cli.main(["run", "--params", str(_params(tmp)), "--out", str(reports),
                     "--raw", str(export), "--schema", str(schema), *extra])
    latest = (reports / "latest").resolve()
    manifest = json.loads((latest / "manifest.json").read_text())
    assert code == 0, [(n["name"], n.get("error")) for n in manifest["notebooks"]]
    assert {n["status"] for n in manifest["notebooks"]} == {"succeeded"}
    missing = {r["section"] for r in cards.not_available(latest)}
    page = (latest / "06_executive_summary.html").read_text(encoding="utf-8")
    return manifest, missing, " ".join(re.sub(r"<[^>]+>", "", page).split())


@pytest.mark.parametrize("profile", ["b2c-only", "b2b-responses", "custom"])
def test_pipeline_on_each_profile(tmp_path: Path, profile: str) -> None:
    written, _ = profiles.write(profile, tmp_path / "raw", rows=1200, seed=5)
    side = [f"--{k.replace('_', '-')}={written[k]}" for k in (
        "accounts", "invitations", "cx_index", "prices", "exclusions", "follow_ups", "concessions")
        if k in written]
    if "segments" in written:
        side.append(f"--segments={written['segments']}")
    _, missing, summary = _run(tmp_path, written["survey_export"], written["schema"], *side)
    if profile == "b2c-only":
        assert B2B_SECTIONS <= missing
        assert {"outcomes.competitors", "outcomes.market"} <= missing
        assert not {"drivers.importance", "segments.subsegments", "segments.trends",
                    "segments.b2c_weighting", "drivers.themes"} & missing
    elif profile == "b2b-responses":
        assert {"segments.response_rates", "segments.revenue_coverage", "outcomes.leaders",
                "drivers.journey", "drivers.teams", "integrity.reps", "outcomes.competitors",
                "outcomes.market", "segments.b2c_weighting", "sales.competitors",
                "sales.competitors_by_segment", "programme.response",
                "programme.coverage_audit"} == missing
    else:
        assert missing == set()  # the full programme under its own names: everything runs
    if missing:
        assert "available with" in summary and "see the analyst notes" in summary
    else:
        assert "Every analysis of this programme had the data it needs" in summary


def test_pipeline_on_the_real_garden_retailer_export(tmp_path: Path) -> None:
    """Latin-1, French comments, NA comments, no dates, no accounts: from cx schema infer to the
    executive summary with the draft schema unedited."""
    schema = tmp_path / "garden.yaml"
    assert cli.main(["schema", "infer", str(GARDEN), "--out", str(schema)]) == 0
    manifest, missing, summary = _run(tmp_path, GARDEN, schema)
    assert B2B_SECTIONS <= missing and "segments.trends" in missing
    assert "drivers.themes" not in missing        # French comments get themes
    assert "B2C · NPS+53." in summary and "n=13,612" in summary  # the scorecard's tile
    assert "B2B ·" not in summary  # a market the programme does not have gets no tile
    assert (tmp_path / "reports" / "latest" / "tables" / "comment_themes.parquet").is_file()
    assert manifest["overrides"]["01_clean_survey"]["accounts_path"] == ""  # not provided


def test_thin_data_gives_not_enough_data_cards_not_errors(tmp_path: Path) -> None:
    """30 responses, one wave, one segment value: every notebook succeeds and says what is thin."""
    lines = ["REC,Product.Quality,Salesman.Knowledge,Region,Date"]
    lines += [f"{i % 11},{(i // 3) % 11},{(7 * i + i // 11) % 11},North,2026-02-01" for i in range(30)]
    export, schema = tmp_path / "thin.csv", tmp_path / "thin.yaml"
    export.write_text("\n".join(lines) + "\n")
    schema.write_text((paths.PROJECT_ROOT / "tests" / "fixtures" / "small_export" / "survey.yaml").read_text())
    _, missing, summary = _run(tmp_path, export, schema)
    assert {"segments.subsegments", "segments.trends", "drivers.what_if", "drivers.models"} <= missing
    assert "drivers.importance" not in missing and "segments.b2c_weighting" not in missing
    reasons = {r["section"]: " ".join(r["missing"]) for r in cards.not_available(
        tmp_path / "reports" / "latest")}
    assert "this run has 30; not enough data" in reasons["drivers.what_if"]
    assert "at least 2 groups" in reasons["segments.subsegments"]
    assert "at least 2 waves" in reasons["segments.trends"]
    assert "B2C · NPS" in summary and "n=30" in summary  # the scorecard tile, thin as it is


def _rec_export(path: Path, n: int = 1000, seed: int = 7) -> None:
    """The B2B export of the issue: REC 0-10, Product.* and Salesman.* ratings on 0-10, account,
    region, business unit, product, a day-first date, cp1252; Salesman.Knowledge planted as the
    strongest driver, then Product.Reliability and Product.Quality; duplicate rows appended;
    contact roles in the export's own words."""
    rng = np.random.default_rng(seed)
    acc = rng.integers(0, 150, n)
    base = rng.normal(0, 1.5, 150)[acc]
    items = {c: np.clip(np.round(7 + base + rng.normal(0, 1.5, n)), 0, 10).astype(int)
             for c in ("Product.Quality", "Product.Reliability", "Salesman.Knowledge",
                       "Salesman.Responsiveness")}
    rec = (0.45 * items["Salesman.Knowledge"] + 0.3 * items["Product.Reliability"]
           + 0.2 * items["Product.Quality"] + rng.normal(0, 1.0, n))
    df = pd.DataFrame({"Account": [f"ACC{a:04d}" for a in acc],
                       "REC": np.clip(np.round(rec), 0, 10).astype(int), **items,
                       "Region": rng.choice(["North", "South", "Île-de-France"], n),
                       "Business Unit": rng.choice(["Retail", "Wholesale"], n),
                       "Product": rng.choice(["Alpha", "Beta", "Gamma"], n),
                       "Contact Role": rng.choice(["Decision Maker", "Influencer", "End User",
                                                   "Board member"], n),
                       "Response Date": (pd.Timestamp("2025-01-01") + pd.to_timedelta(
                           rng.integers(0, 540, n), unit="D")).strftime("%d/%m/%Y")})
    pd.concat([df, df.iloc[:12]]).to_csv(path, index=False, encoding="cp1252")


def test_pipeline_on_a_b2b_export_with_its_own_names(tmp_path: Path) -> None:
    """The issue's B2B export, from `cx schema infer` to the summary with the draft unedited:
    accounts from the responses, no invitations, no reps, no outcomes; the planted drivers
    come out on top and the duplicates are flagged."""
    export, schema = tmp_path / "rec_export.csv", tmp_path / "rec.yaml"
    _rec_export(export)
    assert cli.main(["schema", "infer", str(export), "--out", str(schema)]) == 0
    _, missing, summary = _run(tmp_path, export, schema)
    assert {"segments.response_rates", "drivers.teams", "integrity.reps", "outcomes.leaders",
            "drivers.journey"} <= missing
    assert not {"drivers.importance", "segments.account_nps", "segments.subsegments",
                "segments.trends", "drivers.walk_back"} & missing
    ranked = pd.read_parquet(tmp_path / "reports" / "latest" / "tables" / "drivers_ranked.parquet")
    b2b = ranked[ranked["market"] == "B2B"].sort_values("share", ascending=False)
    assert list(b2b["driver"])[:3] == ["sales_knowledge", "product_reliability", "product_quality"]
    log = json.loads((tmp_path / "processed" / "cleaning_log.json").read_text())
    assert log["rules"]["duplicate"]["rows"] == 12
    methods = pd.read_parquet(tmp_path / "reports" / "latest" / "tables" / "b2b_account_nps.parquet")
    methods = " | ".join(methods["method"])  # roles read from their own words
    assert "waterfall" in methods and "without a weight: Board member" in methods
    assert "Knowledge" in summary
