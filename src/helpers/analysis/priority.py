"""Priority matrix and what-if: which drivers to fix first, and what moving one would be worth.

The priority matrix sets each driver's importance (share of R², with CI) against its
performance; the what-if reads the expected NPS change if the bottom quartile on a driver moved
up to its median, from the promoter and detractor models of :mod:`helpers.analysis.drivers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.analysis.drivers import model_frame, target_flag
from helpers.analysis.modelling import (
    DEFAULT_BOOTSTRAP,
    Bootstrap,
    logit_newton,
    resample_counts,
    single_thread,
)
from helpers.errors import ArgumentError, ThinData
from helpers.measures import Measure
from helpers.stats import estimators
from helpers.stats.arrays import check_scale
from helpers.stats.design import Design

#: Above this many distinct answer patterns, what-if bootstraps take one Newton step per resample.
MAX_REFIT_PATTERNS = 20_000

QUADRANTS = {
    (True, False): "fix first",
    (True, True): "maintain",
    (False, False): "monitor",
    (False, True): "don't over-invest",
}


def _performance(answers: pd.Series, scale: tuple[float, float] | None, performance: str,
                 design: Design, level: float) -> estimators.MeanResult:
    """An item's mean (in % of its scale when the scale is known) or its top-two-box share."""
    if performance == "mean":
        y = answers if scale is None else (answers - scale[0]) * 100.0 / (scale[1] - scale[0])
        return estimators.survey_mean(y, level=level, design=design)
    if scale is None:
        raise ArgumentError(f"top-box performance of {answers.name!r} needs its answer scale",
                            argument="scales", expected="each item's scale from the survey schema")
    box = Measure.define(str(answers.name), scale=scale, rule="top_box")
    y = answers.to_numpy(float)
    check_scale(y, *scale, str(answers.name))
    flags = np.where(np.isnan(y), np.nan, box.in_share(y).astype(float))
    return estimators.proportion(pd.Series(flags, name=answers.name), level=level, design=design)


def priority_matrix(
    importance: pd.DataFrame,
    df: pd.DataFrame,
    performance: str = "mean",
    weights: str | None = None,
    cluster: str | None = None,
    level: float = 0.95,
    scales: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Importance (share of R² with CI) x performance (mean, or % top-2 box, with CI) per driver.

    Quadrants: importance is high when the share exceeds an equal share (1/p); performance is
    high when above the median of the drivers' performance. "fix first" = high importance, low
    performance; "maintain" = high, high; "monitor" = low, low; "don't over-invest" = low, high.
    ``quadrant_certain`` is False when the share's CI straddles the equal-share line.

    Parameters
    ----------
    importance : output of :func:`shapley_importance` (bootstrapped for the share CI).
    df : the responses the importance was estimated on.
    performance : "mean" (item mean) or "top_box" (% answering in the top two boxes).
    scales : each item's answer scale (the survey schema's). With scales, a mean is shown as a
        percentage of its scale (0 = lowest answer, 100 = highest), so items asked on different
        scales compare, and the top two boxes are each item's own (helpers.measures, TOP_BOX);
        without, raw means, and top-box performance cannot be computed.
    """
    if performance not in {"mean", "top_box"}:
        raise ArgumentError(f"performance={performance!r}", argument="performance",
                            expected="'mean' or 'top_box'")
    drivers = list(importance.index)
    design = Design.from_frame(df, weights=weights, cluster=cluster)  # one for every driver
    rows = []
    for d in drivers:
        r = _performance(df[d], (scales or {}).get(d), performance, design, level)
        rows.append({"driver": d, "performance": r.estimate, "perf_se": r.se,
                     "perf_ci_low": r.ci_low, "perf_ci_high": r.ci_high, "perf_n": r.n})
    perf = pd.DataFrame(rows).set_index("driver")
    cols = ["importance", "share", "rank"] + [c for c in ("share_ci_low", "share_ci_high")
                                              if c in importance]
    out = importance[cols].join(perf)
    equal = 1.0 / len(drivers)
    perf_cut = float(out["performance"].median())
    hi_imp = out["share"] > equal
    hi_perf = out["performance"] >= perf_cut
    out["quadrant"] = [QUADRANTS[(bool(a), bool(b))] for a, b in zip(hi_imp, hi_perf, strict=True)]
    if "share_ci_low" in out:
        out["quadrant_certain"] = (out["share_ci_low"] > equal) | (out["share_ci_high"] < equal)
    unit = ("% in the top two boxes" if performance == "top_box" else
             "mean rating, % of the scale" if scales else "mean rating")
    out.attrs.update({"importance_cut": equal, "performance_cut": perf_cut,
                      "performance": performance, "performance_unit": unit, **{k: v for k, v in importance.attrs.items()
                                                     if k in {"method", "n", "r2", "missing", "outcome"}}})
    return out


def _what_if_effects(x: np.ndarray, y_pro: np.ndarray, y_det: np.ndarray, w: np.ndarray,
                     moved: list[np.ndarray], b0: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """NPS change per moved driver from the promoter and detractor logits fitted with weights
    `w`. Rows may be answer patterns: `y_pro` / `y_det` then hold the weighted shares of
    promoters / detractors with that pattern and `w` its total weight (same likelihood)."""
    xc = np.column_stack([np.ones(len(x)), x])
    bp = logit_newton(xc, y_pro, w, None if b0 is None else b0[0])
    bd = logit_newton(xc, y_det, w, None if b0 is None else b0[1])
    base = 1 / (1 + np.exp(-(xc @ bp))) - 1 / (1 + np.exp(-(xc @ bd)))
    out = np.empty(len(moved))
    xn = xc.copy()   # one scratch copy: each driver's column moved, then put back
    for j, new_col in enumerate(moved):
        xn[:, j + 1] = new_col
        after = 1 / (1 + np.exp(-(xn @ bp))) - 1 / (1 + np.exp(-(xn @ bd)))
        out[j] = 100 * np.sum(w * (after - base)) / w.sum()
        xn[:, j + 1] = xc[:, j + 1]
    return out, (bp, bd)


@dataclass(frozen=True)
class _Patterns:
    """Complete rows collapsed to their distinct answer patterns, with per-cluster sums.

    ``x``: one row per pattern; ``sums``: sparse (clusters x 3 patterns) matrix of the sums of
    w, w * promoter and w * detractor of each cluster's rows with each pattern. A resample's
    pattern totals are ``k @ sums`` for the clusters' multiplicities ``k``: a bootstrap never
    touches the rows again.
    """

    x: np.ndarray
    sums: Any

    def totals(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weight, promoter share, detractor share) per pattern for cluster multiplicities k."""
        t = np.asarray(self.sums.T @ k).ravel()
        p = len(self.x)
        wt, pro, det = t[:p], t[p:2 * p], t[2 * p:]
        with np.errstate(divide="ignore", invalid="ignore"):
            return wt, np.where(wt > 0, pro / wt, 0.0), np.where(wt > 0, det / wt, 0.0)

    def part(self, i: int) -> Any:
        """Clusters x patterns sums of w (0), w * promoter (1) or w * detractor (2)."""
        p = len(self.x)
        return self.sums[:, i * p:(i + 1) * p]


def _patterns(x: np.ndarray, y_pro: np.ndarray, y_det: np.ndarray, w: np.ndarray,
              codes: np.ndarray) -> _Patterns:
    """Distinct rows of `x` and each cluster's sums over them (see :class:`_Patterns`)."""
    from scipy import sparse

    coded = [pd.factorize(x[:, j]) for j in range(x.shape[1])]   # each column hashed once
    cards = [len(values) + 1 for _, values in coded]
    if float(np.prod(np.array(cards, float))) < 2.0**62:   # answers on scales: mixed radix
        key = np.zeros(len(x), np.int64)
        for (codes_j, _), card in zip(coded, cards, strict=True):
            key = key * card + codes_j
        found, distinct = pd.factorize(key)   # np.unique's codes (keys in sorted order), by a
        rank = np.empty(len(distinct), np.int64)   # hash and a sort of the distinct keys only
        rank[np.argsort(distinct)] = np.arange(len(distinct))
        pat_codes = rank[found]
    else:
        _, pat_codes = np.unique(x, axis=0, return_inverse=True)
    pat_codes = pat_codes.ravel()
    n_pat, n_cl = int(pat_codes.max()) + 1, int(codes.max()) + 1
    first = np.empty(n_pat, np.int64)
    first[pat_codes[::-1]] = np.arange(len(x))[::-1]
    cols = np.concatenate([pat_codes, pat_codes + n_pat, pat_codes + 2 * n_pat])
    vals = np.concatenate([w, w * y_pro, w * y_det])
    sums = sparse.csr_matrix((vals, (np.tile(codes, 3), cols)), shape=(n_cl, 3 * n_pat))
    return _Patterns(x[first], sums)


def _refit_boot(pats: _Patterns, b0: tuple[np.ndarray, np.ndarray], moved: list[np.ndarray],
                rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """What-if effects of `n_boot` cluster resamples, both models refitted on each resample's
    pattern totals (from the full fit's coefficients)."""
    n_cl = pats.sums.shape[0]
    boot = np.empty((n_boot, len(moved)))
    for b in range(n_boot):
        k = resample_counts(rng, n_cl, 1, float)[0]
        wt, pro, det = pats.totals(k)
        boot[b], _ = _what_if_effects(pats.x, pro, det, wt, moved, b0)
    return boot


def _one_step_boot(pats: _Patterns, b0: tuple[np.ndarray, np.ndarray], moved: list[np.ndarray],
                   rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """What-if effects of `n_boot` cluster resamples by one Newton step from the full fit.

    Per cluster: its weight, its rows' summed effect contributions and the scores of both
    models at the full-sample fit (sufficient statistics, computed once). A resample's
    coefficients are the fit plus the information-weighted sum of its clusters' scores (one
    Newton step with the full-sample information; Hu & Kalbfleisch 2000), and its effect the
    resampled mean contribution plus the gradient times that step: O(clusters) per resample.
    """
    xc = np.column_stack([np.ones(len(pats.x)), pats.x])
    s_w, s_pro, s_det = pats.part(0), pats.part(1), pats.part(2)
    wt = np.asarray(s_w.sum(axis=0)).ravel()
    probs = [1 / (1 + np.exp(-np.clip(xc @ b, -30, 30))) for b in b0]
    base_grad = [(xc * (wt * p * (1 - p))[:, None]).sum(0) for p in probs]
    f = np.empty((len(xc), len(moved)))
    grad = [np.empty((xc.shape[1], len(moved))) for _ in b0]
    xn, scratch = xc.copy(), np.empty_like(xc)   # each driver's column moved, then put back
    for j, col in enumerate(moved):
        xn[:, j + 1] = col
        moved_p = [1 / (1 + np.exp(-(xn @ b))) for b in b0]
        f[:, j] = (moved_p[0] - probs[0]) - (moved_p[1] - probs[1])
        for m, sign in enumerate((1.0, -1.0)):
            pm = moved_p[m]
            np.multiply(xn, (wt * pm * (1 - pm))[:, None], out=scratch)
            grad[m][:, j] = sign * (scratch.sum(0) - base_grad[m]) / wt.sum()
        xn[:, j + 1] = xc[:, j + 1]
    per_cluster = [np.asarray(s_w.sum(axis=1)), s_w @ f]
    info = []
    for s_y, p in zip((s_pro, s_det), probs, strict=True):
        per_cluster.append(s_y @ xc - s_w @ (p[:, None] * xc))
        info.append((xc * (wt * p * (1 - p))[:, None]).T @ xc + 1e-9 * np.eye(xc.shape[1]))
    stats = np.column_stack([np.asarray(c) for c in per_cluster])
    n_cl, p_d, q = stats.shape[0], len(moved), xc.shape[1]
    out = np.empty((n_boot, p_d))
    for b in range(n_boot):
        t = resample_counts(rng, n_cl, 1, float)[0] @ stats
        step = [np.linalg.solve(info[m], t[1 + p_d + m * q:1 + p_d + (m + 1) * q]) for m in (0, 1)]
        out[b] = 100 * (t[1:1 + p_d] / t[0] + step[0] @ grad[0] + step[1] @ grad[1])
    return out


@single_thread
def what_if(
    df: pd.DataFrame,
    drivers: Sequence[str],
    ltr: str = "ltr",
    *,
    cluster: str | None = None,
    weights: str | None = None,
    bootstrap: Bootstrap = DEFAULT_BOOTSTRAP,
) -> pd.DataFrame:
    """Expected NPS change (points) if the bottom quartile on a driver moved up to its median.

    Promoter and detractor probabilities come from the two logistic models of
    :func:`outcome_models` (all drivers together); respondents at or below the driver's 25th
    percentile get the median instead, everyone else is unchanged, and the change in mean
    P(promoter) - P(detractor) is the NPS change. The interval is a percentile bootstrap that
    resamples `cluster` (B2B accounts) and refits both models each time (``bootstrap``: the
    resamples, seed and level; 200, 0 and 95% by default). A model-based
    counterfactual, not an experiment: read it as "worth this much if the association is causal".

    Rows with the same answers share their fitted probabilities, so the models are fitted on the
    distinct answer patterns with their summed weights (the same likelihood), and each bootstrap
    resample re-weights per-cluster sums over those patterns instead of the rows: its cost does
    not grow with the rows.

    Returns
    -------
    DataFrame indexed by driver: q25, median, share_moved, estimate, se, ci_low, ci_high, n.
    """
    x, y_ltr, w, codes = model_frame(df, drivers, ltr, cluster, weights)
    if len(y_ltr) < len(drivers) + 10:
        raise ThinData(f"{len(y_ltr)} complete rows for {len(drivers)} drivers", column=ltr,
                        expected=f"at least {len(drivers) + 10}")
    y_pro, y_det = target_flag(y_ltr, "promoter"), target_flag(y_ltr, "detractor")
    q25, med = np.array([_wquantile(x[:, j], w, (0.25, 0.5)) for j in range(x.shape[1])]).T
    share_moved = [float(np.sum(w * (x[:, j] <= q25[j]) * (x[:, j] < med[j])) / w.sum())
                   for j in range(x.shape[1])]
    pats = _patterns(x, y_pro, y_det, w, codes)
    moved = [np.where(pats.x[:, j] <= q25[j], np.maximum(pats.x[:, j], med[j]), pats.x[:, j])
             for j in range(x.shape[1])]
    n_cl = int(codes.max()) + 1
    wt, pro, det = pats.totals(np.ones(n_cl))
    est, b0 = _what_if_effects(pats.x, pro, det, wt, moved)
    rng = np.random.default_rng(bootstrap.seed)
    refit = len(pats.x) <= MAX_REFIT_PATTERNS
    n_boot, level = bootstrap.n, bootstrap.level
    boot = (_refit_boot if refit else _one_step_boot)(pats, b0, moved, rng, n_boot)
    alpha = (1 - level) / 2
    out = pd.DataFrame({
        "q25": q25, "median": med, "share_moved": share_moved, "estimate": est,
        "se": boot.std(axis=0, ddof=1) if n_boot > 1 else np.nan,
        "ci_low": np.quantile(boot, alpha, axis=0) if n_boot else np.nan,
        "ci_high": np.quantile(boot, 1 - alpha, axis=0) if n_boot else np.nan,
        "n": len(y_ltr),
    }, index=pd.Index(list(drivers), name="driver")).sort_values("estimate", ascending=False)
    out.attrs.update({"n_boot": n_boot, "cluster": cluster or "row", "level": level,
                      "rule": "bottom quartile (<= 25th percentile) moved to the median",
                      "patterns": len(pats.x),
                      "resampling": "refit" if refit else "one Newton step per resample"})
    return out


def _wquantile(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Weighted quantiles at each of `qs` (lower: the smallest value whose cumulative weight
    reaches q), from the weight of each distinct value (ratings repeat: no sort of the rows)."""
    codes, values = pd.factorize(x)
    order = np.argsort(values, kind="stable")
    cw = np.cumsum(np.bincount(codes, weights=w, minlength=len(values))[order]) / w.sum()
    return values[order][np.searchsorted(cw, np.asarray(qs) - 1e-12)]
