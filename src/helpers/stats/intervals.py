"""Confidence intervals of shares and NPS, each named, with R ``survey``'s methods.

Shares (:func:`share_interval`) use the methods of R ``svyciprop`` (Lumley 4.1.1): ``"logit"``
(R's default: the t interval of the logit of the share from the intercept-only ``svyglm``,
back-transformed), ``"likelihood"`` (design-scaled profile likelihood), ``"beta"`` (Korn and
Graubard 1998, on the effective n), ``"mean"`` (Wald t), ``"xlogit"`` (delta method on the logit)
and ``"asin"`` (arcsine square root). Every quantile is t with the design df (R
``df = degf(design)``).

NPS (:func:`nps_interval`) under a design is R's ``confint(svymean(~nps, design), df =
degf(design))`` (``"t"``); the adjusted Wald interval on the effective n (Rocks 2016) and the
plain Wald interval stay as named options. Every result carries its ``ci_method``, a key of
:data:`CI_METHOD_NOTES`, which the pages print in their method notes.
"""

from __future__ import annotations

import numpy as np

from helpers.errors import ArgumentError
from helpers.stats.arrays import norm_ppf, t_value

SHARE_METHODS = ("logit", "likelihood", "beta", "mean", "xlogit", "asin")
SHARE_DEFAULT = "logit"
NPS_METHODS = ("t", "adjusted_wald", "wald")
NPS_DESIGN_DEFAULT = "t"
#: Pseudo-counts of the adjusted Wald interval (Rocks 2016): detractor, passive, promoter.
ADJUSTED_WALD_PSEUDO = (0.75, 1.5, 0.75)

CI_METHOD_NOTES = {
    "logit": "logit t interval with the design df (R svyciprop default)",
    "likelihood": "design-scaled profile likelihood (R svyciprop method='likelihood')",
    "beta": "Korn-Graubard beta on the effective n (R svyciprop method='beta')",
    "mean": "Wald t interval with the design df (R svyciprop method='mean')",
    "xlogit": "delta-method logit t interval (R svyciprop method='xlogit')",
    "asin": "arcsine square-root t interval (R svyciprop method='asin')",
    "t": "t interval with the design df (R confint(svymean, df = degf))",
    "adjusted_wald": "adjusted Wald on the effective n (Rocks 2016)",
    "wald": "Wald interval",
    "adjusted_wald_design": "adjusted Wald on the effective n (Rocks 2016)",
    "wald_design": "Wald t interval with the design df",
}


def check_method(method: str, choices: tuple[str, ...], argument: str = "ci") -> None:
    if method not in choices:
        raise ArgumentError(f"unknown ci method {method!r}", argument=argument,
                            expected=", ".join(repr(c) for c in choices))


def method_note(method: str) -> str:
    """Plain words for a ``ci_method`` key (the key itself when unknown)."""
    return CI_METHOD_NOTES.get(method, method)


def share_interval(p: np.ndarray | float, se: np.ndarray | float, df: np.ndarray | float,
                   level: float = 0.95, method: str = SHARE_DEFAULT, *,
                   n_rows: np.ndarray | float | None = None,
                   dispersion: np.ndarray | float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """R ``svyciprop`` bounds (fractions) of shares ``p`` with design SEs ``se`` and df ``df``.

    ``n_rows``: rows of the (sub)design, R ``nrow(design)`` (``"beta"`` only; default: inf,
    i.e. no small-sample correction). ``dispersion``: R's ``summary(svyglm)$dispersion``
    (``"likelihood"`` only; default 1). NaN where there is no SE or no df >= 1.
    """
    from scipy import special
    check_method(method, SHARE_METHODS)
    p, se = np.asarray(p, float), np.asarray(se, float)
    q = np.asarray(t_value(level, df), float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "mean":
            lo, hi = p - q * se, p + q * se
        elif method in ("logit", "xlogit"):
            eta, s = special.logit(p), se / (p * (1 - p))
            lo, hi = special.expit(eta - q * s), special.expit(eta + q * s)
        elif method == "asin":
            a, s = np.arcsin(np.sqrt(p)), se / (2 * np.sqrt(p * (1 - p)))
            lo, hi = np.sin(a - q * s) ** 2, np.sin(a + q * s) ** 2
        elif method == "beta":
            lo, hi = _beta(p, se, df, level, n_rows)
        else:
            lo, hi = _likelihood(p, se, q, dispersion)
    bad = ~np.isfinite(se) | ~np.isfinite(q)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _beta(p: np.ndarray, se: np.ndarray, df: np.ndarray | float, level: float,
          n_rows: np.ndarray | float | None) -> tuple[np.ndarray, np.ndarray]:
    """Korn-Graubard: beta quantiles on n_eff = p(1-p)/var, times (t_{nrow-1} / t_df)^2."""
    from scipy import stats

    alpha = 1 - level
    n_eff = p * (1 - p) / se**2
    if n_rows is not None:
        n_eff = n_eff * (np.asarray(t_value(level, np.asarray(n_rows, float) - 1))
                         / np.asarray(t_value(level, df))) ** 2
    else:
        n_eff = n_eff * (norm_ppf(alpha / 2) / -np.asarray(t_value(level, df))) ** 2
    lo = stats.beta.ppf(alpha / 2, n_eff * p, n_eff * (1 - p) + 1)
    hi = stats.beta.ppf(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p))
    return np.asarray(lo, float), np.asarray(hi, float)


def _likelihood(p: np.ndarray, se: np.ndarray, q: np.ndarray,
                dispersion: np.ndarray | float | None) -> tuple[np.ndarray, np.ndarray]:
    """Roots of the design-scaled binomial profile: 2 KL(p || mu) = q^2 var(p) disp / (p(1-p))
    (R ``confint(svyglm, method='likelihood')`` of the intercept; R interpolates a spline
    through its profile grid, this solves the profile exactly)."""
    from scipy import optimize

    disp = np.broadcast_to(np.asarray(1.0 if dispersion is None else dispersion, float), p.shape)
    pb, sb, qb = np.broadcast_arrays(p, se, q)
    lo, hi = np.full(pb.shape, np.nan), np.full(pb.shape, np.nan)
    for i in np.ndindex(pb.shape):
        pi, target = float(pb[i]), qb[i] ** 2 * sb[i] ** 2 * disp[i] / (2 * pb[i] * (1 - pb[i]))
        if not (0 < pi < 1 and np.isfinite(target)):
            continue

        def gap(mu: float, pi: float = pi, target: float = target) -> float:
            return float(pi * np.log(pi / mu) + (1 - pi) * np.log((1 - pi) / (1 - mu)) - target)

        eps = 1e-300
        lo[i] = optimize.brentq(gap, eps, pi, xtol=1e-15, rtol=1e-15) if gap(eps) > 0 else 0.0
        hi[i] = optimize.brentq(gap, pi, 1 - 1e-16, xtol=1e-15, rtol=1e-15) \
            if gap(1 - 1e-16) > 0 else 1.0
    return lo, hi


def adjusted_wald(p_pro: np.ndarray | float, p_det: np.ndarray | float,
                  n_eff: np.ndarray | float, q: np.ndarray | float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted Wald interval (Rocks 2016) from shares and (effective) sample size, in fractions:
    0.75 / 1.5 / 0.75 pseudo-responses added, then the Wald interval with quantile ``q``."""
    det_ps, pas_ps, pro_ps = ADJUSTED_WALD_PSEUDO
    n_adj = np.asarray(n_eff, float) + det_ps + pas_ps + pro_ps
    pro = (np.asarray(p_pro) * n_eff + pro_ps) / n_adj
    det = (np.asarray(p_det) * n_eff + det_ps) / n_adj
    est = pro - det
    se = np.sqrt(np.maximum(pro + det - est**2, 0.0) / n_adj)
    return np.clip(est - q * se, -1, 1), np.clip(est + q * se, -1, 1)


def nps_interval(est: np.ndarray | float, se: np.ndarray | float, p_pro: np.ndarray | float,
                 p_det: np.ndarray | float, size: np.ndarray | float, q: np.ndarray | float,
                 method: str) -> tuple[np.ndarray, np.ndarray]:
    """NPS bounds in fractions: ``"t"`` / ``"wald"`` est +- q se (``"t"`` unclipped, as R's
    confint; ``"wald"`` clipped to -1..1), ``"adjusted_wald"`` on ``size`` (the effective n
    under a design). NaN where no SE or no quantile."""
    check_method(method, NPS_METHODS)
    est, se, q = np.asarray(est, float), np.asarray(se, float), np.asarray(q, float)
    if method == "t":
        lo, hi = est - q * se, est + q * se
    elif method == "wald":
        lo, hi = np.clip(est - q * se, -1, 1), np.clip(est + q * se, -1, 1)
    else:
        lo, hi = adjusted_wald(p_pro, p_det, size, q)
    bad = ~np.isfinite(se) | ~np.isfinite(q)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def interval_size(n: np.ndarray | float, n_eff: np.ndarray | float) -> np.ndarray:
    """The size an adjusted Wald interval adds its pseudo-responses to: the effective n where
    the design gives one, else n."""
    return np.where(np.isfinite(n_eff) & (n_eff > 0), n_eff, n)


def nps_method(ci: str | None, designed: bool) -> str:
    """The NPS interval: ``ci``, or by default R's t interval under a design and the adjusted
    Wald interval of the R ``NPS`` package without one."""
    method = (NPS_DESIGN_DEFAULT if designed else "adjusted_wald") if ci is None else ci
    check_method(method, NPS_METHODS)
    return method


def design_method(ci: str) -> str:
    """The ``ci_method`` key of an NPS interval under a design."""
    return ci if ci == "t" else ci + "_design"
