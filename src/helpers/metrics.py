"""CX metrics with honest uncertainty: NPS, CES, CSAT, design-based means, differences, FDR, EB rates.

Everything here is a pure function over arrays / tidy DataFrames. A figure is never a bare float:
results are frozen dataclasses (``NPSResult``, ``MeanResult``, ``DiffResult``) or tidy frames with
``estimate``/``nps``, ``se``, ``ci_low``, ``ci_high``, ``n``.

Design-based estimation follows Lumley's R ``survey`` package: a weighted (ratio) mean with a
Taylor-linearised variance, strata, one-stage cluster sampling (PSUs sampled with replacement
unless ``fpc`` gives the population size per stratum), so ``svymean`` and ``svytotal`` results on
R's ``api`` data are reproduced (see tests). NPS is the mean of a +100/0/-100 score, so the same
machinery gives weighted and account-clustered NPS. Unweighted, unclustered NPS uses the
multinomial variance of Rocks (2016) and the R ``NPS`` package, with the adjusted Wald interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from helpers.errors import DataError

ArrayLike = Any  # list, numpy array or pandas Series
CIMethod = Literal["adjusted_wald", "wald"]

#: Pseudo-counts of the adjusted Wald interval (Rocks 2016): detractor, passive, promoter.
ADJUSTED_WALD_PSEUDO = (0.75, 1.5, 0.75)

__all__ = [
    "NPSResult", "MeanResult", "DiffResult", "CESResult", "CSATResult",
    "nps", "nps_score", "survey_mean", "survey_total", "ces", "csat", "nps_table",
    "compare_independent", "compare_paired", "bh_adjust",
    "min_detectable_difference", "sample_size_for_difference",
    "fit_beta_binomial", "eb_rates",
]


# --------------------------------------------------------------------------- result types
class _Interval:
    """`ci_low` / `ci_high` for results that hold their confidence interval as ``ci``."""

    ci: tuple[float, float]

    @property
    def ci_low(self) -> float:
        return self.ci[0]

    @property
    def ci_high(self) -> float:
        return self.ci[1]


@dataclass(frozen=True)
class MeanResult(_Interval):
    """Design-based mean (or total, or percentage) with its uncertainty.

    ``deff`` is the design effect against simple random sampling of the same n (with
    replacement); ``n_eff = n / deff`` is the sample size an SRS would need for the same SE.
    """

    estimate: float
    se: float
    ci: tuple[float, float]
    n: int
    deff: float
    n_eff: float
    level: float = 0.95

    def to_dict(self) -> dict[str, float]:
        """Metric dict in the run-folder convention (estimate, se, ci_low, ci_high, n, ...)."""
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci[0],
                "ci_high": self.ci[1], "n": self.n, "deff": self.deff, "n_eff": self.n_eff}


@dataclass(frozen=True)
class NPSResult(_Interval):
    """Net Promoter Score in points (-100..100) with shares, SE, CI and design effect.

    ``se`` is the standard error of the point estimate ``nps`` (multinomial, or design-based when
    weights / strata / clusters are given). ``ci`` follows ``method``: the adjusted Wald interval
    is centred on the adjusted estimate, so it need not be symmetric around ``nps``.
    ``deff`` / ``n_eff`` are None for an unweighted, unclustered sample.
    """

    nps: float
    se: float
    ci: tuple[float, float]
    n: int
    p_promoter: float
    p_passive: float
    p_detractor: float
    method: str
    deff: float | None = None
    n_eff: float | None = None
    level: float = 0.95

    @property
    def estimate(self) -> float:
        return self.nps

    def to_dict(self) -> dict[str, Any]:
        """Metric dict in the run-folder convention (estimate, se, ci_low, ci_high, n, ...)."""
        d = asdict(self)
        d.pop("ci")
        return {"estimate": self.nps, "ci_low": self.ci[0], "ci_high": self.ci[1], **d}


@dataclass(frozen=True)
class DiffResult(_Interval):
    """Difference ``b - a`` between two estimates with SE, CI, test statistic and two-sided p.

    ``z`` is a t statistic with ``df`` degrees of freedom when ``df`` is set (paired design),
    else a normal z. ``n_units`` counts the units of a paired comparison.
    """

    estimate: float
    se: float
    ci: tuple[float, float]
    z: float
    p: float
    n_a: int
    n_b: int
    metric: str
    level: float = 0.95
    n_units: int | None = None
    df: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("ci")
        return {"ci_low": self.ci[0], "ci_high": self.ci[1], **d}


@dataclass(frozen=True)
class CESResult:
    """Customer Effort Score 2.0: mean on 1-7 and % agree (5-7), both design-based."""

    mean: MeanResult
    pct_agree: MeanResult


@dataclass(frozen=True)
class CSATResult:
    """CSAT: % top-2 box (4-5 on 1-5) and the mean score, both design-based."""

    pct_top2: MeanResult
    mean: MeanResult


# --------------------------------------------------------------------------- input handling
def _z(level: float) -> float:
    if not 0 < level < 1:
        raise DataError(f"confidence level {level!r} out of range", expected="0 < level < 1")
    return float(stats.norm.ppf(0.5 + level / 2))


def _name(x: ArrayLike, default: str) -> str:
    name = getattr(x, "name", None)
    return str(name) if name is not None else default


def _as_float(x: ArrayLike, name: str) -> np.ndarray:
    """Coerce to a 1-d float array; non-numeric content raises DataError."""
    try:
        if isinstance(x, (pd.Series, pd.Index)):
            arr = pd.to_numeric(x).to_numpy(dtype=float, na_value=np.nan)
        else:
            arr = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(f"non-numeric values ({exc})", column=name, expected="numbers") from None
    return arr


def _codes(x: ArrayLike | None, n: int, name: str) -> np.ndarray | None:
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


def _weights(w: ArrayLike | None, n: int, name: str = "weights") -> np.ndarray | None:
    if w is None:
        return None
    arr = _as_float(w, name)
    if len(arr) != n:
        raise DataError(f"length {len(arr)} differs from the values' length {n}", column=name,
                        expected=f"{n} entries")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"weight {arr[row]!r}", column=name, row=row,
                        expected="finite non-negative weights")
    return arr


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Codes of the (a, b) pairs, 0..k-1 (vectorised, hash-based)."""
    key = a.astype(np.int64) * (int(b.max()) + 1 if len(b) else 1) + b
    codes, _ = pd.factorize(key)
    return codes.astype(np.int64)


# --------------------------------------------------------------------------- design variance
def _design_variance(z: np.ndarray, strata: np.ndarray | None, psu: np.ndarray | None,
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
        psu = _combine(s, psu)
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


def _prepare(values: ArrayLike, weights: ArrayLike | None, strata: ArrayLike | None,
             cluster: ArrayLike | None, fpc: ArrayLike | None, name: str):
    """Validate inputs, drop rows whose value is missing, return aligned arrays."""
    y = _as_float(values, name)
    n = len(y)
    w = _weights(weights, n)
    s = _codes(strata, n, "strata")
    c = _codes(cluster, n, "cluster")
    f = None
    if fpc is not None:
        f = _as_float(fpc, "fpc")
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


def _linearised_mean(y: np.ndarray, w: np.ndarray | None, s, c, f) -> tuple[float, float, float]:
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
    var = _design_variance(z, s, c, f)
    s2 = float(ww @ resid**2 / total_w) * (n / (n - 1)) if n > 1 else 0.0
    var_srs = s2 / n
    return est, var, var_srs


def _mean_result(est: float, var: float, var_srs: float, n: int, level: float,
                 scale: float = 1.0) -> MeanResult:
    se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
    deff = var / var_srs if var_srs > 0 else (1.0 if var == 0 else float("nan"))
    n_eff = n / deff if deff > 0 else (float(n) if deff == 0 else float("nan"))
    zq = _z(level)
    e, s_ = est * scale, se * scale
    return MeanResult(e, s_, (e - zq * s_, e + zq * s_), n, float(deff), float(n_eff), level)


# --------------------------------------------------------------------------- means and totals
def survey_mean(values: ArrayLike, weights: ArrayLike | None = None,
                strata: ArrayLike | None = None, cluster: ArrayLike | None = None,
                fpc: ArrayLike | None = None, level: float = 0.95) -> MeanResult:
    """Design-based mean with a Taylor-linearised SE (R ``survey::svymean`` equivalent).

    Parameters
    ----------
    values : numbers; NaN rows are dropped (``n`` counts valid ones).
    weights : sampling weights (default 1).
    strata : stratum label per row.
    cluster : PSU label per row (one-stage cluster sampling, nested within strata).
    fpc : population size per stratum (number of elements, or of clusters when ``cluster`` is
        given), like ``svydesign(fpc=~fpc)``; omit for sampling with replacement.
    level : confidence level of the normal-theory interval.

    Returns
    -------
    MeanResult with estimate, se, ci, n, deff and n_eff.
    """
    y, w, s, c, f = _prepare(values, weights, strata, cluster, fpc, _name(values, "values"))
    est, var, var_srs = _linearised_mean(y, w, s, c, f)
    return _mean_result(est, var, var_srs, len(y), level)


def survey_total(values: ArrayLike, weights: ArrayLike | None = None,
                 strata: ArrayLike | None = None, cluster: ArrayLike | None = None,
                 fpc: ArrayLike | None = None, level: float = 0.95) -> MeanResult:
    """Design-based population total sum(w * y) with its SE (R ``survey::svytotal``).

    Same arguments as :func:`survey_mean`. ``deff`` compares with an SRS of the same n
    estimating N * mean, N = sum of weights.
    """
    y, w, s, c, f = _prepare(values, weights, strata, cluster, fpc, _name(values, "values"))
    n = len(y)
    if n == 0:
        raise DataError("no non-missing values", expected="at least one response")
    ww = np.ones(n) if w is None else w
    est = float(ww @ y)
    var = _design_variance(ww * y, s, c, f)
    _, _, var_srs_mean = _linearised_mean(y, w, None, None, None)
    return _mean_result(est, var, var_srs_mean * ww.sum() ** 2, n, level)


# --------------------------------------------------------------------------- NPS
def nps_score(scores: ArrayLike, name: str | None = None) -> np.ndarray:
    """Map 0-10 likelihood-to-recommend to +100 (9-10), 0 (7-8), -100 (0-6); NaN stays NaN.

    Raises DataError for values outside 0-10.
    """
    x = _as_float(scores, name or _name(scores, "scores"))
    bad = (x < 0) | (x > 10)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"score {x[row]:g} outside the 0-10 scale", column=name or
                        _name(scores, "scores"), row=row, expected="0-10 or missing")
    out = np.where(x >= 9, 100.0, np.where(x <= 6, -100.0, 0.0))
    out[np.isnan(x)] = np.nan
    return out


def _adjusted_wald(p_pro: np.ndarray, p_det: np.ndarray, n_eff: np.ndarray, zq: float):
    """Adjusted Wald interval (Rocks 2016) from shares and (effective) sample size, in fractions."""
    det_ps, pas_ps, pro_ps = ADJUSTED_WALD_PSEUDO
    n_adj = n_eff + det_ps + pas_ps + pro_ps
    pro = (p_pro * n_eff + pro_ps) / n_adj
    det = (p_det * n_eff + det_ps) / n_adj
    est = pro - det
    se = np.sqrt(np.maximum(pro + det - est**2, 0.0) / n_adj)
    return np.clip(est - zq * se, -1, 1), np.clip(est + zq * se, -1, 1)


def nps(scores: ArrayLike, weights: ArrayLike | None = None, strata: ArrayLike | None = None,
        cluster: ArrayLike | None = None, fpc: ArrayLike | None = None,
        ci: CIMethod = "adjusted_wald", level: float = 0.95) -> NPSResult:
    """Net Promoter Score in points with SE and confidence interval.

    Without a design (no weights, strata, cluster, fpc) the variance is the multinomial one of
    Rocks (2016) / R ``NPS``: Var = p_pro + p_det - (p_pro - p_det)^2, SE = sqrt(Var / n).
    With a design, NPS is the design-based mean of the +100/0/-100 score (:func:`survey_mean`),
    e.g. clustered by account for B2B, and ``deff`` / ``n_eff`` are reported.

    ``ci="adjusted_wald"`` adds 0.75 detractor, 1.5 passive and 0.75 promoter pseudo-responses
    (n + 3) before the Wald interval (better coverage at small n); under a design the pseudo
    counts are added to the effective sample size ``n_eff``. ``ci="wald"`` is estimate +- z SE.
    NaN scores are dropped; scores outside 0-10 raise DataError.
    """
    if ci not in ("adjusted_wald", "wald"):
        raise DataError(f"unknown ci method {ci!r}", expected="'adjusted_wald' or 'wald'")
    zq = _z(level)
    y, w, s, c, f = _prepare(nps_score(scores), weights, strata, cluster, fpc,
                             _name(scores, "scores"))
    n = len(y)
    if n == 0:
        raise DataError("no valid scores", column=_name(scores, "scores"),
                        expected="at least one 0-10 score")
    ww = np.ones(n) if w is None else w
    tw = ww.sum()
    p_pro = float(ww[y > 0].sum() / tw)
    p_det = float(ww[y < 0].sum() / tw)
    est = p_pro - p_det
    design = any(v is not None for v in (w, s, c, f))
    if design:
        _, var, _ = _linearised_mean(y / 100.0, w, s, c, f)
        var_srs = (p_pro + p_det - est**2) / n
        deff = var / var_srs if var_srs > 0 else (1.0 if var == 0 else float("nan"))
        n_eff: float | None = n / deff if deff > 0 else (float(n) if deff == 0 else float("nan"))
        se = float(np.sqrt(max(var, 0.0))) if np.isfinite(var) else float("nan")
        deff_out: float | None = float(deff)
    else:
        se = float(np.sqrt(max(p_pro + p_det - est**2, 0.0) / n))
        n_eff, deff_out = None, None
    if not np.isfinite(se):
        lo = hi = float("nan")
    elif ci == "wald":
        lo, hi = max(est - zq * se, -1.0), min(est + zq * se, 1.0)
    else:
        lo_a, hi_a = _adjusted_wald(np.array(p_pro), np.array(p_det),
                                    np.array(n_eff if n_eff is not None else n, dtype=float), zq)
        lo, hi = float(lo_a), float(hi_a)
    return NPSResult(100 * est, 100 * se, (100 * lo, 100 * hi), n, p_pro, 1 - p_pro - p_det,
                     p_det, ci + ("_design" if design else ""), deff_out,
                     float(n_eff) if n_eff is not None else None, level)


# --------------------------------------------------------------------------- multiple testing
def bh_adjust(pvalues: ArrayLike, q: float = 0.05) -> pd.DataFrame:
    """Benjamini-Hochberg (1995) step-up false discovery rate control.

    Parameters
    ----------
    pvalues : p-values (NaN allowed: left out of the count m and never rejected).
    q : false discovery rate.

    Returns
    -------
    DataFrame (index of ``pvalues`` when a Series) with columns ``p_value``, ``p_adjusted``
    (BH-adjusted, as R ``p.adjust(method="BH")``) and ``reject`` (p_adjusted <= q).
    """
    p = _as_float(pvalues, _name(pvalues, "pvalues"))
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise DataError("p-value outside [0, 1]", column=_name(pvalues, "pvalues"),
                        expected="probabilities")
    if not 0 < q < 1:
        raise DataError(f"q = {q!r}", expected="0 < q < 1")
    adj = np.full(len(p), np.nan)
    pv = p[ok]
    m = len(pv)
    if m:
        order = np.argsort(pv)[::-1]
        ranks = np.arange(m, 0, -1)
        stepped = np.minimum.accumulate(pv[order] * m / ranks)
        out = np.empty(m)
        out[order] = np.minimum(stepped, 1.0)
        adj[ok] = out
    index = pvalues.index if isinstance(pvalues, pd.Series) else None
    return pd.DataFrame({"p_value": p, "p_adjusted": adj, "reject": np.nan_to_num(adj, nan=2) <= q},
                        index=index)


# --------------------------------------------------------------------------- empirical Bayes
def fit_beta_binomial(successes: ArrayLike, trials: ArrayLike,
                      method: Literal["mle", "mom"] = "mle") -> tuple[float, float]:
    """Fit the Beta(alpha, beta) prior of a beta-binomial model to unit-level counts.

    ``"mom"``: method of moments (between-unit variance of the raw rates minus the mean binomial
    variance). ``"mle"``: marginal maximum likelihood, started from the moments fit. When the
    rates show no extra-binomial variation, alpha + beta is capped at 1e7 (complete pooling).
    """
    k = _as_float(successes, "successes")
    n = _as_float(trials, "trials")
    if len(k) != len(n):
        raise DataError("successes and trials differ in length", column="trials",
                        expected="one count pair per unit")
    bad = ~np.isfinite(k) | ~np.isfinite(n) | (n <= 0) | (k < 0) | (k > n)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"successes {k[row]:g} of trials {n[row]:g}", column="successes", row=row,
                        expected="0 <= successes <= trials, trials > 0")
    if len(k) < 2:
        raise DataError("a prior needs at least two units", expected=">= 2 units")
    pooled = k.sum() / n.sum()
    if pooled in (0.0, 1.0):
        raise DataError(f"pooled rate is {pooled:g}: every unit has the same outcome",
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
    if method != "mle":
        raise DataError(f"unknown method {method!r}", expected="'mle' or 'mom'")

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

    start = np.log([max(mom[0], 1e-3), max(mom[1], 1e-3)])
    res = optimize.minimize(nll, start, jac=grad, method="L-BFGS-B",
                            bounds=[(-7.0, np.log(cap))] * 2)
    a, b = np.exp(res.x)
    return float(a), float(b)


def _two_sided(cdf: np.ndarray, sf_km1: np.ndarray) -> np.ndarray:
    return np.minimum(1.0, 2 * np.minimum(cdf, sf_km1))


def eb_rates(successes: ArrayLike, trials: ArrayLike, labels: ArrayLike | None = None,
             level: float = 0.95, method: Literal["mle", "mom"] = "mle") -> pd.DataFrame:
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
    """
    k = _as_float(successes, "successes")
    n = _as_float(trials, "trials")
    a, b = fit_beta_binomial(k, n, method=method)
    tail = (1 - level) / 2
    post_a, post_b = a + k, b + n - k
    pooled = k.sum() / n.sum()
    p_binom = _two_sided(stats.binom.cdf(k, n, pooled), stats.binom.sf(k - 1, n, pooled))
    p_eb = _two_sided(stats.betabinom.cdf(k, n, a, b), stats.betabinom.sf(k - 1, n, a, b))
    out = pd.DataFrame({
        "label": (np.asarray(labels) if labels is not None else np.arange(len(k))),
        "successes": k, "trials": n, "raw_rate": k / n,
        "shrunk_rate": post_a / (post_a + post_b),
        "ci_low": stats.beta.ppf(tail, post_a, post_b),
        "ci_high": stats.beta.ppf(1 - tail, post_a, post_b),
        "p_value": p_binom, "p_value_eb": p_eb,
    })
    out.attrs.update(alpha=a, beta=b, prior_mean=a / (a + b), pooled_rate=float(pooled),
                     method=method, level=level)
    return out


# --------------------------------------------------------------------------- CES and CSAT
def _check_scale(x: np.ndarray, lo: float, hi: float, name: str) -> None:
    bad = (x < lo) | (x > hi)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"value {x[row]:g} outside the {lo:g}-{hi:g} scale", column=name, row=row,
                        expected=f"{lo:g}-{hi:g} or missing")


def _proportion_result(est: float, var: float, var_srs: float, n: int, level: float) -> MeanResult:
    """Percentage (0-100) with a design-based SE and a Wilson interval on the effective n.

    The Wilson interval (Wilson 1927; Newcombe 1998) stays inside 0-100 and keeps its coverage
    for small n and shares near 0 or 100 %, where estimate +- z SE does not.
    """
    base = _mean_result(est, var, var_srs, n, level)
    zq = _z(level)
    m = base.n_eff if np.isfinite(base.n_eff) and base.n_eff > 0 else float(n)
    centre = (est + zq**2 / (2 * m)) / (1 + zq**2 / m)
    half = zq / (1 + zq**2 / m) * np.sqrt(est * (1 - est) / m + zq**2 / (4 * m**2))
    lo, hi = max(centre - half, 0.0), min(centre + half, 1.0)
    return MeanResult(100 * est, 100 * base.se, (float(100 * lo), float(100 * hi)), n, base.deff,
                      base.n_eff, level)


def _mean_and_share(values: ArrayLike, lo: float, hi: float, cut: float, weights, strata,
                    cluster, fpc, level: float, name: str) -> tuple[MeanResult, MeanResult]:
    y, w, s, c, f = _prepare(values, weights, strata, cluster, fpc, name)
    _check_scale(y, lo, hi, name)
    mean = _mean_result(*_linearised_mean(y, w, s, c, f), len(y), level)
    share = _proportion_result(*_linearised_mean((y >= cut).astype(float), w, s, c, f), len(y),
                               level)
    return mean, share


def ces(values: ArrayLike, weights: ArrayLike | None = None, strata: ArrayLike | None = None,
        cluster: ArrayLike | None = None, fpc: ArrayLike | None = None,
        level: float = 0.95) -> CESResult:
    """Customer Effort Score 2.0 (1-7 agreement): mean and % agree (5-7), design-based.

    Same design arguments as :func:`survey_mean`; NaN dropped, values outside 1-7 raise
    DataError. ``pct_agree`` is in percent with a Wilson interval on the effective n.
    """
    name = _name(values, "ces")
    mean, share = _mean_and_share(values, 1, 7, 5, weights, strata, cluster, fpc, level, name)
    return CESResult(mean=mean, pct_agree=share)


def csat(values: ArrayLike, weights: ArrayLike | None = None, strata: ArrayLike | None = None,
         cluster: ArrayLike | None = None, fpc: ArrayLike | None = None,
         level: float = 0.95) -> CSATResult:
    """CSAT (1-5): % top-2 box (4-5) and mean score, design-based.

    Same design arguments as :func:`survey_mean`; NaN dropped, values outside 1-5 raise
    DataError. ``pct_top2`` is in percent with a Wilson interval on the effective n.
    """
    name = _name(values, "csat")
    mean, share = _mean_and_share(values, 1, 5, 4, weights, strata, cluster, fpc, level, name)
    return CSATResult(pct_top2=share, mean=mean)


# --------------------------------------------------------------------------- differences
Metric = Literal["nps", "mean", "ces_agree", "csat_top2"]


def _metric_values(values: ArrayLike, metric: str, name: str) -> np.ndarray:
    """Per-response values whose (weighted) mean is the metric, on the reporting scale."""
    if metric == "nps":
        return nps_score(values, name)
    y = _as_float(values, name)
    if metric == "mean":
        return y
    if metric in ("ces_agree", "csat_top2"):
        lo, hi, cut = (1, 7, 5) if metric == "ces_agree" else (1, 5, 4)
        _check_scale(y, lo, hi, name)
        return np.where(np.isnan(y), np.nan, 100.0 * (y >= cut))
    raise DataError(f"unknown metric {metric!r}", expected="nps, mean, ces_agree or csat_top2")


def _estimate(values: ArrayLike, metric: str, weights, cluster, level: float, name: str):
    if metric == "nps":
        r = nps(values, weights=weights, cluster=cluster, ci="wald", level=level)
        return r.nps, r.se, r.n
    r = survey_mean(_metric_values(values, metric, name), weights=weights, cluster=cluster,
                    level=level)
    return r.estimate, r.se, r.n


def _diff(est: float, se: float, n_a: int, n_b: int, metric: str, level: float,
          df: float | None = None, n_units: int | None = None) -> DiffResult:
    dist = stats.norm if df is None else stats.t(df)
    q = float(dist.ppf(0.5 + level / 2))
    stat = est / se if se > 0 else (0.0 if est == 0 else np.sign(est) * np.inf)
    p = float(2 * dist.sf(abs(stat)))
    return DiffResult(float(est), float(se), (est - q * se, est + q * se), float(stat), p, n_a, n_b,
                      metric, level, n_units, df)


def compare_independent(a_scores: ArrayLike, b_scores: ArrayLike, *, metric: Metric = "nps",
                        a_weights: ArrayLike | None = None, b_weights: ArrayLike | None = None,
                        a_cluster: ArrayLike | None = None, b_cluster: ArrayLike | None = None,
                        level: float = 0.95) -> DiffResult:
    """Difference ``b - a`` between two independent samples (e.g. two segments or two waves
    with different respondents), with SE = sqrt(se_a^2 + se_b^2), Wald CI, z and two-sided p.

    ``metric``: "nps" (0-10 scores, points), "mean" (any scale), "ces_agree" (% 5-7 on 1-7) or
    "csat_top2" (% 4-5 on 1-5). Weights and clusters (e.g. accounts) apply per sample. For the
    same accounts in two waves use :func:`compare_paired` instead.
    """
    ea, sa, na = _estimate(a_scores, metric, a_weights, a_cluster, level, _name(a_scores, "a"))
    eb, sb, nb = _estimate(b_scores, metric, b_weights, b_cluster, level, _name(b_scores, "b"))
    return _diff(eb - ea, float(np.hypot(sa, sb)), na, nb, metric, level)


def compare_paired(df: pd.DataFrame, unit: str, period: str, score: str, *,
                   periods: tuple[Any, Any] | None = None, metric: Metric = "nps",
                   weight: str | None = None, level: float = 0.95) -> DiffResult:
    """Change between two waves for the same units (panel), clustered by unit.

    Keeps the units (e.g. accounts) that responded in both periods, estimates the metric in
    each period over their responses and linearises the difference ``b - a``; each unit's two
    waves form one cluster, so the positive correlation of an account with itself is used
    (narrower than treating the waves as independent) and several contacts per account are
    not counted as independent. With one response per unit and period this is exactly the
    paired t-test; the p-value and CI use a t distribution with (units - 1) df.

    Parameters
    ----------
    df : tidy responses. unit, period, score : column names. periods : (a, b); default the two
        sorted values of ``period`` (an error when there are not exactly two).
    metric : as in :func:`compare_independent`. weight : optional weight column.
    """
    for col in (unit, period, score, *([weight] if weight else [])):
        if col not in df.columns:
            raise DataError("column not found", column=col, expected=f"one of {list(df.columns)}")
    if periods is None:
        found = sorted(df[period].dropna().unique())
        if len(found) != 2:
            raise DataError(f"{len(found)} periods found", column=period,
                            expected="exactly two periods, or pass periods=(a, b)")
        periods = (found[0], found[1])
    y_all = _metric_values(df[score], metric, score)
    in_b = (df[period] == periods[1]).to_numpy()
    keep = ((df[period] == periods[0]).to_numpy() | in_b) & ~np.isnan(y_all)
    keep &= df[unit].notna().to_numpy()
    sub_unit = df[unit].to_numpy()[keep]
    sub_b = in_b[keep]
    units_a, units_b = set(sub_unit[~sub_b]), set(sub_unit[sub_b])
    both = np.isin(sub_unit, list(units_a & units_b))
    y, is_b, u = y_all[keep][both], sub_b[both], sub_unit[both]
    n_units = len(units_a & units_b)
    if n_units < 2:
        raise DataError(f"{n_units} units responded in both periods", column=unit,
                        expected="at least two units present in both periods")
    w = (_weights(df[weight].to_numpy()[keep][both], len(y), weight) if weight
         else np.ones(len(y)))
    z = np.empty(len(y))
    est = {}
    for flag, sign in ((False, -1.0), (True, 1.0)):
        m = is_b == flag
        tw = w[m].sum()
        est[flag] = float(w[m] @ y[m] / tw)
        z[m] = sign * w[m] * (y[m] - est[flag]) / tw
    var = _design_variance(z, None, _codes(u, len(u), unit), None)
    return _diff(est[True] - est[False], float(np.sqrt(var)), int((~is_b).sum()),
                 int(is_b.sum()), metric, level, df=float(n_units - 1), n_units=n_units)


def _nps_variance(p_promoter: float, p_detractor: float) -> float:
    if not (0 <= p_promoter <= 1 and 0 <= p_detractor <= 1 and p_promoter + p_detractor <= 1):
        raise DataError(f"shares promoter {p_promoter!r}, detractor {p_detractor!r}",
                        expected="shares in 0-1 summing to at most 1")
    return p_promoter + p_detractor - (p_promoter - p_detractor) ** 2


def min_detectable_difference(n: float, *, n_b: float | None = None, p_promoter: float = 0.45,
                              p_detractor: float = 0.15, alpha: float = 0.05, power: float = 0.8,
                              deff: float = 1.0) -> float:
    """Smallest true NPS change (points) a two-sided test at ``alpha`` detects with ``power``.

    MDD = (z_{1-alpha/2} + z_power) * sqrt(deff * Var * (1/n + 1/n_b)) with the multinomial
    NPS variance Var = p_pro + p_det - (p_pro - p_det)^2 at the expected shares (default 45 %
    promoters, 15 % detractors, NPS 30). ``n`` responses in the first group, ``n_b`` in the
    second (default: same); ``deff`` inflates for weighting or account clustering.
    """
    n_b = n if n_b is None else n_b
    if n <= 0 or n_b <= 0:
        raise DataError(f"sample sizes {n!r}, {n_b!r}", expected="positive numbers of responses")
    var = _nps_variance(p_promoter, p_detractor)
    k = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(100 * k * np.sqrt(deff * var * (1 / n + 1 / n_b)))


def sample_size_for_difference(difference: float, *, p_promoter: float = 0.45,
                               p_detractor: float = 0.15, alpha: float = 0.05,
                               power: float = 0.8, deff: float = 1.0) -> int:
    """Responses per group needed to detect an NPS change of ``difference`` points
    (the inverse of :func:`min_detectable_difference` with equal groups), rounded up."""
    if difference == 0:
        raise DataError("difference 0 cannot be detected", expected="a non-zero difference")
    var = _nps_variance(p_promoter, p_detractor)
    k = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(np.ceil(deff * 2 * var * (k / (difference / 100)) ** 2 - 1e-9))


# --------------------------------------------------------------------------- segment table
def nps_table(df: pd.DataFrame, by: str | Sequence[str], score: str = "ltr",
              weight: str | None = None, cluster: str | None = None, level: float = 0.95,
              ci: CIMethod = "adjusted_wald") -> pd.DataFrame:
    """NPS with uncertainty for every group of ``by``, vectorised (one pass of bincounts).

    One row per group (sorted): the ``by`` columns, ``n``, ``pct_promoter``, ``pct_passive``,
    ``pct_detractor``, ``nps``, ``se``, ``ci_low``, ``ci_high``, ``deff``, ``n_eff`` (and
    ``n_clusters`` when ``cluster`` is given). Without weight and cluster each row equals
    :func:`nps` on the group; with them each group is estimated as its own design (weighted
    ratio mean, clusters nested in the group, with replacement), as :func:`nps` with the same
    weights / clusters on the group's rows. NaN scores are dropped; rows with a missing group
    label are left out.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    cols = [*by_cols, score, *([weight] if weight else []), *([cluster] if cluster else [])]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError("column not found", column=missing[0], expected=f"one of {list(df.columns)}")
    if ci not in ("adjusted_wald", "wald"):
        raise DataError(f"unknown ci method {ci!r}", expected="'adjusted_wald' or 'wald'")
    zq = _z(level)
    y = nps_score(df[score], score) / 100.0
    gid = (df.groupby(by_cols, sort=True, dropna=True, observed=True).ngroup()
           .fillna(-1).to_numpy().astype(np.int64))
    keep = ~np.isnan(y) & (gid >= 0)
    if cluster is not None:
        keep &= df[cluster].notna().to_numpy()
    idx = np.flatnonzero(keep)
    g = gid[idx].astype(np.int64)
    y = y[idx]
    n_groups = int(gid.max()) + 1 if len(gid) and gid.max() >= 0 else 0
    w = (_weights(df[weight].to_numpy()[idx], len(idx), weight) if weight else None)
    ww = np.ones(len(idx)) if w is None else w

    n = np.bincount(g, minlength=n_groups).astype(float)
    tw = np.bincount(g, weights=ww, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_pro = np.bincount(g, weights=ww * (y > 0), minlength=n_groups) / tw
        p_det = np.bincount(g, weights=ww * (y < 0), minlength=n_groups) / tw
        est = p_pro - p_det
        var_srs = np.maximum(p_pro + p_det - est**2, 0.0) / n
        out_extra: dict[str, np.ndarray] = {}
        if w is None and cluster is None:
            var = var_srs
        else:
            z = ww * (y - est[g]) / tw[g]
            if cluster is not None:
                c_codes = _codes(df[cluster].to_numpy()[idx], len(idx), cluster)
                psu = _combine(g, c_codes)
                t = np.bincount(psu, weights=z)
                first = np.full(len(t), -1, dtype=np.int64)
                first[psu[::-1]] = np.arange(len(psu) - 1, -1, -1)
                tg = g[first]
                out_extra["n_clusters"] = np.bincount(tg, minlength=n_groups)
            else:
                t, tg = z, g
            m = np.bincount(tg, minlength=n_groups).astype(float)
            t_mean = np.bincount(tg, weights=t, minlength=n_groups) / m
            ss = np.bincount(tg, weights=(t - t_mean[tg]) ** 2, minlength=n_groups)
            var = np.where(m > 1, m / (m - 1) * ss, np.nan)
        se = np.sqrt(var)
        deff = np.where(var_srs > 0, var / var_srs, 1.0)
        n_eff = np.where(deff > 0, n / deff, n)
    if ci == "wald":
        lo, hi = np.clip(est - zq * se, -1, 1), np.clip(est + zq * se, -1, 1)
    else:
        lo, hi = _adjusted_wald(p_pro, p_det, np.where(np.isfinite(n_eff), n_eff, n), zq)
        lo, hi = np.where(np.isnan(se), np.nan, lo), np.where(np.isnan(se), np.nan, hi)
    present = n > 0
    first_row = np.full(n_groups, -1, dtype=np.int64)
    first_row[g[::-1]] = idx[::-1]
    labels = df[by_cols].iloc[first_row[present]].reset_index(drop=True)
    table = labels.assign(
        n=n[present].astype(np.int64), pct_promoter=100 * p_pro[present],
        pct_passive=100 * (1 - p_pro - p_det)[present], pct_detractor=100 * p_det[present],
        nps=100 * est[present], se=100 * se[present], ci_low=100 * lo[present],
        ci_high=100 * hi[present], deff=deff[present], n_eff=n_eff[present],
        **{k: v[present] for k, v in out_extra.items()},
    )
    return table
