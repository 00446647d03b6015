"""The report pipeline behind ``cx run``: validate, execute notebooks, render, record, publish.

1. Read config/pipeline.yaml (notebooks in order, ``needs``, ``inputs``) and config/params.yaml
   (``shared`` + ``notebooks.<name>`` keys) and validate every parameter against each notebook's
   parameters cell (``papermill.inspect_notebook``) *before* anything runs: unknown keys, wrong
   types and missing input files raise one one-line :class:`ConfigError`.
2. Take the lock ``reports/.lock`` (two runs never overlap), mark runs left "running" by a dead
   process as failed, create ``reports/<run-id>/`` (UTC timestamp + git sha, never reused).
3. Run the notebooks with papermill (kernel python3, cwd = project root, ``run_dir`` injected),
   each once all the notebooks it needs have finished, up to PARALLEL at a time from this one
   process; render each executed notebook to standalone HTML (code hidden) even
   when it failed, skip the notebooks that need a failed one, and keep ``manifest.json`` current.
4. Rewrite ``reports/index.html``; switch ``reports/latest`` only when the whole run succeeded.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import errno
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import catalog, config, contract, paths
from helpers import inputs as registry
from helpers.config import NotebookStep, PipelineConfig, RunParams
from helpers.errors import ConfigError, DataError, os_error_line
from helpers.reporting import render, run_index, scheduler, workbook

log = logging.getLogger("helpers.reporting.pipeline")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 75
# Notebooks run at once when their needs are met (CX_PARALLEL_NOTEBOOKS=1 runs them one by one).
PARALLEL = max(1, int(os.environ.get("CX_PARALLEL_NOTEBOOKS", min(2, os.cpu_count() or 1))))
RESERVED = ("run_dir",)
KEY_PACKAGES = ("cx-workspace", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn",
                "matplotlib", "seaborn", "pyarrow", "pyreadstat", "openpyxl", "pyyaml",
                "papermill", "nbconvert", "nbformat", "nbclient", "ipykernel")


@dataclass(frozen=True)
class RunResult:
    """Outcome of one ``cx run``: where it went and how it ended."""

    run_id: str
    run_dir: Path
    status: str  # "succeeded" | "failed"
    exit_code: int
    index_path: Path


@dataclass(frozen=True)
class PlannedStep:
    """A validated notebook: its file, the parameters to inject and the input files it reads."""

    step: NotebookStep
    notebook: Path
    overrides: dict[str, Any]
    defaults: dict[str, Any]
    declared: dict[str, dict[str, Any]]
    inputs: dict[str, Path] = field(default_factory=dict)


class RunLockedError(catalog.LockedError):
    """Another run holds reports/.lock."""


# A run id names a folder directly under reports/: letters, digits, '.', '_' and '-' only.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
MAX_PARAM_CHARS = 10_000  # a parameter value (as JSON) larger than this is a mistake or an attack


def check_run_id(run_id: str | None) -> None:
    """Raise ConfigError unless `run_id` is a plain folder name (no path, markup or '..')."""
    if run_id is None:
        return
    if not RUN_ID.fullmatch(run_id) or ".." in run_id:
        shown = repr(run_id) if len(run_id) <= 60 else repr(run_id[:57]) + "..."
        raise ConfigError(f"run id {shown} is not a plain folder name", file="cx run --run-id",
                          expected="1-80 letters, digits, '.', '_' or '-', starting with a letter "
                                   "or digit, without '..'")


# --- validation ------------------------------------------------------------------------------


def _rel(p: Path | str) -> str:
    """Path relative to the project root when inside it (for messages), else absolute."""
    p = Path(p)
    try:
        return str(p.resolve().relative_to(paths.PROJECT_ROOT))
    except ValueError:
        return str(p)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float),
                                         "bool": (bool,)}


def coerce(value: Any, type_name: str, default: Any = None) -> Any:
    """Check `value` against a parameters-cell annotation and return it in that type.

    Raises TypeError naming what was expected. YAML dates become ISO strings for ``str``; ints
    are accepted (and converted) for ``float``; bools are never ints. Parameters without an
    annotation are checked against the type of their literal default, when there is one.
    """
    t = (type_name or "None").replace(" ", "")
    if t in ("None", "Any", "typing.Any"):
        if default is None:
            return _plain(value)
        t = type(default).__name__
    base, _, inner = t.partition("[")
    inner = inner[:-1] if inner.endswith("]") else inner
    if isinstance(value, dt.date) and base == "str":
        return value.isoformat()
    if base in _SCALARS:
        ok = isinstance(value, _SCALARS[base]) and not (isinstance(value, bool) and base != "bool")
        if not ok:
            raise TypeError(base)
        return float(value) if base == "float" else value
    if base in ("list", "List", "tuple", "Tuple"):
        if not isinstance(value, list | tuple):
            raise TypeError(t)
        if inner in _SCALARS:
            try:
                return [coerce(v, inner) for v in value]
            except TypeError:
                raise TypeError(t) from None
        return [_plain(v) for v in value]
    if base in ("dict", "Dict"):
        if not isinstance(value, dict):
            raise TypeError(t)
        return {str(k): _plain(v) for k, v in value.items()}
    return _plain(value)


def _plain(value: Any) -> Any:
    """Make YAML values papermill-safe (dates -> ISO strings, tuples -> lists)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def inspect_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """Parameters declared by a notebook's ``parameters`` cell (name -> type, default, help)."""
    import papermill

    pm_log = logging.getLogger("papermill")
    level = pm_log.level
    pm_log.setLevel(logging.WARNING)  # no "Input Notebook: ..." line per notebook on --check
    try:
        return papermill.inspect_notebook(str(notebook))
    finally:
        pm_log.setLevel(level)


def validate(params: RunParams, pipeline: PipelineConfig) -> list[PlannedStep]:
    """Check every parameter against every notebook before anything runs.

    Returns the planned steps; raises :class:`ConfigError` (one line, naming file, key, what was
    found and what was expected) for unknown notebooks or keys, wrong types, a reserved key, a
    missing notebook or a missing input file.
    """
    pfile = _rel(params.file)
    names = [s.name for s in pipeline.steps]
    for name in params.notebooks:
        if name not in names:
            raise ConfigError(f"notebooks.{name}: unknown notebook", file=pfile,
                              expected=f"one of {', '.join(names)} (config/pipeline.yaml)")
    for key in (*params.shared, *(k for v in params.notebooks.values() for k in v)):
        if key in RESERVED:
            raise ConfigError(f"key {key!r} is set by the runner", file=pfile,
                              expected="no run_dir in params (use cx run --out)")
    planned = [_plan_step(step, params, pipeline) for step in pipeline.steps]
    declared_anywhere = {k for p in planned for k in p.declared}
    for key in params.shared:
        if key not in declared_anywhere:
            raise ConfigError(f"shared.{key}: no notebook declares this parameter", file=pfile,
                              expected="a parameter of at least one notebook in the pipeline")
    return planned


def _plan_step(step: NotebookStep, params: RunParams, pipeline: PipelineConfig) -> PlannedStep:
    """One notebook's checked parameters (params file over its defaults) and input files."""
    pfile, yfile = _rel(params.file), _rel(pipeline.file)
    nb_path = paths.resolve(step.path)
    if not nb_path.is_file():
        raise ConfigError(f"notebook {step.name!r}: file {step.path} not found", file=yfile,
                          expected="an existing .ipynb (entry 'path' or notebooks_dir)")
    declared = inspect_parameters(nb_path)
    defaults = {k: _literal(v.get("default", "")) for k, v in declared.items()}
    specific = params.notebooks.get(step.name, {})
    for key in specific:
        if key not in declared:
            raise ConfigError(
                f"notebooks.{step.name}.{key}: unknown parameter", file=pfile,
                expected=f"one of {', '.join(sorted(declared)) or 'none'} "
                         f"(parameters cell of {_rel(nb_path)})")
    merged = {**{k: v for k, v in params.shared.items() if k in declared}, **specific}
    overrides: dict[str, Any] = {}
    for key, value in merged.items():
        where = f"notebooks.{step.name}.{key}" if key in specific else f"shared.{key}"
        _check_size(value, where, pfile)
        try:
            overrides[key] = coerce(value, declared[key].get("inferred_type_name", "None"),
                                    defaults.get(key))
        except TypeError as exc:
            raise ConfigError(f"{where}: found {_describe(value)}", file=pfile,
                              expected=f"{exc} (parameters cell of {_rel(nb_path)}, "
                                       f"used by {step.name})") from None
    inputs: dict[str, Path] = {}
    for key in (*step.inputs, *step.optional_inputs):
        if key not in declared:
            raise ConfigError(f"notebook {step.name!r}: input {key!r} is not a parameter",
                              file=yfile, expected=f"one of {', '.join(sorted(declared))}")
        source = (f"notebooks.{step.name}.{key}" if key in specific else
                  f"shared.{key}" if key in overrides else f"default of {key} in {_rel(nb_path)}")
        found = _input_file(overrides.get(key, defaults.get(key)), source, pfile, step,
                            optional=key in step.optional_inputs)
        if found is not None:
            inputs[key] = found
    return PlannedStep(step=step, notebook=nb_path, overrides=overrides, defaults=defaults,
                       declared=declared, inputs=inputs)


def _check_size(value: Any, where: str, pfile: str) -> None:
    """ConfigError when a parameter value is larger than :data:`MAX_PARAM_CHARS` as JSON."""
    try:
        size = len(json.dumps(value, default=str))
    except (ValueError, RecursionError):  # a self-referencing YAML structure
        size = MAX_PARAM_CHARS + 1
    if size > MAX_PARAM_CHARS:
        raise ConfigError(f"{where}: value is {size:,} characters", file=pfile,
                          expected=f"at most {MAX_PARAM_CHARS:,} (a parameter is a setting, "
                                   "not data; put data in a file)")


def _input_file(value: Any, source: str, pfile: str, step: NotebookStep,
                optional: bool) -> Path | None:
    """The existing file an input parameter names; None for an optional input left ""."""
    if optional and value in ("", None):
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: input file is {value!r}", file=pfile,
                          expected="a file path" + (' (or "" when not provided)' if optional else ""))
    resolved = paths.resolve(value)
    if not resolved.exists():
        raise ConfigError(f"{source}: input file {value!r} not found", file=pfile,
                          expected=f"an existing file ({step.name} reads it)"
                                   + ('; "" when you have none' if optional else ""))
    if not resolved.is_file() and not _parts_folder(resolved):
        raise ConfigError(f"{source}: input {value!r} is not a file", file=pfile,
                          expected=f"one file ({step.name} reads it), or a folder of parts "
                                   "(part-*.csv or *.parquet files)")
    return resolved


def _parts_folder(p: Path) -> bool:
    """A folder holding the parts of one large input: files of one kind (CSV, TSV or parquet)
    and nothing else (hidden entries aside), so an ordinary folder is not taken for one."""
    if not p.is_dir():
        return False
    entries = [q for q in p.iterdir() if not q.name.startswith(".")]
    kinds = {q.suffix.lower() for q in entries}
    return bool(entries) and all(q.is_file() for q in entries) and len(kinds) == 1 \
        and kinds <= {".csv", ".tsv", ".txt", ".parquet"}


# --- run folder, lock, manifest --------------------------------------------------------------


def git_info(root: Path | None = None) -> dict[str, Any]:
    """Current commit (full and short) and whether tracked files differ from it."""
    root = root or paths.PROJECT_ROOT

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=20, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    return {"commit": commit or None, "short": commit[:7] if commit else "nogit", "dirty": dirty}


def make_run_dir(out_dir: Path, run_id: str | None = None, now: dt.datetime | None = None,
                 short_sha: str = "nogit") -> tuple[str, Path]:
    """Create ``out_dir/<run-id>``: ``YYYYmmddTHHMMSSZ-<sha>``, suffixed ``-2``, ``-3``... if taken.

    ``mkdir`` without ``exist_ok`` is atomic, so two callers never get the same folder.
    """
    now = now or dt.datetime.now(dt.UTC)
    base = run_id or f"{now:%Y%m%dT%H%M%SZ}-{short_sha}"
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(1, 1000):
        candidate = base if i == 1 else f"{base}-{i}"
        try:
            (out_dir / candidate).mkdir()
        except FileExistsError:
            continue
        return candidate, out_dir / candidate
    raise RuntimeError(f"{out_dir}: no free run id for {base}")


def sha256_path(p: Path) -> str:
    """SHA-256 of a file (of the sorted relative names and contents for a folder)."""
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for q in files:
        if p.is_dir():
            h.update(str(q.relative_to(p)).encode())
        with open(q, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the key packages (importlib.metadata), for the manifest."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def run_lock(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``out_dir/.lock`` (fcntl, non-blocking) or raise :class:`RunLockedError`."""
    return catalog.file_lock(Path(out_dir) / ".lock", "another report run is in progress",
                             error=RunLockedError)


def mark_interrupted(out_dir: Path) -> list[str]:
    """Mark runs whose manifest still says "running" but whose process is gone as failed.

    Called while holding the lock, so no run in `out_dir` can genuinely be running.
    """
    fixed = []
    for manifest in sorted(out_dir.glob("*/manifest.json")):
        if manifest.parent.is_symlink():
            continue
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if doc.get("status") != "running":
            continue
        pid = doc.get("pid")
        gone = "is gone" if not _pid_alive(pid) else "no longer holds the run lock"
        reason = f"interrupted: process {pid} {gone}; the run never finished"
        doc.update(status="failed", error=reason,
                   finished_at=doc.get("finished_at") or _now())
        for nb in doc.get("notebooks", []):
            if nb.get("status") in ("running", "pending"):
                nb.update(status="failed" if nb["status"] == "running" else "skipped",
                          error=reason if nb["status"] == "running" else None,
                          reason=None if nb["status"] == "running" else reason)
        render.publish_bytes(manifest, json.dumps(doc, indent=2).encode("utf-8"))
        fixed.append(str(doc.get("run_id", manifest.parent.name)))
        log.warning("run %s was %s; marked failed", manifest.parent.name, reason)
    return fixed


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_manifest(run_dir: Path, doc: Mapping[str, Any]) -> None:
    render.publish_bytes(run_dir / "manifest.json",
                         json.dumps(doc, indent=2, default=str).encode("utf-8"))


def _switch_latest(out_dir: Path, run_id: str) -> None:
    """Point ``out_dir/latest`` at `run_id` atomically (symlink + rename)."""
    link = out_dir / "latest"
    tmp = out_dir / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(run_id, tmp)
    os.replace(tmp, link)


class _QuietFileHandler(logging.FileHandler):
    """run.log that goes quiet when it cannot be written (full disk) instead of printing a
    traceback per log record; the run's own error says what went wrong, in one line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.failed = True


@contextlib.contextmanager
def _run_log(run_dir: Path) -> Iterator[None]:
    """Send pipeline and papermill logging to ``<run_dir>/run.log`` for the run's duration."""
    handler = _QuietFileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(n) for n in ("helpers.reporting.pipeline", "helpers.reporting.render", "papermill")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, saved, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()


# --- running ---------------------------------------------------------------------------------


def _param_rows(plan: PlannedStep, run_dir_value: str) -> list[render.ParamRow]:
    rows = []
    for name, meta in plan.declared.items():
        if name == "run_dir":
            value, source = run_dir_value, "runner"
        elif name in plan.overrides:
            value, source = plan.overrides[name], "params file"
        else:
            value, source = plan.defaults.get(name, meta.get("default")), "notebook default"
        rows.append(render.ParamRow(name=name, value=json.dumps(value, default=str),
                                    source=source, help=str(meta.get("help", ""))))
    return rows


def _effective(plan: PlannedStep, run_dir_value: str) -> dict[str, Any]:
    """Every parameter a notebook ran with: its defaults, the params file's values, run_dir."""
    out: dict[str, Any] = {}
    for name, meta in plan.declared.items():
        default = plan.defaults.get(name)
        out[name] = default if default is not None else meta.get("default")
    out.update(plan.overrides)
    if "run_dir" in plan.declared:
        out["run_dir"] = run_dir_value
    return out


def _error_text(exc: BaseException) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        cell = getattr(exc, "exec_count", None)
        where = f" (cell [{cell}])" if cell else ""
        return " ".join(f"{ename}: {evalue}{where}".split())[:500]
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


def _execute(plan: PlannedStep, output: Path, parameters: dict[str, Any]) -> None:
    import papermill

    on_tty = sys.stdout.isatty()
    papermill.execute_notebook(
        str(plan.notebook), str(output), parameters=parameters, kernel_name="python3",
        cwd=str(paths.PROJECT_ROOT), progress_bar=on_tty, log_output=not on_tty,
        kernel_manager_class=_kernel_manager(),
    )


def export_options() -> dict[str, str]:
    """`cx run` options naming one export and its optional input files (as argument names)
    -> notebook 01's parameters."""
    return {"raw": "raw_path", "schema": "schema_path",
            **{i.dest: i.parameter for i in registry.files()}}


def export_overrides(segments: str | None = None, **given: str | None) -> dict[str, dict[str, Any]]:
    """Parameters for a run on one export: notebook 01's options given, "" (not provided) for
    every optional input not given, so no file of another programme is read; `segments` is the
    analysis settings file for every notebook."""
    out: dict[str, dict[str, Any]] = {"shared": {"segments_config": segments}} if segments else {}
    if given.get("raw"):
        values = {param: given.get(opt) or "" for opt, param in export_options().items()}
        if not given.get("schema"):
            values.pop("schema_path")
        out["01_clean_survey"] = values
    return out


def run(
    params_path: str | os.PathLike[str] = "config/params.yaml",
    out_dir: str | os.PathLike[str] | None = None,
    pipeline_path: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> RunResult:
    """Validate, then run the whole pipeline into ``<out_dir>/<run-id>/``.

    `overrides` replace notebooks' values of the params file (see :func:`export_overrides`).
    Raises :class:`ConfigError` (nothing executed, no run folder) when the parameters do not fit
    the notebooks, and :class:`RunLockedError` when another run holds the lock.
    """
    check_run_id(run_id)
    reports = catalog.refuse_raw(out_dir, "reports") if out_dir else paths.REPORTS_DIR
    params = config.with_overrides(config.load_params(params_path), overrides or {})
    pipeline = config.load_pipeline(pipeline_path or "config/pipeline.yaml")
    plan = validate(params, pipeline)
    same = (reports / ".lock").resolve() == catalog.writer_lock_path().resolve()
    with run_lock(reports), contextlib.nullcontext() if same else catalog.writer_lock():
        mark_interrupted(reports)
        git = git_info()
        rid, run_dir = make_run_dir(reports, run_id, short_sha=git["short"])
        previous = os.environ.get(config.RUN_ENV)
        os.environ[config.RUN_ENV] = rid  # kernels inherit it: notebooks keep the injected values
        try:
            with _run_log(run_dir), _kernel_folder(reports, rid):
                return _run_locked(plan, params, pipeline, reports, rid, run_dir, git)
        except OSError:
            if not (run_dir / "manifest.json").is_file():  # nothing the index could show
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        finally:
            if previous is None:
                os.environ.pop(config.RUN_ENV, None)
            else:
                os.environ[config.RUN_ENV] = previous


KERNELS = ".kernels"  # reports/.kernels/<run-id>/: connection files of the run's kernels (0700)


@contextlib.contextmanager
def _kernel_folder(reports: Path, rid: str) -> Iterator[None]:
    """Kernel connection files go to a private folder of the run, never to /tmp.

    A run killed outright cannot clean up after itself; the next run (which holds the lock, so no
    other run is alive) removes what killed runs left behind.
    """
    root = reports / KERNELS
    for stale in root.glob("*"):
        shutil.rmtree(stale, ignore_errors=True)
    folder = root / rid
    folder.mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    _KERNEL_DIR[0] = folder
    try:
        yield
    finally:
        _KERNEL_DIR[0] = None
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()  # only when no killed run left a folder in it


_KERNEL_DIR: list[Path | None] = [None]


def _kernel_manager() -> type:
    """A KernelManager whose connection file lives in the run's kernel folder."""
    from jupyter_client.manager import KernelManager

    folder = _KERNEL_DIR[0]

    class RunKernelManager(KernelManager):  # type: ignore[misc]
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            if folder is not None and not self.connection_file:
                self.connection_file = str(folder / f"kernel-{uuid.uuid4()}.json")

    return RunKernelManager


@dataclass
class _Run:
    """One run in progress: where it writes, its manifest (kept current on disk) and renderer."""

    rid: str
    run_dir: Path
    short_sha: str
    manifest: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)
    publisher: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="render"))
    rendering: list[Future[None]] = field(default_factory=list)

    @property
    def run_dir_value(self) -> str:
        return _rel(self.run_dir)

    def save(self) -> None:
        with self.lock:
            _write_manifest(self.run_dir, self.manifest)


def _new_manifest(plan: list[PlannedStep], params: RunParams, pipeline: PipelineConfig, rid: str,
                  run_dir: Path, git: dict[str, Any]) -> dict[str, Any]:
    """The manifest a run starts with: inputs' checksums, parameters, packages, pending notebooks."""
    inputs: dict[str, str] = {}
    for extra in (Path(params.file), Path(pipeline.file), *(p.notebook for p in plan)):
        inputs[_rel(extra)] = sha256_path(extra)
    for p in plan:
        for f in p.inputs.values():
            inputs.setdefault(_rel(f), sha256_path(f))
    return {
        "run_id": rid, "status": "running", "pid": os.getpid(), "host": socket.gethostname(),
        "started_at": _now(), "finished_at": None, "duration_s": None,
        "git": {"commit": git["commit"], "dirty": git["dirty"]},
        "params_file": _rel(params.file), "pipeline_file": _rel(pipeline.file),
        "parameters": {p.step.name: _effective(p, _rel(run_dir)) for p in plan},
        "overrides": {p.step.name: p.overrides for p in plan},
        "inputs": inputs, "packages": package_versions(),
        "notebooks": [{"name": p.step.name, "status": "pending", "needs": list(p.step.needs),
                       "duration_s": None, "error": None, "reason": None, "ipynb": None,
                       "html": None, "pdf": None} for p in plan],
    }


def _run_locked(plan: list[PlannedStep], params: RunParams, pipeline: PipelineConfig,
                reports: Path, rid: str, run_dir: Path, git: dict[str, Any]) -> RunResult:
    """Run every notebook in dependency order (PARALLEL at a time), render, close the manifest.

    Kernels are started from this one process, whose port cache (jupyter_client LocalPortCache)
    keeps their ports apart; HTML and PDF are rendered on another thread meanwhile.
    """
    started = time.perf_counter()
    run = _Run(rid, run_dir, git["short"], _new_manifest(plan, params, pipeline, rid, run_dir, git))
    run.save()
    run_index.write_index(reports, pipeline.headline)
    log.info("run %s started: %d notebooks into %s", rid, len(plan), run_dir)
    entries = {e["name"]: e for e in run.manifest["notebooks"]}
    jobs = [scheduler.Job(p.step.name, p.step.needs, p) for p in plan]

    def start(job: scheduler.Job) -> None:
        entries[job.name]["status"] = "running"
        run.save()

    def skip(job: scheduler.Job, reason: str) -> None:
        entries[job.name].update(status="skipped", reason=reason)
        log.warning("%s skipped: %s", job.name, reason)
        run.save()

    try:
        scheduler.run_jobs(jobs, lambda job: _execute_step(run, job.payload, entries[job.name]),
                           parallel=PARALLEL, on_start=start, on_skip=skip)
    except BaseException as exc:
        _mark_interrupted_run(run.manifest, f"interrupted: {_error_text(exc)}")
        raise
    finally:
        index = _finish(run, reports, pipeline, started)
    status = run.manifest["status"]
    return RunResult(run_id=rid, run_dir=run_dir, status=status,
                     exit_code=EXIT_OK if status == "succeeded" else EXIT_FAILED, index_path=index)


def _execute_step(run: _Run, p: PlannedStep, entry: dict[str, Any]) -> str:
    """Run one notebook (in a worker thread), then queue its HTML/PDF rendering; its status."""
    name = p.step.name
    output = run.run_dir / f"{name}.ipynb"
    parameters = dict(p.overrides)
    if "run_dir" in p.declared:
        parameters["run_dir"] = run.run_dir_value
    log.info("%s: executing %s", name, _rel(p.notebook))
    t0 = time.perf_counter()
    error = None
    try:
        _execute(p, output, parameters)
    except Exception as exc:  # noqa: BLE001 - any failure marks this notebook failed
        error = _error_text(exc)
    entry.update(duration_s=round(time.perf_counter() - t0, 3), error=error,
                 status="failed" if error else "succeeded")
    if error:
        log.error("%s failed: %s", name, error)
    else:
        log.info("%s succeeded in %.1f s", name, entry["duration_s"])
    if output.is_file():
        entry["ipynb"] = output.name
        run.rendering.append(run.publisher.submit(_publish, run, p, entry, output, error))
    run.save()
    return entry["status"]


def _mark_interrupted_run(manifest: dict[str, Any], reason: str) -> None:
    manifest.update(status="failed", error=reason)
    for entry in manifest["notebooks"]:
        if entry["status"] == "running":
            entry.update(status="failed", error=reason)
        elif entry["status"] == "pending":
            entry.update(status="skipped", reason=reason)


def _finish(run: _Run, reports: Path, pipeline: PipelineConfig, started: float) -> Path:
    """Wait for rendering, close the manifest, switch latest on success, rewrite the index."""
    run.publisher.shutdown(wait=True)
    for job in run.rendering:
        job.result()
    manifest = run.manifest
    if manifest["status"] == "running":
        ok = all(e["status"] == "succeeded" for e in manifest["notebooks"])
        manifest["status"] = "succeeded" if ok else "failed"
    _write_workbook(run.run_dir, manifest)
    manifest.update(finished_at=_now(), duration_s=round(time.perf_counter() - started, 3))
    _write_manifest(run.run_dir, manifest)
    if manifest["status"] == "succeeded":
        _switch_latest(reports, run.rid)
    index = run_index.write_index(reports, pipeline.headline)
    log.info("run %s %s in %.1f s; index %s", run.rid, manifest["status"], manifest["duration_s"],
             index)
    return index


def _write_workbook(run_dir: Path, manifest: dict[str, Any]) -> None:
    """``tables.xlsx`` from the run's result tables; a failure is noted, never fatal."""
    currency = next((str(p["currency"]) for p in (manifest.get("parameters") or {}).values()
                     if isinstance(p, dict) and p.get("currency")), "USD")
    try:
        book = workbook.write_workbook(run_dir, manifest, currency=currency)
        manifest["workbook"] = book.name if book else None
    except Exception as exc:  # noqa: BLE001 - the reports stand without the workbook
        manifest["workbook"] = None
        manifest["workbook_note"] = f"workbook failed: {_error_text(exc)}"
        log.error("%s", manifest["workbook_note"])


def _publish(run: _Run, p: PlannedStep, entry: dict[str, Any], output: Path,
             error: str | None) -> None:
    """Render one executed notebook to HTML (and PDF when asked); a rendering bug fails the notebook."""
    name = p.step.name
    try:
        html_path = render.render_notebook_html(
            output, run.run_dir / f"{name}.html", run_id=run.rid,
            parameters=_param_rows(p, run.run_dir_value), status=entry["status"], error=error,
            commit=run.short_sha)
        entry["html"] = html_path.name
    except Exception as exc:  # noqa: BLE001 - a rendering bug must not hide the run
        entry["status"] = "failed"
        entry["error"] = (error + "; " if error else "") + "HTML: " + _error_text(exc)
        log.error("%s: %s", name, entry["error"])
    if p.step.pdf and entry["html"] and entry["status"] == "succeeded":
        pdf, message = render.print_pdf(run.run_dir / entry["html"], run.run_dir / f"{name}.pdf")
        entry["pdf"] = pdf.name if pdf else None
        entry["pdf_note"] = message
        log.info("%s: %s", name, message)
    run.save()


def not_provided(plan: list[PlannedStep]) -> list[str]:
    """One line per optional input left "" in this run: what it is and the report sections that
    will show a "not available" card for want of it (from helpers.contract.SECTIONS)."""
    lines = []
    for p in plan:
        for key in p.step.optional_inputs:
            inp = registry.by_parameter(key)
            if inp is None or key in p.inputs:
                continue
            titles = [contract.SECTIONS[s].title for s in contract.fed_by(inp.name)]
            also = f" unless {inp.fallback}" if inp.fallback else ""
            lines.append(f"not provided: {inp.what} ({key}); not available{also}: "
                         + ("; ".join(titles) or "nothing"))
    return lines


def preflight(plan: list[PlannedStep]) -> None:
    """Check the export of the cleaning step against its schema (columns, scales) before the run
    starts, so a wrong schema is one line and nothing is written."""
    from helpers.ingest import clean
    for p in plan:
        values = {**p.defaults, **p.overrides}
        if "raw_path" in values and "schema_path" in values:
            clean.preflight(values["raw_path"], values["schema_path"])


def _terminate(signum: int, frame: Any) -> None:
    """Turn SIGTERM into an exception so the manifest is closed as failed, not left running."""
    raise SystemExit(128 + signum)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cx run", description="Run the report pipeline.")
    ap.add_argument("--params", default=Path("config/params.yaml"), type=paths.user_path, help="run parameters (YAML)")
    ap.add_argument("--out", default=None, type=paths.user_path, help="reports folder (default: reports/)")
    ap.add_argument("--pipeline", default=None, type=paths.user_path, help="pipeline definition (default: config/pipeline.yaml)")
    ap.add_argument("--run-id", default=None, help="explicit run id (suffixed if taken)")
    ap.add_argument("--check", action="store_true", help="validate the parameters only, run nothing")
    for opt in export_options():
        ap.add_argument(f"--{opt.replace('_', '-')}", default=None, type=paths.user_path,
                        help="run on this export" if opt == "raw" else f"with --raw: {opt} file")
    ap.add_argument("--segments", default=None, type=paths.user_path, help="analysis settings (default config/segments.yaml)")
    ap.add_argument("--check-pages", action="store_true",
                    help="open every page of the run in headless Chromium after it (console errors, "
                         "broken images, alt text) and save a screenshot of each")
    ap.add_argument("--no-send", action="store_true",
                    help="send no mail and post no webhook after the run (docs/scheduling.md)")
    ap.add_argument("--send-to-file", default=None, metavar="DIR", type=paths.user_path,
                    help="write the mails (.eml) and webhook payload (.json) to DIR instead of sending")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """``cx run [--params FILE] [--out DIR] [--pipeline FILE] [--run-id ID] [--check]
    [--check-pages] [--no-send] [--send-to-file DIR]`` (and ``--raw EXPORT`` with its inputs)."""
    args = _parser().parse_args(argv)
    overrides = export_overrides(args.segments, **{o: getattr(args, o) for o in export_options()})
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _terminate)  # systemd stop: close the run as failed
    try:
        if args.check or args.raw:  # a new export is checked against its schema before it runs
            plan = validate(config.with_overrides(config.load_params(args.params), overrides),
                            config.load_pipeline(args.pipeline or "config/pipeline.yaml"))
            preflight(plan)
        if args.check:
            print(f"parameters OK for {len(plan)} notebook(s)")
            for line in not_provided(plan):
                print(line)
            return EXIT_OK
        # bad delivery settings stop the run before it starts (unless nothing is to be sent)
        settings = config.DeliverySettings() if args.no_send else config.load_delivery()
        result = run(args.params, out_dir=args.out, pipeline_path=args.pipeline, run_id=args.run_id,
                     overrides=overrides)
    except ConfigError as exc:
        print(f"cx run: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DataError as exc:
        print(f"cx run: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except catalog.LockedError as exc:
        print(f"cx run: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except OSError as exc:  # full or read-only disk, data/raw refused: one line, no traceback
        print(f"cx run: error: {os_error_line(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"run {result.run_id} {result.status}: {result.run_dir}")
    print(f"report index: {result.index_path}")
    if args.check_pages:
        for line in check_pages(result.run_dir):
            print(f"page check: {line}")
    for line in deliver_run(result.run_dir, settings, send=not args.no_send,
                            to_folder=args.send_to_file):
        print(f"delivery: {line}")
    return result.exit_code


def check_pages(run_dir: Path) -> list[str]:
    """Browser-check the index and every page of a run, screenshots into ``<run>/screenshots``,
    and record the outcome in its manifest (skipped, and said, without Chromium)."""
    from helpers.reporting import browser

    if browser.find_chromium() is None:
        return ["skipped: Chromium not found (apt-get install -y chromium)"]
    checks = browser.check_run(run_dir)
    record = [{"page": Path(c.page).name, "ok": c.ok, "problems": c.problems(),
               "screenshot": _rel(c.screenshot) if c.screenshot else None} for c in checks]
    try:
        doc = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        doc["page_checks"] = record
        _write_manifest(run_dir, doc)
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("page checks not recorded in the manifest: %s", exc)
    return [f"{r['page']}: " + ("ok" if r["ok"] else "; ".join(r["problems"])) for r in record]


def deliver_run(run_dir: Path, settings: config.DeliverySettings, *, send: bool = True,
                to_folder: str | None = None) -> list[str]:
    """Deliver a finished run (mails, webhook) and record what happened in its manifest."""
    from helpers.reporting import delivery

    lines = delivery.deliver(run_dir, settings, send=send, to_folder=to_folder)
    manifest_path = run_dir / "manifest.json"
    try:
        doc = json.loads(manifest_path.read_text(encoding="utf-8"))
        doc["delivery"] = lines
        _write_manifest(run_dir, doc)
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("delivery not recorded in the manifest: %s", os_error_line(exc)
                    if isinstance(exc, OSError) else exc)
    return lines

if __name__ == "__main__":
    raise SystemExit(main())
