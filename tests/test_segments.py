"""helpers.analysis.segments: account NPS definitions (hand-computed), governance, archetypes, coverage,
personas (planted clusters), B2C weighting and response rates against the generator's truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import catalog, config, paths
from helpers.analysis import accounts as acct
from helpers.analysis import headline, personas, segments, selection
from helpers.errors import DataError, ThinData
from helpers.ingest import schema
from helpers.measures import Measure
from helpers.sample import planted_model
from helpers.stats import compare, estimators, weighting
from helpers.stats.design import Design

TRUTH = paths.RAW_DIR / "truth.json"
PROCESSED = paths.PROCESSED_DIR / "responses.parquet"
needs_sample = pytest.mark.skipif(not (TRUTH.exists() and PROCESSED.exists()),
                                  reason="needs the sample (cx sample + cx clean)")


@pytest.fixture
def b2b() -> pd.DataFrame:
    """Four accounts; scores: A -1,+1,+1  B 0,+1  C +1  D -1,-1,0 (roles in brackets below)."""
    rows = [
        ("A", "decision_maker", 3), ("A", "user", 10), ("A", "user", 9),
        ("B", "influencer", 8), ("B", "user", 10),
        ("C", "decision_maker", 10),
        ("D", "user", 5), ("D", "user", 6), ("D", "influencer", 7),
    ]
    return pd.DataFrame(rows, columns=["account_id", "role", "ltr"]).assign(ltr=lambda d: d.ltr * 1.0)


@pytest.fixture
def accounts() -> pd.DataFrame:
    return pd.DataFrame({"account_id": list("ABCDE"), "arr": [100.0, 300.0, 50.0, 50.0, 500.0],
                         "tier": ["Enterprise", "SMB", "SMB", "SMB", "Enterprise"]})


def _est(table: pd.DataFrame, variant: str) -> pd.Series:
    return table.set_index("variant").loc[variant]


def test_account_nps_three_ways_hand_computed(b2b: pd.DataFrame, accounts: pd.DataFrame) -> None:
    t = acct.account_nps(b2b, accounts, vote="mean")
    # all responses: (-1+1+1+0+1+1-1-1+0)/9
    assert _est(t, "responses")["estimate"] == pytest.approx(100 * 1 / 9)
    # one vote (mean of contacts): A 1/3, B 1/2, C 1, D -2/3 -> mean 7/24
    assert _est(t, "account_vote")["estimate"] == pytest.approx(100 * 7 / 24)
    # waterfall: A DM -1, B influencer 0, C DM +1, D influencer 0
    assert _est(t, "waterfall")["estimate"] == pytest.approx(0.0)
    # role weights 3/2/1: A (-3+1+1)=-1 of 5, B (0+1) of 3, C 3 of 3, D (-1-1+0)=-2 of 4 -> 1/15
    assert _est(t, "role_weighted")["estimate"] == pytest.approx(100 / 15)
    # ARR-weighted mean vote: (100/3 + 300/2 + 50 - 100/3) / 500 = 0.4
    assert _est(t, "arr_weighted")["estimate"] == pytest.approx(40.0)
    assert set(t["n_accounts"]) == {4}
    assert t.loc[t["unit"] == "responses", "n"].tolist() == [9, 9]
    assert t.loc[t["unit"] == "accounts", "n"].tolist() == [4, 4, 4]


def test_account_master_missing_one_responding_account_is_not_fatal() -> None:
    # rev26: a CRM extract without one responding account stopped notebook 02 and the summary
    responses = pd.DataFrame({"account_id": ["A1", "A1", "A2", "A3"], "ltr": [10, 9, 3, 8],
                              "role": ["user"] * 4})
    master = pd.DataFrame({"account_id": ["A1", "A2"], "arr": [1000.0, 5000.0]})  # A3 missing
    out = acct.account_nps(responses, master)
    assert np.isfinite(out["estimate"]).all()


def test_arr_weighted_leaves_out_accounts_without_arr(b2b: pd.DataFrame, accounts: pd.DataFrame
                                                      ) -> None:
    # B absent from the master, D without ARR: (100/3 + 50) / 150 over A and C only
    partial = accounts[accounts["account_id"] != "B"].assign(
        arr=lambda d: d["arr"].where(d["account_id"] != "D"))
    row = _est(acct.account_nps(b2b, partial), "arr_weighted")
    assert row["estimate"] == pytest.approx(100 * (100 / 3 + 50) / 150)
    assert row["n"] == 2
    assert row["method"] == "ARR-weighted (one vote, mean; 2 of 4 accounts without ARR left out)"
    assert _est(acct.account_nps(b2b, accounts), "arr_weighted")["method"] == \
        "ARR-weighted (one vote, mean)"


def test_arr_weighted_needs_a_responding_account_with_arr_and_no_negative(b2b: pd.DataFrame) -> None:
    elsewhere = pd.DataFrame({"account_id": ["X", "Y"], "arr": [10.0, 20.0]})
    assert "arr_weighted" not in set(acct.account_nps(b2b, elsewhere)["variant"])
    negative = pd.DataFrame({"account_id": ["A", "B"], "arr": [10.0, -1.0]})
    with pytest.raises(DataError, match="'B' has a negative ARR"):
        acct.account_nps(b2b, negative)


def test_account_vote_majority_hand_computed(b2b: pd.DataFrame) -> None:
    # strict majority: A promoters 2/3 -> +1; B 1 of 2 is not > half -> 0; C +1; D 2/3 det -> -1
    t = acct.account_nps(b2b, vote="majority")
    assert _est(t, "account_vote")["estimate"] == pytest.approx(25.0)


def test_account_matrix_draws_accounts_absent_from_the_master(b2b: pd.DataFrame,
                                                                accounts: pd.DataFrame) -> None:
    # rev26: an account without ARR (absent from the CRM extract) stopped notebook 02's chart
    import matplotlib.pyplot as plt

    from helpers.reporting import charts
    arch = acct.account_archetypes(b2b, accounts=accounts[accounts["account_id"] != "A"])
    assert arch.set_index("account_id")["arr"].isna().tolist() == [True, False, False, False]
    ax = charts.account_matrix(arch.assign(dm_score=[-100.0, 50.0, 100.0, 20.0],
                                           others_score=[100.0, -50.0, 10.0, -20.0]))
    ax.figure.canvas.draw()
    assert ax.collections[0].get_sizes()[0] == 40.0   # A: the size of an unknown ARR
    plt.close(ax.figure)


def test_all_responses_se_is_account_clustered(b2b: pd.DataFrame) -> None:
    # Linearised SE of a mean under one-stage cluster sampling (Lumley 2010, Complex Surveys,
    # sec. 2.2; R svymean(~y, svydesign(id=~account))): se^2 = C/(C-1) * sum_c (sum_i (y - ybar))^2 / N^2
    y = estimators.nps_score(b2b["ltr"])
    resid = pd.Series(y - y.mean()).groupby(b2b["account_id"].to_numpy()).sum().to_numpy()
    c, n = len(resid), len(y)
    expected = np.sqrt(c / (c - 1) * (resid**2).sum()) / n
    t = acct.account_nps(b2b)
    row = _est(t, "responses")
    assert row["se"] == pytest.approx(expected, rel=1e-6)
    iid = np.sqrt(y.var(ddof=1) / n)
    assert abs(row["se"] - iid) > 1e-6  # clustering changes the SE here
    assert row["ci_low"] < row["estimate"] < row["ci_high"]


def test_a_role_without_a_weight_is_left_out_and_named(b2b: pd.DataFrame) -> None:
    """Roles the settings give no weight (here 'intern') weigh 0 in the role-weighted NPS and
    are named in its method; the waterfall uses the known roles."""
    t = acct.account_nps(b2b.assign(role=b2b["role"].replace({"user": "intern"})))
    row = _est(t, "role_weighted")
    # A: DM -1 (w 3); B: influencer 0 (w 2); C: DM +1 (w 3); D: influencer 0 (w 2) -> 0 of 10
    assert row["estimate"] == pytest.approx(0.0) and row["n"] == 4
    assert row["method"].endswith("without a weight: intern")
    assert _est(t, "waterfall")["estimate"] == pytest.approx(0.0)  # A -1, B 0, C +1, D 0
    only_unknown = acct.account_nps(b2b.assign(role="intern"))
    assert not only_unknown["variant"].isin(["waterfall", "role_weighted"]).any()


def test_archetypes_and_coverage(b2b: pd.DataFrame, accounts: pd.DataFrame) -> None:
    extra = pd.DataFrame({"account_id": ["F", "F"], "role": ["user", "user"], "ltr": [10.0, 2.0]})
    resp = pd.concat([b2b, extra], ignore_index=True)
    inv = pd.DataFrame({"account_id": list("ABCDEF"), "responded": [1, 1, 1, 1, 0, 1]})
    arch = acct.account_archetypes(resp, inv, accounts).set_index("account_id")
    assert arch["archetype"].to_dict() == {
        "A": "dm_detractor", "B": "lukewarm", "C": "all_promoters",
        "D": "lukewarm", "E": "silent", "F": "split"}
    assert arch.loc["A", "archetype_label"] == "DM detractor, others promoters"
    assert list(acct.at_risk(arch.reset_index())["account_id"]) == ["E", "A"]  # most ARR first
    counts = acct.archetype_counts(acct.account_archetypes(resp, inv, accounts))
    assert counts.set_index("archetype").loc["lukewarm", "accounts"] == 2
    assert counts["accounts"].sum() == 6

    cov = acct.dm_coverage(resp, inv).set_index("base")
    assert cov.loc["invited accounts", "share"] == pytest.approx(2 / 6)   # A and C of A-F
    assert cov.loc["responding accounts", "share"] == pytest.approx(2 / 5)

    rev = acct.revenue_coverage(resp, accounts)
    assert rev["pct_arr"].iloc[0] == pytest.approx(100 * 500 / 1000)    # E (500) is silent
    by_tier = acct.revenue_coverage(resp, accounts, by="tier").set_index("tier")
    assert by_tier.loc["SMB", "pct_arr"] == pytest.approx(100.0)


def test_response_rates_by_tier(accounts: pd.DataFrame) -> None:
    inv = pd.DataFrame({"account_id": list("AABBCCDDEE"),
                        "role": ["decision_maker", "user"] * 5,
                        "responded": [1, 0, 1, 1, 0, 0, 1, 0, 0, 0]})
    t = acct.response_rates(inv, "tier", accounts).set_index("tier")
    assert t.loc["Enterprise", "rate"] == pytest.approx(25.0)   # A 1/2, E 0/2
    assert t.loc["SMB", "rate"] == pytest.approx(50.0)       # B 2/2, C 0/2, D 1/2
    r = acct.response_rates(inv, "role").set_index("role")
    assert r.loc["decision_maker", "rate"] == pytest.approx(60.0)
    with pytest.raises(DataError, match="industry"):
        acct.response_rates(inv, "industry", accounts)
    other_ids = accounts.assign(account_id="CRM-" + accounts["account_id"])   # rev26
    with pytest.raises(ThinData, match="none of the 5 invited accounts has a tier"):
        acct.response_rates(inv, "tier", other_ids)


def test_govern_reasons() -> None:
    t = pd.DataFrame({"segment": list("abcd"), "n": [5, 50, 50, 50],
                      "ci_low": [-10.0, -40.0, 0.0, np.nan], "ci_high": [10.0, 30.0, 20.0, np.nan]})
    g = segments.govern(t, min_n=10, max_halfwidth=30)
    assert g["suppressed"].tolist() == [True, True, False, True]
    assert g["reason"].tolist() == ["n=5 < 10", "CI +/-35.0 > +/-30 pts", "", "no CI"]
    assert not segments.govern(t, min_n=5, max_halfwidth=40)["suppressed"].iloc[:3].any()


@pytest.mark.parametrize(("n", "sample"), [(600, 400), (300, 400), (700, 650)])
def test_silhouettes_score_as_silhouette_score(n: int, sample: int) -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    z = np.random.default_rng(3).integers(0, 11, (n, 5)).astype(float)
    labelings = [KMeans(k, n_init=2, random_state=2).fit_predict(z) for k in (2, 4)]
    lonely = labelings[0].copy()
    lonely[np.random.RandomState(2).permutation(n)[0]] = 7  # a cluster of one sampled row
    labelings.append(lonely)
    got = personas._silhouettes(z, labelings, sample, 2)
    assert got == [silhouette_score(z, lab, sample_size=min(sample, n), random_state=2)
                   for lab in labelings]  # exactly: the same sums in the same order


def test_personas_recover_planted_clusters() -> None:
    # three planted personas (well separated on different items), 300 respondents
    rng = np.random.default_rng(7)
    centres = np.array([[4.5, 4.5, 1.5, 1.5], [1.5, 1.5, 4.5, 4.5], [1.5, 4.5, 1.5, 4.5]])
    truth = np.repeat([0, 1, 2], 100)
    x = centres[truth] + rng.normal(0, 0.35, (300, 4))
    ltr = np.choose(truth, [np.full(300, 10.0), np.full(300, 3.0), np.full(300, 8.0)])
    df = pd.DataFrame(x, columns=list("abcd")).assign(ltr=ltr)
    from sklearn.metrics import adjusted_rand_score

    p = personas.find_personas(df, list("abcd"), options=personas.PersonaOptions(k_max=6, seeds=(0, 1, 2)))
    assert p.k == 3
    assert p.ari_min > 0.95
    assert adjusted_rand_score(truth, p.labels.to_numpy()) > 0.95
    # persona 1 = lowest NPS = planted detractors; persona 3 = promoters
    assert p.table.set_index("persona").loc[1, "nps"] == pytest.approx(-100.0)
    assert p.table.set_index("persona").loc[3, "nps"] == pytest.approx(100.0)
    assert p.profile.loc[3, "a"] > 1 and p.profile.loc[3, "c"] < -0.5
    assert p.structure.endswith("strong")   # well-separated planted blobs
    pb = personas.find_personas(df, list("abcd"),
                                options=personas.PersonaOptions(k_max=4, criterion="bic", seeds=(0,)))
    assert pb.k == 3


# --------------------------------------------------------------------------- planted truth (sample)
@pytest.fixture(scope="module")
def sample() -> dict:
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    resp = catalog.load("responses")
    return {"truth": truth, "resp": resp[resp["include"]], "inv": catalog.load("invitations"),
            "acc": catalog.load("accounts"), "cfg": config.load_segments()}


@needs_sample
def test_raking_moves_b2c_nps_to_planted_population_nps(sample: dict) -> None:
    cfg, truth = sample["cfg"], sample["truth"]["b2c_population_nps"]
    b2c = sample["resp"][sample["resp"]["market"] == "B2C"]
    w = selection.b2c_weights(b2c, cfg.b2c_margins, trim_lower=cfg.trim_lower,
                             trim_upper=cfg.trim_upper)
    eff = segments.weighting_effect(b2c, w).set_index("estimate_type")
    unw, wtd = eff.loc["unweighted"], eff.loc["weighted (raked)"]
    # the sample over-represents Online and 18-34 (lower LTR): weighting must move toward truth
    assert abs(wtd["nps"] - truth) < abs(unw["nps"] - truth) / 2
    assert wtd["ci_low"] <= truth <= wtd["ci_high"]
    assert not unw["ci_low"] <= truth <= unw["ci_high"]
    assert wtd["kish_deff"] > 1 and wtd["kish_n_eff"] < wtd["n"]
    # trimmed weights stay within bounds and still meet the population margins closely
    assert w.max() <= cfg.trim_upper * w.mean() * (1 + 1e-6)
    assert w.min() >= cfg.trim_lower * w.mean() * (1 - 1e-6)
    for wave, g in b2c.groupby("wave"):
        mt = weighting.margin_table(g, cfg.b2c_margins, w[g.index])
        gap = (mt["weighted_share"] - mt["population_share"]).abs().max()
        assert gap < 0.01, wave


@needs_sample
def test_response_rates_match_generator(sample: dict) -> None:
    inv = sample["inv"]
    overall = acct.response_rates(inv.assign(all="all"), "all").iloc[0]
    assert overall["rate"] / 100 == pytest.approx(sample["truth"]["b2b_response_rate"], abs=5e-5)
    # planted: decision makers answer less (logit -0.35) than users (+0.15)
    by_role = acct.response_rates(inv, "role").set_index("role")
    assert by_role.loc["decision_maker", "ci_high"] < by_role.loc["user", "ci_low"]
    # planted silent accounts (propensity -6) never answer; a few others may be fully excluded
    withheld = set(sample["truth"]["programme"]["withheld"]["accounts"])  # never surveyed at all
    never = set(sample["acc"]["account_id"]) - set(sample["resp"]["account_id"].dropna()) - withheld
    assert sample["truth"]["silent_accounts"] <= len(never) <= sample["truth"]["silent_accounts"] + 12


@needs_sample
def test_role_effect_and_account_views_on_sample(sample: dict) -> None:
    b2b = sample["resp"][sample["resp"]["market"] == "B2B"]
    by_role = segments.nps_by(b2b, "role", design=Design.from_frame(b2b, cluster="account_id")
                              ).set_index("role")["nps"]
    # planted role shift on LTR: decision_maker -0.3 < influencer 0 < user +0.25
    assert planted_model.ROLE_LTR["decision_maker"] < planted_model.ROLE_LTR["user"]
    assert by_role["decision_maker"] < by_role["user"]
    t = acct.account_nps(b2b, sample["acc"]).set_index("unit", append=True)
    assert (t["ci_low"] < t["estimate"]).all() and (t["estimate"] < t["ci_high"]).all()
    assert t.xs("responses", level="unit")["deff"].gt(1).all()   # contacts cluster in accounts


def test_wave_changes_flag_planted_shift_only() -> None:
    # segment "moved": 40 accounts x 2 waves, every contact detractor (3) then promoter (10);
    # segment "flat": identical score mix in both waves. Only "moved" may be significant.
    rng = np.random.default_rng(3)
    rows = []
    for seg, before, after in (("moved", 3.0, 10.0), ("flat", None, None)):
        for a in range(40):
            for wave in ("2026Q1", "2026Q2"):
                for _ in range(2):
                    if seg == "moved":
                        ltr = before if wave == "2026Q1" else after
                    else:
                        ltr = float(rng.choice([3, 8, 10]))
                    rows.append({"segment": seg, "account_id": f"{seg}{a}", "wave": wave, "ltr": ltr})
    df = pd.DataFrame(rows)
    for kw in ({"paired_unit": "account_id"}, {"design": Design.from_frame(df, cluster="account_id")}):
        ch = segments.wave_changes(df, "segment", **kw).set_index(["dimension", "segment"])
        assert ch.loc[("segment", "moved"), "change"] == pytest.approx(200.0)
        assert bool(ch.loc[("segment", "moved"), "significant"])
        assert not bool(ch.loc[("segment", "flat"), "significant"])
        assert (ch["p_adjusted"] >= ch["p_value"]).all()


def test_wave_change_intervals_stay_within_the_possible_range() -> None:
    """Three accounts answering twice with opposite moves: the t interval on 2 df is wider
    than NPS allows and is bounded at -200 / +200 (the point estimate and p unchanged)."""
    df = pd.DataFrame({"account_id": ["a", "a", "b", "b", "c", "c"],
                       "wave": ["2026Q1", "2026Q2"] * 3, "ltr": [0.0, 10, 10, 0, 0, 10]})
    row = segments.wave_changes(df, paired_unit="account_id").iloc[0]
    assert row["change"] == pytest.approx(200 / 3)
    assert row["ci_low"] == -200 and row["ci_high"] == 200
    assert 0 < row["p_value"] < 1


@needs_sample
def test_paired_wave_changes_equal_compare_paired_pair_by_pair(sample: dict) -> None:
    # the per-unit sufficient statistics (compare.paired_changes) give what compare_paired
    # gives on the selected rows of each segment and pair of waves, untested pairs included
    b2b = sample["resp"][(sample["resp"]["market"] == "B2B") & sample["resp"]["include"]]
    b2b = b2b.assign(tier=b2b["tier"].mask(b2b["account_id"].str.endswith("7"), pd.NA))
    ch = segments.wave_changes(b2b, ["tier", "role"], paired_unit="account_id")
    waves = sorted(b2b["wave"].unique())
    assert len(ch) == (1 + b2b["tier"].nunique() + b2b["role"].nunique()) * (len(waves) - 1)
    for r in ch.itertuples():
        g = b2b if r.dimension == "all" else b2b[b2b[r.dimension].astype(str) == r.segment]
        g = g[g["wave"].isin([r.wave_from, r.wave_to])]
        d = compare.compare_paired(g, "ltr", compare.Panel("account_id", "wave",
                                                           (r.wave_from, r.wave_to)))
        assert (r.change, r.se, r.ci_low, r.ci_high, r.p_value) == pytest.approx(
            (d.estimate, d.se, d.ci[0], d.ci[1], d.p), rel=1e-9, abs=1e-9)
        assert (r.n_from, r.n_to, r.n_units) == (d.n_a, d.n_b, d.n_units)
    one = b2b[b2b["account_id"] == b2b["account_id"].iloc[0]]
    lone = segments.wave_changes(one, paired_unit="account_id")
    assert lone["p_value"].isna().all() and lone["note"].str.contains("units responded").all()


def test_wave_changes_use_the_joint_design_covariance() -> None:
    # the same accounts answer in both waves (clusters shared): the independent-sample SE
    # ignores their positive covariance; the joint design (R svycontrast on svyby) does not
    rng = np.random.default_rng(11)
    mood = rng.choice([3.0, 10.0], 60)
    rows = [{"account_id": a, "wave": w, "tier": "SMB" if a % 2 else "Ent",
             "ltr": mood[a] if rng.random() < 0.8 else float(rng.integers(0, 11))}
            for a in range(60) for w in ("2026Q1", "2026Q2") for _ in range(2)]
    df = pd.DataFrame(rows)
    ch = segments.wave_changes(df, "tier", design=Design.from_frame(df, cluster="account_id")
                               ).set_index(["dimension", "segment"])
    allrow = ch.loc[("all", "all")]
    t = estimators.nps_table(df, "wave", design=Design.from_frame(df, cluster="account_id"),
                             covmat=True, ci="wald")
    d = compare.contrast(t, 0, 1)
    assert (allrow["change"], allrow["se"], allrow["p_value"]) == pytest.approx(
        (d.estimate, d.se, d.p))
    assert d.df == 59                                  # 60 accounts - 1 stratum
    a, b = df[df["wave"] == "2026Q1"], df[df["wave"] == "2026Q2"]
    ind = compare.compare_independent(a["ltr"], b["ltr"],
                                      a_design=Design.from_frame(a, cluster="account_id"),
                                      b_design=Design.from_frame(b, cluster="account_id"))
    assert ind.se > 1.5 * d.se                         # shared accounts: strongly correlated
    assert "joint design" in allrow["test"]


@needs_sample
def test_b2c_calibrated_headline_and_tables(sample: dict) -> None:
    # with the raking margins the variance uses the calibration residuals (R rake); the
    # estimate is unchanged and the segment table rows are domains of the same design
    cfg = sample["cfg"]
    data = selection.study(sample["resp"], schema.load(), cfg,
                           tables={"accounts": sample["acc"], "invitations": sample["inv"]})
    assert data.raking_margins() == cfg.b2c_margins
    now = data.now(data.b2c)
    plain = headline.headline(now, data.schema.measures, Design.from_frame(now, weights="weight")
                              ).set_index("metric")
    cal = headline.market_headline(data).set_index(["market", "metric"])
    assert cal.loc[("B2C", "nps"), "estimate"] == pytest.approx(plain.loc["nps", "estimate"])
    assert cal.loc[("B2C", "nps"), "se"] != pytest.approx(plain.loc["nps", "se"])
    design = data.design("B2C", now)
    seg = segments.market_segments(data)
    row = seg[(seg["market"] == "B2C") & (seg["dimension"] == "channel")].iloc[0]
    r = estimators.nps(now["ltr"], design=design, domain=(now["channel"] == row["segment"]))
    assert (row["nps"], row["se"], row["df"]) == pytest.approx((r.nps, r.se, r.df))


def test_segment_tables_suppress_small_cells() -> None:
    df = pd.DataFrame({"tier": ["SMB"] * 60 + ["Enterprise"] * 6,
                       "ltr": [10.0, 9.0, 8.0, 3.0] * 15 + [10.0] * 6})
    t = segments.segment_tables(df, ["tier"], min_n=10).set_index("segment")
    assert t.loc["Enterprise", "suppressed"] and t.loc["Enterprise", "reason"] == "n=6 < 10"
    assert not t.loc["SMB", "suppressed"]
    assert t.loc["SMB", "nps"] == pytest.approx(25.0)   # (30 - 15) / 60


@needs_sample
def test_no_b2c_wave_change_survives_fdr(sample: dict) -> None:
    # the generator draws every B2C wave from the same population (no wave effect planted):
    # any B2C "change" is a false discovery, so none may survive Benjamini-Hochberg
    cfg = sample["cfg"]
    resp = sample["resp"]
    data = selection.study(resp, schema.load(), cfg, tables={"accounts": sample["acc"],
                                                             "invitations": sample["inv"]})
    ch = segments.wave_changes(data.b2c, schema.load().segment_fields("B2C"),
                               design=Design.from_frame(data.b2c, weights="weight"))
    assert len(ch) >= 30 and not ch["significant"].any()
    head = headline.market_headline(data).set_index(["market", "metric"])
    truth = sample["truth"]["b2c_population_nps"]
    assert head.loc[("B2C", "nps"), "ci_low"] <= truth <= head.loc[("B2C", "nps"), "ci_high"]
    m = headline.headline_metrics(head.reset_index(), ch)
    assert m["nps_b2c"]["n"] == int((data.now(data.b2c)["ltr"].notna()).sum())
    assert m["changes_tested"] == int(ch["p_value"].notna().sum())


# --------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.one_of(st.floats(0, 60), st.just(float("nan")))), min_size=1,
                max_size=20), st.integers(1, 30), st.floats(1, 50))
def test_govern_suppresses_exactly_small_or_wide_cells(cells, min_n: int, max_half: float) -> None:
    n = [c[0] for c in cells]
    half = np.array([c[1] for c in cells])
    t = pd.DataFrame({"n": n, "ci_low": -half, "ci_high": half})
    g = segments.govern(t, min_n=min_n, max_halfwidth=max_half)
    expected = (np.array(n) < min_n) | np.isnan(half) | (half > max_half)
    assert g["suppressed"].tolist() == expected.tolist()
    assert ((g["reason"] != "") == g["suppressed"]).all()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=3, max_size=30))
def test_one_contact_per_account_makes_the_three_ways_agree(ltr: list[int]) -> None:
    # with one (decision-maker) response per account, all three definitions coincide
    df = pd.DataFrame({"account_id": [f"A{i}" for i in range(len(ltr))],
                       "role": "decision_maker", "ltr": np.array(ltr, float)})
    t = acct.account_nps(df)
    first3 = t["estimate"].iloc[:3].to_numpy()
    assert np.allclose(first3, first3[0])
    expected = 100 * (np.mean(np.array(ltr) >= 9) - np.mean(np.array(ltr) <= 6))
    assert first3[0] == pytest.approx(expected)


def test_headline_labels_follow_the_schema_scales() -> None:
    """A 0-10 satisfaction question's top-2 box is 9-10, and the label reaches the run metrics."""
    df = pd.DataFrame({"ltr": [10, 9, 8, 3, 10, 7] * 10, "csat": [10, 9, 8, 2, 10, 6] * 10,
                       "ces": [7, 6, 5, 2, 7, 4] * 10})
    measures = [Measure.define("ltr", scale=(0, 10), rule="nps"),
                Measure.define("csat", scale=(0, 10), rule="top_box", name="CSAT"),
                Measure.define("ces", scale=(1, 7), rule="agree", name="CES")]
    m = headline.headline_metrics(headline.headline(df, measures, Design(len(df))).assign(market="B2C"))
    assert m["csat_top2_b2c"]["label"] == "CSAT % top-2 box (9-10)"
    assert m["csat_top2_b2c"]["estimate"] == pytest.approx(50.0)   # 10, 9, 10 of six answers
    assert m["ces_agree_b2c"]["label"] == "CES % agree (5-7)"
