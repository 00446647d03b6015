"""The run contract: sections' declared needs against a run's facts, the not-available cards,
and the registry of artefacts every notebook writes and the summary reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import contract, inputs
from helpers.errors import DataError, ThinData
from helpers.paths import PROJECT_ROOT
from helpers.reporting import cards

FULL = contract.Facts(
    rows={"B2B": 700, "B2C": 400},
    fields={"B2B": frozenset({"account_id", "role", "rep_id", "comment", "deal_close_date",
                              "go_live_date", "go_live_planned"}),
            "B2C": frozenset({"comment"})},
    drivers={"B2B": 10, "B2C": 6}, stages={"B2B.implementation": 5, "B2B.sales": 5,
                                          "B2C.implementation": 0},
    segments={"B2B": 4, "B2C": 4}, waves={"B2B": 4, "B2C": 4},
    tables={"accounts": frozenset({"account_id", "arr", "renewed"}),
            "invitations": frozenset({"account_id", "wave", "responded"}),
            "competitor_ratings": frozenset({"response_id", "vendor", "ltr"}),
            "cx_index": frozenset({"year", "ticker"}), "prices": frozenset({"date", "ticker"})})
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


def test_unknown_sections_and_tables_are_refused() -> None:
    with pytest.raises(DataError, match="unknown report section"):
        contract.needs("segments.nope")
    with pytest.raises(DataError, match="unregistered result table"):
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


def _notebook_code(name: str) -> str:
    nb = json.loads((PROJECT_ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def test_every_table_a_notebook_saves_is_registered_with_that_notebook() -> None:
    for nb in sorted((PROJECT_ROOT / "notebooks").glob("0*.ipynb")):
        code = _notebook_code(nb.name)
        names = (set(re.findall(r'saved\["(\w+)"\]', code))
                 | set(re.findall(r'save_result\([^,]+, "(\w+)"', code))
                 | set(re.findall(r"(\w+)=bt\.", code))
                 | set(re.findall(r'\{"(\w+)": head', code)))
        assert names or nb.stem in ("01_clean_survey", "06_executive_summary"), nb.name
        for n in names:
            assert contract.TABLES.get(n) == nb.stem, f"{nb.name} saves {n!r}: register it in contract.TABLES"


def test_every_gate_in_the_notebooks_names_a_declared_section() -> None:
    for nb in sorted((PROJECT_ROOT / "notebooks").glob("0*.ipynb")):
        for section in re.findall(r'gate\.(?:open|markets|enough|each)\("([\w.]+)"', _notebook_code(nb.name)):
            assert section in contract.SECTIONS, f"{nb.name}: {section}"
