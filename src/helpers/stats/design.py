"""Survey-design machinery shared by the estimators: input checks and Taylor-linearised variance.

Follows Lumley's R ``survey`` package: a weighted (ratio) mean with a linearised variance,
strata, one-stage cluster sampling (PSUs with replacement unless ``fpc`` gives the population
size per stratum). Inputs are validated here once (numbers, weights, group codes) with one-line
:class:`helpers.errors.DataError` messages.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from helpers.errors import DataError

ArrayLike = Any  # list, numpy array or pandas Series
CIMethod = Literal["adjusted_wald", "wald"]


# --------------------------------------------------------------------------- result types
class Interval:
    """`ci_low` / `ci_high` for results that hold their confidence interval as ``ci``."""

    ci: tuple[float, float]

    @property
    def ci_low(self) -> float:
        return self.ci[0]

    @property
    def ci_high(self) -> float:
        return self.ci[1]


# --------------------------------------------------------------------------- input handling
def z_value(level: float) -> float:
    if not 0 < level < 1:
        raise DataError(f"confidence level {level!r} out of range", expected="0 < level < 1")
    return float(stats.norm.ppf(0.5 + level / 2))


def series_name(x: ArrayLike, default: str) -> str:
    name = getattr(x, "name", None)
    return str(name) if name is not None else default


def as_float(x: ArrayLike, name: str) -> np.ndarray:
    """Coerce to a 1-d float array; non-numeric content raises DataError."""
    try:
        if isinstance(x, (pd.Series, pd.Index)):
            arr = pd.to_numeric(x).to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(f"non-numeric values ({exc})", column=name, expected="numbers") from None
    return arr


def as_codes(x: ArrayLike | None, n: int, name: str) -> np.ndarray | None:
    """Integer codes 0..k-1 for a grouping variable (strata / cluster); missing raises."""
    if x is None:
        return None
    arr = np.asarray(x).ravel() if not isinstance(x, pd.Series) else x.to_numpy()
    if len(arr) != n:
        raise DataError(f"length {len(arr)} differs from the values' length {n}", column=name,
                        expected=f"{n} entries")
    codes, _ = pd.factorize(arr, use_na_sentinel=True)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError("missing value", column=name, row=row, expected="a label for every row")
    return codes.astype(np.int64)


def as_weights(w: ArrayLike | None, n: int, name: str = "weights") -> np.ndarray | None:
    if w is None:
        return None
    arr = as_float(w, name)
    if len(arr) != n:
        raise DataError(f"length {len(arr)} differs from the values' length {n}", column=name,
                        expected=f"{n} entries")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"weight {arr[row]!r}", column=name, row=row,
                        expected="finite non-negative weights")
    return arr


def combine_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Codes of the (a, b) pairs, 0..k-1 (vectorised, hash-based)."""
    key = a.astype(np.int64) * (int(b.max()) + 1 if len(b) else 1) + b
    codes, _ = pd.factorize(key)
    return codes.astype(np.int64)


# --------------------------------------------------------------------------- design variance
def design_variance(z: np.ndarray, strata: np.ndarray | None, psu: np.ndarray | None,
                     fpc: np.ndarray | None) -> float:
    """Variance of a linearised total sum(z) under a stratified one-stage (cluster) design.

    With-replacement PSUs, n_h / (n_h - 1) * sum_c (t_hc - tbar_h)^2 per stratum, times
    (1 - n_h / N_h) when the population size N_h (``fpc``) is given. A stratum with a single PSU
    contributes zero (R survey's ``lonely.psu = "certainty"``); with no stratum holding two
    PSUs the variance cannot be estimated and NaN is returned (not a misleading zero).
    """
    n = len(z)
    s = strata if strata is not None else np.zeros(n, dtype=np.int64)
    if psu is None:
        t, psu_stratum = z, s
        first = np.arange(n)
    else:
        psu = combine_codes(s, psu)
        t = np.bincount(psu, weights=z)
        first = np.full(len(t), -1, dtype=np.int64)
        first[psu[::-1]] = np.arange(n - 1, -1, -1)
        psu_stratum = s[first]
    n_strata = int(psu_stratum.max()) + 1 if len(psu_stratum) else 0
    n_h = np.bincount(psu_stratum, minlength=n_strata).astype(float)
    mean_h = np.bincount(psu_stratum, weights=t, minlength=n_strata) / np.maximum(n_h, 1)
    ss_h = np.bincount(psu_stratum, weights=(t - mean_h[psu_stratum]) ** 2, minlength=n_strata)
    if not (n_h > 1).any():
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        var_h = np.where(n_h > 1, n_h / (n_h - 1) * ss_h, 0.0)
    if fpc is not None:
        pop_h = np.zeros(n_strata)
        pop_h[psu_stratum] = fpc[first]
        if (pop_h < n_h).any():
            h = int(np.flatnonzero(pop_h < n_h)[0])
            raise DataError(f"population size {pop_h[h]:g} is below the {int(n_h[h])} sampled units "
                            f"of stratum {h}", column="fpc", expected="fpc >= units sampled")
        var_h = var_h * (1 - n_h / pop_h)
    return float(var_h.sum())


def prepare_design(values: ArrayLike, weights: ArrayLike | None, strata: ArrayLike | None,
             cluster: ArrayLike | None, fpc: ArrayLike | None, name: str):
    """Validate inputs, drop rows whose value is missing, return aligned arrays."""
    y = as_float(values, name)
    n = len(y)
    w = as_weights(weights, n)
    s = as_codes(strata, n, "strata")
    c = as_codes(cluster, n, "cluster")
    f = None
    if fpc is not None:
        f = as_float(fpc, "fpc")
        if len(f) != n or not np.isfinite(f).all():
            raise DataError("fpc must be a finite population size for every row", column="fpc",
                            expected=f"{n} finite entries")
        lo = pd.Series(f).groupby(s if s is not None else np.zeros(n)).agg(["min", "max"])
        if (lo["min"] != lo["max"]).any():
            raise DataError("fpc varies within a stratum", column="fpc",
                            expected="one population size per stratum")
    keep = ~np.isnan(y)
    if not keep.all():
        y = y[keep]
        w = w[keep] if w is not None else None
        s = s[keep] if s is not None else None
        c = c[keep] if c is not None else None
        f = f[keep] if f is not None else None
    if np.isinf(y).any():
        raise DataError("infinite value", column=name, expected="finite numbers")
    return y, w, s, c, f


def linearised_mean(y: np.ndarray, w: np.ndarray | None, s, c, f) -> tuple[float, float, float]:
    """Return (estimate, design variance, SRS variance) of the weighted ratio mean."""
    n = len(y)
    if n == 0:
        raise DataError("no non-missing values", expected="at least one response")
    ww = np.ones(n) if w is None else w
    total_w = ww.sum()
    if total_w <= 0:
        raise DataError("weights sum to zero", column="weights", expected="positive total weight")
    est = float(ww @ y / total_w)
    resid = y - est
    z = ww * resid / total_w
    var = design_variance(z, s, c, f)
    s2 = float(ww @ resid**2 / total_w) * (n / (n - 1)) if n > 1 else 0.0
    var_srs = s2 / n
    return est, var, var_srs


# --------------------------------------------------------------------------- CES and CSAT
def check_scale(x: np.ndarray, lo: float, hi: float, name: str) -> None:
    bad = (x < lo) | (x > hi)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"value {x[row]:g} outside the {lo:g}-{hi:g} scale", column=name, row=row,
                        expected=f"{lo:g}-{hi:g} or missing")
