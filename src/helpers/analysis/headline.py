"""Headline figures per market: every statistic of every measure the survey reports (NPS, shares
such as CES % agree or CSAT top-2 box, means), each with its design-based interval and n, and
its change since the previous wave.

Each statistic comes from its :class:`~helpers.measures.Measure` (scale, cut, label, unit), and
each market's rows from the study's one design rule (:data:`helpers.analysis.selection.DESIGNS`),
so the same figure is computed the same way on every page.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from helpers.analysis.segments import aggregate_rows, result_row, wave_rows
from helpers.analysis.selection import Study
from helpers.errors import ThinData
from helpers.measures import Measure, Statistic, metric_key
from helpers.stats import compare, estimators, weighting
from helpers.stats.arrays import check_scale
from helpers.stats.design import Design

#: Columns naming the statistic on every headline row (Statistic.describe()).
STATISTIC_COLUMNS = ["measure", "kind", "name", "detail", "unit", "digits", "headline"]
HEADLINE_COLUMNS = ["market", "metric", "label", "estimate", "se", "ci_low", "ci_high", "df", "n",
                    "deff", "n_eff", "kish_deff", "kish_n_eff", "design", *STATISTIC_COLUMNS,
                    "ci_method"]
HEADLINE_CHANGE_COLUMNS = ["market", "metric", "wave_from", "wave_to", "change", "ci_low",
                           "ci_high", "p_value", "p_adjusted", "significant", "n_from", "n_to",
                           "n_units", "test", "fdr_family"]


def estimate(measure: Measure, statistic: Statistic, answers: pd.Series, *,
             design: Design | None = None, domain: np.ndarray | None = None
             ) -> estimators.NPSResult | estimators.MeanResult:
    """One statistic of `measure` from the answers (R ``svymean``): NPS with its interval,
    a share of answers in the measure's cut (R ``svyciprop``'s logit interval), or the mean;
    each result names its interval in ``ci_method``."""
    if statistic.kind == "nps":
        return estimators.nps(answers, design=design, domain=domain)
    y = pd.to_numeric(answers, errors="coerce").to_numpy(float)
    check_scale(y, *measure.scale, measure.key)
    if statistic.kind == "share":
        flags = np.where(np.isnan(y), np.nan, measure.in_share(y).astype(float))
        return estimators.proportion(pd.Series(flags, name=measure.key), design=design,
                                     domain=domain)
    return estimators.survey_mean(pd.Series(y, name=measure.key), design=design, domain=domain)


def headline(rows: pd.DataFrame, measures: Iterable[Measure], design: Design) -> pd.DataFrame:
    """Every statistic of `measures` on `rows` (with their `design`): metric key, label,
    estimate, SE, CI (t with the design df), df, n, deff, n_eff and the statistic's
    description. A measure nobody answered in `rows` is left out."""
    out = []
    for m in measures:
        if m.key not in rows or rows[m.key].isna().all():
            continue
        for s in m.statistics:
            res = estimate(m, s, rows[m.key], design=design)
            out.append({"metric": s.key, "label": s.label, **result_row(res),
                        "ci_method": res.ci_method,
                        **{k: v for k, v in s.describe().items() if k in STATISTIC_COLUMNS}})
    return pd.DataFrame(out)


def market_headline(data: Study) -> pd.DataFrame:
    """Headline figures of the reported wave per market: B2B account-clustered, B2C weighted
    (calibration-aware when raked, R ``rake``; with Kish deff and effective n of the weights).
    All rows, out of core, when the study is too large to load (:func:`aggregate_rows`)."""
    parts = []
    for market in ("B2B", "B2C"):
        rows = aggregate_rows(data, market, [data.wave])
        if not len(rows):
            continue
        t = headline(rows, data.schema.measures, data.design(market, rows))
        kish = ((weighting.kish_deff(rows["weight"]), weighting.effective_n(rows["weight"]))
                if data.rule(market).weights else (np.nan, np.nan))
        parts.append(t.assign(market=market, design=data.design_note(market),
                              kish_deff=kish[0], kish_n_eff=kish[1]))
    out = pd.concat(parts, ignore_index=True)
    return out[HEADLINE_COLUMNS]


def headline_metrics(head: pd.DataFrame, changes: pd.DataFrame | None = None) -> dict[str, object]:
    """Run-folder metrics: ``{"<statistic>_<market>": {estimate, se, ci_low, ci_high, n, label,
    unit ...}}``, the survey's statistics in order (``statistics``), plus the list of
    wave-over-wave changes significant after Benjamini-Hochberg."""
    out: dict[str, object] = {}
    keep = ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "n_eff", "kish_deff",
            "kish_n_eff", "design", "label", *STATISTIC_COLUMNS, "ci_method")
    for r in head.to_dict("records"):
        out[metric_key(str(r["metric"]), str(r["market"]))] = {
            k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()
            if k in keep}
    order = head.drop_duplicates("metric")
    out["statistics"] = [{"key": r["metric"], "label": r["label"],
                          **{k: r[k] for k in STATISTIC_COLUMNS}} for r in order.to_dict("records")]
    if changes is not None and len(changes):
        sig = changes[changes["significant"]]
        cols = ["market", "dimension", "segment", "wave_from", "wave_to", "change", "ci_low",
                "ci_high", "p_value", "p_adjusted", "test"]
        out["significant_changes"] = sig[[c for c in cols if c in sig]].to_dict("records")
        out["changes_tested"] = int(changes["p_value"].notna().sum())
    return out


# --------------------------------------------------------------------------- changes
def change_of(data: Study, market: str, rows: pd.DataFrame, values: np.ndarray,
            waves: tuple[str, str], designs: dict[str, Design] | None = None
            ) -> tuple[compare.DiffResult, str]:
    """Change of per-response `values` between two waves of `market` as the reports measure
    it: paired on the units answering in both (B2B accounts), else the contrast of the two
    waves' domains of the market's design (B2C: waves as strata, calibration-aware). `designs`:
    the designs of these `rows` built so far, by market (built once for every statistic)."""
    d = rows.assign(_value=values, wave=rows["wave"].astype(str))
    rule = data.rule(market)
    if rule.paired:
        return (compare.compare_paired(d, "_value", compare.Panel(rule.unit, "wave", waves),
                                       metric="mean"), "paired (same accounts in both waves)")
    designs = {} if designs is None else designs
    design = designs[market] = designs[market] if market in designs else data.design(market, d)
    table = estimators.survey_by(d, "_value", "wave", design=design, covmat=True)
    pos = {str(w): i for i, w in enumerate(table["wave"])}
    if waves[0] not in pos or waves[1] not in pos:
        raise ThinData("no answers in one of the waves", column="wave")
    return (compare.contrast(table, pos[waves[0]], pos[waves[1]], metric="mean"),
            "joint design (domains, covariance included)")


def _other_changes(data: Study, waves: tuple[str, str]) -> list[dict]:
    """Changes of every statistic but NPS, per market (see :func:`headline_changes`)."""
    out: list[dict] = []
    designs: dict[str, Design] = {}
    for market in data.markets:
        sel = wave_rows(data, market, waves)
        for m in data.schema.measures:
            if m.key not in sel or sel[m.key].isna().all():
                continue
            for s in (s for s in m.statistics if s.kind != "nps"):
                try:
                    r, test = change_of(data, market, sel, m.values(sel[m.key], s), waves, designs)
                except ThinData:
                    continue
                out.append({"market": market, "metric": s.key, "wave_from": waves[0],
                            "wave_to": waves[1], "change": r.estimate, "ci_low": r.ci[0],
                            "ci_high": r.ci[1], "p_value": r.p, "n_from": r.n_a,
                            "n_to": r.n_b, "n_units": r.n_units, "test": test})
    return out


def previous_pair(data: Study) -> tuple[str, str] | None:
    """(the wave before the reported one, the reported wave); None when it is the first."""
    if data.wave not in data.waves or data.waves.index(data.wave) == 0:
        return None
    return data.waves[data.waves.index(data.wave) - 1], data.wave


def headline_changes(data: Study, changes: pd.DataFrame | None = None, q: float = 0.05
                     ) -> pd.DataFrame:
    """Change of each headline statistic from the wave before the reported one, per market.

    NPS: the overall rows of `changes` (:func:`helpers.analysis.segments.market_changes`;
    significance adjusted across all of its tests). Every other statistic: the same designs
    applied to each response's value (B2B paired on the accounts answering in both waves, B2C
    the two waves as domains of the weighted design), Benjamini-Hochberg across these. Empty
    when the reported wave is the first one.
    """
    empty = pd.DataFrame(columns=HEADLINE_CHANGE_COLUMNS)
    waves = previous_pair(data)
    if waves is None:
        return empty
    rows: list[dict] = []
    is_nps = data.headline.headline.kind == "nps"  # else `changes` hold the headline measure's
    if is_nps and changes is not None and len(changes):
        nps = changes[(changes["dimension"] == "all") & (changes["wave_from"] == waves[0])
                      & (changes["wave_to"] == waves[1])]
        rows += [{**{c: r.get(c) for c in HEADLINE_CHANGE_COLUMNS}, "metric": "nps"}
                 for r in nps.to_dict("records")]
    other = _other_changes(data, waves)
    if other:
        adj = compare.bh_adjust(pd.Series([o["p_value"] for o in other]), q=q)
        family = (f"the headline changes other than NPS: {len(other)} tests" if is_nps
                  else f"the headline changes: {len(other)} tests")
        for o, p_adj, rej in zip(other, adj["p_adjusted"], adj["reject"], strict=True):
            o.update(p_adjusted=float(p_adj), significant=bool(rej), fdr_family=family)
    out = pd.DataFrame(rows + other, columns=HEADLINE_CHANGE_COLUMNS)
    return out if len(out) else empty

