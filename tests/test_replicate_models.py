"""helpers.stats on replicate-weight designs against R survey 4.1.1 (issue 23): svyglm
(gaussian, quasibinomial, a domain, missing values), svyratio, svyquantile, svyttest and
svychisq on a JK1 design (apiclus1) and a bootstrap design (apistrat, 30 replicates), and
explore's domain-minus-total contrast (R withReplicates).

The designs are built from R's own replicate analysis weights (``weights(d, "analysis")``:
full-sample weight times replicate factor, R's combined weights) with R's ``scale`` and
``rscales``; every expected number is read from tests/data/r_replicate_models_reference.json,
written with the weights by tests/reference/replicate_models_reference.R. R is not needed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers.analysis import explore
from helpers.paths import PROJECT_ROOT
from helpers.stats.arrays import t_value
from helpers.stats.quantiles import survey_quantile
from helpers.stats.ratios import survey_ratio
from helpers.stats.regression import survey_glm
from helpers.stats.replicates import ReplicateDesign
from helpers.stats.tests import survey_chisq, survey_ttest

DATA = PROJECT_ROOT / "tests" / "data"
R = json.loads((DATA / "r_replicate_models_reference.json").read_text())
REL = 1e-6
KINDS = {"jk1": "JK1", "boot": "bootstrap"}


def _frame(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"replicate_models_{name}.csv", keep_default_na=False,
                       na_values=["NA"])


FRAMES = {name: _frame(name) for name in KINDS}


def design(name: str) -> ReplicateDesign:
    ref = R[name]
    return ReplicateDesign.from_frame(FRAMES[name], weights="pw", replicate_weights="repw*",
                                      type=KINDS[name], scale=ref["scale"],
                                      rscales=ref["rscales"])


def _listed(value) -> list[float]:
    return list(np.atleast_1d(value))


@pytest.fixture(scope="module", params=list(KINDS))
def case(request) -> tuple[pd.DataFrame, ReplicateDesign, dict]:
    name = request.param
    return FRAMES[name], design(name), R[name]


def test_the_design_reads_r_degf(case):
    df, d, ref = case
    assert d.n_replicates == len(ref["rscales"])
    assert d.degf == ref["degf"]


@pytest.mark.parametrize(("key", "outcome", "domain"), [
    ("glm", "api00", None), ("glm_domain", "api00", "E"), ("glm_na", "api00_na", None)])
def test_linear_models_equal_r_svyglm(case, key, outcome, domain):
    df, d, ref = case
    fit = survey_glm(df[outcome], df[["ell", "meals"]], d,
                     domain=None if domain is None else df["stype"] == domain)
    assert fit.coef == pytest.approx(ref[key]["coef"], rel=REL)
    assert fit.se == pytest.approx(ref[key]["se"], rel=REL)
    assert fit.df == ref[key]["df"]


def test_logistic_model_equals_r_svyglm_quasibinomial(case):
    df, d, ref = case
    fit = survey_glm((df["sch.wide"] == "Yes").astype(float), df["ell"], d,
                     family="quasibinomial")
    assert fit.coef == pytest.approx(ref["logit"]["coef"], rel=REL)
    assert fit.se == pytest.approx(ref["logit"]["se"], rel=REL)
    assert fit.df == ref["logit"]["df"]


@pytest.mark.parametrize(("key", "numerator", "domain"), [
    ("ratio", "api00_na", None), ("ratio_domain", "api00", "E")])
def test_ratios_equal_r_svyratio(case, key, numerator, domain):
    df, d, ref = case
    r = survey_ratio(df[numerator], df["api99"], d,
                     domain=None if domain is None else df["stype"] == domain)
    assert r.estimate == pytest.approx(ref[key]["estimate"], rel=REL)
    assert r.se == pytest.approx(ref[key]["se"], rel=REL)
    assert r.df == ref[key]["df"]


@pytest.mark.parametrize(("key", "probs", "domain"), [
    ("quantile", (0.25, 0.5), None), ("quantile_domain", (0.5,), "E")])
def test_quantiles_equal_r_svyquantile(case, key, probs, domain):
    df, d, ref = case
    res = survey_quantile(df["api00_na"], d, probs,
                          domain=None if domain is None else df["stype"] == domain)
    exp = ref[key]
    assert [q.estimate for q in res] == pytest.approx(_listed(exp["estimate"]), rel=REL)
    assert [q.ci[0] for q in res] == pytest.approx(_listed(exp["ci_low"]), rel=REL)
    assert [q.ci[1] for q in res] == pytest.approx(_listed(exp["ci_high"]), rel=REL)
    assert [q.se for q in res] == pytest.approx(_listed(exp["se"]), rel=REL)


def _check_ttest(res, exp: dict) -> None:
    assert res.estimate == pytest.approx(exp["estimate"], rel=REL)
    assert res.statistic == pytest.approx(exp["statistic"], rel=REL)
    assert res.df == exp["df"]
    assert res.p_value == pytest.approx(exp["p_value"], rel=REL)
    assert res.ci == pytest.approx(tuple(exp["ci"]), rel=REL)


def test_group_ttest_equals_r_svyttest(case):
    df, d, ref = case
    _check_ttest(survey_ttest(df["api00"], d, group=df["sch.wide"]), ref["ttest_group"])


def test_one_sample_ttest_equals_r_svyttest(case):
    df, d, ref = case
    _check_ttest(survey_ttest(df["api00"] - 650, d), ref["ttest_one"])


@pytest.mark.parametrize(("key", "statistic"), [("chisq_f", "F"), ("chisq", "Chisq")])
def test_rao_scott_equals_r_svychisq(case, key, statistic):
    df, d, ref = case
    res = survey_chisq(df["sch.wide"], df["stype"], d, statistic=statistic)
    exp = ref[key]
    assert res.statistic == pytest.approx(exp["statistic"], rel=REL)
    assert res.ndf == pytest.approx(exp["ndf"], rel=REL)
    assert res.ddf == (np.inf if exp["ddf"] is None else pytest.approx(exp["ddf"], rel=REL))
    assert res.p_value == pytest.approx(exp["p_value"], rel=REL)


def test_domain_minus_total_equals_r_with_replicates(case):
    """explore.contrast(..., "all"): the domain's mean minus the whole sample's, recomputed
    with each replicate's weights (R ``withReplicates``), t interval on R's ``degf``."""
    df, d, ref = case
    exp = ref["against_total"]
    r = explore._against_total(d, df["api00"].to_numpy(float), (df["stype"] == "E").to_numpy())
    assert r.estimate == pytest.approx(exp["estimate"], rel=REL)
    assert r.se == pytest.approx(exp["se"], rel=REL)
    assert r.df == exp["df"]
    q = t_value(0.95, exp["df"])
    assert r.ci == pytest.approx((exp["estimate"] - q * exp["se"], exp["estimate"] + q * exp["se"]),
                                 rel=REL)
