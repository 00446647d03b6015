"""B2C tables of a study too large to load, from cells instead of rows.

Raking (iterative proportional fitting) needs the responses only through their number in each
cell of the raking margins, so every weight is a factor of its wave and raking cell; an NPS
score takes three values. All included B2C responses are therefore counted out of core per wave,
raking margins, segment fields and NPS class (:meth:`helpers.analysis.outofcore.FullData.
cell_counts`: a few thousand cells however many responses), the weights are raked and trimmed
on those counts exactly as :func:`helpers.analysis.selection.b2c_weights` does on rows, and the
tables (NPS by wave and segment, with the calibration-aware linearised variance of R's
``rake``, each response its own PSU and waves as strata) come from the cells
(:func:`helpers.stats.cell_tables.nps_table_cells` on a
:class:`~helpers.stats.cell_tables.UnitCellsDesign`): the same figures as from the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.analysis.selection import Study
from helpers.config import SegmentsConfig
from helpers.stats import cell_tables, weighting
from helpers.stats.moments import Value

#: The NPS class of a response: +1 promoter, 0 passive, -1 detractor, missing when not rated.
NPS_CLASS = Value("nps_class", "ltr", "nps")


@dataclass(frozen=True)
class B2CCells:
    """Counts ``n`` of included B2C responses per wave, raking margins, segment fields and NPS
    class (``nps_class``), with each response's ``weight`` (raked within its wave)."""

    cells: pd.DataFrame
    margins: tuple[str, ...]

    @property
    def waves(self) -> list[str]:
        """Every wave with B2C responses, in order."""
        return sorted(self.cells["wave"].dropna().astype(str).unique())

    def table(self, by: Sequence[str], waves: Sequence[str] | None = None, *,
              covmat: bool = False, ci: str | None = None) -> pd.DataFrame:
        """:func:`helpers.stats.estimators.nps_table` of the responses (of `waves`) by `by`,
        each group a domain of the market's design of those responses, with the Kish deff and
        effective n of the rated responses' weights (as
        :func:`helpers.analysis.segments.nps_by`)."""
        c = self.cells if waves is None else self.cells[self.cells["wave"].isin(list(waves))]
        by = list(by)
        keys = list(dict.fromkeys(["wave", *self.margins, *by, NPS_CLASS.name]))
        m = (c.groupby(keys, dropna=False, sort=True, observed=True)
             .agg(n=("n", "sum"), weight=("weight", "first")).reset_index())
        sw = m["n"].to_numpy(float) * m["weight"].to_numpy(float)
        y = m[NPS_CLASS.name].to_numpy(float)
        m = m.assign(sw=sw, s__nps=sw * y, ss__nps=sw * y * y)
        design = cell_tables.cells_design(
            m, strata="wave", calibrate=[["wave", v] for v in self.margins] or None)
        t = cell_tables.nps_table_cells(m, by, design=design, covmat=covmat, ci=ci)
        return _with_kish(t, m[~np.isnan(y)], by)


def _with_kish(t: pd.DataFrame, rated: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Kish deff and effective n of the rated responses' weights per group, merged on `by`."""
    g = rated.assign(w2=rated["sw"] * rated["weight"]).groupby(by, sort=True, observed=True)[
        ["n", "sw", "w2"]].sum()
    g["kish_deff"] = g["n"] * g["w2"] / g["sw"] ** 2
    g["kish_n_eff"] = g["sw"] ** 2 / g["w2"]
    kish = g[["kish_deff", "kish_n_eff"]].reset_index()
    for col in by:
        kish[col] = kish[col].astype(t[col].dtype)
    attrs = dict(t.attrs)
    out = t.merge(kish, on=by, how="left")
    out.attrs.update(attrs)
    return out


def cell_weights(cells: pd.DataFrame, margins: Mapping[str, Mapping[str, float]],
                 cfg: SegmentsConfig, max_rounds: int = 20) -> np.ndarray:
    """Each cell's weight per response: :func:`helpers.analysis.selection.b2c_weights` on
    counts (raked within each wave, trimmed and re-raked, mean 1 per response in a wave)."""
    keys = ["wave", *margins]
    pos = cells.groupby(keys, sort=True, dropna=False, observed=True).ngroup().to_numpy()
    raking = cells.groupby(keys, sort=True, dropna=False, observed=True)["n"].sum().reset_index()
    out = np.empty(len(raking))
    for _, g in raking.groupby("wave", sort=True):
        counts = g["n"].to_numpy(float)
        w = weighting.rake(g, margins, base_weight=counts).to_numpy() / counts
        for _ in range(max_rounds):
            t = weighting.trim_weights(w, upper=cfg.trim_upper, lower=cfg.trim_lower,
                                       counts=counts)
            if np.abs(t - w).max() <= 1e-4 * (counts @ t) / counts.sum():
                break
            w = weighting.rake(g, margins, base_weight=t * counts).to_numpy() / counts
        out[g.index.to_numpy()] = t / ((counts @ t) / counts.sum())
    return out[pos]


def for_study(data: Study) -> B2CCells | None:
    """The B2C cells of all responses of a study too large to load, weighted as the study;
    None when the study is in memory or B2C carries the vendor's weights (replicates need
    rows) or a raking margin is missing somewhere (the rows then say why)."""
    if data.full is None or data.replicates():
        return None
    margins = data.raking_margins() or {}
    keys = ["wave", *margins, *data.schema.segment_fields("B2C")]
    cells = data.full.cell_counts("B2C", keys, NPS_CLASS)
    if not len(cells) or cells[list(margins)].isna().any().any():
        return None
    for col in cells.columns.drop(["n", NPS_CLASS.name]):
        cells[col] = cells[col].astype("string")
    weight = cell_weights(cells, margins, data.settings) if margins else np.ones(len(cells))
    return B2CCells(cells.assign(weight=weight), tuple(margins))
