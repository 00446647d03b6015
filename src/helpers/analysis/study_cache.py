"""One derivation of a run's study, shared by its notebooks: the included responses ordered by
market, with the B2C weights and contact units (:func:`helpers.analysis.selection.study`), kept
as an Arrow IPC file that every later notebook of the run maps into memory instead of reading
the parquet and raking again (its pages are shared, so the kernels' memory counts them once).

Only inside a run: the runner names its private kernel folder (mode 0700, removed when the run
ends) in ``$CX_STUDY_CACHE`` (:data:`helpers.contract.STUDY_CACHE_ENV`); without it every call
derives afresh. A file is keyed by the responses file (path, size, modification time), the
schema and settings files' bytes and the code of the ``helpers`` package, so a change of any of
them is a different file; the first notebook derives it under a lock while the others wait,
in Arrow (:func:`ordered`: read, ordered by market and given its B2C columns without a pandas
copy of the rows), and orders every row for :func:`every_row` after releasing that lock.

The frames read from the file are views of the mapped pages, not copies (:func:`_read`): numbers
and dates are stored without a validity bitmap (a missing number is NaN, a missing date NaT, as
in pandas) and every column is its own block, so a kernel holds no private copy of the study and
the kernels of a run share one in memory. A write into such a frame copies that column first.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import catalog, contract, paths

Derived = tuple[pd.DataFrame, dict[str, tuple[int, int]], str]
Blocks = tuple[pd.DataFrame, dict[str, tuple[int, int]]]  # rows ordered by market, their ranges
TableBlocks = tuple[Any, dict[str, tuple[int, int]]]  # the same as an Arrow table
Deriving = tuple[tuple[Any, dict[str, tuple[int, int]], str], Callable[[], TableBlocks]]
Order = Callable[[Any, Any], tuple[Any, dict[str, tuple[int, int]]]]  # market, kept -> positions, ranges


@functools.cache
def code_version() -> str:
    """A digest of the ``helpers`` package's source (any change of the code is a new key)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for p in sorted(root.rglob("*.py")):
        digest.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
    return digest.hexdigest()


def _identity(target: Path) -> bytes:
    """A file's identity: its path, size, modification time and inode."""
    st = target.stat()
    return f"{target}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}".encode()


def key(responses_path: str, schema_path: str, segments_config: str) -> str:
    """The cache key of a study: the responses file's identity, the schema's and settings'
    bytes, the code version."""
    digest = hashlib.sha256(code_version().encode())
    digest.update(_identity(paths.resolve(responses_path)))
    for p in (schema_path, segments_config):
        digest.update(b"\0" + paths.resolve(p).read_bytes())
    return digest.hexdigest()[:32]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write(path: Path, derived: Derived) -> None:
    import pyarrow as pa

    rows, blocks, note = derived
    _write_table(path, pa.Table.from_pandas(rows, preserve_index=True), blocks, note)


def _write_table(path: Path, table: Any, blocks: dict[str, tuple[int, int]], note: str) -> None:
    """`table` (Arrow, with its pandas metadata), `blocks` and `note` as an Arrow IPC file,
    written under a temporary name and renamed (a reader never sees half a file)."""
    import pyarrow as pa

    table = _without_validity(table)
    meta = {**(table.schema.metadata or {}), b"cx": json.dumps({"blocks": blocks, "note": note}).encode()}
    table = table.replace_schema_metadata(meta)
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


def _frame(table: Any) -> pd.DataFrame:
    """The pandas frame of a table written by :func:`_write_table` (as :func:`_read` maps it)."""
    return _without_validity(table).to_pandas(split_blocks=True)


def _read(path: Path) -> Derived:
    """The frame, blocks and note of a cache file, mapped (once per process and file: the files
    never change), as a shallow copy of the mapped frame."""
    import pyarrow as pa

    if str(path) not in _MAPPED:
        table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
        meta = json.loads(table.schema.metadata[b"cx"])
        blocks = {m: (int(a), int(b)) for m, (a, b) in meta["blocks"].items()}
        _MAPPED[str(path)] = (table.to_pandas(split_blocks=True), blocks, str(meta["note"]))
    mapped, blocks, note = _MAPPED[str(path)]
    return mapped.copy(deep=False), dict(blocks), note


#: The frames read from each mapped file, kept for the life of the process so that the frames
#: handed out (shallow copies) and their slices always share their columns with a live frame:
#: pandas then copies a column before writing into it, where a write into the read-only mapped
#: pages would fail. They hold mapped pages of a file, no memory of their own.
_MAPPED: dict[str, Derived] = {}


def _without_validity(table: Any) -> Any:
    """`table` with its floating-point and naive timestamp columns stored without a validity
    bitmap (a null is NaN or NaT, the values pandas holds), so that reading them back needs
    no copy."""
    import numpy as np
    import pyarrow as pa

    for i, f in enumerate(table.schema):
        column = table.column(i)
        if not column.null_count:
            continue
        if pa.types.is_floating(f.type):
            values = column.to_numpy()
        elif pa.types.is_timestamp(f.type) and f.type.tz is None:
            values = column.cast(pa.int64()).fill_null(np.iinfo(np.int64).min).to_numpy()
        else:
            continue
        table = table.set_column(i, f, pa.Array.from_buffers(f.type, len(values), [None, pa.py_buffer(values)]))
    return table


def _folder() -> Path | None:
    """The run's private kernel folder, or None outside a run."""
    folder = os.environ.get(contract.STUDY_CACHE_ENV)
    return Path(folder) if folder and Path(folder).is_dir() else None


def derived(responses_path: str, schema_path: str, segments_config: str,
            derive: Callable[[], Deriving]) -> Derived:
    """`derive()` once per run and inputs: the rows, market blocks and weighting note, from the
    run's cache when a notebook before derived them (see the module).

    `derive` also returns how to order every row (excluded ones too) by market; inside a run
    that table is written beside the study for :func:`every_row` once the study is written and
    its lock released (the notebooks waiting for the study go on meanwhile).
    """
    folder = _folder()
    if folder is None:
        rows, blocks, note = derive()[0]
        return _frame(rows), blocks, note
    path = folder / f"study-{key(responses_path, schema_path, segments_config)}.arrow"
    every = None
    with _locked(path.with_suffix(".lock")):
        if not path.is_file():
            found, every = derive()
            _write_table(path, *found)
            del found  # the included rows go before every row is ordered
            _release_freed_memory()  # while the waiting notebooks map the study
    if every is not None:
        _every_file(folder, responses_path, every)
        del every
        _release_freed_memory()
    return _read(path)  # the mapped pages, shared with the later notebooks: no private copy


def market_order(market: Any, kept: np.ndarray, markets: Sequence[str]
                 ) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """Positions of the `kept` rows ordered by market (`markets` in order, then any other; file
    order kept within a market) and each market's position range in that order. `market`: an
    array of names, numpy or Arrow (looked up in Arrow: no Python string per row)."""
    if isinstance(market, np.ndarray):
        rank = np.full(len(market), len(markets), np.int8)
        for i, m in enumerate(markets):
            rank[market == m] = i
    else:
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.index_in(market, value_set=pa.array(list(markets), market.type))
        rank = found.fill_null(len(markets)).to_numpy().astype(np.int8)
    keep = np.flatnonzero(kept)
    order = keep[np.argsort(rank[keep], kind="stable")]
    counts = np.bincount(rank[order], minlength=len(markets) + 1)
    ends = np.cumsum(counts)
    return order, {m: (int(ends[i] - counts[i]), int(ends[i])) for i, m in enumerate(markets)}


def responses_table(responses_path: str) -> tuple[Any, pd.Index]:
    """The cleaned responses as an Arrow table and their row labels (those of
    :func:`helpers.catalog.load`): a parquet file written without an index is read by Arrow
    alone, anything else through pandas."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = paths.resolve(responses_path)
    if target.suffix == ".parquet" and target.exists():
        table = pq.read_table(target)
        if not (table.schema.pandas_metadata or {}).get("index_columns"):
            return table, pd.RangeIndex(table.num_rows)
        del table
    frame = catalog.load("responses", path=responses_path)
    return pa.Table.from_pandas(frame, preserve_index=False), frame.index


#: B2C rows -> their weight, contact unit and the weighting note (:mod:`selection`).
B2CColumns = Callable[[pd.DataFrame], tuple[pd.Series, pd.Series, str]]


def ordered(table: Any, index: pd.Index, markets: Sequence[str], b2c_fields: Sequence[str],
            b2c: B2CColumns) -> Deriving:
    """The study of responses read by :func:`responses_table`, in Arrow (no pandas copy of the
    rows): the included rows ordered by market with the B2C ``weight`` and ``contact_unit``
    (`b2c` on the B2C rows' `b2c_fields`), their blocks and the weighting note; and how to
    order every row by market. The tables read back as the frames
    ``selection.study`` makes with pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = table.set_column(table.schema.get_field_index("market"), "market",
                             pc.cast(table.column("market"), pa.large_string()))
    market = table.column("market")
    kept = table.column("include").to_numpy(zero_copy_only=False).astype(bool)
    order, blocks = market_order(market, kept, markets)
    extra, note = {}, "no B2C responses"
    start, stop = blocks.get("B2C", (0, 0))
    with ThreadPoolExecutor(1) as pool:
        taken = pool.submit(table.take, order)  # Arrow frees the GIL: the B2C columns meanwhile
        if stop > start:
            fields = [f for f in dict.fromkeys(b2c_fields) if f in table.column_names]
            b2c_rows = table.select(fields).take(order[start:stop]).to_pandas()
            b2c_rows.index = index[order[start:stop]]
            weight, unit, note = b2c(b2c_rows)
            values = np.full(len(order), np.nan)
            values[start:stop] = weight.to_numpy(dtype=float)
            gap = (pa.nulls(start, pa.large_string()), pa.nulls(len(order) - stop, pa.large_string()))
            extra = {"weight": (values, pd.Series(dtype=float)),
                     "contact_unit": (pa.concat_arrays([gap[0], pa.array(unit, pa.large_string()), gap[1]]),
                                      pd.Series(dtype="string"))}
        rows = taken.result()
    found = (_with_pandas_schema(rows, index[order], extra), blocks, note)

    given = [table]

    def every() -> TableBlocks:
        """Every row ordered by market, column by column: each column of the responses is
        let go once ordered (called once; the responses' memory is reused, not doubled)."""
        source = given.pop()
        positions, ranges = market_order(market, np.ones(len(market), bool), markets)
        schema, columns = source.schema, []
        for name in schema.names:
            columns.append(source.column(name).take(positions))
            source = source.drop_columns([name])
        rows = pa.Table.from_arrays(columns, schema=schema)
        return _with_pandas_schema(rows, index[positions], {}), ranges

    return found, every


def _with_pandas_schema(rows: Any, index: pd.Index, extra: dict[str, tuple[Any, pd.Series]]) -> Any:
    """`rows` with the `extra` columns (values, an empty series of their pandas dtype) and
    `index` stored as ``pandas.Table.from_pandas(frame, preserve_index=True)`` stores the frame
    they make (the same types and pandas metadata, so they read back as that frame)."""
    import pyarrow as pa

    head = rows.slice(0, 0).to_pandas().assign(market=lambda f: f["market"].astype("string"))
    for name, (_, dtype) in extra.items():
        head[name] = dtype
    head.index = index[:0]
    schema = pa.Schema.from_pandas(head, preserve_index=True)
    columns = {**{n: rows.column(n) for n in rows.column_names},
               **{n: v for n, (v, _) in extra.items()}, schema.names[-1]: pa.array(index)}
    arrays = [pa.array(c) if isinstance(c, np.ndarray) else c for c in (columns[f.name] for f in schema)]
    return pa.Table.from_arrays([a.cast(f.type) if a.type != f.type else a
                                 for a, f in zip(arrays, schema, strict=True)], schema=schema)


def _release_freed_memory() -> None:
    """Hand the memory the derivation freed back to the system (Arrow's pool and the C heap keep
    freed pages for reuse otherwise, and the deriving kernel would hold them all run long)."""
    import ctypes
    import ctypes.util

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(libc).malloc_trim(0)  # glibc only; elsewhere nothing to do


def _every_path(folder: Path, responses_path: str) -> Path:
    target = paths.resolve(responses_path)
    return folder / f"every-{hashlib.sha256(code_version().encode() + _identity(target)).hexdigest()[:32]}.arrow"


def _every_file(folder: Path, responses_path: str, every: Callable[[], Blocks]) -> None:
    path = _every_path(folder, responses_path)
    with _locked(path.with_suffix(".lock")):
        if not path.is_file():
            rows, blocks = every()
            _write_table(path, rows, blocks, "")


def every_row(responses_path: str | None, market: str | None) -> pd.DataFrame | None:
    """Every row of the responses (excluded ones too) of `market`, a slice of the rows ordered
    by market that the run's first notebook wrote beside the study, mapped; None outside a run,
    without that file, or for every market (`market` None)."""
    folder = _folder()
    path = _every_path(folder, responses_path) if folder is not None and responses_path else None
    if path is None or market is None or not path.is_file():
        return None
    rows, blocks, _ = _read(path)
    return rows.iloc[slice(*blocks[market])] if market in blocks else None


def table(name: str, path: str) -> pd.DataFrame | None:
    """:func:`helpers.catalog.load_optional` of a processed parquet table, inside a run mapped
    from the run's folder like the study (the first notebook that reads the file converts it,
    the later ones map it and share its pages)."""
    folder, target = _folder(), paths.resolve(path) if path else None
    if folder is None or target is None or target.suffix != ".parquet" or not target.is_file():
        return catalog.load_optional(name, path)
    return shared("table", target, lambda: catalog.load(name, target))


def shared(kind: str, source: Path, make: Callable[[], pd.DataFrame], *settings: object
           ) -> pd.DataFrame:
    """`make()`, a frame drawn from `source` with `settings`, once per run: inside a run the
    first notebook writes it to the run's folder and the later ones map it, sharing its pages
    (keyed by the code, `source`'s identity and `settings`); outside a run, `make()`."""
    folder = _folder()
    if folder is None:
        return make()
    digest = hashlib.sha256(code_version().encode() + b"\0" + _identity(source) + b"\0"
                            + repr(settings).encode()).hexdigest()[:32]
    cached = folder / f"{kind}-{digest}.arrow"
    with _locked(cached.with_suffix(".lock")):
        if not cached.is_file():
            _write(cached, (make(), {}, ""))
        return _read(cached)[0]
