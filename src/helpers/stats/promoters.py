"""NPS answers as signs (+1 promoter, 0 passive, -1 detractor), and the NPS of a whole sample
from one weighted count per PSU and answer.

The NPS is the mean of the signs, so everything its design-based SE needs (R ``svymean`` of the
score: the estimate, the linearised totals per PSU, R's deff denominator, the shares) follows
from the (PSU x answer) table of summed weights: one bincount over the rows, no row-sized float
array (at a million rows the fresh memory, not the arithmetic, is what costs).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from helpers.errors import DataError
from helpers.stats.arrays import ArrayLike, as_float, series_name
from helpers.stats.design import Design


def nps_sign(scores: ArrayLike, name: str | None = None) -> np.ndarray:
    """+1 (9-10), 0 (7-8), -1 (0-6) per 0-10 score: int8 when no score is missing, else floats
    with NaN where one is. Raises DataError for values outside 0-10."""
    x = as_float(scores, name or series_name(scores, "scores"), copy=False)
    lo = x.min(initial=0.0)   # NaN if a score is missing
    missing = bool(np.isnan(lo))
    if missing:
        lo = np.fmin.reduce(x, initial=0.0)
    if lo < 0 or np.fmax.reduce(x, initial=10.0) > 10:
        row = int(np.flatnonzero((x < 0) | (x > 10))[0])
        raise DataError(f"score {x[row]:g} outside the 0-10 scale", column=name or
                        series_name(scores, "scores"), row=row, expected="0-10 or missing")
    sign = (x >= 9).view(np.int8) - (x <= 6).view(np.int8)   # NaN is neither
    if not missing:
        return sign
    out = sign.astype(np.float64)
    out[np.isnan(x)] = np.nan
    return out


class WholeNPS(NamedTuple):
    """Whole-sample NPS (in units) from the PSU x answer table: the summed weight, the mean,
    the sum of w (y - mean)^2, the totals of w (y - mean) / W per PSU, and the shares."""

    wsum: float
    mean: float
    ssq: float
    psu_totals: np.ndarray
    p_pro: float
    p_det: float


def whole_nps(design: Design, sign: np.ndarray) -> WholeNPS | None:
    """:class:`WholeNPS` of int8 ``sign`` on a one-stage clustered design without calibration
    or fpc; None for any other design or input (the general path applies)."""
    if (sign.dtype != np.int8 or design.psu is None or design.calibration is not None
            or design.stage2 is not None or design.has_fpc or type(design) is not Design):
        return None
    k = len(design.psu_stratum)
    key = design.psu * 3
    key += sign
    key += 1
    by_answer = np.bincount(key, weights=design.w, minlength=3 * k).reshape(k, 3).T.copy()
    det, pas, pro = by_answer.sum(axis=1)
    wsum = det + pas + pro
    if not wsum > 0:
        return None
    mean = (pro - det) / wsum
    psu_wsum = by_answer[0] + by_answer[1] + by_answer[2]
    totals = (by_answer[2] - by_answer[0] - mean * psu_wsum) / wsum
    ssq = det * (1 + mean) ** 2 + pas * mean**2 + pro * (1 - mean) ** 2   # no cancellation
    return WholeNPS(float(wsum), float(mean), float(ssq), totals, float(pro / wsum),
                    float(det / wsum))
