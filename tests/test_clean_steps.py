"""`make bench`'s table of where a cleaning's time goes (benchmarks/clean_steps.py) still finds
every step it times: a renamed step would leave the table silently short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "clean_steps.py"


@pytest.mark.parametrize(("inputs", "absent"), [(False, "side tables read and cleaned"),
                                                (True, "accounts from the responses")])
def test_every_cleaning_step_is_timed(sample_dir, inputs, absent) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import clean_steps
    finally:
        sys.path.remove(str(SCRIPT.parent))
    out = subprocess.run([sys.executable, str(SCRIPT), str(sample_dir / "survey_export.csv"),
                          *(["--inputs"] if inputs else [])],
                         capture_output=True, text=True, check=True).stdout
    assert "not found" not in out
    rows = {line[:56].strip(): line[56:].split() for line in out.splitlines()[1:]
            if not line.startswith("(steps'")}
    expected = [label for _, _, label in clean_steps.STEPS if label != absent] + [clean_steps.WAIT]
    for label in expected:
        assert label in rows, f"{label!r} missing from\n{out}"
        assert all(float(v) >= 0 for v in rows[label]), out
    assert absent not in rows
    whole = rows["(whole cleaning: its wall; CPU of every thread, sys)"]
    assert float(whole[0]) >= max(float(rows[label][0]) for label in expected)
