"""Tests of helpers.analysis.selection: the one way every notebook and the CLI select responses,
and of the market rule applied when cleaning (helpers.ingest.clean.market_of)."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import config
from helpers.analysis import selection, waves
from helpers.errors import ArgumentError, DataError
from helpers.ingest import clean, schema


def _responses() -> pd.DataFrame:
    return pd.DataFrame({
        "include": [True, True, False, True, True, True],
        "wave": ["2026Q1", "2026Q2", "2026Q3", "2026Q2", "2026Q1", "2026Q2"],
        "market": ["B2B", "B2B", "B2B", "B2C", "B2C", "B2C"],
        "account_id": ["A", "B", "A", None, None, None],
        "contact_key": [None, None, None, "k1", "k1", None],
        "response_id": [f"r{i}" for i in range(6)],
        "ltr": [9.0, 10.0, 0.0, 7.0, 8.0, 3.0], "channel": ["Online"] * 6,
        "age_band": ["18-34"] * 6, "region": ["NA"] * 6})


def _cfg(**over: object) -> config.SegmentsConfig:
    cfg = config.load_segments()
    return type(cfg)(**{**cfg.__dict__, "b2c_margins": {"channel": {"Online": 1.0}}, **over})


def _study(df: pd.DataFrame | None = None, **kw: object) -> selection.Study:
    return selection.study(_responses() if df is None else df, schema.load(), _cfg(), **kw)


def test_market_rule_by_column_presence_or_constant() -> None:
    df = pd.DataFrame({"account_id": ["A", None, "B"], "market": ["b2b", "B2C", None]})
    assert clean.market_of(df, {"b2b_when_present": "account_id"}).tolist() == ["B2B", "B2C", "B2B"]
    assert clean.market_of(df, {"column": "market"}).tolist() == ["B2B", "B2C", "B2C"]
    assert clean.market_of(df, {"all": "B2C"}).tolist() == ["B2C"] * 3
    with pytest.raises(DataError, match="'B2X'") as bad:
        clean.market_of(df.assign(market=["B2B", "B2X", "B2C"]), {"column": "market"},
                        "exports/export.csv", rule_at="survey.yaml line 45")
    assert str(bad.value).startswith("exports/export.csv")  # the file the value came from
    assert "row 2" in str(bad.value) and "survey.yaml line 45" in str(bad.value)


def test_study_reports_latest_included_wave() -> None:
    data = _study()
    assert data.wave == "2026Q2"               # 2026Q3 exists only in an excluded row
    assert data.waves == ["2026Q1", "2026Q2"]
    assert data.market("B2B", "reported").rows["response_id"].tolist() == ["r1"]
    assert data.market("B2B", included=False).rows["response_id"].tolist() == ["r0", "r1", "r2"]
    assert data.markets == ["B2B", "B2C"]
    with pytest.raises(DataError, match="2027Q1"):
        _study(wave="2027Q1")


def test_a_latest_wave_still_coming_in_is_not_the_reported_wave_and_is_named() -> None:
    """Four quarters of 100 responses and three early answers of the next quarter: the headline
    reports the last complete quarter (not n = 3) and says why; asked for, 2025Q1 is reported."""
    labels = [w for w in ("2024Q1", "2024Q2", "2024Q3", "2024Q4") for _ in range(100)] + ["2025Q1"] * 3
    n = len(labels)
    df = pd.DataFrame({"include": True, "wave": labels, "market": "B2B",
                       "account_id": [f"A{i % 40}" for i in range(n)], "contact_key": None,
                       "response_id": [f"r{i}" for i in range(n)], "ltr": 8.0})
    data = _study(df)
    assert data.wave == "2024Q4" and data.waves[-1] == "2025Q1"
    assert "2025Q1 (3 responses) look still in progress" in data.describe()
    assert _study(df, wave="2025Q1").wave == "2025Q1"
    chosen = _study(df, wave="2024Q2")  # complete later waves are not called in progress
    note = chosen.describe().split("Later wave(s)")[1]
    assert note.startswith(" 2025Q1 (3 responses) look still in progress") and "2024Q3" not in note
    assert waves.reported_wave(df.iloc[:400]) == "2024Q4"  # complete waves: the latest


def test_market_design_weights_and_contact_units() -> None:
    data = _study()
    b2c = data.market("B2C")
    assert b2c.columns == {"cluster": "contact_unit", "weights": "weight"}
    assert b2c.design.weighted and b2c.design.calibration is not None and b2c.design.n == 3
    assert b2c.rows["weight"].tolist() == [1.0, 1.0, 1.0]
    assert data.weighting.startswith("raked to channel")
    # a consumer answering in two waves is one unit; an anonymous response is its own
    assert b2c.rows["contact_unit"].tolist() == ["k1", "k1", "anon:r5"]
    assert data.market("B2B").columns == {"cluster": "account_id", "weights": None}
    assert data.market("B2B").design.clustered and not data.market("B2B").design.weighted
    assert data.market("B2C", "2026Q2, 2026Q1").waves == ("2026Q2", "2026Q1")
    with pytest.raises(DataError, match="2030Q1"):
        data.market("B2C", "2030Q1")
    with pytest.raises(ArgumentError, match="B2G"):  # a wrong call, not bad data
        data.market("B2G")


def test_b2c_without_the_margin_fields_is_unweighted_and_says_so() -> None:
    data = _study(_responses().drop(columns="channel"))
    assert (data.b2c["weight"] == 1.0).all()
    assert data.weighting.startswith("unweighted: no population margins are given for this survey")
    assert "b2c_margins in the analysis settings" in data.weighting
    with pytest.raises(DataError, match="'Kiosk'"):  # a level the population margins do not know
        _study(_responses().assign(channel="Kiosk"))


def test_facts_say_what_the_data_has() -> None:
    data = _study(tables={"accounts": pd.DataFrame({"account_id": ["A", "B"], "arr": [1.0, 2.0]}),
                          "invitations": None})
    f = data.facts
    assert f.rows == {"B2B": 2, "B2C": 3}
    assert "account_id" in f.fields["B2B"] and "role" not in f.fields["B2B"]
    assert f.waves == {"B2B": 2, "B2C": 2}
    assert f.tables == {"accounts": frozenset({"account_id", "arr"})}
    assert f.drivers == {"B2B": 0, "B2C": 0}   # no driver item columns in these rows
