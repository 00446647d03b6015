"""CX metrics with honest uncertainty: NPS, CES, CSAT, shares, design-based means and totals,
group tables.

A figure is never a bare float: results are frozen dataclasses (``NPSResult``, ``MeanResult``) or
tidy frames with ``estimate``/``nps``, ``se``, ``ci_low``, ``ci_high``, ``df``, ``n``. Everything
estimated in a design (weights, strata, clusters, fpc, calibration; :class:`~helpers.stats.
design.Design`) equals R's ``survey`` package: ``svymean`` / ``svytotal`` (``domain=``: the
estimate for a subpopulation within the full design, as ``svymean(~y, subset(design, ...))``),
``svyby`` (:func:`survey_by`, :func:`nps_table`), ``deff`` as R (``"replace"`` by default, or
``"srswor"`` = R's ``deff=TRUE``) and t intervals with the design's degrees of freedom
(``confint(..., df=degf(design))``). Missing values are a domain too: they never drop a PSU.

NPS is the mean of a +100/0/-100 score, so the same machinery gives weighted, stratified and
account-clustered NPS. A plain list of NPS scores without any design is the R ``NPS`` package /
Rocks (2016) case: multinomial variance and the published normal-quantile (adjusted) Wald
interval (df reported as inf). Every other interval uses t with ``df`` degrees of freedom (the
design's; n - 1 for a mean without a design, as ``svydesign(id=~1)``); ``df=`` overrides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, ThinData, require_columns
from helpers.stats.arrays import (
    ArrayLike,
    as_float,
    as_mask,
    check_level,
    check_scale,
    series_name,
    t_value,
    worded,
)
from helpers.stats.design import DeffKind, Design, Interval, resolve_design
from helpers.stats.intervals import (
    ADJUSTED_WALD_PSEUDO,
    SHARE_DEFAULT,
    SHARE_METHODS,
    adjusted_wald,
    check_method,
    design_method,
    interval_size,
    nps_interval,
    nps_method,
    share_interval,
)
from helpers.stats.promoters import WholeNPS, nps_sign, whole_nps
from helpers.stats.replicates import is_replicate, replicate_group_means

__all__ = ["ADJUSTED_WALD_PSEUDO", "adjusted_wald"]


@dataclass(frozen=True)
class MeanResult(Interval):
    """Design-based mean (or total, or percentage) with its uncertainty.

    ``deff`` is R's design effect (``deff="replace"``: against simple random sampling with
    replacement of the same n); ``n_eff = n / deff``. ``n`` counts rows with a positive weight
    and a value in the domain. ``df`` are the design degrees of freedom of the t interval (PSUs
    minus strata holding the domain); ``n_psu`` the PSUs holding it. ``note`` says when a
    single-PSU stratum was handled (R ``survey.lonely.psu``). ``ci_method`` names the
    interval (:data:`helpers.stats.intervals.CI_METHOD_NOTES`).
    """

    estimate: float
    se: float
    ci: tuple[float, float]
    n: int
    deff: float
    n_eff: float
    level: float = 0.95
    df: float = float("inf")
    n_psu: int | None = None
    note: str = ""
    ci_method: str = "t"

    def to_dict(self) -> dict[str, Any]:
        """Metric dict in the run-folder convention (estimate, se, ci_low, ci_high, n, ...)."""
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci[0],
                "ci_high": self.ci[1], "n": self.n, "deff": self.deff, "n_eff": self.n_eff,
                "df": self.df, "ci_method": self.ci_method}


@dataclass(frozen=True)
class NPSResult(Interval):
    """Net Promoter Score in points (-100..100) with shares, SE, CI and design effect.

    ``se`` is the standard error of the point estimate ``nps`` (multinomial, or design-based when
    a design is given). ``ci`` follows ``method``: the adjusted Wald interval is centred on the
    adjusted estimate, so it need not be symmetric around ``nps``. ``deff`` / ``n_eff`` are None
    without a design. ``df``: degrees of freedom of the t quantile.
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
    df: float = float("inf")
    n_psu: int | None = None
    note: str = ""

    @property
    def estimate(self) -> float:
        return self.nps

    @property
    def ci_method(self) -> str:
        return self.method

    def to_dict(self) -> dict[str, Any]:
        """Metric dict in the run-folder convention (estimate, se, ci_low, ci_high, n, ...)."""
        d = asdict(self)
        d.pop("ci")
        return {"estimate": self.nps, "ci_low": self.ci[0], "ci_high": self.ci[1],
                "ci_method": self.method, **d}


# --------------------------------------------------------------------------- the core
@dataclass(frozen=True)
class GroupMeans:
    """Domain means (or totals) of one variable per group, with R's variance, deff and df."""

    est: np.ndarray
    var: np.ndarray
    var_srs: np.ndarray
    n: np.ndarray
    wsum: np.ndarray
    df: np.ndarray
    n_psu: np.ndarray
    lonely: np.ndarray
    vcov: np.ndarray | None
    df_union: np.ndarray | None
    #: replicate designs: the SE of each group's logit from its replicates (R svyglm), else None
    se_logit: np.ndarray | None = None

    @property
    def deff(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.var / self.var_srs

    @property
    def n_eff(self) -> np.ndarray:
        d = self.deff
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(np.isfinite(d) & (d > 0), self.n / d, np.nan)


class Groups(NamedTuple):
    """The group of each row (code 0..n-1; -1 = in no group) and the number of groups."""

    codes: np.ndarray
    n: int


@dataclass(frozen=True)
class CellSums:
    """Rows that are cells of responses (:mod:`helpers.stats.moments`): the responses in each
    cell (``counts``) and their sum of w * y^2 (``wyy``)."""

    counts: np.ndarray
    wyy: np.ndarray


def group_means(design: Design, y: np.ndarray, groups: Groups | None = None, *,
                total: bool = False, covmat: bool = False, deff: DeffKind = "replace",
                cells: CellSums | None = None) -> GroupMeans:
    """Weighted mean (ratio) or total of ``y`` in each group as a domain of ``design``.

    Rows with NaN ``y`` or group -1 are outside every domain but stay in the design (R
    ``svyby`` / ``svymean(na.rm=TRUE)``). Linearised values: w (y - mean_g) / W_g for a mean,
    w y for a total; ``var_srs`` is R's deff denominator (``"replace"`` or ``"srswor"``).
    No ``groups``: the whole sample is one group.

    Cells instead of rows (:mod:`helpers.stats.moments`): each "row" is a cell of responses
    sharing stratum, cluster and group, with ``y`` their weighted mean, the design's weights
    their summed weight and ``cells`` their count and sum of w * y^2. Estimates, variances and
    df then equal those of the rows (the linearised totals per PSU are the same).
    """
    if deff not in ("replace", "srswor"):
        raise ArgumentError(f"deff={deff!r}", argument="deff", expected="'replace' or 'srswor'")
    if is_replicate(design):
        return GroupMeans(**replicate_group_means(design, np.asarray(y, float), groups,
                                                  total=total, covmat=covmat, deff=deff))
    group, n_groups = (None, 1) if groups is None else groups
    counts, wyy = (None, None) if cells is None else (cells.counts, cells.wyy)
    nan = np.isnan(y) if y.dtype.kind == "f" else np.zeros(0, bool)   # integers: none missing
    if group is None and not nan.any():   # the whole sample: no masks, one group
        gv, w, yv, valid, codes = None, design.w, y, None, None
    else:
        g = np.zeros(design.n, dtype=np.int64) if group is None else group
        valid = (g >= 0) & ~nan if len(nan) else g >= 0
        gv = np.where(valid, g, 0)
        w = np.where(valid, design.w, 0.0)
        yv = np.where(valid, y, 0.0)
        codes = np.where(valid, g, -1)

    def by_group(weights: np.ndarray) -> np.ndarray:
        return (np.array([weights.sum()]) if gv is None else
                np.bincount(gv, weights=weights, minlength=n_groups))

    if counts is not None:
        n = by_group(np.where(w > 0, counts, 0.0))
    else:
        n = (np.array([float(design.n if design.all_positive else np.count_nonzero(w > 0))])
             if gv is None else
             np.bincount(gv, weights=w > 0, minlength=n_groups))
    with np.errstate(divide="ignore", invalid="ignore"):
        wsum, mean, ssq, z = _linearised(w, yv, Groups(gv, n_groups) if gv is not None else None,
                                         total)
        v = design.variance(z, codes, n_groups, covmat)
        if wyy is not None:   # cells: add the spread within each cell
            inside = (w > 0) if valid is None else valid & (w > 0)
            ssq = ssq + by_group(np.where(inside, np.asarray(wyy, float) - w * yv * yv, 0.0))
    var_srs = _srs_variance(ssq, wsum, n, total, deff)
    # a mean over one PSU has an identically zero linearised variance (R: SE 0, df 0): not a
    # measurement of precision, so it is reported as not estimable; likewise n < 2. A total
    # keeps R's between-PSU variance even for one response.
    var = v.var if total else np.where((n >= 2) & (v.n_psu >= 2), v.var, np.nan)
    return GroupMeans(wsum * mean if total else mean, var, var_srs, n.astype(np.int64), wsum,
                      v.df, v.n_psu, v.lonely, v.vcov, v.df_union)


def _srs_variance(ssq: np.ndarray, wsum: np.ndarray, n: np.ndarray, total: bool,
                  deff: DeffKind) -> np.ndarray:
    """R's deff denominator: the variance under simple random sampling of the same n."""
    with np.errstate(divide="ignore", invalid="ignore"):
        var_srs = ssq / wsum * n / (n - 1) / n * (wsum**2 if total else 1.0)
        if deff == "srswor":
            var_srs = np.where(wsum >= n, var_srs * (1 - n / wsum), np.nan)
    return var_srs


def _whole_nps_means(design: Design, whole: WholeNPS, deff: DeffKind) -> GroupMeans:
    """:func:`group_means` of the NPS signs over the whole sample, from :func:`whole_nps`."""
    v = design.psu_total_variance(whole.psu_totals)
    n = np.array([float(design.n if design.all_positive else np.count_nonzero(design.w > 0))])
    wsum = np.array([whole.wsum])
    var = np.where((n >= 2) & (v.n_psu >= 2), v.var, np.nan)
    return GroupMeans(np.array([whole.mean]), var, _srs_variance(np.array([whole.ssq]), wsum, n,
                                                                False, deff),
                      n.astype(np.int64), wsum, v.df, v.n_psu, v.lonely, None, None)


def _linearised(w: np.ndarray, y: np.ndarray, groups: Groups | None, total: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per group: sum of weights, weighted mean, sum of w (y - mean)^2, and per row the
    linearised value (w (y - mean) / W for a mean, w y for a total). One group: dot products
    and a single row-sized temporary (a fresh one costs more in page faults than in sums)."""
    if groups is None:
        wsum = np.array([w.sum()])
        r = y.astype(np.float64)   # y may be int8 (NPS signs): one cast, then float arithmetic
        mean = np.array([np.einsum("i,i->", w, r)]) / wsum
        r -= mean[0]
        ssq = np.array([np.einsum("i,i,i->", w, r, r)])
        if total:
            del r
            return wsum, mean, ssq, w * y
        r *= w
        r /= wsum[0]
        return wsum, mean, ssq, r
    g, k = groups
    wsum = np.bincount(g, weights=w, minlength=k)
    mean = np.bincount(g, weights=w * y, minlength=k) / wsum
    resid = y - mean[g]
    wr = w * resid
    z = w * y if total else wr / wsum[g]
    return wsum, mean, np.bincount(g, weights=wr * resid, minlength=k), z


def lonely_note(count: int, design: Design) -> str:
    """Plain-words note when single-PSU strata were handled (empty otherwise)."""
    if not count:
        return ""
    return (f"{int(count)} single-PSU stratum{'s' if count > 1 else ''} handled as "
            f"lonely_psu='{design.lonely_psu}'")


def _result(gm: GroupMeans, i: int, level: float, df: float | None, design: Design,
            scale: float = 1.0) -> MeanResult:
    d = float(gm.df[i]) if df is None else float(df)
    se = float(np.sqrt(gm.var[i])) * scale
    e = float(gm.est[i]) * scale
    q = t_value(level, d)
    return MeanResult(e, se, (e - q * se, e + q * se), int(gm.n[i]), float(gm.deff[i]),
                      float(gm.n_eff[i]), level, d, int(gm.n_psu[i]),
                      lonely_note(int(gm.lonely[i]), design))


def _single(values: ArrayLike, design: Design | None, domain: ArrayLike | None,
            name: str) -> tuple[Design, np.ndarray, Groups | None]:
    """The values, their design and the domain as one group (None: the whole sample)."""
    y = as_float(values, name)
    if np.isinf(y).any():
        raise DataError("infinite value", column=name, expected="finite numbers")
    return resolve_design(design, len(y)), y, _domain(domain, len(y))


def _domain(domain: ArrayLike | None, n: int) -> Groups | None:
    mask = as_mask(domain, n)
    return None if mask is None else Groups(np.where(mask, 0, -1), 1)


def _require_rows(gm: GroupMeans, name: str) -> None:
    if gm.n[0] == 0:
        raise ThinData("no non-missing values with a positive weight in the domain",
                        column=name, expected="at least one response")


# --------------------------------------------------------------------------- means and totals
def survey_mean(values: ArrayLike, design: Design | None = None, *,
                domain: ArrayLike | None = None, level: float = 0.95,
                deff: DeffKind = "replace", df: float | None = None) -> MeanResult:
    """Design-based mean with a Taylor-linearised SE (R ``svymean(~values, design)``).

    Parameters
    ----------
    values : numbers; NaN rows are outside the domain (they stay in the design).
    design : the :class:`~helpers.stats.design.Design` of the rows (weights, strata, clusters,
        fpc, calibration; ``Design.from_frame(df, weights=..., cluster=...)``); None: simple
        random sampling of the rows.
    domain : boolean mask: estimate for these rows within the full design (R
        ``svymean(~y, subset(design, domain))``), never by dropping the other rows.
    level : confidence level of the t interval.
    deff : "replace" (R ``deff="replace"``) or "srswor" (R ``deff=TRUE``).
    df : degrees of freedom of the interval (default: the design's, PSUs - strata of the
        domain; ``numpy.inf`` for a normal interval).
    """
    name = series_name(values, "values")
    dz, y, groups = _single(values, design, domain, name)
    gm = group_means(dz, y, groups, deff=deff)
    _require_rows(gm, name)
    if gm.wsum[0] <= 0:
        raise DataError("weights sum to zero", column="weights", expected="positive total weight")
    return _result(gm, 0, level, df, dz)


def survey_total(values: ArrayLike, design: Design | None = None, *,
                 domain: ArrayLike | None = None, level: float = 0.95,
                 deff: DeffKind = "replace", df: float | None = None) -> MeanResult:
    """Design-based population total sum(w * y) with its SE (R ``svytotal``); same arguments
    as :func:`survey_mean`. ``deff`` compares with an SRS of the same n estimating W * mean."""
    name = series_name(values, "values")
    dz, y, groups = _single(values, design, domain, name)
    gm = group_means(dz, y, groups, total=True, deff=deff)
    _require_rows(gm, name)
    return _result(gm, 0, level, df, dz)


def _share_result(gm: GroupMeans, i: int, level: float, df: float | None, design: Design,
                  ci: str, extra: tuple[float, float | None]) -> MeanResult:
    """Percentage with R's design-based SE and R ``svyciprop``'s interval ``ci``."""
    base = _result(gm, i, level, df, design, scale=100.0)
    se = base.se / 100.0
    if ci == "logit" and gm.se_logit is not None:   # replicates: R refits the logit per replicate
        p = float(gm.est[i])
        se = float(gm.se_logit[i]) * p * (1 - p)
    d = float(gm.df[i]) if ci == "beta" else base.df   # R's beta uses degf(design)
    lo, hi = share_interval(float(gm.est[i]), se, d, level, ci, n_rows=extra[0],
                            dispersion=extra[1])
    return MeanResult(base.estimate, base.se, (float(100 * lo), float(100 * hi)), base.n,
                      base.deff, base.n_eff, level, base.df, base.n_psu, base.note, ci)


def proportion(flags: ArrayLike, design: Design | None = None, *,
               domain: ArrayLike | None = None, level: float = 0.95,
               deff: DeffKind = "replace", df: float | None = None,
               ci: str = SHARE_DEFAULT) -> MeanResult:
    """Share (in %) of rows whose flag is true (0/1 or bool; NaN outside the domain), with R's
    ``svymean`` SE and R ``svyciprop``'s interval (same arguments as :func:`survey_mean`).

    ``ci``: ``"logit"`` (R's default), ``"likelihood"``, ``"beta"``, ``"mean"``, ``"xlogit"`` or
    ``"asin"`` (:func:`helpers.stats.intervals.share_interval`), t with the design df.
    """
    check_method(ci, SHARE_METHODS)
    name = series_name(flags, "flags")
    dz, y, groups = _single(flags, design, domain, name)
    check_scale(y, 0, 1, name)
    gm = group_means(dz, y, groups, deff=deff)
    _require_rows(gm, name)
    inside = ~np.isnan(y) & (True if groups is None else groups.codes == 0) & (dz.w > 0)
    n_rows = float(dz.n if groups is None or dz.calibration is not None
                   else (groups.codes == 0).sum())
    disp = _dispersion(y[inside], dz.w[inside]) if ci == "likelihood" else None
    return _share_result(gm, 0, level, df, dz, ci, (n_rows, disp))


def _dispersion(y: np.ndarray, w: np.ndarray) -> float:
    """R ``summary(svyglm(y ~ 1, family = quasibinomial))$dispersion``: the design variance of
    the Pearson residuals (y - p) / sqrt(p (1 - p)), which is n / (n - 1) for 0/1 values."""
    n = len(y)
    return n / (n - 1) if n > 1 else float("nan")


# --------------------------------------------------------------------------- NPS
def nps_score(scores: ArrayLike, name: str | None = None) -> np.ndarray:
    """Map 0-10 likelihood-to-recommend to +100 (9-10), 0 (7-8), -100 (0-6); NaN stays NaN.

    Raises DataError for values outside 0-10.
    """
    out = nps_unit(scores, name)
    out *= 100.0
    return out


def nps_unit(scores: ArrayLike, name: str | None = None) -> np.ndarray:
    """:func:`nps_score` in units: +1 (9-10), 0 (7-8), -1 (0-6), NaN stays NaN."""
    return nps_sign(scores, name).astype(np.float64, copy=False)


Floats = float | np.ndarray  # the interval helpers work elementwise on scalars or arrays


def nps(scores: ArrayLike, design: Design | None = None, *, domain: ArrayLike | None = None,
        ci: str | None = None, level: float = 0.95, deff: DeffKind = "replace",
        df: float | None = None) -> NPSResult:
    """Net Promoter Score in points with SE and confidence interval.

    Without a design the variance is the multinomial one of Rocks (2016) / R ``NPS``:
    Var = p_pro + p_det - (p_pro - p_det)^2, SE = sqrt(Var / n), with the published normal
    quantile (df inf; pass ``df`` for t). With a ``design``, NPS is R's ``svymean`` of the
    +100/0/-100 score (clustered by account for B2B, raked for B2C) with ``deff`` / ``n_eff``
    and the design df; ``domain`` estimates a segment within the full design.

    ``ci``: default ``"t"`` under a design (R ``confint(svymean(...), df = degf(design))``) and
    ``"adjusted_wald"`` without one (R ``NPS``). ``"adjusted_wald"`` adds 0.75 detractor, 1.5
    passive and 0.75 promoter pseudo-responses (n + 3) before the Wald interval (better
    coverage at small n); under a design they are added to the effective n. ``"wald"`` is
    estimate +- t SE clipped to -100..100. All use the t quantile with ``df`` (default: the
    design's df). n < 2: no SE and no interval. The result's ``method`` (``ci_method``) names
    the interval (``"<method>_design"`` for the options under a design).
    """
    ci = nps_method(ci, design is not None)
    check_level(level)
    name = series_name(scores, "scores")
    y = nps_sign(scores, name)
    groups = _domain(domain, len(y))
    if design is None:
        keep = ~np.isnan(y) if groups is None else ~np.isnan(y) & (groups.codes == 0)
        return _nps_multinomial(y[keep], ci, level, df, name)
    dz = resolve_design(design, len(y))
    whole = None if groups is not None or deff not in ("replace", "srswor") else whole_nps(dz, y)
    if whole is not None:   # one weighted count per PSU and answer
        gm, (p_pro, p_det) = _whole_nps_means(dz, whole, deff), (whole.p_pro, whole.p_det)
    else:
        gm = group_means(dz, y, groups, deff=deff)
        _require_rows(gm, name)
        if gm.wsum[0] <= 0:
            raise DataError("weights sum to zero", column="weights",
                            expected="positive total weight")
        p_pro, p_det = _nps_shares(dz.w, y, groups, float(gm.wsum[0]))
    d = float(gm.df[0]) if df is None else float(df)
    se, q = float(np.sqrt(gm.var[0])), t_value(level, d)
    lo, hi = nps_interval(gm.est[0], se, p_pro, p_det, interval_size(gm.n[0], gm.n_eff[0]), q,
                          ci)
    return NPSResult(100 * float(gm.est[0]), 100 * se, (100 * float(lo), 100 * float(hi)),
                     int(gm.n[0]), p_pro, 1 - p_pro - p_det, p_det, design_method(ci),
                     float(gm.deff[0]), float(gm.n_eff[0]), level, d, int(gm.n_psu[0]),
                     lonely_note(int(gm.lonely[0]), dz))


def _nps_shares(w: np.ndarray, y: np.ndarray, groups: Groups | None,
                wsum: float) -> tuple[float, float]:
    """Weighted promoter and detractor shares of the domain (y: +1 / 0 / -1 / NaN)."""
    pro, det = y > 0, y < 0   # NaN (unrated) is neither
    if groups is not None:
        pro &= groups.codes == 0
        det &= groups.codes == 0
    return (float(np.einsum("i,i->", w, pro) / wsum),   # einsum casts in chunks, no temporary
            float(np.einsum("i,i->", w, det) / wsum))


def _nps_multinomial(y: np.ndarray, ci: str, level: float, df: float | None,
                     name: str) -> NPSResult:
    n = len(y)
    if n == 0:
        raise ThinData("no valid scores", column=name, expected="at least one 0-10 score")
    p_pro, p_det = float(np.mean(y > 0)), float(np.mean(y < 0))
    est = p_pro - p_det
    se = float(np.sqrt(max(p_pro + p_det - est**2, 0.0) / n)) if n >= 2 else float("nan")
    d = np.inf if df is None else float(df)
    lo, hi = nps_interval(est, se, p_pro, p_det, float(n), t_value(level, d), ci)
    return NPSResult(100 * est, 100 * se, (100 * float(lo), 100 * float(hi)), n, p_pro,
                     1 - p_pro - p_det, p_det, ci, None, None, level, d)


# --------------------------------------------------------------------------- group tables
def group_codes(df: pd.DataFrame, by: list[str]) -> Groups:
    """Sorted group code per row (-1 where a ``by`` label is missing) and the number of groups."""
    gid = (df.groupby(by, sort=True, dropna=True, observed=True).ngroup()
           .fillna(-1).to_numpy().astype(np.int64))
    return Groups(gid, int(gid.max()) + 1 if len(gid) and gid.max() >= 0 else 0)


def group_labels(df: pd.DataFrame, by: list[str], groups: Groups, keep: np.ndarray) -> pd.DataFrame:
    first = np.full(groups.n, -1, dtype=np.int64)
    rows = np.flatnonzero(groups.codes >= 0)
    first[groups.codes[rows][::-1]] = rows[::-1]
    return df[by].iloc[first[keep]].reset_index(drop=True)


def attach_vcov(table: pd.DataFrame, gm: GroupMeans, keep: np.ndarray, scale: float) -> None:
    """R ``svyby(covmat=TRUE)``: covariance between the rows, and the df of each pair's union."""
    if gm.vcov is not None and gm.df_union is not None:
        table.attrs["vcov"] = gm.vcov[np.ix_(keep, keep)] * scale**2
        table.attrs["df_union"] = gm.df_union[np.ix_(keep, keep)]


def survey_by(df: pd.DataFrame, value: str, by: str | Sequence[str], *,
              design: Design | None = None, total: bool = False, covmat: bool = False,
              level: float = 0.95) -> pd.DataFrame:
    """Mean (or total) of ``value`` for every group of ``by`` within the full design (R
    ``svyby(~value, ~by, design, svymean)``; ``design`` None: simple random sampling of the rows).

    One row per group with rows of positive weight (sorted): the ``by`` columns, estimate, se,
    ci_low, ci_high (t with the group's df), df, n, n_psu, deff (R ``deff="replace"``), n_eff,
    note. ``covmat=True`` puts the covariance between the rows in ``attrs["vcov"]`` and the df
    of each pair's union in ``attrs["df_union"]`` (for :func:`helpers.stats.compare.contrast`).
    NaN values are outside the domains; rows with a missing group label belong to no group.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    require_columns(df, [*by_cols, value], "responses")
    dz = resolve_design(design, len(df))
    groups = group_codes(df, by_cols)
    gm = group_means(dz, as_float(df[value], value), groups, total=total, covmat=covmat)
    keep = gm.n > 0
    se = np.sqrt(gm.var)
    q = t_value(level, gm.df)
    table = group_labels(df, by_cols, groups, keep).assign(
        estimate=gm.est[keep], se=se[keep], ci_low=(gm.est - q * se)[keep],
        ci_high=(gm.est + q * se)[keep], df=gm.df[keep], n=gm.n[keep],
        n_psu=gm.n_psu[keep], deff=gm.deff[keep], n_eff=gm.n_eff[keep],
        note=worded(gm.lonely[keep], lambda k: lonely_note(k, dz)), ci_method="t")
    attach_vcov(table, gm, keep, 1.0)
    return table


def nps_table(df: pd.DataFrame, by: str | Sequence[str], score: str = "ltr", *,
              design: Design | None = None, level: float = 0.95,
              ci: str | None = None, covmat: bool = False) -> pd.DataFrame:
    """NPS with uncertainty for every group of ``by``, vectorised: R ``svyby`` of the score.

    One row per group with rated rows of positive weight (sorted): the ``by`` columns, ``n``,
    ``pct_promoter``, ``pct_passive``, ``pct_detractor``, ``nps``, ``se``, ``ci_low``,
    ``ci_high``, ``df``, ``deff``, ``n_eff``, ``n_psu`` (and ``n_clusters`` when clustered),
    ``note``. Without a design each row equals :func:`nps` on the group (multinomial, normal
    quantile as R ``NPS``); with a ``design`` of the rows every group is a domain of the full
    design (strata and PSUs without the group count, as R), with its own df.
    ``covmat=True``: covariance between rows in ``attrs["vcov"]`` (see :func:`survey_by`).
    Rows with a missing group label belong to no group; NaN scores are outside every domain.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    require_columns(df, [*by_cols, score], "responses")
    ci = nps_method(ci, design is not None)
    check_level(level)
    y = nps_unit(df[score], score)
    groups = group_codes(df, by_cols)
    dz = resolve_design(design, len(df))
    gm = group_means(dz, y, groups, covmat=covmat)
    valid = (groups.codes >= 0) & ~np.isnan(y)
    gv = np.where(valid, groups.codes, 0)
    wv = np.where(valid, dz.w, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_pro = np.bincount(gv, weights=wv * (y > 0), minlength=groups.n) / gm.wsum
        p_det = np.bincount(gv, weights=wv * (y < 0), minlength=groups.n) / gm.wsum
        n = gm.n.astype(float)
        if design is None:   # R NPS package: multinomial variance, no design effect
            var = np.where(n >= 2, np.maximum(p_pro + p_det - gm.est**2, 0.0) / n, np.nan)
            dfs = np.full(groups.n, np.inf)
            deffs, n_effs = np.full(groups.n, np.nan), np.full(groups.n, np.nan)
        else:
            var, dfs, deffs, n_effs = gm.var, gm.df, gm.deff, gm.n_eff
    se = np.sqrt(var)
    lo, hi = nps_interval(gm.est, se, p_pro, p_det, interval_size(n, n_effs),
                          t_value(level, dfs), ci)
    keep = gm.n > 0
    extra = {"n_clusters": gm.n_psu[keep]} if dz.clustered else {}
    table = group_labels(df, by_cols, groups, keep).assign(
        n=gm.n[keep], pct_promoter=100 * p_pro[keep],
        pct_passive=100 * (1 - p_pro - p_det)[keep], pct_detractor=100 * p_det[keep],
        nps=100 * gm.est[keep], se=100 * se[keep], ci_low=100 * lo[keep],
        ci_high=100 * hi[keep], df=dfs[keep], deff=deffs[keep], n_eff=n_effs[keep],
        n_psu=gm.n_psu[keep], **extra,
        note=worded(gm.lonely[keep], lambda k: lonely_note(k, dz)),
        ci_method=ci if design is None else design_method(ci))
    attach_vcov(table, gm, keep, 100.0)
    return table
