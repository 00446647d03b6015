"""The run folder ``reports/<run-id>/`` and what surrounds it: the run id, the lock that keeps two
runs apart, runs a dead process left "running", the ``latest`` link, the run's log, and the
provenance a manifest records (git commit, checksums, package versions)."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import importlib.metadata
import logging
import os
import platform
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helpers import catalog, paths
from helpers.errors import ConfigError
from helpers.reporting import manifest
from helpers.reporting.manifest import Status

log = logging.getLogger("helpers.reporting.pipeline")

# A run id names a folder directly under reports/: letters, digits, '.', '_' and '-' only.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
#: Names the reports folder uses itself (the latest link and its per-study forms, the index page,
#: the notebooks' interactive run folder): never a run id, in any letter case.
RESERVED_RUN_IDS = re.compile(r"(latest([.-].*)?|index(\.html?)?|interactive)", re.I)
KEY_PACKAGES = ("cx-workspace", "numpy", "pandas", "scipy", "statsmodels", "scikit-learn",
                "matplotlib", "seaborn", "pyarrow", "pyreadstat", "openpyxl", "pyyaml",
                "papermill", "nbconvert", "nbformat", "nbclient", "ipykernel")
#: Loggers whose records go to the run's run.log.
RUN_LOGGERS = ("helpers.reporting.pipeline", "helpers.reporting.render", "papermill")


class RunLockedError(catalog.LockedError):
    """Another run holds reports/.lock."""


def relative(p: Path | str) -> str:
    """Path relative to the project root when inside it (for messages), else absolute."""
    p = Path(p)
    try:
        return str(p.resolve().relative_to(paths.PROJECT_ROOT))
    except ValueError:
        return str(p)


def now() -> str:
    """The current UTC time as the manifest stores it ('2026-11-23T14:45:01Z')."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_run_id(run_id: str | None) -> None:
    """Raise ConfigError unless `run_id` is a plain folder name (no path, markup or '..')."""
    if run_id is None:
        return
    if not RUN_ID.fullmatch(run_id) or ".." in run_id:
        shown = repr(run_id) if len(run_id) <= 60 else repr(run_id[:57]) + "..."
        raise ConfigError(f"run id {shown} is not a plain folder name", file="cx run --run-id",
                          expected="1-80 letters, digits, '.', '_' or '-', starting with a letter "
                                   "or digit, without '..'")
    if RESERVED_RUN_IDS.fullmatch(run_id):
        raise ConfigError(f"run id {run_id!r} is a name the reports folder uses itself",
                          file="cx run --run-id",
                          expected="another name (not latest, latest-*, index.html or interactive)")


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


def run_lock(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``out_dir/.lock`` (fcntl, non-blocking) or raise :class:`RunLockedError`."""
    return catalog.file_lock(Path(out_dir) / ".lock", "another report run is in progress",
                             error=RunLockedError)


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def mark_interrupted(out_dir: Path) -> list[str]:
    """Mark runs whose manifest still says "running" but whose process is gone as failed.

    Called while holding the lock, so no run in `out_dir` can genuinely be running.
    """
    fixed = []
    for path in sorted(out_dir.glob(f"*/{manifest.FILE}")):
        if path.parent.is_symlink():
            continue
        try:
            doc = manifest.read(path.parent)
        except (OSError, ValueError):
            continue
        if doc.status is not Status.RUNNING:
            continue
        gone = "is gone" if not _pid_alive(doc.pid) else "no longer holds the run lock"
        reason = f"interrupted: process {doc.pid} {gone}; the run never finished"
        doc.interrupt(reason)
        doc.finished_at = doc.finished_at or now()
        manifest.write(path.parent, doc)
        fixed.append(doc.run_id)
        log.warning("run %s was %s; marked failed", path.parent.name, reason)
    return fixed


def switch_latest(out_dir: Path, run_id: str, name: str = "latest") -> None:
    """Point ``out_dir/<name>`` (``latest``, or a study's ``latest-<study>``) at `run_id`
    atomically (symlink + rename); a real file or folder there is refused, never replaced."""
    link = out_dir / name
    if link.exists() and not link.is_symlink():
        raise PermissionError(f"{link}: is a real file or folder, not the link a run keeps there; "
                              "move it away and run again")
    tmp = out_dir / f".{name}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(run_id, tmp)
    os.replace(tmp, link)


class _QuietFileHandler(logging.FileHandler):
    """run.log that goes quiet when it cannot be written (full disk) instead of printing a
    traceback per log record; the run's own error says what went wrong, in one line."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.failed = True


@contextlib.contextmanager
def run_log(run_dir: Path) -> Iterator[None]:
    """Send pipeline and papermill logging to ``<run_dir>/run.log`` for the run's duration."""
    handler = _QuietFileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(n) for n in RUN_LOGGERS]
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


# --- provenance: what the manifest records about the code and the inputs ---------------------


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
