"""tools/compare_runs.py: the reproducibility check of two installs must see a changed byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.paths import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "tools" / "compare_runs.py"


def _run(folder: Path, nps: bytes = b'{"nps_b2b": {"estimate": 31.25}}') -> Path:
    (folder / "metrics").mkdir(parents=True)
    (folder / "tables").mkdir()
    (folder / "metrics" / "02_segments.json").write_bytes(nps)
    (folder / "tables" / "segment_nps.parquet").write_bytes(b"PAR1 table bytes PAR1")
    return folder


def _compare(a: Path, b: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True)


def test_identical_runs_pass(tmp_path: Path) -> None:
    out = _compare(_run(tmp_path / "a"), _run(tmp_path / "b"))
    assert out.returncode == 0 and "identical: 2 result files" in out.stdout


def test_a_changed_or_missing_file_fails_and_is_named(tmp_path: Path) -> None:
    a = _run(tmp_path / "a")
    b = _run(tmp_path / "b", nps=b'{"nps_b2b": {"estimate": 31.250000000000004}}')
    (b / "tables" / "extra.parquet").write_bytes(b"PAR1")
    out = _compare(a, b)
    assert out.returncode == 1
    assert "differs: metrics/02_segments.json" in out.stdout
    assert f"only in {b}: tables/extra.parquet" in out.stdout


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    out = _compare(_run(tmp_path / "a"), tmp_path)
    assert out.returncode == 2 and "not a run folder" in out.stderr
