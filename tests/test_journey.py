"""Tests for helpers.analysis.journey: planted effects (constructed frames and the generated sample)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.analysis import journey
from helpers.errors import DataError, ThinData

IMPL = ["impl_on_time", "impl_on_budget", "impl_onboarding", "impl_communication",
        "impl_time_to_value"]


def _accounts_frame(n_acc: int = 300, contacts: int = 4, seed: int = 0,
                    qe_penalty: float = -0.6, slip_per_day: float = -0.01) -> pd.DataFrame:
    """Planted journey: quarter-end deals lower every implementation item by `qe_penalty`
    points and slip 30 days more; each slip day costs `slip_per_day` points; LTR follows items."""
    rng = np.random.default_rng(seed)
    qe = rng.random(n_acc) < 0.25
    slip = rng.gamma(2, 10, n_acc) + 30 * qe
    length = rng.uniform(40, 200, n_acc)
    acc_effect = rng.normal(0, 0.4, n_acc)
    ra = np.repeat(np.arange(n_acc), contacts)
    n = len(ra)
    items = {it: 3.2 + qe_penalty * qe[ra] + slip_per_day * slip[ra] + acc_effect[ra]
             + rng.normal(0, 0.7, n) for it in IMPL}
    ltr = np.clip(np.rint(7 + 1.2 * (np.mean(list(items.values()), axis=0) - 3)
                          + rng.normal(0, 1.2, n)), 0, 10)
    return pd.DataFrame({"account_id": [f"A{i}" for i in ra], "quarter_end_deal": qe[ra],
                         "go_live_slip_days": slip[ra], "impl_length_days": length[ra],
                         "ltr": ltr, **items})


def _effect(tab: pd.DataFrame, expl: str, outcome: str, effect: str) -> pd.Series:
    hit = tab[(tab.explanation == expl) & (tab.outcome == outcome) & (tab.effect == effect)]
    assert len(hit) == 1, (expl, outcome, effect)
    return hit.iloc[0]


def test_journey_effects_recover_planted_penalties() -> None:
    df = _accounts_frame()
    tab = journey.journey_effects(df, IMPL)
    # planted: -0.6 points on each item for quarter-end deals (+ their 30 extra days x -0.01)
    r = _effect(tab, "quarter_end_deal", "impl_mean", "mean difference")
    assert r.ci_low <= -0.6 - 0.3 <= r.ci_high and r.ci_high < 0
    s = _effect(tab, "go_live_slip_days", "impl_on_time", "slope per 30 days")
    assert s.ci_low <= -0.3 <= s.ci_high  # -0.01 per day = -0.3 per 30 days
    slip = _effect(tab, "quarter_end_deal", "go_live_slip_days", "mean difference")
    assert slip.ci_low <= 30 <= slip.ci_high and slip.n == 300
    length = _effect(tab, "impl_length_days", "impl_mean", "slope per 30 days")
    assert length.ci_low <= 0 <= length.ci_high  # planted: no effect of length
    orr = _effect(tab, "quarter_end_deal", "promoter", "odds_ratio")
    assert orr.ci_high < 1 and orr.ci_low < orr.estimate < orr.ci_high
    d = _effect(tab, "quarter_end_deal", "impl_mean", "cohen_d")
    assert d.estimate < 0 and d.ci_high < 0


def test_cohen_d_matches_textbook_formula_and_clustered_se_is_wider() -> None:
    df = _accounts_frame(seed=3)
    tab = journey.journey_effects(df, IMPL)
    y, g = df["impl_onboarding"], df["quarter_end_deal"]
    a, b = y[g], y[~g]
    sp = np.sqrt(((len(a) - 1) * a.var() + (len(b) - 1) * b.var()) / (len(y) - 2))
    d = _effect(tab, "quarter_end_deal", "impl_onboarding", "cohen_d")
    assert d.estimate == pytest.approx((a.mean() - b.mean()) / sp)
    # contacts of one account share its journey: clustered SE must exceed the naive one
    naive = sp * np.sqrt(1 / len(a) + 1 / len(b))
    md = _effect(tab, "quarter_end_deal", "impl_onboarding", "mean difference")
    assert md.se > 1.15 * naive and md.n_clusters == 300


def test_quarter_end_penalty_detected_on_sample(cleaned, truth) -> None:
    df = cleaned.responses.query("include and market == 'B2B'")
    tab = journey.journey_effects(df, IMPL)
    assert truth["quarter_end_penalty"]["sign"] == "negative"
    for item in [*IMPL, "impl_mean"]:
        r = _effect(tab, "quarter_end_deal", item, "mean difference")
        assert r.ci_high < 0, item
    slip = _effect(tab, "quarter_end_deal", "go_live_slip_days", "mean difference")
    assert slip.ci_low <= truth["quarter_end_penalty"]["go_live_slip_days"] <= slip.ci_high
    ltr = _effect(tab, "quarter_end_deal", "ltr", "mean difference")
    assert ltr.estimate < 0


def test_walk_back_finds_planted_difference_with_fdr() -> None:
    rng = np.random.default_rng(7)
    n_acc = 400
    pro_acc = rng.random(n_acc) < 0.4
    ra = np.repeat(np.arange(n_acc), 3)
    df = pd.DataFrame({"account_id": ra, "ltr": np.where(pro_acc[ra], 10.0, 6.0)})
    df["lifted"] = 3 + 0.5 * pro_acc[ra] + rng.normal(0, 0.8, len(ra))
    for j in range(6):
        df[f"null{j}"] = 3 + rng.normal(0, 0.8, len(ra))
    items = ["lifted", *[f"null{j}" for j in range(6)]]
    out = journey.walk_back(df, items).set_index("item")
    assert out.loc["lifted", "ci_low"] <= 0.5 <= out.loc["lifted", "ci_high"]
    assert out.loc["lifted", "significant"]
    assert not out.drop(index="lifted")["significant"].any()
    assert (out["p_adjusted"] >= out["p_value"]).all()
    assert out.attrs["n_promoter_units"] == int(pro_acc.sum())


def test_walk_back_without_promoter_accounts_is_thin_data_not_a_failure() -> None:
    """No account has half its contacts at 9-10: the section has nothing to compare (ThinData,
    which a report shows as a card)."""
    df = pd.DataFrame({"account_id": np.repeat(np.arange(30), 3),
                       "ltr": np.tile([10.0, 6.0, 3.0], 30), "item": np.arange(90) % 5 + 1.0})
    with pytest.raises(ThinData, match="0 promoter and 30 other units"):
        journey.walk_back(df, ["item"])


def test_team_comparison_small_lucky_team_does_not_top_the_list() -> None:
    """Planted: 12 teams at 40 % promoters, team T_big truly at 75 %, tiny T_lucky 3 of 3."""
    rng = np.random.default_rng(2)
    rows = []
    for t in range(12):
        rows += [(f"T{t:02d}", float(rng.random() < 0.4) * 10) for _ in range(80)]
    rows += [("T_big", float(rng.random() < 0.75) * 10) for _ in range(200)]
    rows += [("T_lucky", 10.0)] * 3
    df = pd.DataFrame(rows, columns=["rep_id", "ltr"])
    out = journey.team_comparison(df).set_index("rep_id")
    assert out.loc["T_lucky", "rank_raw"] == 1
    assert out.loc["T_big", "rank_shrunk"] == 1 and out.loc["T_lucky", "rank_shrunk"] > 1
    assert out.loc["T_big", "flag"] == "above"
    assert (out.drop(index=["T_big"])["flag"] == "").all()
    assert out.loc["T_lucky", "shrunk_rate"] < 80


def test_missing_columns_raise_data_error() -> None:
    with pytest.raises(DataError, match="quarter_end_deal"):
        journey.journey_effects(pd.DataFrame({"ltr": [1.0]}), IMPL)
    with pytest.raises(DataError, match="at least 3 teams"):
        journey.team_comparison(pd.DataFrame({"rep_id": ["a", "b"], "ltr": [9.0, 3.0]}))


@pytest.mark.parametrize("given_design", [True, False])
def test_journey_effects_equal_r_svyglm_on_account_clusters(given_design: bool) -> None:
    """Each effect is R's svyglm on the account-clustered design (coefficient, design SE,
    p-value and t interval on degf - parameters + 1): tests/data/r_models_reference.json on
    tests/data/models_b2b.csv, 1e-6 relative."""
    import json

    from helpers.paths import PROJECT_ROOT
    from helpers.stats.design import Design

    data = PROJECT_ROOT / "tests" / "data"
    ref = json.loads((data / "r_models_reference.json").read_text())["glm"]
    b2b = pd.read_csv(data / "models_b2b.csv")
    design = Design.from_frame(b2b, cluster="account_id") if given_design else None
    tab = journey.journey_effects(b2b, ["impl_onboarding"], design=design)
    cases = [("go_live_slip_days", "ltr", "slope per 30 days", "journey_ltr_slip", False),
             ("go_live_slip_days", "promoter", "odds_ratio per 30 days",
              "journey_promoter_slip", True),
             ("quarter_end_deal", "impl_onboarding", "mean difference",
              "journey_qe_onboarding", False)]
    for expl, outcome, effect, key, odds in cases:
        got, r = _effect(tab, expl, outcome, effect), ref[key]
        scale = np.exp if odds else (lambda v: v)
        assert got.estimate == pytest.approx(scale(r["estimate"][1]), rel=1e-6)
        assert got.se == pytest.approx(r["se"][1], rel=1e-6)
        assert got.p_value == pytest.approx(r["p_value"][1], rel=1e-6)
        assert (got.ci_low, got.ci_high) == pytest.approx(
            (scale(r["ci_low"][1]), scale(r["ci_high"][1])), rel=1e-6)


def test_length_effects_from_the_shared_slip_model_equal_their_own_fit() -> None:
    from helpers.stats.design import Design
    from helpers.stats.regression import survey_glm

    df = _accounts_frame(n_acc=120, seed=4)
    tab = journey.journey_effects(df, IMPL)
    design = Design.from_frame(df, cluster="account_id")
    x = np.column_stack([df["impl_length_days"] / 30, df["quarter_end_deal"].astype(float),
                         df["go_live_slip_days"]])
    for outcome, y, family, effect in [
            ("impl_mean", df[IMPL].mean(axis=1), "gaussian", "slope per 30 days"),
            ("promoter", (df["ltr"] >= 9).astype(float), "quasibinomial",
             "odds_ratio per 30 days")]:
        own = survey_glm(y.to_numpy(float), x, design, family=family)
        r = _effect(tab, "impl_length_days", outcome, effect)
        est = np.exp(own.coef[1]) if family == "quasibinomial" else own.coef[1]
        np.testing.assert_allclose([r.estimate, r.se, r.p_value], [est, own.se[1], own.p_value[1]],
                                   rtol=1e-9)
