"""Tests for helpers.outcomes: account NPS ranking, leader-laggard gaps, revenue at risk."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import catalog, paths
from helpers.analysis import outcomes
from helpers.errors import ArgumentError, DataError, ThinData
from helpers.measures import Measure
from helpers.reporting import charts, views

# R datasets::sleep, extra by group (Student 1908); R 4.x `t.test(extra ~ group, data = sleep)`
# (Welch): t = -1.8608, df = 17.776, p = 0.07939, 95% CI -3.3654832 to 0.2054832.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_rate_difference_matches_newcombe_1998_example() -> None:
    """Newcombe (1998) Stat Med 17:873, example (a) 56/70 vs 48/80, method 10: 0.0524 to 0.3339."""
    acc = pd.DataFrame({"group": ["leader"] * 70 + ["laggard"] * 80,
                        "renewed": [1.0] * 56 + [0.0] * 14 + [1.0] * 48 + [0.0] * 32})
    row = outcomes.compare_groups(acc, outcomes=["renewed"]).iloc[0]
    assert row["estimate"] == pytest.approx(0.2)
    assert row["ci_low"] == pytest.approx(0.0524, abs=5e-5)
    assert row["ci_high"] == pytest.approx(0.3339, abs=5e-5)
    assert row["ratio"] == pytest.approx(0.8 / 0.6)
    # Katz et al. (1978) log interval: exp(log(4/3) +- 1.96 sqrt(1/56 - 1/70 + 1/48 - 1/80))
    half = 1.959964 * np.sqrt(1 / 56 - 1 / 70 + 1 / 48 - 1 / 80)
    assert row["ratio_ci_low"] == pytest.approx(4 / 3 * np.exp(-half), abs=1e-4)  # 1.0766
    assert row["ratio_ci_high"] == pytest.approx(4 / 3 * np.exp(half), abs=1e-4)  # 1.6512
    assert row["effect_size_name"] == "Cohen's h" and row["n"] == 150


def test_mean_difference_matches_r_welch_on_sleep() -> None:
    acc = pd.DataFrame({"group": ["leader"] * 10 + ["laggard"] * 10, "nrr": SLEEP_1 + SLEEP_2})
    row = outcomes.compare_groups(acc, outcomes=["nrr"]).iloc[0]
    assert row["estimate"] == pytest.approx(0.75 - 2.33)
    assert row["ci_low"] == pytest.approx(-3.3654832, abs=1e-6)
    assert row["ci_high"] == pytest.approx(0.2054832, abs=1e-6)
    assert row["p_value"] == pytest.approx(0.07939, abs=1e-5)


def _responses(n_by_account: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"account_id": a, "ltr": s} for a, scores in n_by_account.items()
                         for s in scores])


def test_shrinkage_ranks_more_evidence_higher_and_quartiles() -> None:
    """One promoter is weaker evidence than six: after shrinkage the six-promoter account ranks first."""
    rng = np.random.default_rng(1)
    data = {f"A{i:02d}": list(rng.integers(0, 11, 4).astype(float)) for i in range(20)}
    data["ONE"] = [10.0]
    data["SIX"] = [10.0] * 6
    ranked = outcomes.rank_accounts(_responses(data), min_n=1)
    top = ranked.set_index("account_id")
    assert top.loc["ONE", "nps"] == top.loc["SIX", "nps"] == 100
    assert top.loc["SIX", "rank"] == 1 and top.loc["ONE", "rank"] > 1
    assert top.loc["ONE", "nps_shrunk"] < top.loc["SIX", "nps_shrunk"] < 100
    assert (ranked["group"] == "leader").sum() == (ranked["group"] == "laggard").sum() == 22 // 4
    lead = ranked[ranked["group"] == "leader"]["nps_shrunk"].min()
    assert (ranked[ranked["group"] != "leader"]["nps_shrunk"] <= lead).all()
    # min_n keeps small accounts out of the ranking, not out of the table
    strict = outcomes.rank_accounts(_responses(data), min_n=4).set_index("account_id")
    assert not strict.loc["ONE", "eligible"] and strict.loc["ONE", "group"] == ""
    assert pd.isna(strict.loc["ONE", "rank"])


def _planted_accounts(n: int = 3000, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Accounts with churn planted as logit P(churn) = -1.6 - 1.2 * NPS/100."""
    rng = np.random.default_rng(seed)
    nps = rng.choice(np.arange(-100, 101, 25), n).astype(float)
    p = 1 / (1 + np.exp(-(-1.6 - 1.2 * nps / 100)))
    churned = rng.random(n) < p
    arr = rng.lognormal(11, 0.6, n)
    acc = pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "nps": nps,
                        "pct_detractor": np.where(nps < 0, 60.0, 20.0), "arr": arr,
                        "churned": churned.astype(float), "renewed": (~churned).astype(float)})
    return acc, p


def test_revenue_at_risk_covers_planted_expected_loss() -> None:
    acc, p = _planted_accounts()
    res = outcomes.revenue_at_risk(acc, n_draws=2000).iloc[-1]
    det = acc["nps"] < 0
    truth = float((acc["arr"] * p)[det].sum())
    assert res["segment"] == "Total" and res["n"] == det.sum()
    assert res["arr_at_risk"] == pytest.approx(acc.loc[det, "arr"].sum())
    assert res["ci_low"] < truth < res["ci_high"]
    assert res["ci_high"] - res["ci_low"] < 0.5 * res["estimate"]
    assert res["odds_ratio_per_10pts"] == pytest.approx(np.exp(-0.12), abs=0.03)


def test_gap_value_scales_difference_by_laggard_arr() -> None:
    acc = pd.DataFrame({"group": ["middle"] * 70 + ["laggard"] * 80,
                        "renewed": [1.0] * 56 + [0.0] * 14 + [1.0] * 48 + [0.0] * 32,
                        "arr": 1000.0})
    acc["nrr"] = acc["renewed"]
    row = outcomes.gap_value(acc).iloc[0]
    assert row["arr_laggards"] == 80_000
    assert row["estimate"] == pytest.approx(0.2 * 80_000)
    assert row["ci_low"] == pytest.approx(0.0524 * 80_000, rel=1e-3)


def test_gaps_with_groups_too_small_keep_their_columns_and_say_why() -> None:
    # rev26: a master matching too few accounts gave a gaps frame the view could not read
    acc = pd.DataFrame({"group": ["leader", "laggard", "not rated"], "renewed": [1.0, 0.0, 1.0]})
    gaps = outcomes.compare_groups(acc, outcomes=["renewed"])
    assert gaps["estimate"].isna().all()
    assert gaps["reason"].tolist() == ["fewer than 5 accounts in a group"]
    assert "Note" in views.leader_gaps(gaps).to_html()


def test_prepare_accounts_derives_nrr_and_keeps_unrated() -> None:
    acc = pd.DataFrame({"account_id": ["A", "B", "C"], "arr": [100.0, 200.0, 50.0],
                        "renewed": [True, False, True], "churned": [False, True, False],
                        "expansion_arr": [10.0, 0.0, 0.0]})
    ranked = pd.DataFrame({"account_id": ["A", "B"], "n": [3, 3], "nps": [50.0, -50.0],
                           "ci_low": 0.0, "ci_high": 0.0, "pct_detractor": [0.0, 60.0],
                           "nps_shrunk": [40.0, -40.0], "rank": [1, 2],
                           "group": ["leader", "laggard"]})
    out = outcomes.prepare_accounts(acc, ranked).set_index("account_id")
    assert out["nrr"].tolist() == [1.1, 0.0, 1.0]
    assert out.loc["C", "group"] == "not rated"
    short = outcomes.prepare_accounts(acc.iloc[1:], ranked)   # a CRM extract without A
    assert short.attrs["rated_without_outcomes"] == ["A"]
    assert views.unmatched_accounts(ranked, short).startswith(
        "1 of the 2 accounts that answered are not in the account master (e.g. 'A')")
    with pytest.raises(ThinData, match="none of the 2 rated accounts is in the account master"):
        outcomes.prepare_accounts(acc.assign(account_id=["X", "Y", "Z"]), ranked)
    with pytest.raises(DataError, match="arr"):
        outcomes.prepare_accounts(acc.assign(arr=[1.0, 0.0, 1.0]), ranked)
    with pytest.raises(DataError, match="renewed"):
        outcomes.prepare_accounts(acc.drop(columns="renewed"), ranked)
    lean = outcomes.prepare_accounts(acc.drop(columns=["expansion_arr", "churned"]), ranked)
    assert outcomes.outcomes_present(lean) == ["renewed", "churned"]  # no revenue outcomes
    assert lean["churned"].tolist() == [0.0, 1.0, 0.0]


SAMPLE = paths.PROCESSED_DIR / "responses.parquet"
TRUTH = paths.RAW_DIR / "truth.json"


@pytest.mark.skipif(not (SAMPLE.exists() and TRUTH.exists()), reason="run `cx sample` + `cx clean`")
def test_sample_leaders_renew_more_as_planted() -> None:
    """truth['outcomes']: better experience -> more renewal and expansion (planted)."""
    truth = catalog.load_json("truth")["outcomes"]
    resp = outcomes.latest_wave_b2b(catalog.load("responses"))
    acc = outcomes.prepare_accounts(catalog.load("accounts"), outcomes.rank_accounts(resp, min_n=2))
    cmp = outcomes.compare_groups(acc).set_index("outcome")
    planted_gap = truth["expected_renewal_top_quartile"] - truth["expected_renewal_bottom_quartile"]
    assert planted_gap > 0
    assert cmp.loc["renewed", "ci_low"] > 0  # leaders renew more, significantly
    assert cmp.loc["churned", "ci_high"] < 0
    assert cmp.loc["nrr", "ci_low"] > 0 and cmp.loc["expansion_rate", "estimate"] > 0
    # observed quartiles of a noisy NPS are diluted versions of the latent ones
    assert cmp.loc["renewed", "estimate"] < planted_gap + 2 * cmp.loc["renewed", "se"]


def _book(seed: int = 5, n: int = 240) -> pd.DataFrame:
    """Accounts with planted renewal 0.9 (leaders) / 0.8 (middle) / 0.6 (laggards) in two tiers."""
    rng = np.random.default_rng(seed)
    group = np.repeat(["leader", "middle", "middle", "laggard"], n // 4)
    p = pd.Series(group).map({"leader": 0.9, "middle": 0.8, "laggard": 0.6}).to_numpy()
    renewed = (rng.random(n) < p).astype(float)
    arr = rng.lognormal(10, 0.5, n)
    exp_rate = np.where(renewed == 1, rng.uniform(0, 0.2, n), 0.0)
    return pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "group": group,
                         "tier": np.where(np.arange(n) % 2 == 0, "SMB", "Enterprise"),
                         "renewed": renewed, "churned": 1 - renewed, "arr": arr,
                         "expansion_rate": exp_rate, "nrr": renewed * (1 + exp_rate),
                         "nps": np.where(group == "laggard", -30.0, 40.0),
                         "pct_detractor": np.where(group == "laggard", 55.0, 10.0)})


def test_by_segment_bh_and_small_segments() -> None:
    acc = _book()
    acc.loc[acc.index[:4], "tier"] = "Tiny"
    out = outcomes.compare_by_segment(acc, "tier")
    tiny = out[out["tier"] == "Tiny"]
    assert (tiny["reason"] != "").all() and tiny["p_adjusted"].isna().all()
    tested = out[out["tier"] != "Tiny"]
    assert (tested["p_adjusted"] >= tested["p_value"]).all()
    assert tested.loc[tested["outcome"] == "renewed", "estimate"].gt(0).all()


def test_headline_metrics_in_points_and_money() -> None:
    acc = _book()
    gaps = outcomes.compare_groups(acc)
    risk = outcomes.revenue_at_risk(acc, n_draws=500)
    value = outcomes.gap_value(acc)
    comp = pd.DataFrame({"competitor": ["X"], "estimate": [-9.0], "se": [3.0], "ci_low": [-15.0],
                         "ci_high": [-3.0], "n": [900], "verdict": ["lag"]})
    m = outcomes.headline_metrics(gaps, risk, value, comp)
    g = gaps.set_index("outcome")
    assert m["leader_laggard_gap_renewed_pts"]["estimate"] == pytest.approx(100 * g.loc["renewed", "estimate"])
    assert m["leader_laggard_gap_renewed_pts"]["ci_low"] == pytest.approx(100 * g.loc["renewed", "ci_low"])
    assert m["revenue_at_risk_expected_churn_arr"]["n"] == (acc["nps"] < 0).sum()
    assert m["gap_value_renewal_arr"]["estimate"] == pytest.approx(value["estimate"].iloc[0])
    assert m["nps_gap_vs_X"]["verdict"] == "lag" and m["nps_gap_vs_X"]["n"] == 900


def test_plot_group_outcomes_shows_groups_with_n() -> None:
    import matplotlib.pyplot as plt

    fig = charts.group_outcomes(outcomes.group_summary(_book()))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["Leaders (top 25%) (n=60)", "Middle (n=120)", "Laggards (bottom 25%) (n=60)"]
    assert len(fig.axes) == 4
    plt.close(fig)


def test_revenue_at_risk_rules_and_segments() -> None:
    acc = _book()
    neg = outcomes.revenue_at_risk(acc, by="tier", n_draws=300)
    maj = outcomes.revenue_at_risk(acc, rule="majority_detractors", n_draws=300)
    assert list(neg["segment"]) == ["Enterprise", "SMB", "Total"]
    assert neg.set_index("segment").loc[["Enterprise", "SMB"], "arr_at_risk"].sum() == (
        pytest.approx(neg.iloc[-1]["arr_at_risk"]))
    assert maj.iloc[-1]["n"] == (acc["pct_detractor"] > 50).sum()
    with pytest.raises(ArgumentError, match="rule"):   # a bad call, not bad data
        outcomes.revenue_at_risk(acc, rule="vibes")


def test_revenue_at_risk_on_the_headline_of_a_satisfaction_programme() -> None:
    """Without the LTR the accounts at risk are those with CSAT % top-2 box under 50 (the
    planted laggards), named in the measure's words; a CES mean is at risk above its midpoint."""
    acc = _book().drop(columns=["nps", "pct_detractor"])
    acc["estimate"] = np.where(acc["group"] == "laggard", 35.0, 70.0)
    csat = Measure.define("csat", scale=(1, 5), rule="top_box", name="CSAT")
    risk = outcomes.revenue_at_risk(acc, by="tier", n_draws=300, measure=csat)
    total = risk.iloc[-1]
    laggards = acc["group"] == "laggard"
    assert total["n"] == laggards.sum()
    assert total["arr_at_risk"] == pytest.approx(acc.loc[laggards, "arr"].sum())
    assert set(risk["accounts"]) == {"low-CSAT accounts"} and total["rule"] == "low csat_top2"
    assert outcomes.at_risk_words(csat) == "low-CSAT accounts"
    metrics = outcomes.headline_metrics(risk=risk)
    assert metrics["revenue_at_risk_expected_churn_arr"]["accounts"] == "low-CSAT accounts"
    ces = replace(Measure.define("ces", scale=(1, 7), rule="mean", name="CES"),
                  higher_is_better=False)
    effort = acc.assign(estimate=np.where(laggards, 5.5, 2.5))
    assert outcomes.revenue_at_risk(effort, n_draws=300, measure=ces).iloc[-1]["n"] == laggards.sum()


def test_gap_value_by_segment_sums_to_segment_arr() -> None:
    acc = _book()
    acc.loc[acc.index[:3], "tier"] = "Tiny"
    out = outcomes.gap_value_by_segment(acc, "tier")
    assert set(out["tier"]) == {"Enterprise", "SMB", "Tiny"}
    tiny = out[out["tier"] == "Tiny"]
    assert tiny["estimate"].isna().all() and (tiny["reason"] != "").all()
    smb = out[(out["tier"] == "SMB") & out["basis"].str.startswith("Renewal")].iloc[0]
    lag = acc[(acc["tier"] == "SMB") & (acc["group"] == "laggard")]
    mid = acc[(acc["tier"] == "SMB") & (acc["group"] == "middle")]
    assert smb["estimate"] == pytest.approx((mid["renewed"].mean() - lag["renewed"].mean())
                                            * lag["arr"].sum())
