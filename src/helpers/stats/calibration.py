"""Calibration of weights to population totals (R ``calibrate()``) and the description of a
calibration that a :class:`~helpers.stats.design.Design` needs for its variance.

:func:`calibrate` is R's ``calibrate(design, formula, population, bounds, calfun)`` with
``calfun`` "linear" (GREG; with ``bounds``: bounded linear), "raking" or "logit" (bounds
required), solved by R's Newton iterations (``grake``) to a tight tolerance. Population figures
are totals as R takes them; a categorical margin given as shares (summing to 1) is read as
shares of the population size (from another margin's totals, or the base weights' total).

:class:`Calibration` tells a design how its weights were calibrated, so that the variance uses
the calibration residuals as R's ``svyrecvar`` does: ``"rake"`` (10 sweeps of level means with
the weights saved at raking time, R ``rake()``), ``"poststratify"`` and ``"greg"`` (residuals of
the weighted regression on the calibration model, R ``calibrate()``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError
from helpers.stats.arrays import ArrayLike, as_codes, as_float, combine_codes

CALIBRATION_METHODS = ("rake", "poststratify", "greg")
CALFUNS = ("linear", "raking", "logit")
SHARE_TOL = 1e-6


@dataclass(frozen=True)
class Calibration:
    """Margins the weights were calibrated to, and how.

    ``margins``: one label array per margin (:class:`Design`), or for
    :meth:`Design.from_frame` column names (a list of columns is their interaction, e.g.
    ``["wave", "region"]`` for margins raked within each wave). ``method="rake"``: R's
    ``rake()`` (residuals from 10 sweeps of level means, as ``svyrecvar``);
    ``"poststratify"``: R's ``postStratify()`` on one margin (weighted level means; several
    margins are crossed into one post-stratum); ``"greg"``: R ``calibrate()`` (``model`` the
    n x q calibration model matrix, ``base`` the weights before calibration). ``weights``: the
    weights at calibration time, which R keeps for the residuals after later trimming (default:
    the design's weights). ``counts``: when each row is a cell of several responses with one
    weight and one level of every margin (:mod:`helpers.stats.moments`), their number.
    """

    margins: Sequence[Any]
    method: Literal["rake", "poststratify", "greg"] = "rake"
    counts: ArrayLike | None = None
    weights: ArrayLike | None = None
    model: np.ndarray | None = None
    base: ArrayLike | None = None


def coded(cal: Calibration, n: int) -> Calibration:
    """The calibration with integer level codes 0..k-1 per margin (post-strata crossed)."""
    if cal.method not in CALIBRATION_METHODS:
        raise ArgumentError(f"calibration method {cal.method!r}", argument="method",
                            expected="'rake', 'poststratify' or 'greg'")
    codes = [c for m in cal.margins if (c := as_codes(m, n, "calibration margin")) is not None]
    if cal.method == "poststratify" and len(codes) > 1:
        codes = [functools.reduce(combine_codes, codes)]
    if cal.method == "greg" and (cal.model is None or cal.base is None):
        raise ArgumentError("greg calibration without its model", argument="calibrate",
                            expected="Calibration(method='greg', model=..., base=...) "
                                     "(from calibrate())")
    counts = None if cal.counts is None else as_float(cal.counts, "counts")
    weights = None if cal.weights is None else as_float(cal.weights, "calibration weights")
    base = None if cal.base is None else as_float(cal.base, "base weights")
    return Calibration(tuple(codes), cal.method, counts, weights, cal.model, base)


def as_calibration(calibrate: Sequence[Any] | Calibration | None) -> Calibration | None:
    """``calibrate`` as a :class:`Calibration` (a plain list of margins: raking); None or no
    margins: no calibration."""
    if calibrate is None:
        return None
    cal = calibrate if isinstance(calibrate, Calibration) else Calibration(tuple(calibrate))
    return cal if len(cal.margins) or cal.method == "greg" else None


def interaction(df: pd.DataFrame, cols: list[str],
                known: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Codes of the combinations of ``cols`` (one factorisation per column, then arithmetic);
    `known` keeps each column's codes for the next call (margins sharing the wave)."""
    codes: np.ndarray | None = None
    known = {} if known is None else known
    for col in cols:
        if col not in known:
            known[col] = pd.factorize(df[col])[0]
        k = known[col]
        if (k < 0).any():
            raise DataError("missing value in a calibration margin", column=col,
                            row=int(np.flatnonzero(k < 0)[0]), expected="a level for every row")
        codes = k if codes is None else combine_codes(codes, k)
    assert codes is not None
    return codes


# --------------------------------------------------------------------------- calibrate()
@dataclass(frozen=True)
class Calibrated:
    """Weights calibrated by :func:`calibrate` and the :class:`Calibration` a design needs
    (``Design(..., weights=c.weights, calibrate=c.calibration)``)."""

    weights: np.ndarray
    calibration: Calibration
    g: np.ndarray
    iterations: int


def model_matrix(df: pd.DataFrame, population: Mapping[str, Any],
                 base: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """R ``model.matrix(~a + b + x)`` (intercept, treatment dummies, numeric columns) and the
    population totals of its columns from ``population`` (``{var: {level: total or share}}``
    for a categorical, ``{var: total}`` for a numeric)."""
    cats = {v: p for v, p in population.items() if isinstance(p, Mapping)}
    size = next((float(sum(p.values())) for p in cats.values()
                 if abs(sum(p.values()) - 1) > SHARE_TOL), float(base.sum()))
    cols, totals, names = [np.ones(len(df))], [size], ["(Intercept)"]
    for var, p in population.items():
        if var not in df.columns:
            raise DataError("calibration variable not in the data", column=var,
                            expected=f"one of {list(df.columns)}")
        if isinstance(p, Mapping):
            levels = list(p)
            scale = size if abs(sum(p.values()) - 1) <= SHARE_TOL else 1.0
            if abs(sum(p.values()) * scale - size) > 1e-6 * size:
                raise DataError(f"margin totals sum to {sum(p.values()):g}", column=var,
                                expected=f"the population size {size:g} of the other margins")
            codes = pd.Index(levels).get_indexer(df[var])
            if (codes < 0).any():
                row = int(np.flatnonzero(codes < 0)[0])
                raise DataError(f"level {df[var].iloc[row]!r} has no population figure",
                                column=var, row=row, expected=f"one of {levels}")
            for k, lvl in enumerate(levels[1:], start=1):
                cols.append((codes == k).astype(float))
                totals.append(float(p[lvl]) * scale)
                names.append(f"{var}{lvl}")
        else:
            cols.append(as_float(df[var], var))
            totals.append(float(p))
            names.append(var)
    return np.column_stack(cols), np.array(totals), names


def _calfun(kind: str, u: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """R's ``cal.linear`` / ``cal.raking`` / ``cal.logit``: g = 1 + Fm1(u) and dF(u)."""
    if kind == "linear":
        return np.clip(u + 1, lo, hi), ((u < hi - 1) & (u > lo - 1)).astype(float)
    if kind == "raking":
        e = np.exp(u)
        return np.clip(e, lo, hi), np.where((u < hi - 1) & (u > lo - 1), e, 0.0)
    a = (hi - lo) / ((hi - 1) * (1 - lo))
    e = np.exp(a * u)
    den = hi - 1 + (1 - lo) * e
    g = (lo * (hi - 1) + hi * (1 - lo) * e) / den
    return g, hi * (1 - lo) * e * a / den - g * ((1 - lo) * e * a) / den


def calibrate(df: pd.DataFrame, population: Mapping[str, Any], *,
              base_weight: str | ArrayLike | None = None, calfun: str = "linear",
              bounds: tuple[float, float] = (-np.inf, np.inf), max_iter: int = 50,
              tol: float = 1e-10) -> Calibrated:
    """R ``calibrate(design, ~a + b + x, population, bounds, calfun)``: weights d * g whose
    weighted totals of the model columns equal the population totals.

    ``population``: ``{var: {level: total}}`` (or shares summing to 1) per categorical and
    ``{var: total}`` per numeric; ``calfun``: "linear" (GREG; bounded when ``bounds`` are
    finite), "raking" or "logit" (finite ``bounds`` required); ``bounds`` on g = w / d.
    """
    if calfun not in CALFUNS:
        raise ArgumentError(f"calfun={calfun!r}", argument="calfun", expected=", ".join(CALFUNS))
    lo, hi = float(bounds[0]), float(bounds[1])
    if calfun == "logit" and not (np.isfinite(lo) and np.isfinite(hi) and lo < 1 < hi):
        raise ArgumentError(f"logit calibration with bounds {bounds}", argument="bounds",
                            expected="finite bounds lower < 1 < upper (R requires them)")
    d = (np.ones(len(df)) if base_weight is None else
         as_float(df[base_weight] if isinstance(base_weight, str) else base_weight, "base_weight"))
    mm, totals, _ = model_matrix(df, population, d)
    eta = np.zeros(mm.shape[1])
    for it in range(1, max_iter + 1):  # noqa: B007  returned
        g, deriv = _calfun(calfun, mm @ eta, lo, hi)
        misfit = totals - (g * d) @ mm
        if np.max(np.abs(misfit) / (1 + np.abs(totals))) < tol:
            break
        eta = eta + np.linalg.pinv((mm * (d * deriv)[:, None]).T @ mm, rcond=256 * np.finfo(float).eps) @ misfit
    else:
        raise DataError(f"calibration did not converge in {max_iter} iterations",
                        column=", ".join(population), expected="totals the sample can meet "
                        "within the bounds (widen the bounds or collapse sparse levels)")
    w = g * d
    return Calibrated(w, Calibration((), "greg", weights=w, model=mm, base=d), g, it)
