"""Shared fixtures: a small generated sample (with its planted truth) and its cleaned tables."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("CX_SALT", "test-salt-not-secret")


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """A 3,000-row sample written like `cx sample` does (raw folder of its own)."""
    from helpers.sample import program, writers
    out = tmp_path_factory.mktemp("raw")
    writers.write(program.generate(rows=3000, seed=7), out)
    return out


@pytest.fixture(scope="session")
def truth(sample_dir) -> dict:
    return json.loads((sample_dir / "truth.json").read_text())


@pytest.fixture(scope="session")
def cleaned(sample_dir, tmp_path_factory):
    """The sample cleaned by the same code as `cx clean` (returns the CleanResult; files in .out)."""
    from helpers.ingest import clean
    out = tmp_path_factory.mktemp("processed")
    res = clean.run(sample_dir / "survey_export.csv", out_dir=out)
    res.out = out
    return res
