"""Input checks and codes the estimators share: numbers, weights, labels and masks read from
lists, arrays or Series with one-line errors, confidence quantiles, scale checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, overload

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError

ArrayLike = Any  # list, numpy array or pandas Series


def check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ArgumentError(f"confidence level {level!r} out of range", argument="level",
                            expected="0 < level < 1")


@cache
def _blas_pools() -> Any:
    """The BLAS thread pools of this process, read once (limiting them is then cheap)."""
    from scipy import linalg  # noqa: F401  (loads scipy's own BLAS too)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread: on a busy 2-core machine the second
    thread of a tall-and-thin product or of a tiny problem mostly spins (up to twice the CPU,
    and no faster)."""
    return _blas_pools().limit(limits=1, user_api="blas")


# The normal, t and chi-square functions scipy.stats computes with, from scipy.special directly:
# importing scipy.stats costs every notebook kernel about a second of CPU, scipy.special a tenth.
def norm_ppf(q: ArrayLike) -> Any:
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    from scipy import special
    return special.ndtri(np.asarray(q, dtype=float))


def norm_sf(x: ArrayLike) -> Any:
    """Standard normal upper tail (``scipy.stats.norm.sf``)."""
    from scipy import special
    return special.ndtr(-np.asarray(x, dtype=float))


def t_ppf(q: ArrayLike, df: ArrayLike) -> Any:
    """Student t quantile (``scipy.stats.t.ppf``)."""
    from scipy import special
    qq = np.asarray(q, dtype=float)
    return np.where(qq == 0, -np.inf, special.stdtrit(np.asarray(df, dtype=float), qq))[()]


def t_sf(x: ArrayLike, df: ArrayLike) -> Any:
    """Student t upper tail (``scipy.stats.t.sf``)."""
    from scipy import special
    return special.stdtr(np.asarray(df, dtype=float), -np.asarray(x, dtype=float))


def chi2_sf(x: ArrayLike, df: ArrayLike) -> Any:
    """Chi-square upper tail (``scipy.stats.chi2.sf``)."""
    from scipy import special
    return special.chdtrc(np.asarray(df, dtype=float), np.asarray(x, dtype=float))


def z_value(level: float) -> float:
    check_level(level)
    return float(norm_ppf(0.5 + level / 2))


@overload
def t_value(level: float, df: float) -> float: ...
@overload
def t_value(level: float, df: ArrayLike) -> np.ndarray | float: ...
def t_value(level: float, df: ArrayLike) -> np.ndarray | float:
    """Two-sided t quantile with ``df`` degrees of freedom (normal for inf; NaN for df < 1,
    where no interval exists, as R's ``qt(p, 0)``)."""
    check_level(level)
    d = np.asarray(df, dtype=float)
    distinct, which = (np.unique(d, return_inverse=True) if d.size > 64  # many groups, few dfs
                       else (d, None))
    with np.errstate(invalid="ignore"):
        q = np.where(np.isinf(distinct), norm_ppf(0.5 + level / 2),
                     t_ppf(0.5 + level / 2, np.where(distinct >= 1, distinct, 1.0)))
    q = np.where(distinct >= 1, q, np.nan)
    if which is not None:  # each distinct df's quantile, given back to every group
        q = q[which.reshape(d.shape)]
    return float(q) if q.ndim == 0 else q


def worded(counts: ArrayLike, words: Callable[[int], str]) -> list[str]:
    """``[words(k) for k in counts]``, each distinct count worded once (a note per group)."""
    distinct, which = np.unique(np.asarray(counts, dtype=np.int64), return_inverse=True)
    return np.array([words(int(k)) for k in distinct], dtype=object)[which.ravel()].tolist()


def series_name(x: ArrayLike, default: str) -> str:
    name = getattr(x, "name", None)
    return str(name) if name is not None else default


def as_float(x: ArrayLike, name: str, *, copy: bool = True) -> np.ndarray:
    """Coerce to a 1-d float array; non-numeric content raises DataError. ``copy=False``: a
    float Series comes back as a read-only view of its values (for callers that only read)."""
    try:
        numbers = isinstance(x, pd.Series) and isinstance(x.dtype, np.dtype) \
            and x.dtype.kind in "fiu"   # numpy numbers: nothing to parse, no NA to fill
        if numbers and not copy:
            arr = x.to_numpy(dtype=float)
            arr.flags.writeable = False
        elif numbers:
            arr = x.to_numpy(dtype=float, copy=True)
        elif isinstance(x, (pd.Series, pd.Index)):
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
    arrow = (isinstance(x, pd.Series) and getattr(x.dtype, "storage", None) == "pyarrow"
             and x.dtype.kind not in "iufb")
    # Arrow strings are factorized by Arrow (the same codes, in order of first appearance, a few
    # times faster than hashing the Python strings of ``to_numpy()``)
    arr = x if arrow else np.asarray(x).ravel() if not isinstance(x, pd.Series) else x.to_numpy()
    if len(arr) != n:
        raise ArgumentError(f"length {len(arr)} differs from the values' length {n}",
                            argument=name, expected=f"{n} entries")
    if arr.dtype.kind in "iu" and len(arr):
        return dense_codes(arr)
    codes, _ = pd.factorize(arr, use_na_sentinel=True)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError("missing value", column=name, row=row, expected="a label for every row")
    return codes.astype(np.int64)


@overload
def as_weights(w: None, n: int, name: str = ...) -> None: ...
@overload
def as_weights(w: ArrayLike, n: int, name: str = ...) -> np.ndarray: ...
def as_weights(w: ArrayLike | None, n: int, name: str = "weights") -> np.ndarray | None:
    if w is None:
        return None
    arr = as_float(w, name)
    if len(arr) != n:
        raise ArgumentError(f"length {len(arr)} differs from the values' length {n}",
                            argument=name, expected=f"{n} entries")
    if len(arr) and not (arr.min() >= 0 and arr.max() < np.inf):   # NaN fails both
        row = int(np.flatnonzero(~np.isfinite(arr) | (arr < 0))[0])
        raise DataError(f"weight {arr[row]!r}", column=name, row=row,
                        expected="finite non-negative weights")
    return arr


def as_mask(domain: ArrayLike | None, n: int) -> np.ndarray | None:
    """Boolean domain mask of length n (None = the whole sample)."""
    if domain is None:
        return None
    arr = np.asarray(domain).ravel()
    if len(arr) != n:
        raise ArgumentError(f"domain has {len(arr)} entries for {n} rows", argument="domain",
                            expected=f"a boolean mask of {n} entries")
    if arr.dtype != bool:
        if pd.isna(arr).any() or not np.isin(arr, [0, 1]).all():
            raise ArgumentError("domain is not a boolean mask", argument="domain",
                                expected="True / False per row")
        arr = arr.astype(bool)
    return arr


def dense_codes(arr: np.ndarray) -> np.ndarray:
    """Codes 0..k-1 of integer labels in sorted order: a presence table when the labels' range
    is small (a few ms for a million rows), else a hash."""
    lo, hi = int(arr.min()), int(arr.max())
    if hi - lo < 4 * len(arr) + 8_000_000:
        shifted = arr.astype(np.int64, copy=False) - lo if lo else arr.astype(np.int64)
        present = np.bincount(shifted, minlength=hi - lo + 1) > 0
        return shifted if present.all() else (np.cumsum(present) - 1)[shifted]
    codes, _ = pd.factorize(arr)
    return codes.astype(np.int64)


def combine_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Codes of the (a, b) pairs, 0..k-1 (vectorised)."""
    key = a.astype(np.int64) * (int(b.max()) + 1 if len(b) else 1) + b
    return dense_codes(key) if len(key) else key


def check_scale(x: np.ndarray, lo: float, hi: float, name: str) -> None:
    bad = (x < lo) | (x > hi)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"value {x[row]:g} outside the {lo:g}-{hi:g} scale", column=name, row=row,
                        expected=f"{lo:g}-{hi:g} or missing")


