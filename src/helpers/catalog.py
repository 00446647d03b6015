"""Data catalog: load and save tables by logical name (config/catalog.yaml).

Also the run-folder conventions every notebook shares: metrics JSON and result tables go to
``<run_dir>/metrics/<notebook>.json`` and ``<run_dir>/tables/<name>.parquet``, under the names
the run contract registers (:mod:`helpers.contract`): an unregistered name is refused on write.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from helpers import contract, inputs, paths
from helpers.errors import DataError


@cache
def _declared() -> dict[str, str]:
    """config/catalog.yaml as 'raw.X' and 'processed.X' -> file."""
    with open(paths.CONFIG_DIR / "catalog.yaml", encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    return {f"{layer}.{name}": rel for layer, items in cfg.items() for name, rel in items.items()}


def _entries() -> dict[str, str]:
    """Names are 'raw.X' and 'processed.X'; a bare 'X' means processed.X, else raw.X. The
    optional inputs' processed tables come from their registry (helpers.inputs)."""
    flat = {**_declared(), **{f"processed.{i.name}": f"data/processed/{i.file}"
                              for i in inputs.INPUTS.values()}}
    for layer in ("raw", "processed"):
        flat.update({k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith(f"{layer}.")})
    return flat


def path(name: str) -> Path:
    """Absolute path of a catalog entry ('responses', 'accounts', 'raw.survey_export', ...)."""
    try:
        return paths.resolve(_entries()[name])
    except KeyError:
        raise DataError(f"unknown catalog name {name!r}", file="config/catalog.yaml",
                        expected=", ".join(sorted(_entries()))) from None


_catalog_path = path  # the parameters below named `path` shadow the function


def _target(name: str, explicit: str | os.PathLike[str] | None) -> Path:
    """An explicit path (relative to the project root) wins over the catalog entry."""
    return paths.resolve(explicit) if explicit else _catalog_path(name)


def load(name: str, path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Load a table by logical name (or from an explicit `path`, which overrides the catalog)."""
    p = _target(name, path)
    if not p.exists():
        raise DataError("file not found", file=p, expected=f"the '{name}' table; run `cx clean` or `make report`")
    if p.suffix == ".parquet":
        return pd.read_parquet(p)
    if p.suffix == ".csv":
        return pd.read_csv(p)
    if p.suffix == ".json":
        return pd.json_normalize(json.loads(p.read_text(encoding="utf-8")))
    raise DataError(f"unsupported suffix {p.suffix!r}", file=p, expected=".parquet, .csv or .json")


#: Working memory of an analysis per byte of the table it loads (the frame, the copies a study
#: makes, the arrays of its estimators): measured about 3 on a million responses.
MEMORY_FACTOR = 3.0
_TYPE_BYTES = {"bool": 1, "string": 24, "large_string": 24, "dictionary": 4}


@dataclass(frozen=True)
class MemoryEstimate:
    """Rows and columns of a parquet table (file or folder of parts) and the gigabytes an
    analysis loading it whole would use (8 bytes a number, 24 a text, x MEMORY_FACTOR)."""

    path: Path
    rows: int
    columns: int
    gigabytes: float

    def over(self, budget_gb: float) -> bool:
        return self.gigabytes > budget_gb

    def line(self, budget_gb: float) -> str:
        return (f"{self.path.name}: {self.rows:,} rows x {self.columns} columns need about "
                f"{self.gigabytes:.3g} GB in memory, above the budget of {budget_gb:g} GB "
                "(memory_budget_gb, config/scale.yaml)")


def memory_estimate(path: str | os.PathLike[str]) -> MemoryEstimate:
    """:class:`MemoryEstimate` of a parquet table from its metadata alone (nothing is read)."""
    import pyarrow.parquet as pq

    p = paths.resolve(path)
    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    if not files:
        raise DataError("no parquet files", file=p, expected="a parquet file or a folder of parts")
    schema = pq.read_schema(files[0])
    rows = sum(pq.read_metadata(f).num_rows for f in files)
    per_row = sum(_TYPE_BYTES.get(str(t.type).split("<")[0].split("[")[0], 8) for t in schema)
    return MemoryEstimate(p, rows, len(schema), rows * per_row * MEMORY_FACTOR / 1e9)


def load_filtered(path: str | os.PathLike[str], column: str, values: Any) -> pd.DataFrame:
    """The rows of a parquet table (file or folder of parts) whose `column` is in `values`,
    read with a filter: the rest of the table is never in memory."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    p = paths.resolve(path)
    table = ds.dataset(str(p), format="parquet").to_table(
        filter=pc.field(column).isin(list(values)))
    out = table.to_pandas()
    for c in out.columns:   # the dtypes of pandas.read_parquet
        if out[c].dtype == object:
            out[c] = out[c].astype("string")
    return out


def load_optional(name: str, path: str | os.PathLike[str] | None = None) -> pd.DataFrame | None:
    """Like :func:`load`, but an optional table not provided ("" path or no file) is None."""
    if path == "":
        return None
    p = _target(name, path)
    return load(name, p) if p.exists() else None


def load_json(name: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Load a JSON document (e.g. 'truth', 'cleaning_log') by logical name or path."""
    p = _target(name, path)
    if not p.exists():
        raise DataError("file not found", file=p, expected=f"the '{name}' document")
    return json.loads(p.read_text(encoding="utf-8"))


#: First characters that make a spreadsheet read a text as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")


def starts_formula(value: Any) -> bool:
    """True for a text a spreadsheet would run as a formula (a plain number such as '-3.5' is not)."""
    return (isinstance(value, str) and value.startswith(FORMULA_START)
            and not _PLAIN_NUMBER.fullmatch(value))


def inert(value: Any) -> Any:
    """`value` as a spreadsheet may hold it: a text starting with = + - @ tab or CR gets a
    leading apostrophe (read as text, never run); numbers and other values unchanged."""
    return "'" + value if starts_formula(value) else value


def inert_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every text cell and column name made :func:`inert` (numbers stay numbers)."""
    out = df.rename(columns=lambda c: inert(str(c)) if starts_formula(str(c)) else c)
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            values = out[col].astype(object)
            if values.map(starts_formula).any():
                out[col] = values.map(inert)
    return out


def refuse_symlink(p: Path, what: str, force: bool = False) -> Path:
    """`p`, or PermissionError (one line) when it is a symbolic link: nothing in reports/ or
    data/ is written or deleted through a link planted there."""
    if force or p.is_symlink():
        raise PermissionError(f"{p}: {what} is a symbolic link; it is never followed (remove the "
                              "link and run again)")
    return p


def _guard(p: Path) -> None:
    refuse_raw(p)


def refuse_raw(target: str | os.PathLike[str], what: str = "derived data") -> Path:
    """`target` resolved; PermissionError (one line) when it lies in data/raw, however it is spelt.

    Every writer calls this before it creates anything, so a refused command leaves no lock,
    log or folder behind in data/raw.
    """
    p = paths.resolve(target)
    if paths.is_raw(p):
        raise PermissionError(f"{p}: data/raw is immutable; write {what} to data/processed "
                              "or reports/")
    return p


def atomic_write_bytes(p: Path, data: bytes) -> None:
    """Write `data` to `p` via a temporary file and rename: readers never see half a file."""
    _guard(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_table(df: pd.DataFrame, p: Path) -> None:
    """Write a DataFrame (parquet or csv by suffix) atomically."""
    _guard(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if p.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif p.suffix == ".csv":
            # RFC 4180 line ends: a CR inside a field is quoted, never a new row
            inert_frame(df).to_csv(tmp, index=False, lineterminator="\r\n")
        else:
            raise DataError(f"unsupported suffix {p.suffix!r}", file=p, expected=".parquet or .csv")
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(df: pd.DataFrame, name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Save a table by logical name (atomically). Refuses anything inside data/raw."""
    p = _target(name, path)
    atomic_write_table(df, p)
    return p


def save_json(doc: Mapping[str, Any], p: str | os.PathLike[str]) -> Path:
    """Save a JSON document atomically (refuses data/raw)."""
    target = paths.resolve(p)
    atomic_write_bytes(target, json.dumps(doc, indent=2, default=_json_default).encode("utf-8"))
    return target


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_metrics(metrics: Mapping[str, Any], notebook: str, run_dir: str | os.PathLike[str]) -> Path:
    """Write a notebook's headline figures to ``<run_dir>/metrics/<notebook>.json``.

    Values should carry their uncertainty: ``{"nps_b2b": {"estimate": 31.2, "ci_low": .., "ci_high": .., "n": ..}}``.
    :class:`helpers.contract.ContractError` when `notebook` is not in ``contract.METRICS``.
    """
    name = contract.metrics_file(notebook)
    return save_json(dict(metrics), paths.resolve(run_dir) / "metrics" / f"{name}.json")


def load_metrics(run_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """All metrics files of a run, keyed by notebook name."""
    folder = paths.resolve(run_dir) / "metrics"
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}


def save_result(df: pd.DataFrame, name: str, run_dir: str | os.PathLike[str]) -> Path:
    """Write a result table to ``<run_dir>/tables/<name>.parquet`` (the summary reads these).

    :class:`helpers.contract.ContractError` when `name` is not registered in
    ``contract.TABLES``, or (in a `cx run`) is registered to another notebook.
    """
    p = paths.resolve(run_dir) / "tables" / f"{contract.written_table(name)}.parquet"
    atomic_write_table(df, p)
    return p


def load_result(name: str, run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a result table written by :func:`save_result` (in a `cx run`, one the running notebook
    declares in ``contract.READS``)."""
    p = paths.resolve(run_dir) / "tables" / f"{contract.table_name(name)}.parquet"
    if not p.exists():
        raise DataError("result table not found", file=p, expected="the notebook that writes it to have run")
    return pd.read_parquet(p)


def result_or_none(name: str, run_dir: str | os.PathLike[str]) -> pd.DataFrame | None:
    """A result table of the run when an earlier notebook wrote it, else None (optional reads;
    names checked as by :func:`load_result`)."""
    p = paths.resolve(run_dir) / "tables" / f"{contract.table_name(name)}.parquet"
    return pd.read_parquet(p) if p.is_file() else None


# --- one writer at a time; outputs swapped in only when the whole step succeeded ---------------

LOCK_ENV = "CX_WRITER_LOCK"  # "<lock file>|<pid>" of the run holding the lock (kernels inherit it)


class LockedError(RuntimeError):
    """Another command holds the writer lock (exit 75 on the command line: try again later)."""


def writer_lock_path() -> Path:
    """The one lock every command that writes data/processed or reports takes: reports/.lock."""
    return paths.REPORTS_DIR / ".lock"


def _inherited(lock_path: Path) -> bool:
    """True when the run that started this process (a notebook kernel) holds `lock_path`."""
    held, _, pid = os.environ.get(LOCK_ENV, "").rpartition("|")
    if not held or not pid.isdigit() or Path(held) != lock_path.resolve():
        return False
    if int(pid) == os.getpid():  # a lock is never re-entered within one process
        return False
    try:
        os.kill(int(pid), 0)
        holder = lock_path.read_text(encoding="utf-8")
    except OSError:
        return False
    return holder.startswith(f"pid {pid} ")


@contextlib.contextmanager
def file_lock(lock_path: str | os.PathLike[str], busy: str,
              error: type[LockedError] = LockedError) -> Iterator[None]:
    """Hold `lock_path` (fcntl, non-blocking) or raise :class:`LockedError` naming the holder.

    While held, ``$CX_WRITER_LOCK`` names it, so notebook kernels started by this process (which
    write data/processed on its behalf) pass :func:`writer_lock` instead of waiting for themselves.
    """
    lock = Path(lock_path)
    refuse_raw(lock, "locks")
    if _inherited(lock):
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    refuse_symlink(lock, "the lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # became a link after the check
            refuse_symlink(lock, "the lock", force=True)
        raise
    fh = os.fdopen(fd, "a+")
    previous = os.environ.get(LOCK_ENV)
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise error(f"{lock}: {busy} ({holder}); try again when it has finished") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                 f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S UTC}")
        fh.flush()
        os.environ[LOCK_ENV] = f"{lock.resolve()}|{os.getpid()}"
        yield
    finally:
        if previous is None:
            os.environ.pop(LOCK_ENV, None)
        else:
            os.environ[LOCK_ENV] = previous
        fh.close()


def writer_lock() -> contextlib.AbstractContextManager[None]:
    """The project's writer lock (reports/.lock), shared by cx clean, cx run and cx report index."""
    return file_lock(writer_lock_path(), "another command is writing data/processed or reports")


@contextlib.contextmanager
def staged_folder(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """A staging folder inside `out_dir`; its files replace those in `out_dir` only on success.

    Write every output of a step into the yielded folder. When the block ends without an error
    the files are moved in (same file system: each move is a rename; if one fails, the files
    already moved are put back); on any error, a full disk included, `out_dir` is left exactly as
    it was and the staging folder is removed.
    """
    out = refuse_raw(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        yield stage
        _swap_in(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap_in(stage: Path, out: Path) -> None:
    backup = stage / ".previous"
    backup.mkdir()
    moved: list[tuple[Path, Path | None]] = []
    try:
        for f in sorted(q for q in stage.iterdir() if q != backup):
            target = out / f.name
            old = backup / f.name if target.exists() else None
            if old is not None:
                os.replace(target, old)
            moved.append((target, old))
            os.replace(f, target)
    except BaseException:
        for target, old in reversed(moved):
            if target.is_dir() and not target.is_symlink():   # a folder of parts
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
            if old is not None:
                os.replace(old, target)
        raise
