"""Design-based quantiles (median LTR, effort, response time) with Woodruff intervals, equal to
R's ``svyquantile`` in survey 4.x.

The estimate is the weighted quantile by one of R's rules (``qrule``: ``"math"``, R's default,
the inverse of the weighted distribution function; ``"school"``, the mid-point at an exact
split; ``"shahvaish"``; Hyndman and Fan's ``"hf1"`` ... ``"hf9"``). The interval is Woodruff's
(R's ``interval.type``): a confidence interval for the share of the population at or below the
estimate (``"mean"``, R's default: the t interval of that design-based mean on the design df;
``"beta"``, ``"xlogit"``, ``"asin"``), carried back through the same rule. The SE is R's: the
interval's width over twice the t quantile. On a replicate-weight design the share's SE is its
replicate SE and the df the domain's ``degf`` (R ``svyquantile.svyrep.design``, ``woodruffCI``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, ThinData
from helpers.stats.arrays import ArrayLike, as_float, as_mask, check_level, t_ppf, t_value
from helpers.stats.design import Design, Interval, resolve_design
from helpers.stats.estimators import survey_mean

IntervalType = Literal["mean", "beta", "xlogit", "asin"]
INTERVAL_TYPES = ("mean", "beta", "xlogit", "asin")
QRULES = ("math", "school", "shahvaish", *(f"hf{i}" for i in range(1, 10)))


@dataclass(frozen=True)
class QuantileResult(Interval):
    """One design-based quantile: ``p`` (0-1), ``estimate``, Woodruff interval ``ci`` (NaN
    ends where the share's interval leaves 0-1, as R), ``se`` (R's: width / 2t), ``df``, ``n``
    rows with a value, the ``qrule`` and ``interval`` type."""

    p: float
    estimate: float
    se: float
    ci: tuple[float, float]
    df: float
    n: int
    qrule: str
    interval: str
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {"p": self.p, "estimate": self.estimate, "se": self.se, "ci_low": self.ci[0],
                "ci_high": self.ci[1], "df": self.df, "n": self.n, "qrule": self.qrule,
                "interval": self.interval}


@dataclass(frozen=True)
class _Sorted:
    """Values with a positive weight, sorted, their weights and cumulative weights (summed in
    extended precision, as R's ``cumsum``)."""

    x: np.ndarray
    w: np.ndarray
    cumw: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, w: np.ndarray) -> _Sorted:
        pos = w > 0
        if not pos.all():
            x, w = x[pos], w[pos]
        order = _stable_order(x)
        xs, ws = x[order], w[order]
        return cls(xs, ws, np.cumsum(ws, dtype=np.longdouble).astype(float))


def _stable_order(x: np.ndarray) -> np.ndarray:
    """R's ``order(x)`` (stable): a radix sort when the values are small whole numbers (a
    rating scale), else a stable comparison sort; the same order either way."""
    lo, hi = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
    if hi - lo < 60_000 and np.array_equal(x, np.floor(x)):
        return np.argsort((x - lo).astype(np.uint16), kind="stable")
    return np.argsort(x, kind="stable")


def _qs(s: _Sorted, p: float) -> tuple[int, int, float, float]:
    """R ``survey:::qs``: last position with cumulative weight <= p * total (first if none),
    the next one, and the weight shares below and above p."""
    total = s.cumw[-1]
    below = np.flatnonzero(s.cumw <= p * total)
    pos = int(below[-1]) if len(below) else 0
    nxt = pos if pos == len(s.x) - 1 else pos + 1
    return pos, nxt, p - s.cumw[pos] / total, s.cumw[nxt] / total - p


def _math(s: _Sorted, p: float) -> float:
    pos, nxt, wlow, _ = _qs(s, p)
    return float(s.x[pos] if wlow == 0 else s.x[nxt])


def _school(s: _Sorted, p: float) -> float:
    pos, nxt, wlow, _ = _qs(s, p)
    return float((s.x[pos] + s.x[nxt]) / 2 if wlow == 0 else s.x[nxt])


def _hf3(s: _Sorted, p: float) -> float:
    xu, inv = np.unique(s.x, return_inverse=True)
    wu = np.bincount(inv, weights=s.w)
    pos, nxt, wlow, _ = _qs(_Sorted(xu, wu, np.cumsum(wu.astype(np.longdouble)).astype(float)),
                            p)
    return float(xu[pos] if wlow == 0 and (pos + 1) % 2 == 0 else xu[nxt])


def _hf4(s: _Sorted, p: float) -> float:
    pos, nxt, wlow, wup = _qs(s, p)
    if pos == nxt:   # at the maximum (R: NaN from 0 / 0 unless rounding moves p below it)
        return float(s.x[pos])
    gamma = wlow / (wup + wlow)
    return float(s.x[pos] * (1 - gamma) + s.x[nxt] * gamma)


def _shahvaish(s: _Sorted, p: float) -> float:
    n = len(s.x)
    pk = (np.cumsum((s.w / s.w.mean()).astype(np.longdouble)).astype(float) + 0.5 - s.w / 2) \
        / (n + 1)
    order = np.argsort(pk, kind="stable")   # R's approx() sorts the positions
    i = int(np.searchsorted(pk[order], p, side="right")) - 1
    return float(s.x[order][min(max(i, 0), n - 1)])


def _positions(s: _Sorted, rule: str) -> np.ndarray:
    """Plotting positions of the interpolating rules (R ``qrule_hf5`` ... ``hf9``)."""
    c, w, n = s.cumw, s.w, len(s.x)
    prev = np.concatenate([[0.0], c[:-1]])
    if rule == "hf5":
        return (c - w / 2) / c[-1]
    if rule == "hf6":
        return c / (c[-1] + w[-1])
    if rule == "hf7":
        return prev / c[n - 2] if n > 1 else prev
    if rule == "hf8":
        return (prev / 3 + c * 2 / 3) / (c[-1] + w[-1] / 3)
    return (prev * 3 / 8 + c * 5 / 8) / (c[-1] + w[-1] / 4)


def quantile_value(s: _Sorted, p: float, qrule: str) -> float:
    """The ``p`` quantile of the sorted weighted values by ``qrule`` (R ``qrule_<name>``)."""
    rules: dict[str, Callable[[_Sorted, float], float]] = {
        "math": _math, "hf1": _math, "school": _school, "hf2": _school, "hf3": _hf3,
        "hf4": _hf4, "shahvaish": _shahvaish}
    if qrule in rules:
        return rules[qrule](s, p)
    return float(np.interp(p, _positions(s, qrule), s.x))


def _share_interval(p_hat: float, se: float, q: float, how: str, n_rows: int,
                    df: float, level: float) -> tuple[float, float]:
    """Interval of the share at or below the estimate (R ``woodruffCI``'s ``method``)."""
    if how == "mean":
        return p_hat - q * se, p_hat + q * se
    if how == "xlogit":
        eta, s = np.log(p_hat / (1 - p_hat)), se / (p_hat * (1 - p_hat))
        return float(1 / (1 + np.exp(-(eta - q * s)))), float(1 / (1 + np.exp(-(eta + q * s))))
    if how == "asin":
        a, s = np.arcsin(np.sqrt(p_hat)), se / (2 * np.sqrt(p_hat * (1 - p_hat)))
        return float(np.sin(a - q * s) ** 2), float(np.sin(a + q * s) ** 2)
    from scipy import stats

    alpha = 1 - level
    n_eff = p_hat * (1 - p_hat) / se**2
    n_eff *= (t_ppf(alpha / 2, n_rows - 1) / t_ppf(alpha / 2, df)) ** 2
    return (float(stats.beta.ppf(alpha / 2, n_eff * p_hat, n_eff * (1 - p_hat) + 1)),
            float(stats.beta.ppf(1 - alpha / 2, n_eff * p_hat + 1, n_eff * (1 - p_hat))))


def _check(qrule: str, interval: str, quantiles: Sequence[float], level: float) -> None:
    check_level(level)
    if qrule not in QRULES:
        raise ArgumentError(f"qrule {qrule!r}", argument="qrule", expected=", ".join(QRULES))
    if interval not in INTERVAL_TYPES:
        raise ArgumentError(f"interval {interval!r}", argument="interval",
                            expected=", ".join(INTERVAL_TYPES))
    if not all(0 <= p <= 1 for p in quantiles):
        raise ArgumentError(f"quantiles {list(quantiles)}", argument="quantiles",
                            expected="probabilities between 0 and 1")


def survey_quantile(values: ArrayLike, design: Design | None = None,
                    quantiles: Sequence[float] = (0.5,), *, domain: ArrayLike | None = None,
                    qrule: str = "math", interval: IntervalType = "mean",
                    level: float = 0.95) -> list[QuantileResult]:
    """Design-based quantiles of ``values`` with Woodruff intervals (R ``svyquantile(~values,
    design, quantiles, qrule=, interval.type=, na.rm=TRUE)`` in survey 4.x).

    Parameters
    ----------
    values : numbers; NaN rows are outside the domain (they stay in the design).
    design : the :class:`Design` of the rows (None: simple random sampling of the rows).
    quantiles : probabilities, e.g. (0.25, 0.5, 0.75).
    domain : boolean mask: quantiles of these rows within the full design.
    qrule : R's quantile rule (:data:`QRULES`; default ``"math"`` as R).
    interval : Woodruff interval type (:data:`INTERVAL_TYPES`; default ``"mean"`` as R).
    level : confidence level; the t quantile uses the domain's design df.
    """
    _check(qrule, interval, quantiles, level)
    x = as_float(values, getattr(values, "name", None) or "values")
    dz = resolve_design(design, len(x))
    mask = as_mask(domain, len(x))
    inside = ~np.isnan(x) if mask is None else ~np.isnan(x) & mask
    w = np.where(inside, dz.w, 0.0)
    if not (w > 0).any():
        raise ThinData("no values with a positive weight in the domain", column="values",
                       expected="at least one response")
    s = _Sorted.of(np.where(inside, x, 0.0), w)
    out = []
    for p in quantiles:
        q_hat = quantile_value(s, float(p), qrule)
        share = survey_mean(np.where(inside, (x <= q_hat).astype(float), np.nan), dz,
                            level=level)
        tq = t_value(level, share.df)
        lo, hi = _share_interval(share.estimate, share.se, tq, interval, int(inside.sum()),
                                 share.df, level)
        ci = (float("nan") if not lo >= 0 else quantile_value(s, lo, qrule),
              float("nan") if not hi <= 1 else quantile_value(s, hi, qrule))
        out.append(QuantileResult(float(p), q_hat, (ci[1] - ci[0]) / (2 * tq), ci, share.df,
                                  int((w > 0).sum()), qrule, interval, level))
    return out


def quantile_table(results: Sequence[QuantileResult]) -> pd.DataFrame:
    """Quantile results as a tidy frame (p, estimate, se, ci_low, ci_high, df, n, ...)."""
    if not results:
        raise DataError("no quantiles", expected="at least one quantile result")
    return pd.DataFrame([r.to_dict() for r in results])
