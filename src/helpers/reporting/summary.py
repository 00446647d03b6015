"""Executive summary (notebook 06): read a run's artefacts, never recompute, say it plainly.

:func:`load_artefacts` reads the metrics and result tables the notebooks wrote; each
``*_finding`` turns them into a :class:`Finding` (plain-words text, the rows to chart and a
methods note); :func:`show` displays one with its chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from helpers import contract
from helpers.analysis import disclosure
from helpers.measures import Statistic, Unit, metric_key
from helpers.reporting import analyst_notes, charts
from helpers.reporting.artefacts import (
    MARKETS,
    Artefacts,
    changes_tested,
    driver_outcome,
    figure_text,
    headline_figures,
    integrity_summary,
    load_artefacts,  # noqa: F401  (re-exported: a run is read through the summary)
    revenue_gap,
    run_min_n,
    run_statistics,
    run_wave,
    significant_changes,
    top_drivers,
)
from helpers.reporting.formats import MISSING, ci_text, is_number, money
from helpers.reporting.safe_html import escape_markdown
from helpers.stats.intervals import method_note


@dataclass(frozen=True)
class Finding:
    """One section of the executive summary: plain-words text (Markdown) and the rows to chart.

    Displays as Markdown in a notebook; its plain-text form is the same text, so nbval can check
    the numbers. `table` has label, estimate, ci_low, ci_high and n (empty: nothing to chart).
    """

    text: str
    table: Any
    title: str
    xlabel: str
    note: str
    link: tuple[str, str] | None = None   # (words, a page of the run) said after the text

    def _repr_markdown_(self) -> str:
        # Findings carry data (waves, segments, drivers): shown literally, never as HTML.
        if self.link:
            return f"{escape_markdown(self.text)}; see the [{self.link[0]}]({self.link[1]})."
        return escape_markdown(self.text)

    def __repr__(self) -> str:
        return f"{self.text}; see the {self.link[0]} ({self.link[1]})." if self.link else self.text


def _zero_note(v: Mapping[str, Any]) -> str:
    """', not distinguishable from zero' when the 95% CI spans zero."""
    lo, hi = v.get("ci_low"), v.get("ci_high")
    if is_number(lo) and is_number(hi) and lo < 0 < hi:
        return "; the interval includes zero, so this is not established at the 95% level"
    return ""


def _bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


_DESIGNS = {"clustered by account": "standard errors allow for several contacts per account",
            "raked weights": "weighted to the customer population",
            "unweighted": "unweighted: describes the respondents"}


def _market_line(market: str, head: pd.DataFrame, stats: list[Statistic]) -> str | None:
    """'**B2B**: NPS **+17.8 points [+9.4, +25.9] (n=731)** (design); CES % agree 60.6% [...]'."""
    h = head[head["market"] == market].set_index("metric")
    shown = [s for s in stats if s.key in h.index and is_number(h.loc[s.key, "estimate"])]
    if not shown:
        return None  # no responses of this market in the run
    parts = []
    for i, stat in enumerate(shown):
        r = h.loc[stat.key]
        if r["too_few"]:
            parts.append(f"{stat.name if i == 0 else stat.label}: {r['text']}")
        elif i == 0:
            unit = " points" if stat.unit is Unit.POINTS else "%" if stat.unit is Unit.PERCENT else ""
            text = ci_text(r["estimate"], r["ci_low"], r["ci_high"], r["n"], signed=stat.signed,
                           digits=stat.digits, unit=unit)
            design = _DESIGNS.get(r["design"], r["design"])
            parts.append(f"{stat.name} **{text}**" + (f" ({design})" if design else ""))
        else:
            parts.append(f"{stat.label} {figure_text(stat, r.to_dict(), n=False)}")
    return f"**{market}**: " + "; ".join(parts) + "."


def _ci_methods(art: Artefacts) -> str:
    """The interval method of each headline statistic, as the run's metrics name them."""
    named: dict[str, str] = {}
    for market in MARKETS:
        for stat in run_statistics(art):
            value = art.metric(metric_key(stat.key, market), "02_segments")
            method = value.get("ci_method") if isinstance(value, Mapping) else None
            if isinstance(method, str) and method:
                named.setdefault(stat.name, method_note(method))
    if not named:
        return "as stated in the segments report"
    return "; ".join(f"{name} {how}" for name, how in named.items())


def headline_finding(art: Artefacts) -> Finding:
    """Every headline statistic the survey reports (NPS, CES, CSAT or the programme's own
    measures) per market with 95% CIs and n (from 02), the first one charted."""
    head = headline_figures(art)
    stats = run_statistics(art)
    wave = art.metric("wave", "02_segments")
    lines = [line for m in MARKETS if (line := _market_line(m, head, stats))]
    when = f"wave {wave}" if isinstance(wave, str) and wave and wave != "all" else "this survey"
    text = (f"Headline figures for {when}, with 95% confidence intervals in brackets and the "
            f"number of responses:\n\n" + (_bullets(lines) if lines else MISSING))
    first = next((s for s in stats if s.headline), None)
    rows = head[(head["metric"] == (first.key if first else "")) & head["estimate"].notna()
                & ~head["too_few"].astype(bool)]
    name = first.name if first else "Headline"
    table = pd.DataFrame({"label": rows["market"] + f" {name}", "estimate": rows["estimate"],
                          "ci_low": rows["ci_low"], "ci_high": rows["ci_high"], "n": rows["n"]})
    defined = "; ".join(f"{s.name}: {s.definition}" for s in stats if s.headline)
    few = (f" Figures on fewer than {run_min_n(art)} responses are not shown as headlines (the "
           "segments report has their intervals)." if head["too_few"].astype(bool).any() else "")
    note = (f"{defined}.{few} 95% CI: {_ci_methods(art)}; B2B SE clustered by account, B2C "
            f"weighted to population margins where known. n = included responses in {when} (test, "
            "duplicate, speeder, straightliner, out-of-range and incomplete responses "
            "excluded). Source: metrics/02_segments.json.")
    return Finding(text, table.reset_index(drop=True), f"{name} by market, {when}",
                   first.label if first else "", note)


def changes_finding(art: Artefacts, q: float = 0.05) -> Finding:
    """NPS changes since the previous wave that survive false-discovery control, and only those."""
    sig = significant_changes(art)
    tested, family = changes_tested(art)
    wave = run_wave(art)
    empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    if family is None and sig.empty:
        return Finding(f"Changes since the previous wave: {MISSING}.", empty, "", "", "")
    scope = (f"{tested} NPS changes into {wave} tested" if tested is not None and wave
             else f"{family} wave-over-wave NPS changes tested")
    control = (f"Benjamini-Hochberg false-discovery control (q = {q:g}, across all {family} "
               "tests of the run)")
    if sig.empty:
        text = (f"**No significant change since the previous wave.** Of the {scope} (overall and "
                f"per segment, {_markets_of(art)}), none survives {control}; movements in the trend "
                "charts are within sampling noise.")
        return Finding(text, empty, "", "", "")
    lines = [f"{r['label']}: **{ci_text(r['change'], r['ci_low'], r['ci_high'], signed=True)}** "
             f"points (adjusted p = {r['p_adjusted']:.3f}; {r.get('test') or 'tested'})"
             for r in sig.to_dict("records")]
    text = (f"**{len(sig)} of the {scope} {'is' if len(sig) == 1 else 'are'} significant** "
            f"after {control}; only these are reported:\n\n" + _bullets(lines))
    table = pd.DataFrame({"label": sig["label"], "estimate": sig["change"],
                          "ci_low": sig["ci_low"], "ci_high": sig["ci_high"]})
    note = ("Change in NPS points from the previous wave with 95% CI. B2B: paired on accounts "
            "answering in both waves; B2C: independent weighted samples. Significant after "
            f"Benjamini-Hochberg across all {family} tests at q = {q:g}. "
            "Source: tables/wave_changes.parquet (02_segments).")
    name = next((s.name for s in run_statistics(art) if s.headline), "NPS")
    return Finding(text, table, f"Significant {name} changes into {wave or 'the latest wave'}",
                   f"Change in {name} (points)", note)


def drivers_finding(art: Artefacts, k: int = 3) -> Finding:
    """The top-k drivers per market of the measure the drivers notebook modelled (LTR, or the
    headline of a satisfaction or effort programme) with their importance intervals."""
    drv = top_drivers(art, k)
    empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    outcome = driver_outcome(art)
    ltr = outcome["rule"] == "nps"
    short, long = outcome["name"], outcome["words"]
    if drv.empty:
        return Finding(f"Top drivers of {'promoters' if ltr else short}: {MISSING}.", empty,
                       "", "", "")
    as_share = "share" in drv and drv["share"].notna().all()
    if as_share:
        est = 100 * drv["share"]
        lo = 100 * drv["share_ci_low"] if "share_ci_low" in drv else est * float("nan")
        hi = 100 * drv["share_ci_high"] if "share_ci_high" in drv else est * float("nan")
    else:
        est = drv["importance"]
        lo = drv["ci_low"] if "ci_low" in drv else est * float("nan")
        hi = drv["ci_high"] if "ci_high" in drv else est * float("nan")
    lines = []
    for market in sorted(drv["market"].unique()):
        idx = drv.index[drv["market"] == market]
        parts = []
        for i in idx:
            r = drv.loc[i]
            figure = (ci_text(est[i], lo[i], hi[i], unit="%") + " of explained variance"
                      if as_share else ci_text(est[i], lo[i], hi[i], digits=3))
            stable = (f", top 3 in {100 * r['top3_share']:.0f}% of resamples"
                      if is_number(r.get("top3_share")) else "")
            parts.append(f"{int(r['rank'])}. {r['label']} ({figure}{stable})")
        r2 = drv.loc[idx[0]].get("r2") if "r2" in drv else None
        r2_text = (f" (all items together explain {100 * r2:.0f}% of {short} variance)"
                   if is_number(r2) else "")
        lines.append(f"**{market}**{r2_text}:\n" + "\n".join(f"    {p}" for p in parts))
    text = (f"What moves {'customers to promoter' if ltr else short}: the top {k} experiences per "
            f"market by their share of the explained variance in {long}, with 95% bootstrap "
            "intervals:\n\n" + _bullets(lines))
    n = drv["n"] if "n" in drv else None
    table = pd.DataFrame({"label": drv["market"] + " · " + drv["label"].astype(str),
                          "estimate": est, "ci_low": lo.fillna(est), "ci_high": hi.fillna(est)})
    if n is not None:
        table["n"] = n.to_numpy()
    scale = f" ({outcome['scale']})" if outcome["scale"] else ""
    note = (f"Importance = Shapley / LMG decomposition of R² of {short}{scale} "
            "on the experience items "
            "(general dominance), as a share of the model's R². 95% CIs from bootstrap resamples "
            "(B2B resampling accounts, B2C contacts); n = complete responses used. "
            "Source: tables/drivers_ranked.parquet (03_promoter_drivers).")
    return Finding(text, table, f"Top {k} drivers of {long}",
                   "Share of explained variance (%)" if as_share else "Importance (R²)", note)


def revenue_finding(art: Artefacts, currency: str = "USD") -> Finding:
    """Leaders vs laggards in revenue terms: gap value and ARR at risk (04_leaders_vs_laggards)."""
    gap = revenue_gap(art)
    risk = art.metric("revenue_at_risk_expected_churn_arr", "04_leaders_vs_laggards")
    pts = {k: art.metric(f"leader_laggard_gap_{k}_pts", "04_leaders_vs_laggards")
           for k in ("renewed", "nrr", "churned")}
    lines = []
    for key, label in (("renewed", "renewal rate"), ("nrr", "net revenue retention"),
                       ("churned", "churn rate")):
        v = pts[key]
        if isinstance(v, Mapping) and is_number(v.get("estimate")):
            figure = ci_text(v["estimate"], v.get("ci_low"), v.get("ci_high"), v.get("n"),
                             signed=True, unit=" percentage points")
            lines.append(f"Leaders vs laggards, {label}: **{figure}**{_zero_note(v)}.")
    for r in gap.to_dict("records"):
        lines.append(f"{str(r['label']).capitalize()}: worth **{money(r['estimate'], currency)}** "
                     f"ARR a year (95% CI {money(r['ci_low'], currency)} to "
                     f"{money(r['ci_high'], currency)}){_zero_note(r)}.")
    if isinstance(risk, Mapping) and is_number(risk.get("estimate")):
        accounts = risk.get("accounts", "detractor accounts")
        lines.append(f"ARR expected to churn in {accounts}: **{money(risk['estimate'], currency)}**"
                     f" (95% CI {money(risk.get('ci_low'), currency)} to "
                     f"{money(risk.get('ci_high'), currency)}; {int(risk.get('n') or 0)} accounts).")
    if not lines:
        empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
        return Finding(f"Leaders vs laggards in revenue terms: {MISSING}.", empty, "", "", "")
    text = ("Does better experience pay? Accounts ranked by NPS, top quartile (leaders) against "
            "bottom quartile (laggards), on next-period outcomes:\n\n" + _bullets(lines) +
            "\n\nThese are associations, not guaranteed returns: an upper bound on what the "
            "experience gap alone explains.")
    table = pd.DataFrame({"label": [str(x) for x in gap.get("label", [])],
                          "estimate": gap.get("estimate", []) / 1e6 if len(gap) else [],
                          "ci_low": gap.get("ci_low", []) / 1e6 if len(gap) else [],
                          "ci_high": gap.get("ci_high", []) / 1e6 if len(gap) else []})
    if len(gap) and "n" in gap:
        table["n"] = gap["n"].to_numpy()
    note = ("Gap value = difference in outcome rate (laggards vs the target group) x laggards' ARR; "
            "CI of the difference (Newcombe / Welch) times that ARR. Leaders / laggards = top / "
            "bottom quartile of account NPS (accounts with enough rated contacts). "
            "Source: tables/gap_value.parquet, metrics/04_leaders_vs_laggards.json.")
    return Finding(text, table, "What closing the experience gap is worth",
                   f"ARR ({currency} millions)", note)


def data_quality_line(art: Artefacts) -> str | None:
    """'290 of 5,000 responses (5.8%) excluded before analysis: 30 test, ...' from 01's metrics."""
    raw = art.metric("rows_raw", "01_clean_survey")
    kept = art.metric("rows_included", "01_clean_survey")
    if not (is_number(raw) and is_number(kept)) or raw <= 0:
        return None
    flags = art.metric("flagged", "01_clean_survey")
    detail = ""
    if isinstance(flags, Mapping):
        parts = [f"{int(v):,} {k.replace('_', ' ')}" for k, v in flags.items() if is_number(v) and v]
        detail = (": " + ", ".join(parts)) if parts else ""
    dropped = int(raw) - int(kept)
    return (f"{dropped:,} of {int(raw):,} survey responses ({100 * dropped / raw:.1f}%) were "
            f"excluded before analysis{detail}.")


def integrity_finding(art: Artefacts, min_n: int | None = None) -> Finding:
    """Integrity caveats: reps flagged for possible score gaming and how much they move NPS
    (the NPS without them as :func:`helpers.analysis.disclosure.shared_parts` lets it be shown;
    `min_n` defaults to the run's, :func:`run_min_n`)."""
    info = integrity_summary(art)
    flagged, all_, without = info["reps_flagged"], info["all"], info["without_flagged"]
    name, signed = info["name"], info["unit"] == str(Unit.POINTS)
    empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    quality = data_quality_line(art)
    if not isinstance(flagged, Mapping):
        text = "Integrity caveats:\n\n" + _bullets([
            f"Score integrity checks: {MISSING}.", quality or f"Data-quality exclusions: {MISSING}."])
        return Finding(text, empty, "", "", "")
    n_flag, n_reps = int(flagged.get("estimate") or 0), flagged.get("n")
    lines = [quality or f"Data-quality exclusions: {MISSING}.",
             f"**{n_flag} of {n_reps} account teams** show several independent signs of "
             "pressured or gamed scores (pseudonyms and reasons in the score-integrity report)."]
    rows = pd.DataFrame()
    if isinstance(all_, Mapping) and isinstance(without, Mapping):
        rows = disclosure.shared_parts(pd.DataFrame(
            [{"label": lab, **{k: v.get(k) for k in ("estimate", "ci_low", "ci_high", "n")}}
             for lab, v in (("all responses", all_), ("without flagged teams", without))]),
            min_n if min_n is not None else run_min_n(art))
        lines.append(_with_without_line(rows.set_index("label").to_dict("index"), name, signed,
                                        "%" if info["unit"] == str(Unit.PERCENT) else ""))
    lines.append("A flag is a reason to look, not proof of misconduct.")
    text = "Integrity caveats:\n\n" + _bullets(lines)
    top, score = ("10s", "LTR") if name == "NPS" else ("top answers", f"{name} answers")
    interval = "t with the design df (R svymean)" if signed else "with the design df (R svyciprop)"
    note = (f"{name} of B2B responses with and without the flagged teams, 95% CI {interval}, "
            "SE clustered by account. Flags need at least two "
            f"independent kinds of evidence (share of {top} vs peers with empirical-Bayes "
            f"shrinkage and false-discovery control, {score} contradicting the experience "
            "ratings, tone, timing, repeated devices). Source: metrics/05_score_integrity.json.")
    return Finding(text, rows if len(rows) else empty,
                   f"B2B {name} with and without flagged account teams",
                   f"{name} (points)" if signed else
                   f"{name} (%)" if info["unit"] == str(Unit.PERCENT) else name, note)


def _with_without_line(rows: Mapping[str, Mapping[str, Any]], name: str = "NPS",
                       signed: bool = True, unit: str = "") -> str:
    """The sentence on the headline (NPS, CSAT ...) with and without the flagged teams, as
    disclosure lets it be shared."""
    all_, without = rows["all responses"], rows.get("without flagged teams")
    text = (f"B2B {name} across the waves analysed, all responses: "
            f"{ci_text(all_['estimate'], all_.get('ci_low'), all_.get('ci_high'), all_.get('n'), signed=signed, unit=unit)}")
    if without is None:
        return (text + "; without the flagged teams' responses: not shown (too few responses "
                "on one side to show both without disclosing a small group).")
    moved = float(without["estimate"]) - float(all_["estimate"])
    return (text + "; without the flagged teams' responses: "
            f"{ci_text(without['estimate'], without.get('ci_low'), without.get('ci_high'), without.get('n'), signed=signed, unit=unit)}"
            f" ({moved:+.1f} points).")


def _markets_of(art: Artefacts) -> str:
    """'both markets' or 'B2C only' from the markets the changes table covers."""
    table = art.table("wave_changes")
    found = sorted(set(table["market"].astype(str))) if table is not None and "market" in table else []
    return "both markets" if len(found) > 1 else f"{found[0]} only" if found else "all markets"


def availability_finding(art: Artefacts) -> Finding:
    """At most one line on what this run could not show, in a leader's words ("3 more analyses
    become available with account data and a second survey wave"), linking to the analyst
    notes (:mod:`helpers.reporting.analyst_notes`), which list each section's needs in the
    schema's terms. Sections of a market the programme does not have are not "missing"."""
    empty = pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    line = analyst_notes.summary_line(art.not_available)
    if line is None:
        return Finding("Every analysis of this programme had the data it needs in this run.",
                       empty, "", "", "")
    return Finding(line, empty, "", "", "", link=("analyst notes", analyst_notes.FILE))


def show(finding: Finding, chart: bool = True) -> None:
    """Display a finding's text and (with `chart`) its chart with the methods note."""
    from IPython.display import Markdown, display

    display(finding)
    if not chart:
        return
    if finding.table is None or len(finding.table) == 0:
        if MISSING not in finding.text and finding.title:
            display(Markdown("_No chart: nothing to show for this section in this run._"))
        return
    ax = charts.ci_points(finding.table, label="label", xlabel=finding.xlabel, title=finding.title,
                         n="n" if "n" in finding.table else None)
    charts.methods_note(ax, finding.note)
    plt.show()


def trend_chart(art: Artefacts) -> bool:
    """A compact chart of NPS per wave and market with 95% CI bands (from the nps_trend table);
    False (and a line saying why) when the run has fewer than two waves."""
    from IPython.display import Markdown, display

    t = art.table("nps_trend")
    if t is not None and "suppressed" in t:
        t = t[~t["suppressed"].fillna(False).astype(bool)]
    if t is None or t.empty or t["wave"].nunique() < 2:
        display(Markdown("_One wave in this run: no trend to show yet._"))
        return False
    fig, ax = plt.subplots(figsize=(8, 2.5))
    nps = "nps" in t  # else the headline statistic of a satisfaction or effort programme
    name = "NPS" if nps else str(t["statistic_name"].iloc[0])
    charts.line_with_band(t, x="wave", estimate="nps" if nps else "estimate", hue="market",
                          ylabel="NPS (points)" if nps else str(t["statistic_label"].iloc[0]),
                          title=f"{name} per wave, with 95% confidence bands", ax=ax)
    ax.legend(title=None, ncols=2, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    charts.methods_note(ax, "B2B clustered by account, B2C weighted; suppressed waves left out. "
                            "Overlapping bands: the waves cannot be told apart. "
                            "Source: tables/nps_trend.parquet (02_segments).")
    plt.show()
    return True


def sources(art: Artefacts) -> Any:
    """What this summary read, per report: how many headline figures and result tables (their
    names and contents are in the run's tables.xlsx)."""
    from helpers.reporting import tables

    rows = []
    for nb in sorted({*art.metrics, *(contract.TABLES[n] for n in art.tables if n in contract.TABLES)}):
        rows.append({"notebook": nb, "metrics": len(art.metrics.get(nb, {})),
                     "tables": sum(contract.TABLES.get(n) == nb for n in art.tables)})
    frame = pd.DataFrame(rows, columns=["notebook", "metrics", "tables"])
    return tables.table(frame, [tables.text("notebook", "Report"),
                                tables.count("metrics", "Headline figures"),
                                tables.count("tables", "Result tables")])
