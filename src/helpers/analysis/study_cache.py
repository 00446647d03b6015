"""One derivation of a run's study, shared by its notebooks: the included responses ordered by
market, with the B2C weights and contact units (:func:`helpers.analysis.selection.study`), kept
as an Arrow IPC file that every later notebook of the run maps into memory instead of reading
the parquet and raking again (its pages are shared, so the kernels' memory counts them once).

Only inside a run: the runner names its private kernel folder (mode 0700, removed when the run
ends) in ``$CX_STUDY_CACHE`` (:data:`helpers.contract.STUDY_CACHE_ENV`); without it every call
derives afresh. A file is keyed by the responses file (path, size, modification time), the
schema and settings files' bytes and the code of the ``helpers`` package, so a change of any of
them is a different file; the first notebook derives it under a lock while the others wait.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import catalog, contract, paths

Derived = tuple[pd.DataFrame, dict[str, tuple[int, int]], str]
Blocks = tuple[pd.DataFrame, dict[str, tuple[int, int]]]  # rows ordered by market, their ranges
Deriving = tuple[Derived, Callable[[], Blocks]]  # the study, and how to order every row by market


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
    table = _without_validity(pa.Table.from_pandas(rows, preserve_index=True))
    meta = {**(table.schema.metadata or {}), b"cx": json.dumps({"blocks": blocks, "note": note}).encode()}
    table = table.replace_schema_metadata(meta)
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


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
    that frame is written beside the study for :func:`every_row` while the rows are in memory.
    """
    folder = _folder()
    if folder is None:
        return derive()[0]
    path = folder / f"study-{key(responses_path, schema_path, segments_config)}.arrow"
    with _locked(path.with_suffix(".lock")):
        if not path.is_file():
            found, every = derive()
            _write(path, found)
            del found  # the included rows go before every row is ordered
            _every_file(folder, responses_path, every)
            del every
            _release_freed_memory()
        return _read(path)  # the mapped pages, shared with the later notebooks: no private copy


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
            _write(path, (rows, blocks, ""))


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
    digest = hashlib.sha256(code_version().encode() + b"\0" + _identity(target)).hexdigest()[:32]
    cached = folder / f"table-{digest}.arrow"
    with _locked(cached.with_suffix(".lock")):
        if not cached.is_file():
            _write(cached, (catalog.load(name, target), {}, ""))
        return _read(cached)[0]
