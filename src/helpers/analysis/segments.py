"""Honest NPS by segment and wave: sub-segments, trends and wave-over-wave changes of both
markets, small-n governance, and what B2C weighting does.

Every figure comes with its uncertainty from :mod:`helpers.stats`, on the market's one design
(:data:`helpers.analysis.selection.DESIGNS`: B2B account-clustered, B2C raked weights, waves as
strata); a segment or a wave is a domain of that design, never a row subset with a design of
its own. Account views are in :mod:`helpers.analysis.accounts`, personas in
:mod:`helpers.analysis.personas`, the headline figures of every measure in
:mod:`helpers.analysis.headline`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.analysis import b2c_cells
from helpers.analysis.selection import Study, b2c_weighting
from helpers.errors import ThinData, require_columns
from helpers.stats import cell_tables, compare, estimators, weighting
from helpers.stats.design import Design


# --------------------------------------------------------------------------- basics
def nps_points(ltr: pd.Series) -> pd.Series:
    """+100 / 0 / -100 per response (estimators.nps_score) as a Series aligned with `ltr`."""
    return pd.Series(estimators.nps_score(ltr, name=str(ltr.name)), index=ltr.index)


def result_row(res: estimators.NPSResult | estimators.MeanResult) -> dict[str, float]:
    """estimate, se, ci_low, ci_high, df, n, deff, n_eff of a result (deff NaN if none)."""
    deff = getattr(res, "deff", None)
    n_eff = getattr(res, "n_eff", None)
    return {"estimate": float(res.estimate), "se": float(res.se), "ci_low": float(res.ci[0]),
            "ci_high": float(res.ci[1]), "df": float(res.df), "n": int(res.n),
            "deff": np.nan if deff is None else float(deff),
            "n_eff": np.nan if n_eff is None else float(n_eff)}


def mean_points(values: pd.Series, weights: pd.Series | None = None,
                bounds: tuple[float, float] = (-100.0, 100.0)) -> dict[str, float]:
    """Design-based mean (estimators.survey_mean) of a score already in points, each row its
    own unit (e.g. one per account), CI clipped to `bounds`; missing values are outside the
    domain."""
    design = Design(len(values), weights=None if weights is None else weights.to_numpy(float))
    out = result_row(estimators.survey_mean(values.astype(float).to_numpy(), design=design))
    out["ci_low"], out["ci_high"] = max(bounds[0], out["ci_low"]), min(bounds[1], out["ci_high"])
    return out


# --------------------------------------------------------------------------- small-n governance
def govern(table: pd.DataFrame, min_n: int = 10, max_halfwidth: float = 30.0, *,
           n: str = "n", low: str = "ci_low", high: str = "ci_high") -> pd.DataFrame:
    """Add `suppressed` (bool) and `reason` (str, "" when shown): n below `min_n`, or a 95% CI
    half-width above `max_halfwidth` points, or no CI at all. Charts grey such rows out.
    """
    require_columns(table, [n, low, high], "table")
    out = table.copy()
    nn = out[n].astype(float).to_numpy()
    half = (out[high].astype(float) - out[low].astype(float)).to_numpy() / 2
    reason = np.where(
        nn < min_n, [f"n={int(v) if v == v else 0} < {min_n}" for v in nn],
        np.where(np.isnan(half), "no CI",
                 np.where(half > max_halfwidth,
                          [f"CI +/-{h:.1f} > +/-{max_halfwidth:g} pts" for h in np.nan_to_num(half)],
                          "")))
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    out["suppressed"] = out["reason"] != ""
    return out


# --------------------------------------------------------------------------- B2C weights
def weighting_effect(df: pd.DataFrame, weight: pd.Series, score: str = "ltr",
                     margins: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Unweighted vs weighted NPS side by side, with Kish deff and effective n of the weights.

    `deff`/`n_eff` are the design effect of the estimate (estimators.nps; with the raking
    `margins` the weighted variance is calibration-aware, as R's ``rake``); `kish_deff` /
    `kish_n_eff` those of unequal weighting alone (weighting.kish_deff / effective_n).
    """
    keep = df[score].notna().to_numpy()
    w = weight.to_numpy(float)
    cal = [df[m].to_numpy() for m in margins] if margins else None
    design = Design(len(df), weights=w, calibrate=cal)
    rows = [{"estimate_type": "unweighted", **result_row(estimators.nps(df[score])), "kish_deff": 1.0,
             "kish_n_eff": float(keep.sum())},
            {"estimate_type": "weighted (raked)", **result_row(estimators.nps(df[score], design=design)),
             "kish_deff": weighting.kish_deff(w[keep]), "kish_n_eff": weighting.effective_n(w[keep])}]
    return pd.DataFrame(rows).rename(columns={"estimate": "nps"})


# --------------------------------------------------------------------------- tables
def _kish_by(df: pd.DataFrame, by: list[str], w: np.ndarray) -> pd.DataFrame:
    g = pd.DataFrame({"w": w, "w2": w**2, "one": 1.0}, index=df.index).groupby(
        [df[c] for c in by], sort=True, observed=True).sum()
    g["kish_deff"] = g["one"] * g["w2"] / g["w"] ** 2
    g["kish_n_eff"] = g["w"] ** 2 / g["w2"]
    return g[["kish_deff", "kish_n_eff"]].reset_index()


def nps_by(df: pd.DataFrame, by: str | Sequence[str], *, design: Design | None = None,
           min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """NPS per group of `by` (R ``svyby``: every group a domain of `design`, the design of all
    of `df`; None: simple random sampling), plus Kish deff / effective n when weighted, then
    :func:`govern`."""
    by_cols = [by] if isinstance(by, str) else list(by)
    t = estimators.nps_table(df, by_cols, design=design)
    if design is not None and design.weighted:
        rated = df["ltr"].notna().to_numpy()
        t = t.merge(_kish_by(df[rated], by_cols, design.w[rated]), on=by_cols, how="left")
    return govern(t, min_n=min_n, max_halfwidth=max_halfwidth)


def segment_tables(df: pd.DataFrame, dimensions: Sequence[str], *, design: Design | None = None,
                   min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """Sub-segment NPS for each of `dimensions` stacked into one long table.

    Columns: dimension, segment, n, pct_promoter/passive/detractor, nps, se, ci_low, ci_high,
    df, deff, n_eff, n_psu, note (+ kish_* when weighted, n_clusters when clustered),
    suppressed, reason. Every segment is a domain of `design` (the design of all of `df`).
    """
    parts = []
    for dim in dimensions:
        require_columns(df, [dim], "responses")
        t = nps_by(df, dim, design=design, min_n=min_n, max_halfwidth=max_halfwidth)
        parts.append(t.rename(columns={dim: "segment"}).assign(
            dimension=dim, segment=lambda x: x["segment"].astype(str)))
    out = pd.concat(parts, ignore_index=True)
    return out[["dimension", "segment", *[c for c in out.columns if c not in ("dimension", "segment")]]]


# --------------------------------------------------------------------------- trends
def trend(df: pd.DataFrame, by: str | None = None, *, design: Design | None = None,
          min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """NPS per wave (and per `by` segment) with 95% CI, governed; waves sort chronologically.
    Each wave is a domain of the design of all waves (accounts answering in several waves are
    one PSU; B2C waves are strata)."""
    return nps_by(df, ["wave", *([by] if by else [])], design=design, min_n=min_n,
                  max_halfwidth=max_halfwidth)


def wave_changes(df: pd.DataFrame, by: str | Sequence[str] | None = None, *,
                 design: Design | None = None, paired_unit: str | None = None,
                 q: float = 0.05) -> pd.DataFrame:
    """Wave-over-wave NPS change overall and per segment of each `by` dimension, tested, then
    Benjamini-Hochberg across all rows (one family: every segment and wave pair at once).

    With `paired_unit` (B2B: account_id) the change is estimated on the units that answered in
    both waves (compare.compare_paired, t with units-1 df; weighted by `design`'s weights when
    it has any); otherwise each segment x wave is a domain of `design` (the design of all of
    `df`) and the change is their contrast with the covariance of the joint design
    (compare.contrast, R ``svycontrast``; t with the df of the two domains). A change is
    `significant` only when its BH-adjusted p-value is <= `q` (compare.bh_adjust). Pairs that
    cannot be tested (fewer than 2 units in both waves, or an empty wave) get NaN p and a
    `note`.
    """
    waves = sorted(df["wave"].dropna().astype(str).unique())
    dims = [] if by is None else [by] if isinstance(by, str) else list(by)
    if paired_unit:
        w = design.w if design is not None and design.weighted else None
        rows = _paired_changes(df, dims, waves, paired_unit, w)
    else:
        d = df.assign(_all="all", wave=df["wave"].astype(str))
        rows = [r for dim in ["_all", *dims] for r in _joint_changes(
            estimators.nps_table(d, [dim, "wave"], design=design, covmat=True, ci="wald"),
            dim, waves, sorted(d[dim].dropna().astype(str).unique()))]
    return _changes_table(rows, q)


def _changes_table(rows: list[dict], q: float) -> pd.DataFrame:
    """The tested changes with their CIs clipped and Benjamini-Hochberg across all of them."""
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    # a change of NPS lies in [-200, 200]: a t interval on a few units can pass those bounds
    out["ci_low"], out["ci_high"] = out["ci_low"].clip(lower=-200), out["ci_high"].clip(upper=200)
    return _family(compare.with_fdr(out, q), "the changes of this table")


def _untested(base: dict, n_from: int, n_to: int, note: str) -> dict:
    return {**base, "change": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
            "p_value": np.nan, "n_from": n_from, "n_to": n_to, "n_units": None, "test": "",
            "note": note}


def _tested(base: dict, r: compare.DiffResult, test: str) -> dict:
    return {**base, "change": r.estimate, "se": r.se, "ci_low": r.ci[0], "ci_high": r.ci[1],
            "p_value": r.p, "n_from": r.n_a, "n_to": r.n_b, "n_units": r.n_units, "test": test,
            "note": ""}


def _paired_changes(df: pd.DataFrame, dims: list[str], waves: list[str], unit: str,
                    w: np.ndarray | None) -> list[dict]:
    """compare.compare_paired of every segment and consecutive waves, from per-unit sums
    (compare.paired_changes: one pass over the rows, no per-pair selection)."""
    require_columns(df, [unit, "wave", "ltr"], "responses")
    y = estimators.nps_score(df["ltr"], "ltr")
    unit_codes = pd.factorize(df[unit])[0]
    wave_codes = pd.Categorical(df["wave"].astype(str), categories=waves).codes.astype(np.int64)
    wave_n = np.bincount(np.where(wave_codes >= 0, wave_codes, len(waves)),
                         minlength=len(waves) + 1)[:len(waves)]
    parts = [("all", ["all"], np.zeros(len(df), np.int64), wave_n[None, :])]
    for d in dims:
        codes, labels = pd.factorize(df[d], sort=True)
        counts = np.zeros((len(labels), len(waves)), np.int64)
        ok = (codes >= 0) & (wave_codes >= 0)
        np.add.at(counts, (codes[ok], wave_codes[ok]), 1)
        parts.append((d, [str(k) for k in labels], codes, counts))
    return _paired_rows([(dim, labels, compare.paired_changes(
        y, unit_codes, wave_codes, len(waves), codes, len(labels), w), counts)
        for dim, labels, codes, counts in parts], waves, unit)


def _paired_rows(parts: list[tuple[str, list[str], compare.PairedTable, np.ndarray]],
                 waves: list[str], unit: str) -> list[dict]:
    """The rows of every (dimension, labels, paired table, responses per label and wave)."""
    rows = []
    for dim, labels, table, counts in parts:
        for gi, seg in enumerate(labels):
            for k, (a, b) in enumerate(zip(waves[:-1], waves[1:], strict=True)):
                base = {"dimension": dim, "segment": seg, "wave_from": a, "wave_to": b}
                try:
                    rows.append(_tested(base, table.result(gi, k, unit),
                                        "paired (same units in both waves)"))
                except ThinData as exc:
                    rows.append(_untested(base, int(counts[gi, k]), int(counts[gi, k + 1]),
                                          str(exc)))
    return rows


def _joint_changes(t: pd.DataFrame, dim: str, waves: list[str], segs: list[str]) -> list[dict]:
    """Consecutive-wave contrasts of every segment `segs` of `dim`, from one covmat table `t`
    (by `dim` and wave, Wald intervals)."""
    pos = {(str(k), w): i for i, (k, w) in enumerate(zip(t[dim], t["wave"], strict=True))}
    rows = []
    for seg in segs:
        for a, b in zip(waves[:-1], waves[1:], strict=True):
            base = {"dimension": "all" if dim == "_all" else dim, "segment": seg,
                    "wave_from": a, "wave_to": b}
            ia, ib = pos.get((seg, a)), pos.get((seg, b))
            if ia is None or ib is None:
                n = [int(t["n"].iloc[i]) if i is not None else 0 for i in (ia, ib)]
                rows.append(_untested(base, n[0], n[1], "no rated responses in one of the waves"))
                continue
            r = compare.contrast(t, ia, ib, metric="nps")
            rows.append(_tested(base, r, "joint design (domains, covariance included)"))
    return rows


# --------------------------------------------------------------------------- both markets
def aggregate_rows(data: Study, market: str, waves: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows an aggregate table of `market` is computed from: the study's included rows
    (of `waves`), or, for a study too large to load (``data.full``), every included row with
    only the columns the tables use, projected out of core (B2C raking weights computed on all
    of them exactly as :func:`helpers.analysis.selection.study` does)."""
    if data.full is None:
        return data.market(market).rows if waves is None else wave_rows(data, market, waves)
    weighted = data.rule(market).weights is not None
    measures = [m.key for m in data.schema.measures]
    margins = list(data.settings.b2c_margins) if weighted else []
    cols = list(dict.fromkeys(["ltr", *measures, "account_id", *data.schema.segment_fields(market),
                               *margins]))
    rows = data.full.rows(market, cols, list(waves) if waves else None)
    if weighted and len(rows):
        rows[data.rule(market).weights], _ = b2c_weighting(rows, data.settings)
    return rows


def wave_rows(data: Study, market: str, waves: Sequence[str]) -> pd.DataFrame:
    """The study's included rows of `market` in `waves` with only the columns the aggregate
    tables read (the wave, the measures, the segment fields and the columns of the market's
    design, in the study's order): selecting the waves copies these, not every column."""
    rule, rows = data.rule(market), data.market(market).rows
    wanted = {"wave", *(m.key for m in data.schema.measures), *data.schema.segment_fields(market),
              *(data.raking_margins() or {}), rule.cluster, rule.weights, rule.strata, rule.unit}
    rows = rows[[c for c in rows.columns if c in wanted or str(c).startswith("repw_")]]
    return rows[rows["wave"].astype(str).isin(list(waves))]


def market_segments(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """Sub-segment NPS of the reported wave for each market over the schema's segment fields,
    every segment a domain of its market's design, governed, with a `label` "market ·
    dimension: segment" for charts."""
    parts = []
    for market in ("B2B", "B2C"):
        cells = b2c_cells.for_study(data) if market == "B2C" else None
        if cells is not None:
            parts.append(_segments_from_cells(data, cells, min_n, max_halfwidth))
            continue
        df = aggregate_rows(data, market, [data.wave])
        dims = [d for d in data.schema.segment_fields(market) if d in df.columns and df[d].notna().any()]
        if len(df) and dims:
            t = segment_tables(df, dims, design=data.design(market, df), min_n=min_n,
                               max_halfwidth=max_halfwidth)
            parts.append(t.assign(market=market))
    out = pd.concat(parts, ignore_index=True)
    out["label"] = out["market"] + " · " + out["dimension"] + ": " + out["segment"]
    return out


def market_trends(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """NPS per wave and market with 95% CI, each wave a domain of the market's design of all
    waves (B2B clustered by account across waves, B2C weighted with waves as strata)."""
    parts = []
    for market in data.markets:
        cells = b2c_cells.for_study(data) if market == "B2C" else None
        if market == "B2B" and data.full is not None:
            t = _b2b_trend_from_moments(data, min_n, max_halfwidth)
        elif cells is not None:
            t = govern(cells.table(["wave"]), min_n=min_n, max_halfwidth=max_halfwidth)
        else:
            rows = aggregate_rows(data, market)
            t = trend(rows, design=data.design(market, rows), min_n=min_n,
                      max_halfwidth=max_halfwidth)
        parts.append(t.assign(market=market))
    return pd.concat(parts, ignore_index=True)


def _b2b_trend_from_moments(data: Study, min_n: int, max_halfwidth: float) -> pd.DataFrame:
    """:func:`trend` of all B2B rows from the sufficient statistics per account and wave (a
    moment query the engine runs out of core; the same numbers as from the rows)."""
    from helpers.stats.moments import MomentQuery, Value

    if data.full.engine.name == "duckdb":   # accounts with the same cells counted once
        alike = data.full.alike_clusters("B2B", "account_id", Value("nps", "ltr", "nps"))
        m = alike["copies"]
        cells = alike.assign(n=alike["n"] * m, sw=alike["n"] * m, s__nps=alike["s"] * m,
                             ss__nps=alike["ss"] * m)
        t = cell_tables.nps_table_cells(cells, ["wave"], design=cell_tables.cells_design(
            cells, cluster="pattern", copies="copies"))
        return govern(t, min_n=min_n, max_halfwidth=max_halfwidth)
    cells = data.full.moments(MomentQuery(
        "responses", ("account_id", "wave"), (Value("nps", "ltr", "nps"),),
        where=(("include", "true", None), ("market", "==", "B2B"))))
    t = cell_tables.nps_table_cells(cells, ["wave"], design=cell_tables.cells_design(
        cells, cluster="account_id"))
    return govern(t, min_n=min_n, max_halfwidth=max_halfwidth)


def market_changes(data: Study, q: float = 0.05) -> pd.DataFrame:
    """Wave-over-wave NPS changes, overall and per sub-segment, both markets: B2B paired on the
    accounts present in both waves, B2C contrasts of domains of the weighted design of all
    waves (waves as strata, calibration-aware when raked); one Benjamini-Hochberg family across
    every test of both markets (``p_adjusted``)."""
    parts = []
    for market in data.markets:
        cells = b2c_cells.for_study(data) if market == "B2C" else None
        if cells is not None:
            parts.append(_changes_from_cells(cells, _segment_fields(data, market), q)
                         .assign(market=market))
            continue
        if market == "B2B" and data.full is not None and data.rule(market).paired:
            parts.append(_b2b_changes_out_of_core(data, _segment_fields(data, market), q)
                         .assign(market=market))
            continue
        rows = aggregate_rows(data, market)
        rule = data.rule(market)
        paired = rule.unit if rule.paired else None
        parts.append(wave_changes(rows, _segment_fields(data, market), paired_unit=paired,
                                  design=None if paired else data.design(market, rows),
                                  q=q).assign(market=market))
    out = _family(compare.with_fdr(pd.concat(parts, ignore_index=True), q),
                  "every wave change of the run (each segment and wave pair, both markets)")
    return out[["market", *[c for c in out.columns if c != "market"]]]


def _b2b_changes_out_of_core(data: Study, dims: list[str], q: float) -> pd.DataFrame:
    """:func:`wave_changes` of all B2B responses paired on accounts, from sums the engine
    computes per segment and pair of waves (:meth:`helpers.analysis.outofcore.FullData.
    paired_sums`): the same tests, no rows in memory."""
    from helpers.stats.moments import Value

    unit = data.rule("B2B").unit
    waves = sorted(data.market("B2B").rows["wave"].dropna().astype(str).unique())
    pairs = list(zip(waves[:-1], waves[1:], strict=True))
    parts = []
    for dim in [None, *dims]:
        found, counts = data.full.paired_sums("B2B", unit, dim, waves, Value("nps", "ltr", "nps"))
        labels = sorted(counts["seg"].astype(str).unique())
        n = (counts.assign(seg=counts["seg"].astype(str), wave=counts["wave"].astype(str))
             .pivot_table(index="seg", columns="wave", values="n", aggfunc="sum")
             .reindex(index=labels, columns=waves).fillna(0).to_numpy(np.int64))
        grid = pd.MultiIndex.from_product([labels, pairs], names=["seg", "pair"])
        sums = (found.assign(seg=found["seg"].astype(str), pair=list(zip(
            found["wave_from"].astype(str), found["wave_to"].astype(str), strict=True)))
            .set_index(["seg", "pair"]).reindex(grid).fillna(0.0) if len(found)
            else pd.DataFrame(0.0, index=grid, columns=list(compare.PAIRED_SUMS)))
        table = compare.paired_from_sums(sums, (len(labels), len(pairs)))
        parts.append(("all" if dim is None else dim, labels, table, n))
    return _changes_table(_paired_rows(parts, waves, unit), q)


def _segments_from_cells(data: Study, cells: b2c_cells.B2CCells, min_n: int,
                         max_halfwidth: float) -> pd.DataFrame:
    """:func:`segment_tables` of the reported wave's B2C responses, from their cells."""
    now = cells.cells[cells.cells["wave"] == data.wave]
    dims = [d for d in data.schema.segment_fields("B2C") if d in now and now[d].notna().any()]
    parts = [govern(cells.table([d], [data.wave]), min_n=min_n, max_halfwidth=max_halfwidth)
             .rename(columns={d: "segment"}).assign(dimension=d, segment=lambda x: x["segment"]
                                                    .astype(str)) for d in dims]
    out = pd.concat(parts, ignore_index=True)
    out = out[["dimension", "segment", *[c for c in out.columns
                                         if c not in ("dimension", "segment")]]]
    return out.assign(market="B2C")


def _changes_from_cells(cells: b2c_cells.B2CCells, dims: list[str], q: float) -> pd.DataFrame:
    """:func:`wave_changes` of all B2C responses (domains of the weighted design), from
    their cells."""
    waves = cells.waves
    c = cells.cells.assign(_all="all")
    cells = b2c_cells.B2CCells(c, cells.margins)
    rows = [r for dim in ["_all", *dims] for r in _joint_changes(
        cells.table([dim, "wave"], covmat=True, ci="wald"), dim, waves,
        sorted(c[dim].dropna().astype(str).unique()))]
    return _changes_table(rows, q)


def _family(table: pd.DataFrame, what: str) -> pd.DataFrame:
    """Name the Benjamini-Hochberg family ``p_adjusted`` was adjusted across (``fdr_family``)."""
    tested = int(table["p_value"].notna().sum())
    return table.assign(fdr_family=f"{what}: {tested} tests")


def _segment_fields(data: Study, market: str) -> list[str]:
    rows = data.market(market).rows
    return [f for f in data.schema.segment_fields(market) if f in rows and rows[f].notna().any()]
