"""Project-root anchored paths, so notebooks behave the same under papermill, nbval and JupyterLab.

``data/`` may live elsewhere: with ``$CX_DATA_DIR`` set, every path under ``data/`` (in the
catalog, the run parameters, the command line) resolves there instead. The test suite uses this
to run on its own generated sample and never touch the analyst's data. ``$CX_REPORTS_DIR`` moves
the default reports folder the same way (e.g. onto a shared web folder).
"""

from __future__ import annotations

import os
import re
import unicodedata
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
DATA_DIR = Path(os.environ["CX_DATA_DIR"]).resolve() if os.environ.get("CX_DATA_DIR") \
    else PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
REPORTS_DIR = Path(os.environ["CX_REPORTS_DIR"]).resolve() if os.environ.get("CX_REPORTS_DIR") \
    else PROJECT_ROOT / "reports"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"


def resolve(path: str | os.PathLike[str]) -> Path:
    """Return `path` as an absolute path; relative paths are taken from the project root (and a
    relative path under ``data/`` from :data:`DATA_DIR`)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    if p.parts[:1] == ("data",):
        return DATA_DIR.joinpath(*p.parts[1:]).resolve()
    return (PROJECT_ROOT / p).resolve()


def user_path(text: str) -> str:
    """A path typed on the command line: relative to the current folder, as a user expects (from
    the project root it is left as is, so ``data/...`` still follows :data:`DATA_DIR`)."""
    p = Path(text).expanduser()
    if not text or p.is_absolute() or Path.cwd().resolve() == PROJECT_ROOT.resolve():
        return text
    return str(Path.cwd() / p)


def shown(path: str | os.PathLike[str]) -> str:
    """A path as a user would type it here: relative to the current folder when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve())) if p.is_absolute() else str(p)
    except ValueError:
        return str(p)


def is_raw(path: str | os.PathLike[str]) -> bool:
    """True when `path` lies inside data/raw (immutable input data).

    Both sides are resolved the way the operating system would (``..``, symlinks of the path or
    of any parent, absolute or relative), so ``data/processed/../raw`` or a link to data/raw
    counts as data/raw.
    """
    p = Path(os.path.realpath(resolve(path)))
    raw = Path(os.path.realpath(RAW_DIR))
    return p == raw or raw in p.parents


STUDY_DEFAULT = "survey"   # the study of a run without a survey export or schema among its inputs
STUDY_LIMIT = 40           # characters of a study id


def slug(text: str, limit: int = STUDY_LIMIT) -> str:
    """A safe folder-name form of `text`: lowercase ASCII letters, digits and single hyphens,
    at most `limit` characters; :data:`STUDY_DEFAULT` when nothing is left."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    out = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:limit].strip("-")
    return out or STUDY_DEFAULT
