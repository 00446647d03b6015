"""Project-root anchored paths, so notebooks behave the same under papermill, nbval and JupyterLab."""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("CX_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "pyproject.toml").is_file() and (folder / "config").is_dir():
                return folder
    raise RuntimeError("cannot locate the project root (a folder with pyproject.toml and config/)")


PROJECT_ROOT: Path = _find_root()
CONFIG_DIR = PROJECT_ROOT / "config"
DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def resolve(path: str | os.PathLike[str]) -> Path:
    """Return `path` as an absolute path; relative paths are taken from the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (PROJECT_ROOT / p).resolve()


def is_raw(path: str | os.PathLike[str]) -> bool:
    """True when `path` lies inside data/raw (immutable input data).

    Both sides are resolved the way the operating system would (``..``, symlinks of the path or
    of any parent, absolute or relative), so ``data/processed/../raw`` or a link to data/raw
    counts as data/raw.
    """
    p = Path(os.path.realpath(resolve(path)))
    raw = Path(os.path.realpath(RAW_DIR))
    return p == raw or raw in p.parents
