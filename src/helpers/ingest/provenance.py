"""Which export and schema data/processed was built from, and whether the parameters still name them.

Cleaning records its origin in ``cleaning_log.json`` under ``built_from``: the export's path,
size, modification time and SHA-256, the schema's path and SHA-256, and the id of the `cx run`
that wrote it (``None`` outside a run). Opening a study
(:func:`helpers.analysis.selection.load`) compares that record with what is named now:

- interactively (JupyterLab, `cx drivers`), with notebook 01's ``raw_path`` and ``schema_path``
  in config/params.yaml (or ``$CX_PARAMS``): a folder built from another file or schema, or
  from a file changed since, gets one line saying so and how to rebuild it (:func:`stale_message`);
- in a `cx run`, the folder must have been written by this run's notebook 01; anything else is
  refused (:func:`run_mismatch`), so a report never shows data cleaned from another export.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from helpers import config, paths
from helpers.errors import DataError

CLEANING_NOTEBOOK = "01_clean_survey"
LOG_NAME = "cleaning_log.json"
_NOT_OPTIONS = ("raw_path", "schema_path", "out_dir", "run_dir")  # notebook 01 parameters that are not cx clean options


def shown(path: str | os.PathLike[str]) -> str:
    """`path` as config/params.yaml would name it: under ``data/`` or relative to the project
    root when inside them, absolute otherwise."""
    p = paths.resolve(path).resolve()
    for base, prefix in ((paths.DATA_DIR.resolve(), "data"), (paths.PROJECT_ROOT.resolve(), "")):
        if p == base or base in p.parents:
            return str(Path(prefix, p.relative_to(base)))
    return str(p)


def _files(path: Path) -> list[Path]:
    """The file itself, or the visible files of a folder of export parts in name order."""
    if path.is_dir():
        return sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
    return [path]


def _size_and_mtime(path: Path) -> tuple[int, int]:
    stats = [f.stat() for f in _files(path)]
    return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, or of a folder of parts (each part's name and digest, in name order)."""
    p = paths.resolve(path)
    if not p.is_dir():
        return _file_sha256(p)
    digest = hashlib.sha256()
    for f in _files(p):
        digest.update(f"{f.name}\0{_file_sha256(f)}\n".encode())
    return digest.hexdigest()


def built_from(raw_path: str | os.PathLike[str], schema_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``built_from`` record of a cleaning run: what it read, and which `cx run` (if any)."""
    raw = paths.resolve(raw_path)
    size, mtime = _size_and_mtime(raw)
    return {"raw_path": shown(raw), "raw_bytes": size, "raw_mtime_ns": mtime, "raw_sha256": sha256(raw),
            "schema_path": shown(schema_path), "schema_sha256": sha256(schema_path),
            "run_id": os.environ.get(config.RUN_ENV) or None}


def _read_log(folder: Path) -> dict[str, Any] | None:
    log = folder / LOG_NAME
    if not log.is_file():
        return None
    return json.loads(log.read_text(encoding="utf-8"))


def _same_raw(log: dict[str, Any], now: Path) -> bool:
    """Whether `now` holds the export the log was built from (size first, the hash only when
    the size matches but the file moved or was touched)."""
    record = log.get("built_from")
    if record is None:  # a log written before provenance was recorded: compare the names
        name = str(log.get("input", {}).get("file", ""))
        return name == now.name or name.startswith(f"{now.name} (")
    size, mtime = _size_and_mtime(now)
    if size != record["raw_bytes"]:
        return False
    if paths.resolve(record["raw_path"]) == now and mtime == record["raw_mtime_ns"]:
        return True
    return sha256(now) == record["raw_sha256"]


def _same_schema(log: dict[str, Any], folder: Path, now: Path) -> bool:
    record = log.get("built_from")
    if record is not None:
        return sha256(now) == record["schema_sha256"]
    copy = folder / "survey.yaml"  # the schema cleaning used, copied beside the tables
    return copy.read_bytes() == now.read_bytes() if copy.is_file() else \
        paths.resolve(str(log.get("schema", ""))) == now


def rebuild_command(values: dict[str, Any]) -> str:
    """The `cx clean` line that cleans what notebook 01's parameters (`values`, its section of
    the params file) name, as notebook 01 does: `cx clean`'s options are its parameters."""
    words = ["cx clean", str(values["raw_path"]), "--schema", str(values["schema_path"]),
             "--out", str(values["out_dir"])]
    for key, value in values.items():
        if key not in _NOT_OPTIONS and value not in ("", None):
            words += [f"--{key.removesuffix('_path').replace('_', '-')}", str(value)]
    return " ".join(words)


def _cleaning_params(params_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Notebook 01's section of the params file, with its defaults for schema and folder."""
    own = config.load_params(params_path).notebooks.get(CLEANING_NOTEBOOK, {})
    return {"schema_path": "config/survey.yaml", "out_dir": "data/processed", **own}


def _reasons(log: dict[str, Any], folder: Path, raw: Path, schema: Path, named: str) -> list[str]:
    """What differs between the export and schema `log` was built from and those named now."""
    record = log.get("built_from") or {}
    then_raw = record.get("raw_path", log.get("input", {}).get("file"))
    then_schema = record.get("schema_path", log.get("schema"))
    reasons = []
    if not _same_raw(log, raw):
        reasons.append(f"{shown(raw)} changed since it was cleaned" if then_raw == shown(raw) else
                       f"built from {then_raw}, but {named} names {shown(raw)}")
    if not _same_schema(log, folder, schema):
        reasons.append(f"schema {shown(schema)} changed since" if then_schema == shown(schema) else
                       f"schema {then_schema}, but {named} names {shown(schema)}")
    return reasons


def stale_message(responses_path: str | os.PathLike[str],
                  params_path: str | os.PathLike[str] | None = None) -> str | None:
    """One line when the processed folder holding `responses_path` is the one notebook 01
    writes but was built from another export or schema than the params file names now (or
    from a version of them changed since); None when they match or nothing is known.

    `params_path` defaults to ``$CX_PARAMS`` or config/params.yaml.
    """
    pfile = params_path or os.environ.get(config.PARAMS_ENV) or "config/params.yaml"
    if not paths.resolve(pfile).is_file():
        return None
    values = _cleaning_params(pfile)
    folder = paths.resolve(responses_path).resolve().parent
    log = _read_log(folder)
    if log is None or "raw_path" not in values or paths.resolve(values["out_dir"]).resolve() != folder:
        return None
    raw, schema, named = paths.resolve(values["raw_path"]), paths.resolve(values["schema_path"]), shown(pfile)
    if not raw.exists() or not schema.is_file():
        missing, key = (raw, "raw_path") if not raw.exists() else (schema, "schema_path")
        return (f"{named} names {shown(missing)}, which does not exist: fix {key} under "
                f"{CLEANING_NOTEBOOK} ({shown(folder)} still holds the data cleaned before)")
    reasons = _reasons(log, folder, raw, schema, named)
    if not reasons:
        return None
    return (f"{shown(folder)} is stale ({'; '.join(reasons)}): rebuild it by running "
            f"notebooks/{CLEANING_NOTEBOOK}.ipynb, or `{rebuild_command(values)}`")


def run_mismatch(responses_path: str | os.PathLike[str], run_id: str) -> DataError | None:
    """In `cx run` `run_id`, the error to raise when the processed folder holding
    `responses_path` was not written by this run's notebook 01 (None when it was)."""
    folder = paths.resolve(responses_path).parent
    log = _read_log(folder)
    written_by = (log or {}).get("built_from", {}).get("run_id")
    if written_by == run_id:
        return None
    found = ("no cleaning log" if log is None else
             f"data cleaned by run {written_by}" if written_by else "data cleaned outside a run")
    return DataError(f"{shown(folder)} was not written by this run ({run_id}): it holds {found}",
                     file=folder / LOG_NAME,
                     expected=f"the processed folder that this run's {CLEANING_NOTEBOOK} writes "
                              f"(its out_dir), read by notebooks that need {CLEANING_NOTEBOOK}")


def announce(responses_path: str | os.PathLike[str]) -> None:
    """Called when a study is opened: in a `cx run`, refuse processed data this run did not
    write; interactively, print the stale-data line (if any) to stderr, which JupyterLab shows
    under the cell and a command line keeps apart from its results."""
    run_id = os.environ.get(config.RUN_ENV)
    if run_id:
        if (error := run_mismatch(responses_path, run_id)) is not None:
            raise error
        return
    if (message := stale_message(responses_path)) is not None:
        print(message, file=sys.stderr)
