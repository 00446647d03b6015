"""Design-based regression, quantiles, ratios and tests against R's survey package (4.1.1):
svyglm (gaussian, quasibinomial), svyquantile (every qrule, four interval types), svyratio,
svychisq (Rao-Scott F and first-order) and svyttest, on the api designs (strata + fpc, clusters
+ fpc, missing values) and on a generated B2B programme (contacts clustered in accounts) and a
raked B2C sample (strata = waves, raked within each wave).

Expected numbers: tests/data/r_models_reference.json, written with the B2B/B2C CSVs by
tests/reference/models_reference.R (R is not needed to run this).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers.errors import ArgumentError, DataError
from helpers.paths import PROJECT_ROOT
from helpers.stats import quantiles, ratios, regression, tests
from helpers.stats.design import Design

DATA = PROJECT_ROOT / "tests" / "data"
R = json.loads((DATA / "r_models_reference.json").read_text())
REL = 1e-6

STRAT = pd.read_csv(DATA / "reference" / "apistrat.csv", index_col=0)
CLUS1 = pd.read_csv(DATA / "reference" / "apiclus1.csv", index_col=0)
CLUS1["api00_na"] = np.where(np.arange(1, len(CLUS1) + 1) % 7 == 0, np.nan, CLUS1["api00"])
B2B = pd.read_csv(DATA / "models_b2b.csv")
B2C = pd.read_csv(DATA / "models_b2c.csv")
FRAMES = {"strat": STRAT, "clus1": CLUS1, "b2b": B2B, "b2c": B2C}
DESIGNS = {
    "strat": Design.from_frame(STRAT, weights="pw", strata="stype", fpc="fpc"),
    "clus1": Design.from_frame(CLUS1, weights="pw", cluster="dnum", fpc="fpc"),
    "b2b": Design.from_frame(B2B, cluster="account_id"),
    "b2c": Design.from_frame(B2C, weights="weight", strata="wave",
                             calibrate=[["wave", "region"], ["wave", "age"]]),
}


def _flag(col: pd.Series, level: str) -> np.ndarray:
    return (col == level).to_numpy(float)


GLM_CASES = {   # key: (data, outcome, predictors, family, domain)
    "strat_gaussian": ("strat", lambda d: d.api00, ["ell", "meals", "enroll"], "gaussian", None),
    "strat_logit": ("strat", lambda d: _flag(d["sch.wide"], "Yes"), ["ell", "meals"],
                    "quasibinomial", None),
    "clus1_gaussian_na": ("clus1", lambda d: d.api00_na, ["ell", "meals", "mobility"],
                          "gaussian", None),
    "clus1_logit": ("clus1", lambda d: _flag(d["comp.imp"], "Yes"), ["api99", "enroll"],
                    "quasibinomial", None),
    "b2b_promoter": ("b2b", lambda d: d.promoter, ["item1", "item2", "item3", "item4"],
                     "quasibinomial", None),
    "b2b_detractor": ("b2b", lambda d: d.detractor, ["item1", "item2", "item3", "item4"],
                      "quasibinomial", None),
    "b2b_slip": ("b2b", lambda d: d.ltr, ["go_live_slip_days", "quarter_end_deal"], "gaussian",
                 None),
    "b2c_promoter": ("b2c", lambda d: d.promoter, ["item1", "item2"], "quasibinomial", None),
    "b2c_ltr": ("b2c", lambda d: d.ltr, ["item1", "item2"], "gaussian", None),
    "b2c_domain": ("b2c", lambda d: d.ltr, ["item1", "item2"], "gaussian",
                   lambda d: d.region != "west"),
}


@pytest.mark.parametrize("key", list(GLM_CASES))
def test_svyglm_equals_r(key: str) -> None:
    data, outcome, xs, family, domain = GLM_CASES[key]
    d = FRAMES[data]
    fit = regression.survey_glm(outcome(d), d[xs], DESIGNS[data], family=family,
                                domain=None if domain is None else domain(d))
    ref = R["glm"][key]
    tab = fit.table()
    assert list(tab.term) == ref["term"]
    for col in ("estimate", "se", "t", "p_value", "ci_low", "ci_high"):
        assert tab[col].to_numpy() == pytest.approx(ref[col], rel=REL), col
    assert fit.df == ref["df"]
    assert fit.vcov == pytest.approx(np.array(ref["vcov"]), rel=REL, abs=1e-12)


def test_vcov_of_a_plain_design_equals_the_design_variance_of_sums() -> None:
    """The one-pass PSU-total path and the path through Design.variance agree."""
    z = np.column_stack([CLUS1.api00, CLUS1.enroll, CLUS1.ell]) * CLUS1.pw.to_numpy()[:, None]
    fast, _ = regression.totals_vcov(DESIGNS["clus1"], z)
    d = DESIGNS["clus1"]
    for i in range(3):
        for j in range(3):
            both = d.variance(z[:, i] + z[:, j]).var[0]
            assert fast[i, j] == pytest.approx((both - fast[i, i] - fast[j, j]) / 2
                                               if i != j else both / 4, rel=1e-9)


def test_collinear_predictors_are_one_line_errors() -> None:
    d = B2B.assign(copy=B2B.item1 * 2)
    with pytest.raises(DataError, match="collinear"):
        regression.survey_glm(d.ltr, d[["item1", "copy"]], DESIGNS["b2b"])
    with pytest.raises(ArgumentError, match="family"):
        regression.survey_glm(d.ltr, d[["item1"]], DESIGNS["b2b"], family="poisson")  # type: ignore[arg-type]


QCASES = {"clus1_api00": ("clus1", "api00"), "strat_enroll": ("strat", "enroll"),
          "b2b_ltr": ("b2b", "ltr"), "b2b_effort": ("b2b", "effort"),
          "b2c_hours": ("b2c", "response_hours"), "b2c_ltr": ("b2c", "ltr")}


def _check_quantiles(res: list[quantiles.QuantileResult], ref: dict) -> None:
    got = quantiles.quantile_table(res)
    for col in ("estimate", "ci_low", "ci_high", "se"):
        want = np.array(ref[col], dtype=float)
        assert got[col].to_numpy() == pytest.approx(want, rel=REL, nan_ok=True), col
    assert (got.df == ref["df"]).all()


@pytest.mark.parametrize("key", [k for k in R["quantile"] if k.count("/") == 2
                                 and k.split("/")[0] in QCASES])
def test_svyquantile_equals_r(key: str) -> None:
    case, rule, interval = key.split("/")
    data, col = QCASES[case]
    ref = R["quantile"][key]
    res = quantiles.survey_quantile(FRAMES[data][col], DESIGNS[data], ref["p"], qrule=rule,
                                    interval=interval)  # type: ignore[arg-type]
    _check_quantiles(res, ref)


def test_svyquantile_in_a_domain_of_a_raked_design() -> None:
    ref = R["quantile"]["b2c_ltr_north/math/mean"]
    res = quantiles.survey_quantile(B2C.ltr, DESIGNS["b2c"], ref["p"],
                                    domain=B2C.region == "north")
    _check_quantiles(res, ref)


RATIO_CASES = {"strat": ("strat", "api00", "api99", None),
               "clus1": ("clus1", "api00_na", "api.stu", None),
               "clus1_domain": ("clus1", "api00", "api99", ("stype", "E")),
               "b2b": ("b2b", "effort", "item1", None), "b2c": ("b2c", "spend", "orders", None),
               "b2c_domain": ("b2c", "spend", "orders", ("region", "south"))}


@pytest.mark.parametrize("key", list(RATIO_CASES))
def test_svyratio_equals_r(key: str) -> None:
    data, num, den, dom = RATIO_CASES[key]
    d = FRAMES[data]
    res = ratios.survey_ratio(d[num], d[den], DESIGNS[data],
                              domain=None if dom is None else d[dom[0]] == dom[1])
    ref = R["ratio"][key]
    assert res.estimate == pytest.approx(ref["estimate"], rel=REL)
    assert res.se == pytest.approx(ref["se"], rel=REL)
    assert res.df == ref["df"]
    assert res.ci == pytest.approx((ref["ci_low"], ref["ci_high"]), rel=REL)


CHISQ_CASES = {"clus1": ("clus1", "sch.wide", "stype"), "strat": ("strat", "comp.imp", "stype"),
               "b2b": ("b2b", "nps_category", "tier"), "b2c": ("b2c", "nps_category", "region")}


@pytest.mark.parametrize("key", list(CHISQ_CASES))
def test_svychisq_equals_r(key: str) -> None:
    data, rows, cols = CHISQ_CASES[key]
    d, ref = FRAMES[data], R["chisq"][key]
    f = tests.survey_chisq(d[rows], d[cols], DESIGNS[data])
    assert (f.statistic, f.ndf, f.ddf, f.p_value) == pytest.approx(
        (ref["statistic"], ref["ndf"], ref["ddf"], ref["p_value"]), rel=REL)
    c = tests.survey_chisq(d[rows], d[cols], DESIGNS[data], statistic="Chisq")
    assert (c.statistic, c.ndf, c.p_value) == pytest.approx(
        (ref["chisq"], ref["chisq_df"], ref["chisq_p"]), rel=REL)


TTEST_CASES = {"clus1_two": ("clus1", "api00", "sch.wide"), "strat_one": ("strat", "api00", None),
               "b2b_two": ("b2b", "ltr", "quarter_end_deal"), "b2c_two": ("b2c", "ltr", "gender")}


@pytest.mark.parametrize("key", list(TTEST_CASES))
def test_svyttest_equals_r(key: str) -> None:
    data, col, group = TTEST_CASES[key]
    d, ref = FRAMES[data], R["ttest"][key]
    y = d[col] - 650 if group is None else d[col]
    res = tests.survey_ttest(y, DESIGNS[data], group=None if group is None else d[group])
    assert (res.estimate, res.statistic, res.p_value) == pytest.approx(
        (ref["estimate"], ref["statistic"], ref["p_value"]), rel=REL)
    assert res.df == ref["df"]
    assert res.ci == pytest.approx((ref["ci_low"], ref["ci_high"]), rel=REL)


def test_large_data_paths_of_the_logistic_fit_give_the_same_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Warm start from a subsample (equal to R) and the fit on distinct predictor patterns
    (equal to the row-by-row fit), as used on large data, lowered here to small data."""
    monkeypatch.setattr(regression, "WARM_START_ROWS", 50)
    items = ["item1", "item2", "item3", "item4"]
    fit = regression.survey_glm(B2B.promoter, B2B[items], DESIGNS["b2b"], family="quasibinomial")
    ref = R["glm"]["b2b_promoter"]
    assert fit.coef == pytest.approx(ref["estimate"], rel=REL)
    assert fit.se == pytest.approx(ref["se"], rel=REL)
    two = B2B[["item1", "quarter_end_deal"]]
    xc = np.column_stack([np.ones(len(B2B)), two.to_numpy(float)])
    assert regression._patterns(xc) is not None
    by_pattern = regression.survey_glm(B2B.promoter, two, DESIGNS["b2b"], family="quasibinomial")
    monkeypatch.setattr(regression, "_patterns", lambda xc: None)
    by_row = regression.survey_glm(B2B.promoter, two, DESIGNS["b2b"], family="quasibinomial")
    assert by_pattern.coef == pytest.approx(by_row.coef, rel=1e-9)
    assert by_pattern.vcov == pytest.approx(by_row.vcov, rel=1e-9)


@pytest.mark.parametrize("family", ["gaussian", "quasibinomial"])
def test_several_outcomes_in_one_call_equal_one_call_each(
        monkeypatch: pytest.MonkeyPatch, family: str) -> None:
    """survey_glms shares the model matrix (and the patterns) between outcomes missing in the
    same rows; each result equals its own survey_glm, R's reference included."""
    monkeypatch.setattr(regression, "WARM_START_ROWS", 50)   # the pattern path on small data
    x = B2B[["item1", "quarter_end_deal"]]
    y = B2B.promoter.to_numpy(float)
    gappy = np.where(np.arange(len(y)) % 7 == 0, np.nan, 1 - y)
    ys = [y, 1 - y, gappy, y]
    together = regression.survey_glms(ys, x, DESIGNS["b2b"], family=family)  # type: ignore[arg-type]
    for yv, fit in zip(ys, together, strict=True):
        alone = regression.survey_glm(yv, x, DESIGNS["b2b"], family=family)  # type: ignore[arg-type]
        assert np.array_equal(fit.coef, alone.coef) and np.array_equal(fit.vcov, alone.vcov)
        assert fit.n == alone.n and fit.df == alone.df
    items = ["item1", "item2", "item3", "item4"]
    pro = regression.survey_glms([B2B.promoter, B2B.promoter], B2B[items], DESIGNS["b2b"],
                                 family="quasibinomial")
    for fit in pro:
        assert fit.coef == pytest.approx(R["glm"]["b2b_promoter"]["estimate"], rel=REL)
        assert fit.se == pytest.approx(R["glm"]["b2b_promoter"]["se"], rel=REL)


@pytest.mark.parametrize("in_domain", [None, 0.7])
def test_gaussian_bread_from_the_normal_equations_equals_the_information_matrix(
        monkeypatch: pytest.MonkeyPatch, in_domain: float | None) -> None:
    rng = np.random.default_rng(8)
    n = 300
    df = pd.DataFrame({"cluster": rng.integers(0, 40, n), "w": rng.uniform(0.5, 3.0, n)})
    design = Design.from_frame(df, weights="w", cluster="cluster")
    x = rng.normal(size=(n, 2))
    y = x @ [0.5, -1.0] + rng.normal(size=n)
    domain = None if in_domain is None else rng.random(n) < in_domain
    fast = regression.survey_glm(y, x, design, domain=domain)
    solve = regression._normal_equations
    monkeypatch.setattr(regression, "_normal_equations", lambda *a: (solve(*a)[0], None))
    slow = regression.survey_glm(y, x, design, domain=domain)
    np.testing.assert_allclose(fast.coef, slow.coef, rtol=1e-13)
    np.testing.assert_allclose(fast.vcov, slow.vcov, rtol=1e-11)
