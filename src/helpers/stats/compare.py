"""Tests of differences: between segments or waves, paired panels, and many tests at once.

:func:`contrast` (two groups of one design, covariance included: R ``svycontrast``),
:func:`compare_independent` (two separately drawn samples), :func:`compare_paired` (the same
units in two waves, clustered by unit), minimum detectable differences and sample sizes for NPS, and
:func:`bh_adjust` (Benjamini-Hochberg false-discovery control) for scans of many segments.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, ThinData
from helpers.stats.arrays import (
    ArrayLike,
    as_float,
    norm_ppf,
    norm_sf,
    series_name,
    t_sf,
    t_value,
)
from helpers.stats.design import Design, Interval, resolve_design
from helpers.stats.estimators import Groups, group_means, nps_score


@dataclass(frozen=True)
class DiffResult(Interval):
    """Difference ``b - a`` between two estimates with SE, CI, test statistic and two-sided p.

    ``z`` is a t statistic with ``df`` degrees of freedom (the design's; a normal z when
    ``df`` is None). ``n_units`` counts the units of a paired comparison.
    """

    estimate: float
    se: float
    ci: tuple[float, float]
    z: float
    p: float
    n_a: int
    n_b: int
    metric: str
    level: float = 0.95
    n_units: int | None = None
    df: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("ci")
        return {"ci_low": self.ci[0], "ci_high": self.ci[1], **d}


# --------------------------------------------------------------------------- multiple testing
def bh_adjust(pvalues: ArrayLike, q: float = 0.05) -> pd.DataFrame:
    """Benjamini-Hochberg (1995) step-up false discovery rate control.

    Parameters
    ----------
    pvalues : p-values (NaN allowed: left out of the count m and never rejected).
    q : false discovery rate.

    Returns
    -------
    DataFrame (index of ``pvalues`` when a Series) with columns ``p_value``, ``p_adjusted``
    (BH-adjusted, as R ``p.adjust(method="BH")``) and ``reject`` (p_adjusted <= q).
    """
    p = as_float(pvalues, series_name(pvalues, "pvalues"))
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ArgumentError("p-value outside [0, 1]", argument=series_name(pvalues, "pvalues"),
                            expected="probabilities")
    if not 0 < q < 1:
        raise ArgumentError(f"q = {q!r}", argument="q", expected="0 < q < 1")
    adj = np.full(len(p), np.nan)
    pv = p[ok]
    m = len(pv)
    if m:
        order = np.argsort(pv)[::-1]
        ranks = np.arange(m, 0, -1)
        stepped = np.minimum.accumulate(pv[order] * m / ranks)
        out = np.empty(m)
        out[order] = np.minimum(stepped, 1.0)
        adj[ok] = out
    index = pvalues.index if isinstance(pvalues, pd.Series) else None
    return pd.DataFrame({"p_value": p, "p_adjusted": adj, "reject": np.nan_to_num(adj, nan=2) <= q},
                        index=index)


def with_fdr(table: pd.DataFrame, q: float = 0.05, p: str = "p_value") -> pd.DataFrame:
    """A copy of `table` with ``p_adjusted`` and ``significant`` (Benjamini-Hochberg across its
    rows, see :func:`bh_adjust`); `table` itself is left as it was."""
    adj = bh_adjust(table[p].astype(float), q=q)
    return table.assign(p_adjusted=adj["p_adjusted"].to_numpy(),
                        significant=adj["reject"].to_numpy(bool))


# --------------------------------------------------------------------------- differences
Metric = Literal["nps", "mean"]


def _metric_values(values: ArrayLike, metric: str, name: str) -> np.ndarray:
    """Per-response values whose (weighted) mean is the metric, on the reporting scale."""
    if metric == "nps":
        return nps_score(values, name)
    y = as_float(values, name)
    if metric == "mean":
        return y
    raise ArgumentError(f"unknown metric {metric!r}", argument="metric",
                        expected="nps or mean (a share: the mean of 100/0 values, e.g. "
                                 "helpers.measures.Measure.values)")


class Sizes(NamedTuple):
    """Responses behind each side of a difference, and the units of a paired one."""

    n_a: int
    n_b: int
    n_units: int | None = None


def _diff(est: float, se: float, sizes: Sizes, metric: str, level: float,
          df: float | None = None) -> DiffResult:
    """Wald difference with a t reference (``df``; None or inf: normal)."""
    d = np.inf if df is None else float(df)
    q = float(t_value(level, d))
    stat = est / se if se > 0 else (0.0 if est == 0 else np.sign(est) * np.inf)
    if np.isnan(se):
        stat = float("nan")
    tail = float("nan") if d < 1 or np.isnan(stat) else norm_sf(abs(stat)) if np.isinf(d) else t_sf(abs(stat), d)
    p = float(2 * tail)
    return DiffResult(float(est), float(se), (est - q * se, est + q * se), float(stat), p,
                      sizes.n_a, sizes.n_b, metric, level, sizes.n_units, df)


def _stacked(a: Design, b: Design) -> Design:
    """One design of two independent samples: each sample's strata kept apart (an unstratified
    sample is one stratum), its PSUs and weights as they were."""
    for side, d in (("a_design", a), ("b_design", b)):
        if d.has_fpc or d.calibration is not None:
            raise ArgumentError("a design with fpc or calibration", argument=side,
                                expected="weights, strata and clusters only (two samples are "
                                         "stacked into one design)")
    strata = np.concatenate([a.strata, b.strata + a.n_strata])
    cluster = None
    if a.clustered or b.clustered:
        pa = np.arange(a.n) if a.psu is None else a.psu
        pb = np.arange(b.n) if b.psu is None else b.psu
        cluster = np.concatenate([pa, pb + int(pa.max(initial=-1)) + 1])
    weights = np.concatenate([a.w, b.w]) if a.weighted or b.weighted else None
    return Design(a.n + b.n, weights=weights, strata=strata, cluster=cluster)


def compare_independent(a_scores: ArrayLike, b_scores: ArrayLike, *, metric: Metric = "nps",
                        a_design: Design | None = None, b_design: Design | None = None,
                        level: float = 0.95) -> DiffResult:
    """Difference ``b - a`` between two independent samples (e.g. two separately drawn
    samples with different respondents and accounts), with Wald CI, t and two-sided p.

    The samples are stacked into one design with each sample its own stratum (or strata:
    clusters, e.g. accounts, nested within it; weights per sample), so SE = sqrt(se_a^2 +
    se_b^2) and the t reference has that design's df (PSUs - strata). ``a_design`` /
    ``b_design``: each sample's :class:`~helpers.stats.design.Design` (None: simple random
    sampling of its values). ``metric``: "nps" (0-10 scores, points) or "mean" (any values; a
    share is the mean of 100/0 values, :meth:`helpers.measures.Measure.values`). Groups of one
    sample that share
    accounts or waves (segments, waves of a tracker) are not independent: use :func:`contrast`
    on a table with ``covmat=True`` or, for the same accounts in two waves,
    :func:`compare_paired`.
    """
    ya = _metric_values(a_scores, metric, series_name(a_scores, "a"))
    yb = _metric_values(b_scores, metric, series_name(b_scores, "b"))
    na, nb = len(ya), len(yb)
    side = np.repeat([0, 1], [na, nb])
    design = _stacked(resolve_design(a_design, na), resolve_design(b_design, nb))
    gm = group_means(design, np.concatenate([ya, yb]), Groups(side, 2), covmat=True)
    if (gm.n == 0).any():
        raise ThinData(f"{int(gm.n[0])} and {int(gm.n[1])} valid values", column=metric,
                        expected="at least one value in each sample")
    return _contrast(gm.est, gm.vcov, gm.df_union, (0, 1), Sizes(int(gm.n[0]), int(gm.n[1])),
                     metric, level)


def _contrast(est: np.ndarray, vcov: np.ndarray | None, df_union: np.ndarray | None,
              rows: tuple[int, int], sizes: Sizes, metric: str, level: float) -> DiffResult:
    assert vcov is not None and df_union is not None
    a, b = rows
    var = vcov[a, a] + vcov[b, b] - 2 * vcov[a, b]
    se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
    return _diff(float(est[b] - est[a]), se, sizes, metric, level, float(df_union[a, b]))


def contrast(table: pd.DataFrame, a: int, b: int, *, estimate: str | None = None,
             metric: str = "", level: float = 0.95) -> DiffResult:
    """Difference between rows ``b`` and ``a`` (positions) of a group table made with
    ``covmat=True`` (:func:`~helpers.stats.estimators.nps_table`, :func:`~helpers.stats.
    estimators.survey_by`): R ``svycontrast`` on ``svyby(..., covmat=TRUE)``.

    The SE uses the covariance of the two estimates in the joint design (groups sharing
    accounts or clusters are correlated); the t reference has the df of the two groups' union
    (PSUs - strata holding either, as ``degf(subset(design, group %in% c(a, b)))``).
    """
    vcov, df_union = table.attrs.get("vcov"), table.attrs.get("df_union")
    if vcov is None or df_union is None:
        raise ArgumentError("table has no covariance matrix", argument="table",
                            expected="a group table made with covmat=True")
    estimate = estimate or ("nps" if "nps" in table else "estimate")
    est = table[estimate].to_numpy(float)
    n = table["n"].to_numpy()
    return _contrast(est, np.asarray(vcov), np.asarray(df_union), (a, b),
                     Sizes(int(n[a]), int(n[b])), metric or estimate, level)


@dataclass(frozen=True)
class Panel:
    """Units followed over periods: the ``unit`` column (e.g. accounts), the ``period`` column
    (e.g. waves) and the two ``periods`` (a, b) compared; None: the only two found."""

    unit: str
    period: str
    periods: tuple[Any, Any] | None = None


def _paired_weights(design: Design | None, n: int) -> np.ndarray:
    """The weights of a paired comparison: those of `design` (a design of weights alone, or
    clustered: the panel's units are the clusters of the comparison)."""
    dz = resolve_design(design, n)
    if dz.stratified or dz.has_fpc or dz.calibration is not None:
        raise ArgumentError("a design with strata, fpc or calibration", argument="design",
                            expected="a design of weights (and clusters) for a paired "
                                     "comparison, whose clusters are the panel's units")
    return dz.w


def compare_paired(df: pd.DataFrame, score: str, panel: Panel, *, metric: Metric = "nps",
                   design: Design | None = None, level: float = 0.95) -> DiffResult:
    """Change between two waves for the same units (panel), clustered by unit.

    Keeps the units (e.g. accounts) that responded in both periods, estimates the metric in
    each period over their responses and linearises the difference ``b - a``; each unit's two
    waves form one cluster, so the positive correlation of an account with itself is used
    (narrower than treating the waves as independent) and several contacts per account are
    not counted as independent. With one response per unit and period this is exactly the
    paired t-test; the p-value and CI use a t distribution with (units - 1) df.

    Parameters
    ----------
    df : tidy responses. score : the column compared. panel : unit and period columns and the
        periods (a, b); default the two sorted values of the period column (an error when there
        are not exactly two).
    metric : as in :func:`compare_independent`. design : a Design of `df`'s rows whose weights
        are used (None: equal weights).
    """
    unit, period = panel.unit, panel.period
    for col in (unit, period, score):
        if col not in df.columns:
            raise DataError("column not found", column=col, expected=f"one of {list(df.columns)}")
    periods = panel.periods
    if periods is None:
        found = sorted(df[period].dropna().unique())
        if len(found) != 2:
            raise DataError(f"{len(found)} periods found", column=period,
                            expected="exactly two periods, or pass Panel(periods=(a, b))")
        periods = (found[0], found[1])
    w_all = _paired_weights(design, len(df))
    y_all = _metric_values(df[score], metric, score)
    in_b = (df[period] == periods[1]).to_numpy()
    keep = ((df[period] == periods[0]).to_numpy() | in_b) & ~np.isnan(y_all)
    keep &= df[unit].notna().to_numpy()
    # the units as integers (Arrow factorizes strings fast); factorizing those integers gives
    # the codes, in order of first appearance, that the labels themselves would
    sub_unit = pd.factorize(df[unit])[0][keep]
    sub_b = in_b[keep]
    codes, found_units = pd.factorize(sub_unit)   # units present in both periods, by code
    in_both = (np.bincount(codes[~sub_b], minlength=len(found_units)) > 0) & \
        (np.bincount(codes[sub_b], minlength=len(found_units)) > 0)
    both = in_both[codes]
    y, is_b, u, w = y_all[keep][both], sub_b[both], sub_unit[both], w_all[keep][both]
    n_units = int(in_both.sum())
    if n_units < 2:
        raise ThinData(f"{n_units} units responded in both periods", column=unit,
                        expected="at least two units present in both periods")
    z = np.empty(len(y))
    est = {}
    for flag, sign in ((False, -1.0), (True, 1.0)):
        m = is_b == flag
        tw = w[m].sum()
        est[flag] = float(w[m] @ y[m] / tw)
        z[m] = sign * w[m] * (y[m] - est[flag]) / tw
    var = float(Design(len(z), cluster=pd.factorize(u)[0]).variance(z).var[0])
    return _diff(est[True] - est[False], float(np.sqrt(var)),
                 Sizes(int((~is_b).sum()), int(is_b.sum()), n_units), metric, level,
                 df=float(n_units - 1))


@dataclass(frozen=True)
class PairedTable:
    """:func:`paired_changes` for every group and consecutive pair of periods, as arrays of shape
    (groups, periods - 1): the change ``b - a``, its linearised variance, the responses of the
    units present in both periods (``n_a``, ``n_b``) and those units (``n_units``)."""

    estimate: np.ndarray
    var: np.ndarray
    n_a: np.ndarray
    n_b: np.ndarray
    n_units: np.ndarray

    def result(self, g: int, k: int, unit: str = "unit", metric: str = "nps",
               level: float = 0.95) -> DiffResult:
        """The :class:`DiffResult` of group `g`, pair `k` (as :func:`compare_paired` returns it);
        ThinData naming the `unit` column when fewer than two units answered in both periods."""
        n_units = int(self.n_units[g, k])
        if n_units < 2:
            raise ThinData(f"{n_units} units responded in both periods", column=unit,
                            expected="at least two units present in both periods")
        var = float(self.var[g, k])
        sizes = Sizes(int(self.n_a[g, k]), int(self.n_b[g, k]), n_units)
        return _diff(float(self.estimate[g, k]), float(np.sqrt(var)), sizes, metric, level,
                     df=float(n_units - 1))


def paired_changes(y: np.ndarray, unit: np.ndarray, period: np.ndarray, n_periods: int,
                   group: np.ndarray | None = None, n_groups: int = 1,
                   weights: np.ndarray | None = None) -> PairedTable:
    """:func:`compare_paired` of every group between each pair of consecutive periods at once.

    Per-unit sufficient statistics (sums of w and w*y per group, period and unit) replace the
    rows: each pair's change and variance follow from them, so the cost is one pass over the
    rows plus arrays of groups x periods x units, never a loop over rows per pair. ``y``: metric
    values (NaN outside); ``unit``, ``period``, ``group``: integer codes (-1 = missing: the row is
    left out). Equals :func:`compare_paired` group by group (tests/test_segments.py).
    """
    g = np.zeros(len(y), np.int64) if group is None else np.asarray(group, np.int64)
    keep = ~np.isnan(y) & (unit >= 0) & (period >= 0) & (g >= 0)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    n_units = int(unit.max()) + 1 if len(unit) else 0
    key = (g[keep] * n_periods + period[keep]) * n_units + unit[keep]
    size = n_groups * n_periods * n_units
    shape = (n_groups, n_periods, n_units)
    cnt = np.bincount(key, minlength=size).reshape(shape)
    sw = np.bincount(key, weights=w[keep], minlength=size).reshape(shape)
    swy = np.bincount(key, weights=(w * y)[keep], minlength=size).reshape(shape)
    pairs = max(n_periods - 1, 0)
    out = {k: np.zeros((n_groups, pairs)) for k in ("estimate", "var", "n_a", "n_b", "n_units")}
    for k in range(pairs):
        both = (cnt[:, k] > 0) & (cnt[:, k + 1] > 0)
        m = both.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            tw_a, tw_b = (sw[:, k] * both).sum(axis=1), (sw[:, k + 1] * both).sum(axis=1)
            est_a = (swy[:, k] * both).sum(axis=1) / tw_a
            est_b = (swy[:, k + 1] * both).sum(axis=1) / tw_b
            t = np.where(both, (swy[:, k + 1] - est_b[:, None] * sw[:, k + 1]) / tw_b[:, None]
                         - (swy[:, k] - est_a[:, None] * sw[:, k]) / tw_a[:, None], 0.0)
            var = m / (m - 1) * (t * t).sum(axis=1) - (t.sum(axis=1)) ** 2 / (m - 1)
        out["estimate"][:, k] = est_b - est_a
        out["var"][:, k] = np.maximum(var, 0.0)
        out["n_a"][:, k] = (cnt[:, k] * both).sum(axis=1)
        out["n_b"][:, k] = (cnt[:, k + 1] * both).sum(axis=1)
        out["n_units"][:, k] = m
    return PairedTable(**out)


#: Sums over the units present in both periods a and b that :func:`paired_from_sums` needs, of
#: each unit's response count (c), weight sum (sw) and weighted value sum (swy) per period.
PAIRED_SUMS = ("m", "n_a", "n_b", "tw_a", "tw_b", "s_a", "s_b", "q_a", "q_b", "p_a", "p_b",
               "w_a", "w_b", "ya_yb", "yb_wa", "wb_ya", "wa_wb")


def paired_from_sums(sums: pd.DataFrame, shape: tuple[int, int]) -> PairedTable:
    """:func:`paired_changes` from sums over the units present in both periods of each pair
    (e.g. computed by a database): one row per group and pair, groups major, `shape` (groups,
    pairs); columns :data:`PAIRED_SUMS`: m units, n_a / n_b their responses, tw = sum sw,
    s = sum swy, q = sum swy^2, p = sum swy sw, w = sum sw^2, and the cross sums ya_yb =
    sum swy_a swy_b, yb_wa = sum swy_b sw_a, wb_ya = sum sw_b swy_a, wa_wb = sum sw_a sw_b.
    The same changes and variances."""
    v = {k: sums[k].to_numpy(float) for k in PAIRED_SUMS}
    m = v["m"]
    with np.errstate(divide="ignore", invalid="ignore"):
        est_a, est_b = v["s_a"] / v["tw_a"], v["s_b"] / v["tw_b"]
        t_sum = (v["s_b"] - est_b * v["tw_b"]) / v["tw_b"] - (v["s_a"] - est_a * v["tw_a"]) / v["tw_a"]
        aa = (v["q_b"] - 2 * est_b * v["p_b"] + est_b**2 * v["w_b"]) / v["tw_b"] ** 2
        bb = (v["q_a"] - 2 * est_a * v["p_a"] + est_a**2 * v["w_a"]) / v["tw_a"] ** 2
        ab = (v["ya_yb"] - est_a * v["yb_wa"] - est_b * v["wb_ya"]
              + est_a * est_b * v["wa_wb"]) / (v["tw_a"] * v["tw_b"])
        var = m / (m - 1) * (aa + bb - 2 * ab) - t_sum**2 / (m - 1)
    return PairedTable(*(x.reshape(shape) for x in (est_b - est_a, np.maximum(var, 0.0),
                                                    v["n_a"], v["n_b"], m)))


def _nps_variance(p_promoter: float, p_detractor: float) -> float:
    if not (0 <= p_promoter <= 1 and 0 <= p_detractor <= 1 and p_promoter + p_detractor <= 1):
        raise ArgumentError(f"shares promoter {p_promoter!r}, detractor {p_detractor!r}",
                            argument="p_promoter", expected="shares in 0-1 summing to at most 1")
    return p_promoter + p_detractor - (p_promoter - p_detractor) ** 2


def min_detectable_difference(n: float, *, n_b: float | None = None, p_promoter: float = 0.45,
                              p_detractor: float = 0.15, alpha: float = 0.05, power: float = 0.8,
                              deff: float = 1.0) -> float:
    """Smallest true NPS change (points) a two-sided test at ``alpha`` detects with ``power``.

    MDD = (z_{1-alpha/2} + z_power) * sqrt(deff * Var * (1/n + 1/n_b)) with the multinomial
    NPS variance Var = p_pro + p_det - (p_pro - p_det)^2 at the expected shares (default 45 %
    promoters, 15 % detractors, NPS 30). ``n`` responses in the first group, ``n_b`` in the
    second (default: same); ``deff`` inflates for weighting or account clustering.
    """
    n_b = n if n_b is None else n_b
    if n <= 0 or n_b <= 0:
        raise ArgumentError(f"sample sizes {n!r}, {n_b!r}", argument="n",
                            expected="positive numbers of responses")
    var = _nps_variance(p_promoter, p_detractor)
    k = norm_ppf(1 - alpha / 2) + norm_ppf(power)
    return float(100 * k * np.sqrt(deff * var * (1 / n + 1 / n_b)))


def sample_size_for_difference(difference: float, *, p_promoter: float = 0.45,
                               p_detractor: float = 0.15, alpha: float = 0.05,
                               power: float = 0.8, deff: float = 1.0) -> int:
    """Responses per group needed to detect an NPS change of ``difference`` points
    (the inverse of :func:`min_detectable_difference` with equal groups), rounded up."""
    if difference == 0:
        raise ArgumentError("difference 0 cannot be detected", argument="difference",
                            expected="a non-zero difference")
    var = _nps_variance(p_promoter, p_detractor)
    k = norm_ppf(1 - alpha / 2) + norm_ppf(power)
    return int(np.ceil(deff * 2 * var * (k / (difference / 100)) ** 2 - 1e-9))
