"""Tests of helpers.analysis.selection: the one way every notebook and the CLI select responses."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import config
from helpers.analysis import selection
from helpers.errors import DataError


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


def test_split_market_by_column_or_rule() -> None:
    df = pd.DataFrame({"account_id": ["A", None, "B"], "market": ["B2B", "B2C", "B2B"]})
    assert selection.split_market(df, rule="account_id not null").tolist() == ["B2B", "B2C", "B2B"]
    assert selection.split_market(df, rule="account_id is null").tolist() == ["B2C", "B2B", "B2C"]
    assert selection.split_market(df).tolist() == ["B2B", "B2C", "B2B"]
    with pytest.raises(DataError, match="B2X"):
        selection.split_market(df.assign(market=["B2B", "B2X", "B2C"]))


def test_study_reports_latest_included_wave_and_honours_the_market_rule() -> None:
    data = selection.study(_responses(), _cfg())
    assert data.wave == "2026Q2"               # 2026Q3 exists only in an excluded row
    assert data.waves == ["2026Q1", "2026Q2"]
    assert data.market("B2B", "reported").rows["response_id"].tolist() == ["r1"]
    assert data.market("B2B", included=False).rows["response_id"].tolist() == ["r0", "r1", "r2"]
    # a rule overrides the column: rows without an account are B2C whatever the column says
    ruled = selection.study(_responses().assign(market="B2B"), _cfg(market_rule="account_id not null"))
    assert ruled.market("B2C").rows["response_id"].tolist() == ["r3", "r4", "r5"]
    with pytest.raises(DataError, match="2027Q1"):
        selection.study(_responses(), _cfg(), wave="2027Q1")


def test_market_design_weights_and_contact_units() -> None:
    data = selection.study(_responses(), _cfg())
    b2c = data.market("B2C")
    assert b2c.design == {"cluster": "contact_unit", "weights": "weight"}
    assert b2c.rows["weight"].tolist() == [1.0, 1.0, 1.0]
    # a consumer answering in two waves is one unit; an anonymous response is its own
    assert b2c.rows["contact_unit"].tolist() == ["k1", "k1", "anon:r5"]
    assert data.market("B2B").design == {"cluster": "account_id", "weights": None}
    assert data.market("B2C", "2026Q2, 2026Q1").waves == ("2026Q2", "2026Q1")
    with pytest.raises(DataError, match="2030Q1"):
        data.market("B2C", "2030Q1")
    with pytest.raises(DataError, match="B2G"):
        data.market("B2G")
