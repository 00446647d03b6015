"""Design-based ratio of two totals (R ``svyratio``): e.g. complaints per order, spend per
visit, NPS points per contact, with the linearised SE of the ratio of two estimated totals.

The influence of each row is ``w (y - R x) / X``; its variance under the design
(:meth:`Design.variance`) is R's, for any domain (R ``svyratio(~y, ~x, subset(design, ...))``);
on a replicate design the ratio is recomputed with each replicate's weights (R's svrVar).
"""

from __future__ import annotations

import numpy as np

from helpers.errors import DataError, ThinData
from helpers.stats.arrays import ArrayLike, as_float, as_mask, series_name, t_value
from helpers.stats.design import Design, resolve_design
from helpers.stats.estimators import MeanResult, lonely_note
from helpers.stats.replicates import ReplicateDesign, is_replicate, replicate_vcov


def ratio_weights(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> float:
    """The ratio of weighted totals sum(w y) / sum(w x) for the weights ``w`` (replicate
    designs recompute it with each replicate's weights)."""
    return float((w * y).sum() / (w * x).sum())


def survey_ratio(numerator: ArrayLike, denominator: ArrayLike, design: Design | None = None,
                 *, domain: ArrayLike | None = None, level: float = 0.95,
                 df: float | None = None) -> MeanResult:
    """Ratio of the design-based totals of ``numerator`` and ``denominator`` (R
    ``svyratio(~numerator, ~denominator, design, na.rm=TRUE)``), with a t interval on the
    domain's design df (R ``confint(r, df=degf(design))``). Rows missing either value are
    outside the domain and stay in the design. ``deff`` and ``n_eff`` are not computed (NaN).
    """
    y = as_float(numerator, series_name(numerator, "numerator"))
    x = as_float(denominator, series_name(denominator, "denominator"))
    dz = resolve_design(design, len(y))
    mask = as_mask(domain, len(y))
    inside = ~(np.isnan(y) | np.isnan(x))
    if mask is not None:
        inside &= mask
    w = np.where(inside, dz.w, 0.0)
    yv, xv = np.where(inside, y, 0.0), np.where(inside, x, 0.0)
    if not (w > 0).any():
        raise ThinData("no rows with both values and a positive weight", column="numerator",
                       expected="at least one response")
    x_total = float((w * xv).sum())
    if x_total == 0:
        raise DataError("the denominator's total is zero", column="denominator",
                        expected="a denominator with a non-zero weighted total")
    r = ratio_weights(yv, xv, w)
    if is_replicate(dz):
        var, design_df, n_psu, lonely = _replicate_variance(dz, yv, xv, inside, r)
    else:
        v = dz.variance(w * (yv - r * xv) / x_total, None if inside.all() else
                        np.where(inside, 0, -1))
        var, design_df, n_psu, lonely = v.var[0], v.df[0], int(v.n_psu[0]), int(v.lonely[0])
    d = float(design_df) if df is None else float(df)
    se = float(np.sqrt(var))
    q = t_value(level, d)
    return MeanResult(r, se, (r - q * se, r + q * se), int((w > 0).sum()), float("nan"),
                      float("nan"), level, d, n_psu, lonely_note(lonely, dz))


def _replicate_variance(design: ReplicateDesign, y: np.ndarray, x: np.ndarray,
                        inside: np.ndarray, r: float) -> tuple[float, float, int, int]:
    """R ``svyratio`` on a replicate design: the variance of the ratio recomputed with each
    replicate's weights (zero outside the domain), the domain's design df and its units."""
    def ratio(wr: np.ndarray) -> np.ndarray:
        wr = np.where(inside, wr, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.array([ratio_weights(y, x, wr)])

    var = float(replicate_vcov(design, ratio, theta=np.array([r]))[0, 0])
    used = inside & (design.w > 0) & (design.base > 0)
    return var, design.rank_df(used), len(np.unique(design.unit[used])), 0
