"""Group tables from a moment table (:mod:`helpers.stats.moments`) instead of rows: one row per
cell of responses, with their weight sums and sums of squares; the same columns and numbers as
:func:`helpers.stats.estimators.nps_table` on the rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers.errors import require_columns
from helpers.stats.arrays import t_value, worded
from helpers.stats.design import Calibration, Design, stratum_coefficients
from helpers.stats.estimators import (
    CellSums,
    attach_vcov,
    group_codes,
    group_labels,
    group_means,
    lonely_note,
)
from helpers.stats.intervals import design_method, interval_size, nps_interval, nps_method

if TYPE_CHECKING:
    from scipy import sparse


def cells_design(cells: pd.DataFrame, *, strata: str | None = None, cluster: str | None = None,
                 calibrate: Sequence[str | Sequence[str]] | None = None,
                 copies: str | None = None) -> Design:
    """The design of the responses a moment table summarises (:mod:`helpers.stats.moments`):
    one row per cell (its ``sw`` the weight, ``n`` the count), with the cells' strata, cluster
    and calibration margins as columns. Every cell must lie in one PSU and one level of each
    margin (the query's keys include them). Without a cluster every response is its own PSU:
    a cell is ``n`` PSUs (:class:`UnitCellsDesign`), whose responses must then be alike (one
    weight, one value of what is estimated: e.g. cells by NPS class). `copies`: a column giving
    how many alike PSUs each cluster stands for (clusters with the same cells, counted once)."""
    margins = [[m] if isinstance(m, str) else list(m) for m in (calibrate or [])]
    cl = None if cluster is None else pd.factorize(cells[cluster])[0]
    counts = cells["n"].to_numpy(float)
    cal = None if not margins else Calibration(
        tuple(_cell_levels(cells, m) for m in margins), counts=counts)
    kind = Design if cluster is not None and copies is None else UnitCellsDesign
    design = kind(len(cells), weights=cells["sw"].to_numpy(float),
                  strata=None if strata is None else cells[strata], cluster=cl, calibrate=cal)
    if isinstance(design, UnitCellsDesign):
        if design.psu is None:
            design.set_units(counts)
        else:
            per_psu = np.zeros(len(design.psu_stratum))
            per_psu[design.psu] = cells[str(copies)].to_numpy(float)
            design.set_units(per_psu)
    return design


class UnitCellsDesign(Design):
    """A design whose PSUs stand for several alike PSUs: without clusters each row is a cell of
    alike responses, each its own PSU (a cell of m responses is m PSUs, each with the cell's
    total / m); with clusters each cluster stands for ``copies`` clusters with the same cells.
    The strata's PSU counts, each PSU's weight in the quadratic form (s_h / m) and the degrees of
    freedom count the PSUs it stands for; the rest is :class:`Design`'s."""

    copies: np.ndarray

    def set_units(self, copies: np.ndarray) -> None:
        """PSUs each PSU stands for; the strata's sizes and coefficients from them."""
        self.copies = np.asarray(copies, float)
        if self.psu is None:
            self.counts = self.copies
        self.n_h = np.bincount(self.psu_stratum, weights=self.copies, minlength=self.n_strata)
        self.s_h, self.k_h = stratum_coefficients(self.f_h, self.n_h, self.lonely_psu)
        self.lonely_h = self.n_h == 1
        if hasattr(self, "_cal_cache"):
            del self._cal_cache

    def unit_s(self) -> np.ndarray:
        return self.s_h[self.psu_stratum] / self.copies

    def _psu_pairs(self, g: np.ndarray, n_groups: int) -> sparse.csr_matrix:
        """(PSU x group) indicator of the PSUs holding positive-weight rows of each group."""
        from scipy import sparse
        keep = (g >= 0) & (self.w > 0)
        unit = np.arange(self.n) if self.psu is None else self.psu
        key = np.unique(unit[keep].astype(np.int64) * n_groups + g[keep])
        return sparse.csr_matrix((np.ones(len(key)), (key // n_groups, key % n_groups)),
                                 shape=(len(self.psu_stratum), n_groups))

    def _degf(self, g: np.ndarray, n_groups: int, pairs: bool
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        from scipy import sparse
        df, df_union, n_p = super()._degf(g, n_groups, pairs)
        inc = self._psu_pairs(g, n_groups)
        more = sparse.diags(self.copies - 1)
        extra = np.asarray(inc.T @ (self.copies - 1)).ravel()
        if df_union is not None:
            both = np.asarray((inc.T @ more @ inc).todense())
            df_union = df_union + extra[:, None] + extra[None, :] - both
        return df + extra, df_union, n_p + extra.astype(np.int64)

    def _whole_df(self) -> tuple[float, int]:
        df, n_p = super()._whole_df()
        has = self._psu_pairs(np.zeros(self.n, np.int64), 1).toarray().ravel() > 0
        extra = float((self.copies[has] - 1).sum())
        return df + extra, int(n_p + extra)


def _cell_levels(cells: pd.DataFrame, cols: list[str]) -> np.ndarray:
    codes = np.zeros(len(cells), np.int64)
    for c in cols:
        k, u = pd.factorize(cells[c])
        codes = codes * (len(u) + 1) + k
    return pd.factorize(codes)[0]


def nps_table_cells(cells: pd.DataFrame, by: str | Sequence[str], value: str = "nps", *,
                    design: Design, level: float = 0.95, ci: str | None = None,
                    covmat: bool = False) -> pd.DataFrame:
    """:func:`~helpers.stats.estimators.nps_table` from a moment table instead of rows: the same columns and numbers.

    `cells` has ``n``, ``sw``, ``s__<value>`` and ``ss__<value>`` of the NPS score (+1/0/-1;
    :class:`helpers.stats.moments.Value` with ``transform="nps"``) per cell, and the `by`
    columns; `design` is :func:`cells_design` of the same cells.
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    require_columns(cells, [*by_cols, "n", "sw", f"s__{value}", f"ss__{value}"], "moments")
    ci = nps_method(ci, True)
    sw = cells["sw"].to_numpy(float)
    s1, s2 = cells[f"s__{value}"].to_numpy(float), cells[f"ss__{value}"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(sw > 0, s1 / sw, np.nan)
    groups = group_codes(cells, by_cols)
    gm = group_means(design, y, groups, covmat=covmat,
                     cells=CellSums(cells["n"].to_numpy(float), s2))
    valid = (groups.codes >= 0) & ~np.isnan(y)
    gv = np.where(valid, groups.codes, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_pro = np.bincount(gv, weights=np.where(valid, (s2 + s1) / 2, 0.0),
                            minlength=groups.n) / gm.wsum
        p_det = np.bincount(gv, weights=np.where(valid, (s2 - s1) / 2, 0.0),
                            minlength=groups.n) / gm.wsum
    se = np.sqrt(gm.var)
    lo, hi = nps_interval(gm.est, se, p_pro, p_det, interval_size(gm.n.astype(float), gm.n_eff),
                          t_value(level, gm.df), ci)
    keep = gm.n > 0
    extra = {"n_clusters": gm.n_psu[keep]} if design.clustered else {}
    table = group_labels(cells, by_cols, groups, keep).assign(
        n=gm.n[keep], pct_promoter=100 * p_pro[keep],
        pct_passive=100 * (1 - p_pro - p_det)[keep], pct_detractor=100 * p_det[keep],
        nps=100 * gm.est[keep], se=100 * se[keep], ci_low=100 * lo[keep],
        ci_high=100 * hi[keep], df=gm.df[keep], deff=gm.deff[keep], n_eff=gm.n_eff[keep],
        n_psu=gm.n_psu[keep], **extra,
        note=worded(gm.lonely[keep], lambda k: lonely_note(k, design)),
        ci_method=design_method(ci))
    attach_vcov(table, gm, keep, 100.0)
    return table
