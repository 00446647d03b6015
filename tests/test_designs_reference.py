"""helpers.stats against R survey 4.1.1 beyond the api one-stage designs (issue 23): svyciprop
intervals, the NPS t interval, two-stage designs with an fpc at each stage, nest, calibration
to population totals (rake, GREG, bounded, logit), trimming after calibration, lonely SSUs,
survey.adjust.domain.lonely, n = 1 domain totals and replicate-weight designs (given columns
and as.svrepdesign).

Every expected number is read from tests/data/r_designs_reference.json, written with the data
by tests/reference/designs_reference.R (a generated B2B programme with account clusters and a
second stage of sites, and R's api data); R is not needed to run this.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers.errors import ArgumentError, DataError
from helpers.paths import PROJECT_ROOT
from helpers.stats import estimators, weighting
from helpers.stats.calibration import Calibration, calibrate
from helpers.stats.design import Clusters, Design, Lonely
from helpers.stats.replicates import (
    ReplicateDesign,
    as_replicate_design,
    replicate_vcov,
    sylvester,
)

DATA = PROJECT_ROOT / "tests" / "data"
R = json.loads((DATA / "r_designs_reference.json").read_text())
REL = 1e-6


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv", keep_default_na=False, na_values=["NA"])


B2B, CLUS2, BRR, VEND = (_read("designs_b2b"), _read("designs_apiclus2"), _read("designs_brr"),
                         _read("designs_replicates"))
CLUS1 = _read("apiclus1")
SRS = _read("apisrs")
PLAIN = {"ci": (), "se": ()}


def check(res, ref: dict, *, ci: bool = True, rel: float = REL) -> None:
    assert res.estimate == pytest.approx(ref["estimate"], rel=rel)
    assert res.se == pytest.approx(ref["se"], rel=rel)
    if "df" in ref:
        assert res.df == ref["df"]
    if ci:
        assert res.ci == pytest.approx((ref["ci_low"], ref["ci_high"]), rel=rel)


def b2b1(**kw) -> Design:
    return Design.from_frame(B2B, weights="w", strata="region", fpc="fpc1",
                             cluster=Clusters("account", nest=True), **kw)


def b2b2(data: pd.DataFrame = B2B, **kw) -> Design:
    return Design.from_frame(data, weights="w", strata="region", fpc="fpc1",
                             cluster=Clusters("account", "site", "fpc2", nest=True), **kw)


def dclus1() -> Design:
    return Design.from_frame(CLUS1, weights="pw", cluster="dnum", fpc="fpc")


# ----------------------------------------------------------------- 1. intervals
@pytest.mark.parametrize(("key", "design", "flags", "domain"), [
    ("ciprop_clus1_schwide", dclus1, lambda: CLUS1["sch.wide"] == "Yes", None),
    ("ciprop_clus1_domain_H", dclus1, lambda: CLUS1["sch.wide"] == "Yes",
     lambda: CLUS1["stype"] == "H"),
    ("ciprop_b2b_promoter", b2b1, lambda: B2B["promoter"], None),
    ("ciprop_b2b_domain_smb", b2b1, lambda: B2B["promoter"], lambda: B2B["tier"] == "SMB"),
])
@pytest.mark.parametrize("method", ["logit", "likelihood", "beta", "mean", "xlogit", "asin"])
def test_share_intervals_equal_r_svyciprop(key, design, flags, domain, method):
    ref = R[key][method]
    dom = None if domain is None else domain().to_numpy()
    r = estimators.proportion(flags().astype(float).to_numpy(), design(), domain=dom, ci=method)
    assert r.ci_method == method and r.df == ref["df"]
    assert r.estimate / 100 == pytest.approx(ref["estimate"], rel=1e-9)   # R: glm's tolerance
    assert r.se / 100 == pytest.approx(ref["se"], rel=1e-9)
    # R's likelihood interval interpolates a spline through its profile; ours solves it
    rel = 1e-4 if method == "likelihood" else REL
    assert (r.ci_low / 100, r.ci_high / 100) == pytest.approx((ref["ci_low"], ref["ci_high"]),
                                                              rel=rel)


def test_nps_interval_is_r_t_interval_with_design_df_by_default():
    res = estimators.nps(B2B["ltr"], b2b1())
    check(res, R["nps_b2b_t"])
    assert res.ci_method == "t"
    smb = estimators.nps(B2B["ltr"], b2b1(), domain=(B2B["tier"] == "SMB").to_numpy())
    check(smb, R["nps_b2b_domain_smb_t"])
    aw = estimators.nps(B2B["ltr"], b2b1(), ci="adjusted_wald")
    assert aw.ci_method == "adjusted_wald_design" and aw.ci != res.ci
    table = estimators.nps_table(B2B.assign(all="x"), "all", design=b2b1())
    assert table["ci_low"].iloc[0] == pytest.approx(R["nps_b2b_t"]["ci_low"], rel=REL)
    assert (table["ci_method"] == "t").all()


# ----------------------------------------------------------------- 2. multistage and nest
def test_two_stage_fpc_equals_r_recursive_variance():
    d = Design.from_frame(CLUS2, weights="pw", fpc="fpc1", cluster=Clusters("dnum", "snum", "fpc2"))
    check(estimators.survey_mean(CLUS2["api00"], d), R["clus2_mean_api00"])
    tot = R["clus2_total_enroll"]   # R's df there is the whole design's (rows with NA kept)
    check(estimators.survey_total(CLUS2["enroll"], d), {"estimate": tot["estimate"],
                                                         "se": tot["se"]}, ci=False)
    for s in ("E", "H"):
        check(estimators.survey_mean(CLUS2["api00"], d, domain=(CLUS2["stype"] == s).to_numpy()),
              R[f"clus2_domain_{s}_api00"])
    one = Design.from_frame(CLUS2, weights="pw", fpc="fpc1", cluster="dnum")
    assert estimators.survey_mean(CLUS2["api00"], one).se == pytest.approx(
        R["clus2_one_stage_api00"]["se"], rel=REL)
    # the whole-design influence matrix gives the same variance (svymodels' hook)
    z = CLUS2["pw"].to_numpy() * (CLUS2["api00"] - R["clus2_mean_api00"]["estimate"]).to_numpy()
    v = d.total_vcov(z[:, None] / CLUS2["pw"].sum())
    assert np.sqrt(v[0, 0]) == pytest.approx(R["clus2_mean_api00"]["se"], rel=REL)


def test_b2b_two_stage_stratified_nested_equals_r():
    check(estimators.survey_mean(B2B["nps"], b2b2()), R["b2b2_mean_nps"])
    check(estimators.survey_total(B2B["seats"], b2b2()), R["b2b2_total_seats"])
    smb = (B2B["tier"] == "SMB").to_numpy()
    check(estimators.survey_mean(B2B["nps"], b2b2(), domain=smb), R["b2b2_domain_smb_nps"])
    check(estimators.survey_mean(B2B["nps"], b2b1()), R["b2b1_mean_nps"])


def test_psu_ids_not_nested_in_strata_are_an_error_as_in_r():
    assert "nest=TRUE" in R["nest_error"]
    with pytest.raises(DataError, match="not nested"):
        Design.from_frame(B2B, weights="w", strata="region", cluster="account")
    with pytest.raises(ArgumentError, match="every stage"):
        Design.from_frame(B2B, weights="w", strata="region", fpc="fpc1",
                          cluster=Clusters("account", "site", nest=True))


@pytest.mark.parametrize("option", ["adjust", "certainty", "remove", "average"])
def test_lonely_ssu_options_equal_r(option):
    first = (B2B["region"] == "north") & (B2B["account"] == "A01")
    lone = B2B[~(first & (B2B["site"] != "S1"))].reset_index(drop=True)
    assert len(lone) == R["lonely_ssu_rows"]
    res = estimators.survey_mean(lone["nps"], b2b2(lone, lonely_psu=option))
    ref = R["lonely_ssu"][option]
    if ref["se"] is None:
        assert np.isnan(res.se)
    else:
        check(res, ref)


@pytest.mark.parametrize("option", ["adjust", "average", "certainty"])
@pytest.mark.parametrize("flag", [False, True])
def test_adjust_domain_lonely_equals_r(option, flag):
    d = b2b1(lonely_psu=Lonely(option, adjust_domain=flag))
    res = estimators.survey_mean(B2B["nps"], d, domain=B2B["dom"].to_numpy(bool))
    ref = R["domain_lonely"][f"{option}_{str(flag).upper()}"]
    assert res.estimate == pytest.approx(ref["estimate"], rel=REL)
    assert res.se == pytest.approx(ref["se"], rel=REL)


def test_n1_domain_total_has_r_between_psu_variance():
    ref = R["n1_domain_total"]
    res = estimators.survey_total(CLUS1["enroll"], dclus1(),
                                  domain=(CLUS1["snum"] == ref["snum"]).to_numpy())
    assert res.n == 1
    assert (res.estimate, res.se) == pytest.approx((ref["estimate"], ref["se"]), rel=REL)


# ----------------------------------------------------------------- 2. calibration to totals
POP_TYPES = {"E": 4421, "H": 755, "M": 1018}
POP_SCHWIDE = {"No": 1072, "Yes": 5122}


def test_rake_to_population_totals_equals_r():
    ref = R["rake_totals_srs"]
    w = weighting.rake(SRS, {"stype": POP_TYPES, "sch.wide": POP_SCHWIDE}, tol=1e-12,
                       max_iter=500)
    assert w.to_numpy() == pytest.approx(np.array(ref["weights"]), rel=1e-9)
    d = Design.from_frame(SRS.assign(w=w), weights="w", calibrate=["stype", "sch.wide"])
    check(estimators.survey_total(SRS["enroll"], d), ref["total_enroll"])
    check(estimators.survey_mean(SRS["api00"], d), ref["mean_api00"])
    shares = {v: {k: x / 6194 for k, x in m.items()} for v, m in
              (("stype", POP_TYPES), ("sch.wide", POP_SCHWIDE))}
    by_share = weighting.rake(SRS, shares, tol=1e-12, max_iter=500)
    assert by_share.sum() == pytest.approx(len(SRS))   # shares keep the base weights' total


@pytest.mark.parametrize("key", ["linear", "linearbounded", "raking", "logitbounded"])
def test_calibrate_linear_bounded_raking_logit_equal_r(key):
    ref = R["calibrate_clus1"][key]
    pop = {"stype": POP_TYPES, "sch.wide": POP_SCHWIDE, "api99": 3914069}
    calfun = key.removesuffix("bounded")
    bounds = tuple(ref["bounds"]) if key.endswith("bounded") else (-np.inf, np.inf)
    c = calibrate(CLUS1, pop, base_weight="pw", calfun=calfun, bounds=bounds, max_iter=200)
    assert c.weights == pytest.approx(np.array(ref["weights"]), rel=1e-9)
    d = Design.from_frame(CLUS1.assign(w=c.weights), weights="w", cluster="dnum", fpc="fpc",
                          calibrate=c.calibration)
    check(estimators.survey_mean(CLUS1["api00"], d), ref["mean_api00"])
    check(estimators.survey_total(CLUS1["enroll"], d), ref["total_enroll"])
    check(estimators.survey_mean(CLUS1["api00"], d, domain=(CLUS1["stype"] == "E").to_numpy()),
          ref["domain_E"])


def test_trimming_after_calibration_keeps_r_residual_weights():
    ref = R["calibrate_trim"]
    pop = {"stype": POP_TYPES, "sch.wide": POP_SCHWIDE, "api99": 3914069}
    c = calibrate(CLUS1, pop, base_weight="pw")
    t = weighting.trim_weights(c.weights, upper=60 / c.weights.mean(),
                               lower=20 / c.weights.mean(), redistribute="additive")
    assert t == pytest.approx(np.array(ref["weights"]), rel=1e-9)
    d = Design.from_frame(CLUS1.assign(w=t), weights="w", cluster="dnum", fpc="fpc",
                          calibrate=c.calibration)
    check(estimators.survey_mean(CLUS1["api00"], d), ref["mean_api00"])


def test_trimming_after_raking_uses_the_raking_time_weights():
    old = json.loads((DATA / "r_survey_reference.json").read_text())
    ref, w = old["trim_rclus1"], np.array(old["rake_clus1_weights"])
    t = weighting.trim_weights(w, upper=ref["upper"] / w.mean(), lower=ref["lower"] / w.mean(),
                               redistribute="additive")
    d = Design.from_frame(CLUS1.assign(w=t), weights="w", cluster="dnum", fpc="fpc",
                          calibrate=Calibration(["stype", "sch.wide"], weights=w))
    res = estimators.survey_mean(CLUS1["api00"], d)
    assert (res.estimate, res.se) == pytest.approx(
        (ref["mean_api00"]["estimate"], ref["mean_api00"]["se"]), rel=1e-9)


# ----------------------------------------------------------------- 5. replicate weights
def _rep_checks(d, ref: dict, data: pd.DataFrame) -> None:
    check(estimators.survey_mean(data["api00"], d), ref["mean_api00"])
    check(estimators.survey_total(data["api99"], d), ref["total_api99"])
    check(estimators.survey_mean(data["api00"], d, domain=(data["stype"] == "E").to_numpy()),
          ref["domain_E"])
    by = estimators.survey_by(data, "api00", "stype", design=d)
    assert by["estimate"].to_numpy() == pytest.approx(ref["by_stype"]["estimate"], rel=REL)
    assert by["se"].to_numpy() == pytest.approx(ref["by_stype"]["se"], rel=REL)
    share = estimators.proportion((data["sch.wide"] == "Yes").astype(float).to_numpy(), d)
    lg = ref["ciprop_logit"]
    assert share.estimate / 100 == pytest.approx(lg["estimate"], rel=REL)
    assert (share.ci_low / 100, share.ci_high / 100) == pytest.approx(
        (lg["ci_low"], lg["ci_high"]), rel=REL)
    assert d.degf == ref["degf"]


@pytest.mark.parametrize(("kind", "options"), [
    ("JK1", {"type": "JK1", "scale": 14 / 15}), ("JK1_mse", {"type": "JK1", "mse": True}),
    ("JKn", {"type": "JKn", "rscales": [14 / 15] * 15}),
    ("bootstrap", {"type": "bootstrap"}),
    ("other", {"type": "other", "scale": 0.03, "rscales": [1, 0.5] * 20})])
def test_given_replicate_columns_equal_r_svrepdesign(kind, options):
    cols = "boot*" if kind in ("bootstrap", "other") else "repw*"
    d = ReplicateDesign.from_frame(VEND, weights="pw", replicate_weights=cols, **options)
    _rep_checks(d, R["rep_given"][kind], VEND)


def test_as_svrepdesign_jk1_jkn_brr_equal_r():
    _rep_checks(as_replicate_design(dclus1(), "JK1"), R["rep_created"]["JK1"], CLUS1)
    strat = _read("apistrat")
    jkn = as_replicate_design(Design.from_frame(strat, weights="pw", strata="stype", fpc="fpc"))
    assert sorted(jkn.rscales) == pytest.approx(sorted(R["rep_created"]["JKn_rscales"]))
    _rep_checks(jkn, R["rep_created"]["JKn"], strat)
    brr = as_replicate_design(Design.from_frame(BRR, weights="pw", strata="stratum",
                                                cluster="dnum"), "BRR")
    rows = brr.base[:, None] * brr.factors[brr.unit]
    assert rows == pytest.approx(np.array(R["rep_created"]["BRR_repweights"]) *
                                 BRR["pw"].to_numpy()[:, None])
    _rep_checks(brr, R["rep_created"]["BRR"], BRR)
    assert (sylvester(8) @ (2 * sylvester(8) - 1).T).shape == (8, 8)


def test_replicate_nps_and_the_generic_hook():
    d = b2b1()
    check(estimators.nps(B2B["ltr"], as_replicate_design(d, "JKn")), R["rep_b2b_created_nps"])
    rep = as_replicate_design(d, "JKn")
    y = B2B["nps"].to_numpy()
    v = replicate_vcov(rep, lambda w: np.array([w @ y / w.sum()]))
    assert np.sqrt(v[0, 0]) == pytest.approx(R["rep_b2b_nps"]["se"], rel=REL)
    many = replicate_vcov(rep, estimate_many=lambda W: (y @ W / W.sum(axis=0))[:, None])
    assert many == pytest.approx(v, rel=1e-12)
