"""Cleaning an export too large to hold at once: a folder of parts, one part in memory at a time.

A large programme arrives as several files (``cx sample --rows 20000000`` writes
``survey_export/part-NNN.csv``; platforms export by date range). :func:`run_parts` cleans each
part with the same code as one file (:func:`helpers.ingest.clean.clean_responses`) and writes it
into the staging folder; then the two rules that look across rows are settled over all parts
out of core by DuckDB: the speeder median of every part's durations, and duplicates (the same
contact and wave in any two parts: the latest complete submission is kept, as in one file).
Each part's flags, ``include`` and ``exclusion_reason`` are then set and the cleaning log is
summed: a cleaned part waits for that as an uncompressed Arrow file (about 0.6 GB of disk per
million responses, no decoding), so each part's parquet is encoded once. One CSV/TSV export file
too large to clean at once is first streamed into parts of :data:`PART_ROWS` responses
(:func:`run_file`); its errors then name the file's own rows. Parts are cleaned in forked
processes, as many at once as the cores and ``memory_budget_gb`` allow (each about
``clean.CLEAN_MEMORY_FACTOR`` times its file), plus DuckDB's limit; the output is ``responses.parquet`` as a
folder of parts (pandas, pyarrow and DuckDB read it as one table). Nothing is published unless
every part was read: a malformed row anywhere is one line naming the file and the row, and
``data/processed`` stays as it was (catalog.staged_folder under the writer lock).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers import catalog, config, paths
from helpers.errors import DataError
from helpers.ingest import clean, privacy, provenance, quality, readers, side_tables
from helpers.ingest import schema as schema_mod
from helpers.ingest.pii_text import PLACEHOLDER
from helpers.ingest.privacy import load_salt
from helpers.ingest.schema import Schema
from helpers.inputs import INPUTS, Input

T = TypeVar("T")
PART_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet")
#: DuckDB's memory for the cross-part rules (it spills to disk beyond it).
DUCKDB_MEMORY_GB = 4.0
#: Responses per part when one export file is streamed into parts.
PART_ROWS = 1_000_000
#: The staging folder's cleaned parts before the settling (removed after it).
SETTLING = ".settling"


@dataclass(frozen=True)
class CleanOptions:
    """How the parts are read and cleaned: the export's format and encoding (None: detected) and
    the speeder cut as a fraction of the median duration (None: the schema's)."""

    format: str = "auto"
    encoding: str | None = None
    speeder_fraction: float | None = None


@dataclass(frozen=True)
class Origin:
    """The one export file parts were cut from: its name, encoding and the responses before
    each part (so a part's row r is row r + rows_before[k] of the file)."""

    file: Path
    encoding: str
    rows_before: tuple[int, ...]


def split_export(p: Path, folder: Path, layout: readers.TextLayout, rows: int = PART_ROWS,
                 limit: int | None = None) -> Origin:
    """Stream a CSV/TSV export into ``folder/part-NNNN.csv`` of `rows` responses each (UTF-8,
    every part with the export's header rows), one batch in memory at a time; at most `limit`
    parts. Quoted line breaks stay inside their field."""
    before: list[int] = []
    done = 0
    limits = config.load_limits()
    csv.field_size_limit(int(limits.line_mb * 1e6))
    with layout.open(p) as fh:
        reader = csv.reader(fh, delimiter=layout.delimiter)
        try:
            header = list(itertools.islice(reader, layout.header_rows))
            while limit is None or len(before) < limit:
                batch = list(itertools.islice(reader, rows))
                if not batch:
                    break
                with open(folder / f"part-{len(before):04d}.csv", "w", encoding="utf-8",
                          newline="") as out:
                    writer = csv.writer(out, delimiter=layout.delimiter)
                    writer.writerows(header)
                    writer.writerows(batch)
                before.append(done)
                done += len(batch)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DataError(f"a field near line {reader.line_num + 1} is longer than "
                                f"{limits.line_mb:,g} MB", file=p,
                                expected=limits.refusal("line_mb") + " MB") from None
            raise DataError(f"unreadable text near line {reader.line_num + 1} ({exc})", file=p,
                            expected=f"{layout.encoding} text, records separated by "
                                     f"{layout.delimiter!r}") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"unreadable text near line {reader.line_num + 1} ({exc})", file=p,
                            expected=f"{layout.encoding} text, records separated by "
                                     f"{layout.delimiter!r}") from None
    return Origin(p, layout.encoding, tuple(before))


def run_file(raw_path: str | os.PathLike[str], layout: readers.TextLayout,
             schema_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
             inputs: Mapping[str, str] | None = None, format: str = "auto",
             speeder_fraction: float | None = None) -> clean.CleanResult:
    """:func:`run_parts` for one CSV/TSV export too large to clean at once: streamed into
    parts in a temporary folder beside `out_dir` (removed afterwards), cleaned part by part."""
    p, out = paths.resolve(raw_path), paths.resolve(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cx-parts-", dir=out.parent) as tmp:
        origin = split_export(p, Path(tmp), layout, rows=PART_ROWS)
        return run_parts(tmp, schema_path, out_dir, inputs=inputs,
                         options=CleanOptions(format, None, speeder_fraction), origin=origin)


def part_files(folder: Path) -> list[Path]:
    """The parts of an export in a folder, in name order (hidden files ignored)."""
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in PART_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise DataError("folder holds no export parts", file=folder,
                        expected=f"files ending in {', '.join(PART_SUFFIXES)}")
    return files


@dataclass
class _Tally:
    """What the final pass counts over every part."""

    rules: dict[str, int] = field(default_factory=lambda: {f: 0 for f, _ in quality.RULES})
    funnel: list[int] = field(default_factory=lambda: [0] * (len(quality.RULES) + 1))
    ltr: list[np.ndarray] = field(default_factory=list)
    include: list[np.ndarray] = field(default_factory=list)
    masked: int = 0

    def add(self, other: _Tally) -> None:
        """Count `other` (a part's tally) in."""
        for f, n in other.rules.items():
            self.rules[f] += n
        self.funnel = [a + b for a, b in zip(self.funnel, other.funnel, strict=True)]
        self.ltr += other.ltr
        self.include += other.include
        self.masked += other.masked


def run_parts(raw_path: str | os.PathLike[str],
              schema_path: str | os.PathLike[str] = schema_mod.DEFAULT_SCHEMA,
              out_dir: str | os.PathLike[str] = "data/processed", *,
              inputs: Mapping[str, str] | None = None, options: CleanOptions = CleanOptions(),
              origin: Origin | None = None) -> clean.CleanResult:
    """:func:`helpers.ingest.clean.run` for a folder of export parts (see the module docstring);
    `inputs` maps optional inputs to their files (a folder of parts is read part by part);
    `options` how to read and clean the parts; `origin` when the parts were cut from one file (:func:`run_file`).

    Returns a CleanResult whose ``responses`` hold only the headline measure (``ltr``) and
    ``include`` of every row
    (for the cleaning report's summaries; ``attrs["masked_comments"]`` counts the comments with
    personal data masked) and no side tables in memory: everything is in `out_dir`.
    """
    given = side_tables.files_given(inputs)
    folder = paths.resolve(raw_path)
    files = part_files(folder)
    sch = schema_mod.load(schema_path)
    salt = load_salt()
    frac = float(options.speeder_fraction if options.speeder_fraction is not None
                 else sch.quality["speeder_fraction"])
    out = catalog.refuse_raw(out_dir)
    with catalog.writer_lock():
        with catalog.staged_folder(out) as stage:
            logs, derived, masked = _clean_each(files, sch, salt, stage,
                                                dataclasses.replace(options, speeder_fraction=frac),
                                                given, origin=origin)
            tally = _settle(stage, sch, frac)
            tally.masked = masked
            log = _merged_log(folder, logs, tally, origin)
            quality.require_kept(log, sch)   # nothing kept: one line, nothing published
            provided = _side_tables(stage, salt, derived, given)
            log["side_tables"] = provided
            log["accounts_from"] = ("account master" if "accounts" in given else
                                    "responses" if "accounts" in provided else None)
            log["built_from"] = provenance.built_from(origin.file if origin else folder, schema_path)
            catalog.atomic_write_bytes(stage / "survey.yaml", paths.resolve(sch.source).read_bytes())
            catalog.save_json(log, stage / "cleaning_log.json")
        for name, inp in INPUTS.items():
            if name not in provided:
                _remove(out / inp.file)
    summary = pd.DataFrame({sch.headline: np.concatenate(tally.ltr),
                            "include": np.concatenate(tally.include)})
    summary.attrs["masked_comments"] = tally.masked
    return clean.CleanResult(summary, pd.DataFrame(), log, {}, schema=sch)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():   # a planted link is removed, never followed
        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)


def _clean_each(files: list[Path], sch: Schema, salt: str, stage: Path, options: CleanOptions,
                given: Mapping[str, str], origin: Origin | None
                ) -> tuple[list[dict[str, Any]], list[pd.DataFrame], int]:
    """Clean every part (rules within the part; the company names of the account master in
    `given` masked in comments) into the settling folder (:func:`_stage_part`); the logs, the
    accounts named in each part when no account master is given, and the masked comments."""
    context, need_accounts = clean.mask_context(sch.privacy_keep, given), "accounts" not in given
    (stage / SETTLING).mkdir()
    key_columns = {"duration_s", "flag_test", "submitted_at", "response_id", *sch.quality["duplicate_key"]}

    def clean_part(k: int) -> tuple[dict[str, Any], pd.DataFrame | None, int]:
        try:
            survey = readers.read_survey(files[k], format=options.format, encoding=options.encoding)
            res = clean.clean_responses(survey, sch, salt, options.speeder_fraction,
                                        keep_finished=True, context=lambda: context)
        except DataError as exc:
            raise exc.moved(origin.file, origin.rows_before[k]) if origin else exc from None
        del survey
        r = res.responses
        complete = r[sch.headline].notna().to_numpy() & ~r["flag_out_of_range"].to_numpy(bool)
        if "finished" in r:
            complete &= r["finished"].fillna(1).to_numpy(float) == 1
        r = r.drop(columns=["finished"], errors="ignore")
        _stage_part(stage / SETTLING, k, r, res.competitor_ratings, r[[
            c for c in r.columns if c in key_columns]].assign(_part=k, _row=np.arange(len(r)), _complete=complete))
        derived = side_tables.accounts_from_responses(r) if need_accounts and "account_id" in r else None
        return res.log, derived, _masked(r)

    done = _each_part(clean_part, len(files), _processes(files))
    return ([log for log, _, _ in done], [acc for _, acc, _ in done if acc is not None],
            sum(m for _, _, m in done))


def _stage_part(folder: Path, k: int, r: pd.DataFrame, ratings: pd.DataFrame, keys: pd.DataFrame) -> None:
    """A cleaned part kept for the settling: its responses and competitor ratings as Arrow files
    (read back without decoding; written to parquet once, settled), the columns the cross-part
    rules read (`keys`) as parquet for DuckDB."""
    _write_arrow(_table(r), folder / f"part-{k:04d}.arrow")
    if len(ratings):
        _write_arrow(_table(ratings), folder / f"ratings-{k:04d}.arrow")
    pq.write_table(_table(keys), folder / f"keys-{k:04d}.parquet", compression="snappy")


def _table(df: pd.DataFrame) -> pa.Table:
    """`df` as DataFrame.to_parquet(index=False) converts it (so the parquet bytes are the same)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    if df.attrs:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               "PANDAS_ATTRS": json.dumps(df.attrs)})
    return table


def _write_arrow(table: pa.Table, p: Path) -> None:
    with pa.OSFile(str(p), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_arrow(p: Path) -> pa.Table:
    with pa.memory_map(str(p)) as source:
        return pa.ipc.open_file(source).read_all()


def _masked(r: pd.DataFrame) -> int:
    """Comments with personal data masked (a placeholder in them)."""
    if "comment" not in r:
        return 0
    return int(r["comment"].astype("string").str.contains(PLACEHOLDER.pattern, regex=True, na=False).sum())


#: What the forked part processes run (set before they are forked, so they inherit it).
_TASK: list[Callable[[int], Any] | None] = [None]


def _each_part(task: Callable[[int], T], parts: int, processes: int) -> list[T]:
    """``task(k)`` for every part k, in order: here, or in `processes` forked processes (each
    masks its comments alone: the parts are the parallel work) when more than one."""
    if processes < 2:
        return [task(k) for k in range(parts)]
    _TASK[0] = task
    try:
        pool = privacy.forked_pool(processes)
        try:
            return list(pool.map(_forked_task, range(parts)))
        finally:
            pool.shutdown(cancel_futures=True)
    finally:
        _TASK[0] = None


def _forked_task(k: int) -> Any:
    privacy.MASKING_PROCESSES = 1
    task = _TASK[0]
    assert task is not None, "a part process forked without its task"
    return task(k)


def _processes(files: list[Path]) -> int:
    """Parts cleaned at once: one per core, as many as fit in memory_budget_gb (each needs about
    CLEAN_MEMORY_FACTOR times its largest file, parquet counted unpacked); 1 where the platform
    cannot fork."""
    if len(files) < 2 or not privacy.can_fork():
        return 1
    largest = max(_unpacked_bytes(f) for f in files)
    need_gb = largest * clean.CLEAN_MEMORY_FACTOR / 1e9
    fit = int(config.load_scale().memory_budget_gb // need_gb) if need_gb > 0 else len(files)
    return max(1, min(len(files), os.cpu_count() or 1, fit))


def _unpacked_bytes(f: Path) -> int:
    if f.suffix.lower() == ".parquet":
        meta = pq.read_metadata(f)
        return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return f.stat().st_size


def _settle(stage: Path, sch: Schema, frac: float) -> _Tally:
    """The cross-part rules by DuckDB over the parts' keys, then every part's flags set and its
    responses and competitor ratings written to parquet, and counted."""
    import duckdb

    folder, resp_dir = stage / SETTLING, stage / "responses.parquet"
    parts = sorted(folder.glob("part-*.arrow"))
    cols = set(pq.read_schema(folder / "keys-0000.parquet").names)
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{DUCKDB_MEMORY_GB:g}GB'")
    con.execute(f"SET temp_directory='{stage / '.duckdb'}'")
    con.execute(f"CREATE VIEW parts AS SELECT * FROM read_parquet('{folder / 'keys-*.parquet'}')")
    median = None
    if "duration_s" in cols:
        (median,) = con.execute("SELECT median(duration_s) FROM parts WHERE NOT flag_test"
                                ).fetchone() or (None,)
    dups = _duplicates(con, sch, cols)
    con.close()
    resp_dir.mkdir()
    rules = quality.rules(sch)

    def settle_part(k: int) -> _Tally:
        r = _as_read(_read_arrow(parts[k]))
        if median is not None and pd.notna(median):
            r["flag_speeder"] = (r["duration_s"] < frac * median).fillna(False).to_numpy(bool)
        if dups is not None:
            r["flag_duplicate"] = np.isin(np.arange(len(r)), dups.get(k, np.empty(0, np.int64)))
        quality.set_verdict(r, rules)
        r.to_parquet(resp_dir / f"part-{k:04d}.parquet", index=False)
        _settle_ratings(folder / f"ratings-{k:04d}.arrow", stage, r)
        return _count(_Tally(), r, sch.headline)

    tally = _Tally()
    for part in _each_part(settle_part, len(parts), _processes(parts)):
        tally.add(part)
    shutil.rmtree(folder)
    return tally


def _settle_ratings(p: Path, stage: Path, r: pd.DataFrame) -> None:
    """A part's competitor ratings with the ``include`` of their responses, written to parquet."""
    if not p.exists():
        return
    comp_dir = stage / INPUTS["competitor_ratings"].file
    comp_dir.mkdir(exist_ok=True)
    c = _as_read(_read_arrow(p))
    ids = pa.array(r["response_id"])
    at = pc.index_in(pa.array(c["response_id"]), value_set=ids, skip_nulls=True)
    if at.null_count or len(c) == 0 or pc.count_distinct(ids, mode="all").as_py() != len(ids):
        # a rating of no response, or ids not unique: pandas' mapping (and its error) as it was
        c["include"] = c["response_id"].map(r.set_index("response_id")["include"]).fillna(False)
    else:   # the same values and dtype, by position instead of a pandas index lookup
        include = r["include"].to_numpy(bool)[at.to_numpy()]
        first = c["response_id"].iloc[:1]
        dtype = first.map(pd.Series(include[:1], index=first.to_numpy())).fillna(False).dtype
        c["include"] = pd.Series(include, index=c.index).astype(dtype)
    c.to_parquet(comp_dir / p.name.replace("ratings-", "part-").replace(".arrow", ".parquet"), index=False)


def _as_read(t: pa.Table) -> pd.DataFrame:
    """Arrow table `t` as pandas reads it back from the parquet file DataFrame.to_parquet writes of
    it (chunked as pyarrow reads it: the parquet written of the frame is the same, byte for byte)."""
    import io
    import json

    probe = io.BytesIO()
    pq.write_table(pa.table({"x": np.zeros(t.num_rows, np.int8)}), probe)
    lengths = [len(c) for c in pq.read_table(probe).column("x").chunks]
    starts = np.cumsum([0, *lengths[:-1]])
    t = t.combine_chunks()
    t = pa.concat_tables([t.slice(s, n) for s, n in zip(starts, lengths, strict=True)])
    frame = t.to_pandas()
    if t.schema.metadata and b"PANDAS_ATTRS" in t.schema.metadata:
        frame.attrs = json.loads(t.schema.metadata[b"PANDAS_ATTRS"])
    return frame


def _duplicates(con: Any, sch: Schema, cols: set[str]) -> dict[int, np.ndarray] | None:
    """Rows (per part) that repeat a contact and wave of any part (the latest complete
    submission kept, ties in file order: quality._duplicate_rows across parts); None when the
    export has no such key (then each part's own duplicate rule stands)."""
    key = [k for k in sch.quality["duplicate_key"]]
    if not all(k in cols for k in key):
        key = ["response_id"] if "response_id" in sch.fields and "response_id" in cols else []
    if not key:
        return None
    quoted = ", ".join(f'"{k}"' for k in key)
    order = "_complete DESC, " + ("submitted_at DESC NULLS LAST, " if "submitted_at" in cols
                                  else "") + "_part, _row"
    found = con.execute(
        f"SELECT _part, _row FROM (SELECT _part, _row, ROW_NUMBER() OVER (PARTITION BY {quoted} "
        f"ORDER BY {order}) AS rn FROM parts WHERE NOT flag_test AND "
        + " AND ".join(f'"{k}" IS NOT NULL' for k in key) + ") WHERE rn > 1").df()
    return {int(k): g["_row"].to_numpy(np.int64) for k, g in found.groupby("_part")}


def _count(tally: _Tally, r: pd.DataFrame, headline: str) -> _Tally:
    remaining = np.ones(len(r), bool)
    tally.funnel[0] += len(r)
    for i, (f, _) in enumerate(quality.RULES, 1):
        flag = r[f].to_numpy(bool)
        tally.rules[f] += int(flag.sum())
        remaining &= ~flag
        tally.funnel[i] += int(remaining.sum())
    tally.ltr.append(r[headline].to_numpy(np.float32))
    tally.include.append(r["include"].to_numpy(bool))
    return tally


def _merged_log(folder: Path, logs: list[dict[str, Any]], tally: _Tally,
                origin: Origin | None = None) -> dict[str, Any]:
    """The first part's log with the input, answers, rules and funnel of all parts."""
    log = dict(logs[0])
    rows = sum(int(lg["input"]["rows"]) for lg in logs)
    log["input"] = {**logs[0]["input"], "file": f"{folder.name} ({len(logs)} parts)", "rows": rows,
                    "reader_notes": [*logs[0]["input"].get("reader_notes", []),
                                     f"read as {len(logs)} parts, one at a time"]}
    if origin:
        log["input"].update(file=origin.file.name, encoding=origin.encoding, reader_notes=[
            *logs[0]["input"].get("reader_notes", []),
            f"too large to clean at once: streamed into {len(logs)} parts, cleaned one at a time"])
    answers: dict[str, dict[str, Any]] = {}
    for lg in logs:
        for name, a in lg["answers"].items():
            acc = answers.setdefault(name, {**a, **{k: 0 for k in a if k not in ("column", "examples")}})
            for k, v in a.items():
                if k == "examples":
                    acc[k] = list(dict.fromkeys([*acc[k], *v]))[:3]
                elif k != "column":
                    acc[k] += int(v)
    log["answers"] = answers
    log["rules"] = {f.removeprefix("flag_"): {"rows": tally.rules[f], "reason": why}
                    for f, why in quality.RULES}
    log["funnel"] = [{"step": "raw rows", "rows": tally.funnel[0]}] + [
        {"step": f"minus {f.removeprefix('flag_').replace('_', ' ')}", "rows": tally.funnel[i]}
        for i, (f, _) in enumerate(quality.RULES, 1)]
    log["included"] = int(sum(int(i.sum()) for i in tally.include))
    return log


def _side_tables(stage: Path, salt: str, derived: list[pd.DataFrame],
                 given: Mapping[str, str]) -> dict[str, int]:
    """Clean the optional input files `given` into `stage` (a folder of parts part by part),
    beside the competitor ratings and the accounts `derived` from the parts when no account
    master is given; their row counts by name, in registry order."""
    rows: dict[str, int] = {}
    for name, inp in INPUTS.items():
        target = stage / inp.file
        if name in given:
            rows[name] = _read_into(inp, paths.resolve(given[name]), target, salt)
        elif name == "accounts" and derived:
            acc = pd.concat(derived, ignore_index=True).groupby("account_id", sort=True).first()
            acc.reset_index().to_parquet(target, index=False)
            rows[name] = len(acc)
        elif name == "competitor_ratings" and target.exists():
            rows[name] = sum(pq.read_metadata(p).num_rows for p in target.iterdir())
    return rows


def _read_into(inp: Input, src: Path, target: Path, salt: str) -> int:
    """Input file `src` cleaned into `target`, a folder of parts file by file; its rows."""
    if not src.is_dir():
        table = side_tables.read_input(inp, src, salt)
        table.to_parquet(target, index=False)
        return len(table)
    target.mkdir()
    files = part_files(src)

    def read_part(k: int) -> int:
        table = side_tables.read_input(inp, files[k], salt)
        table.to_parquet(target / f"part-{k:04d}.parquet", index=False)
        return len(table)

    return sum(_each_part(read_part, len(files), _processes(files)))
