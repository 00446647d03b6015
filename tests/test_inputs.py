"""The optional inputs, declared once (helpers.inputs): an input added to the registry with its
reader is cleaned, loaded, offered on the command line, and named by `cx check`, the "not
available" cards and the executive summary; and the run's public interface agrees with it."""

from __future__ import annotations

import html
import pkgutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import catalog, cli, config, contract, inputs, paths
from helpers.analysis import selection
from helpers.config import NotebookStep
from helpers.errors import ArgumentError
from helpers.ingest import side_tables
from helpers.reporting import cards, run_command, run_params, summary

SCHEMA = paths.PROJECT_ROOT / "tests" / "fixtures" / "small_export" / "survey.yaml"
READ: list[Path] = []


def read_footfall(path: Path, salt: str) -> pd.DataFrame:
    """The dummy input's reader: visitors per region."""
    READ.append(path)
    table = side_tables.read_table(path)
    return table.assign(visitors=pd.to_numeric(table["visitors"], errors="coerce"))


FOOTFALL = inputs.Input(
    "footfall", "footfall_path", key="region", option="--footfall",
    label="store footfall by region", what="store footfall by region (region, visitors)",
    how="set footfall_path (01_clean_survey) to a file with region and visitors",
    reader=f"{__name__}:read_footfall")
SECTION = contract.Needs("Footfall and NPS by region", inputs=("footfall",), min_rows=0)
NEEDS = ("store footfall by region (region, visitors) (set footfall_path (01_clean_survey) to a "
         "file with region and visitors)")


@pytest.fixture
def footfall(monkeypatch: pytest.MonkeyPatch) -> inputs.Input:
    """The dummy input registered, and a report section that needs it."""
    monkeypatch.setitem(inputs.INPUTS, FOOTFALL.name, FOOTFALL)
    monkeypatch.setitem(contract.SECTIONS, "segments.footfall", SECTION)
    READ.clear()
    return FOOTFALL


def _export(folder: Path) -> Path:
    rows = ["REC,Product.Quality,Salesman.Knowledge,Region,Date"]
    rows += [f"{i % 11},{i % 11},{(3 * i) % 11},{'North' if i % 2 else 'South'},"
             f"2026-01-{1 + i % 28:02d}" for i in range(80)]
    (folder / "export.csv").write_text("\n".join(rows) + "\n")
    (folder / "footfall.csv").write_text("region,visitors\nNorth,1200\nSouth,800\n")
    return folder / "export.csv"


def test_an_added_input_is_named_by_cx_check_the_cards_and_the_summary(
        footfall: inputs.Input, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export, visits = _export(tmp_path), tmp_path / "footfall.csv"
    assert cli.main(["check", str(export), "--schema", str(SCHEMA)]) == 0
    assert f"not available: Footfall and NPS by region: needs {NEEDS}" in capsys.readouterr().out
    assert not READ

    assert cli.main(["check", str(export), "--schema", str(SCHEMA), "--footfall", str(visits)]) == 0
    out = capsys.readouterr().out
    assert READ == [visits] and "Footfall and NPS" not in out
    assert f"--footfall {paths.shown(visits)}" in out  # the next command carries it on

    processed = tmp_path / "processed"
    assert cli.main(["clean", str(export), "--schema", str(SCHEMA), "--out", str(processed),
                     "--footfall", str(visits)]) == 0
    files = {"responses_path": str(processed / "responses.parquet"),
             "schema_path": str(processed / "survey.yaml"), "footfall_path": str(processed / "footfall.parquet")}
    data = selection.load(files["responses_path"], files["schema_path"], "config/segments.yaml",
                          inputs=inputs.from_parameters(files))
    assert data.tables["footfall"]["visitors"].sum() == 2000
    assert contract.missing("segments.footfall", data.facts) == []
    assert catalog.path("footfall") == paths.PROCESSED_DIR / "footfall.parquet"

    assert cli.main(["clean", str(export), "--schema", str(SCHEMA), "--out", str(processed)]) == 0
    assert not (processed / "footfall.parquet").exists()  # not provided this time: removed
    bare = selection.load(files["responses_path"], files["schema_path"], "config/segments.yaml",
                          inputs={"footfall": files["footfall_path"]})
    gate = cards.Gate("02_segments", bare.facts)
    assert not gate.open("segments.footfall", show=False)
    assert gate.unavailable()[0]["missing"] == [NEEDS]
    assert "store footfall by region (region, visitors)" in cards.card_html(
        "Footfall and NPS by region", gate.unavailable()[0]["missing"])
    gate.save(tmp_path / "run")
    finding = summary.availability_finding(summary.load_artefacts(tmp_path / "run"))
    assert finding.text.startswith("1 more analysis becomes available with ")
    from helpers.reporting import analyst_notes

    page = analyst_notes.write(tmp_path / "run").read_text()
    assert "Footfall and NPS by region" in page and html.escape(NEEDS) in page


def test_an_added_input_is_an_option_of_cx_run_and_named_when_not_provided(
        footfall: inputs.Input) -> None:
    assert run_command.export_options()["footfall"] == "footfall_path"
    for command in (["check", "export.csv"], ["clean", "export.csv"], ["run"]):
        args = cli.build_parser().parse_args([*command, "--footfall", "visits.csv"])
        assert args.footfall == paths.user_path("visits.csv")
    cleaning = NotebookStep("01_clean_survey", "x.ipynb",
                            optional_inputs=("footfall_path", "accounts_path"))
    step = run_params.PlannedStep(cleaning, Path("x.ipynb"), {}, {}, {},
                                  inputs={"accounts_path": Path("a.csv")})
    assert run_params.not_provided([step]) == [
        "not provided: store footfall by region (region, visitors) (footfall_path); not "
        "available: Footfall and NPS by region"]


def test_every_reader_resolves_and_every_input_feeds_a_section() -> None:
    for inp in inputs.files():
        assert callable(pkgutil.resolve_name(inp.reader)), inp.reader
    needed = {t for need in contract.SECTIONS.values() for t in need.inputs}
    assert needed == set(inputs.INPUTS)
    assert contract.fed_by("prices") == ["outcomes.market"]


def test_the_runs_public_parameters_agree_with_the_registry() -> None:
    """A file input is a parameter of notebook 01 in config/params.yaml (tests/test_notebooks.py
    holds the notebook's own defaults to it) and an optional input of config/pipeline.yaml."""
    files = [i.parameter for i in inputs.files()]
    cleaning = next(s for s in config.load_pipeline().steps if s.name == "01_clean_survey")
    assert list(cleaning.optional_inputs) == files
    assert [k for k in config.notebook_params("01_clean_survey") if k.endswith("_path")
            and k not in ("raw_path", "schema_path")] == files
    assert [i.option for i in inputs.files()] == ["--accounts", "--invitations", "--cx-index", "--prices",
                                                 "--exclusions", "--follow-ups", "--concessions"]


def test_wrong_registrations_and_calls_are_refused() -> None:
    with pytest.raises(ArgumentError, match="an option and a reader"):
        inputs.Input("x", "x_path", key="k", label="x", what="x", how="x", option="--x")
    with pytest.raises(ArgumentError, match="source 'mail'"):
        inputs.Input("x", "x_path", key="k", label="x", what="x", how="x", source="mail")
    with pytest.raises(ArgumentError, match="unknown input 'acounts'"):
        inputs.given({"acounts": "a.csv"})
    with pytest.raises(ArgumentError, match="comes from the export"):
        side_tables.files_given({"competitor_ratings": "c.csv"})
    assert inputs.given({"prices": "", "accounts": Path("a.csv"), "cx_index": None}) == {"accounts": "a.csv"}
    assert inputs.from_parameters({"accounts_path": "a.parquet", "n_boot": 200}) == {"accounts": "a.parquet"}
