"""The run contract: sections' declared needs against a run's facts, the not-available cards,
and the registry of artefacts every notebook writes and reads, checked on write, on read in a
run, and against config/pipeline.yaml before a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import catalog, cli, config, contract, inputs, paths
from helpers.errors import ConfigError, DataError, ExitCode, ThinData
from helpers.ingest import schema
from helpers.paths import PROJECT_ROOT
from helpers.reporting import cards, kernels, pipeline, run_params

FULL = contract.Facts(
    rows={"B2B": 700, "B2C": 400},
    fields={"B2B": frozenset({"account_id", "role", "rep_id", "comment", "deal_close_date",
                              "go_live_date", "go_live_planned", "submitted_at"}),
            "B2C": frozenset({"comment"})},
    drivers={"B2B": 10, "B2C": 6}, stages={"B2B.implementation": 5, "B2B.sales": 5,
                                          "B2C.implementation": 0},
    segments={"B2B": 4, "B2C": 4}, waves={"B2B": 4, "B2C": 4},
    tables={"accounts": frozenset({"account_id", "arr", "renewed"}),
            "invitations": frozenset({"account_id", "wave", "responded"}),
            "competitor_ratings": frozenset({"response_id", "vendor", "ltr"}),
            "cx_index": frozenset({"year", "ticker"}), "prices": frozenset({"date", "ticker"}),
            "exclusions": frozenset({"account_id", "excluded_by"}),
            "follow_ups": frozenset({"account_id", "date"}),
            "concessions": frozenset({"account_id", "rep_id", "date", "value"})})
B2C_ONLY = contract.Facts(rows={"B2B": 0, "B2C": 45}, fields={"B2B": frozenset(), "B2C": frozenset()},
                          drivers={"B2B": 0, "B2C": 1}, stages={}, segments={"B2B": 0, "B2C": 0},
                          waves={"B2B": 0, "B2C": 1}, tables={})


def test_a_full_programme_has_every_section() -> None:
    assert {s: contract.missing(s, FULL) for s in contract.SECTIONS} == dict.fromkeys(contract.SECTIONS, [])


def test_missing_needs_are_named_with_how_to_provide_them() -> None:
    m = contract.missing
    assert m("segments.account_nps", B2C_ONLY) == ["B2B responses (the export has none)"]
    assert m("segments.trends", B2C_ONLY)[0].startswith("at least 2 waves (this run has one")
    assert "driver items" in m("drivers.importance", B2C_ONLY)[0]
    assert m("segments.headline", B2C_ONLY) == []
    lacking = m("drivers.themes", B2C_ONLY)
    assert lacking == ["the field comment (map the free-text comment column as comment)"]
    thin = m("segments.personas", B2C_ONLY)
    assert thin[0] == "at least 60 responses (this run has 45; not enough data)"
    no_renewals = contract.Facts(**{**FULL.__dict__, "tables": {"accounts": frozenset({"account_id"})}})
    assert m("outcomes.leaders", no_renewals) == [
        "columns arr, renewed in the accounts table (" + inputs.INPUTS["accounts"].how + ")"]
    assert "competitor ratings" in m("outcomes.competitors", no_renewals)[0]


def test_sections_on_matched_accounts_need_responding_accounts_in_the_master() -> None:
    # rev26: a master whose ids match no response counted revenue coverage and leaders as runnable
    def facts(in_master: int | None) -> contract.Facts:
        return contract.Facts(**{**FULL.__dict__, "accounts_responding": 120,
                                 "accounts_in_master": in_master})
    none_in = contract.missing("outcomes.leaders", facts(0))
    assert none_in == ["responding accounts in the account master (none of the 120 accounts that "
                       "answered has its account_id there)"]
    assert contract.missing("segments.revenue_coverage", facts(0)) == none_in
    assert contract.missing("segments.account_nps", facts(0)) == []
    assert contract.missing("outcomes.leaders", facts(110)) == []


def test_study_counts_responding_accounts_in_the_master(cleaned) -> None:
    from dataclasses import replace

    from helpers.analysis import selection
    out = cleaned.out
    study = selection.study(pd.read_parquet(out / "responses.parquet"),
                            schema.load(out / "survey.yaml"), config.load_segments(),
                            tables={"accounts": pd.read_parquet(out / "accounts.parquet")})
    ids = study.b2b["account_id"].dropna().unique()
    assert study.accounts_matched() == (len(ids), len(ids))   # the sample's master has them all
    master = study.accounts
    partial = replace(study, tables={"accounts": master[~master["account_id"].isin(ids[:3])]})
    assert partial.accounts_matched() == (len(ids), len(ids) - 3)
    other_ids = replace(study, tables={"accounts": master.assign(account_id="CRM-" + master.account_id)})
    assert other_ids.facts.accounts_in_master == 0
    assert any(m.startswith("responding accounts in the account master")
               for m in contract.missing("outcomes.leaders", other_ids.facts))
    assert replace(study, tables={}).accounts_matched() == (len(ids), None)


def test_unknown_sections_and_tables_are_refused() -> None:
    with pytest.raises(DataError, match="unknown report section"):
        contract.needs("segments.nope")
    with pytest.raises(contract.ContractError, match="result table 'my_table' is not registered"):
        contract.table_name("my_table")


def test_gate_shows_a_card_records_each_section_once_and_saves(tmp_path: Path) -> None:
    gate = cards.Gate("02_segments", B2C_ONLY)
    assert gate.open("segments.headline", show=False)
    assert not gate.open("segments.account_nps", show=False)
    assert not gate.open("segments.account_nps", show=False)
    assert gate.markets("segments.personas", ["B2B", "B2C"]) == []  # B2B has no rows: no card
    gate.save(tmp_path)
    doc = json.loads((tmp_path / "sections" / "02_segments.json").read_text())
    assert [r["section"] for r in doc["sections"]] == ["segments.headline", "segments.account_nps",
                                                       "segments.personas"]
    out = cards.not_available(tmp_path)
    assert [r["section"] for r in out] == ["segments.account_nps", "segments.personas"]
    html = cards.card_html("B2B <b>NPS</b>", ["the field <x>"])
    assert "Not available in this run: B2B &lt;b&gt;NPS&lt;/b&gt;" in html and "&lt;x&gt;" in html


def test_thin_data_in_a_section_gives_a_card_and_other_errors_still_fail(tmp_path: Path) -> None:
    """Gate.enough turns ThinData into a recorded card (the section is closed for the rest of
    the notebook); Gate.each keeps the markets that had enough; any other error propagates."""
    gate = cards.Gate("03_promoter_drivers", FULL)
    assert gate.open("drivers.walk_back", show=False)
    with gate.enough("drivers.walk_back"):
        raise ThinData("0 promoter and 60 other units", column="ltr", expected="at least 2 of each")
    assert not gate.open("drivers.walk_back", show=False)

    def fit(m: str) -> str:
        if m == "B2C":
            raise ThinData("12 complete rows for 6 drivers", column="ltr")
        return f"model {m}"
    assert gate.markets("drivers.models", ["B2B", "B2C"]) == ["B2B", "B2C"]
    assert gate.each("drivers.models", ["B2B", "B2C"], fit) == {"B2B": "model B2B"}
    with pytest.raises(DataError, match="a real fault"), gate.enough("drivers.teams"):
        raise DataError("a real fault")
    gate.save(tmp_path)
    out = {(r["section"], r["market"]): r["missing"] for r in cards.not_available(tmp_path)}
    assert out == {("drivers.walk_back", None): ["more data than this run has: column 'ltr': 0 "
                                                 "promoter and 60 other units (expected at least 2 of each)"],
                   ("drivers.models", "B2C"): ["more data than this run has: column 'ltr': 12 "
                                               "complete rows for 6 drivers"]}


def test_a_gate_refuses_a_section_that_is_not_declared() -> None:
    with pytest.raises(DataError, match="unknown report section 'segments.nope'"):
        cards.Gate("02_segments", FULL).open("segments.nope", show=False)


# --- the artefacts of a run: written and read by registered names only ---------------------------


@pytest.fixture()
def in_run(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Act as the kernel of one notebook of a `cx run` (the runner sets this in its environment)."""
    return lambda notebook: monkeypatch.setenv(contract.NOTEBOOK_ENV, notebook)


def test_an_unregistered_table_or_metrics_file_is_refused_on_write(tmp_path: Path) -> None:
    df = pd.DataFrame({"x": [1]})
    with pytest.raises(contract.ContractError,
                       match=r"result table 'my_table' is not registered: add it to "
                             r"helpers/contract.py TABLES"):
        catalog.save_result(df, "my_table", tmp_path)
    with pytest.raises(contract.ContractError, match="metrics file '02_segment' is not registered"):
        catalog.save_metrics({"n": 1}, "02_segment", tmp_path)
    assert not list(tmp_path.rglob("*"))  # refused before anything was written
    catalog.save_result(df, "segment_nps", tmp_path)
    assert catalog.load_result("segment_nps", tmp_path)["x"].tolist() == [1]
    with pytest.raises(contract.ContractError, match="'my_table' is not registered"):
        catalog.result_or_none("my_table", tmp_path)


def test_in_a_run_a_notebook_writes_its_own_artefacts_and_reads_what_it_declares(
        tmp_path: Path, in_run: Callable[[str], None]) -> None:
    df = pd.DataFrame({"x": [1]})
    in_run("03_promoter_drivers")
    catalog.save_result(df, "drivers_ranked", tmp_path)
    catalog.save_metrics({"n": 1}, "03_promoter_drivers", tmp_path)
    with pytest.raises(contract.ContractError,
                       match="03_promoter_drivers writes result table 'segment_nps', registered "
                             "to 02_segments"):
        catalog.save_result(df, "segment_nps", tmp_path)
    with pytest.raises(contract.ContractError, match="writes the metrics file of 02_segments"):
        catalog.save_metrics({"n": 1}, "02_segments", tmp_path)
    in_run("07_sales_briefing")
    assert catalog.result_or_none("drivers_ranked", tmp_path) is not None  # declared in READS
    with pytest.raises(contract.ContractError,
                       match=r"07_sales_briefing reads result table 'drivers_priority' of "
                             r"03_promoter_drivers without declaring it: add it to "
                             r"helpers/contract.py READS\['07_sales_briefing'\]"):
        catalog.result_or_none("drivers_priority", tmp_path)
    in_run("06_executive_summary")
    assert contract.table_name("drivers_priority") == "drivers_priority"  # how the summary reads
    with pytest.raises(contract.ContractError, match="reads result table 'sales_coverage'"):
        contract.table_name("sales_coverage")


def test_the_declared_reads_name_registered_artefacts_of_other_notebooks() -> None:
    for reader, reads in contract.READS.items():
        assert set(reads.tables) <= set(contract.TABLES), reader
        assert set(reads.metrics) <= set(contract.METRICS), reader
        assert reader not in {writer for _, writer in contract.reads_of(reader)}, reader


def _pipeline_without(tmp_path: Path, reader: str, need: str) -> Path:
    """config/pipeline.yaml with `need` taken out of the needs of `reader`."""
    doc = yaml.safe_load((paths.CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8"))
    for entry in doc["notebooks"]:
        if entry["name"] == reader:
            entry["needs"] = [n for n in entry["needs"] if n != need]
    doc["notebooks_dir"] = str(PROJECT_ROOT / "notebooks")
    out = tmp_path / "pipeline.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out


def test_a_notebook_reading_what_no_notebook_it_needs_writes_fails_validation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _pipeline_without(tmp_path, "06_executive_summary", "03_promoter_drivers")
    with pytest.raises(ConfigError) as err:
        run_params.validate(config.load_params(), config.load_pipeline(bad))
    assert str(err.value).startswith(
        f"{bad}: notebook 06_executive_summary reads result table 'drivers_ranked' of "
        "03_promoter_drivers, which it does not need (expected 03_promoter_drivers in the needs "
        "of 06_executive_summary")
    code = cli.main(["run", "--pipeline", str(bad), "--check"])
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.BAD_INPUT and len(err_lines) == 1 and "drivers_ranked" in err_lines[0]
    out, executed = tmp_path / "reports", []
    monkeypatch.setattr(kernels, "execute", lambda *args: executed.append(args))
    with pytest.raises(ConfigError, match="drivers_ranked"):
        pipeline.run(out_dir=out, pipeline_path=bad)
    assert executed == [] and not out.exists()  # nothing ran, no run folder
    metrics_only = _pipeline_without(tmp_path, "06_executive_summary", "05_score_integrity")
    with pytest.raises(ConfigError, match="reads metrics of 05_score_integrity, which it does not"):
        run_params.check_reads(config.load_pipeline(metrics_only))


def test_the_real_pipeline_validates() -> None:
    plan = run_params.validate(config.load_params(), config.load_pipeline())
    assert [p.step.name for p in plan][-1] == "06_executive_summary"


def test_a_currency_that_is_not_an_iso_code_is_refused_before_anything_runs() -> None:
    """Issue 26: the currency is written into the workbook's number formats."""
    params = config.with_overrides(config.load_params(), {"shared": {"currency": 'EUR" #'}})
    with pytest.raises(ConfigError, match=r"shared.currency is .*ISO 4217"):
        run_params.validate(params, config.load_pipeline())
