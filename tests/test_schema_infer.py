"""Tests for helpers.ingest.infer.infer_schema: drafts that load and place the right columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.ingest import schema
from helpers.ingest.infer import _scale, infer_schema
from helpers.ingest.readers import Survey, read_survey
from helpers.paths import CONFIG_DIR, PROJECT_ROOT

REAL = PROJECT_ROOT / "tests" / "data" / "real-exports"  # sources: tests/data/README.md


def draft(tmp_path: Path, survey: Survey) -> tuple[schema.Schema, dict, list[str]]:
    text, unplaced = infer_schema(survey)
    p = tmp_path / "draft.yaml"
    p.write_text(text, encoding="utf-8")
    return schema.load(p), yaml.safe_load(text), unplaced


def test_sample_draft_matches_the_reference_schema(sample_dir: Path, tmp_path: Path) -> None:
    """On the generated sample, the draft finds the columns config/survey.yaml maps by hand."""
    survey = read_survey(sample_dir / "survey_export.csv")
    ref = schema.load(CONFIG_DIR / "survey.yaml")
    got, doc, unplaced = draft(tmp_path, survey)
    cols = [str(c) for c in survey.data.columns]

    def where(spec: schema.FieldSpec) -> str | None:
        return schema.locate(spec, cols, survey.questions, survey.import_ids)

    for name, spec in ref.fields.items():
        if where(spec) is not None:
            assert name in got.fields, name
            assert where(got.fields[name]) == where(spec), name
    assert got.fields["ltr"].scale == (0.0, 10.0)
    assert got.fields["ces"].scale == (1.0, 7.0)  # out-of-range planted values do not widen it
    # drivers: same 16 columns, same groups
    ref_drivers = {where(s): s.group for s in ref.drivers.values()}
    got_drivers = {where(s): s.group for s in got.drivers.values()}
    assert got_drivers == ref_drivers
    assert all(s.scale == (1.0, 5.0) for s in got.drivers.values())
    assert got.markets == {"B2B": ["sales", "implementation"], "B2C": ["touchpoint"]}
    assert {where(s) for s in got.competitors.values()} == {where(s)
                                                             for s in ref.competitors.values()}
    assert set(got.competitors) == set(ref.competitors)  # vendor names from the grid text
    for name, spec in ref.personal.items():
        if where(spec) is not None:
            assert where(spec) in {where(s) for s in got.personal.values()}, name
    assert got.personal["contact_key"].action == "hash"
    assert set(unplaced) == {c for c in cols if c not in {
        where(s) for s in [*got.fields.values(), *got.drivers.values(),
                           *got.competitors.values(), *got.personal.values()]}}
    assert "LastRepTouch" not in unplaced and "Phone" not in unplaced
    assert doc["answers"]["label_sets"]["agree7"]["Strongly agree"] == 7


def test_real_qualtrics_draft(tmp_path: Path) -> None:
    survey = read_survey(REAL / "qualtrics_insights_sample.csv")
    got, _, unplaced = draft(tmp_path, survey)
    assert got.fields["response_id"].column == "ResponseId"
    assert got.fields["submitted_at"].column == "EndDate"
    assert got.fields["duration_s"].column == "Duration (in seconds)"
    personal = {s.column: s.action for s in got.personal.values()}
    assert personal["RecipientEmail"] == "hash" and personal["IPAddress"] == "hash"
    assert personal["RecipientFirstName"] == personal["RecipientLastName"] == "drop"
    assert got.fields["ltr"].column is None  # no LTR question: a pattern placeholder
    assert unplaced == ["Progress", "RecordedDate", "UserLanguage", "Q1", "Q2", "Q2 - Topics"]


def test_real_legacy_draft_uses_question_row_names(tmp_path: Path) -> None:
    survey = read_survey(REAL / "qualtrics_legacy_sample.csv")
    got, _, unplaced = draft(tmp_path, survey)
    assert got.fields["response_id"].column == "V1"  # question text "ResponseID"
    assert got.fields["started_at"].column == "V8" and got.fields["submitted_at"].column == "V9"
    personal = {s.column: s.action for s in got.personal.values()}
    assert personal == {"V5": "hash", "V6": "hash", "V3": "drop", "V4": "drop",
                        "LocationLatitude": "drop", "LocationLongitude": "drop"}
    assert unplaced == ["V2", "Q1", "Q2", "LocationAccuracy"]


def test_real_surveymonkey_draft_lists_unplaced_questions(tmp_path: Path) -> None:
    survey = read_survey(REAL / "surveymonkey_steak_risk.csv")
    text, unplaced = infer_schema(survey)
    got, _, _ = draft(tmp_path, survey)
    assert got.fields["response_id"].column == "RespondentID"
    assert got.fields["region"].column == "Location (Census Region)"
    assert "Do you eat steak?" in unplaced and "Gender" in unplaced
    assert len(unplaced) == 12
    assert "# 12 column(s) not placed" in text


def test_personal_data_found_by_values(tmp_path: Path) -> None:
    data = pd.DataFrame({"id": ["1", "2", "3"], "contact": ["a@x.org", "b@y.com", "c@z.net"],
                         "tel": ["+44 7700 900123", "555-123-4567", "(020) 7946 0018"],
                         "day": ["2025-01-02", "2025-02-03", "2025-03-04"]}, dtype="string")
    survey = Survey(data=data, questions={c: c for c in data}, import_ids={}, format="csv",
                    encoding="utf-8", path=tmp_path / "x.csv")
    got, _, unplaced = draft(tmp_path, survey)
    personal = {s.column: s.action for s in got.personal.values()}
    assert personal == {"contact": "hash", "tel": "drop"}
    assert unplaced == ["day"]


@pytest.mark.parametrize(("values", "expected"), [
    (["1", "5", "3", "N/A", "4"], ((1, 5), None)),
    (["0 - Not at all likely", "10 - Extremely likely", "7", "-99"], ((0, 10), None)),
    (["Strongly agree", "Agree", "Disagree", "Don't know"], ((1, 5), "agree5")),
    (["Somewhat agree", "Strongly agree", "Agree", "Neither agree nor disagree"],
     ((1, 7), "agree7")),
    (["great", "slow", "fine", "ok"], (None, None)),
    ([1.0, 7.0, 4.0, float("nan")], ((1, 7), None)),
])
def test_scale_guess(values: list, expected: tuple) -> None:
    assert _scale(pd.Series(values)) == expected
