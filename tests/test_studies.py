"""Programmes kept apart (issue 22, point 7): each export is a study with an id; the run index
groups runs and trends by study, and each study has its own latest link beside reports/latest.

The fixture pipeline runs without kernels here (the notebook's execution writes its metrics file
directly), so these tests are cheap."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import paths
from helpers.reporting import kernels, manifest, pipeline, run_index, studies

FIX = Path(__file__).parent / "fixtures" / "pipeline"


def test_slug_is_a_safe_folder_name() -> None:
    assert paths.slug("Garden Survey 2024 (FR).csv") == "garden-survey-2024-fr-csv"
    assert paths.slug("Zufriedenheit Kunden ÄÖÜ/../x") == "zufriedenheit-kunden-aou-x"
    assert paths.slug("../..") == paths.STUDY_DEFAULT and paths.slug("") == paths.STUDY_DEFAULT
    assert len(paths.slug("a" * 200)) == paths.STUDY_LIMIT
    assert studies.latest_link("Garden FR") == "latest-garden-fr"


def test_study_id_from_the_schema_else_the_export_name(tmp_path: Path) -> None:
    schema = tmp_path / "survey.yaml"
    schema.write_text("study: Garden FR 2024\nfields: {}\n", encoding="utf-8")
    export = tmp_path / "Kunden Umfrage.csv"
    assert studies.study_id({"raw_path": export, "schema_path": schema}) == "garden-fr-2024"
    schema.write_text("fields: {}\n", encoding="utf-8")
    assert studies.study_id({"raw_path": export, "schema_path": schema}) == "kunden-umfrage"
    assert studies.study_id({"data_path": export}) == "kunden-umfrage"
    assert studies.study_id({}) == paths.STUDY_DEFAULT


def test_a_drafted_schema_names_its_study_after_the_export(tmp_path: Path) -> None:
    """`cx schema infer` writes the study id it would use, so the analyst sees it and can rename it."""
    from helpers import cli
    from helpers.ingest import schema

    export, draft = tmp_path / "Kunden Umfrage 2025.csv", tmp_path / "survey.yaml"
    export.write_text("ResponseId,Recommend (0-10)\n" + "".join(f"R{i},{i % 11}\n" for i in range(30)),
                      encoding="utf-8")
    assert cli.main(["schema", "infer", str(export), "--out", str(draft)]) == 0
    assert "\nstudy: kunden-umfrage-2025\n" in draft.read_text(encoding="utf-8")
    schema.load(draft)
    assert studies.study_id({"raw_path": tmp_path / "renamed.csv", "schema_path": draft}) == "kunden-umfrage-2025"


def _run(out: Path, data: Path, score: float, monkeypatch: pytest.MonkeyPatch) -> str:
    """One fixture run on `data` whose notebook 'computes' `score` (no kernel starts)."""
    def execute(notebook, output, parameters, name):  # noqa: ANN001, ARG001 - kernels.execute's shape
        run = Path(parameters["run_dir"])
        run = run if run.is_absolute() else Path.cwd() / run
        (run / "metrics").mkdir(parents=True, exist_ok=True)
        (run / "metrics" / "01_ok.json").write_text(json.dumps(
            {"score": {"estimate": score, "ci_low": score - 1, "ci_high": score + 1, "n": 40}}))

    monkeypatch.setattr(kernels, "execute", execute)
    monkeypatch.setattr(kernels, "warm", lambda notebook, name: False)
    params = out.parent / f"params-{data.stem}.yaml"
    params.write_text(f"notebooks:\n  01_ok:\n    data_path: {data}\n", encoding="utf-8")
    result = pipeline.run(params, out_dir=out, pipeline_path=FIX / "pipeline_ok.yaml")
    assert result.status == "succeeded"
    return result.run_id


def test_two_studies_in_one_reports_folder_keep_two_trends_and_two_latest_links(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    garden, saas = tmp_path / "Garden FR.csv", tmp_path / "saas_customers.csv"
    for f in (garden, saas):
        shutil.copy(FIX / "data.csv", f)
    out = tmp_path / "reports"
    g1 = _run(out, garden, 12.0, monkeypatch)
    s1 = _run(out, saas, 60.0, monkeypatch)
    g2 = _run(out, garden, 14.0, monkeypatch)
    assert manifest.read(out / g1).study == "garden-fr"
    assert manifest.read(out / s1).study == "saas-customers"
    assert os.readlink(out / "latest") == g2                  # the newest of any study
    assert os.readlink(out / "latest-garden-fr") == g2
    assert os.readlink(out / "latest-saas-customers") == s1   # not moved by the garden runs
    page = (out / "index.html").read_text()
    assert page.count('<section class="cx-study">') == 2
    garden_part = page[page.index("<code>garden-fr</code></h3>"):]
    garden_part = garden_part[:garden_part.index("</section>")]
    saas_part = page[page.index("<code>saas-customers</code></h3>"):]
    saas_part = saas_part[:saas_part.index("</section>")]
    # each trend holds its own study's runs only: 12 -> 14 for the garden, 60 alone for the SaaS
    assert garden_part.count("<circle") == 2 and "60.0" not in garden_part
    assert saas_part.count("<circle") == 1 and "12.0" not in saas_part
    assert 'href="latest-garden-fr/"' in garden_part and 'href="latest-saas-customers/"' in saas_part
    assert 'href="latest/"' in page
    runs = run_index.read_runs(out)
    assert [r.study for r in runs] == ["garden-fr", "saas-customers", "garden-fr"]


def test_the_index_says_too_few_below_the_runs_min_n(tmp_path: Path) -> None:
    """A headline figure on fewer responses than the run's min_n is words on the index and no
    point of its trend, as on the summary's tiles."""
    def run(rid: str, est: float, n: int) -> None:
        folder = tmp_path / rid
        (folder / "metrics").mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(
            {"run_id": rid, "status": "succeeded", "started_at": "2026-11-23T06:15:00Z"}))
        (folder / "metrics" / "02_segments.json").write_text(json.dumps(
            {"min_n": 10, "nps_b2b": {"estimate": est, "ci_low": est - 40, "ci_high": est + 40,
                                      "n": n}}))
    run("r1", 30.0, 400)
    run("r2", 14.3, 7)
    page = run_index.write_index(tmp_path, ["02_segments.nps_b2b"]).read_text()
    assert "too few responses for a headline (n = 7)" in page and "14.3" not in page
    assert page.count("<circle") == 1   # only the run with enough responses is a point
