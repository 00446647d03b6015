"""Tests of helpers.stats (estimators, compare, shrinkage) against published values (R survey, R NPS / Rocks 2016, BH 1995,
Student's sleep data) and against truth planted by simulation with fixed seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.errors import ArgumentError, DataError, ThinData
from helpers.measures import Measure
from helpers.paths import PROJECT_ROOT
from helpers.stats import compare, estimators, shrinkage
from helpers.stats.design import Clusters, Design

REF = PROJECT_ROOT / "tests" / "data"  # R's api data with the derived ltr / nps columns


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
    r = estimators.survey_mean(d["api00"], Design.from_frame(d, weights="pw", strata="stype",
                                                             fpc="fpc"))
    assert r.estimate == pytest.approx(662.29, abs=0.005)
    assert r.se == pytest.approx(9.4089, abs=5e-5)
    assert r.n == 200
    assert r.ci[0] < r.estimate < r.ci[1]


def test_survey_mean_cluster_matches_r_svymean(apiclus1):
    d = apiclus1
    r = estimators.survey_mean(d["api00"], Design.from_frame(d, weights="pw", cluster="dnum",
                                                             fpc="fpc"))
    assert r.estimate == pytest.approx(644.17, abs=0.005)
    assert r.se == pytest.approx(23.542, abs=5e-4)
    assert r.deff > 1  # schools within a district are alike


def test_survey_total_matches_r_svytotal(apistrat, apiclus1):
    s = estimators.survey_total(apistrat["enroll"], Design.from_frame(
        apistrat, weights="pw", strata="stype", fpc="fpc"))
    assert s.estimate == pytest.approx(3_687_178, abs=1)
    assert s.se == pytest.approx(114_642, abs=1)
    c = estimators.survey_total(apiclus1["enroll"], Design.from_frame(
        apiclus1, weights="pw", cluster="dnum", fpc="fpc"))
    assert c.estimate == pytest.approx(3_404_940, abs=1)
    assert c.se == pytest.approx(932_235, abs=1)


def test_survey_mean_unweighted_is_textbook_se():
    # Student (1908) sleep data, drug 1: mean 0.75, sd 1.789010 (R: sd(sleep$extra[1:10])).
    x = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    r = estimators.survey_mean(x)
    assert r.estimate == pytest.approx(0.75)
    assert r.se == pytest.approx(1.789010 / np.sqrt(10), rel=1e-6)
    assert r.deff == pytest.approx(1.0)


def test_survey_mean_drops_nan_and_rejects_bad_weights():
    r = estimators.survey_mean([1.0, np.nan, 3.0])
    assert r.n == 2 and r.estimate == 2.0
    with pytest.raises(DataError, match="weights"):
        Design(2, weights=[1.0, -1.0])
    with pytest.raises(DataError, match="cluster"):
        Design(2, cluster=["a", None])
    with pytest.raises(DataError, match="fpc"):
        Design(3, fpc=[10, 10, 20])
    with pytest.raises(DataError, match="fpc"):
        Design(3, fpc=[2, 2, 2])
    with pytest.raises(ArgumentError, match="weights"):   # a bad call, not bad data
        Design(3, weights=[1.0, 2.0])


# ----------------------------------------------------------------- NPS
@pytest.mark.parametrize(("det", "pas", "pro", "var", "se"), [
    (1, 2, 3, 5 / 9, 0.304), (1, 0, 1, 1.0, 0.707), (0, 1, 1, 0.25, 0.354),
    (1, 1, 1, 2 / 3, 0.471), (0, 0, 4, 0.0, 0.0),
])
def test_nps_matches_r_nps_package(det, pas, pro, var, se):
    r = estimators.nps(counts(det, pas, pro), ci="wald")
    n = det + pas + pro
    assert r.se / 100 == pytest.approx(se, abs=5e-4)
    assert (r.se / 100) ** 2 * n == pytest.approx(var)
    assert r.nps == pytest.approx(100 * (pro - det) / n)


def test_nps_point_values_from_r_package():
    assert estimators.nps([0, 7, 7, 9, 9, 9]).nps == pytest.approx(100 / 3)
    assert estimators.nps([0]).nps == -100
    assert estimators.nps([10]).nps == 100
    assert estimators.nps([7]).nps == 0


def test_nps_adjusted_wald_rocks_2016():
    # counts (1, 2, 3) + (0.75, 1.5, 0.75): pro 3.75/9, det 1.75/9, n + 3 = 9
    r = estimators.nps(counts(1, 2, 3), ci="adjusted_wald", df=np.inf)  # Rocks: normal quantile
    pro, det = 3.75 / 9, 1.75 / 9
    est = pro - det
    se = np.sqrt((pro + det - est**2) / 9)
    assert r.ci[0] == pytest.approx(100 * (est - 1.959964 * se), abs=1e-4)
    assert r.ci[1] == pytest.approx(100 * (est + 1.959964 * se), abs=1e-4)
    # without a design the published normal quantile is the default; df= gives t
    assert estimators.nps(counts(1, 2, 3)).ci == r.ci and np.isinf(r.df)
    rt = estimators.nps(counts(1, 2, 3), df=5)   # qt(0.975, 5) = 2.570582
    assert rt.ci[1] == pytest.approx(100 * (est + 2.570582 * se), abs=1e-4)
    # all-promoter sample: Wald collapses to a point, adjusted Wald does not
    assert estimators.nps([10] * 5, ci="wald").ci == (100.0, 100.0)
    assert estimators.nps([10] * 5).ci[0] < 80


def test_nps_nan_dropped_and_out_of_range_rejected():
    r = estimators.nps(pd.Series([10, np.nan, 0, 8], name="ltr"))
    assert r.n == 3
    assert r.p_promoter == pytest.approx(1 / 3)
    with pytest.raises(DataError, match="'ltr'.*11"):
        estimators.nps(pd.Series([10, 11], name="ltr"))
    with pytest.raises(DataError):
        estimators.nps([-1, 5])


def test_nps_design_uses_survey_mean(apiclus1):
    # NPS under a cluster design equals survey_mean of the +100/0/-100 score (R svymean).
    rng = np.random.default_rng(7)
    ltr = rng.integers(0, 11, len(apiclus1))
    design = Design.from_frame(apiclus1, weights="pw", cluster="dnum")
    r = estimators.nps(ltr, design, ci="wald")
    m = estimators.survey_mean(estimators.nps_score(ltr), design)
    assert r.nps == pytest.approx(m.estimate)
    assert r.se == pytest.approx(m.se)
    assert r.deff is not None and r.n_eff == pytest.approx(r.n / r.deff)


@pytest.mark.parametrize("lonely", ["adjust", "average", "remove"])
def test_nps_from_psu_answer_counts_equals_rows(lonely):
    # the whole-sample NPS from one weighted count per PSU and answer (promoters.whole_nps)
    # equals the row path (a domain of every row): strata, a lonely PSU, zero weights, srswor
    rng = np.random.default_rng(3)
    ltr = rng.integers(0, 11, 300).astype(float)
    w = np.where(rng.random(300) < 0.1, 0.0, rng.uniform(0.5, 2.0, 300))
    strata, psu = rng.integers(0, 3, 300), rng.integers(0, 40, 300)
    strata[psu == 0], strata[-1], psu[-1] = 0, 3, 99   # stratum 3 holds a single PSU
    design = Design(300, weights=w, strata=strata, cluster=Clusters(psu, nest=True),
                    lonely_psu=lonely)
    for deff in ("replace", "srswor"):
        fast = estimators.nps(ltr, design, deff=deff)
        rows = estimators.nps(ltr, design, deff=deff, domain=np.ones(300, bool))
        for field in ("nps", "se", "p_promoter", "p_detractor", "deff", "df", "n", "n_psu"):
            assert getattr(fast, field) == pytest.approx(getattr(rows, field), rel=1e-12)
    only_promoters = estimators.nps(np.where(ltr > 8, ltr, 9.0), design)
    assert only_promoters.p_detractor == 0.0 and only_promoters.nps == 100.0


def test_single_cluster_gives_no_standard_error_not_zero():
    # one account cannot show between-account variation: SE is unknown (R survey refuses too)
    r = estimators.nps([10, 0, 8, 9], Design(4, cluster=["A"] * 4))
    assert np.isnan(r.se) and np.isnan(r.ci[0]) and np.isnan(r.ci[1])
    m = estimators.survey_mean([1.0, 2.0, 4.0], Design(3, cluster=[1, 1, 1]))
    assert m.estimate == pytest.approx(7 / 3) and np.isnan(m.se) and np.isnan(m.n_eff)
    df = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 2, "ltr": [10, 0, 9, 9, 3], "acct": [1, 1, 1, 2, 3]})
    t = estimators.nps_table(df, "g", design=Design.from_frame(df, cluster="acct"))
    assert np.isnan(t["se"].iloc[0]) and np.isfinite(t["se"].iloc[1])


# ----------------------------------------------------------------- BH
BH95 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240,
        0.4262, 0.5719, 0.6528, 0.7590, 1.0000]


def test_bh_adjust_benjamini_hochberg_1995_example():
    out = compare.bh_adjust(BH95, q=0.05)
    assert out["reject"].tolist() == [True] * 4 + [False] * 11
    # 4th smallest: 0.0095 * 15 / 4 (R p.adjust "BH")
    assert out["p_adjusted"].iloc[3] == pytest.approx(0.035625)
    shuffled = pd.Series(BH95[::-1], index=list("abcdefghijklmno"))
    out2 = compare.bh_adjust(shuffled)
    assert out2.loc[["l", "m", "n", "o"], "reject"].all() and out2["reject"].sum() == 4


def test_bh_adjust_nan_and_bad_input():
    out = compare.bh_adjust([0.01, np.nan, 0.02])
    assert np.isnan(out["p_adjusted"].iloc[1]) and not out["reject"].iloc[1]
    assert out["p_adjusted"].iloc[0] == pytest.approx(0.02)
    with pytest.raises(ArgumentError):
        compare.bh_adjust([0.5, 1.5])


def test_with_fdr_returns_a_new_table_and_leaves_its_input_alone():
    table = pd.DataFrame({"p_value": BH95})
    before = table.copy()
    out = compare.with_fdr(table, q=0.05)
    pd.testing.assert_frame_equal(table, before)
    assert out is not table and out["significant"].sum() == 4
    assert out["p_adjusted"].tolist() == compare.bh_adjust(BH95)["p_adjusted"].tolist()


def test_bad_calls_raise_argument_error_not_data_error():
    # a wrong argument is the caller's programming error (ValueError family), never a DataError
    for call in (lambda: estimators.nps([10, 9], ci="exact"),
                 lambda: estimators.survey_mean([1.0, 2.0], level=1.5),
                 lambda: estimators.survey_mean([1.0, 2.0], deff="srs"),
                 lambda: estimators.survey_mean([1.0, 2.0], domain=[True]),
                 lambda: Design(2, lonely_psu="ignore"),
                 lambda: compare.compare_independent([1, 2], [3, 4], metric="median"),
                 lambda: compare.min_detectable_difference(-5),
                 lambda: compare.contrast(pd.DataFrame({"nps": [1.0, 2.0], "n": [3, 4]}), 0, 1)):
        with pytest.raises(ArgumentError) as err:
            call()
        assert isinstance(err.value, ValueError) and not isinstance(err.value, DataError)
        assert "\n" not in str(err.value)


# ----------------------------------------------------------------- empirical Bayes
def _simulate_units(n_units: int, a: float, b: float, seed: int, lo: int = 20, hi: int = 120):
    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, n_units)
    n = rng.integers(lo, hi, n_units)
    return rng.binomial(n, p), n, p


def test_fit_beta_binomial_recovers_planted_prior():
    k, n, _ = _simulate_units(3000, 20.0, 60.0, seed=11)
    a, b = shrinkage.fit_beta_binomial(k, n)
    assert a / (a + b) == pytest.approx(0.25, abs=0.01)
    assert a + b == pytest.approx(80, rel=0.25)
    am, bm = shrinkage.fit_beta_binomial(k, n, method="mom")
    assert am + bm == pytest.approx(80, rel=0.35)


def test_eb_rates_shrinks_toward_prior_and_beats_raw():
    k, n, p = _simulate_units(400, 8.0, 12.0, seed=3, lo=3, hi=30)
    out = shrinkage.eb_rates(k, n, labels=[f"R{i}" for i in range(400)])
    assert {"raw_rate", "shrunk_rate", "ci_low", "ci_high", "p_value", "p_value_eb"} <= set(out)
    # posterior means are closer to the planted unit rates than raw rates (Efron-Morris effect)
    assert np.mean((out["shrunk_rate"] - p) ** 2) < 0.7 * np.mean((out["raw_rate"] - p) ** 2)
    coverage = np.mean((out["ci_low"] <= p) & (p <= out["ci_high"]))
    assert 0.9 < coverage < 0.99
    assert out.attrs["prior_mean"] == pytest.approx(0.4, abs=0.03)
    lean = shrinkage.eb_rates(k, n, labels=[f"R{i}" for i in range(400)], tests=False)
    pd.testing.assert_frame_equal(lean, out.drop(columns=["p_value", "p_value_eb"]))


def test_eb_rates_small_units_not_flagged_by_chance():
    # 60 reps with 6 responses each, all drawn from the same prior: none flagged after BH
    k, n, _ = _simulate_units(60, 30.0, 20.0, seed=5, lo=6, hi=7)
    out = shrinkage.eb_rates(k, n)
    assert not compare.bh_adjust(out["p_value_eb"])["reject"].any()
    assert not compare.bh_adjust(out["p_value"])["reject"].any()


def test_eb_rates_flags_a_planted_outlier():
    k, n, _ = _simulate_units(40, 60.0, 40.0, seed=9, lo=40, hi=41)
    k[0] = 39  # one rep at 39/40 when the others sit near 60%
    out = shrinkage.eb_rates(k, n)
    flags = compare.bh_adjust(out["p_value_eb"])["reject"]
    assert flags.iloc[0] and flags.sum() == 1


def test_eb_rates_rejects_bad_counts():
    with pytest.raises(DataError, match="successes"):
        shrinkage.eb_rates([3, 7], [5, 6])


# ----------------------------------------------------------------- differences
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_issue_example_46_to_39_on_90_responses_is_noise():
    # issue 4: a 46 -> 39 "drop" on 90 responses is not significant (p ~ 0.5)
    a, b = counts(18, 12, 60), counts(21, 13, 56)
    assert estimators.nps(a).nps == pytest.approx(46.7, abs=0.1)
    assert estimators.nps(b).nps == pytest.approx(38.9, abs=0.1)
    d = compare.compare_independent(a, b)
    assert d.estimate == pytest.approx(-7.78, abs=0.01)
    assert d.p == pytest.approx(0.5, abs=0.05)
    assert d.ci[0] < 0 < d.ci[1]
    assert compare.min_detectable_difference(90) > abs(d.estimate)


def test_compare_independent_stacks_the_two_designs(apistrat, apiclus1):
    # independent samples: var of the difference = sum of the two designs' variances, df = sum
    # of their df; each sample keeps its weights, strata and clusters
    da = Design.from_frame(apistrat, weights="pw", strata="stype")
    db = Design.from_frame(apiclus1, weights="pw", cluster="dnum")
    ma = estimators.survey_mean(apistrat["api00"], da)
    mb = estimators.survey_mean(apiclus1["api00"], db)
    d = compare.compare_independent(apistrat["api00"], apiclus1["api00"], metric="mean",
                                    a_design=da, b_design=db)
    assert d.estimate == pytest.approx(mb.estimate - ma.estimate, rel=1e-12)
    assert d.se == pytest.approx(np.hypot(ma.se, mb.se), rel=1e-12)
    assert d.df == ma.df + mb.df
    with pytest.raises(ArgumentError, match="fpc"):
        compare.compare_independent(apistrat["api00"], apiclus1["api00"], metric="mean",
                                    a_design=Design.from_frame(apistrat, strata="stype", fpc="fpc"))


def test_compare_independent_two_proportions_textbook():
    # CSAT top-2 in two samples; SE of a difference of proportions, p1q1/n1 + p2q2/n2
    a, b = [5] * 30 + [2] * 70, [5] * 45 + [2] * 55
    csat = Measure.define("csat", scale=(1, 5), rule="top_box")
    d = compare.compare_independent(csat.values(a, csat.headline), csat.values(b, csat.headline),
                                    metric="mean")
    se = np.sqrt(0.3 * 0.7 / 99 + 0.45 * 0.55 / 99)  # survey_mean uses n - 1 as svymean does
    assert d.estimate == pytest.approx(15.0)
    assert d.se == pytest.approx(100 * se, rel=1e-9)


def test_compare_paired_reproduces_students_sleep_t_test():
    # R: t.test(extra ~ group, data = sleep, paired = TRUE): t = -4.0621, df = 9, p = 0.002833,
    # 95 % CI of group1 - group2 (-2.4598858, -0.7001142)
    df = pd.DataFrame({"id": list(range(10)) * 2, "grp": [1] * 10 + [2] * 10,
                       "extra": SLEEP_1 + SLEEP_2})
    d = compare.compare_paired(df, "extra", compare.Panel("id", "grp"), metric="mean")
    assert d.estimate == pytest.approx(1.58)
    assert d.z == pytest.approx(4.0621, abs=1e-4)
    assert d.p == pytest.approx(0.002833, abs=1e-6)
    assert d.ci == pytest.approx((0.7001142, 2.4598858), abs=1e-6)
    assert d.n_units == 10 and d.df == 9


ACCOUNT_WAVES = compare.Panel("account_id", "wave")


def _panel(seed: int, n_accounts: int = 120, change: float = 0.0) -> pd.DataFrame:
    """Accounts keep their mood across waves; 1-4 contacts answer per wave."""
    rng = np.random.default_rng(seed)
    happy = rng.random(n_accounts) < 0.5
    rows = []
    for wave, shift in (("2025Q3", 0.0), ("2025Q4", change)):
        k = rng.integers(1, 5, n_accounts)
        acct = np.repeat(np.arange(n_accounts), k)
        p10 = np.clip(np.where(happy[acct], 0.7, 0.15) + shift, 0, 1)
        ltr = np.where(rng.random(len(acct)) < p10, 10.0, np.where(happy[acct], 8.0, 3.0))
        rows.append(pd.DataFrame({"account_id": acct, "wave": wave, "ltr": ltr}))
    return pd.concat(rows, ignore_index=True)


def test_compare_paired_keeps_its_size_on_planted_null_panel():
    # planted truth: no change; the clustered panel test rejects ~5 % of 150 simulated panels
    p = np.array([compare.compare_paired(_panel(s), "ltr", ACCOUNT_WAVES).p for s in range(150)])
    assert 0.01 <= np.mean(p < 0.05) <= 0.11
    d = compare.compare_paired(_panel(1, change=0.25), "ltr", ACCOUNT_WAVES)
    assert d.estimate > 0 and d.p < 0.05


def test_compare_paired_uses_the_designs_weights_only():
    df = _panel(3)
    plain = compare.compare_paired(df, "ltr", ACCOUNT_WAVES)
    equal = compare.compare_paired(df, "ltr", ACCOUNT_WAVES,
                                   design=Design(len(df), weights=np.full(len(df), 2.0)))
    assert (equal.estimate, equal.se, equal.p) == pytest.approx((plain.estimate, plain.se, plain.p))
    w = np.where(df["ltr"] >= 9, 3.0, 1.0)
    weighted = compare.compare_paired(df, "ltr", ACCOUNT_WAVES, design=Design(len(df), weights=w))
    assert weighted.estimate != pytest.approx(plain.estimate)
    with pytest.raises(ArgumentError, match="strata"):
        compare.compare_paired(df, "ltr", ACCOUNT_WAVES,
                               design=Design.from_frame(df, strata="wave"))


def test_compare_paired_drops_units_seen_once_and_validates():
    df = _panel(2)
    extra = pd.DataFrame({"account_id": [999], "wave": ["2025Q4"], "ltr": [0.0]})
    d1 = compare.compare_paired(df, "ltr", ACCOUNT_WAVES)
    d2 = compare.compare_paired(pd.concat([df, extra]), "ltr", ACCOUNT_WAVES)
    assert d1 == d2
    with pytest.raises(DataError, match="periods"):
        compare.compare_paired(df.assign(wave="x"), "ltr", ACCOUNT_WAVES)
    with pytest.raises(DataError, match="nope"):
        compare.compare_paired(df, "ltr", compare.Panel("nope", "wave"))
    with pytest.raises(ThinData, match="both periods"):
        compare.compare_paired(df[df["account_id"] < 1], "ltr", ACCOUNT_WAVES)


def test_unit_labels_of_any_type_give_the_same_codes_and_paired_change():
    """Units as Arrow strings (factorized by Arrow) or Python strings, rows shuffled: the same
    codes in order of first appearance, the same paired change to the bit."""
    from helpers.stats.arrays import as_codes

    df = _panel(4).sample(frac=1.0, random_state=1)
    labels = "acct-" + (df["account_id"] * 7).astype(str)
    arrow = labels.astype("string[pyarrow]")
    assert arrow.dtype.storage == "pyarrow"
    assert (as_codes(arrow, len(df), "u") == as_codes(labels.astype(object), len(df), "u")).all()
    with pytest.raises(DataError, match="missing"):
        as_codes(arrow.where(arrow != arrow.iloc[3]), len(df), "u")
    results = {compare.compare_paired(df.assign(account_id=ids), "ltr", ACCOUNT_WAVES)
               for ids in (arrow, labels.astype(object))}
    assert len(results) == 1
    assert results == {compare.compare_paired(df, "ltr", ACCOUNT_WAVES)}  # and integer ids


def test_min_detectable_difference_matches_statsmodels_power():
    from statsmodels.stats.power import NormalIndPower

    var = 0.45 + 0.15 - 0.3**2
    mdd = compare.min_detectable_difference(250, p_promoter=0.45, p_detractor=0.15)
    es = NormalIndPower().solve_power(nobs1=250, alpha=0.05, power=0.8, ratio=1.0)
    assert mdd == pytest.approx(100 * es * np.sqrt(var), rel=1e-4)
    n = compare.sample_size_for_difference(mdd)
    assert n in (250, 251)
    assert compare.min_detectable_difference(250, deff=2.0) == pytest.approx(mdd * np.sqrt(2))


def test_min_detectable_difference_has_planted_power():
    # planted truth: two waves whose true NPS differs by the MDD -> ~80 % of tests reject
    rng = np.random.default_rng(42)
    n, sims = 2000, 3000
    d = compare.min_detectable_difference(n) / 100
    pa = [0.15, 0.40, 0.45]
    pb = [0.15 - d / 2, 0.40, 0.45 + d / 2]
    ca, cb = rng.multinomial(n, pa, size=sims), rng.multinomial(n, pb, size=sims)

    def est_var(c):
        det, pro = c[:, 0] / n, c[:, 2] / n
        return pro - det, pro + det - (pro - det) ** 2

    (ea, va), (eb, vb) = est_var(ca), est_var(cb)
    power = np.mean(np.abs(eb - ea) / np.sqrt(va / n + vb / n) > 1.959964)
    assert 0.76 < power < 0.87


# ----------------------------------------------------------------- CES and CSAT
def _top2(answers: list[float]) -> np.ndarray:
    """CSAT 1-5 answers in the measure's top-two box (4-5), as 0/1 flags."""
    return Measure.define("csat", scale=(1, 5), rule="top_box").in_share(np.array(answers, float))


@pytest.mark.parametrize(("method", "low", "high"), [
    # R svyciprop(~y, svydesign(id = ~1, data = d), method = m, df = Inf), Newcombe's 81/263
    ("logit", 0.255052667116, 0.366497648936), ("likelihood", 0.254040730327, 0.365677231269),
    ("beta", 0.252633104003, 0.367742570638), ("mean", 0.252083749253, 0.363885832496),
    ("xlogit", 0.255052667116, 0.366497648936), ("asin", 0.253626203009, 0.365155278392)])
def test_csat_top2_share_interval_is_r_svyciprop(method, low, high):
    flags = _top2([5] * 40 + [4] * 41 + [1] * 100 + [3] * 82)
    r = estimators.proportion(flags, df=np.inf, ci=method)
    assert r.estimate == pytest.approx(100 * 81 / 263)
    assert r.ci_method == method
    rel = 1e-4 if method == "likelihood" else 1e-9   # R interpolates its profile by a spline
    assert r.ci == pytest.approx((100 * low, 100 * high), rel=rel)
    if method == "logit":   # R's default is ours
        assert estimators.proportion(flags, df=np.inf).ci == r.ci




def test_ces_mean_and_agree_share_design_based(apistrat):
    # the CES mean with strata / fpc goes through survey_mean, checked above against R
    rng = np.random.default_rng(0)
    ces = rng.integers(1, 8, len(apistrat)).astype(float)
    design = Design.from_frame(apistrat, weights="pw", strata="stype", fpc="fpc")
    measure = Measure.define("ces", scale=(1, 7), rule="agree")   # agree: 5-7
    agree = next(s for s in measure.statistics if s.kind == "share")
    share = estimators.survey_mean(measure.values(ces, agree), design)
    w = apistrat["pw"].to_numpy()
    assert share.estimate == pytest.approx(100 * w[ces >= 5].sum() / w.sum())
    flags = estimators.proportion(measure.in_share(ces).astype(float), design)
    assert flags.estimate == pytest.approx(share.estimate) and flags.se == pytest.approx(share.se)
    assert 0 <= flags.ci[0] < flags.estimate < flags.ci[1] <= 100


def test_measure_cuts_follow_their_scales():
    """The cut of each rule comes from the measure's own scale, never from a constant."""
    cut = {(rule, scale): Measure.define("m", scale=scale, rule=rule).cut
           for rule in ("agree", "top_box") for scale in ((1, 7), (1, 5), (0, 10))}
    assert cut == {("agree", (1, 7)): 5, ("agree", (1, 5)): 4, ("agree", (0, 10)): 6,
                   ("top_box", (1, 7)): 6, ("top_box", (1, 5)): 4, ("top_box", (0, 10)): 9}
    labels = [s.label for s in Measure.define("csat", scale=(0, 10), rule="top_box",
                                              name="CSAT").statistics]
    assert labels == ["CSAT % top-2 box (9-10)"]
    with pytest.raises(ArgumentError, match="cut 11"):
        Measure.define("m", scale=(0, 10), rule="top_box", cut=11)
    with pytest.raises(ArgumentError, match="NPS needs the 0-10 scale"):
        Measure.define("ltr", scale=(1, 5), rule="nps")


# ----------------------------------------------------------------- segment table
def test_nps_table_rows_match_r_nps_package():
    groups = {"g1": (1, 2, 3), "g2": (1, 0, 1), "g3": (0, 1, 1), "g4": (1, 1, 1)}
    se_ref = {"g1": 0.304, "g2": 0.707, "g3": 0.354, "g4": 0.471}
    df = pd.concat([pd.DataFrame({"seg": k, "ltr": counts(*v)}) for k, v in groups.items()])
    t = estimators.nps_table(df, "seg", ci="wald").set_index("seg")
    for k, (det, pas, pro) in groups.items():
        n = det + pas + pro
        assert t.loc[k, "n"] == n
        assert t.loc[k, "nps"] == pytest.approx(100 * (pro - det) / n)
        assert t.loc[k, "se"] / 100 == pytest.approx(se_ref[k], abs=5e-4)
        assert t.loc[k, "pct_passive"] == pytest.approx(100 * pas / n)
    adj = estimators.nps_table(df, "seg").set_index("seg")
    r = estimators.nps(counts(1, 2, 3))
    assert (adj.loc["g1", "ci_low"], adj.loc["g1", "ci_high"]) == pytest.approx(r.ci)


def test_nps_table_weighted_clustered_equals_domain_nps():
    # every row is nps() for the group as a domain of the full design (R svyby = svymean on
    # subset(design)); estimating the group's rows as their own design gives another SE
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"tier": rng.choice(["SMB", "Enterprise"], 400),
                       "region": rng.choice(["NA", "EMEA"], 400),
                       "ltr": rng.integers(0, 11, 400).astype(float),
                       "acct": rng.integers(0, 60, 400), "w": rng.uniform(0.5, 3, 400)})
    df.loc[::17, "ltr"] = np.nan
    design = Design.from_frame(df, weights="w", cluster="acct")
    t = estimators.nps_table(df, ["tier", "region"], design=design)
    assert len(t) == 4 and {"deff", "n_eff", "n_clusters", "df", "note"} <= set(t)
    for row in t.itertuples():
        dom = ((df.tier == row.tier) & (df.region == row.region)).to_numpy()
        r = estimators.nps(df["ltr"], design=design, domain=dom)
        assert row.nps == pytest.approx(r.nps) and row.se == pytest.approx(r.se)
        assert (row.ci_low, row.ci_high) == pytest.approx(r.ci)
        assert row.n == r.n and row.deff == pytest.approx(r.deff) and row.df == r.df
        g = df[dom]
        own = estimators.nps(g["ltr"], Design.from_frame(g, weights="w", cluster="acct"))
        assert own.nps == pytest.approx(r.nps) and own.se != pytest.approx(r.se)


def test_edge_cases_n1_all_promoters_zero_weights():
    # n = 1: no SE and no interval, weighted or not (one answer shows no variation)
    for r in (estimators.nps([10]), estimators.nps([10], Design(1, weights=[2.0]))):
        assert r.nps == 100 and r.n == 1 and np.isnan(r.se) and np.isnan(r.ci[0])
    assert np.isnan(estimators.survey_mean([3.0]).se)
    # all promoters: SE 0; Wald collapses, adjusted Wald does not; deff undefined (0/0, as R)
    unequal = Design(6, weights=[1, 2, 1, 2, 1, 2])
    w = estimators.nps([10] * 6, unequal, ci="wald")
    assert w.se == 0 and w.ci == (100.0, 100.0) and np.isnan(w.deff)
    aw = estimators.nps([10] * 6, unequal, ci="adjusted_wald")
    assert aw.ci[0] < 100 and aw.df == 5
    assert estimators.nps([10] * 6, unequal).ci == (100.0, 100.0)   # R's t interval
    # all weights zero: nothing to estimate
    with pytest.raises(DataError, match="positive weight"):
        estimators.nps([10, 0], Design(2, weights=[0.0, 0.0]))
    # a domain with no rows
    with pytest.raises(ThinData, match="domain"):
        estimators.survey_mean([1.0, 2.0], domain=[False, False])


def test_nps_table_cluster_ci_covers_planted_truth():
    # planted truth: 400 replicate B2B samples of 80 accounts x 4 contacts; an account is happy
    # (80 % promoters, 5 % detractors) or unhappy (10 % / 60 %) with probability 1/2, so the
    # true NPS is 0.5 * 75 + 0.5 * (-50) = 12.5. Contacts of an account are alike (ICC > 0).
    rng = np.random.default_rng(2024)
    reps, accts, m = 400, 80, 4
    happy = rng.random(reps * accts) < 0.5
    acct = np.repeat(np.arange(reps * accts), m)
    p_pro, p_det = np.where(happy, 0.8, 0.1)[acct], np.where(happy, 0.05, 0.6)[acct]
    u = rng.random(len(acct))
    ltr = np.where(u < p_pro, 10.0, np.where(u < p_pro + p_det, 2.0, 7.0))
    df = pd.DataFrame({"rep": acct // accts, "acct": acct, "ltr": ltr})
    clustered = estimators.nps_table(df, "rep", design=Design.from_frame(df, cluster="acct"))
    naive = estimators.nps_table(df, "rep")
    cover = lambda t: np.mean((t.ci_low <= 12.5) & (12.5 <= t.ci_high))  # noqa: E731
    assert 0.92 <= cover(clustered) <= 0.98
    assert cover(naive) < 0.90
    assert clustered["deff"].median() > 1.5


def test_nps_table_missing_column_and_groups():
    df = pd.DataFrame({"seg": ["a", None, "b"], "ltr": [10.0, 0.0, 5.0]})
    t = estimators.nps_table(df, "seg")
    assert t["seg"].tolist() == ["a", "b"] and t["n"].tolist() == [1, 1]
    with pytest.raises(DataError, match="'nope'"):
        estimators.nps_table(df, "nope")


# ----------------------------------------------------------------- planted truth of the sample
RESPONSES = paths.PROCESSED_DIR / "responses.parquet"
TRUTH = paths.RAW_DIR / "truth.json"
needs_sample = pytest.mark.skipif(not (RESPONSES.exists() and TRUTH.exists()),
                                  reason="run `cx sample` and `cx clean` first")


@pytest.fixture(scope="module")
def sample():
    import json

    return pd.read_parquet(RESPONSES).query("include"), json.loads(TRUTH.read_text())


@needs_sample
def test_sample_b2c_raked_nps_covers_planted_population_nps(sample):
    from helpers.stats import weighting

    df, truth = sample
    b2c = df[df["market"] == "B2C"]
    w = weighting.rake(b2c, truth["b2c_population_margins"])
    raw = estimators.nps(b2c["ltr"])
    weighted = estimators.nps(b2c["ltr"], Design(len(b2c), weights=w))
    assert raw.ci[0] <= truth["b2c_sample_expected_nps_unweighted"] <= raw.ci[1]
    assert weighted.ci[0] <= truth["b2c_population_nps"] <= weighted.ci[1]
    assert not raw.ci[0] <= truth["b2c_population_nps"] <= raw.ci[1]  # the bias raking removes
    assert weighted.deff > 1


@needs_sample
def test_sample_eb_rates_rank_planted_gaming_reps_first(sample):
    df, truth = sample
    b2b = df[(df["market"] == "B2B") & df["ltr"].notna()]
    g = b2b.assign(pro=b2b["ltr"] >= 9).groupby("rep_id")["pro"].agg(["sum", "size"])
    out = shrinkage.eb_rates(g["sum"], g["size"], labels=g.index)
    top = out.nlargest(len(truth["gaming_reps"]), "shrunk_rate")["label"]
    assert set(top) == set(truth["gaming_reps"])
    reject = compare.bh_adjust(out["p_value"])["reject"].to_numpy()
    high = (out["raw_rate"] > out.attrs["pooled_rate"]).to_numpy()
    assert set(out.loc[reject & high, "label"]) == set(truth["gaming_reps"])


def test_distribution_functions_match_scipy_stats():
    """The scipy.special forms in stats.arrays give scipy.stats' values (incl. inf, NaN, edges)."""
    from scipy import stats as sst

    from helpers.stats import arrays

    q = np.array([0.0, 1e-12, 0.025, 0.5, 0.975, 1.0, np.nan])
    x = np.array([-np.inf, -3.0, 0.0, 1.96, 40.0, np.inf, np.nan])
    df = np.array([1.0, 2.5, 30.0, 1e6, 7.0, 3.0, 4.0])
    np.testing.assert_array_equal(arrays.norm_ppf(q), sst.norm.ppf(q))
    np.testing.assert_array_equal(arrays.norm_sf(x), sst.norm.sf(x))
    np.testing.assert_array_equal(arrays.t_ppf(q, df), sst.t.ppf(q, df))
    np.testing.assert_array_equal(arrays.t_sf(x, df), sst.t.sf(x, df))
    np.testing.assert_array_equal(arrays.chi2_sf(np.abs(x), df), sst.chi2.sf(np.abs(x), df))
    assert arrays.t_value(0.95, np.inf) == arrays.z_value(0.95) == sst.norm.ppf(0.975)
