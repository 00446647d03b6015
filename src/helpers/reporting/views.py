"""The tables the reports show, one function per table: which columns, in which words and units.

Each takes the analysis' tidy frame (and the survey schema's labels where codes appear) and
returns a :class:`helpers.reporting.tables.Table`; notebooks display it in one line. Analysis
pages mark long tables interactive (sort, filter, search); leadership pages do not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from helpers.analysis import disclosure
from helpers.reporting import formats
from helpers.reporting import tables as t
from helpers.reporting.tables import Table
from helpers.stats.intervals import method_note

CI = "95% CI"
MARKET_WORDS = {"B2B": "Business (B2B)", "B2C": "Consumer (B2C)"}


def _headline_kind(row: Mapping[str, Any]) -> str:
    """The number kind of a headline row: its statistic's unit (helpers.measures.Unit)."""
    return str(row.get("unit") or "num")


def say(text: str) -> Any:
    """A sentence from data shown as prose (escaped Markdown), its text/plain the same text."""
    from IPython.display import Markdown

    from helpers.reporting.safe_html import escape_markdown

    return Markdown(escape_markdown(text))


def item_labels(df: pd.DataFrame, labels: Mapping[str, str] | None, key: str = "driver",
                market: str | None = "market") -> pd.DataFrame:
    """`df` with `label` = the schema label of its item (prefixed by the market when several)."""
    names = t.labelled(df[key], labels)
    if market and market in df and df[market].nunique() > 1:
        names = df[market].astype(str) + " · " + names
    return df.assign(label=names.to_numpy())


def words(value: Any) -> str:
    """A data code shown in words: 'decision_maker' -> 'Decision maker', 'user' -> 'User'; other
    values ('SMB', 'Mid-market', '18-34') as they are."""
    text = str(value)
    if re.fullmatch(r"[a-z][a-z0-9_]*", text):  # a code: decision_maker, user
        text = text.replace("_", " ")
        return text[:1].upper() + text[1:]
    return text


def segment_label(df: pd.DataFrame, schema: Any, dimension: str = "dimension",
                  segment: str = "segment") -> pd.Series:
    """'Tier: Enterprise' from a dimension (field name) and segment value; 'All' for all."""
    dims = df[dimension].map(lambda d: "All" if d in ("all", "_all") else t.field_label(schema, d))
    segs = df[segment].map(words)
    return pd.Series(np.where(dims == "All", "All", dims + ": " + segs), index=df.index)


def with_segment_labels(seg: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """`seg` with chart labels 'B2B · Tier: Enterprise' (schema field labels, values in words)."""
    return seg.assign(label=(seg["market"].astype(str) + " · " + segment_label(seg, schema)).to_numpy())


# --- 01 clean survey --------------------------------------------------------------------------


def frame(df: pd.DataFrame, *, caption: str = "", note: str = "", interactive: bool = False,
          labels: Mapping[str, str] | None = None) -> Table:
    """A small descriptive frame as a report table: the index (when named) becomes the first
    column, names become words, counts get thousands separators, ``ci_low`` / ``ci_high`` one
    "95% CI" column as on every other table."""
    d = df.reset_index() if df.index.name or isinstance(df.index, pd.MultiIndex) else df
    bounds = {"ci_low", "ci_high"} <= set(d.columns) and all(
        pd.api.types.is_float_dtype(d[c]) for c in ("ci_low", "ci_high"))
    cols = []
    for c in d.columns:
        label = (labels or {}).get(str(c)) or words(c)
        label = label[:1].upper() + label[1:]
        s = d[c]
        if bounds and c in ("ci_low", "ci_high"):
            if c == "ci_low":
                both = d[["ci_low", "ci_high"]].stack().dropna().abs()
                cols.append(t.ci(digits=0 if len(both) and both.gt(1000).all() else 1))
        elif pd.api.types.is_bool_dtype(s):
            cols.append(t.sig(c, label))
        elif pd.api.types.is_integer_dtype(s):
            cols.append(t.count(c, label))
        elif pd.api.types.is_float_dtype(s):
            digits = 0 if s.dropna().abs().gt(1000).all() and len(s.dropna()) else 1
            cols.append(t.num(c, label, digits=digits))
        elif s.astype(str).str.fullmatch(r"[-+]?[\d,.]+%?( \[[^\]]+\])?").fillna(False).all():
            cols.append(t.Col(c, label, "fixed"))
        else:
            cols.append(t.text(c, label))
    return t.table(d, cols, caption=caption, note=note, interactive=interactive)


# --- 02 segments ------------------------------------------------------------------------------


def _estimate_kind(row: Mapping[str, Any]) -> str:
    """'fixed' (words) for a figure on too few responses, else the statistic's unit."""
    return "fixed" if row.get("too_few") else _headline_kind(row)


def headline(head: pd.DataFrame, min_n: int = 10) -> Table:
    """Every headline statistic per market: estimate, CI, n, design effect, effective n. A
    figure on fewer than `min_n` responses says so in place of its estimate (the small-n rule
    of the segment tables); its interval stays, for the analyst."""
    few = [disclosure.too_few(n, min_n) for n in head["n"]]
    shown = [formats.too_few_text(n) if f else e for f, n, e in
             zip(few, head["n"], head["estimate"], strict=True)]
    d = head.assign(market=head["market"].map(lambda m: MARKET_WORDS.get(m, m)), too_few=few,
                    estimate=pd.Series(shown, index=head.index, dtype=object))
    cols = [t.text("market", "Market"), t.text("label", "Measure"),
            t.Col("estimate", "Estimate", _estimate_kind, digits=1), t.ci(kind=_headline_kind),
            t.count(), t.num("deff", "Design effect", 2), t.count("n_eff", "Effective n"),
            t.text("design", "Design")]
    rule = (f" Figures on fewer than {min_n} responses are not headlines (as in the segment "
            "tables); their interval is shown for reference." if any(few) else "")
    nps = "NPS in points (-100 to +100); " if (head.get("kind") == "nps").any() else ""
    share = "shares (top box, % agree) in percent of respondents; means on the measure's answer scale."
    return t.table(d, cols, note=nps + (share if nps else share[:1].upper() + share[1:]) + rule)


def distribution_words(measure: Any) -> dict[str, Any]:
    """Title, axis label and NPS bands of the headline measure's answer distribution (01)."""
    if measure.key == "ltr":
        return {"title": "LTR distribution: all readable rows vs included rows"}
    return {"title": f"{measure.name} distribution: all readable rows vs included rows",
            "xlabel": f"{measure.label} ({measure.range_text})", "nps_bands": False}


def distribution_note(measure: Any) -> str:
    """The methods note of :func:`distribution_words`' chart."""
    if measure.key == "ltr":
        return ("Counts of 0-10 answers. Included = no quality flag. Bands: detractors 0-6, "
                "passives 7-8, promoters 9-10.")
    return f"Counts of {measure.range_text} answers. Included = no quality flag."


def segments(seg: pd.DataFrame, schema: Any, only_suppressed: bool = False,
             interactive: bool = True) -> Table:
    """NPS per sub-segment with its CI and n; suppressed cells greyed with the reason."""
    d = seg[seg["suppressed"]] if only_suppressed else seg
    d = d.assign(segment_label=segment_label(d, schema))
    cols = [t.text("market", "Market"), t.text("segment_label", "Segment"), t.count(),
            t.points("nps", "NPS"), t.ci(kind="points"), t.pct("pct_promoter", "Promoters", 0),
            t.pct("pct_detractor", "Detractors", 0)]
    return t.table(d, cols, suppressed=("suppressed", "reason"), interactive=interactive)


def changes(ch: pd.DataFrame, schema: Any, interactive: bool = True) -> Table:
    """Wave-over-wave NPS changes: segment, waves, change with CI, p, adjusted p, significance."""
    d = ch.sort_values(["significant", "p_value"], ascending=[False, True], na_position="last")
    d = d.assign(segment_label=segment_label(d, schema))
    cols = [t.text("market", "Market"), t.text("segment_label", "Segment"),
            t.text("wave_from", "From"), t.text("wave_to", "To"),
            t.points("change", "Change (points)"), t.ci(kind="points"),
            t.pvalue("p_value", "p"), t.pvalue(), t.sig()]
    return t.table(d, cols, interactive=interactive,
                   note="B2B: paired on the accounts answering in both waves; B2C: the two waves "
                        "as domains of one weighted design. Significant: Benjamini-Hochberg "
                        "adjusted p at or below the false discovery rate, across every change in "
                        "the table. Untested pairs (too few answers) have no p.")


def changes_sentence(ch: pd.DataFrame, q: float) -> str:
    """'93 changes tested; 6 with unadjusted p < 0.05; 0 significant after Benjamini-Hochberg'."""
    return (f"{int(ch['p_value'].notna().sum())} changes tested; "
            f"{int((ch['p_value'] < 0.05).sum())} with unadjusted p < 0.05; "
            f"{int(ch['significant'].sum())} significant after Benjamini-Hochberg (q = {q:g}).")


def persona_sentence(market: str, p: Any) -> str:
    """How many personas, chosen how, how distinct and how stable (a segments.Personas)."""
    return (f"{market}: {p.k} personas by {p.criterion} ({p.structure}); stability across "
            f"random seeds: adjusted Rand index mean {p.ari_mean:.2f}, min {p.ari_min:.2f}"
            + (f"; {p.sample_note}." if p.sample_note else "."))


def dm_coverage(cov: pd.DataFrame) -> Table:
    cols = [t.text("base", "Accounts"), t.count("accounts", "Accounts (n)"),
            t.count("with_dm", "With a decision-maker answer"),
            t.pct("share", "Coverage", fraction=True)]
    return t.table(cov, cols)


def revenue_coverage(cov: pd.DataFrame, schema: Any, currency: str = "USD") -> Table:
    first = cov.columns[0]
    cols = ([t.text(first, t.field_label(schema, first))] if first != "accounts" else []) + [
        t.count("accounts", "Accounts"), t.count("accounts_responding", "Accounts answering"),
        t.pct("pct_accounts", "% of accounts"), t.money("arr_total", "ARR", currency),
        t.money("arr_responding", "ARR answering", currency), t.pct("pct_arr", "% of ARR")]
    return t.table(cov, cols)


def response_rates(rates: pd.DataFrame, schema: Any) -> Table:
    d = rates.assign(dimension=rates["dimension"].map(lambda f: t.field_label(schema, f)))
    cols = [t.text("dimension", "By"), t.text("group", "Group"), t.count("invited", "Invited"),
            t.count("responded", "Responded"), t.pct("rate", "Response rate"),
            t.ci(kind="pct")]
    return t.table(d, cols)


def archetypes(counts: pd.DataFrame, currency: str = "USD") -> Table:
    cols = [t.text("archetype_label", "Archetype"), t.text("meaning", "Meaning"),
            t.count("accounts", "Accounts"), t.pct("pct_accounts", "% of accounts"),
            t.money("arr", "ARR", currency)]
    return t.table(counts, cols)


def accounts_at_risk(arch: pd.DataFrame, schema: Any, by: str | None, currency: str = "USD",
                     k: int = 12, min_n: int | None = None) -> Table:
    """The accounts with the most revenue in the at-risk archetypes (account ids, no people):
    only accounts with `min_n` responses or more (or none: silent), so no score shown is one
    person's (helpers.analysis.disclosure; `min_n` defaults to the settings')."""
    from helpers.analysis import disclosure

    min_n = min_n if min_n is not None else disclosure.settings_min_n()
    arch = disclosure.shared_rows(arch, min_n, "n_responses", keep_empty=True)
    cols = [t.text("account_id", "Account"), t.text("archetype_label", "Archetype")]
    cols += [t.text(by, t.field_label(schema, by))] if by else []
    cols += [t.money("arr", "ARR", currency), t.count("n_responses", "Responses"),
             t.points("dm_score", "Decision maker's score"),
             t.points("others_score", "Other contacts' score")]
    return t.table(arch, cols, max_rows=k,
                   note="Scores: +100 promoter, 0 passive, -100 detractor, averaged per account. "
                        f"Accounts with fewer than {min_n} responses are not listed "
                        f"({arch.attrs['suppressed']:,} left out; the analyst's files hold them).")


def margins(table: pd.DataFrame, schema: Any) -> Table:
    d = table.assign(variable=table["variable"].map(lambda f: t.field_label(schema, f)))
    cols = [t.text("variable", "Variable"), t.text("level", "Level"), t.count(),
            t.pct("sample_share", "Sample", fraction=True),
            t.pct("weighted_share", "Weighted", fraction=True),
            t.pct("population_share", "Population", fraction=True)]
    return t.table(d, cols)


def personas(table: pd.DataFrame) -> Table:
    cols = [t.text("market", "Market"), t.text("persona", "Persona"),
            t.pct("share", "Share", 0, fraction=True), t.text("distinctive", "Most distinctive items"),
            t.points("nps", "NPS"), t.ci(kind="points"), t.count(),
            t.num("k", "Personas found", 0), t.num("ari_mean", "Seed stability (ARI)", 2)]
    return t.table(table.assign(persona=table["persona"].astype(str)), cols)


# --- 03 promoter drivers ----------------------------------------------------------------------

JOURNEY_WORDS = {"ltr": "Likelihood to recommend (0-10)", "impl_mean": "Implementation rating",
                 "promoter": "Promoter", "go_live_slip_days": "Go-live slip (days)"}


def journey_labels(schema: Any) -> dict[str, str]:
    """Item labels of the schema plus the journey outcomes' words."""
    return {**schema.driver_labels(), **JOURNEY_WORDS}


def selection_sentence(markets: Mapping[str, pd.DataFrame], design: Mapping[str, Mapping[str, Any]],
                       items: Mapping[str, Sequence[str]], lacking: Sequence[str] = ()) -> str:
    """'B2B: 2,836 responses (408 accounts), waves 2025Q4, ...; 10 driver items.' per market;
    without a market, what the analysis lacks (`lacking`: the gate's causes, e.g. driver items
    rather than responses)."""
    parts = []
    for m, d in markets.items():
        cluster = design[m]["cluster"]
        units = f"{d[cluster].nunique():,} {'accounts' if m == 'B2B' else 'contacts'}"
        parts.append(f"{m}: {len(d):,} responses ({units}), waves "
                     f"{', '.join(sorted(d['wave'].astype(str).unique()))}; "
                     f"{len(items[m])} driver items.")
    if parts:
        return " ".join(parts)
    if lacking:
        return "No driver analysis in this run: it needs " + "; ".join(dict.fromkeys(lacking)) + "."
    return "No driver analysis in this run: no market has responses."



def driver_ranking(ranked: pd.DataFrame) -> Table:
    """Ranked drivers per market: share of explained variance with CI, rank stability, n."""
    cols = [t.text("market", "Market"), t.num("rank", "Rank", 0), t.text("label", "Experience"),
            t.pct("share", "Share of explained variance", fraction=True),
            t.ci("share_ci_low", "share_ci_high", kind="pct", fraction=True),
            t.pct("top3_share", "In the top 3 of resamples", 0, fraction=True), t.count()]
    return t.table(ranked, cols)


def segment_pivot(pivot: pd.DataFrame, labels: Mapping[str, str] | None, market: str,
                  field: str, schema: Any) -> Table:
    """Share of explained variance per item (rows) and segment (columns), '24% [18, 30]'."""
    d = pivot.copy()
    d.index = t.labelled(pd.Series(d.index.astype(str)), labels).to_numpy()
    d.index.name = "Experience"
    return frame(d, caption=f"{market}: share of explained variance by "
                            f"{t.field_label(schema, field).lower()} (95% CI)")


def odds_ratios(models: pd.DataFrame, labels: Mapping[str, str] | None) -> Table:
    """Promoter and detractor odds ratios per item and market, with CIs."""
    wide = models.pivot_table(index=["market", "driver"], columns="target",
                              values=["odds_ratio", "ci_low", "ci_high"]).reset_index()
    wide.columns = ["_".join(c).strip("_") for c in wide.columns]
    wide["label"] = t.labelled(wide["driver"], labels).to_numpy()
    wide["gap"] = np.log(wide["odds_ratio_promoter"]) + np.log(wide["odds_ratio_detractor"])
    wide = wide.sort_values(["market", "gap"], key=lambda s: s.abs() if s.name == "gap" else s,
                            ascending=[True, False])
    cols = [t.text("market", "Market"), t.text("label", "Experience"),
            t.ratio("odds_ratio_promoter", "Promoter OR"),
            t.ci("ci_low_promoter", "ci_high_promoter", kind="ratio", digits=2),
            t.ratio("odds_ratio_detractor", "Detractor OR"),
            t.ci("ci_low_detractor", "ci_high_detractor", "95% CI ", kind="ratio", digits=2),
            t.num("gap", "Delight vs pain (log)", 2, signed=True)]
    return t.table(wide, cols, note="Odds ratios per one point better rating; positive "
                                    "'delight vs pain' = the item creates promoters more than it "
                                    "prevents detractors.")


def journey(je: pd.DataFrame, labels: Mapping[str, str] | None) -> Table:
    words = {**JOURNEY_WORDS, "quarter_end_deal": "Deal closed at quarter end",
             "go_live_slip_days": "Go-live slip", "impl_length_days": "Implementation length"}
    d = je.assign(explanation=je["explanation"].map(lambda v: words.get(v, v)),
                  outcome=je["outcome"].map(lambda v: words.get(v) or (labels or {}).get(v)
                                            or str(v).replace("_", " ")))
    cols = [t.text("explanation", "Explanation"), t.text("outcome", "Outcome"),
            t.text("effect", "Effect"), t.num("estimate", "Estimate", 2, signed=True),
            t.ci(digits=2), t.pvalue("p_value", "p"), t.count(), t.count("n_clusters", "Accounts")]
    return t.table(d, cols, interactive=True)


def teams(view: pd.DataFrame) -> Table:
    cols = [t.text("team", "Team"), t.text("responses", "Responses"),
            t.pct("shrunk_rate", "Promoter rate (shrunk)"), t.ci(kind="pct"),
            t.text("flag", "Differs from the others")]
    return t.table(view, cols, note=view.attrs.get("rule", ""))


def quotes(q: pd.DataFrame) -> Table:
    cols = [t.text("market", "Market"), t.text("theme", "Theme"), t.text("group", "Who"),
            t.text("quote", "Typical comment (contact details masked)")]
    return t.table(q, cols, interactive=True)


# --- 04 leaders vs laggards -------------------------------------------------------------------


GROUP_WORDS = {"leader": "Leaders (top 25%)", "middle": "Middle", "laggard": "Laggards (bottom 25%)",
               "below min n": "Too few responses to rank", "not rated": "No response"}


def ranking_sentence(wave: str, market: str, rows: pd.DataFrame, ranked: pd.DataFrame,
                     min_n: int) -> str:
    """'Wave 2026Q3: 731 rated B2B responses, 352 accounts answered, 220 ranked (n >= 2).'"""
    return (f"Wave {wave}: {len(rows):,} rated {market} responses, {len(ranked):,} accounts "
            f"answered, {int(ranked['eligible'].sum()):,} ranked (n >= {min_n}).")


def unmatched_accounts(ranked: pd.DataFrame, acc: pd.DataFrame) -> str:
    """'10 of the 120 accounts that answered are not in the account master (e.g. 'ACC1110'): ...'"""
    missing = acc.attrs["rated_without_outcomes"]
    return (f"{len(missing):,} of the {len(ranked):,} accounts that answered are not in the account "
            f"master (e.g. {missing[0]!r}): they have no outcomes and are left out below.")


def group_counts(acc: pd.DataFrame) -> Table:
    """Accounts per NPS group, in the order leaders, middle, laggards, too few, no response."""
    counts = acc["group"].value_counts()
    d = pd.DataFrame({"group": [GROUP_WORDS.get(g, g) for g in GROUP_WORDS if g in counts],
                      "n": [int(counts[g]) for g in GROUP_WORDS if g in counts]})
    d["share"] = d["n"] / d["n"].sum()
    return t.table(d, [t.text("group", "Account group"), t.count("n", "Accounts"),
                       t.pct("share", "Share", 0, fraction=True)])


def leader_gaps(gaps: pd.DataFrame) -> Table:
    """Leader minus laggard gap per outcome in percentage points, with CIs, ratio, p, effect."""
    cols = [t.text("label", "Outcome"), t.pct("a", "Leaders", fraction=True),
            t.pct("b", "Laggards", fraction=True),
            t.Col("estimate", "Gap (points)", "num", digits=1, signed=True),
            t.ci(kind="points"), t.ratio("ratio", "Ratio"),
            t.ci("ratio_ci_low", "ratio_ci_high", "Ratio 95% CI", kind="ratio", digits=2),
            t.pvalue("p_value", "p"), t.num("effect_size", "Effect size", 2),
            t.text("effect_size_name", "Measure"), t.count()]
    if gaps.get("reason", pd.Series(dtype=str)).fillna("").ne("").any():
        cols.append(t.text("reason", "Note"))  # a group too small for an outcome says so
    d = gaps.assign(**{c: 100 * gaps[c] for c in ("estimate", "ci_low", "ci_high")})
    return t.table(d, cols, note="Rates and NRR in percent; gaps in percentage points. Effect "
                                 "size: 0.2 small, 0.5 medium, 0.8 large.")


def leader_gaps_by_segment(bs: pd.DataFrame, by: str, schema: Any) -> Table:
    d = bs.assign(**{c: 100 * bs[c] for c in ("estimate", "ci_low", "ci_high")})
    cols = [t.text(by, t.field_label(schema, by)), t.text("label", "Outcome"),
            t.points("estimate", "Gap (points)"), t.ci(kind="points"), t.count(),
            t.pvalue(), t.sig(), t.text("reason", "Note")]
    return t.table(d, cols, interactive=True)


def revenue_at_risk(risk: pd.DataFrame, currency: str = "USD",
                    accounts: str = "detractor accounts") -> Table:
    """ARR in the `accounts` at risk (detractor accounts, or low-CSAT ...) and its churn."""
    cols = [t.text("segment", "Segment"), t.count("n", accounts[:1].upper() + accounts[1:]),
            t.money("arr_at_risk", f"ARR in {accounts}", currency),
            t.pct("share_of_arr", "Share of ARR", fraction=True),
            t.money("estimate", "Expected churned ARR", currency),
            t.ci(kind="money", currency=currency),
            t.money("observed_churned_arr", "Churned last period", currency)]
    return t.table(risk, cols)


def gap_value(value: pd.DataFrame, currency: str = "USD", by: str | None = None,
              schema: Any = None) -> Table:
    d = value.assign(gap=100 * value["gap"])
    cols = ([t.text(by, t.field_label(schema, by))] if by else []) + [
        t.text("basis", "Laggards moved to the middle group on"),
        t.points("gap", "Rate gap (points)"), t.money("arr_laggards", "Laggards' ARR", currency),
        t.money("estimate", "Worth per year", currency), t.ci(kind="money", currency=currency),
        t.count("n", "Accounts")]
    if "reason" in d:
        cols.append(t.text("reason", "Note"))
    return t.table(d, cols, suppressed="suppressed" if "suppressed" in d else None)


def vendor_nps(vendors: pd.DataFrame) -> Table:
    cols = [t.text("vendor", "Vendor"), t.count(), t.points("nps", "NPS"), t.ci(kind="points"),
            t.pct("pct_promoter", "Promoters", 0), t.pct("pct_detractor", "Detractors", 0)]
    return t.table(vendors, cols, note="Each vendor's NPS among the respondents who rated it.")


VERDICTS = {"lead": "we lead", "lag": "we lag", "no clear difference": "no clear difference",
            "too few": "too few answers"}


def competitor_gaps(gaps: pd.DataFrame, by: str | None = None, schema: Any = None,
                    interactive: bool = False) -> Table:
    """Our NPS minus each competitor's among shared respondents, with CI, n and a verdict."""
    d = gaps.assign(verdict=gaps["verdict"].map(lambda v: VERDICTS.get(v, v)))
    cols = [t.text("competitor", "Competitor")]
    cols += [t.text(by, t.field_label(schema, by))] if by else []
    cols += [t.points("nps_us", "Our NPS"), t.points("nps_competitor", "Their NPS"),
             t.points("estimate", "Gap (points)"), t.ci(kind="points"),
             t.count("n", "Respondents rating both"), t.pvalue(), t.text("verdict", "Verdict")]
    return t.table(d, cols, interactive=interactive)


MARKS = {"lead": "▲", "lag": "▼", "no clear difference": "·", "too few": ""}


def _gap_cell(r: Mapping[str, Any]) -> str:
    """'▲ +72 [+58, +87] n=247' (mark: we lead / lag significantly; 'too few' below min n)."""
    if r.get("verdict") == "too few":
        return f"too few answers (n={int(r['n'])})"
    ci = formats.fmt_ci(r.get("ci_low"), r.get("ci_high"), lambda x: formats.fmt_points(x, 0))
    return f"{MARKS.get(r.get('verdict') or '', '')} {formats.fmt_points(r['estimate'], 0)} {ci} n={int(r['n'])}".strip()


def competitor_gaps_by_field(gaps: pd.DataFrame, schema: Any) -> list[Table]:
    """One table per segment field: a row per segment, a column per competitor, each cell our
    NPS gap with its 95% CI and n, marked ▲ / ▼ where we lead / lag significantly."""
    out = []
    for field, g in gaps.groupby("field", sort=False):
        label = t.field_label(schema, str(field))
        wide = g.assign(cell=[_gap_cell(r) for r in g.to_dict("records")],
                        segment=g["segment"].map(words)).pivot(index="segment", columns="competitor",
                                                               values="cell")
        order = g.groupby("competitor")["estimate"].mean().sort_values(ascending=False).index
        wide = wide[list(order)].reset_index()
        cols = [t.text("segment", label)] + [t.Col(c, f"vs {c}", "fixed") for c in order]
        out.append(t.table(wide, cols, caption=f"By {label.lower()}: our NPS minus theirs, points"))
    if out:
        last = out[-1]
        out[-1] = replace(last, note="▲ we lead, ▼ we lag (significant after Benjamini-Hochberg "
                                     "across the competitors and segments of the table); · no clear "
                                     "difference. Gap [95% CI] and n = respondents who "
                                     "rated both.")
    return out


def separators(sep: pd.DataFrame, labels: Mapping[str, str] | None) -> Table:
    """Items on which promoters and detractors differ most, with CI, n and importance."""
    d = sep.assign(label=t.labelled(sep["item"], labels).to_numpy(),
                   stage=sep["stage"].map(words))
    d = d.assign(n=d["n_promoter"] + d["n_detractor"])
    cols = [t.text("label", "Experience"), t.text("stage", "Stage"),
            t.num("mean_promoter", "Promoters", 2), t.num("mean_detractor", "Detractors", 2),
            t.num("estimate", "Difference", 2, signed=True), t.ci(digits=2), t.count(),
            t.pct("share", "Importance", 0, fraction=True)]
    return t.table(d, cols, note="Mean ratings on the item's answer scale; difference = promoters "
                                 "minus detractors with its 95% CI; n = promoters and detractors "
                                 "rating the item. Importance: the item's share of the explained "
                                 "variance in likelihood to recommend (drivers report).")


def coverage(cov: pd.DataFrame, by: str, schema: Any) -> Table:
    cols = [t.text("group", t.field_label(schema, by)), t.count("accounts", "Accounts"),
            t.pct("dm_share", "Decision maker answered"),
            t.ci("dm_ci_low", "dm_ci_high", kind="pct"), t.count("invited", "Contacts invited"),
            t.pct("rate", "Response rate"),
            t.ci("rate_ci_low", "rate_ci_high", "95% CI ", kind="pct")]
    base = str(cov["base"].dropna().iloc[0]) if "base" in cov and cov["base"].notna().any() else ""
    how = (method_note(str(cov["ci_method"].dropna().iloc[0]))
           if "ci_method" in cov and cov["ci_method"].notna().any() else "95% CI")
    return t.table(cov, cols, note=f"Decision-maker coverage: share of {base} where a decision "
                                   f"maker answered (95% CI: {how}). Response rate: contacts who "
                                   "answered of those invited (95% CI clustered by account).")


def competitor_pairs(pairs: pd.DataFrame) -> Table:
    cols = [t.text("vendor_a", "Vendor"), t.text("vendor_b", "vs"), t.points("nps_a", "NPS"),
            t.points("nps_b", "NPS (vs)"), t.points("estimate", "Gap (points)"),
            t.ci(kind="points"), t.count(), t.pvalue(), t.sig()]
    return t.table(pairs, cols, interactive=True)


def verdict_pivot(seg_gaps: pd.DataFrame, by: str, schema: Any) -> Table:
    wide = seg_gaps.assign(cell=[f"{VERDICTS.get(v, v)} ({e:+.0f})" if pd.notna(e) else
                                 VERDICTS.get(v, v) for v, e in
                                 zip(seg_gaps["verdict"], seg_gaps["estimate"], strict=True)]
                           ).pivot(index=by, columns="competitor", values="cell")
    wide.index.name = t.field_label(schema, by)
    return frame(wide, note="Verdict and gap in NPS points (ours minus theirs).")


def backtest_summary(summary: pd.DataFrame) -> Table:
    cols = [t.text("portfolio", "Portfolio"),
            t.pct("cumulative_return", "Cumulative return", 0, fraction=True),
            t.pct("annualised_return", "Per year", 1, fraction=True),
            t.pct("volatility", "Volatility", 1, fraction=True),
            t.pct("max_drawdown", "Worst drawdown", 1, fraction=True), t.count("years", "Years")]
    return t.table(summary, cols)


def backtest_excess(excess: pd.DataFrame) -> Table:
    cols = [t.text("label", "Comparison"),
            t.pct("estimate", "Mean yearly gap", 1, fraction=True, signed=True),
            t.ci(kind="pct", fraction=True), t.pvalue("p_value", "p"), t.count("n", "Years")]
    d = excess.assign(label=excess["comparison"].astype(str)) if "comparison" in excess else excess
    return t.table(d, cols)


# --- 05 score integrity -----------------------------------------------------------------------

CHECK_WORDS = {"share_10": "Share of 10s", "share_9_10": "Share of 9-10s",
               "share_top": "Share of top answers", "concession_lift": "Lift after concessions",
               "ltr_residual": "Scores above the experience", "tone_contradiction": "9-10 with a complaint",
               "timing_touch": "Right after a rep touchpoint", "timing_close": "Right after the deal close",
               "timing_quarter_end": "At quarter end", "repeated_keys": "Repeated device or email"}


def integrity_checks(table: pd.DataFrame, headers: Mapping[str, str] | None = None) -> Table:
    """q-value of each check per rep (pseudonym); values at or below the rate are in bold words.
    `headers` name checks in the programme's words (over :data:`CHECK_WORDS`)."""
    d = table.reset_index().rename(columns={"index": "Rep"})
    words = {**CHECK_WORDS, **(headers or {})}
    cols = [t.text("Rep", "Rep")] + [t.pvalue(c, words.get(c, c.replace("_", " ")))
                                     for c in table.columns]
    return t.table(d, cols, interactive=True,
                   note="q-values (Benjamini-Hochberg across reps): below the false discovery "
                        "rate a check fails.")


def audit_list(lead: pd.DataFrame) -> Table:
    cols = [t.text("Rep", "Rep"), t.text("Flagged", "Flagged"), t.num("Score", "Score"),
            t.count("Kinds of evidence", "Kinds of evidence"), t.text("Responses", "Responses"),
            t.text("Reasons", "Reasons")]
    return t.table(lead, cols, interactive=True, note=lead.attrs.get("rule", ""))


def check_lines(df: pd.DataFrame, cols: Sequence[str], digits: int = 2) -> str:
    """Plain text of a few columns, rounded: the stable form nbval compares in a hidden cell."""
    d = df[list(cols)].copy()
    for c in d.columns:
        if pd.api.types.is_float_dtype(d[c]):
            d[c] = d[c].round(digits)
    return d.to_string(index=False)

