"""The repository must work from any clone: no tracked file may point at the team's shared folder
beside the checkout or at this team's folders.

A user's clone has no shared folder beside it, so a test, notebook or helper that reads it fails there
(and `.ci/run` also runs the suite from a clone placed where that folder does not exist). Data the
tests need is copied into tests/data/ with its source and licence.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from helpers.paths import PROJECT_ROOT

THIS = Path(__file__).resolve().relative_to(PROJECT_ROOT).as_posix()
OUTSIDE = [
    re.compile(rb"\.\.[/\\]+shared\b"),                                  # ..(/ or \)shared
    re.compile(rb"""parents?\b[^\n]{0,40}?["']shared["']"""),            # ROOT.parent / "shared"
    re.compile(rb"\bshared[/\\]+(?:reference|real-exports)\b"),          # shared/reference/...
    re.compile(rb"PROJECT_ROOT\.parents?\b"),                            # anything above the root
    re.compile(rb"/work/(?:shared|main|wt-)"),                           # this team's absolute paths
]
SKIP_DIRS = {".git", ".venv", "data", "reports", "__pycache__", ".hypothesis", ".ruff_cache"}


def tracked_files() -> list[str]:
    """Files git tracks (the tree walked, minus generated folders, when this is not a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True,
                             check=True).stdout
        return [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        return [p.relative_to(PROJECT_ROOT).as_posix() for p in PROJECT_ROOT.rglob("*")
                if p.is_file() and not SKIP_DIRS & set(p.relative_to(PROJECT_ROOT).parts)]


def references_outside(data: bytes) -> list[str]:
    """The snippets of `data` that point outside the repository."""
    return [m.group().decode(errors="replace") for rx in OUTSIDE for m in rx.finditer(data)]


def test_patterns_catch_the_ways_a_path_leaves_the_repository() -> None:
    for bad in (b'REF = PROJECT_ROOT.parent / "shared" / "reference"', b"see .." + b"/shared/GUIDE.md",
                b"os.path.join(ROOT, 'shared/real-exports')", b"open('/work/shared/x.csv')",
                b"Path(__file__).parents[2] / 'shared'", b"..\\shared\\reference"):
        assert references_outside(bad), bad
    for fine in (b'REF = PROJECT_ROOT / "tests" / "data" / "reference"', b"shared: {min_n: 5}",
                 b"params.shared.items()", b'<a href="../index.html">'):
        assert not references_outside(fine), fine


def test_no_tracked_file_refers_outside_the_repository() -> None:
    files = tracked_files()
    assert "pyproject.toml" in files and "Makefile" in files  # the listing itself worked
    found = [f"{f}: {hit}" for f in files if f != THIS and (PROJECT_ROOT / f).is_file()
             for hit in references_outside((PROJECT_ROOT / f).read_bytes())]
    assert not found, "tracked files point outside the repository:\n" + "\n".join(found)
