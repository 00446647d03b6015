"""Cleaning: an export in, one audited response table out (`cx clean`, notebook 01).

Rows are never deleted: each quality rule sets a flag, `include` is True when none fired, and the
cleaning log counts rows per rule. Personal data is dropped or replaced by salted hash keys before
anything is written; emails and phone numbers inside comments are masked.
"""

from __future__ import annotations

import dataclasses
import os
import pkgutil
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers import catalog, paths
from helpers import inputs as registry
from helpers.errors import ArgumentError, DataError, require_columns
from helpers.ingest import readers
from helpers.ingest import schema as schema_mod
from helpers.ingest.pii_text import PLACEHOLDER
from helpers.ingest.privacy import hash_keys, load_salt, mask_comments
from helpers.ingest.schema import Schema

RULES: list[tuple[str, str]] = [  # flag column, plain-language reason (in funnel order)
    ("flag_test", "preview, test or spam response"),
    ("flag_duplicate", "duplicate submission (same contact and wave, same response id or identical row; latest complete kept)"),
    ("flag_speeder", "speeder (much faster than the median)"),
    ("flag_straightliner", "straightliner (same answer across a whole grid)"),
    ("flag_out_of_range", "value outside its scale"),
    ("flag_incomplete", "incomplete (no likelihood-to-recommend answer)"),
]


#: Contact-role wordings of real exports -> the role codes the analyses use (decision maker first).
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "decision_maker": ("decision maker", "decisionmaker", "dm", "economic buyer", "buyer",
                       "executive", "executive sponsor", "sponsor", "budget holder", "owner",
                       "decideur", "décideur", "entscheider", "decisor", "decisore"),
    "influencer": ("influencer", "evaluator", "champion", "technical buyer", "recommender",
                   "influenceur", "prescripteur", "beeinflusser", "influenciador", "influyente"),
    "user": ("user", "end user", "enduser", "admin", "administrator", "practitioner",
             "utilisateur", "nutzer", "anwender", "usuario", "utente"),
}
_ROLE_CODE = {w: code for code, words in ROLE_WORDS.items() for w in (code.replace("_", " "), *words)}


def role_codes(roles: pd.Series) -> pd.Series:
    """Contact roles as codes: "Decision Maker", "decision-maker", "Economic buyer" ->
    decision_maker; "End user", "Admin" -> user (see ROLE_WORDS). Other wordings stay as
    written: the analyses by role leave them out of the waterfall and role weights and say so."""
    text = roles.astype("string").str.strip()
    key = text.str.lower().str.replace(r"[\s_/-]+", " ", regex=True)
    return key.map(_ROLE_CODE).fillna(text).astype("string")


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------
@dataclass
class CleanResult:
    """Everything `clean` produces, in memory, before anything is written."""

    responses: pd.DataFrame
    competitor_ratings: pd.DataFrame
    log: dict[str, Any]
    side_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    schema: Schema = field(kw_only=True)


def _mapped(survey: readers.Survey, sch: Schema) -> dict[str, str]:
    """Export column of every field and driver item the schema names (each must exist)."""
    cols = list(survey.data.columns)
    found: dict[str, str] = {}
    for section, specs in (("fields", sch.fields), ("drivers", sch.drivers)):
        for name, spec in specs.items():
            col = schema_mod.locate(spec, cols, survey.questions, survey.import_ids)
            if col is None:
                raise DataError(f"{section}.{name}: no column matches {spec.source!r} in "
                                f"{Path(survey.path).name}", file=sch.where(f"{section}.{name}"),
                                expected=f"a column of the export (it has {_some(cols)}); fix or "
                                         "remove this entry")
            found[name] = col
    return found


def _some(cols: list[str], k: int = 8) -> str:
    shown = ", ".join(repr(c) for c in cols[:k])
    return shown + (f" and {len(cols) - k} more" if len(cols) > k else "")


def parse_column(raw: pd.Series, scale: tuple[float, float] | None, labels: dict[str, float] | None,
                 not_applicable: frozenset[str], max_distinct: int = 256,
                 whole: bool = False) -> schema_mod.ParsedScores:
    """`schema.parse_scores`, evaluated once per distinct answer and spread back to the rows.

    An answer column holds a handful of distinct texts; parsing each once and weighting its
    counts by how many rows hold it gives the same values, flags and counts as parsing every row
    (schema.parse_scores is element-wise) at a fraction of the cost. Columns whose values are mostly
    distinct, or with more than `max_distinct` distinct non-numeric answers, are parsed directly.
    """
    codes, uniq = pd.factorize(raw, use_na_sentinel=False)
    if len(uniq) > len(raw) // 2:
        return schema_mod.parse_scores(raw, scale, labels, not_applicable, whole=whole)
    u = pd.Series(uniq, dtype=raw.dtype)
    parsed = schema_mod.parse_scores(u, scale, labels, not_applicable, whole=whole)
    mapped = na = bad = 0
    if parsed.labels_mapped or parsed.not_applicable or parsed.unparseable:
        # Row counts: a plain number (not a not-applicable code) is never a label, a code or
        # unreadable; every other distinct answer is parsed alone and weighted by its rows.
        if pd.api.types.is_numeric_dtype(u.dtype):
            plain = ~u.astype(float).astype(str).isin(not_applicable).to_numpy(bool)
        else:
            text = u.astype("string").str.strip()
            plain = (schema_mod.plain_numbers(text).notna()
                     & ~text.str.lower().isin(not_applicable).fillna(False)).to_numpy(bool)
        if (~plain).sum() > max_distinct:
            return schema_mod.parse_scores(raw, scale, labels, not_applicable, whole=whole)
        rows = np.bincount(codes, minlength=len(uniq))
        for i in np.flatnonzero(~plain):
            one = schema_mod.parse_scores(u.iloc[i:i + 1], scale, labels, not_applicable, whole=whole)
            mapped += one.labels_mapped * int(rows[i])
            na += one.not_applicable * int(rows[i])
            bad += one.unparseable * int(rows[i])
    return schema_mod.ParsedScores(
        pd.Series(parsed.values.to_numpy(float)[codes], index=raw.index, name=raw.name), mapped, na, bad,
        pd.Series(parsed.out_of_range.to_numpy(bool)[codes], index=raw.index))


def parse_datetimes(s: pd.Series) -> pd.Series:
    """Text -> datetimes, unreadable values NaT.

    The export's usual explicit formats are tried first (vectorised; a whole column either fits
    or raises); anything else falls back to pandas' per-value ``format="mixed"`` parsing. A
    column with few distinct values (dates without time) is parsed once per distinct value.
    """
    return _by_distinct(s, _parse_datetimes)


def _dates_checked(s: pd.Series, file: object, column: str) -> pd.Series:
    """:func:`parse_datetimes`, its one-line error naming the file and column."""
    try:
        return parse_datetimes(s)
    except DataError as exc:
        raise DataError(str(exc), file=file, column=column) from None


def _unreadable_dates(text: pd.Series, parsed: pd.Series) -> np.ndarray:
    """Rows with a date written but not readable (e.g. 2024-02-30)."""
    written = text.astype("string").str.strip().fillna("") != ""
    return (written & parsed.isna()).to_numpy(bool)


_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")


def date_order(s: pd.Series) -> bool | None:
    """Whether numeric dates in `s` are day-first (True), month-first (False) or neither (None).

    One column is read in one order: day-first when any date has a first number above 12,
    month-first otherwise. A column where some dates can only be day-first and others only
    month-first raises DataError (the export mixes two locales).
    """
    text = pd.Series(pd.unique(s.dropna().astype(str)))
    parts = text.str.extract(_NUMERIC_DATE).dropna().astype(int)
    if parts.empty:
        return None
    day_first, month_first = parts[0] > 12, parts[1] > 12
    if day_first.any() and month_first.any():
        a, b = text[parts.index[day_first.to_numpy()][0]], text[parts.index[month_first.to_numpy()][0]]
        raise DataError(f"dates mix day-first ({a.strip()}) and month-first ({b.strip()})",
                        column=str(s.name) if s.name is not None else None,
                        expected="one date order per column")
    return bool(day_first.any())


def _by_distinct(s: pd.Series, to_dates: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`to_dates(s)` computed once per distinct value when values repeat a lot (missing -> NaT).

    The distinct values keep their order of first appearance, so format inference sees the
    same first value as it would on the whole column.
    """
    head = s.iloc[:20_000]
    if len(s) > 2 * len(head) and head.nunique() > len(head) // 4:  # mostly distinct: skip
        return to_dates(s)
    codes, uniq = pd.factorize(s)
    if not 0 < len(uniq) <= len(s) // 4:
        return to_dates(s)
    parsed = to_dates(pd.Series(uniq, dtype=s.dtype)).to_numpy()
    table = np.concatenate([parsed, np.array(["NaT"], dtype=parsed.dtype)])
    return pd.Series(table[codes], index=s.index, name=s.name)


def _parse_datetimes(s: pd.Series) -> pd.Series:
    formats = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
    if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
        text = pa.array(s.astype("string").str.strip().replace("", pd.NA))
        for fmt in formats if text.null_count < len(text) else ():  # Arrow: same formats, faster
            try:
                ts = pc.strptime(text, format=fmt, unit="s").cast(pa.timestamp("us"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            # strptime rolls impossible dates over (Feb 30 -> Mar 2): accept the column only if
            # every date written back (each distinct day formatted once) equals its text.
            day = ts.cast(pa.date32())
            days = pc.unique(day)
            iso = pa.array([d.isoformat() if d else None for d in days.to_pylist()], pa.string())
            same = pc.equal(iso.take(pc.index_in(day, days)), pc.utf8_slice_codeunits(text, 0, 10))
            if pc.all(same).as_py() is not False:
                return pd.Series(ts.to_numpy(zero_copy_only=False), index=s.index, name=s.name)
    for fmt in formats:
        try:
            return pd.to_datetime(s, format=fmt)
        except (ValueError, TypeError, OverflowError):
            continue
    day_first = date_order(s)
    return pd.to_datetime(s, errors="coerce", format="mixed", dayfirst=bool(day_first))


def clean_responses(survey: readers.Survey, sch: Schema, salt: str, speeder_fraction: float | None = None,
                    min_grid_items: int | None = None, keep_finished: bool = False) -> CleanResult:
    """Map an export to the schema's fields, flag quality problems and remove personal data.

    `keep_finished` keeps the export's ``finished`` field (:func:`run_parts` needs it to rank
    duplicates across parts); it is dropped otherwise.
    """
    raw = survey.data
    n = len(raw)
    if n == 0:
        raise DataError("no responses (only header rows)", file=survey.path, expected="at least one data row")
    mapped = _mapped(survey, sch)
    out = pd.DataFrame(index=raw.index)
    log: dict[str, Any] = {"input": {"file": Path(survey.path).name, "format": survey.format,
                                     "encoding": survey.encoding, "rows": n, "columns": raw.shape[1],
                                     "reader_notes": list(survey.notes)},
                           "schema": sch.source, "answers": {}}
    oor = np.zeros(n, bool)
    named = survey.category_labels()
    for name, col in mapped.items():
        spec = sch.fields.get(name) or sch.drivers[name]
        if spec.type in ("score", "number"):
            parsed = _read_numbers(raw[col], spec, sch, col, survey.path)
            out[name] = parsed.values
            oor |= parsed.out_of_range.to_numpy(bool)
            log["answers"][name] = {"column": col, "labels_mapped": parsed.labels_mapped,
                                    "not_applicable": parsed.not_applicable, "unreadable": parsed.unparseable,
                                    "out_of_range": int(parsed.out_of_range.sum()),
                                    "examples": _unreadable_examples(raw[col], parsed, sch)}
        elif spec.type == "datetime":
            out[name] = _dates_checked(raw[col], survey.path, col)
            if out[name].isna().all() and raw[col].notna().any():
                raise DataError(f"fields.{name}: no readable dates in column {col!r}",
                                file=sch.where(f"fields.{name}"), expected="dates/times, e.g. 2026-03-31")
            bad = _unreadable_dates(raw[col], out[name])
            if bad.any():  # an impossible date is a value outside its scale: flagged and logged
                oor |= bad
                log["answers"][name] = {"column": col, "labels_mapped": 0, "not_applicable": 0,
                                        "unreadable": int(bad.sum()), "out_of_range": 0}
        else:  # text; SPSS categories by their value labels ("Enterprise", not 3)
            labels = named.get(col)
            if labels and name == "wave":
                labels = readers.in_code_order(labels)  # waves keep their time order
            values = raw[col].map(labels) if labels else raw[col]
            out[name] = values.astype("string").str.strip().replace("", pd.NA)
    _tidy_text(out, sch)
    if "response_id" not in out:  # exports without an id: the row number in the file
        out["response_id"] = pd.Series([f"row{i + 1}" for i in range(n)], index=raw.index, dtype="string")

    # Personal data: hash or drop; only keys leave this function.
    for name, spec in sch.personal.items():
        source = schema_mod.locate(spec, list(raw.columns), survey.questions, survey.import_ids)
        if source is not None and spec.action == "hash":
            out[name] = hash_keys(raw[source], salt)
    if "comment" in out:
        out["comment"] = mask_comments(out["comment"])

    _derive(out, sch)
    _flag(out, sch, oor, speeder_fraction, min_grid_items)
    comp = _competitors(raw, survey, sch, out)
    log.update(_log(out, sch, survey, mapped))
    out = out.drop(columns=["status", "distribution_channel", "started_at",
                            *([] if keep_finished else ["finished"])], errors="ignore")
    return CleanResult(out.reset_index(drop=True), comp, log, schema=sch)


def _read_numbers(s: pd.Series, spec: schema_mod.FieldSpec, sch: Schema, col: str,
                  file: object) -> schema_mod.ParsedScores:
    """Answers of a score or number column; a scale that does not fit the data is a schema error.

    A few answers outside the scale (or not whole numbers on a rating scale) are data-quality
    flags (``flag_out_of_range``); when more than a fifth of 30 or more answers lie outside the
    scale's range, or an LTR column never goes above 5, the schema's scale is wrong.
    """
    section = "fields" if spec.name in sch.fields else "drivers"
    where = sch.where(f"{section}.{spec.name}")
    name = Path(str(file)).name
    labels = sch.label_sets.get(spec.labels or "")
    whole = spec.type == "score"  # ratings are whole numbers: 9.5 is outside any rating scale
    parsed = parse_column(s, spec.scale, labels, sch.not_applicable, whole=whole)
    answered = int(parsed.values.notna().sum()) + int(parsed.out_of_range.sum())
    if spec.name == "ltr" and answered == 0 and (s.notna() & (s.astype("string").str.strip() != "")).any():
        raise DataError(f"fields.ltr: column {col!r} of {name} has no numeric values", file=where,
                        expected="likelihood-to-recommend answers 0-10")
    if spec.scale is None or answered < 30:
        return parsed
    values = parse_column(s, None, labels, sch.not_applicable).values
    lo, hi = spec.scale
    outside = int(((values < lo) | (values > hi)).sum())
    found = f"values {values.min():g} to {values.max():g}"
    if outside > 0.2 * answered:
        raise DataError(f"{section}.{spec.name}: column {col!r} of {name} holds {found}, {outside:,} "
                        f"of {answered:,} answers outside the scale [{lo:g}, {hi:g}]", file=where,
                        expected="the scale the question was asked on: fix `scale`")
    if spec.name == "ltr" and values.max() <= 5:
        raise DataError(f"fields.ltr: column {col!r} of {name} holds {found} only", file=where,
                        expected="a 0-10 likelihood-to-recommend question (NPS needs 0-10)")
    return parsed


def _unreadable_examples(raw: pd.Series, parsed: schema_mod.ParsedScores, sch: Schema,
                         k: int = 3) -> list[str]:
    """The most frequent answers that could not be read as numbers (for the warning)."""
    if not parsed.unparseable:
        return []
    text = raw.astype("string").str.strip()
    left = (parsed.values.isna() & ~parsed.out_of_range & text.notna() & (text != "")
            & ~text.str.lower().isin(sch.not_applicable)).fillna(False).to_numpy(bool)
    return [str(v)[:60] for v in text[left].value_counts().index[:k]]


def answer_warnings(log: dict[str, Any], share: float = 0.02) -> list[str]:
    """One line per answer column with many answers that could not be read (more than `share`
    of the rows and at least 5): they are missing in every figure, so say which and why."""
    rows = max(int(log["input"]["rows"]), 1)
    out = []
    for name, a in log.get("answers", {}).items():
        n = int(a.get("unreadable", 0))
        if n >= 5 and n > share * rows:
            seen = ", ".join(repr(e) for e in a.get("examples", []))
            out.append(f"warning: {name} (column {a['column']!r}): {n:,} of {rows:,} answers could "
                       f"not be read as numbers and count as missing, e.g. {seen}; add them to a "
                       "label set under answers.label_sets of the schema and name it in the "
                       "field's `labels:`")
    return out


def _tidy_text(out: pd.DataFrame, sch: Schema) -> None:
    """Roles as codes; "NA", "n/a", "-99" in a comment field mean no comment."""
    if "role" in out:
        out["role"] = role_codes(out["role"])
    if "comment" in out:
        out["comment"] = out["comment"].mask(out["comment"].str.lower().isin(sch.not_applicable))


def _derive(out: pd.DataFrame, sch: Schema) -> None:
    """Market (by the schema's rule), wave, journey durations and the NPS group of each row."""
    out["market"] = market_of(out, sch.market_rule, sch.where("market_rule"))
    if "wave" not in out:
        if "submitted_at" in out and out["submitted_at"].notna().any():
            period = schema_mod.WAVE_PERIODS[sch.waves]
            out["wave"] = _wave_labels(out["submitted_at"], period)
        else:  # no date at all: one wave
            out["wave"] = pd.Series("all", index=out.index, dtype="string")
    _journey_durations(out)
    if "duration_s" in out:
        out["duration_s"] = out["duration_s"].astype(float)
    ltr = out["ltr"]
    group = np.select([ltr >= 9, ltr >= 7, ltr >= 0], [0, 1, 2], default=3)
    out["nps_group"] = _labels(["promoter", "passive", "detractor", None], group, out.index)


def _journey_durations(out: pd.DataFrame) -> None:
    """Go-live slip, implementation length and the quarter-end flag, from the dates present."""
    if {"go_live_date", "go_live_planned"} <= set(out):
        out["go_live_slip_days"] = (out["go_live_date"] - out["go_live_planned"]).dt.days.astype(float)
    if {"go_live_date", "deal_close_date"} <= set(out):
        out["impl_length_days"] = (out["go_live_date"] - out["deal_close_date"]).dt.days.astype(float)
    if "deal_close_date" in out:
        out["quarter_end_deal"] = quarter_end(out["deal_close_date"])


def market_of(df: pd.DataFrame, rule: dict[str, str], where: str = "market_rule") -> pd.Series:
    """"B2B" / "B2C" per row by the schema's market rule (see ``market_rule`` in the schema)."""
    kind, value = next(iter(rule.items()))
    if kind == "all":
        return pd.Series(value, index=df.index, dtype="string", name="market")
    if kind == "b2b_when_present":
        filled = df[value].notna() if value in df else pd.Series(False, index=df.index)
        return pd.Series(np.where(filled, "B2B", "B2C"), index=df.index, dtype="string", name="market")
    m = df[value].astype("string").str.strip().str.upper()
    bad = m.notna() & ~m.isin(["B2B", "B2C"])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"market value {df[value].iloc[row]!r}", file=where, column=value, row=row + 1,
                        expected="B2B or B2C (or another market_rule)")
    return m.fillna("B2C").rename("market")


def _wave_labels(dates: pd.Series, period: str) -> pd.Series:
    """'2026Q3' (quarter), '2026-07' (month), '2026H2' (half) or '2026' (year) per date."""
    if period == "2Q":
        half = np.where(dates.dt.month <= 6, "H1", "H2")
        labels = dates.dt.year.astype("Int64").astype("string") + pd.Series(half, index=dates.index)
        return labels.where(dates.notna()).astype("string")
    return dates.dt.to_period(period).astype("string").where(dates.notna())


def quarter_end(dates: pd.Series, days: int = 14) -> pd.Series:
    """True when a date lies in the last `days` days of its calendar quarter (missing stays missing)."""
    d = pd.to_datetime(dates)
    end = d.dt.to_period("Q").dt.end_time.dt.normalize()
    res = (end - d.dt.normalize()).dt.days < days
    return res.astype("boolean").where(d.notna())


def _flag(out: pd.DataFrame, sch: Schema, oor: np.ndarray, speeder_fraction: float | None,
          min_grid_items: int | None) -> None:
    """Set every quality flag, ``include`` and ``exclusion_reason`` (first rule that fired)."""
    q = sch.quality
    out["flag_test"] = _test_rows(out, q)
    out["flag_duplicate"] = _duplicate_rows(out, _duplicate_key(out, sch), oor)
    frac = float(speeder_fraction if speeder_fraction is not None else q["speeder_fraction"])
    if "duration_s" in out:
        med = out.loc[~out["flag_test"], "duration_s"].median()
        out["flag_speeder"] = (out["duration_s"] < frac * med).fillna(False).to_numpy(bool)
    else:
        out["flag_speeder"] = False
    k = int(min_grid_items if min_grid_items is not None else q["straightliner_min_items"])
    out["flag_straightliner"] = _straightliners(out, sch, k)
    out["flag_out_of_range"] = oor
    # No usable LTR: left blank or answered "not applicable" (out-of-range is its own rule).
    out["flag_incomplete"] = out["ltr"].isna().to_numpy() & ~oor
    set_verdict(out)


def set_verdict(out: pd.DataFrame) -> None:
    """``include`` (no rule fired) and ``exclusion_reason`` (the first rule that fired)."""
    flags = [f for f, _ in RULES]
    out["include"] = ~out[flags].any(axis=1)
    reason = np.zeros(len(out), np.int8)
    for i, (f, _) in reversed(list(enumerate(RULES, 1))):
        reason = np.where(out[f].to_numpy(bool), i, reason)
    out["exclusion_reason"] = _labels(["", *(why for _, why in RULES)], reason, out.index)


def _test_rows(out: pd.DataFrame, q: dict[str, Any]) -> np.ndarray:
    """Preview, test or spam responses (by status or distribution channel)."""
    status = out.get("status", pd.Series(pd.NA, index=out.index, dtype="string")).astype("string")
    chan = out.get("distribution_channel", pd.Series(pd.NA, index=out.index, dtype="string")).astype("string")
    test = status.isin([str(v) for v in q["test_status"]]).fillna(False) | \
        chan.str.lower().isin([str(v).lower() for v in q["test_channels"]]).fillna(False)
    return test.to_numpy(bool)


def _duplicate_key(out: pd.DataFrame, sch: Schema) -> list[str]:
    """Columns that identify one respondent's submission: the schema's key when the export has it
    (contact and wave), else the export's response id, else every column (identical rows)."""
    key = [k for k in sch.quality["duplicate_key"]]
    if all(k in out for k in key):
        return key
    if "response_id" in sch.fields:
        return ["response_id"]
    return [c for c in out.columns if c != "response_id"]


def _duplicate_rows(out: pd.DataFrame, key: list[str], oor: np.ndarray) -> np.ndarray:
    """Every submission of a contact and wave but one: the latest complete one is kept."""
    dup = np.zeros(len(out), bool)
    keys = [k for k in key if k in out]
    if not keys or len(keys) != len(key):
        return dup
    if len(keys) > 3:  # identical rows: one hash per row stands for all its columns
        out = out.assign(_row=pd.util.hash_pandas_object(out[keys], index=False))
        keys = ["_row"]
    complete = out["ltr"].notna().to_numpy() & ~oor
    if "finished" in out:
        complete &= out["finished"].fillna(1).to_numpy(float) == 1
    cand = np.flatnonzero(out[keys].notna().all(axis=1).to_numpy() & ~out["flag_test"].to_numpy())
    # Complete first, then latest first (no time last), ties in file order: a stable lexsort
    # on integer keys; within each contact-and-wave group every row after the first is a duplicate.
    group = np.zeros(len(cand), np.int64)
    for k in keys:
        codes, uniq = pd.factorize(out[k].iloc[cand])
        group = group * (len(uniq) + 1) + codes
    if "submitted_at" in out:
        t = out["submitted_at"].to_numpy("datetime64[us]")[cand]
        newest_first = np.where(np.isnat(t), np.iinfo(np.int64).max, -t.astype(np.int64))
    else:
        newest_first = np.zeros(len(cand), np.int64)
    sorted_rows = np.lexsort((newest_first, ~complete[cand]))
    first = np.unique(group[sorted_rows], return_index=True)[1]
    later = np.ones(len(cand), bool)
    later[first] = False
    dup[cand[sorted_rows[later]]] = True
    return dup


def _straightliners(out: pd.DataFrame, sch: Schema, k: int) -> np.ndarray:
    """Rows giving one answer across a whole grid (a driver group) of at least `k` answered items
    (the same point of each item's scale, so a grid mixing 1-5 and 0-10 items is judged fairly)."""
    flat = np.zeros(len(out), bool)
    by_group: dict[str, list[str]] = {}
    for name, spec in sch.drivers.items():
        if name in out:
            by_group.setdefault(spec.group or "", []).append(name)
    for items in by_group.values():
        if len(items) < k:
            continue
        lo = np.array([sch.scale(i)[0] for i in items])
        hi = np.array([sch.scale(i)[1] for i in items])
        vals = (out[items].to_numpy(float) - lo) / (hi - lo)  # on a common 0-1 footing
        answered = np.isfinite(vals).sum(axis=1)
        filled = np.where(np.isfinite(vals), vals, np.nan)
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(np.where(answered[:, None] > 0, filled, 0), axis=1) - \
                np.nanmin(np.where(answered[:, None] > 0, filled, 0), axis=1)
        flat |= (answered >= k) & (spread == 0)
    return flat


def _labels(names: list[str | None], codes: np.ndarray, index: pd.Index) -> pd.Series:
    """A "string" column from integer codes into `names` (one Arrow take, no per-row strings)."""
    return pd.Series(pa.array(names, pa.string()).take(pa.array(codes)), index=index, dtype="string")


def _competitors(raw: pd.DataFrame, survey: readers.Survey, sch: Schema, out: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for vendor, spec in sch.competitors.items():
        col = schema_mod.locate(spec, list(raw.columns), survey.questions, survey.import_ids)
        if col is None:
            continue
        vals = parse_column(raw[col], (0.0, 10.0), None, sch.not_applicable, whole=True).values
        keep = vals.notna()
        frames.append(pd.DataFrame({"response_id": out.loc[keep, "response_id"], "market": out.loc[keep, "market"],
                                    "wave": out.loc[keep, "wave"] if "wave" in out else pd.NA,
                                    "vendor": vendor, "ltr": vals[keep], "include": out.loc[keep, "include"]}))
    if not frames:
        return pd.DataFrame(columns=["response_id", "market", "wave", "vendor", "ltr", "include"])
    comp = pd.concat(frames, ignore_index=True)
    comp["vendor"] = comp["vendor"].astype("string")
    return comp


def _log(out: pd.DataFrame, sch: Schema, survey: readers.Survey, mapped: dict[str, str]) -> dict[str, Any]:
    n = len(out)
    rules = {f.removeprefix("flag_"): {"rows": int(out[f].sum()), "reason": why} for f, why in RULES}
    funnel = [{"step": "raw rows", "rows": n}]
    remaining = np.ones(n, bool)
    for f, _ in RULES:
        remaining &= ~out[f].to_numpy(bool)
        funnel.append({"step": f"minus {f.removeprefix('flag_').replace('_', ' ')}", "rows": int(remaining.sum())})
    placed = set(mapped.values())
    for specs in (sch.personal, sch.competitors):
        for spec in specs.values():
            col = schema_mod.locate(spec, list(survey.data.columns), survey.questions, survey.import_ids)
            if col:
                placed.add(col)
    unplaced = [c for c in survey.data.columns if c not in placed]
    return {"rules": rules, "funnel": funnel, "included": int(out["include"].sum()),
            "mapped_columns": mapped, "unplaced_columns": unplaced,
            "personal_data": {n: s.action for n, s in sch.personal.items()}}


# --------------------------------------------------------------------------------------------
# Side tables
# --------------------------------------------------------------------------------------------
ACCOUNT_DATES = ("deal_close_date", "go_live_planned", "go_live_date", "renewal_date")


def clean_accounts(df: pd.DataFrame, file: object) -> pd.DataFrame:
    """CRM account extract -> accounts table. Only ``account_id`` is required: ARR, journey dates,
    renewal outcomes and segment columns are used when present (the analyses that need a missing
    one say so)."""
    require_columns(df, ["account_id"], file)
    out = df.drop(columns=[c for c in ("account_name",) if c in df]).copy()
    blank = out["account_id"].isna() | (out["account_id"].astype("string").str.strip() == "")
    if blank.any():
        raise DataError("account_id is empty", file=file, column="account_id",
                        row=int(np.flatnonzero(blank.to_numpy())[0]) + 2, expected="an id on every row")
    for c in ACCOUNT_DATES:
        if c in out:
            out[c] = pd.to_datetime(out[c], errors="coerce")
    if "arr" in out:
        out["arr"] = pd.to_numeric(out["arr"], errors="coerce")
        bad = out["arr"].isna() | (out["arr"] < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise DataError(f"ARR is {df['arr'].iloc[row - 2]!r}", file=file, column="arr", row=row,
                            expected="a non-negative number")
    _journey_durations(out)
    if "renewed" in out:
        out["renewed"] = out["renewed"].astype(str).str.lower().isin(["true", "1", "yes"])
        out["churned"] = ~out["renewed"]
        if {"arr", "expansion_arr"} <= set(out):
            out["expansion_arr"] = pd.to_numeric(out["expansion_arr"], errors="coerce").fillna(0.0)
            out["nrr"] = np.where(out["renewed"], (out["arr"] + out["expansion_arr"]) / out["arr"], 0.0)
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype("string")
    return out


def accounts_from_responses(responses: pd.DataFrame) -> pd.DataFrame:
    """Accounts named in the responses when no account master is given: one row per account
    with the fields that are constant within every account (e.g. tier, region, rep)."""
    b2b = responses[responses["account_id"].notna()] if "account_id" in responses else responses.iloc[:0]
    if b2b.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype="string")})
    skip = {"response_id", "contact_key", "ip_key", "ltr", "comment", "submitted_at", "wave",
            "include", "exclusion_reason", "nps_group", "duration_s"}
    cols = [c for c in b2b.columns if c not in skip and not c.startswith("flag_")
            and b2b[c].dtype in (object, "string") and c != "account_id"]
    constant = [c for c in cols if (b2b.groupby("account_id")[c].nunique(dropna=True) <= 1).all()]
    out = b2b.groupby("account_id", sort=True)[constant].first().reset_index()
    out["account_id"] = out["account_id"].astype("string")
    return out


def clean_invitations(df: pd.DataFrame, file: object, salt: str) -> pd.DataFrame:
    """Distribution list -> invitations with hashed contact keys (emails dropped).

    Needs ``wave``, ``account_id`` and ``responded``; ``role`` and ``contact_email`` are used
    when present (coverage by role, matching contacts)."""
    require_columns(df, ["wave", "account_id", "responded"], file)
    out = df.copy()
    if "contact_email" in out:
        out["contact_key"] = hash_keys(out.pop("contact_email"), salt)
    out["responded"] = out["responded"].astype(str).str.lower().isin(["true", "1", "yes"])
    if "invited_at" in out:
        out["invited_at"] = _by_distinct(out["invited_at"], lambda v: pd.to_datetime(v, errors="coerce"))
    for c in ("wave", "account_id", "role", "market"):
        if c in out:
            out[c] = out[c].astype("string")
    if "role" in out:
        out["role"] = role_codes(out["role"])
    return out


def read_table(path: Path) -> pd.DataFrame:
    """A side table (CSV or parquet) or a one-line DataError naming the file."""
    if not path.exists():
        raise DataError("file not found", file=path, expected="a CSV or parquet table")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read table ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                        file=path, expected="a CSV or parquet table") from None


# Readers of the optional input files, named in helpers.inputs: (path, salt) -> cleaned table.
def read_accounts(path: Path, salt: str) -> pd.DataFrame:
    """An account master file (see :func:`clean_accounts`)."""
    return clean_accounts(read_table(path), path)


def read_invitations(path: Path, salt: str) -> pd.DataFrame:
    """An invitations file (see :func:`clean_invitations`)."""
    return clean_invitations(read_table(path), path, salt)


def read_dated(path: Path, salt: str) -> pd.DataFrame:
    """A table kept as it is, its ``date`` column (when present) read as dates."""
    t = read_table(path)
    if "date" in t:
        t["date"] = pd.to_datetime(t["date"], errors="coerce")
    return t


def read_input(inp: registry.Input, path: Path, salt: str) -> pd.DataFrame:
    """The file of optional input `inp`, read and cleaned by its registered reader."""
    reader: Callable[[Path, str], pd.DataFrame] = pkgutil.resolve_name(inp.reader)
    return reader(path, salt)


def files_given(given: Mapping[str, str | os.PathLike[str] | None] | None) -> dict[str, str]:
    """Optional input files of a cleaning run: input name -> file, those not provided left out.
    An input that does not come from a file (competitor ratings) is an ArgumentError."""
    chosen = registry.given(given or {})
    wrong = [n for n in chosen if registry.INPUTS[n].source != registry.FILE]
    if wrong:
        raise ArgumentError(f"input {wrong[0]!r} comes from the export, not from a file",
                            argument="inputs")
    return chosen


# --------------------------------------------------------------------------------------------
# The whole step, shared by `cx clean` and notebook 01
# --------------------------------------------------------------------------------------------
def prepare(raw_path: str | os.PathLike[str], schema_path: str | os.PathLike[str] = schema_mod.DEFAULT_SCHEMA,
            *, inputs: Mapping[str, str | os.PathLike[str] | None] | None = None, format: str = "auto",
            encoding: str | None = None, speeder_fraction: float | None = None) -> CleanResult:
    """Read and clean an export and its optional inputs in memory (``cx check``; :func:`run`
    writes the result). `inputs` maps optional inputs (helpers.inputs) to their files; "" or
    None is not provided. Without an account master, the accounts named in the responses are
    used."""
    files = files_given(inputs)
    raw = paths.resolve(raw_path)
    check_memory(raw)
    sch = schema_mod.load(schema_path)
    salt = load_salt()
    survey = readers.read_survey(raw, format=format, encoding=encoding)
    result = clean_responses(survey, sch, salt, speeder_fraction)
    for name in registry.INPUTS:  # in registry order: the cleaning log lists them so
        if name in files:
            result.side_tables[name] = read_input(registry.INPUTS[name], paths.resolve(files[name]), salt)
        elif name == "accounts" and "account_id" in result.responses:
            result.side_tables[name] = accounts_from_responses(result.responses)
        elif name == "competitor_ratings" and len(result.competitor_ratings):
            result.side_tables[name] = result.competitor_ratings
    result.log["side_tables"] = {k: int(len(v)) for k, v in result.side_tables.items()}
    result.log["accounts_from"] = ("account master" if "accounts" in files else
                                   "responses" if "accounts" in result.side_tables else None)
    return result


def preflight(raw_path: str | os.PathLike[str], schema_path: str | os.PathLike[str] = schema_mod.DEFAULT_SCHEMA,
              format: str = "auto", encoding: str | None = None, rows: int = 20_000) -> None:
    """Check an export against its schema before a run starts: the schema itself, every column it
    names, and the scales of its numeric columns (on the first `rows` responses). Raises the
    same one-line :class:`DataError` as the clean would, so a bad schema stops `cx run` before
    anything is written."""
    sch = schema_mod.load(schema_path)
    raw = paths.resolve(raw_path)
    if raw.is_dir():   # a folder of parts: the first part stands for them all
        from helpers.ingest import parts
        raw = parts.part_files(raw)[0]
    if layout := readers.text_layout(raw, format, encoding):
        from helpers.ingest import parts  # a text export: only its first records are read
        with tempfile.TemporaryDirectory(prefix=".cx-head-") as tmp:
            if not parts.split_export(raw, Path(tmp), layout, rows=rows, limit=1).rows_before:
                raise DataError("no responses (only header rows)", file=raw,
                                expected="at least one data row")
            try:
                survey = readers.read_survey(Path(tmp) / "part-0000.csv", format=format)
            except DataError as exc:
                raise exc.moved(raw, 0) from None
        survey = dataclasses.replace(survey, path=raw)
    else:
        check_memory(raw)
        survey = readers.read_survey(raw, format=format, encoding=encoding)
    head = survey.data.head(rows)
    if head.empty:
        raise DataError("no responses (only header rows)", file=survey.path, expected="at least one data row")
    for name, col in _mapped(survey, sch).items():
        spec = sch.fields.get(name) or sch.drivers[name]
        if spec.type in ("score", "number"):
            _read_numbers(head[col], spec, sch, col, survey.path)


#: Memory to clean one export file in one go, per byte of the file (about 5 for a CSV export
#: of a million responses: the text, the parsed columns, the cleaned table).
CLEAN_MEMORY_FACTOR = 5.0


def needs_parts(raw: Path) -> bool:
    """Whether cleaning one export file at once would need more memory than memory_budget_gb
    (config/scale.yaml)."""
    from helpers import config

    return raw.is_file() and raw.stat().st_size * CLEAN_MEMORY_FACTOR / 1e9 > \
        config.load_scale().memory_budget_gb


def check_memory(raw: Path) -> None:
    """Refuse, before reading anything, one export file whose cleaning in memory would exceed
    memory_budget_gb (`cx clean` and `cx run` stream a CSV/TSV export into parts instead)."""
    from helpers import config

    if needs_parts(raw):
        budget, size = config.load_scale().memory_budget_gb, raw.stat().st_size
        raise DataError(f"cleaning this {size / 1e9:.3g} GB export in memory needs about "
                        f"{size * CLEAN_MEMORY_FACTOR / 1e9:.3g} GB, above the memory budget of "
                        f"{budget:g} GB (memory_budget_gb, config/scale.yaml)", file=raw,
                        expected="a CSV/TSV export (cleaned in parts by cx clean or cx run) or "
                                 "the export split into a folder of files")


def run(raw_path: str | os.PathLike[str], schema_path: str | os.PathLike[str] = schema_mod.DEFAULT_SCHEMA,
        out_dir: str | os.PathLike[str] = "data/processed", *,
        inputs: Mapping[str, str | os.PathLike[str] | None] | None = None, format: str = "auto",
        encoding: str | None = None, speeder_fraction: float | None = None) -> CleanResult:
    """Read, clean and write everything (nothing is written if any step fails; see `publish`).

    `inputs` maps optional inputs (helpers.inputs) to their files, as in :func:`prepare`.
    Processed tables of inputs not provided this time are removed, so no earlier programme's
    table is read by mistake. The schema used is copied beside the tables (``survey.yaml``):
    later notebooks read the programme's items from it.
    """
    files = files_given(inputs)
    raw = paths.resolve(raw_path)
    if raw.is_dir():   # a folder of parts: one part in memory at a time
        from helpers.ingest import parts
        return parts.run_parts(raw_path, schema_path, out_dir, inputs=files, format=format,
                               encoding=encoding, speeder_fraction=speeder_fraction)
    if needs_parts(raw) and (layout := readers.text_layout(raw, format, encoding)):
        from helpers.ingest import parts  # too large for memory: streamed into parts
        return parts.run_file(raw, layout, schema_path, out_dir, inputs=files, format=format,
                              speeder_fraction=speeder_fraction)
    result = prepare(raw_path, schema_path, inputs=files, format=format, encoding=encoding,
                     speeder_fraction=speeder_fraction)
    from helpers.ingest import provenance  # which export and schema, for stale-data checks
    result.log["built_from"] = provenance.built_from(raw, schema_path)
    publish(result, out_dir)
    return result


def publish(result: CleanResult, out_dir: str | os.PathLike[str] = "data/processed") -> Path:
    """Write a cleaning result into `out_dir` as one step, under the project's writer lock.

    Every table, the schema copy and the log are written to a staging folder first and swapped
    in together only when all were written, so a full or read-only disk leaves `out_dir` as it
    was; a report run in progress (which reads `out_dir`) makes this raise
    :class:`helpers.catalog.LockedError`. Side tables of inputs not provided this time are then
    removed, so no earlier programme's table is read by mistake.
    """
    out = catalog.refuse_raw(out_dir)
    with catalog.writer_lock():
        with catalog.staged_folder(out) as stage:
            catalog.atomic_write_table(result.responses, stage / "responses.parquet")
            for name, df in result.side_tables.items():
                catalog.atomic_write_table(df, stage / registry.INPUTS[name].file)
            if result.schema is not None:
                catalog.atomic_write_bytes(stage / "survey.yaml",
                                           paths.resolve(result.schema.source).read_bytes())
            catalog.save_json(result.log, stage / "cleaning_log.json")
        for name, inp in registry.INPUTS.items():
            if name not in result.side_tables:
                (out / inp.file).unlink(missing_ok=True)
    return out


# --------------------------------------------------------------------------------------------
# Reader-facing summaries of a cleaning run (notebook 01)
# --------------------------------------------------------------------------------------------
def input_summary(log: dict[str, Any]) -> pd.DataFrame:
    """What came in: file, format, encoding, rows, columns, side tables, what the reader did."""
    inp = log["input"]
    rows = [("file", inp["file"]), ("format", inp["format"]), ("encoding", inp.get("encoding") or "n/a"),
            ("rows (responses)", f"{inp['rows']:,}"), ("columns", f"{inp['columns']:,}"),
            ("columns mapped to canonical fields", f"{len(log['mapped_columns']):,}"),
            ("columns not used", ", ".join(log["unplaced_columns"]) or "none")]
    rows += [(f"side table: {k}", f"{v:,} rows") for k, v in log.get("side_tables", {}).items()]
    rows += [("reader note", note) for note in inp.get("reader_notes", [])]
    return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def rule_table(log: dict[str, Any]) -> pd.DataFrame:
    """Rows flagged per quality rule (a row can hit several) and rows removed at each funnel step."""
    funnel = log["funnel"]
    removed = [funnel[i]["rows"] - funnel[i + 1]["rows"] for i in range(len(funnel) - 1)]
    df = pd.DataFrame([{"rule": k, "reason": v["reason"], "rows flagged": v["rows"]}
                       for k, v in log["rules"].items()])
    df["removed at this step"] = removed
    df["% of raw"] = (100 * df["rows flagged"] / funnel[0]["rows"]).round(1)
    return df.set_index("rule")


def answer_table(log: dict[str, Any]) -> pd.DataFrame:
    """Per answer column: labels read as numbers, not-applicable answers set missing, unreadable, out of range."""
    df = pd.DataFrame(log["answers"]).T
    df.index.name = "field"
    return df[["column", "labels_mapped", "not_applicable", "unreadable", "out_of_range"]]


def ltr_distribution(responses: pd.DataFrame) -> pd.DataFrame:
    """Counts of each LTR score (0-10) among all readable rows and among included rows."""
    scores = pd.Index(range(11), name="ltr")
    ltr = responses["ltr"]
    before = ltr.value_counts().reindex(scores, fill_value=0)
    after = ltr[responses["include"]].value_counts().reindex(scores, fill_value=0)
    return pd.DataFrame({"all readable rows": before, "included rows": after}).astype(int)


def personal_data_table(sch: Schema, responses: pd.DataFrame) -> pd.DataFrame:
    """What happened to each personal-data field, and how many comments had contact details masked."""
    rows = [{"field": n, "source column": s.column or s.import_id, "treatment":
             "replaced by salted hash key" if s.action == "hash" else "dropped"} for n, s in sch.personal.items()]
    if "comment" in responses or "masked_comments" in responses.attrs:   # attrs: a folder of parts
        masked = int(responses.attrs["masked_comments"]) if "comment" not in responses else int(
            responses["comment"].astype("string").str.contains(PLACEHOLDER.pattern, regex=True,
                                                                na=False).sum())
        rows.append({"field": "comment", "source column": "free text",
                     "treatment": "names, addresses, postcodes, bank/card/ID numbers, phones, "
                                  f"emails and URLs masked ({masked:,} comments)"})
    if not rows:  # no personal-data columns and no comments: say so in the table
        rows.append({"field": "(none)", "source column": "",
                     "treatment": "the schema names no personal data and the export has no comments"})
    return pd.DataFrame(rows).set_index("field")


def funnel_table(log: dict[str, Any]) -> pd.DataFrame:
    """Rows left after each quality rule, in funnel order (for plots.funnel)."""
    return pd.DataFrame(log["funnel"])


def rule_summary(log: dict[str, Any]) -> str:
    """Plain-text rows flagged per rule and rows included (a stable, checkable headline)."""
    lines = [f"{rule:<15}{r['rows']:>8,} rows flagged" for rule, r in log["rules"].items()]
    lines.append(f"{'included':<15}{log['included']:>8,} of {log['input']['rows']:,} rows")
    return "\n".join(lines)
