"""B2C sample weighting: raking to population margins, trimming, Kish design effect.

Typical use: ``w = rake(df, margins)``, then ``trim_weights(w)`` to cap extreme weights, and
report ``kish_deff(w)`` / ``effective_n(w)`` next to every weighted figure (the variance cost of
weighting). Margins come from config (population shares per level, each variable summing to 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, ThinData

__all__ = ["rake", "raking_levels", "rake_levels", "trim_weights", "kish_deff", "effective_n", "margin_table"]

_SUM_TOL = 1e-6


def _positive_weights(w: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(w, dtype=float).ravel()
    if len(arr) != n:
        raise ArgumentError(f"{len(arr)} weights for {n} rows", argument=name,
                            expected=f"{n} weights")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"weight {arr[row]!r}", column=name, row=row,
                        expected="finite positive weights")
    return arr


def _margin_codes(df: pd.DataFrame, var: str,
                  shares: Mapping[Any, float]) -> tuple[np.ndarray, np.ndarray]:
    """Row codes into the margin's levels and the target shares, after validation."""
    if var not in df.columns:
        raise DataError("raking variable not in the data", column=var,
                        expected=f"one of {list(df.columns)}")
    if not shares:
        raise DataError("empty margin", column=var, expected="population shares per level")
    levels = list(shares)
    target = np.array([float(shares[k]) for k in levels])
    if not np.isfinite(target).all() or (target <= 0).any():
        bad = levels[int(np.flatnonzero(~np.isfinite(target) | (target <= 0))[0])]
        raise DataError(f"margin share of level {bad!r} is {shares[bad]!r}", column=var,
                        expected="positive shares (drop levels absent from the population)")
    if abs(target.sum() - 1) > _SUM_TOL and target.sum() < 2:
        raise DataError(f"margin shares sum to {target.sum():.6g}", column=var,
                        expected="shares summing to 1, or population totals")
    col = df[var]
    if col.isna().any():
        row = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise DataError("missing value in a raking variable", column=var, row=row,
                        expected=f"one of {levels}")
    if isinstance(col.dtype, pd.CategoricalDtype):   # raked many times: look up the levels once
        codes = pd.Index(levels).get_indexer(col.cat.categories)[col.cat.codes.to_numpy()]
    else:
        codes = pd.Index(levels).get_indexer(col)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise DataError(f"level {col.iloc[row]!r} has no population margin", column=var, row=row,
                        expected=f"one of {levels}")
    counts = np.bincount(codes, minlength=len(levels))
    if (counts == 0).any():
        lvl = levels[int(np.flatnonzero(counts == 0)[0])]
        raise DataError(f"margin level {lvl!r} has no respondents, so it cannot be matched",
                        column=var, expected="every margin level present in the sample")
    return codes, target


def _population_size(specs: list[tuple[str, np.ndarray, np.ndarray]], base_total: float) -> float:
    """The population size of margins given as totals (all must agree), else the base total."""
    sizes = {v: float(t.sum()) for v, _c, t in specs if abs(t.sum() - 1) > _SUM_TOL}
    if not sizes:
        return base_total
    size = next(iter(sizes.values()))
    for var, other in sizes.items():
        if abs(other - size) > 1e-9 * size:
            raise DataError(f"margin totals sum to {other:.10g}, another margin to {size:.10g}",
                            column=var, expected="population totals of one population")
    return size


def rake(df: pd.DataFrame, margins: Mapping[str, Mapping[Any, float]],
         base_weight: str | Any | None = None, max_iter: int = 100,
         tol: float = 1e-6) -> pd.Series:
    """Rake weights to population margins by iterative proportional fitting (Deming-Stephan).

    Parameters
    ----------
    df : one row per respondent, with every raking variable.
    margins : ``{variable: {level: population total}}`` (R ``rake()``'s population tables),
        or ``{variable: {level: share}}`` with shares summing to 1 (scaled to the population
        size of the margins given as totals, else to the base weights' total).
    base_weight : column name or array of design weights (default 1 each).
    max_iter : full sweeps over the variables before giving up.
    tol : largest allowed gap between achieved and target share.

    Returns
    -------
    Series ``weight`` on ``df.index``: positive, whose weighted totals reproduce every margin
    (shares: within ``tol``) (R ``rake()``); they sum to the population size (margins as
    totals) or to the base weights' total (shares only). Estimate with ``Design(..., calibrate=<the margin columns>)`` so the
    variance uses the calibration residuals as R does for a raked design. Raises DataError when a data level has
    no margin, a margin does not sum to 1, a margin level has no respondents, or the margins
    cannot be met jointly (no convergence).
    """
    n = len(df)
    if n == 0:
        raise ThinData("no rows to weight", expected="at least one respondent")
    if isinstance(base_weight, str):
        if base_weight not in df.columns:
            raise DataError("base weight column not found", column=base_weight)
        base_weight = _positive_weights(df[base_weight].to_numpy(dtype=float), n, base_weight)
    elif base_weight is not None:
        base_weight = _positive_weights(base_weight, n, "base_weight")
    return rake_levels(raking_levels(df, margins), base_weight, max_iter=max_iter, tol=tol)


@dataclass(frozen=True)
class RakingLevels:
    """Each raking variable's row codes into its margin's levels and the target shares or
    totals, checked once (:func:`raking_levels`), for raking the same rows many times."""

    index: pd.Index
    specs: list[tuple[str, np.ndarray, np.ndarray]]


def raking_levels(df: pd.DataFrame, margins: Mapping[str, Mapping[Any, float]]) -> RakingLevels:
    """The rows' levels of every margin of :func:`rake` (its checks, its DataError)."""
    if len(df) == 0:
        raise ThinData("no rows to weight", expected="at least one respondent")
    return RakingLevels(df.index, [(var, *_margin_codes(df, var, shares))
                                   for var, shares in margins.items()])


def rake_levels(levels: RakingLevels, base_weight: Any | None = None, *, max_iter: int = 100,
                tol: float = 1e-6) -> pd.Series:
    """:func:`rake` of the rows of `levels` from the array `base_weight` (default 1 each)."""
    n = len(levels.index)
    base = np.ones(n) if base_weight is None else _positive_weights(base_weight, n, "base_weight")
    specs = levels.specs
    total = _population_size(specs, base.sum())
    specs = [(v, c, t / t.sum()) for v, c, t in specs]
    w = base.copy()
    gap = np.inf
    for _ in range(max_iter):
        for _var, codes, target in specs:
            achieved = np.bincount(codes, weights=w, minlength=len(target))
            w *= (target * total / achieved)[codes]
        gap = max(float(np.abs(np.bincount(c, weights=w, minlength=len(t)) / total - t).max())
                  for _v, c, t in specs)
        if gap <= tol:
            break
    else:
        raise DataError(f"raking did not converge in {max_iter} sweeps (largest share gap "
                        f"{gap:.2g})", column=", ".join(v for v, _c, _t in specs),
                        expected="margins that the sample can meet jointly (collapse sparse levels)")
    return pd.Series(w, index=levels.index, name="weight")


def trim_weights(w: Any, upper: float = 5.0, lower: float = 0.2, max_iter: int = 50,
                 redistribute: str = "proportional", counts: Any | None = None) -> Any:
    """Cap weights at ``upper`` x mean and floor them at ``lower`` x mean, keeping their sum.

    ``redistribute="proportional"`` (default): clip, then rescale every weight to the original
    total, repeated until every weight lies within the bounds. ``"additive"``: R
    ``trimWeights(design, upper, lower, strict=TRUE)`` with the bounds in weight units (here
    multiples of the mean): the trimmed amount is spread equally over the weights inside the
    bounds, repeated until none is outside. Either way a design built on the trimmed weights
    keeps its calibration margins (``Design(calibrate=...)``), as R keeps ``postStrata``; the
    margins then hold approximately. ``counts``: each weight stands for that many rows (a cell
    of rows with one weight); bounds, totals and the shift are then the rows'. Returns the same
    type as ``w`` (a Series keeps its index).
    """
    if not (upper > 1 and 0 <= lower < 1):
        raise ArgumentError(f"trim bounds lower={lower!r}, upper={upper!r}", argument="upper",
                            expected="0 <= lower < 1 < upper (multiples of the mean weight)")
    if redistribute not in ("proportional", "additive"):
        raise ArgumentError(f"redistribute={redistribute!r}", argument="redistribute",
                            expected="'proportional' or 'additive'")
    arr = _positive_weights(w, len(np.asarray(w).ravel()), getattr(w, "name", None) or "weights")
    m = None if counts is None else np.asarray(counts, float).ravel()

    def rows_sum(v: np.ndarray) -> float:
        return float(v.sum() if m is None else m @ v)

    total, n = rows_sum(arr), len(arr) if m is None else float(m.sum())
    hi, lo = upper * total / n, lower * total / n
    out = arr.copy()
    for _ in range(max_iter):
        if redistribute == "additive":
            outside = (out < lo) | (out > hi)
            if not outside.any():
                break
            clipped = np.clip(out, lo, hi)
            shift = rows_sum(clipped - out) / max(rows_sum((~outside).astype(float)), 1.0)
            out = np.where(outside, clipped, clipped - shift)
            continue
        out = np.clip(out, lo, hi)
        out *= total / rows_sum(out)
        if out.max() <= hi * (1 + 1e-9) and out.min() >= lo * (1 - 1e-9):
            break
    if isinstance(w, pd.Series):
        return pd.Series(out, index=w.index, name=w.name)
    return out


def _nonnegative(w: Any) -> np.ndarray:
    arr = np.asarray(w, dtype=float).ravel()
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"weight {arr[row]!r}", column="weights", row=row,
                        expected="finite non-negative weights")
    arr = arr[arr > 0]
    if not len(arr):
        raise DataError("all weights are zero", column="weights", expected="a positive weight")
    return arr


def kish_deff(w: Any) -> float:
    """Kish's design effect of unequal weighting, 1 + cv^2 = n * sum(w^2) / sum(w)^2, over the
    positive weights (zero-weight rows are not part of the sample, as R counts them)."""
    arr = _nonnegative(w)
    return float(len(arr) * np.sum(arr**2) / np.sum(arr) ** 2)


def effective_n(w: Any) -> float:
    """Kish effective sample size sum(w)^2 / sum(w^2) = n / kish_deff(w) (positive weights)."""
    arr = _nonnegative(w)
    return float(np.sum(arr) ** 2 / np.sum(arr**2))


def margin_table(df: pd.DataFrame, margins: Mapping[str, Mapping[Any, float]],
                 weights: Any | None = None) -> pd.DataFrame:
    """Sample, weighted and population share per raking level, to show what weighting did.

    Columns: variable, level, n, sample_share, weighted_share, population_share.
    """
    w = np.ones(len(df)) if weights is None else np.asarray(weights, dtype=float)
    rows = []
    for var, shares in margins.items():
        for level, pop in shares.items():
            m = (df[var] == level).to_numpy()
            rows.append({"variable": var, "level": level, "n": int(m.sum()),
                         "sample_share": m.mean(), "weighted_share": w[m].sum() / w.sum(),
                         "population_share": float(pop)})
    return pd.DataFrame(rows)
