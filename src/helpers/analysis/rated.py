"""The segments report's tables for a programme whose headline is not NPS (a satisfaction or
effort programme, ``headline:`` in the survey schema): the headline statistic of its measure
(CSAT % top-2 box, CES % agree, a mean ...) by sub-segment, per wave, its wave-over-wave
changes and what B2C weighting does to it.

The same designs as every other figure (:data:`helpers.analysis.selection.DESIGNS`): each
segment and each wave is a domain of its market's design (:func:`helpers.analysis.explore.estimate`),
changes are measured as the headline tiles measure them (:func:`helpers.analysis.headline.change_of`:
B2B paired on the accounts answering in both waves, B2C two domains of the weighted design),
Benjamini-Hochberg across every change. Small cells are governed as the NPS tables are
(:func:`helpers.analysis.segments.govern`). An NPS programme keeps its own tables
(:mod:`helpers.analysis.segments`); :func:`estimate_column` names the estimate column of either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.analysis import explore, headline, segments
from helpers.analysis.segments import govern, result_row
from helpers.analysis.selection import Study
from helpers.errors import ThinData
from helpers.measures import Statistic
from helpers.stats import compare
from helpers.stats.design import Design


def estimate_column(statistic: Statistic) -> str:
    """The column holding the estimate in the segments report's tables: ``nps`` for NPS (its
    own tables), ``estimate`` for any other statistic."""
    return "nps" if statistic.kind == "nps" else "estimate"


def _by(data: Study, market: str, waves: list[str] | None, field: str, min_n: int,
        max_halfwidth: float) -> pd.DataFrame:
    sel = data.market(market, waves) if waves else data.market(market)
    stat = data.headline.headline
    t = explore.estimate(sel, stat.key, by=field).assign(statistic_name=stat.name)
    return govern(t.rename(columns={"label": "statistic_label"}), min_n=min_n,
                  max_halfwidth=max_halfwidth)


def market_segments(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """The headline statistic of the reported wave per sub-segment of each market's segment
    fields, governed, with a chart `label` "market · dimension: segment"."""
    parts = []
    for market in data.markets:
        rows = data.market(market, [data.wave]).rows
        for dim in data.schema.segment_fields(market):
            if dim not in rows or not rows[dim].notna().any():
                continue
            t = _by(data, market, [data.wave], dim, min_n, max_halfwidth)
            parts.append(t.rename(columns={dim: "segment"}).assign(
                dimension=dim, market=market, segment=lambda x: x["segment"].astype(str)))
    if not parts:
        raise ThinData("no segment field with answers in the reported wave", column="segments")
    out = pd.concat(parts, ignore_index=True)
    out["label"] = out["market"] + " · " + out["dimension"] + ": " + out["segment"]
    return out


def market_trends(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """The headline statistic per wave and market, each wave a domain of the market's design of
    all waves, governed."""
    parts = [_by(data, m, None, "wave", min_n, max_halfwidth).assign(market=m)
             for m in data.markets]
    out = pd.concat(parts, ignore_index=True)
    out["wave"] = out["wave"].astype(str)
    return out.sort_values(["market", "wave"], ignore_index=True)


def market_changes(data: Study, q: float = 0.05) -> pd.DataFrame:
    """Change of the headline statistic between consecutive waves per market (as the headline
    tiles measure it), one Benjamini-Hochberg family across every change."""
    measure = data.headline
    stat = measure.headline
    rows = []
    for market in data.markets:
        for a, b in zip(data.waves[:-1], data.waves[1:], strict=True):
            sel = data.market(market, [a, b]).rows
            base = {"market": market, "dimension": "all", "segment": "all", "wave_from": a,
                    "wave_to": b}
            try:
                r, test = headline.change_of(data, market, sel, measure.values(sel[measure.key], stat),
                                             (a, b))
            except ThinData as exc:
                rows.append({**base, "change": np.nan, "se": np.nan, "ci_low": np.nan,
                             "ci_high": np.nan, "p_value": np.nan, "n_from": 0, "n_to": 0,
                             "test": "", "note": str(exc)})
                continue
            rows.append({**base, "change": r.estimate, "se": r.se, "ci_low": r.ci[0],
                         "ci_high": r.ci[1], "p_value": r.p, "n_from": r.n_a, "n_to": r.n_b,
                         "test": test, "note": ""})
    if not rows:
        raise ThinData("fewer than 2 waves", column="wave")
    out = compare.with_fdr(pd.DataFrame(rows), q)
    tested = int(out["p_value"].notna().sum())
    return out.assign(metric=stat.key,
                      fdr_family=f"every wave change of the run (both markets): {tested} tests")


def weighting_effect(data: Study, rows: pd.DataFrame) -> pd.DataFrame:
    """The headline statistic of B2C `rows` unweighted and weighted (raked when margins are
    set), with the Kish design effect and effective n of the weights."""
    from helpers.stats import weighting

    measure = data.headline
    stat = measure.headline
    answered = rows[measure.key].notna().to_numpy()
    w = rows["weight"].to_numpy(float)
    out = []
    for kind, design in (("unweighted", Design(len(rows))),
                         ("weighted (raked)", data.design("B2C", rows))):
        res = headline.estimate(measure, stat, rows[measure.key], design=design)
        kish = ((1.0, float(answered.sum())) if kind == "unweighted" else
                (weighting.kish_deff(w[answered]), weighting.effective_n(w[answered])))
        out.append({"estimate_type": kind, **result_row(res), "kish_deff": kish[0],
                    "kish_n_eff": kish[1]})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- either programme
def _nps(data: Study) -> bool:
    return data.headline.headline.kind == "nps"


def segments_of(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """The segments report's sub-segment table: NPS (:func:`helpers.analysis.segments.market_segments`)
    or the headline statistic (:func:`market_segments`)."""
    fn = segments.market_segments if _nps(data) else market_segments
    return fn(data, min_n=min_n, max_halfwidth=max_halfwidth)


def trends_of(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """The headline per wave and market: NPS or the headline statistic."""
    fn = segments.market_trends if _nps(data) else market_trends
    return fn(data, min_n=min_n, max_halfwidth=max_halfwidth)


def changes_of(data: Study, q: float = 0.05) -> pd.DataFrame:
    """Wave-over-wave changes of the headline: NPS overall and per segment, or the headline
    statistic per market."""
    return segments.market_changes(data, q=q) if _nps(data) else market_changes(data, q=q)


def weighting_of(data: Study, rows: pd.DataFrame) -> pd.DataFrame:
    """B2C `rows` unweighted vs weighted: NPS or the headline statistic."""
    if _nps(data):
        return segments.weighting_effect(rows, rows["weight"], margins=data.raking_margins())
    return weighting_effect(data, rows)


__all__ = ["changes_of", "segments_of", "trends_of", "weighting_of", "estimate_column", "market_changes", "market_segments", "market_trends",
           "weighting_effect"]
