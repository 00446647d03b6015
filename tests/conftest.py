"""Shared fixtures: a small generated sample (with its planted truth) and its cleaned tables."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("CX_SALT", "test-salt-not-secret")


def _own_folders_for_a_second_worker() -> None:
    """Under `pytest -n` every worker but the first gets its own copy of the test data and its own
    reports folder (set before `helpers` is imported): the writer lock (reports/.lock) and
    data/processed of one worker never block or change the other's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if worker == "gw0":
        return
    own = Path(__file__).resolve().parents[1] / "build" / f"test-{worker}"
    shutil.rmtree(own, ignore_errors=True)
    data = own / "data"
    source = os.environ.get("CX_DATA_DIR")
    if source and Path(source).is_dir():
        shutil.copytree(source, data, symlinks=True)
    data.mkdir(parents=True, exist_ok=True)
    os.environ["CX_DATA_DIR"] = str(data)
    os.environ["CX_REPORTS_DIR"] = str(own / "reports")


_own_folders_for_a_second_worker()

# Modules whose tests are independent whole runs go to whichever worker is free, test by test;
# every other module stays on one worker, so its module-scoped fixtures are built once.
_SPREAD_TEST_BY_TEST = {"test_profiles.py", "test_scale.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name not in _SPREAD_TEST_BY_TEST:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


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
