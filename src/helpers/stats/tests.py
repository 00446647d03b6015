"""Design-based tests, equal to R's survey package: Rao-Scott tests of association in a two-way
table (``svychisq``; NPS category x segment) and t tests of a mean or of a difference between
two groups (``svyttest``).

``svychisq``'s default statistic is R's: Pearson's X^2 of the weighted table (scaled to the
rows of the design) divided by the mean generalised design effect, referred to an F
distribution with Rao and Scott's second-order (Satterthwaite) degrees of freedom
``d0 = tr(D)^2 / tr(D^2)`` and ``d0 x design df``. The cells' covariance comes from the
design (:meth:`Design.variance` of the cell totals), so clusters, strata and raking count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, ThinData
from helpers.stats.arrays import ArrayLike, as_float, as_mask, check_level, chi2_sf, t_sf, t_value
from helpers.stats.design import Design, Interval, resolve_design
from helpers.stats.estimators import survey_mean
from helpers.stats.regression import group_totals_vcov, survey_glm
from helpers.stats.replicates import ReplicateDesign, is_replicate, replicate_vcov

ChisqStatistic = Literal["F", "Chisq"]


@dataclass(frozen=True)
class ChisqResult:
    """Rao-Scott test of association: ``statistic`` (F; for "Chisq" Pearson's X^2 itself, its
    p-value from X^2 / ``deff`` on chi-square, as R),
    ``ndf`` / ``ddf`` (for "Chisq": df and inf), ``p_value``, Pearson's ``pearson`` X^2 of
    the weighted table, the mean design effect ``deff`` (tr D / its size), the table's
    ``rows`` x ``cols`` levels and the ``method``."""

    statistic: float
    ndf: float
    ddf: float
    p_value: float
    pearson: float
    deff: float
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    method: str


@dataclass(frozen=True)
class TTestResult(Interval):
    """Design-based t test (R ``svyttest``): ``estimate`` (a mean, or the second group's mean
    minus the first's), ``se``, ``statistic`` (t), ``df``, ``p_value`` (two-sided), ``ci``
    and what was compared (``method``)."""

    estimate: float
    se: float
    statistic: float
    df: float
    p_value: float
    ci: tuple[float, float]
    method: str
    level: float = 0.95


def _levels(values: ArrayLike, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes (-1 missing) of sorted levels, and the levels as text."""
    s = pd.Series(values)
    codes, uniq = pd.factorize(s, sort=True)
    return codes.astype(np.int64), tuple(str(u) for u in uniq)


def survey_chisq(rows: ArrayLike, cols: ArrayLike, design: Design | None = None, *,
                 statistic: ChisqStatistic = "F") -> ChisqResult:
    """Rao-Scott test that ``rows`` and ``cols`` (labels per row of the design) are
    independent (R ``svychisq(~rows + cols, design, statistic=)``; ``"F"``, R's default, or
    the first-order ``"Chisq"``). Rows missing either label are outside the table and stay in
    the design."""
    if statistic not in ("F", "Chisq"):
        raise ArgumentError(f"statistic {statistic!r}", argument="statistic",
                            expected="'F' or 'Chisq'")
    r, r_lv = _levels(rows, "rows")
    c, c_lv = _levels(cols, "cols")
    dz = resolve_design(design, len(r))
    nr, nc = len(r_lv), len(c_lv)
    if nr < 2 or nc < 2:
        raise ThinData(f"a {nr} x {nc} table", column="rows",
                       expected="two or more levels of each variable")
    keep = (r >= 0) & (c >= 0)
    cell = np.where(keep, r + nr * c, -1)
    totals = np.bincount(cell[keep], weights=dz.w[keep], minlength=nr * nc)
    big_w = totals.sum()
    if big_w <= 0:
        raise ThinData("no rows with both labels and a positive weight", column="rows",
                       expected="responses in the table")
    p = totals / big_w
    if is_replicate(dz):
        v_p, nu = _replicate_shares_vcov(dz, cell, nr * nc, p), dz.degf
    else:
        v_cells = group_totals_vcov(dz, np.where(keep, dz.w, 0.0), cell, nr * nc)
        jac = (np.eye(nr * nc) - p[:, None]) / big_w
        v_p, nu = jac @ v_cells @ jac.T, _whole_df(dz)
    delta = _design_effects(p, v_p, nr, nc, dz.n)
    n_rows = dz.n
    table = (totals * n_rows / big_w).reshape(nc, nr).T
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n_rows
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = float(((table - expected) ** 2 / expected).sum())
    tr, tr2 = float(np.trace(delta)), float(np.trace(delta @ delta))
    if statistic == "F":
        d0 = tr**2 / tr2
        f = pearson / tr
        from scipy import stats

        return ChisqResult(f, d0, d0 * nu, float(stats.f.sf(f, d0, d0 * nu)), pearson,
                           tr / len(delta), r_lv, c_lv, "Pearson's X^2: Rao & Scott adjustment")
    chi = pearson / (tr / len(delta))
    return ChisqResult(pearson, float(len(delta)), float("inf"),
                       float(chi2_sf(chi, len(delta))), pearson, tr / len(delta), r_lv,
                       c_lv, "Pearson's X^2: Rao & Scott first-order adjustment")


def _replicate_shares_vcov(design: ReplicateDesign, cell: np.ndarray, n_cells: int,
                           p: np.ndarray) -> np.ndarray:
    """R ``svychisq.svyrep.design``: the replicate covariance of the cell shares (R
    ``svymean`` of the cell indicators), rows outside the table weighing zero."""
    from scipy import sparse
    inside = np.flatnonzero(cell >= 0)
    onehot_t = sparse.csr_matrix((np.ones(len(inside)), (cell[inside], inside)),
                                 shape=(n_cells, design.n))

    def shares(weights: np.ndarray) -> np.ndarray:
        tot = np.asarray(onehot_t @ weights).T
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(tot / tot.sum(axis=1, keepdims=True))

    return replicate_vcov(design, estimate_many=shares, theta=p)


def _design_effects(p: np.ndarray, v_p: np.ndarray, nr: int, nc: int, n: int) -> np.ndarray:
    """Rao-Scott's generalised design effects matrix D of the interaction contrasts."""
    grid_r, grid_c = np.tile(np.arange(nr), nc), np.repeat(np.arange(nc), nr)
    main = np.column_stack([np.ones(nr * nc)]
                           + [(grid_r == i).astype(float) for i in range(1, nr)]
                           + [(grid_c == j).astype(float) for j in range(1, nc)])
    inter = np.column_stack([((grid_r == i) & (grid_c == j)).astype(float)
                             for j in range(1, nc) for i in range(1, nr)])
    cmat = inter - main @ np.linalg.lstsq(main, inter, rcond=None)[0]
    inv_d = np.diag(np.where(p == 0, 0.0, 1 / np.where(p == 0, 1.0, p)))
    denom = cmat.T @ (inv_d / n) @ cmat
    numer = cmat.T @ inv_d @ v_p @ inv_d @ cmat
    return np.asarray(np.linalg.solve(denom, numer))


def _whole_df(design: Design) -> float:
    """R's ``nu`` of svychisq: PSUs minus strata over every row of the design."""
    return float(len(design.psu_stratum) - len(np.unique(design.psu_stratum)))


def survey_ttest(values: ArrayLike, design: Design | None = None, *,
                 group: ArrayLike | None = None, domain: ArrayLike | None = None,
                 level: float = 0.95) -> TTestResult:
    """Design-based t test (R ``svyttest``).

    Without ``group``: is the mean of ``values`` zero (R ``svyttest(values ~ 0, design)``;
    subtract the hypothesised mean first), t on the design df - 1. With ``group`` (two
    levels; the comparison is the second sorted level minus the first): the difference in
    means from the design-based regression on the group (R ``svyttest(values ~ group,
    design)``), t on the model's df.
    """
    check_level(level)
    y = as_float(values, getattr(values, "name", None) or "values")
    if group is None:
        m = survey_mean(y, design, domain=domain, level=level)
        df = m.df - 1
        q = t_value(level, df)
        return _ttest(m.estimate, m.se, df, (m.estimate - q * m.se, m.estimate + q * m.se),
                      "Design-based one-sample t-test", level)
    g, lv = _levels(group, "group")
    mask = as_mask(domain, len(y))
    if mask is not None:
        g = np.where(mask, g, -1)
    valid = (g >= 0) & ~np.isnan(y) & (resolve_design(design, len(y)).w > 0)
    present = np.flatnonzero(np.bincount(g[valid], minlength=len(lv)))
    if len(present) != 2:
        raise DataError(f"{len(present)} groups with values", column="group",
                        expected="exactly two groups to compare")
    flag = np.where(g < 0, np.nan, (g == present[1]).astype(float))
    fit = survey_glm(y, flag, design, level=level)
    lo, hi = fit.ci()
    return _ttest(float(fit.coef[1]), float(fit.se[1]), fit.df, (float(lo[1]), float(hi[1])),
                  f"Design-based t-test: {lv[present[1]]} minus {lv[present[0]]}", level)


def _ttest(est: float, se: float, df: float, ci: tuple[float, float], method: str,
           level: float) -> TTestResult:
    t = est / se if se > 0 else float("nan")
    p = float(2 * t_sf(abs(t), df)) if df > 0 else float("nan")
    return TTestResult(est, se, t, df, p, ci, method, level)
