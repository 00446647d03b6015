"""Cleaning: an export in, one audited response table out (`cx clean`, notebook 01).

Rows are never deleted: each quality rule sets a flag, `include` is True when none fired, and the
cleaning log counts rows per rule. Personal data is dropped or replaced by salted hash keys before
anything is written; emails and phone numbers inside comments are masked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import catalog, paths
from helpers import inputs as registry
from helpers.errors import DataError
from helpers.ingest import fields, quality, readers, side_tables
from helpers.ingest import schema as schema_mod
from helpers.ingest.pii_extra import MaskContext
from helpers.ingest.pii_text import PLACEHOLDER
from helpers.ingest.privacy import (
    end_helpers,
    hash_keys,
    holds_contact,
    load_salt,
    mask_field,
    masking_workers,
    start_hash_keys,
    start_in_worker,
    start_mask_comments,
)
from helpers.ingest.schema import Schema
from helpers.measures import Measure


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


def clean_responses(survey: readers.Survey, sch: Schema, salt: str, speeder_fraction: float | None = None,
                    min_grid_items: int | None = None, keep_finished: bool = False, *,
                    context: Callable[[], MaskContext] | None = None) -> CleanResult:
    """Map an export to the schema's fields, flag quality problems and remove personal data.

    `keep_finished` keeps the export's ``finished`` field (:func:`run_parts` needs it to rank
    duplicates across parts); it is dropped otherwise. `context` gives the masking context
    (:func:`mask_context`: the programme's allow-list and the accounts' company names, masked in
    comments like personal data; it may wait for one built meanwhile); without it, the schema's
    allow-list and no company names. The export's columns are let go as their fields are read
    (``survey.data`` loses them: the export as read is most of a large cleaning's peak).
    """
    raw = survey.data
    n, width = raw.shape
    if n == 0:
        raise DataError("no responses (only header rows)", file=survey.path, expected="at least one data row")
    mapped = fields.mapped(survey, sch)
    hashed = {name: start_hash_keys(raw[source], salt) for name, source in _hashed(survey, sch)}
    out, oor, answers = fields.read_fields(survey, sch, mapped, let_go=_read_once(survey, sch, mapped))
    log: dict[str, Any] = {"input": {"file": Path(survey.path).name, "format": survey.format,
                                     "encoding": survey.encoding, "rows": n, "columns": width,
                                     "reader_notes": list(survey.notes)},
                           "schema": sch.source, "answers": answers}
    _tidy_text(out, sch)
    if "response_id" not in out:  # exports without an id: the row number in the file
        out["response_id"] = pd.Series([f"row{i + 1}" for i in range(n)], index=raw.index, dtype="string")

    # Personal data: hash or drop; only keys leave this function. The comments are masked in
    # worker processes meanwhile (nothing below reads them); the identifiers were hashed in
    # helper workers while the fields were read.
    masking_context = context() if context else MaskContext.build(sch.privacy_keep, ())
    for name, keys in hashed.items():
        out[name] = keys()
    end_helpers()
    masked_comments = start_mask_comments(out["comment"], masking_context) if "comment" in out else None
    try:
        _mask_text_fields(out, sch, salt, masking_context)
        _derive(out, sch, str(survey.path))
        _replicate_weights(raw, sch, out, str(survey.path))
        quality.flag(out, sch, oor, speeder_fraction, min_grid_items)
        comp = _competitors(raw, survey, sch, out)
    finally:
        if masked_comments is not None:
            out["comment"] = masked_comments()
    log.update(_log(out, sch, survey, mapped))
    out = out.drop(columns=["status", "distribution_channel", "started_at",
                            *([] if keep_finished else ["finished"])], errors="ignore")
    return CleanResult(out.reset_index(drop=True), comp, log, schema=sch)


def _read_once(survey: readers.Survey, sch: Schema, mapped: dict[str, str]) -> set[str]:
    """The export's columns nothing reads after their fields: every mapped column but those the
    personal data, the competitors and the design also name (found as the later look-ups find
    them, among all columns: those look-ups then find the same ones)."""
    columns = list(survey.data.columns)
    later = {schema_mod.locate(spec, columns, survey.questions, survey.import_ids)
             for specs in (sch.personal, sch.competitors) for spec in specs.values()}
    if sch.design:
        later |= {sch.design["weights"],
                  *(c for c in columns if fnmatch.fnmatchcase(str(c), sch.design["replicate_weights"]))}
    return set(mapped.values()) - later


def _hashed(survey: readers.Survey, sch: Schema) -> list[tuple[str, str]]:
    """The personal fields kept as hash keys, with the export's column of each."""
    located = [(name, schema_mod.locate(spec, list(survey.data.columns), survey.questions,
                                        survey.import_ids))
               for name, spec in sch.personal.items() if spec.action == "hash"]
    return [(name, source) for name, source in located if source is not None]


#: Fields that identify a response, an account or a rep: a value holding contact details is
#: replaced by its salted hash key (the value still links the same rows).
_ID_FIELDS = ("response_id", "account_id", "rep_id")
_NOT_FREE_TEXT = ("market", "wave", "role", "status", "distribution_channel", "finished")


def _mask_text_fields(out: pd.DataFrame, sch: Schema, salt: str, context: MaskContext) -> None:
    """Personal data in every kept text field but the comment (:func:`clean_responses` masks
    it): free text masked in full; segment values masked where rare (a value many respondents
    share is no one's name, so only contact details are masked in it); ids holding contact
    details hashed."""
    for name in out.columns:
        if name == "comment" or name in sch.personal or name in _NOT_FREE_TEXT \
                or not (pd.api.types.is_string_dtype(out[name]) or out[name].dtype == object):
            continue
        if name in _ID_FIELDS:
            contact = holds_contact(out[name])
            if contact.any():
                out[name] = out[name].where(~contact, hash_keys(out[name], salt))
        else:
            out[name] = mask_field(out[name], context)


def _replicate_weights(raw: pd.DataFrame, sch: Schema, out: pd.DataFrame, path: str) -> None:
    """The schema's ``design``: the vendor's final weight as ``vendor_weight`` and its
    replicate weight columns as ``repw_1..repw_R`` (numbers, none missing)."""
    if not sch.design:
        return
    cols = [c for c in raw.columns if fnmatch.fnmatchcase(str(c), sch.design["replicate_weights"])]
    weight = sch.design["weights"]
    if weight not in raw.columns or not cols:
        raise DataError(f"design: no column {weight!r} or none matching "
                        f"{sch.design['replicate_weights']!r}", file=path,
                        expected="the vendor's weight and replicate weight columns")
    for k, col in enumerate([weight, *cols]):
        values = pd.to_numeric(raw[col], errors="coerce")
        if values.isna().any() or (values < 0).any():
            raise DataError("replicate weight missing, negative or not a number", file=path,
                            column=str(col), row=int(np.flatnonzero(
                                values.isna().to_numpy() | (values < 0).to_numpy())[0]),
                            expected="a weight >= 0 on every row")
        out["vendor_weight" if k == 0 else f"repw_{k}"] = values.to_numpy(float)


def _tidy_text(out: pd.DataFrame, sch: Schema) -> None:
    """Roles as codes; "NA", "n/a", "-99" in a comment field mean no comment."""
    if "role" in out:
        out["role"] = fields.role_codes(out["role"])
    if "comment" in out:
        out["comment"] = out["comment"].mask(out["comment"].str.lower().isin(sch.not_applicable))


def _derive(out: pd.DataFrame, sch: Schema, export: str) -> None:
    """Market (by the schema's rule), wave, journey durations and the NPS group of each row."""
    out["market"] = market_of(out, sch.market_rule, export, rule_at=sch.where("market_rule"))
    if "wave" not in out:
        if "submitted_at" in out and out["submitted_at"].notna().any():
            period = schema_mod.WAVE_PERIODS[sch.waves]
            out["wave"] = _wave_labels(out["submitted_at"], period)
        else:  # no date at all: one wave
            out["wave"] = pd.Series("all", index=out.index, dtype="string")
    fields.journey_durations(out)
    if "duration_s" in out:
        out["duration_s"] = out["duration_s"].astype(float)
    if "ltr" in out:
        ltr = out["ltr"]
        group = np.select([ltr >= 9, ltr >= 7, ltr >= 0], [0, 1, 2], default=3)
        out["nps_group"] = quality.labels(["promoter", "passive", "detractor", None], group, out.index)


def market_of(df: pd.DataFrame, rule: dict[str, str], where: str = "the export", *,
              rule_at: str = "market_rule") -> pd.Series:
    """"B2B" / "B2C" per row by the schema's market rule (``rule_at`` names it); a value that is
    neither is an error naming the file it came from (`where`), its column and row."""
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
                        expected=f"B2B or B2C (or another market_rule: {rule_at})")
    return m.fillna("B2C").rename("market")


def _wave_labels(dates: pd.Series, period: str) -> pd.Series:
    """'2026Q3' (quarter), '2026-07' (month), '2026H2' (half) or '2026' (year) per date."""
    if period == "2Q":
        half = np.where(dates.dt.month <= 6, "H1", "H2")
        labels = dates.dt.year.astype("Int64").astype("string") + pd.Series(half, index=dates.index)
        return labels.where(dates.notna()).astype("string")
    return dates.dt.to_period(period).astype("string").where(dates.notna())


def _competitors(raw: pd.DataFrame, survey: readers.Survey, sch: Schema, out: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for vendor, spec in sch.competitors.items():
        col = schema_mod.locate(spec, list(raw.columns), survey.questions, survey.import_ids)
        if col is None:
            continue
        vals = fields.parse_column(raw[col], (0.0, 10.0), None, sch.not_applicable, whole=True).values
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
    rules = {f.removeprefix("flag_"): {"rows": int(out[f].sum()), "reason": why}
             for f, why in quality.rules(sch)}
    funnel = [{"step": "raw rows", "rows": n}]
    remaining = np.ones(n, bool)
    for f, _ in quality.RULES:
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
# The whole step, shared by `cx clean` and notebook 01
# --------------------------------------------------------------------------------------------
def prepare(raw_path: str | os.PathLike[str], schema_path: str | os.PathLike[str] = schema_mod.DEFAULT_SCHEMA,
            *, inputs: Mapping[str, str | os.PathLike[str] | None] | None = None, format: str = "auto",
            encoding: str | None = None, speeder_fraction: float | None = None) -> CleanResult:
    """Read and clean an export and its optional inputs in memory (``cx check``; :func:`run`
    writes the result). `inputs` maps optional inputs (helpers.inputs) to their files; "" or
    None is not provided. Without an account master, the accounts named in the responses are
    used."""
    files = side_tables.files_given(inputs)
    result = _clean_export(paths.resolve(raw_path), schema_path, files, format, encoding, speeder_fraction)
    for _ in read_side_tables(result, files):
        pass
    return result


def _clean_export(raw: Path, schema_path: str | os.PathLike[str], files: Mapping[str, str], format: str,
                  encoding: str | None, speeder_fraction: float | None) -> CleanResult:
    """The export read and cleaned, the export as read freed (the peak of a large clean)."""
    check_memory(raw)
    sch = schema_mod.load(schema_path)
    salt = load_salt()
    context = start_in_worker(mask_context, sch.privacy_keep, files)  # meanwhile, where it can
    survey = readers.read_survey(raw, format=format, encoding=encoding)
    result = clean_responses(survey, sch, salt, speeder_fraction, context=context)
    del survey
    quality.require_kept(result.log, sch)
    pa.default_memory_pool().release_unused()
    return result


def read_side_tables(result: CleanResult, files: Mapping[str, str]) -> Iterator[str]:
    """Read the optional inputs given (`files`) into ``result.side_tables`` one by one, in
    registry order (the cleaning log lists them so), naming each once it is in; then log them.
    Without an account master, the accounts named in the responses are used."""
    salt = load_salt()
    for name in registry.INPUTS:
        if name in files:
            result.side_tables[name] = side_tables.read_input(registry.INPUTS[name], paths.resolve(files[name]), salt)
        elif name == "accounts" and "account_id" in result.responses:
            result.side_tables[name] = side_tables.accounts_from_responses(result.responses)
        elif name == "competitor_ratings" and len(result.competitor_ratings):
            result.side_tables[name] = result.competitor_ratings
        else:
            continue
        yield name
    result.log["side_tables"] = {k: int(len(v)) for k, v in result.side_tables.items()}
    result.log["accounts_from"] = ("account master" if "accounts" in files else
                                   "responses" if "accounts" in result.side_tables else None)


#: Columns of an account master that hold the customer's company name.
COMPANY_COLUMNS = ("account_name", "company", "company_name", "customer_name", "name")


def mask_context(keep: Iterable[str], files: Mapping[str, str]) -> MaskContext:
    """The masking context of a programme: its allow-list and its customers' company names."""
    return MaskContext.build(keep, company_names(files))


def company_names(files: Mapping[str, str]) -> list[str]:
    """The customers' company names in the account master (when given), to mask in comments."""
    if "accounts" not in files:
        return []
    src = paths.resolve(files["accounts"])
    names: set[str] = set()
    for f in (sorted(q for q in src.iterdir() if not q.name.startswith(".")) if src.is_dir() else [src]):
        table = side_tables.read_table(f)
        col = next((c for c in COMPANY_COLUMNS if c in table), None)
        names.update([] if col is None else table[col].dropna().astype(str))
    return sorted(names)


def preflight(raw_path: str | os.PathLike[str], schema_path: str | os.PathLike[str] = schema_mod.DEFAULT_SCHEMA,
              format: str = "auto", encoding: str | None = None, rows: int = 20_000, *,
              speeder_fraction: float | None = None) -> CleanResult | None:
    """Check an export against its schema before a run starts: the schema itself, every column it
    names, and the scales of its numeric columns (on the first `rows` responses). Raises the
    same one-line :class:`DataError` as the clean would, so a bad schema stops `cx run` before
    anything is written. An export of at most `rows` responses is cleaned too (in memory, as the
    run will: :func:`require_kept`) and returned; None for a larger one."""
    sch = schema_mod.load(schema_path)
    raw = paths.resolve(raw_path)
    if raw.is_dir():   # a folder of parts: the first part stands for them all
        from helpers.ingest import parts
        raw = parts.part_files(raw)[0]
    if layout := readers.text_layout(raw, format, encoding):
        from helpers.ingest import parts  # a text export: only its first records are read
        with tempfile.TemporaryDirectory(prefix=".cx-head-") as tmp:  # one more: is that all?
            if not parts.split_export(raw, Path(tmp), layout, rows=rows + 1, limit=1).rows_before:
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
    for name, col in fields.mapped(survey, sch).items():
        spec = sch.fields.get(name) or sch.drivers[name]
        if spec.type in ("score", "number"):
            fields.read_numbers(head[col], spec, sch, col, survey.path)
    if len(survey.data) > rows or raw != paths.resolve(raw_path):  # not the whole export
        return None
    result = clean_responses(survey, sch, load_salt(), speeder_fraction)
    quality.require_kept(result.log, sch)
    return result


#: Memory to clean one export file in one go, per byte of the file (about 5 for a CSV export
#: of a million responses: the text, the parsed columns, the cleaned table).
CLEAN_MEMORY_FACTOR = 5.0
#: From this export size on, the comment-masking workers are forked before the export is read.
WARM_MASKING_FROM_BYTES = 32 * 2**20


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
    files = side_tables.files_given(inputs)
    raw = paths.resolve(raw_path)
    if raw.is_dir():   # a folder of parts: one part in memory at a time
        from helpers.ingest import parts
        return parts.run_parts(raw_path, schema_path, out_dir, inputs=files,
                               options=parts.CleanOptions(format, encoding, speeder_fraction))
    if needs_parts(raw) and (layout := readers.text_layout(raw, format, encoding)):
        from helpers.ingest import parts  # too large for memory: streamed into parts
        return parts.run_file(raw, layout, schema_path, out_dir, inputs=files, format=format,
                              speeder_fraction=speeder_fraction)
    from concurrent.futures import ThreadPoolExecutor

    from helpers.ingest import provenance  # which export and schema, for stale-data checks
    with ThreadPoolExecutor(1) as hashing:  # the export's SHA-256 (without the GIL) meanwhile
        built_from = hashing.submit(provenance.built_from, raw, schema_path)
        large = raw.stat().st_size >= WARM_MASKING_FROM_BYTES
        with masking_workers() if large else contextlib.nullcontext():
            result = _clean_export(raw, schema_path, files, format, encoding, speeder_fraction)

    def side_tables_then_provenance() -> Iterator[str]:
        yield from read_side_tables(result, files)
        result.log["built_from"] = built_from.result()
    publish(result, out_dir, reading=side_tables_then_provenance())
    return result


def publish(result: CleanResult, out_dir: str | os.PathLike[str] = "data/processed", *,
            reading: Iterable[str] = ()) -> Path:
    """Write a cleaning result into `out_dir` as one step, under the project's writer lock.
    `reading` (e.g. :func:`read_side_tables`) reads more side tables into `result`, each
    named once read, while the tables before it are written.

    Every table, the schema copy and the log are written to a staging folder first and swapped
    in together only when all were written, so a full or read-only disk leaves `out_dir` as it
    was; a report run in progress (which reads `out_dir`) makes this raise
    :class:`helpers.catalog.LockedError`. Side tables of inputs not provided this time are then
    removed, so no earlier programme's table is read by mistake.
    """
    out = catalog.refuse_raw(out_dir)
    with catalog.writer_lock():
        with catalog.staged_folder(out) as stage:
            _write_tables(itertools.chain(
                [(stage / "responses.parquet", result.responses)],
                ((stage / registry.INPUTS[name].file, result.side_tables[name])
                 for name in itertools.chain(list(result.side_tables), reading))))
            if result.schema is not None:
                catalog.atomic_write_bytes(stage / "survey.yaml",
                                           paths.resolve(result.schema.source).read_bytes())
            catalog.save_json(result.log, stage / "cleaning_log.json")
        for name, inp in registry.INPUTS.items():
            if name not in result.side_tables:
                (out / inp.file).unlink(missing_ok=True)
    return out


def _write_tables(tables: Iterable[tuple[Path, pd.DataFrame]], threads: int = 2) -> None:
    """Write each table to its file as it comes, two at a time (Arrow encodes and compresses a
    table without holding the GIL: the side tables are read and written while the responses
    are); the first error is raised once every write has ended."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        writes = [pool.submit(catalog.atomic_write_table, df, target) for target, df in tables]
    for w in writes:
        w.result()


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


def ltr_distribution(responses: pd.DataFrame, measure: Measure | None = None) -> pd.DataFrame:
    """Counts of each answer to the headline `measure` (default: the LTR, 0-10) among all
    readable rows and among included rows."""
    key, (lo, hi) = (measure.key, measure.scale) if measure else ("ltr", (0.0, 10.0))
    scores = pd.Index(range(int(lo), int(hi) + 1), name=key)
    ltr = responses[key]
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


def answer_warnings(log: dict[str, Any], share: float = 0.02) -> list[str]:
    """One line per answer column that is empty in every row, or with many answers that could
    not be read (more than `share` of the rows and at least 5): they are missing in every
    figure, so say which and why."""
    rows = max(int(log["input"]["rows"]), 1)
    out = []
    for name, a in log.get("answers", {}).items():
        n = int(a.get("unreadable", 0))
        if a.get("answered", 1) == 0 and not n:
            out.append(f"warning: {name} (column {a['column']!r}): no answer in any of the {rows:,} "
                       "rows, so it is left out of every figure; check that the schema maps the "
                       "right column")
        if n >= 5 and n > share * rows:
            seen = ", ".join(repr(e) for e in a.get("examples", []))
            out.append(f"warning: {name} (column {a['column']!r}): {n:,} of {rows:,} answers could "
                       f"not be read as numbers and count as missing, e.g. {seen}; add them to a "
                       "label set under answers.label_sets of the schema and name it in the "
                       "field's `labels:`")
    return out
