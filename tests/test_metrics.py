"""Tests of helpers.metrics against published values (R survey, R NPS / Rocks 2016, BH 1995,
Student's sleep data) and against truth planted by simulation with fixed seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import metrics
from helpers.errors import DataError
from helpers.paths import PROJECT_ROOT

REF = PROJECT_ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="module")
def apistrat() -> pd.DataFrame:
    return pd.read_csv(REF / "apistrat.csv")


@pytest.fixture(scope="module")
def apiclus1() -> pd.DataFrame:
    return pd.read_csv(REF / "apiclus1.csv")


def counts(det: int, pas: int, pro: int) -> list[float]:
    return [0.0] * det + [7.0] * pas + [10.0] * pro


# ----------------------------------------------------------------- survey_mean / survey_total
def test_survey_mean_stratified_matches_r_svymean(apistrat):
    d = apistrat
    r = metrics.survey_mean(d["api00"], weights=d["pw"], strata=d["stype"], fpc=d["fpc"])
    assert r.estimate == pytest.approx(662.29, abs=0.005)
    assert r.se == pytest.approx(9.4089, abs=5e-5)
    assert r.n == 200
    assert r.ci[0] < r.estimate < r.ci[1]


def test_survey_mean_cluster_matches_r_svymean(apiclus1):
    d = apiclus1
    r = metrics.survey_mean(d["api00"], weights=d["pw"], cluster=d["dnum"], fpc=d["fpc"])
    assert r.estimate == pytest.approx(644.17, abs=0.005)
    assert r.se == pytest.approx(23.542, abs=5e-4)
    assert r.deff > 1  # schools within a district are alike


def test_survey_total_matches_r_svytotal(apistrat, apiclus1):
    s = metrics.survey_total(apistrat["enroll"], apistrat["pw"], strata=apistrat["stype"],
                             fpc=apistrat["fpc"])
    assert s.estimate == pytest.approx(3_687_178, abs=1)
    assert s.se == pytest.approx(114_642, abs=1)
    c = metrics.survey_total(apiclus1["enroll"], apiclus1["pw"], cluster=apiclus1["dnum"],
                             fpc=apiclus1["fpc"])
    assert c.estimate == pytest.approx(3_404_940, abs=1)
    assert c.se == pytest.approx(932_235, abs=1)


def test_survey_mean_unweighted_is_textbook_se():
    # Student (1908) sleep data, drug 1: mean 0.75, sd 1.789010 (R: sd(sleep$extra[1:10])).
    x = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    r = metrics.survey_mean(x)
    assert r.estimate == pytest.approx(0.75)
    assert r.se == pytest.approx(1.789010 / np.sqrt(10), rel=1e-6)
    assert r.deff == pytest.approx(1.0)


def test_survey_mean_drops_nan_and_rejects_bad_weights():
    r = metrics.survey_mean([1.0, np.nan, 3.0])
    assert r.n == 2 and r.estimate == 2.0
    with pytest.raises(DataError, match="weights"):
        metrics.survey_mean([1.0, 2.0], weights=[1.0, -1.0])
    with pytest.raises(DataError, match="cluster"):
        metrics.survey_mean([1.0, 2.0], cluster=["a", None])


# ----------------------------------------------------------------- NPS
@pytest.mark.parametrize(("det", "pas", "pro", "var", "se"), [
    (1, 2, 3, 5 / 9, 0.304), (1, 0, 1, 1.0, 0.707), (0, 1, 1, 0.25, 0.354),
    (1, 1, 1, 2 / 3, 0.471), (0, 0, 4, 0.0, 0.0),
])
def test_nps_matches_r_nps_package(det, pas, pro, var, se):
    r = metrics.nps(counts(det, pas, pro), ci="wald")
    n = det + pas + pro
    assert r.se / 100 == pytest.approx(se, abs=5e-4)
    assert (r.se / 100) ** 2 * n == pytest.approx(var)
    assert r.nps == pytest.approx(100 * (pro - det) / n)


def test_nps_point_values_from_r_package():
    assert metrics.nps([0, 7, 7, 9, 9, 9]).nps == pytest.approx(100 / 3)
    assert metrics.nps([0]).nps == -100
    assert metrics.nps([10]).nps == 100
    assert metrics.nps([7]).nps == 0


def test_nps_adjusted_wald_rocks_2016():
    # counts (1, 2, 3) + (0.75, 1.5, 0.75): pro 3.75/9, det 1.75/9, n + 3 = 9
    r = metrics.nps(counts(1, 2, 3), ci="adjusted_wald")
    pro, det = 3.75 / 9, 1.75 / 9
    est = pro - det
    se = np.sqrt((pro + det - est**2) / 9)
    assert r.ci[0] == pytest.approx(100 * (est - 1.959964 * se), abs=1e-4)
    assert r.ci[1] == pytest.approx(100 * (est + 1.959964 * se), abs=1e-4)
    # all-promoter sample: Wald collapses to a point, adjusted Wald does not
    assert metrics.nps([10] * 5, ci="wald").ci == (100.0, 100.0)
    assert metrics.nps([10] * 5).ci[0] < 80


def test_nps_nan_dropped_and_out_of_range_rejected():
    r = metrics.nps(pd.Series([10, np.nan, 0, 8], name="ltr"))
    assert r.n == 3
    assert r.p_promoter == pytest.approx(1 / 3)
    with pytest.raises(DataError, match="'ltr'.*11"):
        metrics.nps(pd.Series([10, 11], name="ltr"))
    with pytest.raises(DataError):
        metrics.nps([-1, 5])


def test_nps_design_uses_survey_mean(apiclus1):
    # NPS under a cluster design equals survey_mean of the +100/0/-100 score (R svymean).
    rng = np.random.default_rng(7)
    ltr = rng.integers(0, 11, len(apiclus1))
    r = metrics.nps(ltr, weights=apiclus1["pw"], cluster=apiclus1["dnum"], ci="wald")
    m = metrics.survey_mean(metrics.nps_score(ltr), apiclus1["pw"], cluster=apiclus1["dnum"])
    assert r.nps == pytest.approx(m.estimate)
    assert r.se == pytest.approx(m.se)
    assert r.deff is not None and r.n_eff == pytest.approx(r.n / r.deff)


# ----------------------------------------------------------------- BH
BH95 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
        0.4262, 0.5719, 0.6528, 0.7590, 1.0000]


def test_bh_adjust_benjamini_hochberg_1995_example():
    out = metrics.bh_adjust(BH95, q=0.05)
    assert out["reject"].tolist() == [True] * 4 + [False] * 11
    # 4th smallest: 0.0095 * 15 / 4 (R p.adjust "BH")
    assert out["p_adjusted"].iloc[3] == pytest.approx(0.035625)
    shuffled = pd.Series(BH95[::-1], index=list("abcdefghijklmno"))
    out2 = metrics.bh_adjust(shuffled)
    assert out2.loc[["l", "m", "n", "o"], "reject"].all() and out2["reject"].sum() == 4


def test_bh_adjust_nan_and_bad_input():
    out = metrics.bh_adjust([0.01, np.nan, 0.02])
    assert np.isnan(out["p_adjusted"].iloc[1]) and not out["reject"].iloc[1]
    assert out["p_adjusted"].iloc[0] == pytest.approx(0.02)
    with pytest.raises(DataError):
        metrics.bh_adjust([0.5, 1.5])


# ----------------------------------------------------------------- empirical Bayes
def _simulate_units(n_units: int, a: float, b: float, seed: int, lo: int = 20, hi: int = 120):
    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, n_units)
    n = rng.integers(lo, hi, n_units)
    return rng.binomial(n, p), n, p


def test_fit_beta_binomial_recovers_planted_prior():
    k, n, _ = _simulate_units(3000, 20.0, 60.0, seed=11)
    a, b = metrics.fit_beta_binomial(k, n)
    assert a / (a + b) == pytest.approx(0.25, abs=0.01)
    assert a + b == pytest.approx(80, rel=0.25)
    am, bm = metrics.fit_beta_binomial(k, n, method="mom")
    assert am + bm == pytest.approx(80, rel=0.35)


def test_eb_rates_shrinks_toward_prior_and_beats_raw():
    k, n, p = _simulate_units(400, 8.0, 12.0, seed=3, lo=3, hi=30)
    out = metrics.eb_rates(k, n, labels=[f"R{i}" for i in range(400)])
    assert {"raw_rate", "shrunk_rate", "ci_low", "ci_high", "p_value", "p_value_eb"} <= set(out)
    # posterior means are closer to the planted unit rates than raw rates (Efron-Morris effect)
    assert np.mean((out["shrunk_rate"] - p) ** 2) < 0.7 * np.mean((out["raw_rate"] - p) ** 2)
    coverage = np.mean((out["ci_low"] <= p) & (p <= out["ci_high"]))
    assert 0.9 < coverage < 0.99
    assert out.attrs["prior_mean"] == pytest.approx(0.4, abs=0.03)


def test_eb_rates_small_units_not_flagged_by_chance():
    # 60 reps with 6 responses each, all drawn from the same prior: none flagged after BH
    k, n, _ = _simulate_units(60, 30.0, 20.0, seed=5, lo=6, hi=7)
    out = metrics.eb_rates(k, n)
    assert not metrics.bh_adjust(out["p_value_eb"])["reject"].any()
    assert not metrics.bh_adjust(out["p_value"])["reject"].any()


def test_eb_rates_flags_a_planted_outlier():
    k, n, _ = _simulate_units(40, 60.0, 40.0, seed=9, lo=40, hi=41)
    k[0] = 39  # one rep at 39/40 when the others sit near 60%
    out = metrics.eb_rates(k, n)
    flags = metrics.bh_adjust(out["p_value_eb"])["reject"]
    assert flags.iloc[0] and flags.sum() == 1


def test_eb_rates_rejects_bad_counts():
    with pytest.raises(DataError, match="successes"):
        metrics.eb_rates([3, 7], [5, 6])
