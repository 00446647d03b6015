"""Paths are anchored on the project root; data/raw is immutable; writes are atomic."""

import os
import subprocess
import sys

import pandas as pd
import pytest

from helpers import catalog, paths


def test_paths_resolve_from_any_working_directory(tmp_path):
    code = "from helpers import catalog; print(catalog.path('responses'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(paths.PROCESSED_DIR / "responses.parquet")


def test_saving_into_raw_raises():
    with pytest.raises(PermissionError, match="immutable"):
        catalog.save(pd.DataFrame({"a": [1]}), "x", path="data/raw/x.parquet")
    with pytest.raises(PermissionError):
        catalog.save_json({"a": 1}, paths.RAW_DIR / "sub" / "x.json")


def test_unknown_name_is_a_clear_error():
    with pytest.raises(Exception, match="unknown catalog name 'nope'"):
        catalog.path("nope")


def test_metrics_and_results_roundtrip(tmp_path):
    catalog.save_metrics({"nps": {"estimate": 12.5, "n": 10}}, "02_segments", tmp_path)
    catalog.save_result(pd.DataFrame({"x": [1, 2]}), "segment_nps", tmp_path)
    assert catalog.load_metrics(tmp_path)["02_segments"]["nps"]["estimate"] == 12.5
    assert catalog.load_result("segment_nps", tmp_path)["x"].tolist() == [1, 2]
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "t.parquet"
    catalog.atomic_write_table(pd.DataFrame({"a": [1]}), p)

    class Boom(pd.DataFrame):
        def to_parquet(self, *a, **k):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        catalog.atomic_write_table(Boom({"a": [2]}), p)
    assert pd.read_parquet(p)["a"].tolist() == [1]
    assert os.listdir(tmp_path) == ["t.parquet"]
