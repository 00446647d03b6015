"""Field parsing for cleaning: answers read as numbers, dates read in one order, roles as codes.

Each function reads one export column the way the schema describes it; the quality rules
(:mod:`helpers.ingest.quality`) and the cleaning step (:mod:`helpers.ingest.clean`) use them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.errors import DataError
from helpers.ingest import readers
from helpers.ingest import schema as schema_mod
from helpers.ingest.pii_text import mask_text
from helpers.ingest.schema import Schema

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
    codes, uniq = pd.factorize(roles.astype("string"))
    text = pd.Series(uniq, dtype="string").str.strip()
    key = text.str.lower().str.replace(r"[\s_/-]+", " ", regex=True)
    named = key.map(_ROLE_CODE).fillna(text).astype("string").array
    return pd.Series(named.take(codes, allow_fill=True), index=roles.index, name=roles.name,
                     dtype="string")


def mapped(survey: readers.Survey, sch: Schema) -> dict[str, str]:
    """Export column of every field and driver item the schema names (each must exist)."""
    cols = list(survey.data.columns)
    found: dict[str, str] = {}
    for section, specs in (("fields", sch.fields), ("drivers", sch.drivers)):
        for name, spec in specs.items():
            col = schema_mod.locate(spec, cols, survey.questions, survey.import_ids)
            if col is None:
                source = repr(spec.source) if len(spec.source) <= 60 else f"the {section}.{name} pattern"
                raise DataError(f"{section}.{name}: no column matches {source} in "
                                f"{Path(survey.path).name}", file=sch.where(f"{section}.{name}"),
                                expected=f"a column of the export (it has {_some(cols)}); fix or "
                                         "remove this entry")
            found[name] = col
    return found


def read_fields(survey: readers.Survey, sch: Schema, found: dict[str, str], *,
                let_go: Collection[str] = ()) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Every mapped field (`found`: field -> column) read by its type: numbers on their scale
    (labels and not-applicable codes read), dates, text (SPSS categories by their value labels).
    Returns the fields, which rows hold an answer outside its scale, and what had to be
    interpreted per field. The columns in `let_go` are dropped from ``survey.data`` once read
    (the export as read is most of a large cleaning's memory). (Read one at a time: two
    threads gained little on two busy cores and left 60 MB more at the peak of a 1M clean.)"""
    raw = survey.data
    out = pd.DataFrame(index=raw.index)
    oor = np.zeros(len(raw), bool)
    answers: dict[str, Any] = {}
    named = survey.category_labels()
    reads_left = Counter(found.values())
    for name, col in found.items():
        values, outside, answer = _read_field(name, col, raw[col], sch, survey.path, named.get(col))
        out[name] = values
        oor |= outside
        if answer is not None:
            answers[name] = answer
        reads_left[col] -= 1
        if col in let_go and not reads_left[col]:
            del raw[col]
    return out, oor, answers


def _read_field(name: str, col: str, values: pd.Series, sch: Schema, path: object,
                labels: dict[Any, str] | None) -> tuple[pd.Series, np.ndarray | bool, dict[str, Any] | None]:
    """One field of :func:`read_fields`: its values, rows outside its scale, what was interpreted."""
    spec = sch.fields.get(name) or sch.drivers[name]
    if spec.type in ("score", "number", "boolean"):
        parsed = read_booleans(values) if spec.type == "boolean" else read_numbers(values, spec, sch, col, path)
        outside = parsed.out_of_range.to_numpy(bool)
        return parsed.values, outside, {
            "column": col, "answered": int(parsed.values.notna().sum()),
            "labels_mapped": parsed.labels_mapped, "not_applicable": parsed.not_applicable,
            "unreadable": parsed.unparseable, "out_of_range": int(outside.sum()),
            "examples": [mask_text(e) for e in unreadable_examples(values, parsed, sch)]}
    if spec.type == "datetime":
        dates = dates_checked(values, path, col)
        if dates.isna().all() and values.notna().any():
            raise DataError(f"fields.{name}: no readable dates in column {col!r}",
                            file=sch.where(f"fields.{name}"), expected="dates/times, e.g. 2026-03-31")
        bad = unreadable_dates(values, dates)
        # an impossible date is a value outside its scale: flagged and logged
        return dates, bad, {"column": col, "labels_mapped": 0, "not_applicable": 0,
                            "unreadable": int(bad.sum()), "out_of_range": 0} if bad.any() else None
    if labels and name == "wave":   # text; SPSS categories by their value labels ("Enterprise", not 3)
        labels = readers.in_code_order(labels)  # waves keep their time order
    text = values.map(labels) if labels else values
    return text.astype("string").str.strip().replace("", pd.NA), False, None


def _some(cols: list[str], k: int = 8) -> str:
    shown = ", ".join(repr(c if len(c) <= 40 else c[:39] + "…") for c in cols[:k])
    return shown + (f" and {len(cols) - k} more" if len(cols) > k else "")


def parse_column(raw: pd.Series, scale: tuple[float, float] | None, labels: dict[str, float] | None,
                 not_applicable: frozenset[str], whole: bool = False) -> schema_mod.ParsedScores:
    """`schema.parse_scores`, evaluated once per distinct answer and spread back to the rows.

    An answer column holds a handful of distinct texts; parsing each once and weighting what was
    interpreted in it (:func:`schema.score_masks`) by how many rows hold it gives the same
    values, flags and counts as parsing every row (parsing is element-wise) at a fraction of the
    cost. Columns whose values are mostly distinct are parsed directly.
    """
    codes, uniq = pd.factorize(raw, use_na_sentinel=False)
    if len(uniq) > len(raw) // 2:
        return schema_mod.parse_scores(raw, scale, labels, not_applicable, whole=whole)
    num, na, mapped, bad, oor = schema_mod.score_masks(pd.Series(uniq, dtype=raw.dtype), scale, labels,
                                                       not_applicable, whole=whole)
    rows = np.bincount(codes, minlength=len(uniq))
    read, outside = num.to_numpy(float)[codes], oor.to_numpy(bool)[codes]
    return schema_mod.ParsedScores(
        pd.Series(np.where(outside, np.nan, read), index=raw.index, name=raw.name), int(rows[mapped].sum()),
        int(rows[na].sum()), int(rows[bad].sum()), pd.Series(outside, index=raw.index),
        unscaled=pd.Series(read, index=raw.index, name=raw.name))


def parse_datetimes(s: pd.Series) -> pd.Series:
    """Text -> datetimes, unreadable values NaT.

    The export's usual explicit formats are tried first (vectorised; a whole column either fits
    or raises); anything else falls back to pandas' per-value ``format="mixed"`` parsing. A
    column with few distinct values (dates without time) is parsed once per distinct value.
    """
    return by_distinct(s, _parse_datetimes)


def dates_checked(s: pd.Series, file: object, column: str) -> pd.Series:
    """:func:`parse_datetimes`, its one-line error naming the file and column."""
    try:
        return parse_datetimes(s)
    except DataError as exc:
        raise DataError(str(exc), file=file, column=column) from None


def unreadable_dates(text: pd.Series, parsed: pd.Series) -> np.ndarray:
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


def by_distinct(s: pd.Series, to_dates: Callable[[pd.Series], pd.Series]) -> pd.Series:
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


def read_numbers(s: pd.Series, spec: schema_mod.FieldSpec, sch: Schema, col: str,
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
    values = parsed.unscaled if parsed.unscaled is not None else \
        parse_column(s, None, labels, sch.not_applicable).values
    lo, hi = spec.scale
    outside = int(((values < lo) | (values > hi)).sum())
    if outside > 0.2 * answered:
        raise DataError(f"{section}.{spec.name}: column {col!r} of {name} holds {_span(values)}, "
                        f"{outside:,} of {answered:,} answers outside the scale [{lo:g}, {hi:g}]",
                        file=where, expected="the scale the question was asked on: fix `scale`")
    if spec.name == "ltr" and values.max() <= 5:
        raise DataError(f"fields.ltr: column {col!r} of {name} holds {_span(values)} only", file=where,
                        expected="a 0-10 likelihood-to-recommend question (NPS needs 0-10)")
    return parsed


def _span(values: pd.Series) -> str:
    """The smallest and largest number read, e.g. "values 1 to 7" (for a scale error)."""
    return f"values {values.min():g} to {values.max():g}"


#: Answers of a yes/no field in the usual languages (en, de, fr, es, it, nl, pt) -> 1 / 0.
BOOLEAN_WORDS: dict[str, float] = {
    **dict.fromkeys(("1", "1.0", "true", "yes", "y", "ja", "oui", "si", "sí", "sim", "waar",
                     "vrai", "wahr", "verdadero", "vero", "verdadeiro"), 1.0),
    **dict.fromkeys(("0", "0.0", "false", "no", "n", "nein", "non", "nee", "não", "nao",
                     "falsch", "faux", "falso", "onwaar"), 0.0),
}


def read_booleans(s: pd.Series) -> schema_mod.ParsedScores:
    """A yes/no field as 1.0 / 0.0 (True/False, yes/no, ja/nein, oui/non, 1/0; blank -> NaN);
    other answers are NaN and counted as unreadable."""
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        values = pd.to_numeric(s, errors="coerce").astype(float)
        bad = values.notna() & ~values.isin([0.0, 1.0])
        return schema_mod.ParsedScores(values.where(~bad), unparseable=int(bad.sum()),
                                       out_of_range=pd.Series(False, index=s.index))
    text = s.astype("string").str.strip().str.lower()
    values = text.map(BOOLEAN_WORDS).astype(float)
    bad = text.notna() & (text != "") & values.isna()
    return schema_mod.ParsedScores(values, unparseable=int(bad.sum()),
                                   out_of_range=pd.Series(False, index=s.index))


def unreadable_examples(raw: pd.Series, parsed: schema_mod.ParsedScores, sch: Schema,
                         k: int = 3) -> list[str]:
    """The most frequent answers that could not be read as numbers (for the warning)."""
    if not parsed.unparseable:
        return []
    text = raw.astype("string").str.strip()
    left = (parsed.values.isna() & ~parsed.out_of_range & text.notna() & (text != "")
            & ~text.str.lower().isin(sch.not_applicable)).fillna(False).to_numpy(bool)
    return [str(v)[:60] for v in text[left].value_counts().index[:k]]


def journey_durations(out: pd.DataFrame) -> None:
    """Go-live slip, implementation length and the quarter-end flag, from the dates present."""
    if {"go_live_date", "go_live_planned"} <= set(out):
        out["go_live_slip_days"] = (out["go_live_date"] - out["go_live_planned"]).dt.days.astype(float)
    if {"go_live_date", "deal_close_date"} <= set(out):
        out["impl_length_days"] = (out["go_live_date"] - out["deal_close_date"]).dt.days.astype(float)
    if "deal_close_date" in out:
        out["quarter_end_deal"] = quarter_end(out["deal_close_date"])


def quarter_end(dates: pd.Series, days: int = 14) -> pd.Series:
    """True when a date lies in the last `days` days of its calendar quarter (missing stays missing)."""
    d = pd.to_datetime(dates)
    codes, uniq = pd.factorize(d)   # a few thousand distinct days: each judged once
    when = pd.Series(uniq)
    end = when.dt.to_period("Q").dt.end_time.dt.normalize()
    near = np.append(((end - when.dt.normalize()).dt.days < days).to_numpy(bool), False)
    res = pd.Series(near[codes], index=d.index, name=d.name)   # missing (code -1): False
    return res.astype("boolean").where(d.notna())
