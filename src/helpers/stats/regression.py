"""Design-based regression: linear and logistic models with sandwich standard errors, equal to
R's ``svyglm`` (survey 4.1.1).

The coefficients are the weighted (pseudo-) maximum likelihood estimates; their covariance is
the design-based sandwich ``A^-1 V A^-1``: the linearised variance (:meth:`Design.variance`)
of the totals of each row's influence ``x_i w_i (y_i - mu_i) A^-1``, so clusters, strata, fpc
and calibration (raking) enter exactly as for a mean. Intervals and p-values use t on the
design's degrees of freedom minus the model's parameters plus one (R ``summary.svyglm``,
``confint.svyglm``). ``family="quasibinomial"`` is R's ``family=quasibinomial()``: the logit
of a 0/1 (or share) outcome. Rows with a missing value are a domain of the design (R drops
them with ``design[-nas, ]``, which keeps every PSU): they never leave it.

:func:`fit_coefficients` computes the coefficients from a weight vector alone, so a
replicate-weight design can refit with each replicate's weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, ThinData
from helpers.stats.arrays import ArrayLike, as_mask, check_level, one_blas_thread, t_sf, t_value
from helpers.stats.design import Design, Variance, resolve_design
from helpers.stats.replicates import ReplicateDesign, is_replicate, replicate_vcov

Family = Literal["gaussian", "quasibinomial"]
#: Each row's distinct predictor pattern and the first row of each (``()``: none used).
Patterns = tuple[np.ndarray, np.ndarray] | tuple[()]
FAMILIES = ("gaussian", "quasibinomial")
#: Newton steps allowed before a logistic fit is reported as not converged (R glm: 25).
MAX_ITERATIONS = 50
#: Rows of the systematic subsample whose logistic fit starts the full one (large data only).
WARM_START_ROWS = 50_000


@dataclass(frozen=True)
class GLMResult:
    """A fitted design-based model (R ``svyglm``): coefficients with the intercept first,
    their sandwich covariance, ``df`` (design df + 1 - parameters, as R's ``df.residual``),
    ``n`` rows in the fit and ``n_psu`` PSUs holding them."""

    names: tuple[str, ...]
    coef: np.ndarray
    vcov: np.ndarray
    df: float
    n: int
    n_psu: int
    family: str
    level: float = 0.95
    converged: bool = True

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.maximum(np.diag(self.vcov), 0.0))

    @property
    def t(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.coef / self.se

    @property
    def p_value(self) -> np.ndarray:
        """Two-sided p-values from t on :attr:`df` (NaN without degrees of freedom)."""
        if not self.df > 0:
            return np.full(len(self.coef), np.nan)
        return 2 * t_sf(np.abs(self.t), self.df)

    def ci(self, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """t interval on :attr:`df` (R ``confint(fit)``)."""
        q = t_value(self.level if level is None else level, self.df)
        return self.coef - q * self.se, self.coef + q * self.se

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fitted mean for rows of ``x`` (without the constant column)."""
        eta = self.coef[0] + np.asarray(x, float) @ self.coef[1:]
        return _inverse_link(eta) if self.family == "quasibinomial" else eta

    def table(self) -> pd.DataFrame:
        """Tidy coefficients: term, estimate, se, t, p_value, ci_low, ci_high, df, n."""
        lo, hi = self.ci()
        return pd.DataFrame({"term": list(self.names), "estimate": self.coef, "se": self.se,
                             "t": self.t, "p_value": self.p_value, "ci_low": lo, "ci_high": hi,
                             "df": self.df, "n": self.n})


def _inverse_link(eta: np.ndarray) -> np.ndarray:
    from scipy import special
    return np.asarray(special.expit(eta))


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ArgumentError(f"family {family!r}", argument="family",
                            expected="'gaussian' or 'quasibinomial'")


def fit_coefficients(y: np.ndarray, xc: np.ndarray, w: np.ndarray, family: Family = "gaussian",
                     *, patterns: Patterns | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Coefficients of the weighted model of ``y`` on ``xc`` (constant included), with the
    weights ``w`` (zero: not in the fit). Returns (coefficients, fitted means, converged).

    The estimate depends on the data only through ``w``: a replicate design refits with each
    replicate's weights. ``patterns``: the distinct rows of ``xc`` when already known (``()``:
    too many to use), found here for a large logistic fit when None.
    """
    _check_family(family)
    if family == "gaussian":
        b = _normal_equations(y, xc, w)[0]
        return b, xc @ b, True
    b = np.zeros(xc.shape[1])
    if patterns is None:
        patterns = (_patterns(xc) or ()) if len(y) > 4 * WARM_START_ROWS else ()
    if patterns:   # few distinct predictor rows (rating scales): fit on those
        codes, first = patterns
        wp = np.bincount(codes, weights=w)
        b, _, ok = _newton(np.bincount(codes, weights=w * y) / np.where(wp > 0, wp, 1.0),
                           xc[first], wp, b)
        return b, _inverse_link(xc @ b), ok
    if len(y) > 4 * WARM_START_ROWS:   # start from every k-th row's fit: fewer full passes
        k = len(y) // WARM_START_ROWS
        try:
            start, _, ok = _newton(y[::k], xc[::k], w[::k], b)
        except DataError:   # the subsample is degenerate: start from zero
            start, ok = b, False
        b = start if ok else b
    return _newton(y, xc, w, b)


def _normal_equations(y: np.ndarray, xc: np.ndarray, w: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares coefficients and the information matrix X'WX they solve."""
    xw = xc * w[:, None]
    info = xw.T @ xc
    return _solve(info, xw.T @ y), info


def _patterns(xc: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's distinct predictor pattern and the first row of each pattern, when there
    are at most a twentieth as many patterns as rows (the likelihood is a sum over patterns)."""
    key = np.zeros(len(xc), dtype=np.int64)
    for j in range(1, xc.shape[1]):
        codes, uniq = pd.factorize(xc[:, j])
        key = key * len(uniq) + codes
        if len(uniq) > len(xc) // 20:
            return None
        key = pd.factorize(key)[0]
    n_pat = int(key.max()) + 1
    if n_pat > len(xc) // 20:
        return None
    first = np.empty(n_pat, dtype=np.int64)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)
    return key, first


def _newton(y: np.ndarray, xc: np.ndarray, w: np.ndarray, b: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Newton-Raphson for the weighted logistic likelihood from ``b``."""
    xt = np.ascontiguousarray(xc.T)
    for _ in range(MAX_ITERATIONS):
        mu = _inverse_link(xc @ b)
        step = _solve((xt * (w * mu * (1 - mu))) @ xc, xt @ (w * (y - mu)))
        b = b + step
        if np.abs(step).max() <= 1e-10 * (1 + np.abs(b).max()):
            return b, _inverse_link(xc @ b), True
    return b, _inverse_link(xc @ b), False


def _solve(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    try:
        out = np.linalg.solve(a, rhs)
    except np.linalg.LinAlgError:
        out = np.full(a.shape[0], np.nan)
    if not np.isfinite(out).all() or np.linalg.cond(a) > 1e13:
        raise DataError("the model's columns are collinear (or one is constant)",
                        column="x", expected="predictors that are not linear combinations "
                                             "of each other, with variation in the rows used")
    return np.asarray(out)


def _bread(xm: np.ndarray, w: np.ndarray, mu: np.ndarray, family: Family,
           inside: np.ndarray | None) -> np.ndarray:
    """A^-1: the inverse of the weighted information matrix (R ``cov.unscaled`` of the glm),
    from the predictors ``xm`` (no constant) of the rows ``inside`` (None: every row)."""
    ww = w if family == "gaussian" else w * mu * (1 - mu)
    if inside is not None:
        ww = np.where(inside, ww, 0.0)
        xm = np.where(inside[:, None], xm, 0.0)
    xw = xm * ww[:, None]
    info = np.empty((xm.shape[1] + 1,) * 2)
    info[0, 0], info[0, 1:] = ww.sum(), xw.sum(axis=0)
    info[1:, 0], info[1:, 1:] = info[0, 1:], xw.T @ xm
    return np.linalg.inv(info)


def survey_glm(y: ArrayLike, x: ArrayLike, design: Design | None = None, *,
               family: Family = "gaussian", domain: ArrayLike | None = None,
               level: float = 0.95) -> GLMResult:
    """Design-based linear (``"gaussian"``) or logistic (``"quasibinomial"``) regression of
    ``y`` on the columns of ``x`` plus an intercept (R ``svyglm(y ~ x, design, family=)``).

    Parameters
    ----------
    y : outcome per row of the design (0/1 or a share for quasibinomial).
    x : predictors, one column each (a DataFrame names them; a 1-d array is one predictor).
    design : the :class:`Design` of the rows (None: simple random sampling of the rows).
    domain : boolean mask of the rows to model, within the full design (R ``subset``).
    level : confidence level of :meth:`GLMResult.ci`.

    Rows with a missing ``y`` or ``x`` are outside the fit but stay in the design.
    """
    return survey_glms([y], x, design, family=family, domain=domain, level=level)[0]


def survey_glms(ys: Sequence[ArrayLike], x: ArrayLike, design: Design | None = None, *,
                family: Family = "gaussian", domain: ArrayLike | None = None,
                level: float = 0.95) -> list[GLMResult]:
    """:func:`survey_glm` of each outcome of ``ys`` on the same predictors ``x``, one result
    each: the predictors are read once, and outcomes missing in the same rows (e.g. promoter
    and detractor flags of one LTR) share the model matrix and, in a large logistic fit, its
    distinct predictor patterns."""
    _check_family(family)
    check_level(level)
    xm, names = _predictor_array(x)
    yvs = [_outcome_array(y, len(xm)) for y in ys]
    dz = resolve_design(design, len(xm))
    mask = as_mask(domain, len(xm))
    x_missing = np.isnan(xm).any(axis=1)
    fits: list[GLMResult] = []
    shared: _ModelRows | None = None
    for i, yv in enumerate(yvs):
        inside = ~(np.isnan(yv) | x_missing)
        if mask is not None:
            inside &= mask
        if shared is None or not np.array_equal(inside, shared.inside):
            shared = _ModelRows(xm, inside)
        shared.last = i == len(yvs) - 1
        with one_blas_thread():   # tall-and-thin products: a second thread mostly spins
            fits.append(_fit_outcome(yv, shared, dz, family, (names, level)))
    return fits


class _ModelRows:
    """The model matrix (constant first, zero outside the rows ``inside``) that outcomes
    missing in the same rows share, with its distinct patterns once found."""

    def __init__(self, xm: np.ndarray, inside: np.ndarray) -> None:
        self.xm, self.inside, self.whole = xm, inside, bool(inside.all())
        self.xc = np.empty((len(xm), xm.shape[1] + 1))
        self.xc[:, 0] = 1.0
        self.xc[:, 1:] = xm
        if not self.whole:
            self.xc[~inside] = 0.0
        self.patterns: Patterns | None = None
        self.last = True   # the last outcome on these rows: its estfun may overwrite xc


def _fit_outcome(yv: np.ndarray, rows: _ModelRows, dz: Design, family: Family,
                 labels: tuple[list[str], float]) -> GLMResult:
    """One outcome's :func:`survey_glm` on the shared model rows."""
    names, level = labels
    inside, whole, xc = rows.inside, rows.whole, rows.xc
    w = dz.w if whole else np.where(inside, dz.w, 0.0)
    used = w > 0
    n_used, p = int(used.sum()), xc.shape[1]
    if n_used <= p:
        raise ThinData(f"{n_used} rows for a model of {p} parameters", column="y",
                       expected=f"more than {p} rows with every value present")
    if family == "quasibinomial" and ((yv[used] < 0) | (yv[used] > 1)).any():
        raise DataError("outcome outside 0-1 for a logistic model", column="y",
                        expected="0/1 flags or shares")
    w = w * (n_used / w.sum())
    if not whole:
        yv = np.where(inside, yv, 0.0)
    info = None
    if family == "gaussian" and not is_replicate(dz):   # X'WX is also the bread's inverse
        b, info = _normal_equations(yv, xc, w)
        mu, converged = xc @ b, True
    else:
        if rows.patterns is None and family == "quasibinomial" and len(yv) > 4 * WARM_START_ROWS:
            rows.patterns = _patterns(xc) or ()
        b, mu, converged = fit_coefficients(yv, xc, w, family, patterns=rows.patterns)
    if is_replicate(dz):
        return _replicate_glm(dz, (yv, xc, inside), (b, converged), names, family, level)
    resid = w * (yv - mu)
    estfun = xc if rows.last else xc.copy()
    estfun *= resid[:, None]   # the estimating functions (R estfun), in place of the model matrix
    estfun_vcov, var = totals_vcov(dz, estfun, None if whole else inside)
    bread = (np.linalg.inv(info) if info is not None else
             _bread(rows.xm, w, mu, family, None if whole else inside))
    return GLMResult(("(Intercept)", *names), b, bread @ estfun_vcov @ bread,
                     float(var.df[0]) + 1 - p, n_used, int(var.n_psu[0]), family, level,
                     converged)


def _replicate_glm(design: ReplicateDesign, model: tuple[np.ndarray, np.ndarray, np.ndarray],
                   fit: tuple[np.ndarray, bool], names: list[str], family: Family,
                   level: float) -> GLMResult:
    """R ``svyglm`` on a replicate design: the model refitted with each replicate's weights
    (zero outside the rows ``inside``), its variance R's ``svrVar`` of the replicate
    coefficients; df the design df of the rows in the fit + 1 - parameters."""
    yv, xc, inside = model
    b, converged = fit

    def refit(wr: np.ndarray) -> np.ndarray:
        wr = np.where(inside, wr, 0.0)
        if not (wr > 0).any():
            return np.full(len(b), np.nan)
        return fit_coefficients(yv, xc, wr * (len(yv) / wr.sum()), family)[0]

    vcov = replicate_vcov(design, refit, theta=b)
    used = inside & (design.w > 0)
    n_psu = len(np.unique(design.unit[used & (design.base > 0)]))
    return GLMResult(("(Intercept)", *names), b, vcov, design.rank_df(used) + 1 - len(b),
                     int(used.sum()), n_psu, family, level, converged)


def _predictor_array(x: ArrayLike) -> tuple[np.ndarray, list[str]]:
    """The predictors as a float array (rows x columns) and their names."""
    if isinstance(x, pd.DataFrame):
        names = [str(c) for c in x.columns]
        try:
            xm = x.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(f"non-numeric predictor ({exc})", column="x",
                            expected="numbers (code categories as 0/1 columns)") from None
    else:
        xm = np.asarray(x, dtype=float)
        if xm.ndim == 1:
            xm = xm[:, None]
        names = [str(getattr(x, "name", None) or f"x{j + 1}") for j in range(xm.shape[1])] \
            if xm.shape[1] > 1 else [str(getattr(x, "name", None) or "x")]
    return xm, names


def _outcome_array(y: ArrayLike, n: int) -> np.ndarray:
    """The outcome as floats (NaN where missing), checked to have one value per row."""
    yv = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(float) \
        if not isinstance(y, np.ndarray) else y.astype(float)
    if len(yv) != n:
        raise ArgumentError(f"{len(yv)} outcomes for {n} rows of predictors",
                            argument="x", expected="y and x aligned row by row")
    return yv


def totals_vcov(design: Design, z: np.ndarray, inside: np.ndarray | None = None
                ) -> tuple[np.ndarray, Variance]:
    """Covariance matrix of the totals of the columns of ``z`` (rows x k, zero outside the
    domain ``inside``) under ``design`` (R ``svyrecvar`` of a matrix), and the
    :class:`Variance` of the first column (its df and PSUs are the domain's).

    A one-stage design without calibration reads its PSU totals once; a design with its own
    matrix variance (``total_vcov``: several stages, calibration) uses it; any other combines
    variances of sums of columns (``var(a + b) = var a + var b + 2 cov(a, b)``) so that every
    variance comes from :meth:`Design.variance` itself.
    """
    group = None if inside is None else np.where(inside, 0, -1)
    first = design.variance(z[:, 0], group)
    k = z.shape[1]
    if k == 1:
        return first.var.reshape(1, 1), first
    if not np.isfinite(first.var[0]):
        return np.full((k, k), np.nan), first
    if _plain_design(design):
        return _plain_vcov(design, z), first
    if hasattr(design, "total_vcov"):   # a design that computes R's svyrecvar of a matrix
        return np.asarray(design.total_vcov(z)), first
    var = np.array([first.var[0]] + [design.variance(z[:, j], group).var[0]
                                     for j in range(1, k)])
    out = np.diag(var)
    for i in range(k):
        for j in range(i + 1, k):
            both = design.variance(z[:, i] + z[:, j], group).var[0]
            out[i, j] = out[j, i] = (both - var[i] - var[j]) / 2
    return out, first


def _plain_design(design: Design) -> bool:
    """A one-stage design whose variance is a quadratic form in its PSU totals alone."""
    lonely_averaged = design.lonely_psu == "average" and bool(design.lonely_h.any())
    return (type(design) is Design and design.calibration is None and not lonely_averaged
            and getattr(design, "stage2", None) is None
            and not getattr(design, "adjust_domain", False))


def _plain_vcov(design: Design, z: np.ndarray) -> np.ndarray:
    """The variance of a plain design (Design._plain) for k columns of ``z`` at once."""
    if design.psu is None:
        return _psu_quadratic(design, z)
    n_psu = len(design.psu_stratum)
    return _psu_quadratic(design, np.column_stack(
        [np.bincount(design.psu, weights=z[:, j], minlength=n_psu) for j in range(z.shape[1])]))


def _psu_quadratic(design: Design, t: np.ndarray) -> np.ndarray:
    """sum_h [s_h sum_c t_c t_c' - k_h t_h t_h'] over the PSU totals ``t`` (PSUs x k)."""
    h = design.psu_stratum
    t_h = np.column_stack([np.bincount(h, weights=t[:, j], minlength=design.n_strata)
                           for j in range(t.shape[1])])
    out = t.T @ (design.s_h[h][:, None] * t) - t_h.T @ (design.k_h[:, None] * t_h)
    return np.asarray((out + out.T) / 2)


def group_totals_vcov(design: Design, z: np.ndarray, group: np.ndarray, n_groups: int
                      ) -> np.ndarray:
    """Covariance matrix of the totals of ``z`` in each group (code per row, -1 = none; R
    ``svyrecvar`` of the group indicators times ``z``): the PSU x group totals in one pass on
    a plain design (:meth:`Design.variance` with ``covmat=True`` otherwise)."""
    from scipy import sparse
    if not _plain_design(design) or design.lonely_psu == "fail" or not (design.n_h > 1).any():
        v = design.variance(z, group, n_groups, covmat=True).vcov
        assert v is not None
        return v
    inside = group >= 0
    psu = np.arange(design.n) if design.psu is None else design.psu
    n_psu = len(design.psu_stratum)
    tot = np.bincount(psu[inside] * n_groups + group[inside], weights=z[inside],
                      minlength=n_psu * n_groups)
    nz = np.flatnonzero(tot)
    c, g, t = nz // n_groups, nz % n_groups, tot[nz]
    tm = sparse.csr_matrix((t, (c, g)), shape=(n_psu, n_groups))
    quad = (tm.T @ sparse.diags(design.s_h[design.psu_stratum]) @ tm).toarray()
    t_h = np.bincount(design.psu_stratum[c] * n_groups + g, weights=t,
                      minlength=design.n_strata * n_groups).reshape(design.n_strata, n_groups)
    out = quad - t_h.T @ (design.k_h[:, None] * t_h)
    return np.asarray((out + out.T) / 2)
