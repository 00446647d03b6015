"""``reports/<run>/tables.xlsx``: every registered result table of a run in one workbook.

One sheet per table (columns labelled in words, 95% CI bounds and n as their own columns,
numbers stored as numbers with a number format, never as text) and a README sheet first: the
run id, what each sheet holds and which report wrote it, and the run's parameters. Written by
the pipeline after the notebooks, from ``<run>/tables/*.parquet`` (only names registered in
``contract.TABLES``). Personal data never reaches it: rep ids and contact keys are not written
(a rep-level table appears only as :func:`helpers.analysis.disclosure.team_table` shows it, or
not at all).
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import catalog, config, contract, paths
from helpers.analysis import disclosure
from helpers.reporting import render, xlsx
from helpers.reporting.artefacts import LTR_OUTCOME, stored_outcome
from helpers.reporting.manifest import RunManifest, Status

FILE = "tables.xlsx"
#: Columns that identify a person (or a device) and never go into the workbook.
PERSONAL = {"rep_id", "contact_key", "ip_key", "email", "first_name", "last_name", "phone",
            "response_id", "contact_id", "latitude", "longitude", "external_reference"}
#: Tables with a rep id: how they may be shown (disclosure rules), else they are left out.
REP_TABLES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "team_promoter_rates": disclosure.team_table}
def _accounts_view(df: pd.DataFrame, min_n: int, n: str) -> pd.DataFrame:
    return disclosure.shared_rows(df, min_n, n)


#: Tables shared only as the disclosure rule lets them (min_n): a whole and its parts, and the
#: per-account tables (all accounts only in the analyst's restricted workbook, :data:`ANALYST_FILE`).
SHARED_VIEWS: dict[str, Callable[[pd.DataFrame, int], pd.DataFrame]] = {
    "integrity_nps": disclosure.shared_parts,
    **{name: functools.partial(_accounts_view, n=col)
       for name, col in disclosure.PER_ACCOUNT.items()}}
#: The analyst's workbook of every account (mode 0600, never shared; like integrity_flags.csv).
ANALYST_FILE = "accounts_restricted.xlsx"

DESCRIPTIONS: dict[str, str] = {
    "market_headline": "Headline figures of every measure per market in the reported wave (95% CI, n, design effect)",
    "headline_changes": "Change of each headline measure since the previous wave, with significance",
    "segment_nps": "NPS per sub-segment in the reported wave; suppressed cells with the reason",
    "nps_trend": "NPS per wave and market with 95% CI",
    "wave_changes": "Every wave-over-wave NPS change tested, Benjamini-Hochberg adjusted",
    "b2b_account_nps": "B2B NPS counted several ways (responses, one vote per account, waterfall, weighted)",
    "b2b_archetypes": "B2B accounts per archetype (silent, all promoters, split ...) with ARR",
    "b2b_dm_coverage": "Share of accounts where a decision maker answered",
    "b2b_response_rates": "B2B response rate by segment and role (95% CI clustered by account)",
    "b2b_response_rates_by_account": "B2B response rate per account",
    "personas": "Experience personas per market with NPS and stability",
    "drivers_ranked": "Driver importance (share of explained {outcome} variance) with bootstrap CI",
    "drivers_priority": "Priority matrix: importance x performance, quadrant per item",
    "drivers_what_if": "Expected NPS gain if the bottom quartile on an item moved to its median",
    "drivers_odds_ratios": "Promoter and detractor models: odds ratios per item",
    "drivers_segments": "Driver importance within each segment",
    "journey_effects": "Quarter-end deals, go-live slips and implementation length: effects with CIs",
    "promoter_walk_back": "What promoter accounts rated differently from other accounts",
    "team_promoter_rates": "Account teams' promoter rates after shrinkage (by rank, no rep id)",
    "comment_themes": "Comment themes: share of promoter vs detractor comments",
    "account_nps_ranking": "Accounts ranked by (shrunk) NPS in the wave, leader / laggard group",
    "leader_laggard_gaps": "Leaders minus laggards on next-period outcomes (rates as fractions)",
    "leader_laggard_by_segment": "Leaders minus laggards within each segment, FDR-adjusted",
    "outcomes_by_group": "Next-period outcomes per account NPS group",
    "revenue_at_risk": "ARR in detractor accounts and its expected churn",
    "gap_value": "What moving laggards to the middle group would be worth in ARR a year",
    "gap_value_by_segment": "The same value per segment",
    "competitor_nps": "NPS per vendor among the respondents who rated it",
    "competitor_gaps": "Our NPS minus each competitor's among shared respondents",
    "competitor_pairs": "Every pair of vendors compared among shared respondents",
    "competitor_gaps_by_segment": "Competitor gaps within the segments of one field",
    "backtest_summary": "CX index leaders vs laggards: returns, volatility, drawdown",
    "backtest_yearly": "Yearly returns of each portfolio",
    "backtest_events": "Holdings that could not run a full year",
    "integrity_nps": "B2B NPS with and without the flagged reps' responses",
    "integrity_audit": "Score-integrity audit list by pseudonym, with reasons",
    "integrity_concessions": "Concessions and scores: within-account lift after a concession, cost of a point bought",
    "programme_response_rates": "B2B response rate per account and wave against the target (95% CI)",
    "programme_tier_trend": "B2B response rate per tier and wave against the target, points per wave",
    "programme_coverage_gaps": "Accounts whose decision maker or influencers were not heard from this year",
    "programme_propensity": "Response-propensity model: log-odds per feature (95% CI clustered by account)",
    "programme_chase_list": "Chase list for the next wave: expected lift in revenue and decision-maker coverage",
    "programme_coverage_audit": "Accounts not surveyed minus surveyed: ARR, tier, deal stage, renewal, growth",
    "programme_headline_bias": "B2B NPS as surveyed, re-weighted by invitation propensity, and bounded",
    "follow_up_effect": "Followed-up accounts' change to the next wave minus others' (observational)",
    "sales_competitor_gaps": "Sales briefing: our NPS gap to each competitor",
    "sales_competitor_gaps_by_segment": "Sales briefing: competitor gaps by every segment field",
    "sales_separators": "Sales and implementation items: promoters' minus detractors' rating",
    "sales_coverage": "Decision-maker coverage and response rate by account tier",
}
LABELS = {"n": "n", "se": "Standard error", "ci_low": "95% CI low", "ci_high": "95% CI high",
          "p_value": "p", "p_adjusted": "Adjusted p (BH)", "nps": "NPS (points)",
          "df": "Degrees of freedom", "deff": "Design effect", "n_eff": "Effective n",
          "arr": "ARR", "significant": "Significant", "estimate": "Estimate",
          "item_label": "Item (label)"}
FRACTIONS = {"share", "share_ci_low", "share_ci_high", "top3_share", "share_moved",
             "share_of_arr", "gap", "gap_ci_low", "gap_ci_high", "cumulative_return",
             "annualised_return", "volatility", "max_drawdown", "return", "cumulative",
             "return_to_exit", "sample_share", "weighted_share", "population_share"}
PERCENT_UNITS = re.compile(r"^(pct_.*|rate|rate_ci_(low|high)|raw_rate|shrunk_rate|dm_share|"
                           r"dm_ci_(low|high)|share_(promoter|detractor)|(promoter|detractor)_ci_(low|high))$")
MONEY = re.compile(r"^(arr|arr_.*|.*_arr)$")
COUNTS = re.compile(r"^(n|n_.*|.*_n|accounts|accounts_.*|invited|responded|with_dm|years|rank|"
                    r"rank_.*|successes|reps|year)$")
#: Tables whose estimate (and CI) are money, or fractions, rather than points.
MONEY_ESTIMATES = {"gap_value", "gap_value_by_segment", "revenue_at_risk"}
FRACTION_ESTIMATES = {"outcomes_by_group"}


def headline_name(run: Path) -> str | None:
    """The headline statistic's name of a programme without the LTR ("CSAT"), from the run's
    headline table; None for an NPS programme (or no headline table)."""
    p = run / "tables" / "market_headline.parquet"
    if not p.is_file():
        return None
    head = pd.read_parquet(p)
    if "kind" not in head or not len(head) or (head["kind"] == "nps").any():
        return None
    first = head[head["headline"].astype(bool)] if "headline" in head else head
    return str((first if len(first) else head)["name"].iloc[0])


def in_words(text: str, name: str | None) -> str:
    """`text` of a table (sheet name, description) in the programme's words: "nps" / "NPS"
    as the headline's `name` when the programme has no LTR."""
    if name is None:
        return text
    text = text.replace("detractor accounts", f"low-{name} accounts")
    return re.sub(r"(?<![A-Za-z])nps(?![A-Za-z])", name.lower(),
                  re.sub(r"\bNPS\b", name, text))


def description(table: str, programme: str | None, outcome: str) -> str:
    """A table's description (:data:`DESCRIPTIONS`) in the programme's words (:func:`in_words`),
    naming the answer the driver models explain (`outcome`: "LTR", "CSAT")."""
    return in_words(DESCRIPTIONS.get(table, ""), programme).replace("{outcome}", outcome)


def sheet_name(name: str, taken: set[str]) -> str:
    """An Excel sheet name (31 characters at most, unique in the workbook)."""
    base = name[:31]
    out, i = base, 2
    while out.lower() in taken:
        out = f"{base[:28]}~{i}"
        i += 1
    taken.add(out.lower())
    return out


def number_format(table: str, column: str, series: pd.Series, currency: str) -> str | None:
    """The Excel number format of a column (None: not a number)."""
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return None
    money = f'"{config.currency_code(currency)}" #,##0'
    if column in ("p_value", "p_adjusted", "p_value_eb", "p_value_loo", "q"):
        return "0.0000"
    if MONEY.match(column) or (table in MONEY_ESTIMATES and column in ("estimate", "se", "ci_low",
                                                                         "ci_high")):
        return money
    if column in FRACTIONS or (table in FRACTION_ESTIMATES and column in ("estimate", "se",
                                                                           "ci_low", "ci_high")):
        return "0.0%"
    if PERCENT_UNITS.match(column):
        return '0.0"%"'
    if COUNTS.match(column) or pd.api.types.is_integer_dtype(series):
        return "#,##0" if column != "year" else "0"
    big = series.abs().max() if len(series.dropna()) else 0
    return "#,##0.0" if big >= 100 else "0.000"


def header(column: str) -> str:
    """The column's label: known names in words ('ci_low' -> '95% CI low'), else words."""
    if column in LABELS:
        return LABELS[column]
    text = str(column).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _safe(name: str, df: pd.DataFrame, min_n: int) -> pd.DataFrame | None:
    """The table as it may be shared: rep-level tables through the disclosure rules (or None),
    small groups and parts as :data:`SHARED_VIEWS` show them, personal columns dropped."""
    if "rep_id" in df.columns:
        show = REP_TABLES.get(name)
        if show is None:
            return None
        df = show(df)
    if name in SHARED_VIEWS:
        df = SHARED_VIEWS[name](df, min_n)
    return df.drop(columns=[c for c in df.columns if str(c).lower() in PERSONAL])


def _item_labels(run: Path) -> dict[str, str]:
    """Driver item -> its label in the survey schema (as the drivers report stored them)."""
    p = run / "tables" / "drivers_ranked.parquet"
    if not p.is_file():
        return {}
    t = pd.read_parquet(p)
    return dict(zip(t["driver"].astype(str), t["label"].astype(str), strict=True)) \
        if {"driver", "label"} <= set(t.columns) else {}


def _with_item_labels(df: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """An 'item_label' column beside a driver / item code column."""
    for code in ("driver", "item"):
        if code in df.columns and labels and "item_label" not in df.columns:
            at = list(df.columns).index(code) + 1
            df = df.copy()
            df.insert(at, "item_label", df[code].astype(str).map(labels))
    return df


def _cell(value: Any) -> Any:
    """A value openpyxl writes as a number, a date, a bool or text (NaN and NA as empty)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None)
    return value


_TEXT_KEPT = xlsx.Style(quote=True)
_HEAD = xlsx.Style(bold=True, fill="F6F8FA", wrap=True)
_BOLD = xlsx.Style(bold=True)


def _written(value: Any, style: xlsx.Style | None = None) -> Any:
    """One value as a cell of the workbook: a text that could read as a formula keeps a quote
    prefix; a number gets `style` (its column's number format)."""
    value = _cell(value)
    if isinstance(value, str):
        return (value, _TEXT_KEPT) if catalog.starts_formula(value) else value
    if style is None or value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return value, style


class _Cells(Sequence[Any]):
    """A column's cells, each value :func:`_written`, made slice by slice as the sheet is
    written: a column of a million rows is never a million Python objects at once."""

    def __init__(self, series: pd.Series, style: xlsx.Style | None) -> None:
        self._series, self._style = series, style

    def __len__(self) -> int:
        return len(self._series)

    def __getitem__(self, at: Any) -> Any:
        if not isinstance(at, slice):
            return self[at:at + 1][0]
        return [_written(v, self._style) for v in self._series.iloc[at].tolist()]


def column_cells(series: pd.Series, style: xlsx.Style | None) -> tuple[Any, xlsx.Style | None]:
    """A column as :meth:`helpers.reporting.xlsx.Book.table` takes it, each value as
    :func:`_written` makes it (numbers with `style`, NaN and NA empty, a text that reads as a
    formula quoted): numbers, nullable integers and texts as an Arrow array (its cells made at
    once), any other column value by value."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":
        return pa.array(series.to_numpy()), style
    if pd.api.types.is_integer_dtype(dtype):  # nullable: NA is no cell
        return _one_array(pa.array(series)), style
    if pd.api.types.is_string_dtype(dtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        try:
            texts = _one_array(pa.array(series, from_pandas=True))
        except (pa.ArrowException, TypeError, ValueError):
            texts = None
        if texts is not None and (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
            return texts, None
    return _Cells(series, style), None


def _one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _sheet_columns(name: str, df: pd.DataFrame, currency: str
                   ) -> tuple[tuple[Any, ...], list[tuple[Any, xlsx.Style | None]], dict[int, float]]:
    """One table as a sheet: its header (labelled), its columns (numbers with their column's
    format) and the column widths (from the header and the first 200 values)."""
    widths: dict[int, float] = {}
    columns = []
    for j, col in enumerate(df.columns, start=1):
        first = df[col].iloc[:200].tolist()
        widths[j] = min(max(8, max([len(header(str(col)))] + [len(str(v)) for v in first]) + 2), 60)
        fmt = number_format(name, str(col), df[col], currency)
        style = xlsx.Style(fmt) if fmt else None
        columns.append(column_cells(df[col], style))
    heads = tuple((header(str(col)), _HEAD) for col in df.columns)
    return heads, columns, widths


def _readme(book: xlsx.Book, doc: RunManifest, listed: list[tuple[str, str, str, str, int]],
            left_out: list[str], min_n: int, programme: str | None = None) -> None:
    rows: list[tuple[Any, ...]] = [
        ("CX report tables",), ("Run id", doc.run_id), ("Run status", str(doc.status)),
        ("Started", doc.started_at or ""),
        ("Numbers", "Stored as numbers with a number format. 95% CI bounds and n are their own "
                    "columns. Percent columns marked % are in percent (0-100); share columns in "
                    "Excel percent format are fractions (0-1)."),
        ("Personal data", "No rep id, contact or device key: rep-level tables appear by rank "
                          "only (" + disclosure.RULE + ")."),
        ("Small groups", f"Accounts with fewer than {min_n} responses (invitations for response "
                         "rates) are not listed, and a part shown beside its whole (NPS without "
                         "the flagged teams) has its n in a band of ten, or is left out when it "
                         f"or the rest has fewer than {min_n}. Every account: {ANALYST_FILE} "
                         "(analyst only)."), (),
        ("Sheet", "Table", "Written by", "What it holds", "Rows")]
    rows += listed
    if left_out:
        rows += [(), ("Left out (hold person-level ids):", ", ".join(left_out))]
    rows += [(), ("Parameters", "Notebook", "Value")]
    for nb, params in doc.parameters.items():
        for key, value in (params or {}).items():
            rows.append((key, nb, str(value)))
    words = [[_written(in_words(v, programme) if isinstance(v, str) else v) for v in r] for r in rows]
    for i in (0, 8):
        words[i] = [(v[0] if isinstance(v, tuple) else v, _BOLD) for v in words[i]]
    book.sheet("README", words, widths={1: 34, 2: 34, 3: 24, 4: 80})


@dataclass(frozen=True)
class _Sheet:
    """One table's sheet of tables.xlsx, made: its rows and XML, and whether it has item labels."""

    rows: int
    xml: xlsx.Prepared
    labelled: bool


def _shared_sheet(p: Path, min_n: int, labels: Mapping[str, str], currency: str) -> _Sheet | None:
    """The sheet of the table in `p` as it may be shared (None: it is left out)."""
    df = _safe(p.stem, pd.read_parquet(p), min_n)
    if df is None:
        return None
    labelled = bool({"driver", "item"} & set(df.columns))
    df = _with_item_labels(df, labels).reset_index(drop=True)
    heads, columns, widths = _sheet_columns(p.stem, df, currency)
    return _Sheet(len(df), xlsx.prepare_table(heads, columns, widths=widths, frozen_rows=1), labelled)


def _file_key(p: Path) -> tuple[int, int, int]:
    st = p.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


class Ahead:
    """The workbooks' sheets made while the run's notebooks still run: a notebook's tables once
    it has finished (:meth:`add`), the analyst's workbook once all its tables are written
    (:meth:`write_analyst`). :func:`write_workbook` uses a sheet made here when its table file
    (and the item labels it shows) has not changed since; the workbooks are the same either way."""

    def __init__(self, min_n: int, currency: str) -> None:
        self.min_n, self.currency = min_n, currency
        self._sheets: dict[str, tuple[tuple[int, int, int], Mapping[str, str], _Sheet | None]] = {}
        self._analyst: tuple[Any, ...] | None = None

    def add(self, run: Path, stems: list[str]) -> None:
        """Make the sheets of the registered tables `stems` of the run in `run` (those written)."""
        labels = _item_labels(run)
        for stem in stems:
            p = run / "tables" / f"{stem}.parquet"
            if stem in contract.TABLES and p.is_file():
                key = _file_key(p)
                self._sheets[stem] = (key, labels, _shared_sheet(p, self.min_n, labels, self.currency))

    def sheet(self, p: Path, labels: Mapping[str, str], min_n: int, currency: str
              ) -> tuple[bool, _Sheet | None]:
        """(True, the sheet made ahead of the table in `p`) when it still holds, else (False, None)."""
        made = self._sheets.get(p.stem)
        if made is None or (min_n, currency) != (self.min_n, self.currency) or made[0] != _file_key(p):
            return False, None
        sheet = made[2]
        return (sheet is None or not sheet.labelled or made[1] == labels), sheet

    def write_analyst(self, run: Path) -> None:
        """Write the run's analyst workbook now (:func:`write_analyst_workbook`)."""
        key = _analyst_key(run, self.currency)
        write_analyst_workbook(run, self.currency)
        self._analyst = key

    def analyst_written(self, run: Path, currency: str) -> bool:
        """Whether the analyst workbook was written from the tables as they are now."""
        return self._analyst is not None and self._analyst == _analyst_key(run, currency)


def analyst_writers() -> set[str]:
    """The notebooks that write the analyst workbook's tables."""
    return {contract.TABLES[name] for name in disclosure.PER_ACCOUNT}


def _analyst_key(run: Path, currency: str) -> tuple[Any, ...]:
    files = [run / "tables" / f"{name}.parquet" for name in disclosure.PER_ACCOUNT]
    return currency, tuple((p.name, _file_key(p)) for p in files if p.is_file())


def write_workbook(run_dir: str | os.PathLike[str], manifest: RunManifest | None = None,
                   currency: str = "USD", ahead: Ahead | None = None) -> Path | None:
    """Write ``<run_dir>/tables.xlsx`` from the run's registered result tables (None: no table);
    its README names the run and its parameters from `manifest`. Sheets are streamed
    (:mod:`helpers.reporting.xlsx`): a table of a million cells is seconds, not minutes. The
    sheets (and analyst workbook) made `ahead` that still hold are used as made."""

    run = paths.resolve(run_dir)
    files = sorted(p for p in (run / "tables").glob("*.parquet") if p.stem in contract.TABLES)
    if not files:
        return None
    taken, listed, left_out, sheets = {"readme"}, [], [], []
    labels = _item_labels(run)
    programme = headline_name(run)
    outcome = (stored_outcome(run) or LTR_OUTCOME)["name"]
    min_n = run_min_n(manifest)
    for p in files:
        found, sheet = ahead.sheet(p, labels, min_n, currency) if ahead else (False, None)
        sheet = sheet if found else _shared_sheet(p, min_n, labels, currency)
        if sheet is None:
            left_out.append(p.stem)
            continue
        name = sheet_name(in_words(p.stem, programme), taken)
        sheets.append((name, sheet))
        listed.append((name, in_words(p.stem, programme), contract.TABLES[p.stem],
                       description(p.stem, programme, outcome), sheet.rows))
    buf = io.BytesIO()
    book = xlsx.Book(buf)
    _readme(book, manifest or RunManifest(run_id=run.name, status=Status.UNKNOWN),
            listed, left_out, min_n, programme)
    for name, sheet in sheets:
        book.add(name, sheet.xml)
    book.close()
    if ahead is None or not ahead.analyst_written(run, currency):
        write_analyst_workbook(run, currency)
    return render.publish_bytes(run / FILE, buf.getvalue())


def run_min_n(manifest: RunManifest | None) -> int:
    """The run's ``min_n`` (a notebook parameter of the manifest), else the settings'."""
    found = [p["min_n"] for p in (manifest.parameters.values() if manifest else ())
             if isinstance(p, dict) and isinstance(p.get("min_n"), int)]
    return max(found) if found else disclosure.settings_min_n()


def write_analyst_workbook(run_dir: str | os.PathLike[str], currency: str = "USD") -> Path | None:
    """``<run_dir>/accounts_restricted.xlsx``: every account of the per-account tables, small
    ones included, readable by the analyst only (mode 0600); None when the run has none."""

    run = paths.resolve(run_dir)
    files = [run / "tables" / f"{name}.parquet" for name in disclosure.PER_ACCOUNT]
    files = [p for p in files if p.is_file()]
    if not files:
        return None
    buf = io.BytesIO()
    book = xlsx.Book(buf)
    book.sheet("README", [["Every account, including those below min_n: for the analyst only. "
                           "Do not share; tables.xlsx is the shared workbook."]])
    taken = {"readme"}
    for p in files:
        df = pd.read_parquet(p)
        df = df.drop(columns=[c for c in df.columns if str(c).lower() in PERSONAL])
        heads, columns, widths = _sheet_columns(p.stem, df, currency)
        book.table(sheet_name(p.stem, taken), heads, columns, widths=widths, frozen_rows=1)
    book.close()
    target = run / ANALYST_FILE
    catalog.atomic_write_bytes(target, buf.getvalue())
    target.chmod(0o600)
    return target
