"""Tests of helpers.stats.weighting: raking reproduces margins, trimming bounds, Kish design effect."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.errors import ArgumentError, DataError
from helpers.stats import weighting

MARGINS = {"age_band": {"18-34": 0.3, "35-54": 0.4, "55+": 0.3},
           "channel": {"Online": 0.5, "Store": 0.3, "Phone": 0.2}}


def _sample(seed: int = 0, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age_band": rng.choice(["18-34", "35-54", "55+"], n, p=[.5, .3, .2]),
                         "channel": rng.choice(["Online", "Store", "Phone"], n, p=[.7, .2, .1])})


def _shares(df: pd.DataFrame, var: str, w: np.ndarray) -> dict:
    return (pd.Series(w, index=df.index).groupby(df[var]).sum() / w.sum()).to_dict()


def test_rake_reproduces_margins_and_keeps_total():
    df = _sample()
    w = weighting.rake(df, MARGINS)
    assert w.index.equals(df.index) and w.name == "weight"
    for var, target in MARGINS.items():
        assert _shares(df, var, w.to_numpy()) == pytest.approx(target, abs=1e-6)
    assert w.sum() == pytest.approx(len(df))
    assert (w > 0).all()


def test_rake_textbook_two_by_two():
    # Deming & Stephan (1940)-style 2x2: a table with margins already met is left unchanged
    # (IPF fixes a table that fits), and with a uniform table, raking to independent margins
    # gives the product of the margins (Bishop, Fienberg & Holland 1975, ch. 3).
    df = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["u", "v", "u", "v"]})
    w = weighting.rake(df, {"a": {"x": 0.7, "y": 0.3}, "b": {"u": 0.4, "v": 0.6}})
    assert (w / w.sum()).tolist() == pytest.approx([0.28, 0.42, 0.12, 0.18], abs=1e-7)
    base = pd.Series([1.0, 3.0, 2.0, 2.0])
    w2 = weighting.rake(df, {"a": {"x": 0.5, "y": 0.5}, "b": {"u": 0.375, "v": 0.625}},
                        base_weight=base)
    assert w2.tolist() == pytest.approx(base.tolist())


def test_rake_with_base_weight_column():
    df = _sample(1).assign(bw=lambda d: np.where(d["channel"] == "Online", 2.0, 1.0))
    w = weighting.rake(df, MARGINS, base_weight="bw")
    assert w.sum() == pytest.approx(df["bw"].sum())
    assert _shares(df, "channel", w.to_numpy()) == pytest.approx(MARGINS["channel"], abs=1e-6)


def test_rake_levels_reused_equal_rake_bit_for_bit():
    """Levels looked up once (categorical columns too) rake as rake() does, from any base."""
    df = _sample(3)
    levels = weighting.raking_levels(df.astype("category"), MARGINS)
    base = np.random.default_rng(1).uniform(0.5, 2.0, len(df))
    for start in (None, base):
        got = weighting.rake_levels(levels, start)
        want = weighting.rake(df, MARGINS, base_weight=start)
        assert got.index.equals(want.index)
        assert np.array_equal(got.to_numpy(), want.to_numpy())
    odd = df.astype("category")
    odd.loc[0, "channel"] = np.nan
    with pytest.raises(DataError, match="missing value"):
        weighting.raking_levels(odd, MARGINS)


def test_rake_errors_name_the_problem():
    df = _sample()
    with pytest.raises(DataError, match="'age_band'.*sum to 0.9"):
        weighting.rake(df, {"age_band": {"18-34": 0.3, "35-54": 0.3, "55+": 0.3}})
    with pytest.raises(DataError, match="'55\\+' has no population margin"):
        weighting.rake(df, {"age_band": {"18-34": 0.5, "35-54": 0.5}})
    with pytest.raises(DataError, match="'75\\+' has no respondents"):
        weighting.rake(df, {"age_band": {"18-34": 0.3, "35-54": 0.3, "55+": 0.2, "75+": 0.2}})
    with pytest.raises(DataError, match="'region'"):
        weighting.rake(df, {"region": {"NA": 1.0}})
    with pytest.raises(DataError, match="missing"):
        weighting.rake(df.assign(channel=lambda d: d["channel"].where(d.index > 0)), MARGINS)
    # infeasible jointly: every Online respondent is 18-34, yet Online 80 % and 18-34 10 %
    bad = pd.DataFrame({"age_band": ["18-34", "35-54"], "channel": ["Online", "Store"]})
    with pytest.raises(DataError, match="converge"):
        weighting.rake(bad, {"age_band": {"18-34": 0.1, "35-54": 0.9},
                             "channel": {"Online": 0.8, "Store": 0.2}}, max_iter=20)


@st.composite
def feasible_problem(draw):
    """A sample holding every combination of levels (so any positive margins are feasible)."""
    k1, k2 = draw(st.integers(2, 4)), draw(st.integers(2, 3))
    extra = draw(st.lists(st.tuples(st.integers(0, k1 - 1), st.integers(0, k2 - 1)),
                          max_size=40))
    cells = list(itertools.product(range(k1), range(k2))) + extra
    df = pd.DataFrame(cells, columns=["v1", "v2"]).astype(str)
    raw1 = draw(st.lists(st.floats(0.05, 1.0), min_size=k1, max_size=k1))
    raw2 = draw(st.lists(st.floats(0.05, 1.0), min_size=k2, max_size=k2))
    margins = {"v1": {str(i): x / sum(raw1) for i, x in enumerate(raw1)},
               "v2": {str(i): x / sum(raw2) for i, x in enumerate(raw2)}}
    base = draw(st.lists(st.floats(0.2, 5.0), min_size=len(df), max_size=len(df)))
    return df, margins, np.array(base)


@settings(max_examples=40, deadline=None)
@given(feasible_problem())
def test_rake_property_margins_positive_sum_preserved(problem):
    df, margins, base = problem
    w = weighting.rake(df, margins, base_weight=base, max_iter=2000, tol=1e-7)
    assert (w > 0).all()
    assert w.sum() == pytest.approx(base.sum(), rel=1e-9)
    for var, target in margins.items():
        assert _shares(df, var, w.to_numpy()) == pytest.approx(target, abs=1e-6)


def test_trim_weights_bounds_and_sum():
    rng = np.random.default_rng(5)
    w = pd.Series(rng.lognormal(0, 1.2, 1000), name="weight")
    t = weighting.trim_weights(w, upper=3.0, lower=0.3)
    mean = w.mean()
    assert t.sum() == pytest.approx(w.sum())
    assert t.max() <= 3.0 * mean * (1 + 1e-9) and t.min() >= 0.3 * mean * (1 - 1e-9)
    assert t.index.equals(w.index) and t.name == "weight"
    assert weighting.kish_deff(t) < weighting.kish_deff(w)
    untouched = np.array([1.0, 1.2, 0.8])
    assert weighting.trim_weights(untouched) == pytest.approx(untouched)
    with pytest.raises(ArgumentError, match="upper"):
        weighting.trim_weights(w, upper=0.5)


def test_kish_deff_and_effective_n():
    # Kish (1965): deff = 1 + cv^2. Half the sample weight 1, half weight 3: mean 2, sd 1,
    # cv^2 = 1/4, deff 1.25, n_eff = 100 / 1.25 = 80.
    w = [1.0] * 50 + [3.0] * 50
    assert weighting.kish_deff(w) == pytest.approx(1.25)
    assert weighting.effective_n(w) == pytest.approx(80.0)
    assert weighting.kish_deff([2.0] * 7) == pytest.approx(1.0)
    # zero weights are not part of the sample (R counts positive weights only)
    assert weighting.kish_deff([1.0, 3.0, 0.0]) == pytest.approx(weighting.kish_deff([1.0, 3.0]))
    assert weighting.effective_n([2.0, 2.0, 0.0]) == pytest.approx(2.0)
    with pytest.raises(DataError, match="weight"):
        weighting.kish_deff([1.0, -1.0])
    with pytest.raises(DataError, match="zero"):
        weighting.effective_n([0.0, 0.0])


def test_margin_table_shows_before_and_after():
    df = _sample()
    w = weighting.rake(df, MARGINS)
    t = weighting.margin_table(df, MARGINS, w)
    assert len(t) == 6
    assert t["weighted_share"].to_numpy() == pytest.approx(t["population_share"].to_numpy())
    assert not np.allclose(t["sample_share"], t["population_share"], atol=0.02)


def test_margins_sharing_a_column_give_the_codes_of_separate_factorisations():
    """A design's margins [wave, region], [wave, age] factorize the wave once: the same codes as
    factorizing every margin on its own, and a missing level still names its column."""
    from helpers.stats.calibration import interaction

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"wave": rng.choice(["2025Q4", "2026Q1"], 500),
                       "region": rng.choice(["north", "south", "east"], 500),
                       "age": rng.choice(["18-34", "35+"], 500)}).astype("string")
    known: dict = {}
    shared = [interaction(df, ["wave", m], known) for m in ("region", "age")]
    assert set(known) == {"wave", "region", "age"}
    for codes, m in zip(shared, ("region", "age"), strict=True):
        assert (codes == interaction(df, ["wave", m])).all()
        assert len(np.unique(codes)) == df.groupby(["wave", m]).ngroups
    with pytest.raises(DataError, match="age"):
        interaction(df.assign(age=df["age"].mask(df.index == 7)), ["wave", "age"], {"wave": known["wave"]})
