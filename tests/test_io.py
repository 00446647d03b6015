"""Tests for helpers.io.read_survey: real exports, generated fixtures, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.errors import DataError
from helpers.io import Survey, read_survey
from helpers.paths import PROJECT_ROOT

REAL = PROJECT_ROOT.parent / "shared" / "real-exports"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-exports not present")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------------------------------------
# real exports (../shared/real-exports, see its README)


@needs_real
def test_real_qualtrics_current_export() -> None:
    s = read_survey(REAL / "qualtrics_insights_sample.csv")
    assert isinstance(s, Survey)
    assert s.format == "qualtrics"
    assert s.encoding == "utf-8"
    assert s.data.shape == (1, 20)  # one response, 3 header rows removed
    assert s.data.loc[0, "ResponseId"] == "R_2YPOQ602ER1jkf1"
    assert s.data.loc[0, "Q2"] == "Hello World!"
    assert s.data.loc[0, "Q1"] == "2"  # kept as text for the schema to map
    assert all(isinstance(dt, pd.StringDtype) for dt in s.data.dtypes)
    assert pd.isna(s.data.loc[0, "RecipientEmail"])  # empty cell -> NA
    assert s.questions["Q1"] == "This is a multiple choice question."
    assert s.questions["RecipientLastName"] == "Nachname des Empfängers"
    assert s.import_ids["Q1"] == "QID1"
    assert s.import_ids["ResponseId"] == "_recordId"
    assert s.import_ids["Q2"] == "QID2_TEXT"
    assert "removed 3 header rows" in s.notes
