"""CX metrics with honest uncertainty: NPS, CES, CSAT, design-based means and totals, group tables.

A figure is never a bare float: results are frozen dataclasses (``NPSResult``, ``MeanResult``) or
tidy frames with ``estimate``/``nps``, ``se``, ``ci_low``, ``ci_high``, ``n``. Design-based
estimation (:mod:`helpers.stats.design`) reproduces ``svymean`` and ``svytotal`` on R's ``api``
data (see tests). NPS is the mean of a +100/0/-100 score, so the same machinery gives weighted
and account-clustered NPS; unweighted, unclustered NPS uses the multinomial variance of Rocks
(2016) and the R ``NPS`` package, with the adjusted Wald interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.errors import DataError
from helpers.stats.design import (
    ArrayLike,
    CIMethod,
    Interval,
    as_codes,
    as_float,
    as_weights,
    check_scale,
    combine_codes,
    design_variance,
    linearised_mean,
    prepare_design,
    series_name,
    z_value,
)

#: Pseudo-counts of the adjusted Wald interval (Rocks 2016): detractor, passive, promoter.
ADJUSTED_WALD_PSEUDO = (0.75, 1.5, 0.75)



@dataclass(frozen=True)
class MeanResult(Interval):
    """Design-based mean (or total, or percentage) with its uncertainty.

    ``deff`` is the design effect against simple random sampling of the same n (with
    replacement); ``n_eff = n / deff`` is the sample size an SRS would need for the same SE.
    """

    estimate: float
    se: float
    ci: tuple[float, float]
    n: int
    deff: float
    n_eff: float
    level: float = 0.95

    def to_dict(self) -> dict[str, float]:
        """Metric dict in the run-folder convention (estimate, se, ci_low, ci_high, n, ...)."""
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci[0],
                "ci_high": self.ci[1], "n": self.n, "deff": self.deff, "n_eff": self.n_eff}


@dataclass(frozen=True)
class NPSResult(Interval):
    """Net Promoter Score in points (-100..100) with shares, SE, CI and design effect.

    ``se`` is the standard error of the point estimate ``nps`` (multinomial, or design-based when
    weights / strata / clusters are given). ``ci`` follows ``method``: the adjusted Wald interval
    is centred on the adjusted estimate, so it need not be symmetric around ``nps``.
    ``deff`` / ``n_eff`` are None for an unweighted, unclustered sample.
    """

    nps: float
    se: float
    ci: tuple[float, float]
    n: int
    p_promoter: float
    p_passive: float
    p_detractor: float
    method: str
    deff: float | None = None
    n_eff: float | None = None
    level: float = 0.95

    @property
    def estimate(self) -> float:
        return self.nps

    def to_dict(self) -> dict[str, Any]:
        """Metric dict in the run-folder convention (estimate, se, ci_low, ci_high, n, ...)."""
        d = asdict(self)
        d.pop("ci")
        return {"estimate": self.nps, "ci_low": self.ci[0], "ci_high": self.ci[1], **d}


@dataclass(frozen=True)
class CESResult:
    """Customer Effort Score 2.0: mean on 1-7 and % agree (5-7), both design-based."""

    mean: MeanResult
    pct_agree: MeanResult


@dataclass(frozen=True)
class CSATResult:
    """CSAT: % top-2 box (4-5 on 1-5) and the mean score, both design-based."""

    pct_top2: MeanResult
    mean: MeanResult


def _mean_result(est: float, var: float, var_srs: float, n: int, level: float,
                 scale: float = 1.0) -> MeanResult:
    se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
    deff = var / var_srs if var_srs > 0 else (1.0 if var == 0 else float("nan"))
    n_eff = n / deff if deff > 0 else (float(n) if deff == 0 else float("nan"))
    zq = z_value(level)
    e, s_ = est * scale, se * scale
    return MeanResult(e, s_, (e - zq * s_, e + zq * s_), n, float(deff), float(n_eff), level)


# --------------------------------------------------------------------------- means and totals
def survey_mean(values: ArrayLike, weights: ArrayLike | None = None,
                strata: ArrayLike | None = None, cluster: ArrayLike | None = None,
                fpc: ArrayLike | None = None, level: float = 0.95) -> MeanResult:
    """Design-based mean with a Taylor-linearised SE (R ``survey::svymean`` equivalent).

    Parameters
    ----------
    values : numbers; NaN rows are dropped (``n`` counts valid ones).
    weights : sampling weights (default 1).
    strata : stratum label per row.
    cluster : PSU label per row (one-stage cluster sampling, nested within strata).
    fpc : population size per stratum (number of elements, or of clusters when ``cluster`` is
        given), like ``svydesign(fpc=~fpc)``; omit for sampling with replacement.
    level : confidence level of the normal-theory interval.

    Returns
    -------
    MeanResult with estimate, se, ci, n, deff and n_eff.
    """
    y, w, s, c, f = prepare_design(values, weights, strata, cluster, fpc, series_name(values, "values"))
    est, var, var_srs = linearised_mean(y, w, s, c, f)
    return _mean_result(est, var, var_srs, len(y), level)


def survey_total(values: ArrayLike, weights: ArrayLike | None = None,
                 strata: ArrayLike | None = None, cluster: ArrayLike | None = None,
                 fpc: ArrayLike | None = None, level: float = 0.95) -> MeanResult:
    """Design-based population total sum(w * y) with its SE (R ``survey::svytotal``).

    Same arguments as :func:`survey_mean`. ``deff`` compares with an SRS of the same n
    estimating N * mean, N = sum of weights.
    """
    y, w, s, c, f = prepare_design(values, weights, strata, cluster, fpc, series_name(values, "values"))
    n = len(y)
    if n == 0:
        raise DataError("no non-missing values", expected="at least one response")
    ww = np.ones(n) if w is None else w
    est = float(ww @ y)
    var = design_variance(ww * y, s, c, f)
    _, _, var_srs_mean = linearised_mean(y, w, None, None, None)
    return _mean_result(est, var, var_srs_mean * ww.sum() ** 2, n, level)


# --------------------------------------------------------------------------- NPS
def nps_score(scores: ArrayLike, name: str | None = None) -> np.ndarray:
    """Map 0-10 likelihood-to-recommend to +100 (9-10), 0 (7-8), -100 (0-6); NaN stays NaN.

    Raises DataError for values outside 0-10.
    """
    x = as_float(scores, name or series_name(scores, "scores"))
    bad = (x < 0) | (x > 10)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"score {x[row]:g} outside the 0-10 scale", column=name or
                        series_name(scores, "scores"), row=row, expected="0-10 or missing")
    out = np.where(x >= 9, 100.0, np.where(x <= 6, -100.0, 0.0))
    out[np.isnan(x)] = np.nan
    return out


def _adjusted_wald(p_pro: np.ndarray, p_det: np.ndarray, n_eff: np.ndarray, zq: float):
    """Adjusted Wald interval (Rocks 2016) from shares and (effective) sample size, in fractions."""
    det_ps, pas_ps, pro_ps = ADJUSTED_WALD_PSEUDO
    n_adj = n_eff + det_ps + pas_ps + pro_ps
    pro = (p_pro * n_eff + pro_ps) / n_adj
    det = (p_det * n_eff + det_ps) / n_adj
    est = pro - det
    se = np.sqrt(np.maximum(pro + det - est**2, 0.0) / n_adj)
    return np.clip(est - zq * se, -1, 1), np.clip(est + zq * se, -1, 1)


def nps(scores: ArrayLike, weights: ArrayLike | None = None, strata: ArrayLike | None = None,
        cluster: ArrayLike | None = None, fpc: ArrayLike | None = None,
        ci: CIMethod = "adjusted_wald", level: float = 0.95) -> NPSResult:
    """Net Promoter Score in points with SE and confidence interval.

    Without a design (no weights, strata, cluster, fpc) the variance is the multinomial one of
    Rocks (2016) / R ``NPS``: Var = p_pro + p_det - (p_pro - p_det)^2, SE = sqrt(Var / n).
    With a design, NPS is the design-based mean of the +100/0/-100 score (:func:`survey_mean`),
    e.g. clustered by account for B2B, and ``deff`` / ``n_eff`` are reported.

    ``ci="adjusted_wald"`` adds 0.75 detractor, 1.5 passive and 0.75 promoter pseudo-responses
    (n + 3) before the Wald interval (better coverage at small n); under a design the pseudo
    counts are added to the effective sample size ``n_eff``. ``ci="wald"`` is estimate +- z SE.
    NaN scores are dropped; scores outside 0-10 raise DataError.
    """
    if ci not in ("adjusted_wald", "wald"):
        raise DataError(f"unknown ci method {ci!r}", expected="'adjusted_wald' or 'wald'")
    zq = z_value(level)
    y, w, s, c, f = prepare_design(nps_score(scores), weights, strata, cluster, fpc,
                             series_name(scores, "scores"))
    n = len(y)
    if n == 0:
        raise DataError("no valid scores", column=series_name(scores, "scores"),
                        expected="at least one 0-10 score")
    ww = np.ones(n) if w is None else w
    tw = ww.sum()
    p_pro = float(ww[y > 0].sum() / tw)
    p_det = float(ww[y < 0].sum() / tw)
    est = p_pro - p_det
    design = any(v is not None for v in (w, s, c, f))
    if design:
        _, var, _ = linearised_mean(y / 100.0, w, s, c, f)
        var_srs = (p_pro + p_det - est**2) / n
        deff = var / var_srs if var_srs > 0 else (1.0 if var == 0 else float("nan"))
        n_eff: float | None = n / deff if deff > 0 else (float(n) if deff == 0 else float("nan"))
        se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
        deff_out: float | None = float(deff)
    else:
        se = float(np.sqrt(max(p_pro + p_det - est**2, 0.0) / n))
        n_eff, deff_out = None, None
    if not np.isfinite(se):
        lo = hi = float("nan")
    elif ci == "wald":
        lo, hi = max(est - zq * se, -1.0), min(est + zq * se, 1.0)
    else:
        lo_a, hi_a = _adjusted_wald(np.array(p_pro), np.array(p_det),
                                    np.array(n_eff if n_eff is not None else n, dtype=float), zq)
        lo, hi = float(lo_a), float(hi_a)
    return NPSResult(100 * est, 100 * se, (100 * lo, 100 * hi), n, p_pro, 1 - p_pro - p_det,
                     p_det, ci + ("_design" if design else ""), deff_out,
                     float(n_eff) if n_eff is not None else None, level)


def _proportion_result(est: float, var: float, var_srs: float, n: int, level: float) -> MeanResult:
    """Percentage (0-100) with a design-based SE and a Wilson interval on the effective n.

    The Wilson interval (Wilson 1927; Newcombe 1998) stays inside 0-100 and keeps its coverage
    for small n and shares near 0 or 100 %, where estimate +- z SE does not.
    """
    base = _mean_result(est, var, var_srs, n, level)
    zq = z_value(level)
    m = base.n_eff if np.isfinite(base.n_eff) and base.n_eff > 0 else float(n)
    centre = (est + zq**2 / (2 * m)) / (1 + zq**2 / m)
    half = zq / (1 + zq**2 / m) * np.sqrt(est * (1 - est) / m + zq**2 / (4 * m**2))
    lo, hi = max(centre - half, 0.0), min(centre + half, 1.0)
    return MeanResult(100 * est, 100 * base.se, (float(100 * lo), float(100 * hi)), n, base.deff,
                      base.n_eff, level)


def _mean_and_share(values: ArrayLike, lo: float, hi: float, cut: float, weights, strata,
                    cluster, fpc, level: float, name: str) -> tuple[MeanResult, MeanResult]:
    y, w, s, c, f = prepare_design(values, weights, strata, cluster, fpc, name)
    check_scale(y, lo, hi, name)
    mean = _mean_result(*linearised_mean(y, w, s, c, f), len(y), level)
    share = _proportion_result(*linearised_mean((y >= cut).astype(float), w, s, c, f), len(y),
                               level)
    return mean, share


def agree_cut(scale: tuple[float, float]) -> float:
    """Lowest answer counted as "agree" on a CES scale: above the midpoint (1-7 -> 5, 1-5 -> 4)."""
    lo, hi = scale
    return float(np.floor((lo + hi) / 2) + 1)


def top2_cut(scale: tuple[float, float]) -> float:
    """Lowest answer in the top-2 box of a CSAT scale (1-5 -> 4, 0-10 -> 9)."""
    return float(scale[1] - 1)


def ces(values: ArrayLike, weights: ArrayLike | None = None, strata: ArrayLike | None = None,
        cluster: ArrayLike | None = None, fpc: ArrayLike | None = None,
        level: float = 0.95, scale: tuple[float, float] = (1.0, 7.0)) -> CESResult:
    """Customer Effort Score: mean and % agree (above the scale midpoint: 5-7 on CES 2.0's 1-7).

    Same design arguments as :func:`survey_mean`; NaN dropped, values outside `scale` raise
    DataError. ``pct_agree`` is in percent with a Wilson interval on the effective n.
    """
    name = series_name(values, "ces")
    mean, share = _mean_and_share(values, *scale, agree_cut(scale), weights, strata, cluster, fpc,
                                  level, name)
    return CESResult(mean=mean, pct_agree=share)


def csat(values: ArrayLike, weights: ArrayLike | None = None, strata: ArrayLike | None = None,
         cluster: ArrayLike | None = None, fpc: ArrayLike | None = None,
         level: float = 0.95, scale: tuple[float, float] = (1.0, 5.0)) -> CSATResult:
    """CSAT: % top-2 box (4-5 on 1-5, 9-10 on 0-10) and mean score, design-based.

    Same design arguments as :func:`survey_mean`; NaN dropped, values outside `scale` raise
    DataError. ``pct_top2`` is in percent with a Wilson interval on the effective n.
    """
    name = series_name(values, "csat")
    mean, share = _mean_and_share(values, *scale, top2_cut(scale), weights, strata, cluster, fpc,
                                  level, name)
    return CSATResult(pct_top2=share, mean=mean)


# --------------------------------------------------------------------------- segment table
def nps_table(df: pd.DataFrame, by: str | Sequence[str], score: str = "ltr",
              weight: str | None = None, cluster: str | None = None, level: float = 0.95,
              ci: CIMethod = "adjusted_wald") -> pd.DataFrame:
    """NPS with uncertainty for every group of ``by``, vectorised (one pass of bincounts).

    One row per group (sorted): the ``by`` columns, ``n``, ``pct_promoter``, ``pct_passive``,
    ``pct_detractor``, ``nps``, ``se``, ``ci_low``, ``ci_high``, ``deff``, ``n_eff`` (and
    ``n_clusters`` when ``cluster`` is given). Without weight and cluster each row equals
    :func:`nps` on the group; with them each group is estimated as its own design (weighted
    ratio mean, clusters nested in the group, with replacement), as :func:`nps` with the same
    weights / clusters on the group's rows. NaN scores are dropped; rows with a missing group
    label are left out.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    cols = [*by_cols, score, *([weight] if weight else []), *([cluster] if cluster else [])]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError("column not found", column=missing[0], expected=f"one of {list(df.columns)}")
    if ci not in ("adjusted_wald", "wald"):
        raise DataError(f"unknown ci method {ci!r}", expected="'adjusted_wald' or 'wald'")
    zq = z_value(level)
    y = nps_score(df[score], score) / 100.0
    gid = (df.groupby(by_cols, sort=True, dropna=True, observed=True).ngroup()
           .fillna(-1).to_numpy().astype(np.int64))
    keep = ~np.isnan(y) & (gid >= 0)
    if cluster is not None:
        keep &= df[cluster].notna().to_numpy()
    idx = np.flatnonzero(keep)
    g = gid[idx].astype(np.int64)
    y = y[idx]
    n_groups = int(gid.max()) + 1 if len(gid) and gid.max() >= 0 else 0
    w = (as_weights(df[weight].to_numpy()[idx], len(idx), weight) if weight else None)
    ww = np.ones(len(idx)) if w is None else w

    n = np.bincount(g, minlength=n_groups).astype(float)
    tw = np.bincount(g, weights=ww, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_pro = np.bincount(g, weights=ww * (y > 0), minlength=n_groups) / tw
        p_det = np.bincount(g, weights=ww * (y < 0), minlength=n_groups) / tw
        est = p_pro - p_det
        var_srs = np.maximum(p_pro + p_det - est**2, 0.0) / n
        out_extra: dict[str, np.ndarray] = {}
        if w is None and cluster is None:
            var = var_srs
        else:
            z = ww * (y - est[g]) / tw[g]
            if cluster is not None:
                c_codes = as_codes(df[cluster].to_numpy()[idx], len(idx), cluster)
                psu = combine_codes(g, c_codes)
                t = np.bincount(psu, weights=z)
                first = np.full(len(t), -1, dtype=np.int64)
                first[psu[::-1]] = np.arange(len(psu) - 1, -1, -1)
                tg = g[first]
                out_extra["n_clusters"] = np.bincount(tg, minlength=n_groups)
            else:
                t, tg = z, g
            m = np.bincount(tg, minlength=n_groups).astype(float)
            t_mean = np.bincount(tg, weights=t, minlength=n_groups) / m
            ss = np.bincount(tg, weights=(t - t_mean[tg]) ** 2, minlength=n_groups)
            var = np.where(m > 1, m / (m - 1) * ss, np.nan)
        se = np.sqrt(var)
        deff = np.where(var_srs > 0, var / var_srs, 1.0)
        n_eff = np.where(deff > 0, n / deff, n)
    if ci == "wald":
        lo, hi = np.clip(est - zq * se, -1, 1), np.clip(est + zq * se, -1, 1)
    else:
        lo, hi = _adjusted_wald(p_pro, p_det, np.where(np.isfinite(n_eff), n_eff, n), zq)
        lo, hi = np.where(np.isnan(se), np.nan, lo), np.where(np.isnan(se), np.nan, hi)
    present = n > 0
    first_row = np.full(n_groups, -1, dtype=np.int64)
    first_row[g[::-1]] = idx[::-1]
    labels = df[by_cols].iloc[first_row[present]].reset_index(drop=True)
    table = labels.assign(
        n=n[present].astype(np.int64), pct_promoter=100 * p_pro[present],
        pct_passive=100 * (1 - p_pro - p_det)[present], pct_detractor=100 * p_det[present],
        nps=100 * est[present], se=100 * se[present], ci_low=100 * lo[present],
        ci_high=100 * hi[present], deff=deff[present], n_eff=n_eff[present],
        **{k: v[present] for k, v in out_extra.items()},
    )
    return table
