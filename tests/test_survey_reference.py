"""helpers.stats against R's survey package (4.1.1) on its api data: full designs, domains,
svyby group tables, svycontrast, t intervals with design df, deff, raking / post-stratification,
trimming, lonely PSUs and zero weights.

Every expected number is read from tests/data/r_survey_reference.json, written by
tests/reference/survey_reference.R (which also wrote the CSVs); R is not needed to run this.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers.errors import ArgumentError, DataError
from helpers.paths import PROJECT_ROOT
from helpers.stats import compare, estimators, weighting
from helpers.stats.design import Calibration, Design

DATA = PROJECT_ROOT / "tests" / "data"
R = json.loads((DATA / "r_survey_reference.json").read_text())
REL = 1e-9


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv", keep_default_na=False, na_values=["NA"])


STRAT, CLUS1, CLUS2, SRS = _read("apistrat"), _read("apiclus1"), _read("apiclus2"), _read("apisrs")
POP = _read("apipop_margins")
MARGINS = {v: {str(k): f / g["Freq"].sum() for k, f in zip(g["level"], g["Freq"], strict=True)}
           for v, g in POP.groupby("variable")}


def dstrat(**kw) -> Design:
    return Design.from_frame(STRAT, weights="pw", strata="stype", fpc="fpc", **kw)


def dclus1(**kw) -> Design:
    return Design.from_frame(CLUS1, weights="pw", cluster="dnum", fpc="fpc", **kw)


def check(res, ref: dict, *, ci: bool = True, rel: float = REL) -> None:
    """estimate, se, df, t interval, deff, n and PSUs equal R's."""
    assert res.estimate == pytest.approx(ref["estimate"], rel=rel)
    assert res.se == pytest.approx(ref["se"], rel=rel)
    assert res.df == ref["df"]
    if ci:
        assert res.ci == pytest.approx((ref["ci_low"], ref["ci_high"]), rel=rel)
    if ref.get("deff") is not None:
        assert res.deff == pytest.approx(ref["deff"], rel=rel)
    assert res.n_psu == ref["n_psu"]


# ----------------------------------------------------------------- full designs
@pytest.mark.parametrize(("key", "design", "data", "col", "fn"), [
    ("strat_mean_api00", dstrat, STRAT, "api00", estimators.survey_mean),
    ("strat_total_enroll", dstrat, STRAT, "enroll", estimators.survey_total),
    ("clus1_mean_api00", dclus1, CLUS1, "api00", estimators.survey_mean),
    ("clus1_total_enroll", dclus1, CLUS1, "enroll", estimators.survey_total),
    ("clus1_mean_nps", dclus1, CLUS1, "nps", estimators.survey_mean),
    ("clus2_mean_nps", lambda: Design.from_frame(CLUS2, weights="pw", cluster="dnum"), CLUS2,
     "nps", estimators.survey_mean),
    ("srs_mean_api00", lambda: Design.from_frame(SRS, weights="pw"), SRS, "api00",
     estimators.survey_mean),
])
def test_full_design_equals_r_with_t_interval_and_deff(key, design, data, col, fn):
    ref = R[key]
    d = design()
    res = fn(data[col], design=d)
    check(res, ref)
    assert res.n == ref["n"]
    assert fn(data[col], design=d, deff="srswor").deff == pytest.approx(ref["deff_srswor"], rel=REL)


def test_t_interval_is_wider_than_normal_with_15_clusters():
    # confint(svymean(~api00, dclus1), df = degf(dclus1)): t with 14 df, not 1.96
    ref = R["clus1_mean_api00"]
    res = estimators.survey_mean(CLUS1["api00"], design=dclus1())
    normal = estimators.survey_mean(CLUS1["api00"], design=dclus1(), df=np.inf)
    assert (res.ci[1] - res.ci[0]) / (normal.ci[1] - normal.ci[0]) == pytest.approx(
        (ref["ci_high"] - ref["ci_low"]) / (2 * 1.959964 * ref["se"]), rel=1e-6)
    assert res.ci[1] - res.ci[0] > 1.09 * (normal.ci[1] - normal.ci[0])


def test_design_of_arrays_equals_design_of_columns():
    a = estimators.survey_mean(STRAT["api00"], Design(len(STRAT), weights=STRAT["pw"],
                                                      strata=STRAT["stype"], fpc=STRAT["fpc"]))
    assert a == estimators.survey_mean(STRAT["api00"], design=dstrat())
    with pytest.raises(ArgumentError, match="design"):   # weights where the design goes
        estimators.survey_mean(STRAT["api00"], STRAT["pw"])
    with pytest.raises(ArgumentError, match="design"):   # a design of other rows
        estimators.survey_mean(CLUS1["api00"], design=dstrat())


# ----------------------------------------------------------------- domains
def test_domain_keeps_strata_with_one_school_left():
    # svymean(~api99, subset(dstrat, api00 > 850)): one school of stratum H is in the domain
    ref = R["strat_domain_api00_gt850"]
    dom = STRAT["api00"] > 850
    res = estimators.survey_mean(STRAT["api99"], design=dstrat(), domain=dom)
    check(res, ref)
    assert res.n == 13 and ref["n_by_stratum"]["H"] == 1
    # subsetting rows instead drops the design's other PSUs and gets another (wrong) SE
    sub = STRAT[dom]
    rows = estimators.survey_mean(sub["api99"], Design.from_frame(sub, weights="pw",
                                                                  strata="stype", fpc="fpc"))
    assert abs(rows.se - ref["se"]) > 0.05 * ref["se"]
    tot = estimators.survey_total(STRAT["enroll"], design=dstrat(), domain=dom)
    check(tot, R["strat_domain_total_enroll_gt850"])


def test_domain_in_cluster_design_mean_total_and_nps():
    high = (CLUS1["stype"] == "H").to_numpy()
    check(estimators.survey_mean(CLUS1["api00"], design=dclus1(), domain=high),
          R["clus1_domain_H_api00"])
    check(estimators.survey_total(CLUS1["enroll"], design=dclus1(), domain=high),
          R["clus1_domain_H_total_enroll"])
    ref = R["clus1_domain_H_nps"]
    r = estimators.nps(CLUS1["ltr"], design=dclus1(), domain=high, ci="wald")
    assert (r.nps, r.se, r.df, r.deff) == pytest.approx(
        (ref["estimate"], ref["se"], ref["df"], ref["deff"]), rel=REL)
    assert r.ci[1] == pytest.approx(ref["ci_high"], rel=REL)
    assert r.ci[0] == -100  # R's lower bound -112.7 clipped to the NPS scale


def test_missing_values_are_a_domain():
    # svymean(~api00_na, dclus1, na.rm = TRUE): rows with NA leave no PSU out
    ref = R["clus1_missing_api00"]
    res = estimators.survey_mean(CLUS1["api00_na"], design=dclus1())
    check(res, ref)
    assert res.n == int(CLUS1["api00_na"].notna().sum())
    assert estimators.survey_mean(CLUS1["api00_na"], design=dclus1(), deff="srswor").deff == \
        pytest.approx(ref["deff_srswor"], rel=REL)


# ----------------------------------------------------------------- svyby tables
def _check_table(t: pd.DataFrame, ref: dict, est: str = "estimate", ci: bool = True) -> None:
    assert t.iloc[:, 0].astype(str).tolist() == ref["group"]
    finite = t["n_psu"].to_numpy() >= 2
    assert t[est].to_numpy() == pytest.approx(np.array(ref["estimate"], float), rel=REL)
    assert t["se"].to_numpy()[finite] == pytest.approx(np.array(ref["se"], float)[finite],
                                                       rel=1e-8)
    assert np.isnan(t["se"].to_numpy()[~finite]).all()      # R: 0 (a single PSU), df 0
    assert t["df"].tolist() == ref["df"]
    assert t["n"].tolist() == ref["n"] and t["n_psu"].tolist() == ref["n_psu"]
    deff = np.array([np.nan if v is None else v for v in ref["deff"]], float)
    ok = finite & np.isfinite(deff)
    assert t["deff"].to_numpy()[ok] == pytest.approx(deff[ok], rel=1e-8)
    if ci:
        with_ci = finite & (t["df"].to_numpy() >= 1)
        assert t["ci_low"].to_numpy()[with_ci] == pytest.approx(
            np.array(ref["ci_low"], float)[with_ci], rel=1e-8)
        assert np.isnan(t["ci_low"].to_numpy()[~with_ci]).all()


@pytest.mark.parametrize(("key", "by"), [("by_clus1_nps_stype", "stype"),
                                          ("by_clus1_nps_cname", "cname")])
def test_nps_table_equals_svyby_in_cluster_design(key, by):
    t = estimators.survey_by(CLUS1, "nps", by, design=dclus1())
    _check_table(t, R[key])
    nt = estimators.nps_table(CLUS1, by, score="ltr", design=dclus1(), ci="wald")
    assert nt["nps"].to_numpy() == pytest.approx(t["estimate"].to_numpy(), rel=REL)
    assert nt["se"].to_numpy() == pytest.approx(t["se"].to_numpy(), rel=REL, nan_ok=True)
    assert (nt["n_clusters"] == nt["n_psu"]).all()


def test_group_tables_with_strata_totals_and_clus2():
    _check_table(estimators.survey_by(STRAT, "nps", "sch.wide", design=dstrat()),
                 R["by_strat_nps_schwide"])
    t = estimators.survey_by(STRAT, "enroll", "stype", design=dstrat(), total=True)
    _check_table(t, R["by_strat_total_enroll_stype"])
    srswor = [estimators.survey_total(STRAT["enroll"], design=dstrat(), deff="srswor",
                                      domain=STRAT["stype"] == s).deff for s in t["stype"]]
    assert srswor == pytest.approx(R["by_strat_total_enroll_stype"]["deff_srswor"], rel=1e-8)
    d2 = Design.from_frame(CLUS2, weights="pw", cluster="dnum")
    _check_table(estimators.survey_by(CLUS2, "api00", "stype", design=d2), R["by_clus2_api00_stype"])


def test_group_table_differs_from_separate_designs_by_the_cluster_factor():
    # issue 15: a group in C_g of C clusters got an SE too wide by sqrt(C_g (C-1) / ((C_g-1) C))
    # when estimated as its own design; R's svyby keeps the full design. Unweighted, no fpc:
    t = estimators.nps_table(CLUS1, "stype", design=Design.from_frame(CLUS1, cluster="dnum"),
                             ci="wald").set_index("stype")
    for s, row in t.iterrows():
        g = CLUS1[CLUS1["stype"] == s]
        own = estimators.nps(g["ltr"], Design.from_frame(g, cluster="dnum"), ci="wald")
        cg, c = row["n_psu"], CLUS1["dnum"].nunique()
        assert own.se / row["se"] == pytest.approx(np.sqrt(cg * (c - 1) / ((cg - 1) * c)),
                                                   rel=1e-9)


# ----------------------------------------------------------------- contrasts
@pytest.mark.parametrize(("key", "data", "design", "by"), [
    ("contrast_clus1_nps_E_M", CLUS1, dclus1, "stype"),
    ("contrast_strat_nps_compimp", STRAT, dstrat, "comp.imp"),
])
def test_contrast_equals_svycontrast_with_covariance_and_t(key, data, design, by):
    ref = R[key]
    t = estimators.nps_table(data, by, design=design(), covmat=True, ci="wald")
    a, b = (0, 2) if by == "stype" else (0, 1)
    d = compare.contrast(t, a, b)
    assert (d.estimate, d.se, d.df, d.p) == pytest.approx(
        (ref["estimate"], ref["se"], ref["df"], ref["p"]), rel=1e-8)
    assert d.ci == pytest.approx((ref["ci_low"], ref["ci_high"]), rel=1e-8)
    assert t.attrs["vcov"][a, b] == pytest.approx(ref["cov"], rel=1e-8)
    assert np.hypot(t["se"].iloc[a], t["se"].iloc[b]) == pytest.approx(ref["se_independent"],
                                                                      rel=1e-8)


def test_contrast_api00_schwide_shares_clusters():
    ref = R["contrast_clus1_api00_schwide"]
    t = estimators.survey_by(CLUS1, "api00", "sch.wide", design=dclus1(), covmat=True)
    d = compare.contrast(t, 0, 1)
    assert (d.estimate, d.se, d.p) == pytest.approx((ref["estimate"], ref["se"], ref["p"]),
                                                    rel=1e-8)
    assert ref["se_independent"] > 1.8 * d.se   # the shared districts are strongly correlated
    with pytest.raises(ArgumentError, match="covmat"):   # a table without its covariance
        compare.contrast(pd.DataFrame(t.to_dict("list")), 0, 1)


# ----------------------------------------------------------------- calibration
def _raked(data: pd.DataFrame, margins: dict, base: str = "pw") -> pd.DataFrame:
    return data.assign(w=weighting.rake(data, margins, base_weight=base, tol=1e-13,
                                        max_iter=2000).to_numpy())


def test_rake_srs_variance_uses_calibration_residuals():
    # rake(dsrs, list(~stype, ~sch.wide), ...): SE 8.97 (R), 9.37 ignoring the calibration
    ref = R["rake_srs_api00"]
    d = _raked(SRS, MARGINS)
    assert d["w"].to_numpy() == pytest.approx(np.array(ref["weights"]), rel=1e-10)
    cal = Design.from_frame(d, weights="w", calibrate=["stype", "sch.wide"])
    check(estimators.survey_mean(SRS["api00"], design=cal), ref)
    plain = estimators.survey_mean(SRS["api00"], design=Design.from_frame(d, weights="w"))
    check(plain, R["rake_srs_uncalibrated_same_weights"])


def test_rake_cluster_design_means_totals_domains_contrast():
    d = _raked(CLUS1, MARGINS)
    assert d["w"].to_numpy() == pytest.approx(np.array(R["rake_clus1_weights"]), rel=1e-6)
    cal = Design.from_frame(d, weights="w", cluster="dnum", fpc="fpc",
                            calibrate=["stype", "sch.wide"])
    check(estimators.survey_mean(CLUS1["api00"], design=cal), R["rake_clus1_api00"])
    # R rakes to population totals (6194); our total is the base weights' (6194.001)
    check(estimators.survey_total(CLUS1["enroll"], design=cal), R["rake_clus1_total_enroll"],
          rel=1e-6)
    t = estimators.nps_table(CLUS1, "comp.imp", design=cal, ci="wald", covmat=True)
    _check_table(t, R["rake_clus1_by_compimp"], est="nps")
    ref = R["rake_clus1_domain_contrast"]
    c = compare.contrast(t, 0, 1)
    assert (c.estimate, c.se, c.df, c.p) == pytest.approx(
        (ref["estimate"], ref["se"], ref["df"], ref["p"]), rel=1e-8)


def test_poststratify_is_the_one_margin_case():
    d = _raked(CLUS1, {"stype": MARGINS["stype"]})
    assert d["w"].to_numpy() == pytest.approx(np.array(R["post_clus1_weights"]), rel=1e-6)
    cal = Design.from_frame(d, weights="w", cluster="dnum", fpc="fpc",
                            calibrate=Calibration(["stype"], method="poststratify"))
    check(estimators.survey_mean(CLUS1["api00"], design=cal), R["post_clus1_api00"])
    check(estimators.survey_total(CLUS1["enroll"], design=cal), R["post_clus1_total_enroll"],
          rel=1e-6)
    # with unequal base weights R's postStratify (weighted level means) and a one-margin rake
    # (unweighted level means in svyrecvar) differ slightly; both reproduced
    s = _raked(STRAT, {"sch.wide": MARGINS["sch.wide"]})
    for method, key in (("poststratify", "post_strat_api00"), ("rake", "rake1_strat_api00")):
        cal = Design.from_frame(s, weights="w", strata="stype", fpc="fpc",
                                calibrate=Calibration(["sch.wide"], method=method))
        check(estimators.survey_mean(STRAT["api00"], design=cal), R[key])


def test_trim_weights_additive_equals_r_trimweights():
    ref = R["trim_rclus1"]
    w = np.array(R["rake_clus1_weights"])
    t = weighting.trim_weights(w, upper=ref["upper"] / w.mean(), lower=ref["lower"] / w.mean(),
                               redistribute="additive")
    assert t == pytest.approx(np.array(ref["weights"]), rel=1e-12)
    # the trimmed design keeps its raking margins in the variance (R keeps postStrata); R
    # linearises against the pre-trim raking weights, we against the trimmed ones: close
    cal = Design.from_frame(CLUS1.assign(w=t), weights="w", cluster="dnum", fpc="fpc",
                            calibrate=["stype", "sch.wide"])
    res = estimators.survey_mean(CLUS1["api00"], design=cal)
    assert res.estimate == pytest.approx(ref["mean_api00"]["estimate"], rel=1e-9)
    assert res.se == pytest.approx(ref["mean_api00"]["se"], rel=0.01)


# ----------------------------------------------------------------- lonely PSUs, deff, zeros
def _lonely() -> pd.DataFrame:
    d = STRAT.copy()
    d["stratum"] = d["stype"]
    d.loc[d.index[d["stype"] == "E"][0], "stratum"] = "X"
    return d


@pytest.mark.parametrize("option", ["certainty", "remove", "adjust", "average"])
def test_lonely_psu_options_equal_r(option):
    d = _lonely()
    design = Design.from_frame(d, weights="pw", strata="stratum", lonely_psu=option)
    full = estimators.survey_mean(d["api00"], design=design)
    check(full, R["lonely"][option]["full"])
    assert "1 single-PSU stratum handled as lonely_psu='" + option + "'" == full.note
    dom = estimators.survey_mean(d["api00"], design=design, domain=d["sch.wide"] == "Yes")
    check(dom, R["lonely"][option]["domain"])


def test_lonely_psu_fail_and_default():
    d = _lonely()
    assert "only one PSU" in R["lonely"]["fail"]["error"]
    with pytest.raises(DataError, match="only one PSU"):
        estimators.survey_mean(d["api00"], design=Design.from_frame(
            d, weights="pw", strata="stratum", lonely_psu="fail"))
    default = estimators.survey_mean(d["api00"], Design.from_frame(d, weights="pw",
                                                                   strata="stratum"))
    assert default.se == pytest.approx(R["lonely"]["adjust"]["full"]["se"], rel=REL)
    assert "adjust" in default.note
    # a domain that does not reach the lonely stratum is unaffected, even under "fail"
    away = (d["stratum"] != "X").to_numpy()
    ok = estimators.survey_mean(d["api00"], design=Design.from_frame(
        d, weights="pw", strata="stratum", lonely_psu="fail"), domain=away)
    assert ok.note == "" and np.isfinite(ok.se)


def test_deff_has_r_n_over_n_minus_1_and_equal_weights_give_one():
    ref = R["equal_weights_n10"]
    x = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
    equal = Design(10, weights=np.ones(10))
    r = estimators.survey_mean(x, equal)
    check(r, ref)
    assert r.deff == pytest.approx(1.0, rel=1e-12)
    assert not np.isfinite(estimators.survey_mean(x, equal, deff="srswor").deff)
    ltr = [10, 10, 9, 8, 7, 0, 3, 10, 6, 9]
    assert estimators.nps(ltr, equal).deff == pytest.approx(1.0, rel=1e-12)


def test_zero_weights_count_in_no_n_deff_or_df():
    ref = R["zero_weights_strat_api00"]
    d = STRAT.copy()
    d.loc[:9, "pw"] = 0.0
    r = estimators.survey_mean(d["api00"], design=Design.from_frame(d, weights="pw",
                                                                     strata="stype", fpc="fpc"))
    check(r, ref)
    assert r.n == 190 and r.n_eff == pytest.approx(190 / ref["deff"], rel=REL)
    t = estimators.nps_table(d.assign(g=np.where(d.index < 10, "zero", "rest")), "g",
                             design=Design.from_frame(d, weights="pw", strata="stype", fpc="fpc"))
    assert t["g"].tolist() == ["rest"]   # a group whose weights are all zero: dropped, as svyby
    assert weighting.effective_n(d["pw"]) == pytest.approx(
        weighting.effective_n(d["pw"][d["pw"] > 0]))
