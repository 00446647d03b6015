"""Tests for helpers.integrity: published values, planted truth (own simulation and the sample)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import catalog, paths
from helpers.analysis import integrity, integrity_checks
from helpers.errors import DataError
from helpers.ingest import clean, schema
from helpers.measures import Measure
from helpers.reporting import chart_text, integrity_charts
from helpers.sample import program, writers

ITEMS = [f"item_{j}" for j in range(6)]
REFERENCE = paths.PROJECT_ROOT / "tests" / "data" / "reference"


def simulate(
    gaming: tuple[str, ...] = ("R03", "R11"),
    happy: tuple[str, ...] = (),
    n_reps: int = 16,
    accounts_per_rep: int = 14,
    seed: int = 0,
) -> pd.DataFrame:
    """Small B2B programme: LTR driven by six 1-5 items; gaming reps pressure half of their
    customers into a 10 (touching them the day before, some answered from the rep's device),
    leaving the experience ratings and comments as they were. `happy` reps have customers with
    a genuinely better experience (higher ratings and scores, no gaming)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-10-01")
    reps = np.array([f"R{r + 1:02d}" for r in range(n_reps)])
    acc_rep = np.repeat(reps, accounts_per_rep)
    acc_id = np.char.add(np.char.add(acc_rep, "-A"),
                         np.tile(np.arange(accounts_per_rep), n_reps).astype(str))
    acc_u = rng.normal(0.0, 0.6, len(acc_rep)) + np.where(np.isin(acc_rep, happy), 1.2, 0.0)
    per_acc = rng.integers(4, 11, len(acc_rep))
    ai = np.repeat(np.arange(len(acc_rep)), per_acc)
    n = len(ai)
    latent = acc_u[ai] + rng.normal(0, 0.7, n)
    items = np.clip(np.round(3.2 + 0.9 * (latent[:, None] + rng.normal(0, 0.5, (n, 6)))), 1, 5)
    mean_item = items.mean(axis=1)
    ltr = np.clip(np.round(7.0 + 1.6 * (mean_item - 3.2) + rng.normal(0, 1.2, n)), 0, 10)
    sub = start + pd.to_timedelta(rng.uniform(0, 60, n), unit="D")
    touch = sub - pd.to_timedelta(rng.exponential(12, n), unit="D")
    ip = np.array([f"ip{v}" for v in rng.integers(1e12, size=n)], dtype=object)
    pressured = np.isin(acc_rep[ai], gaming) & (rng.random(n) < 0.5)
    ltr = np.where(pressured, 10.0, ltr)
    touch = touch.where(~pressured, sub - pd.to_timedelta(rng.uniform(2, 30, n), unit="h"))
    laptop = pressured & (rng.random(n) < 0.3)
    ip[laptop] = np.char.add("ip-", acc_rep[ai][laptop]).astype(object)
    comment = np.where(mean_item < 2.9, "onboarding was a mess and support was slow",
                       np.where(mean_item > 3.6, "great team, very helpful", ""))
    return pd.DataFrame({
        "response_id": [f"resp{i}" for i in range(n)], "market": "B2B", "wave": "2025Q4",
        "rep_id": acc_rep[ai], "account_id": acc_id[ai], "ltr": ltr,
        **{c: items[:, j] for j, c in enumerate(ITEMS)}, "comment": comment,
        "submitted_at": sub, "last_rep_touch_at": touch,
        "deal_close_date": start - pd.to_timedelta(rng.uniform(60, 700, len(acc_rep))[ai], unit="D"),
        "ip_key": ip, "contact_key": [f"c{i}" for i in range(n)], "include": True,
        "flag_test": False,
    })


@pytest.fixture(scope="module")
def gamed() -> pd.DataFrame:
    return simulate()


@pytest.fixture(scope="module")
def gamed_evidence(gamed: pd.DataFrame) -> pd.DataFrame:
    return integrity.evidence(gamed, ITEMS)


# --- published values ---------------------------------------------------------------------------

def test_clustered_mean_reproduces_r_survey_apiclus1() -> None:
    """R survey: svymean(~api00, svydesign(id=~dnum, weights=~pw, fpc=~fpc)) = 644.17, SE 23.542.

    apiclus1 has equal weights, so the design-based SE is the CR1 cluster-robust SE times the
    finite-population correction sqrt(1 - 15/757) (15 of 757 districts sampled).
    """
    api = pd.read_csv(REFERENCE / "apiclus1.csv")
    mean, se, dof = integrity_checks.clustered_mean(api["api00"].to_numpy(), api["dnum"].to_numpy())
    assert mean == pytest.approx(644.17, abs=0.005)
    assert se * np.sqrt(1 - 15 / 757) == pytest.approx(23.542, abs=0.001)
    assert dof == 14


def test_clustered_mean_without_clusters_is_the_textbook_se() -> None:
    y = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])  # mean 5, sample sd 2.138
    mean, se, dof = integrity_checks.clustered_mean(y, None)
    assert mean == 5.0
    assert se == pytest.approx(2.13809 / np.sqrt(8), rel=1e-4)
    assert dof == 7



def test_rate_vs_peers_equals_the_grouped_sums_of_its_definition(gamed: pd.DataFrame) -> None:
    """The coded fast path gives what the per-rep, per-account groupby of its definition gives
    (a missing account is one cluster; a missing event is not eligible)."""
    d = gamed.assign(account_id=gamed["account_id"].where(np.arange(len(gamed)) % 17 != 0),
                     e=(gamed["ltr"] == 10).astype(float).where(np.arange(len(gamed)) % 23 != 0))
    out = integrity_checks.rate_vs_peers(d["rep_id"], d["e"], "share_10", "x", cluster=d["account_id"])
    ok = d[d["e"].notna()].assign(c=lambda x: x["account_id"].fillna("no account"))
    cs = ok.groupby(["rep_id", "c"])["e"].agg(["sum", "size"]).reset_index()
    per = cs.assign(s2=cs["sum"] ** 2, sm=cs["sum"] * cs["size"], m2=cs["size"] ** 2).groupby("rep_id")[
        ["s2", "sm", "m2"]].sum().assign(G=cs.groupby("rep_id").size())
    k, n = ok.groupby("rep_id")["e"].sum(), ok.groupby("rep_id")["e"].size()
    rate = k / n
    cr1 = per["G"] / (per["G"] - 1) * (per["s2"] - 2 * rate * per["sm"] + rate**2 * per["m2"]) / n**2
    got = out.set_index("rep_id")
    assert got["k"].tolist() == k.tolist() and got["n"].tolist() == n.tolist()
    assert np.allclose(got["se"], np.sqrt(np.maximum(cr1, got["shrunk"] * (1 - got["shrunk"]) / n)),
                       rtol=1e-12)
    assert np.allclose(got["peer"], (k.sum() - k) / (n.sum() - n), rtol=1e-12)


def test_ltr_model_leaves_each_rep_out_as_its_definition_says(gamed: pd.DataFrame) -> None:
    fit = integrity_checks.fit_ltr_model(gamed, ITEMS, exclude=["R01"])
    x = np.column_stack([np.ones(len(gamed)), gamed[ITEMS].fillna(gamed[ITEMS].mean()).to_numpy(float)])
    y, reps = gamed["ltr"].to_numpy(float), gamed["rep_id"].astype(str).to_numpy()
    train = reps != "R01"
    for r in np.unique(reps):
        m = reps == r
        fit_on = train & ~m if r != "R01" else train
        beta = np.linalg.lstsq(x[fit_on].T @ x[fit_on], x[fit_on].T @ y[fit_on], rcond=None)[0]
        assert np.allclose(fit["predicted"].to_numpy()[m], x[m] @ beta, rtol=1e-9, atol=1e-9), r

# --- planted truth in a small simulation --------------------------------------------------------

def test_gaming_reps_flagged_and_no_one_else(gamed_evidence: pd.DataFrame) -> None:
    audit = integrity.integrity_index(gamed_evidence)
    flagged = set(audit.loc[audit["flagged"], "rep_id"])
    assert {"R03", "R11"} <= flagged
    assert len(flagged - {"R03", "R11"}) <= 1
    assert list(audit["rep_id"][:2]) in (["R03", "R11"], ["R11", "R03"])
    assert audit["rank"].tolist() == list(range(1, len(audit) + 1))


def test_residual_recovers_planted_inflation(gamed: pd.DataFrame,
                                             gamed_evidence: pd.DataFrame) -> None:
    """Half the gaming reps' responses were set to 10: the mean residual equals the mean of
    (10 - honest LTR) over them, about 0.5 * (10 - 7) = 1.5 points; honest reps scatter near 0."""
    res = gamed_evidence.loc[gamed_evidence["check"] == "ltr_residual"].set_index("rep_id")
    honest = gamed.loc[~gamed["rep_id"].isin(["R03", "R11"])]
    for rep in ("R03", "R11"):
        assert res.loc[rep, "ci_low"] > 0.5
        assert res.loc[rep, "estimate"] == pytest.approx(1.5, abs=0.6)
    others = res.drop(index=["R03", "R11"])
    assert others["estimate"].abs().max() < 0.6
    # the honest reps' CIs cover the truth 0 at about the nominal rate (>= 12 of 14)
    assert ((others["ci_low"] <= 0) & (others["ci_high"] >= 0)).sum() >= 12
    assert honest["rep_id"].nunique() == len(others)


def test_a_satisfaction_programme_is_checked_on_its_headline(gamed: pd.DataFrame) -> None:
    """Without the LTR (a 1-5 CSAT headline, the pressured answers a 5) the score checks run on
    the headline's answers: its top-box share replaces the NPS-only share of 10s and 9-10s, and
    the same planted reps are flagged."""
    csat = Measure.define("csat", scale=(1, 5), rule="top_box", name="CSAT")
    sat = gamed.assign(csat=np.clip(np.round(1 + 0.4 * gamed["ltr"]), 1, 5)).drop(columns="ltr")
    ev = integrity.evidence(sat, ITEMS, measure=csat)
    assert {"share_top", "ltr_residual", "tone_contradiction"} <= set(ev["check"])
    assert not {"share_10", "share_9_10"} & set(ev["check"])
    share = ev.loc[ev["check"] == "share_top"].set_index("rep_id")
    assert share.loc[["R03", "R11"], "fail"].all() and "of answers are 4-5" in share.loc["R03", "reason"]
    audit = integrity.integrity_index(ev)
    flagged = set(audit.loc[audit["flagged"], "rep_id"])
    assert {"R03", "R11"} <= flagged and len(flagged - {"R03", "R11"}) <= 1


def test_gaming_off_flags_at_most_one_rep() -> None:
    ev = integrity.evidence(simulate(gaming=(), seed=1), ITEMS)
    assert integrity.integrity_index(ev)["flagged"].sum() <= 1


def test_happy_customers_are_not_gaming() -> None:
    """A rep whose customers rate the experience better collects more 10s (distribution check
    fails) but the ratings explain the scores, so they are not flagged."""
    ev = integrity.evidence(simulate(gaming=(), happy=("R05",), seed=3), ITEMS)
    share = ev.loc[(ev["check"] == "share_9_10")].set_index("rep_id")
    assert share["estimate"].idxmax() == "R05"
    audit = integrity.integrity_index(ev).set_index("rep_id")
    assert not audit.loc["R05", "flagged"]
    resid = ev.loc[ev["check"] == "ltr_residual"].set_index("rep_id")
    assert resid.loc["R05", "ci_low"] < 0 < resid.loc["R05", "ci_high"]


def test_small_rep_not_flagged_by_chance() -> None:
    """A rep with 6 responses, 3 of them 10s (50% vs ~10% for peers), tops the raw ranking but
    shrinkage and FDR keep the check from failing."""
    df = simulate(gaming=(), seed=4)
    small = df.loc[df["rep_id"] == "R02"].head(6).copy()
    small["ltr"] = [10.0, 10.0, 10.0, 8.0, 7.0, 6.0]
    df = pd.concat([df.loc[df["rep_id"] != "R02"], small], ignore_index=True)
    ev = integrity_checks.score_share_evidence(df, 10)
    row = ev.set_index("rep_id").loc["R02"]
    assert row["estimate"] == ev["estimate"].max()
    assert row["shrunk"] < row["estimate"]
    assert not row["fail"]


def test_reasons_are_plain_words(gamed_evidence: pd.DataFrame) -> None:
    audit = integrity.integrity_index(gamed_evidence).set_index("rep_id")
    why = audit.loc["R03", "reasons"]
    assert "points above what their customers' experience ratings predict" in why
    assert "for peers" in why and "q" in why
    assert "within 2 days of a rep touchpoint" in why


def test_repeated_keys_counts_only(gamed: pd.DataFrame, gamed_evidence: pd.DataFrame) -> None:
    keys = gamed_evidence.loc[gamed_evidence["check"] == "repeated_keys"].set_index("rep_id")
    assert keys.loc["R03", "k"] > 0 and keys.drop(index=["R03", "R11"])["k"].sum() == 0
    shown = " ".join(map(str, gamed_evidence.to_numpy().ravel()))
    assert "ip-" not in shown and not any(k in shown for k in gamed["ip_key"].head(50))
    hit = integrity_checks.repeated_keys(pd.DataFrame({
        "wave": ["Q1", "Q1", "Q2", "Q2"], "ip_key": ["a", "a", "a", None],
        "contact_key": ["x", "y", "x", None]}))
    assert hit.tolist() == [True, True, False, False]


def test_tone_contradiction_uses_text_tone(gamed_evidence: pd.DataFrame) -> None:
    tone = gamed_evidence.loc[gamed_evidence["check"] == "tone_contradiction"].set_index("rep_id")
    assert tone.loc[["R03", "R11"], "estimate"].min() > tone.drop(index=["R03", "R11"])[
        "estimate"].max()


def test_timing_quarter_end_window() -> None:
    df = pd.DataFrame({"rep_id": ["R1"] * 4 + ["R2"] * 4,
                       "submitted_at": pd.to_datetime(["2025-03-18 00:00", "2025-03-31 23:00",
                                                       "2025-06-16 12:00", "2025-06-17 00:00"] * 2)})
    ev = integrity_checks.timing_evidence(df).set_index("rep_id")
    assert ev.loc["R1", "check"] == "timing_quarter_end"
    assert ev.loc["R1", "k"] == 3  # Mar 18, Mar 31 and Jun 17 fall in the last 14 days; Jun 16 not


# --- outputs ------------------------------------------------------------------------------------

def test_pseudonyms_stable_and_beyond_z() -> None:
    ids = [f"R{i:02d}" for i in range(30)]
    names = integrity.pseudonyms(ids)
    assert names["R00"] == "Rep A" and names["R25"] == "Rep Z" and names["R26"] == "Rep AA"
    assert len(set(names.values())) == 30
    assert integrity.pseudonyms(ids) == names


def test_write_flags_keeps_ids(tmp_path, gamed_evidence: pd.DataFrame) -> None:
    audit = integrity.integrity_index(gamed_evidence)
    audit["pseudonym"] = audit["rep_id"].map(integrity.pseudonyms(audit["rep_id"]))
    p = integrity.write_flags(audit, tmp_path)
    back = pd.read_csv(p)
    assert p.name == "integrity_flags.csv"
    assert {"rep_id", "flagged", "score", "reasons"} <= set(back.columns)
    assert "pseudonym" not in back and back["flagged"].dtype == bool
    assert back["rep_id"].tolist() == audit["rep_id"].tolist()


def test_nps_with_without(gamed: pd.DataFrame) -> None:
    out = integrity.with_without(gamed, ["R03", "R11"]).set_index("label")
    honest = gamed.loc[~gamed["rep_id"].isin(["R03", "R11"]), "ltr"]
    truth = 100 * ((honest >= 9).mean() - (honest <= 6).mean())
    assert out.loc["without flagged reps", "estimate"] == pytest.approx(truth)
    assert out.loc["all responses", "estimate"] > out.loc["without flagged reps", "estimate"]
    assert out.loc["without flagged reps", "n"] == len(honest)
    assert (out["ci_low"] < out["estimate"]).all() and (out["estimate"] < out["ci_high"]).all()


def test_with_without_in_the_headline_of_a_satisfaction_programme(gamed: pd.DataFrame) -> None:
    """CSAT % top-2 box with and without the flagged reps: the shares of 4-5 answers by hand,
    named as the statistic (no NPS)."""
    csat = Measure.define("csat", scale=(1, 5), rule="top_box", name="CSAT")
    sat = gamed.assign(csat=np.clip(np.round(1 + 0.4 * gamed["ltr"]), 1, 5)).drop(columns="ltr")
    out = integrity.with_without(sat, ["R03", "R11"], csat)
    honest = sat.loc[~sat["rep_id"].isin(["R03", "R11"]), "csat"]
    got = out.set_index("label")["estimate"]
    assert got["all responses"] == pytest.approx(100 * (sat["csat"] >= 4).mean())
    assert got["without flagged reps"] == pytest.approx(100 * (honest >= 4).mean())
    assert out.attrs["statistic"]["key"] == "csat_top2" and out.attrs["ci_method"] == "logit"
    assert (out["ci_low"] >= 0).all() and (out["ci_high"] <= 100).all()
    metrics = integrity.headline_metrics(integrity.integrity_index(integrity.evidence(
        sat, ITEMS, measure=csat)), out)
    assert {"csat_top2_all", "csat_top2_without_flagged"} <= set(metrics)
    assert not any("nps" in k for k in metrics)
    ax = integrity_charts.with_without(out, min_n=5)
    title = "".join(ax.get_title(loc) for loc in ("left", "center", "right"))  # house style: left
    assert "CSAT" in title and "NPS" not in title + ax.get_xlabel()


def test_bad_data_raises_data_error() -> None:
    with pytest.raises(DataError, match="rep_id"):
        integrity.evidence(pd.DataFrame({"market": ["B2B"], "ltr": [9.0]}), ITEMS)
    with pytest.raises(DataError, match="ltr"):
        integrity_checks.ltr_residual_evidence(pd.DataFrame({"rep_id": ["R1"], "ltr": [9.0],
                                                      "item_0": [3.0]}), ["item_0"])


# --- planted truth in the generated sample ------------------------------------------------------

def _audit(responses: pd.DataFrame) -> pd.DataFrame:
    return integrity.integrity_index(integrity.evidence(responses, schema.load().driver_items("B2B")))


def test_sample_gaming_reps_recovered() -> None:
    """data/raw/truth.json gaming_reps: every one flagged, at most one other rep flagged."""
    try:
        truth = catalog.load_json("truth")
        responses = catalog.load("responses")
    except DataError:
        pytest.skip("no generated sample yet (run `cx sample` and `cx clean`)")
    audit = _audit(responses)
    flagged = set(audit.loc[audit["flagged"], "rep_id"])
    gaming = set(truth["gaming_reps"])
    assert gaming and gaming <= flagged
    assert len(flagged - gaming) <= 1


def test_generated_sample_without_gaming_flags_at_most_one(tmp_path) -> None:
    sample = program.generate(rows=2000, seed=11, gaming=False, market_data=False)
    assert sample.truth["gaming_reps"] == []
    writers.write(sample, tmp_path / "raw")
    responses = clean.run(tmp_path / "raw" / "survey_export.csv",
                          out_dir=tmp_path / "processed").responses
    assert _audit(responses)["flagged"].sum() <= 1


def test_leadership_outputs_never_show_rep_ids(gamed_evidence: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    audit = integrity.integrity_index(gamed_evidence)
    names = integrity.pseudonyms(audit["rep_id"])
    flagged = audit.loc[audit["flagged"], "rep_id"].tolist()
    table = integrity.leadership_table(audit, names)
    assert table["Rep"].tolist()[:2] == ["Rep A", "Rep B"]
    assert not table.astype(str).apply(lambda c: c.str.contains(r"\bR\d\d\b")).any().any()
    ax = integrity_charts.rate_funnel(gamed_evidence, "share_10", names, flagged)
    labels = [t.get_text() for t in ax.texts]
    assert "Rep A" in labels and not any(t.startswith("R0") or t.startswith("R1") for t in labels)
    assert f"n={int(audit['n'].sum()):,}" in chart_text.title_of(ax)  # wherever the theme puts it
    ax = integrity_charts.predicted_vs_given(gamed_evidence, names, flagged)
    assert {"Rep A", "Rep B"} <= {t.get_text() for t in ax.texts}
    checks = integrity.check_table(gamed_evidence, names)
    assert checks.index[0] == "Rep A" and "ltr_residual" in checks and len(checks) == 16
    metrics = integrity.headline_metrics(audit, integrity.with_without(
        simulate(), flagged))
    assert metrics["reps_flagged"] == {"estimate": len(flagged), "n": 16}
    assert {"estimate", "se", "ci_low", "ci_high", "n"} <= set(metrics["nps_without_flagged"])


def test_consistent_evidence_route_uses_fisher_combination() -> None:
    """Rep X: three families each nominally off (p .01/.02/.03), none surviving BH on its own;
    Fisher's combination (scipy.stats.combine_pvalues as the reference) flags X. Rep Y has one very
    strong family only (happy customers) and is not flagged."""
    from scipy.stats import combine_pvalues

    fams = ["distribution", "ratings", "tone"]
    checks = ["share_10", "ltr_residual", "tone_contradiction"]
    rows = []
    for rep, ps in (("X", [0.01, 0.02, 0.03]), ("Y", [1e-6, 0.6, 0.7])):
        for check, fam, p in zip(checks, fams, ps, strict=True):
            rows.append({"rep_id": rep, "check": check, "family": fam, "n": 50, "p": p,
                         "z": float(integrity_checks._z(np.array([p]))[0]), "q": 0.2 if rep == "X"
                         else (0.01 if p < 1e-3 else 0.8), "fail": rep == "Y" and p < 1e-3,
                         "reason": f"{check} of {rep}"})
    audit = integrity.integrity_index(pd.DataFrame(rows)).set_index("rep_id")
    p_x = combine_pvalues([0.01, 0.02, 0.03], method="fisher").pvalue
    assert p_x == pytest.approx(0.000512, abs=2e-6)
    # Y's combination is even smaller (one huge family), so X ranks 2nd of 2: BH q = p * 2/2
    assert audit.loc["X", "q_combined"] == pytest.approx(p_x, rel=1e-3)
    assert audit.loc["Y", "q_combined"] < 0.05  # ...but one kind of evidence never flags
    assert audit.loc["X", "flagged"] and audit.loc["X", "families_nominal"] == 3
    assert "3 kinds of evidence point the same way" in audit.loc["X", "reasons"]
    assert not audit.loc["Y", "flagged"] and audit.loc["Y", "families_failed"] == 1
