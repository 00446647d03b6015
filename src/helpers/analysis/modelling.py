"""Inputs shared by the driver models: a numeric matrix, row weights, cluster ids, resampling
(:class:`Bootstrap` settings and the multiplicities of a cluster resample).

Every model of :mod:`helpers.analysis.importance` and :mod:`helpers.analysis.drivers` reads its
columns, weights and clusters through these checks (one-line DataError naming the column), and
runs its numerical core on one BLAS/OpenMP thread (:func:`single_thread`); the promoter and
detractor logits of the what-if share :func:`logit_newton`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError
from helpers.stats import arrays
from helpers.stats.regression import WARM_START_ROWS

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Bootstrap:
    """Percentile-bootstrap intervals: ``n`` resamples of the clusters (of the rows when
    unclustered; 0 = no intervals), drawn from ``seed``, at confidence ``level``."""

    n: int = 200
    seed: int = 0
    level: float = 0.95

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ArgumentError(f"{self.n} resamples", argument="n", expected="n >= 0")
        arrays.check_level(self.level)


#: No resampling: point estimates only.
NO_BOOTSTRAP = Bootstrap(n=0)
#: 200 resamples, seed 0, 95% intervals.
DEFAULT_BOOTSTRAP = Bootstrap()


def single_thread(func: Callable[P, R]) -> Callable[P, R]:
    """Run with one BLAS/OpenMP thread: on a shared machine, thread oversubscription makes
    scikit-learn's boosting and small-matrix BLAS calls 10x slower, not faster."""
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import sklearn.ensemble  # noqa: F401  load the OpenMP runtime first: limits only reach loaded libraries
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1):
            return func(*args, **kwargs)
    return wrapper

def numeric_matrix(df: pd.DataFrame, cols: Sequence[str]) -> np.ndarray:
    """Columns as a float matrix (NaN for missing) or DataError naming the bad column."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"column(s) {missing} not found", column=missing[0],
                        expected=f"columns among {list(df.columns)[:12]}...")
    if all(pd.api.types.is_float_dtype(df[c]) or pd.api.types.is_integer_dtype(df[c])
           for c in cols):
        return df[list(cols)].to_numpy(dtype=float, na_value=np.nan)
    out = np.empty((len(df), len(cols)))
    for j, c in enumerate(cols):
        s = df[c]
        if s.dtype == bool:
            s = s.astype(float)
        try:
            out[:, j] = pd.to_numeric(s, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError):
            bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()]
            raise DataError(f"non-numeric value {bad.iloc[0]!r}", column=c,
                            row=int(np.flatnonzero(s.index == bad.index[0])[0]),
                            expected="numbers or missing") from None
    return out


def row_weights(df: pd.DataFrame, weights: str | None) -> np.ndarray:
    """The weight column checked by the metrics module's rules (ones when unweighted)."""
    if weights is None:
        return np.ones(len(df))
    return arrays.as_weights(df[weights], len(df), weights)


def cluster_codes(df: pd.DataFrame, cluster: str | None, keep: np.ndarray) -> np.ndarray:
    """Integer cluster id per kept row (each row its own cluster when `cluster` is None)."""
    if cluster is None:
        return np.arange(int(keep.sum()))
    if cluster not in df.columns:
        raise DataError("cluster column not found", column=cluster, expected="an id column")
    codes = pd.factorize(df[cluster])[0]   # the column's own codes: no Python strings
    if (codes[keep] < 0).any():
        raise DataError("missing cluster id", column=cluster,
                        row=int(np.flatnonzero((codes < 0) & keep)[0]),
                        expected="an id on every analysed row (B2B: account_id)")
    return pd.factorize(codes[keep])[0]   # numbered in order of first appearance among kept rows


def resample_counts(rng: np.random.Generator, n_clusters: int, b: int,
                    dtype: type = np.int64) -> np.ndarray:
    """(b, n_clusters) multiplicities of a with-replacement resample of the clusters, as
    `dtype` (float for the products with per-cluster totals: no integer copy to convert).

    One bincount per resample: its counts stay in cache (one bincount over b x n_clusters bins
    with offsets is twice as slow at a million rows and draws the same counts)."""
    draws = rng.integers(0, n_clusters, size=(b, n_clusters))
    out: np.ndarray = np.empty((b, n_clusters), dtype=dtype)
    for i in range(b):
        out[i] = np.bincount(draws[i], minlength=n_clusters)
    return out


def logit_newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, beta: np.ndarray | None = None,
                 iters: int = 25) -> np.ndarray:
    """Weighted logistic regression by Newton-Raphson (x includes the constant).

    Without a start ``beta``, more than 4 x WARM_START_ROWS rows start from the fit of every
    k-th row (the same maximum, reached in fewer passes over all rows)."""
    if beta is None and len(y) > 4 * WARM_START_ROWS:
        k = len(y) // WARM_START_ROWS
        start = logit_newton(x[::k], y[::k], w[::k], np.zeros(x.shape[1]), iters)
        beta = start if np.isfinite(start).all() else None
    b = np.zeros(x.shape[1]) if beta is None else beta.copy()
    scaled = np.empty_like(x, dtype=np.result_type(x.dtype, float))  # x's rows weighted, reused
    with arrays.one_blas_thread():
        for _ in range(iters):
            eta = np.clip(x @ b, -30, 30)
            p = 1 / (1 + np.exp(-eta))
            g = x.T @ (w * (y - p))
            scaled = np.multiply(x, (w * p * (1 - p))[:, None], out=scaled)
            h = scaled.T @ x + 1e-9 * np.eye(x.shape[1])
            step = np.linalg.solve(h, g)
            b += step
            if np.abs(step).max() < 1e-8:
                break
    return b
