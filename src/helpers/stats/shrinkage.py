"""Empirical-Bayes rates: beta-binomial shrinkage before ranking reps, teams or accounts.

:func:`fit_beta_binomial` fits the prior by maximum likelihood; :func:`eb_rates` returns each
unit's shrunk rate with a posterior interval and a tail probability, so a rep with six
responses is not ranked top by chance.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, ThinData
from helpers.stats.arrays import ArrayLike, as_float, one_blas_thread


# --------------------------------------------------------------------------- empirical Bayes
def fit_beta_binomial(successes: ArrayLike, trials: ArrayLike,
                      method: Literal["mle", "mom"] = "mle") -> tuple[float, float]:
    """Fit the Beta(alpha, beta) prior of a beta-binomial model to unit-level counts.

    ``"mom"``: method of moments (between-unit variance of the raw rates minus the mean binomial
    variance). ``"mle"``: marginal maximum likelihood, started from the moments fit. When the
    rates show no extra-binomial variation, alpha + beta is capped at 1e7 (complete pooling).
    """
    from scipy import special
    if method not in ("mle", "mom"):
        raise ArgumentError(f"unknown method {method!r}", argument="method",
                            expected="'mle' or 'mom'")
    k = as_float(successes, "successes")
    n = as_float(trials, "trials")
    if len(k) != len(n):
        raise ArgumentError("successes and trials differ in length", argument="trials",
                            expected="one count pair per unit")
    bad = ~np.isfinite(k) | ~np.isfinite(n) | (n <= 0) | (k < 0) | (k > n)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"successes {k[row]:g} of trials {n[row]:g}", column="successes", row=row,
                        expected="0 <= successes <= trials, trials > 0")
    if len(k) < 2:
        raise ThinData("a prior needs at least two units", expected=">= 2 units")
    pooled = k.sum() / n.sum()
    if pooled in (0.0, 1.0):
        raise ThinData(f"pooled rate is {pooled:g}: every unit has the same outcome",
                       expected="some successes and some failures")
    cap = 1e7
    r = k / n
    m = r.mean()
    between = r.var(ddof=1) - m * (1 - m) * np.mean(1 / n)
    size = m * (1 - m) / between - 1 if between > 0 else cap
    size = float(np.clip(size, 1e-3, cap))
    mom = (m * size, (1 - m) * size)
    if method == "mom":
        return float(mom[0]), float(mom[1])

    def nll(theta: np.ndarray) -> float:
        a, b = np.exp(theta)
        return -float(np.sum(special.betaln(k + a, n - k + b) - special.betaln(a, b)))

    def grad(theta: np.ndarray) -> np.ndarray:
        a, b = np.exp(theta)
        dg = special.digamma
        common = dg(n + a + b) - dg(a + b)
        ga = np.sum(dg(k + a) - dg(a) - common)
        gb = np.sum(dg(n - k + b) - dg(b) - common)
        return -np.array([ga * a, gb * b])

    from scipy import optimize

    start = np.log([max(mom[0], 1e-3), max(mom[1], 1e-3)])
    with one_blas_thread():  # two parameters: a second thread only spins (20 x the CPU)
        res = optimize.minimize(nll, start, jac=grad, method="L-BFGS-B",
                                bounds=[(-7.0, np.log(cap))] * 2)
    a, b = np.exp(res.x)
    return float(a), float(b)


def _beta_ppf(q: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``scipy.stats.beta.ppf`` for 0 < q < 1 and positive a, b: the kernel it calls, without
    importing scipy.stats (about a second of CPU in a kernel that needs nothing else of it)."""
    from scipy.special import _ufuncs

    return np.asarray(_ufuncs._beta_ppf(q, a, b), dtype=float)


def _two_sided(cdf: np.ndarray, sf_km1: np.ndarray) -> np.ndarray:
    return np.minimum(1.0, 2 * np.minimum(cdf, sf_km1))


def eb_rates(successes: ArrayLike, trials: ArrayLike, labels: ArrayLike | None = None,
             level: float = 0.95, method: Literal["mle", "mom"] = "mle", *,
             tests: bool = True) -> pd.DataFrame:
    """Beta-binomial empirical-Bayes shrinkage of unit rates (reps, teams, accounts).

    Fits a Beta(alpha, beta) prior across units (:func:`fit_beta_binomial`) and returns one row
    per unit: ``label``, ``successes``, ``trials``, ``raw_rate``, ``shrunk_rate`` (posterior mean
    (k + alpha) / (n + alpha + beta)), ``ci_low`` / ``ci_high`` (equal-tailed posterior interval),
    ``p_value`` (exact two-sided binomial test of the unit against the pooled rate) and
    ``p_value_eb`` (two-sided test against the fitted beta-binomial predictive distribution,
    which allows for ordinary between-unit variation; use it with :func:`bh_adjust` when scanning
    many units, so small units are not flagged by chance). Prior and pooled rate are in
    ``.attrs`` (alpha, beta, prior_mean, pooled_rate).

    ``p_value`` assumes responses are independent given the unit; clustered responses (several
    contacts of one account) make it anti-conservative. ``p_value_eb`` is conservative when a
    few extreme units widen the fitted prior (on the sample, BH on ``p_value`` finds the planted
    gaming reps, BH on ``p_value_eb`` finds none): rank by ``shrunk_rate`` either way.
    ``tests=False`` leaves both p-value columns out (the beta-binomial tail sums over every
    count up to each unit's, the costliest part with thousands of responses per unit).
    """
    k = as_float(successes, "successes")
    n = as_float(trials, "trials")
    a, b = fit_beta_binomial(k, n, method=method)
    tail = (1 - level) / 2
    post_a, post_b = a + k, b + n - k
    pooled = k.sum() / n.sum()
    out = pd.DataFrame({
        "label": (np.asarray(labels) if labels is not None else np.arange(len(k))),
        "successes": k, "trials": n, "raw_rate": k / n,
        "shrunk_rate": post_a / (post_a + post_b),
        "ci_low": _beta_ppf(tail, post_a, post_b),
        "ci_high": _beta_ppf(1 - tail, post_a, post_b),
    })
    if tests:
        from scipy import stats

        out["p_value"] = _two_sided(stats.binom.cdf(k, n, pooled), stats.binom.sf(k - 1, n, pooled))
        out["p_value_eb"] = _two_sided(stats.betabinom.cdf(k, n, a, b),
                                       stats.betabinom.sf(k - 1, n, a, b))
    out.attrs.update(alpha=a, beta=b, prior_mean=a / (a + b), pooled_rate=float(pooled),
                     method=method, level=level)
    return out
