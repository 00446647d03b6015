"""Charts and tables of the segments report in the programme's own measure: NPS with its
promoter and detractor shares in an NPS programme (as always), the headline statistic (CSAT %
top-2 box, CES % agree, a mean ...) with its interval in a satisfaction or effort programme.

Each function takes the study and the table its analysis made
(:mod:`helpers.analysis.rated` / :mod:`helpers.analysis.segments`) and draws it with the
statistic's own name, label and unit (:class:`helpers.measures.Statistic`), so no page of a
programme without the likelihood-to-recommend question speaks of NPS.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from helpers.analysis.selection import Study
from helpers.measures import Measure
from helpers.reporting import charts, views
from helpers.reporting import tables as t


def _nps(data: Study) -> bool:
    return data.headline.headline.kind == "nps"


def _axis(data: Study) -> tuple[str, str]:
    """The column of a table holding the headline figure, and its axis label."""
    return ("nps", "NPS (points)") if _nps(data) else ("estimate", data.headline.headline.label)


def segment_chart(seg: pd.DataFrame, data: Study, min_n: int, max_halfwidth: float) -> Any:
    """Sub-segments of the reported wave: NPS bars and points, or the headline statistic's
    points, each with its 95% CI and n; suppressed cells grey."""
    labelled = views.with_segment_labels(seg, data.schema)
    stat = data.headline.headline
    if _nps(data):
        ax = charts.nps_bars_ci(labelled, label="label", title=f"NPS by sub-segment, wave {data.wave}")
        charts.methods_note(ax, f"NPS = % promoters (9-10) - % detractors (0-6); bars show shares, text the "
                            f"NPS with adjusted-Wald 95% CI and n. B2B: SE clustered by account; B2C: "
                            f"{data.weighting}. Suppressed: n < {min_n} or CI half-width > {max_halfwidth:g} "
                            "pts. Included responses only.")
        return ax
    ax = charts.ci_points(labelled, label="label", xlabel=stat.label,
                          title=f"{stat.name} by sub-segment, wave {data.wave}")
    charts.methods_note(ax, f"{stat.label}: {stat.detail}, with its 95% CI and n. B2B: SE clustered "
                        f"by account; B2C: {data.weighting}. Suppressed: n < {min_n} or CI "
                        f"half-width > {max_halfwidth:g}. Included responses only.")
    return ax


def segment_table(seg: pd.DataFrame, data: Study) -> t.Table:
    """The sub-segment table: NPS with promoter and detractor shares, or the headline statistic."""
    if _nps(data):
        return views.segments(seg, data.schema)
    stat = data.headline.headline
    d = seg.assign(segment_label=views.segment_label(seg, data.schema))
    cols = [t.text("market", "Market"), t.text("segment_label", "Segment"), t.count(),
            t.Col("estimate", stat.name, str(stat.unit), digits=stat.digits),
            t.ci(kind=str(stat.unit), digits=stat.digits)]
    return t.table(d, cols, suppressed=("suppressed", "reason"), interactive=True,
                   note=f"{stat.label}: {stat.detail}.")


def trend_chart(trends: pd.DataFrame, data: Study) -> Any:
    """The headline statistic per wave and market with its 95% CI band."""
    stat = data.headline.headline
    column, label = _axis(data)
    ax = charts.line_with_band(trends, x="wave", estimate=column, hue="market", ylabel=label,
                               title=f"{stat.name} per wave with 95% CI band")
    charts.methods_note(ax, "Bands: 95% CI (B2B clustered by account, B2C weighted). n per wave: "
                        + "; ".join(f"{r.market} {r.wave} n={r.n}" for r in trends.itertuples()))
    return ax


def weighting_chart(effect: pd.DataFrame, data: Study) -> Any:
    """B2C headline unweighted vs weighted, with the weights' Kish deff and effective n."""
    stat = data.headline.headline
    column, label = _axis(data)
    ax = charts.ci_points(effect, label="estimate_type", estimate=column, xlabel=label,
                          title=f"B2C {stat.name} unweighted vs weighted, wave {data.wave}")
    w = effect.iloc[1]
    ci = ("unweighted: adjusted Wald; weighted: t with the design df, R svymean" if _nps(data)
          else "t with the design df, R svymean")
    charts.methods_note(ax, f"95% CIs ({ci}). B2C figures are "
                        f"{data.weighting}. Kish deff {w['kish_deff']:.2f}, effective n "
                        f"{w['kish_n_eff']:.0f} of {int(w['n'])}.")
    return ax


def persona_chart(table: pd.DataFrame, data: Study) -> Any:
    """Each persona's headline statistic with its 95% CI."""
    stat = data.headline.headline
    column, label = _axis(data)
    ax = charts.ci_points(table, label="label", estimate=column, xlabel=label,
                          title=f"Persona {stat.name} with 95% CI (label: most distinctive items, "
                                "z vs all)")
    ci = "NPS CI adjusted Wald" if _nps(data) else f"{stat.name} CI design-based"
    charts.methods_note(ax, f"k-means on standardised ratings (complete cases, all waves); {ci}, "
                        "B2B clustered by account, B2C unweighted. z = persona mean minus overall "
                        "mean in overall SDs.")
    return ax


def persona_measure(data: Study) -> Measure | None:
    """The measure personas are described by: None (NPS) in an NPS programme, else the headline."""
    return None if _nps(data) else data.headline


__all__ = ["persona_chart", "persona_measure", "segment_chart", "segment_table", "trend_chart",
           "weighting_chart"]
