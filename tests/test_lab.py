"""`make lab` as analysts start it: the project kernel registered, arguments passed to Jupyter,
--allow-root when run as root, processed data never re-cleaned over (recipes read with make -n)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from helpers.paths import PROJECT_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")


def _recipe(*args: str) -> list[str]:
    """The commands `make lab` would run (-n), with the .venv taken as installed (-o)."""
    done = subprocess.run(["make", "--no-print-directory", "-n", "-o", ".venv/.installed-stamp", "lab", *args],
                          cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_make_lab_registers_the_kernel_and_passes_arguments():
    lines = _recipe("ARGS=--no-browser --port 8899",
                    "PROCESSED=tests/fixtures/pipeline/data.csv")  # processed data already there
    assert lines[0].endswith('-m ipykernel install --user --name cx-workspace '
                             '--display-name "CX workspace (.venv)"')
    root = " --allow-root" if os.getuid() == 0 else ""
    assert lines[1:] == [f".venv/bin/jupyter lab --notebook-dir=.{root} --no-browser --port 8899"]


def test_make_lab_cleans_the_sample_only_when_nothing_is_processed():
    lines = _recipe("PROCESSED=build/no-such-folder/responses.parquet")
    assert any(" clean data/raw/survey_export.csv --out data/processed" in line for line in lines)
