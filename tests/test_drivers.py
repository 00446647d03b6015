"""Tests for helpers.drivers against published values (R relaimpo on swiss) and planted truth."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from helpers.analysis import drivers, importance, lmg, modelling, priority
from helpers.analysis.modelling import Bootstrap
from helpers.errors import ArgumentError, DataError, ThinData
from helpers.measures import Measure
from helpers.paths import PROJECT_ROOT

SWISS = PROJECT_ROOT / "tests" / "data" / "reference" / "swiss.csv"  # R datasets::swiss
SWISS_X = ["Agriculture", "Examination", "Education", "Catholic", "Infant.Mortality"]
# Grömping (2006) / R: calc.relimp(lm(Fertility ~ ., swiss), type = "lmg")
RELAIMPO_LMG = {"Agriculture": 0.057091, "Examination": 0.171173, "Education": 0.260135,
                "Catholic": 0.105570, "Infant.Mortality": 0.112766}
SWISS_R2 = 0.706735
LTR = Measure.define("ltr", scale=(0, 10), rule="nps")
PAIRWISE = importance.ImportanceOptions(missing="pairwise")


@pytest.fixture(scope="module")
def swiss() -> pd.DataFrame:
    return pd.read_csv(SWISS)


# --------------------------------------------------------------------- published values: relaimpo
def test_lmg_reproduces_relaimpo_on_swiss(swiss: pd.DataFrame) -> None:
    out = importance.shapley_importance(swiss, "Fertility", SWISS_X)
    for name, value in RELAIMPO_LMG.items():
        assert out.loc[name, "importance"] == pytest.approx(value, abs=5e-7)
    assert out.attrs["r2"] == pytest.approx(SWISS_R2, abs=5e-7)
    assert out["importance"].sum() == pytest.approx(SWISS_R2, abs=5e-7)
    assert out["share"].sum() == pytest.approx(1.0)
    assert list(out.index[:2]) == ["Education", "Examination"]
    assert list(out["rank"]) == [1, 2, 3, 4, 5]
    assert out.attrs["method"] == importance.LMG_LABEL
    assert "complete case: 47 of 47" in out.attrs["missing"]


def test_integer_weights_equal_duplicated_rows(swiss: pd.DataFrame) -> None:
    w = np.resize([1, 2, 3], len(swiss))
    weighted = importance.shapley_importance(swiss.assign(w=w), "Fertility", SWISS_X, weights="w")
    dup = swiss.loc[swiss.index.repeat(w)]
    plain = importance.shapley_importance(dup, "Fertility", SWISS_X)
    pd.testing.assert_series_equal(weighted["importance"], plain["importance"], rtol=1e-10)


def test_pairwise_equals_complete_without_missing_and_states_rule(swiss: pd.DataFrame) -> None:
    a = importance.shapley_importance(swiss, "Fertility", SWISS_X, options=PAIRWISE)
    assert a.loc["Education", "importance"] == pytest.approx(RELAIMPO_LMG["Education"], abs=5e-7)
    holes = swiss.copy()
    holes.loc[[0, 5, 9], "Education"] = np.nan
    cc = importance.shapley_importance(holes, "Fertility", SWISS_X)
    pw = importance.shapley_importance(holes, "Fertility", SWISS_X, options=PAIRWISE)
    assert cc.attrs["n"] == 44 and "3 with a missing item dropped" in cc.attrs["missing"]
    assert pw.attrs["missing"].startswith("pairwise") and "44 to 47 rows per pair" in \
        pw.attrs["missing"]
    assert pw["importance"].sum() == pytest.approx(pw.attrs["r2"])


# --------------------------------------------------------------------- planted truth: orthogonal
def _orthogonal(betas: list[float], n_rep: int = 8, seed: int = 0) -> pd.DataFrame:
    """Full factorial +-1 design (orthogonal columns) and an error orthogonal to it, so the true
    share of R² of driver j is exactly beta_j^2 / var(y)."""
    p = len(betas)
    grid = np.array(np.meshgrid(*[[-1.0, 1.0]] * p)).reshape(p, -1).T
    x = np.tile(grid, (n_rep, 1))
    e = np.random.default_rng(seed).normal(size=len(x))
    xc = np.column_stack([np.ones(len(x)), x])
    e -= xc @ np.linalg.lstsq(xc, e, rcond=None)[0]
    y = x @ np.array(betas) + e
    return pd.DataFrame(x, columns=[f"x{j}" for j in range(p)]).assign(y=y)


def test_lmg_and_relative_weights_recover_orthogonal_truth() -> None:
    betas = [1.5, 1.0, 0.5, 0.2]
    df = _orthogonal(betas)
    truth = np.array(betas) ** 2 / df["y"].var(ddof=0)
    cols = [f"x{j}" for j in range(4)]
    lmg = importance.shapley_importance(df, "y", cols).loc[cols, "importance"].to_numpy()
    rw = importance.shapley_importance(df, "y", cols,
                                       options=importance.ImportanceOptions(method="relweights"))
    np.testing.assert_allclose(lmg, truth, atol=1e-10)
    np.testing.assert_allclose(rw.loc[cols, "importance"].to_numpy(), truth, atol=1e-10)
    assert rw.attrs["method"] == importance.RW_LABEL and "approximation" in rw["method"].iloc[0]


def test_more_than_20_drivers_switch_to_labelled_relative_weights() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 21))
    df = pd.DataFrame(x, columns=[f"d{j}" for j in range(21)])
    df["y"] = x[:, 0] * 2 + x[:, 1] + rng.normal(size=300)
    out = importance.shapley_importance(df, "y", [f"d{j}" for j in range(21)])
    assert out.attrs["method"] == importance.RW_LABEL
    assert list(out.index[:2]) == ["d0", "d1"]
    assert out["importance"].sum() == pytest.approx(out.attrs["r2"])
    with pytest.raises(ArgumentError, match="at most 20"):   # a bad call, not bad data
        importance.shapley_importance(df, "y", [f"d{j}" for j in range(21)],
                                      options=importance.ImportanceOptions(method="lmg"))


@pytest.mark.parametrize("p", [1, 3, 8, 16])
def test_subset_r2_tree_equals_direct_solves_and_ols(p: int) -> None:
    rng = np.random.default_rng(p)
    x = rng.normal(size=(120, p + 1))
    x[:, 1:] += 0.4 * x[:, :1]
    corr = np.corrcoef(x.T)
    tree, direct = lmg.all_subset_r2(corr), lmg.all_subset_r2_solve(corr)
    np.testing.assert_allclose(tree, direct, atol=1e-12)
    full = np.column_stack([np.ones(120), x[:, 1:]])
    resid = x[:, 0] - full @ np.linalg.lstsq(full, x[:, 0], rcond=None)[0]
    assert tree[-1] == pytest.approx(1 - resid.var() / x[:, 0].var(), abs=1e-10)


@pytest.mark.parametrize("p", [2, 5, 9])
def test_lmg_of_a_stack_equals_one_matrix_at_a_time(p: int) -> None:
    rng = np.random.default_rng(p)
    corrs = []
    for _ in range(7):
        x = rng.normal(size=(60, p + 1))
        x[:, 1:] += rng.uniform(0, 0.8) * x[:, :1]
        corrs.append(np.corrcoef(x.T))
    stack = np.array(corrs)
    one_by_one = np.array([lmg.lmg_from_corr(c) for c in corrs])
    np.testing.assert_allclose(lmg.lmg_batch(stack), one_by_one, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lmg.subset_r2_batch(stack, chunk=5),
                               [lmg.all_subset_r2_solve(c) for c in corrs], atol=1e-13)


# --------------------------------------------------------------------- bootstrap
def test_bootstrap_intervals_cover_estimate_and_rank_stability(swiss: pd.DataFrame) -> None:
    out = importance.shapley_importance(swiss, "Fertility", SWISS_X, bootstrap=Bootstrap(200, 3))
    assert ((out["ci_low"] <= out["importance"]) & (out["importance"] <= out["ci_high"])).all()
    assert out["top3_share"].between(0, 1).all()
    assert out["top3_share"].sum() == pytest.approx(3.0)  # three drivers in the top 3 each time
    assert out.loc["Education", "top3_share"] > out.loc["Agriculture", "top3_share"]


def test_bootstrap_from_cluster_totals_equals_refitting_each_resample() -> None:
    """The fast path (per-cluster totals, every resample split at once) against the definition:
    each resample's weighted correlation matrix recomputed from its rows, then split."""
    from helpers.analysis.modelling import resample_counts

    rng = np.random.default_rng(11)
    n, n_cl = 400, 37
    codes = rng.integers(0, n_cl, n)
    x = rng.integers(1, 6, size=(n, 4)).astype(float) + rng.normal(size=(n_cl, 1))[codes]
    z = np.column_stack([x @ [0.6, 0.3, 0.1, 0.0] + rng.normal(size=n), x])
    w = rng.uniform(0.5, 2.0, n)
    fast = importance._bootstrap(z, w, codes, n_cl, Bootstrap(50, 9), True, "complete")
    k = resample_counts(np.random.default_rng(9), n_cl, 50)
    ref = [lmg.lmg_from_corr(np.cov(z.T, aweights=w * ki[codes]) /
                             np.sqrt(np.outer(*[np.diag(np.cov(z.T, aweights=w * ki[codes]))] * 2)))
           for ki in k]
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)
    offs = np.arange(50)[:, None] * n_cl   # one bincount of all resamples: the same counts
    draws = np.random.default_rng(9).integers(0, n_cl, size=(50, n_cl))
    np.testing.assert_array_equal(k, np.bincount((draws + offs).ravel(),
                                                 minlength=50 * n_cl).reshape(50, n_cl))


def test_cluster_totals_add_each_clusters_rows_in_row_order() -> None:
    """Per-cluster sums of w, w z and w z z' (centred z) equal a plain loop over the rows in
    their order, bit for bit (the bootstrap's intervals are written to the run's tables)."""
    rng = np.random.default_rng(5)
    n, n_cl = 300, 23
    codes = rng.integers(0, n_cl, n)
    z = rng.normal(size=(n, 4)) * [1.0, 1e3, 1e-3, 7.0]   # a C-ordered matrix, as numeric_matrix gives
    w = rng.uniform(0.5, 2.0, n)
    wc, s1, s2, iu = importance._cluster_totals(z, w, codes, n_cl)
    zc = z - np.average(z, axis=0, weights=w)
    ref_w, ref1, ref2 = np.zeros(n_cl), np.zeros((n_cl, 4)), np.zeros((n_cl, len(iu[0])))
    for r in range(n):
        c = codes[r]
        ref_w[c] += w[r]
        for i in range(4):
            ref1[c, i] += zc[r, i] * w[r]
        for m, (i, j) in enumerate(zip(*iu, strict=True)):
            ref2[c, m] += zc[r, i] * w[r] * zc[r, j]
    for got, ref in ((wc, ref_w), (s1, ref1), (s2, ref2)):
        np.testing.assert_array_equal(got, ref)


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    """Planted: every row copied 5 times within its cluster. Resampling rows pretends to have 5x
    the information (intervals ~ sqrt(5) too narrow); resampling clusters must not."""
    rng = np.random.default_rng(4)
    n = 120
    x = rng.normal(size=(n, 3))
    base = pd.DataFrame(x, columns=["a", "b", "c"]).assign(
        y=x @ [1.0, 0.6, 0.3] + rng.normal(size=n), acc=np.arange(n))
    dup = base.loc[base.index.repeat(5)].reset_index(drop=True)
    boot = Bootstrap(200, seed=1)
    rows = importance.shapley_importance(dup, "y", ["a", "b", "c"], bootstrap=boot)
    clus = importance.shapley_importance(dup, "y", ["a", "b", "c"], bootstrap=boot, cluster="acc")
    orig = importance.shapley_importance(base, "y", ["a", "b", "c"], bootstrap=boot)
    width = {k: (t["ci_high"] - t["ci_low"]).sum() for k, t in
             {"rows": rows, "clus": clus, "orig": orig}.items()}
    assert width["rows"] < 0.65 * width["clus"]
    assert 0.75 < width["clus"] / width["orig"] < 1.33
    assert clus.attrs["n_clusters"] == n and clus.attrs["cluster"] == "acc"


# --------------------------------------------------------------------- bad data
def test_bad_data_raises_one_line_data_error(swiss: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="not found"):
        importance.shapley_importance(swiss, "Fertility", ["Nope"])
    bad = swiss.astype({"Catholic": object})
    bad.loc[3, "Catholic"] = "lots"
    with pytest.raises(DataError, match="non-numeric value 'lots'") as err:
        importance.shapley_importance(bad, "Fertility", SWISS_X)
    assert "\n" not in str(err.value) and "row 3" in str(err.value)
    with pytest.raises(ThinData, match="no variation"):
        importance.shapley_importance(swiss.assign(k=1.0), "Fertility", [*SWISS_X, "k"])
    with pytest.raises(ThinData, match="collinear"):
        importance.shapley_importance(swiss.assign(e2=swiss["Education"] * 2), "Fertility",
                                   [*SWISS_X, "e2"])
    with pytest.raises(DataError, match="missing cluster id"):
        importance.shapley_importance(swiss.assign(c=np.where(swiss.index == 2, None, "a")),
                                   "Fertility", SWISS_X, bootstrap=Bootstrap(5), cluster="c")


# --------------------------------------------------------------------- planted ordered logit
CUTS = (-1.0, 1.5)  # latent eta above CUTS[0]: not a detractor; above CUTS[1]: promoter
BETAS = {"good": 0.9, "fair": 0.4, "noise": 0.0}


def _ordered_logit(n: int, seed: int, clusters: int | None = None) -> pd.DataFrame:
    """Items 1-5; P(promoter) = expit(eta - c2), P(detractor) = expit(c1 - eta): both logistic,
    so the promoter odds ratio per item point is exp(beta) and the detractor one exp(-beta)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, size=(n, len(BETAS))).astype(float)
    eta = (x - 3) @ np.array(list(BETAS.values()))
    u = rng.random(n)
    p_pro, p_det = expit(eta - CUTS[1]), expit(CUTS[0] - eta)
    ltr = np.where(u < p_det, 3.0, np.where(u > 1 - p_pro, 10.0, 8.0))
    df = pd.DataFrame(x, columns=list(BETAS)).assign(ltr=ltr)
    if clusters:
        df["acc"] = rng.integers(0, clusters, n).astype(str)
    return df


def test_promoter_and_detractor_odds_ratios_cover_planted_truth() -> None:
    df = _ordered_logit(2500, seed=11, clusters=300)
    out = drivers.outcome_models(df, list(BETAS), cluster="acc")
    assert out.attrs["cov_type"] == "design"
    for _, r in out.iterrows():
        b = BETAS[r.driver] * (1 if r.target == "promoter" else -1)
        assert r.ci_low <= np.exp(b) <= r.ci_high, (r.target, r.driver)
    good = out.set_index(["target", "driver"]).loc[("promoter", "good")]
    assert good.ci_low > 1.8  # exp(0.9) = 2.46: detected
    table = drivers.odds_ratio_table(out)
    assert {"promoter OR [CI]", "detractor OR [CI]"} <= set(table.columns)


@pytest.mark.parametrize("source", ["design", "cluster"])
def test_promoter_and_detractor_models_equal_r_svyglm(source: str) -> None:
    """The market's design (account clusters) or the cluster column: R's svyglm quasibinomial
    (tests/data/r_models_reference.json, on tests/data/models_b2b.csv; 1e-6 relative)."""
    import json

    from helpers.paths import PROJECT_ROOT
    from helpers.stats.design import Design

    data = PROJECT_ROOT / "tests" / "data"
    ref = json.loads((data / "r_models_reference.json").read_text())["glm"]
    b2b = pd.read_csv(data / "models_b2b.csv")
    items = ["item1", "item2", "item3", "item4"]
    kw = ({"design": Design.from_frame(b2b, cluster="account_id")} if source == "design"
          else {"cluster": "account_id"})
    out = drivers.outcome_models(b2b, items, **kw).set_index(["target", "driver"])
    for target in drivers.TARGETS:
        r, got = ref[f"b2b_{target}"], out.loc[target].loc[items]
        assert got["log_or"].to_numpy() == pytest.approx(r["estimate"][1:], rel=1e-6)
        assert got["se"].to_numpy() == pytest.approx(r["se"][1:], rel=1e-6)
        assert got["p_value"].to_numpy() == pytest.approx(r["p_value"][1:], rel=1e-6)
        assert np.log(got["ci_low"].to_numpy()) == pytest.approx(r["ci_low"][1:], rel=1e-6)
        assert (got["df"] == r["df"]).all()
        assert (got["n_clusters"] == 119).all()   # accounts with a rated contact


def test_nonlinear_check_flags_a_non_monotonic_driver() -> None:
    """Planted: 'mid' makes promoters only at exactly 3 (an inverted U): invisible to a linear
    logit, found by gradient boosting."""
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.integers(1, 6, size=(n, 4)).astype(float)
    eta = 0.5 * (x[:, 0] - 3) + 0.15 * (x[:, 1] - 3) + 2.0 * (x[:, 2] == 3) - 0.6
    ltr = np.where(rng.random(n) < expit(eta), 9.0, 5.0)
    df = pd.DataFrame(x, columns=["lin", "weak", "mid", "noise"]).assign(ltr=ltr)
    res = drivers.nonlinear_check(df, ["lin", "weak", "mid", "noise"],
                                  cv=drivers.CrossValidation(folds=3, n_repeats=2))
    imp = res.importance.set_index("driver")
    assert imp.loc["mid", "rank_boosting"] <= 2
    assert imp.loc["mid", "rank_logistic"] >= 3
    more = res.disagreements[res.disagreements["verdict"].str.startswith("boosting sees more")]
    assert set(more["driver"]) == {"mid"}
    assert res.importance.set_index("driver").loc["mid", "verdict"].startswith("boosting sees more")
    auc = res.auc.set_index("model")["auc"]
    assert auc["gradient_boosting"] > auc["logistic"]
    summary = drivers.nonlinear_summary({("X", "promoter"): res})
    gain = auc["gradient_boosting"] - auc["logistic"]
    assert summary["AUC gain of boosting"].iloc[0] == f"{gain:+.3f}"
    assert "mid" in summary["disagreements"].iloc[0]
    named = drivers.nonlinear_summary({("X", "promoter"): res}, labels={"mid": "Onboarding speed"})
    assert "Onboarding speed" in named["disagreements"].iloc[0]
    assert not re.search(r"\bmid\b", named["disagreements"].iloc[0])


def test_what_if_covers_planted_nps_change() -> None:
    df = _ordered_logit(3000, seed=2, clusters=300)
    out = priority.what_if(df, list(BETAS), cluster="acc", bootstrap=Bootstrap(60, seed=1))
    x = df[list(BETAS)].to_numpy()
    eta = (x - 3) @ np.array(list(BETAS.values()))
    for j, name in enumerate(BETAS):
        q25, med = np.quantile(x[:, j], 0.25, method="inverted_cdf"), np.median(x[:, j])
        xn = x.copy()
        xn[:, j] = np.where(x[:, j] <= q25, np.maximum(x[:, j], med), x[:, j])
        eta_n = (xn - 3) @ np.array(list(BETAS.values()))
        true = 100 * np.mean((expit(eta_n - CUTS[1]) - expit(CUTS[0] - eta_n))
                             - (expit(eta - CUTS[1]) - expit(CUTS[0] - eta)))
        r = out.loc[name]
        assert r.ci_low <= true <= r.ci_high, (name, true, r.ci_low, r.ci_high)
    assert out.loc["good", "ci_low"] > 0
    assert out.index[0] == "good"


# --------------------------------------------------------------------- segments and matrix
def test_segment_importance_skips_small_segments_with_reason() -> None:
    df = _ordered_logit(700, seed=3)
    df["seg"] = np.where(np.arange(700) < 650, "big", "small")
    res = importance.segment_importance(df, "ltr", list(BETAS), importance.Segments("seg", min_n=100))
    assert set(res.table["segment"]) == {"big"}
    assert res.skipped.set_index("segment").loc["small", "reason"] == "n=50 < min_n=100"
    assert res.table.query("segment == 'big'")["driver"].iloc[0] == "good"
    piv = importance.segment_pivot(res)
    assert list(piv.columns) == ["big (n=650)", "small: skipped"]
    assert piv.index[0] == "good" and (piv["small: skipped"] == "n=50 < min_n=100").all()


def test_segment_importance_skips_thin_segments_but_not_bad_data() -> None:
    """A segment whose answers leave an item constant is too thin for the model (ThinData):
    skipped with the reason. A value that is not a number is bad data: it stops the run."""
    df = _ordered_logit(700, seed=5)
    df["seg"] = np.where(np.arange(700) < 500, "big", "flat")
    df.loc[df["seg"] == "flat", "fair"] = 3.0
    res = importance.segment_importance(df, "ltr", list(BETAS), importance.Segments("seg"))
    assert set(res.table["segment"]) == {"big"}
    assert "no variation" in res.skipped.set_index("segment").loc["flat", "reason"]
    bad = df.astype({"noise": object})
    bad.loc[bad.index[-1], "noise"] = "n/a"
    with pytest.raises(DataError, match="non-numeric"):
        importance.segment_importance(bad, "ltr", list(BETAS), importance.Segments("seg"))
    with pytest.raises(ArgumentError, match="resamples"):
        Bootstrap(-1)


def test_every_segment_too_small_gives_skips_and_an_empty_stack_not_an_error() -> None:
    """Twelve roles of ~50 answers each under min_n: nothing modelled, each skip has its reason,
    and the notebook's stacking of markets gives an empty table (was an IndexError)."""
    df = _ordered_logit(600, seed=4)
    df["seg"] = [f"role {i % 12}" for i in range(600)]
    res = importance.segment_importance(df, "ltr", list(BETAS), importance.Segments("seg", min_n=100))
    assert res.table.empty and len(res.skipped) == 12
    assert len(importance.segment_pivot(res).columns) == 12
    stacked = drivers.stack({"B2B": res.table, "B2C": res.table})
    assert stacked.empty and list(stacked.columns) == ["market", "label"]


def test_priority_matrix_labels_quadrants() -> None:
    """Planted: 'good' matters most but is rated low -> fix first; 'noise' does not matter."""
    df = _ordered_logit(2000, seed=8)
    df["good"] = np.clip(df["good"] - 1, 1, 5)  # rated lower on average, still the top driver
    df["fair"] = np.clip(df["fair"] + 1, 1, 5)
    imp = importance.shapley_importance(df, "ltr", list(BETAS), bootstrap=Bootstrap(50))
    pm = priority.priority_matrix(imp, df)
    assert pm.loc["good", "quadrant"] == "fix first"
    assert pm.loc["noise", "share"] < 1 / 3 and pm.loc["noise", "quadrant"] in {
        "monitor", "don't over-invest"}
    assert pm.loc["good", "performance"] == pytest.approx(df["good"].mean())
    assert (pm["perf_ci_low"] < pm["performance"]).all() and "quadrant_certain" in pm
    scales = dict.fromkeys(BETAS, (1.0, 5.0))
    top = priority.priority_matrix(imp, df, performance="top_box", scales=scales)
    assert top.loc["fair", "performance"] == pytest.approx(100 * (df["fair"] >= 4).mean())
    on_0_10 = priority.priority_matrix(imp, df.assign(fair=2 * df["fair"]), performance="top_box",
                                      scales={**scales, "fair": (0.0, 10.0)})
    assert on_0_10.loc["fair", "performance"] == pytest.approx(100 * (df["fair"] == 5).mean())
    with pytest.raises(ArgumentError, match="needs its answer scale"):
        priority.priority_matrix(imp, df, performance="top_box")


# --------------------------------------------------------------------- planted truth of the sample
def _sample_responses(cleaned) -> pd.DataFrame:
    return cleaned.responses.query("include")


@pytest.mark.parametrize("market", ["B2B", "B2C"])
def test_true_top3_drivers_rank_in_top3(cleaned, truth, market: str) -> None:
    from helpers.ingest import schema

    df = _sample_responses(cleaned).query("market == @market")
    items = schema.load().driver_items(market)
    out = importance.shapley_importance(df, "ltr", items,
                                     cluster="account_id" if market == "B2B" else None)
    assert set(out.index[:3]) == set(truth["top3"][market])


# --------------------------------------------------------------------- report helpers
def test_report_helpers_tables_and_headline(swiss: pd.DataFrame) -> None:
    imp = importance.shapley_importance(swiss, "Fertility", SWISS_X, bootstrap=Bootstrap(30, 2))
    ranked = importance.ranked_table({"B2B": imp, "B2C": imp})
    assert len(ranked) == 10 and set(ranked["market"]) == {"B2B", "B2C"}
    assert ranked["r2"].iloc[0] == pytest.approx(SWISS_R2, abs=1e-6)
    head = drivers.headline_metrics({"B2B": imp}, outcome=LTR)
    assert head["b2b_driver_1"]["driver"] == "Education"
    assert head["b2b_driver_1"]["unit"] == "% of explained variance in LTR"
    assert head["outcome"]["words"] == "likelihood to recommend"
    assert head["b2b_driver_1"]["estimate"] == pytest.approx(100 * 0.260135 / SWISS_R2, abs=1e-3)
    first = head["b2b_driver_1"]
    assert first["ci_low"] <= first["estimate"] <= first["ci_high"] and first["n"] == 47
    note = importance.methods_text(imp)
    assert "R² = 0.71" in note and "n = 47" in note and "30 resamples" in note
    text = importance.share_text(imp, k=2)
    assert list(text.index) == ["Education", "Examination"]
    stacked = drivers.stack({"A": imp, "B": imp})
    assert stacked["label"].iloc[0] == "A: Education" and stacked.attrs == {}


def test_headline_metrics_name_the_measure_modelled(swiss: pd.DataFrame) -> None:
    """A satisfaction programme's drivers explain CSAT: its metrics say so, never LTR."""
    imp = importance.shapley_importance(swiss, "Fertility", SWISS_X)
    csat = Measure.define("csat", scale=(1, 5), rule="top_box", name="CSAT")
    head = drivers.headline_metrics({"B2C": imp}, outcome=csat)
    assert head["b2c_driver_1"]["unit"] == "% of explained variance in CSAT"
    assert head["outcome"] == {"measure": "csat", "rule": "top_box", "name": "CSAT",
                               "words": "CSAT", "scale": "1-5"}
    assert "LTR" not in str(head)


# --------------------------------------------------------------------- properties
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), p=st.integers(1, 6),
       scale=st.floats(0.1, 50), shift=st.floats(-100, 100))
def test_lmg_sums_to_ols_r2_and_is_invariant(seed: int, p: int, scale: float,
                                            shift: float) -> None:
    """Shares sum to the OLS R² (computed independently by least squares) and do not change
    when a driver is rescaled/shifted or the drivers are listed in another order."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, p)) @ rng.normal(size=(p, p)) * 0.5 + rng.normal(size=(80, p))
    y = x @ rng.normal(size=p) + rng.normal(size=80)
    cols = [f"x{j}" for j in range(p)]
    df = pd.DataFrame(x, columns=cols).assign(y=y)
    out = importance.shapley_importance(df, "y", cols)
    xc = np.column_stack([np.ones(80), x])
    resid = y - xc @ np.linalg.lstsq(xc, y, rcond=None)[0]
    r2 = 1 - resid.var() / y.var()
    assert out["importance"].sum() == pytest.approx(r2, abs=1e-9)
    assert (out["importance"] >= -1e-12).all()
    moved = df.assign(x0=df["x0"] * scale + shift)
    again = importance.shapley_importance(moved, "y", cols[::-1])
    pd.testing.assert_series_equal(again["importance"].sort_index(),
                                   out["importance"].sort_index(), atol=1e-9, rtol=0)


def test_fast_auc_equals_scikit_learn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    score = rng.integers(0, 6, 500) + 0.5 * y  # many ties
    assert drivers._auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_fast_auc_equals_the_rank_sum_of_scipy_rankdata() -> None:
    from scipy.stats import rankdata
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    score = rng.integers(0, 9, 300) / 4 + 0.25 * y
    n1, n0 = int(y.sum()), int((1 - y).sum())
    assert drivers._auc(y, score) == (rankdata(score)[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


@pytest.mark.parametrize("boosting", [False, True])
def test_permutation_importance_in_one_call_equals_a_call_per_copy(boosting: bool) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    df = _ordered_logit(600, seed=8)
    x = df[list(BETAS)].to_numpy(float)
    y = (df["ltr"] >= 9).to_numpy(int)
    model = (HistGradientBoostingClassifier(max_iter=20, random_state=0) if boosting
             else LogisticRegression(C=1e6, max_iter=1000)).fit(x[:400], y[:400])
    xt, yt, rng = x[400:], y[400:], np.random.default_rng(2)
    base = drivers._auc(yt, model.predict_proba(xt)[:, 1])
    ref, shuffled = np.zeros(3), xt.copy()
    for j in range(3):   # the definition: one prediction per shuffled copy
        for _ in range(3):
            shuffled[:, j] = rng.permutation(xt[:, j])
            ref[j] += (base - drivers._auc(yt, model.predict_proba(shuffled)[:, 1])) / 3
        shuffled[:, j] = xt[:, j]
    got = drivers._permutation_drop(model, drivers._shuffled_copies(xt, 3, np.random.default_rng(2)),
                                    yt, 3)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)


def test_importance_chart_draws_an_interval_beside_its_estimate() -> None:
    """With few resamples a percentile interval can lie to one side of the estimate: the chart
    draws its whisker from the estimate instead of failing (it did, on a real run)."""
    from helpers.reporting import driver_charts

    imp = pd.DataFrame({"share": [0.5, 0.3], "share_ci_low": [0.52, 0.1],
                        "share_ci_high": [0.7, 0.4]}, index=["a", "b"])
    ax = driver_charts.driver_importance(imp)
    assert len(ax.patches) == 2


def test_logit_newton_warm_start_reaches_the_cold_start_maximum() -> None:
    rng = np.random.default_rng(5)
    n = 4 * modelling.WARM_START_ROWS + 1000
    x = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = (rng.random(n) < 1 / (1 + np.exp(-(x @ [-0.5, 0.8, 0.3])))).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    warm = modelling.logit_newton(x, y, w)
    cold = modelling.logit_newton(x, y, w, np.zeros(3))
    np.testing.assert_allclose(warm, cold, rtol=0, atol=1e-12)
    np.testing.assert_allclose(warm, [-0.5, 0.8, 0.3], atol=0.02)
