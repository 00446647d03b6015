"""Score-integrity checks: evidence that a rep's (account team's) NPS is gamed or pressured.

When NPS becomes a target, some reps beg for 10s, pick friendly contacts or trade concessions for
scores. Each check below compares one rep with their peers and returns a tidy per-rep frame with
the same columns (:data:`EVIDENCE_COLUMNS`), so checks stack into one long table:

- ``share_10`` / ``share_9_10``: share of 10s and of 9-10s, beta-binomial empirical-Bayes shrunk
  (a rep with 6 responses is pulled towards the pooled rate) and Benjamini-Hochberg adjusted;
- ``share_top``: in a programme without the LTR, the share of answers in the headline measure's
  top box (or agree) range, the same way (the NPS-only "asked for a 10" check does not apply);
- ``ltr_residual``: LTR (or the headline measure's answer) given minus LTR predicted from the same respondent's experience ratings
  (leave-rep-out linear model), averaged per rep with an account-clustered CI, tested against 0;
- ``tone_contradiction``: 9-10 scores that come with a negative-tone comment;
- ``timing_touch`` / ``timing_close`` / ``timing_quarter_end``: responses bunched right after a
  rep touchpoint, after the deal close, or in the last two weeks of a quarter;
- ``repeated_keys``: responses whose hashed IP or contact key recurs in the same wave (counts
  only: the keys themselves are never returned).

:mod:`helpers.analysis.integrity` combines them into flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from helpers.analysis import text
from helpers.errors import ArgumentError, ThinData, require_columns
from helpers.measures import Measure
from helpers.stats import compare, shrinkage
from helpers.stats.arrays import norm_ppf, t_ppf, t_sf

#: Columns of every evidence frame (one row per rep and check).
EVIDENCE_COLUMNS: list[str] = [
    "rep_id", "check", "family", "n", "k", "estimate", "peer", "shrunk", "se", "ci_low",
    "ci_high", "p", "q", "z", "fail", "reason",
]


#: check -> family. Checks in one family use the same evidence and count once towards a flag.
FAMILIES: dict[str, str] = {
    "share_10": "distribution",
    "share_9_10": "distribution",
    "share_top": "distribution",
    "ltr_residual": "ratings",
    "tone_contradiction": "tone",
    "timing_touch": "timing",
    "timing_close": "timing",
    "timing_quarter_end": "timing",
    "repeated_keys": "keys",
    "concession_lift": "concessions",
}

_Z_CAP = 8.0  # z-scores beyond this add nothing (p below 1e-15 is not more informative)


# --- shared machinery ---------------------------------------------------------------------------


def _z(p: pd.Series | np.ndarray) -> np.ndarray:
    """One-sided p-value -> z-score (positive = in the gaming direction), capped."""
    pv = np.clip(np.asarray(p, dtype=float), 1e-300, 1.0)
    return np.clip(-norm_ppf(pv), -_Z_CAP, _Z_CAP)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _q(q: float) -> str:
    return "q<0.001" if q < 0.001 else f"q={q:.3f}"


def _finish(out: pd.DataFrame, check: str, alpha: float) -> pd.DataFrame:
    """BH-adjust the one-sided p-values across reps, add z and the fail flag, order columns."""
    out = out.copy()
    out["check"] = check
    out["family"] = FAMILIES[check]
    out["p"] = out["p"].fillna(1.0).clip(0.0, 1.0)
    out["q"] = compare.bh_adjust(out["p"].to_numpy(float))["p_adjusted"].to_numpy(float)
    out["z"] = _z(out["p"])
    out["fail"] = out["q"] < alpha
    for c in EVIDENCE_COLUMNS:
        if c not in out:
            out[c] = np.nan
    return out[EVIDENCE_COLUMNS].sort_values("rep_id", ignore_index=True)


def finish_evidence(out: pd.DataFrame, check: str, alpha: float) -> pd.DataFrame:
    """A check defined elsewhere (e.g. :mod:`helpers.analysis.concessions`) finished like these:
    BH q-values across reps, z, fail flag, :data:`EVIDENCE_COLUMNS` in order."""
    return _finish(out, check, alpha)


def rate_vs_peers(
    rep: pd.Series,
    event: pd.Series,
    check: str,
    describe: str,
    alpha: float = 0.05,
    cluster: pd.Series | None = None,
) -> pd.DataFrame:
    """Per-rep rate of a yes/no event against peers: EB shrinkage, clustered one-sided test, BH.

    Parameters
    ----------
    rep : rep id per response.
    event : bool (or 0/1) per response; NaN rows are not eligible and are left out.
    check : name of the check (a key of :data:`FAMILIES`).
    describe : plain-words event for the reason, e.g. "of scores are 10".
    alpha : false-discovery rate at which the check fails.
    cluster : account per response (contacts of one account answer alike and may share an office
        IP); None treats responses as independent.

    Returns
    -------
    Evidence frame: ``estimate`` = raw rate, ``peer`` = pooled rate of all other reps,
    ``shrunk`` / ``ci_low`` / ``ci_high`` = beta-binomial empirical-Bayes rate and its 95%
    interval (:func:`helpers.stats.shrinkage.eb_rates`), ``p`` = one-sided p-value of rate > peer rate,
    ``q`` = BH q-value across reps.

    Notes
    -----
    The test is a two-sample comparison of the rep's rate with the peers' pooled rate, each with
    an account-clustered (CR1) variance, t with G_rep - 1 degrees of freedom. The rep's variance
    is floored at the binomial variance of their shrunk rate, so a rep with a handful of identical
    answers (6 responses, all 10) is not certain of anything. Why not the beta-binomial predictive
    p-value of eb_rates: its prior is fitted on all reps, and two or three gaming reps widen the
    fitted spread so much that they hide one another (masking).
    """
    r, names, e, c = _eligible(rep, event, cluster, check)
    k = np.bincount(r, weights=e, minlength=len(names))
    n = np.bincount(r, minlength=len(names)).astype(float)
    eb = _eb(k, n)
    test = _peer_test(r, c, e, k, n, eb["shrunk"])
    out = pd.DataFrame({
        "rep_id": names, "n": n.astype(int), "k": k.astype(int),
        "estimate": test["estimate"], "peer": test["peer"], "shrunk": eb["shrunk"],
        "ci_low": eb["ci_low"], "ci_high": eb["ci_high"], "se": test["se"], "p": test["p"],
    })
    out = _finish(out, check, alpha)
    out["reason"] = [
        f"{_pct(r.estimate)} {describe} vs {_pct(r.peer)} for peers "
        f"(shrunk {_pct(r.shrunk)}, {r.k} of {r.n}, {_q(r.q)})"
        for r in out.itertuples()
    ]
    return out


def rep_codes(rep: pd.Series | np.ndarray, keep: np.ndarray | None = None
              ) -> tuple[np.ndarray, pd.Index]:
    """Each kept row's rep as a code into the reps' ids as text, sorted (the reps with a kept
    row only; -1 for a row without a rep): one pass over the ids, no text copy of every row."""
    codes, uniq = pd.factorize(rep)
    if keep is not None:
        codes = np.where(keep, codes, -1)
    used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(uniq)))
    fine, names = pd.factorize(pd.Index(uniq).take(used).astype(str), sort=True)
    remap = np.full(len(uniq) + 1, -1, dtype=np.int64)
    remap[used] = fine
    return remap[codes], pd.Index(names, dtype=object)


def _eligible(rep: pd.Series, event: pd.Series, cluster: pd.Series | None, check: str
              ) -> tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray]:
    """Responses with a rep and an event: their rep codes into the sorted rep ids (text), the
    event (0/1) and the cluster code (a missing cluster is one cluster, as its text was)."""
    e = pd.to_numeric(pd.Series(event), errors="coerce").to_numpy(float, na_value=np.nan)
    c = (pd.factorize(cluster, use_na_sentinel=False)[0] if cluster is not None
         else np.arange(len(e)))
    keep = ~np.isnan(e)
    r, names = rep_codes(rep, keep)
    keep &= r >= 0
    if not keep.any():
        raise ThinData(f"no eligible responses for the {check} check", file="responses",
                       expected="responses with a rep_id and the fields the check needs")
    return r[keep], names, e[keep], np.asarray(c)[keep]


def _peer_test(r: np.ndarray, c: np.ndarray, e: np.ndarray, k: np.ndarray, n: np.ndarray,
               shrunk: np.ndarray) -> dict[str, np.ndarray]:
    """Each rep's rate against the other reps' pooled rate (the test in :func:`rate_vs_peers`).

    Eligible responses' rep codes `r`, cluster codes `c` and events `e`; `k` events of `n`
    responses per rep code; returns the rate (estimate), the peer rate, the rep's standard
    error (se) and the one-sided p-value (p).
    """
    # cluster sums s (events) and m (responses) per rep and account, then per-rep sums of them
    r, c = r.astype(np.int64), c.astype(np.int64)
    pairs, at = np.unique(r * (int(c.max()) + 1) + c, return_inverse=True)
    s, m = np.bincount(at, weights=e), np.bincount(at).astype(float)
    rep_of, size = pairs // (int(c.max()) + 1), len(k)
    s2, sm, m2 = (np.bincount(rep_of, weights=v, minlength=size) for v in (s**2, s * m, m**2))
    gr = np.bincount(rep_of, minlength=size).astype(float)
    rate = k / n
    n_o, k_o, g_o = n.sum() - n, k.sum() - k, gr.sum() - gr
    peer = np.divide(k_o, n_o, out=np.full_like(k, np.nan), where=n_o > 0)
    var_r = np.maximum(_cr1(gr, s2, sm, m2, rate, n), shrunk * (1 - shrunk) / n)
    var_o = _cr1(g_o, s2.sum() - s2, sm.sum() - sm, m2.sum() - m2, peer, n_o)
    se = np.sqrt(var_r + var_o)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, (rate - peer) / se, 0.0)
    p = np.where(np.isfinite(t) & (se > 0), t_sf(t, np.maximum(gr - 1, 1)), 1.0)
    return {"estimate": rate, "peer": peer, "se": np.sqrt(var_r), "p": p}


def _cr1(g: np.ndarray, s2: np.ndarray, sm: np.ndarray, m2: np.ndarray, p: np.ndarray,
         n: np.ndarray) -> np.ndarray:
    """CR1 cluster-robust variance of a rate `p` over `g` clusters from the sums of squared
    cluster events (s2), events x size (sm) and squared sizes (m2); 0 with one cluster."""
    with np.errstate(divide="ignore", invalid="ignore"):
        v = g / (g - 1) * (s2 - 2 * p * sm + p**2 * m2) / n**2
    return np.where(g > 1, np.maximum(v, 0.0), 0.0)


def _eb(k: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """Shrunk rates and their intervals from :func:`helpers.stats.shrinkage.eb_rates`."""
    if k.sum() in (0, n.sum()) or len(k) < 2:  # nothing to compare: no rep stands out
        pooled = np.full(len(k), k.sum() / n.sum())
        return {"shrunk": pooled, "ci_low": pooled, "ci_high": pooled}
    res = shrinkage.eb_rates(k, n, tests=False)
    return {"shrunk": res["shrunk_rate"].to_numpy(float),
            "ci_low": res["ci_low"].to_numpy(float), "ci_high": res["ci_high"].to_numpy(float)}


def _acc(d: pd.DataFrame) -> pd.Series | None:
    return d["account_id"] if "account_id" in d else None


# --- the checks ---------------------------------------------------------------------------------

def score_share_evidence(
    df: pd.DataFrame, threshold: int = 10, rep: str = "rep_id", alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of scores at or above `threshold` (10, or 9 for 9-10) per rep against peers.

    A pressured rep collects more top scores than peers; shrinkage keeps a rep with a handful of
    responses from topping the list by chance.
    """
    require_columns(df, [rep, "ltr"], "responses", "the score share check")
    d = df.loc[df[rep].notna() & df["ltr"].notna()]
    check = "share_10" if threshold >= 10 else "share_9_10"
    describe = "of scores are 10" if threshold >= 10 else f"of scores are {threshold}-10"
    return rate_vs_peers(d[rep], d["ltr"] >= threshold, check, describe, alpha, _acc(d))


def headline_scores(df: pd.DataFrame, measure: Measure) -> pd.DataFrame:
    """`df` with the headline measure's answers as the score the checks read (column ``ltr``),
    turned so that higher is better, for a programme without the likelihood to recommend."""
    y = pd.to_numeric(df[measure.key], errors="coerce")
    return df.assign(ltr=y if measure.higher_is_better else -y)


def top_share_evidence(df: pd.DataFrame, measure: Measure, rep: str = "rep_id",
                       alpha: float = 0.05) -> pd.DataFrame:
    """Share of a rep's answers in `measure`'s share range (top box, agree) against peers: the
    score-inflation check of a programme whose headline is not NPS."""
    require_columns(df, [rep, measure.key], "responses", "the score share check")
    y = pd.to_numeric(df[measure.key], errors="coerce")
    d = df.loc[df[rep].notna() & y.notna()]
    top = pd.Series(measure.in_share(y.loc[d.index].to_numpy(float)), index=d.index)
    return rate_vs_peers(d[rep], top, "share_top", f"of answers are {measure.cut_text}", alpha,
                         _acc(d))


def fit_ltr_model(
    df: pd.DataFrame, items: Sequence[str], rep: str = "rep_id", leave_rep_out: bool = True,
    exclude: Iterable[str] = (),
) -> pd.DataFrame:
    """Predict each response's LTR from its own experience ratings (OLS on the driver items).

    With ``leave_rep_out`` the model that predicts a rep's responses is fitted without them, so a
    gaming rep cannot pull the model towards their own inflated scores; reps in `exclude` are
    left out of every fit (they are still predicted). Missing items are filled with the item mean
    (a response needs at least one rated item).

    Returns
    -------
    Frame with columns rep_id, account_id (when present), ltr, predicted, residual
    (given - predicted), indexed like the used rows of `df`.
    """
    return _fit_design(_ltr_design(df, items, rep), leave_rep_out, exclude)


class _LtrDesign(NamedTuple):
    """The rows the LTR model reads, built once for every refit: design matrix (intercept first),
    scores, rep codes into the sorted rep ids `names`, the rows' index and account column."""
    X: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    names: pd.Index
    index: pd.Index
    account: np.ndarray | None


def _ltr_design(df: pd.DataFrame, items: Sequence[str], rep: str) -> _LtrDesign:
    require_columns(df, [rep, "ltr", *items], "responses", "the LTR residual check")
    if not items:
        raise ArgumentError("no driver items given for the LTR model", argument="items",
                            expected="the driver item names")
    x = df[list(items)].apply(pd.to_numeric, errors="coerce")
    y = pd.to_numeric(df["ltr"], errors="coerce").to_numpy(float)
    keep = ~np.isnan(y) & x.notna().any(axis=1).to_numpy()
    codes, names = rep_codes(df[rep], keep)
    keep &= codes >= 0
    if keep.sum() <= len(items) + 1:
        raise ThinData(f"only {int(keep.sum())} responses with LTR and ratings", file="responses",
                       column="ltr", expected=f"more than {len(items) + 1} to fit the model")
    x = x.loc[keep]  # the rows and columns the model reads
    x = x.fillna(x.mean())
    X = np.column_stack([np.ones(int(keep.sum())), x.to_numpy(float)])
    account = df["account_id"].to_numpy(object)[keep] if "account_id" in df else None
    return _LtrDesign(X, y[keep], codes[keep], names, df.index[keep], account)


def _fit_design(d: _LtrDesign, leave_rep_out: bool, exclude: Iterable[str]) -> pd.DataFrame:
    """:func:`fit_ltr_model` on a built design: one sort by rep, each rep's rows a slice."""
    X, y, codes, names = d.X, d.y, d.codes, d.names
    train = ~np.isin(names.to_numpy(), list(exclude))[codes]
    xt = X[train]  # times a second copy, as it always was: times itself numpy sums otherwise (syrk)
    xtx, xty = xt.T @ X[train], xt.T @ y[train]
    if train.sum() <= X.shape[1]:
        raise ThinData(f"only {int(train.sum())} responses left to fit the LTR model",
                       column="rep_id", expected="more responses outside the excluded reps")
    beta_all = np.linalg.lstsq(xtx, xty, rcond=None)[0]
    order = np.argsort(codes, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1, len(order)]
    xs, ys, ts = X[order], y[order], train[order]  # one rep's rows are a slice, in their order
    pred_sorted = np.empty(len(y))
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        xr = xs[a:b]
        if leave_rep_out and ts[a:b].all():
            beta = np.linalg.lstsq(xtx - xr.T @ xr, xty - xr.T @ ys[a:b], rcond=None)[0]
        else:
            beta = beta_all
        pred_sorted[a:b] = xr @ beta
    pred = np.empty(len(y))
    pred[order] = pred_sorted
    out = pd.DataFrame({"rep_id": names.to_numpy()[codes], "ltr": y, "predicted": pred,
                        "residual": y - pred}, index=d.index)
    if d.account is not None:
        out["account_id"] = d.account
    return out


def clustered_mean(values: np.ndarray, clusters: np.ndarray | None) -> tuple[float, float, int]:
    """Mean with its cluster-robust (CR1) standard error and degrees of freedom.

    SE² = G/(G-1) · Σ_g (Σ_{i∈g} (y_i - ȳ))² / n², the sandwich estimator of an intercept-only
    regression (Stata's ``regress y, vce(cluster g)``); df = G - 1. Without clusters each value is
    its own cluster. Returns (mean, se, df); se is NaN with fewer than two clusters.
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(y.mean())
    if clusters is None:
        clusters = np.arange(n)
    codes, _ = pd.factorize(pd.Series(clusters).astype(str))
    g = int(codes.max()) + 1
    if g < 2:
        return mean, float("nan"), 0
    sums = np.bincount(codes, weights=y - mean, minlength=g)
    se = float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / n)
    return mean, se, g - 1


def _clustered_means(values: np.ndarray, group: np.ndarray, size: int,
                     clusters: pd.Series | None) -> dict[str, np.ndarray]:
    """:func:`clustered_mean` of every group at once (group codes 0..size-1): mean, CR1 standard
    error (NaN with fewer than two clusters) and degrees of freedom (clusters - 1)."""
    n = np.bincount(group, minlength=size).astype(float)
    mean = np.bincount(group, weights=values, minlength=size) / n
    c = (np.arange(len(values)) if clusters is None
         else pd.factorize(clusters, use_na_sentinel=False)[0])
    pairs, at = np.unique(group.astype(np.int64) * (int(c.max()) + 1) + c, return_inverse=True)
    sums = np.bincount(at, weights=values - mean[group])
    of = pairs // (int(c.max()) + 1)
    g = np.bincount(of, minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(g / (g - 1) * np.bincount(of, weights=sums**2, minlength=size)) / n
    return {"mean": mean, "se": np.where(g >= 2, se, np.nan), "dof": np.where(g >= 2, g - 1, 0)}


def ltr_residual_evidence(
    df: pd.DataFrame,
    items: Sequence[str],
    rep: str = "rep_id",
    cluster: str | None = "account_id",
    leave_rep_out: bool = True,
    alpha: float = 0.05,
    max_iter: int = 3,
) -> pd.DataFrame:
    """LTR above what the respondents' own experience ratings predict, per rep.

    The residual (given - predicted, from :func:`fit_ltr_model`) is averaged per rep with an
    account-clustered 95% CI (contacts of one account are not independent) and tested against 0
    one-sided (t with G-1 df); p-values are BH-adjusted across reps. Reps that fail are then left
    out of the model and everything is refitted (at most `max_iter` times, until the failing set
    is stable): pressured 10s in the training data would raise every prediction and make honest
    reps look low. Extra columns: ``given`` and ``predicted`` (mean LTR given and predicted) for
    the predicted-vs-given chart.
    """
    excluded: set[str] = set()
    design = _ltr_design(df, items, rep)  # the same rows and columns for every refit
    for _ in range(max_iter):
        out = _residual_pass(design, cluster, leave_rep_out, alpha, excluded)
        failing = set(out.loc[out["fail"], "rep_id"])
        if failing == excluded:
            break
        excluded = failing
    return out


def _residual_pass(design: _LtrDesign, cluster: str | None, leave_rep_out: bool, alpha: float,
                   excluded: set[str]) -> pd.DataFrame:
    fit = _fit_design(design, leave_rep_out, excluded)
    r, names = design.codes, design.names  # every design row has a rep; every rep has a row
    cl = fit["account_id"] if cluster and "account_id" in fit else None
    stats = _clustered_means(fit["residual"].to_numpy(float), r, len(names), cl)
    mean, se, dof = stats["mean"], stats["se"], stats["dof"]
    ok = (dof >= 1) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(ok, t_sf(mean / se, np.maximum(dof, 1)), 1.0)
        half = np.where(ok, t_ppf(0.975, np.maximum(dof, 1)) * se, np.nan)
    n = np.bincount(r, minlength=len(names))
    rows = pd.DataFrame({
        "rep_id": names, "n": n, "estimate": mean, "se": se, "ci_low": mean - half,
        "ci_high": mean + half, "p": p, "peer": 0.0,
        "given": np.bincount(r, weights=fit["ltr"].to_numpy(float), minlength=len(names)) / n,
        "predicted": np.bincount(r, weights=fit["predicted"].to_numpy(float),
                                 minlength=len(names)) / n})
    extra = rows[["rep_id", "given", "predicted"]]
    out = _finish(rows, "ltr_residual", alpha)
    out["reason"] = [
        f"scores {abs(r.estimate):.1f} points {'above' if r.estimate >= 0 else 'below'} what their "
        f"customers' experience ratings predict (95% CI {r.ci_low:+.1f} to {r.ci_high:+.1f}, "
        f"n={r.n}, {_q(r.q)})"
        for r in out.itertuples()
    ]
    return out.merge(extra, on="rep_id", how="left")


def tone_evidence(
    df: pd.DataFrame,
    rep: str = "rep_id",
    negative: float = -0.2,
    polarity: pd.Series | None = None,
    alpha: float = 0.05,
    top: pd.Series | None = None,
) -> pd.DataFrame:
    """Share of a rep's 9-10 scores (or `top` answers) that come with a negative-tone comment,
    against peers.

    A customer who gives a 10 and writes a complaint was probably asked for the 10. Tone is
    :func:`helpers.analysis.text.tone` (polarity in [-1, 1]) unless `polarity` is given; eligible are 9-10
    scores with a non-blank comment; ``negative`` is the polarity below which a comment counts as
    a complaint.
    """
    require_columns(df, [rep, "ltr"] + ([] if polarity is not None else ["comment"]), "responses",
                    "the tone check")
    pol = text.tone(df["comment"]) if polarity is None else polarity.reindex(df.index)
    high = df["ltr"] >= 9 if top is None else top.reindex(df.index).fillna(False).astype(bool)
    eligible = df[rep].notna() & high & pol.notna()
    d = df.loc[eligible]
    words = "9-10 scores" if top is None else "top answers"
    return rate_vs_peers(d[rep], pol.loc[eligible] < negative, "tone_contradiction",
                         f"of their {words} come with a negative comment", alpha, _acc(d))


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    a = pd.to_datetime(later, errors="coerce")
    b = pd.to_datetime(earlier, errors="coerce")
    return (a - b).dt.total_seconds() / 86400.0


def timing_evidence(
    df: pd.DataFrame,
    rep: str = "rep_id",
    touch_days: float = 2.0,
    close_days: float = 30.0,
    quarter_end_days: int = 14,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Responses bunched after a rep touchpoint, after the deal close, or at quarter end.

    Three rates per rep against peers (EB + BH each): share submitted within `touch_days` after
    ``last_rep_touch_at``; within `close_days` after ``deal_close_date``; in the last
    `quarter_end_days` days of a calendar quarter. A check whose date column is absent or empty
    is skipped.
    """
    require_columns(df, [rep, "submitted_at"], "responses", "the timing check")
    sub = pd.to_datetime(df["submitted_at"], errors="coerce")
    parts = []
    for col, check, window, words in (
        ("last_rep_touch_at", "timing_touch", touch_days,
         f"of responses came within {touch_days:g} days of a rep touchpoint"),
        ("deal_close_date", "timing_close", close_days,
         f"of responses came within {close_days:g} days of the deal close"),
    ):
        if col not in df or df[col].isna().all():
            continue
        delta = _days(sub, df[col])
        event = ((delta >= 0) & (delta <= window)).astype(float).where(delta.notna())
        keep = df[rep].notna() & event.notna()
        parts.append(rate_vs_peers(df.loc[keep, rep], event[keep], check, words, alpha,
                                   _acc(df.loc[keep])))
    q_end = sub.dt.to_period("Q").dt.end_time.dt.normalize()
    left = (q_end - sub.dt.normalize()).dt.days
    event = (left < quarter_end_days).astype(float).where(sub.notna())
    keep = df[rep].notna() & event.notna()
    if keep.any():
        parts.append(rate_vs_peers(df.loc[keep, rep], event[keep], "timing_quarter_end",
                                   f"of responses came in the last {quarter_end_days} days of a "
                                   "quarter", alpha, _acc(df.loc[keep])))
    return pd.concat(parts, ignore_index=True)


def repeated_keys(df: pd.DataFrame, keys: Sequence[str] = ("ip_key", "contact_key"),
                  wave: str = "wave") -> pd.Series:
    """True for a response whose hashed IP or contact key recurs in another response of its wave.

    Only this yes/no leaves the function: the hashes themselves are never shown.
    """
    require_columns(df, [wave, *keys], "responses", "the repeated keys check")
    hit = np.zeros(len(df), dtype=bool)
    waves = pd.factorize(df[wave], use_na_sentinel=False)[0].astype(np.int64)
    for key in keys:
        codes, uniq = pd.factorize(df[key])  # -1: no key
        blank = np.r_[pd.Index(uniq).astype(str).str.len() == 0, True]
        present = ~blank[codes]
        pair = waves[present] * (len(uniq) + 1) + codes[present]
        hit[present] |= pd.Series(pair).duplicated(keep=False).to_numpy()
    return pd.Series(hit, index=df.index)


def keys_evidence(
    df: pd.DataFrame, rep: str = "rep_id", keys: Sequence[str] = ("ip_key", "contact_key"),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of a rep's responses behind a device/IP or email seen in another response that wave.

    A rep filling in surveys on behalf of customers, or having one friendly contact answer many
    invitations, leaves repeated keys. Reported as counts and rates only.
    """
    d = df if df[rep].notna().all() else df.loc[df[rep].notna()]
    hit = repeated_keys(d, keys)
    out = rate_vs_peers(d[rep], hit, "repeated_keys",
                        "of responses share a device/IP or email with another response "
                        "of the same wave", alpha, _acc(d))
    out["reason"] = [f"{r.k} responses with a repeated device/IP or email in one wave; "
                     + r.reason for r in out.itertuples()]
    return out
