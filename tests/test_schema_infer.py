"""Tests for helpers.ingest.infer.infer_schema: drafts that load and place the right columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers.ingest import schema
from helpers.ingest.infer import infer_schema
from helpers.ingest.profiling import _scale
from helpers.ingest.readers import Survey, read_survey
from helpers.paths import CONFIG_DIR, PROJECT_ROOT

REAL = PROJECT_ROOT / "tests" / "data" / "real-exports"  # sources: tests/data/README.md


def draft(tmp_path: Path, survey: Survey) -> tuple[schema.Schema, dict, list[str]]:
    d = infer_schema(survey)
    p = tmp_path / "draft.yaml"
    p.write_text(d.text, encoding="utf-8")
    return schema.load(p), yaml.safe_load(d.text), [c for c, _ in d.unplaced]


def test_sample_draft_matches_the_reference_schema(sample_dir: Path, tmp_path: Path) -> None:
    """On the generated sample, the draft finds the columns config/survey.yaml maps by hand."""
    survey = read_survey(sample_dir / "survey_export.csv")
    ref = schema.load(CONFIG_DIR / "survey.yaml")
    got, doc, unplaced = draft(tmp_path, survey)
    cols = [str(c) for c in survey.data.columns]

    def where(spec: schema.FieldSpec) -> str | None:
        return schema.locate(spec, cols, survey.questions, survey.import_ids)

    for name, spec in ref.fields.items():
        if where(spec) is not None and name in schema.CANONICAL:
            assert name in got.fields, name
            if name == "submitted_at":  # Qualtrics' RecordedDate preferred (same times here)
                assert where(got.fields[name]) == "RecordedDate"
                continue
            assert where(got.fields[name]) == where(spec), name
    # segment fields: the same columns per market (names are the draft's own: AgeBand -> age_band)
    for market in ("B2B", "B2C"):
        ref_cols = {where(ref.fields[f]) for f in ref.segment_fields(market)}
        got_cols = {where(got.fields[f]) for f in got.segment_fields(market)}
        assert got_cols == ref_cols, market
    assert "age_band" in got.fields
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
    assert got.fields["submitted_at"].column == "RecordedDate"  # Qualtrics' recorded date first
    assert got.fields["finished"].type == "boolean"
    assert got.fields["duration_s"].column == "Duration (in seconds)"
    personal = {s.column: s.action for s in got.personal.values()}
    assert personal["RecipientEmail"] == "hash" and personal["IPAddress"] == "hash"
    assert personal["RecipientFirstName"] == personal["RecipientLastName"] == "drop"
    assert got.fields["ltr"].column is None  # no LTR question: a pattern placeholder
    assert got.fields["comment"].column == "Q2"  # the free-text question
    assert unplaced == ["EndDate", "Progress", "UserLanguage", "Q1", "Q2 - Topics"]


def test_real_legacy_draft_uses_question_row_names(tmp_path: Path) -> None:
    survey = read_survey(REAL / "qualtrics_legacy_sample.csv")
    got, _, unplaced = draft(tmp_path, survey)
    assert got.fields["response_id"].column == "V1"  # question text "ResponseID"
    assert got.fields["started_at"].column == "V8" and got.fields["submitted_at"].column == "V9"
    personal = {s.column: s.action for s in got.personal.values()}
    assert personal == {"V5": "hash", "V6": "hash", "V3": "drop", "V4": "drop",
                        "LocationLatitude": "drop", "LocationLongitude": "drop"}
    assert unplaced == ["V2", "Q1", "LocationAccuracy"]


def test_real_surveymonkey_draft_places_ids_and_categories(tmp_path: Path) -> None:
    survey = read_survey(REAL / "surveymonkey_steak_risk.csv")
    d = infer_schema(survey)
    got, _, unplaced = draft(tmp_path, survey)
    assert got.fields["response_id"].column == "RespondentID"  # by name, not as a phone number
    segs = {got.fields[f].column for f in got.segment_fields("B2C")}
    assert {"Gender", "Age", "Location (Census Region)", "Do you eat steak?"} <= segs
    assert any("no likelihood-to-recommend column" in n for n in d.notes)
    assert unplaced == []


def test_nothing_to_report_on_stops_cx_check_in_one_readable_line(tmp_path: Path, capsys) -> None:
    """No recommend, satisfaction or effort question: the draft's placeholder stops cx check with
    one line naming the entry, not its regular expression, and short column names."""
    from helpers import cli

    path = tmp_path / "steak.yaml"
    path.write_text(infer_schema(read_survey(REAL / "surveymonkey_steak_risk.csv")).text, encoding="utf-8")
    assert cli.main(["check", str(REAL / "surveymonkey_steak_risk.csv"), "--schema", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the fields.ltr pattern" in err and "(?i)" not in err
    assert "Consider the following hypothetical sit…" in err and len(err) < 600


def test_personal_data_found_by_values(tmp_path: Path) -> None:
    data = pd.DataFrame({"id": ["1", "2", "3"], "contact": ["a@x.org", "b@y.com", "c@z.net"],
                         "tel": ["+44 7700 900123", "555-123-4567", "(020) 7946 0018"],
                         "day": ["2025-01-02", "2025-02-03", "2025-03-04"]}, dtype="string")
    survey = Survey(data=data, questions={c: c for c in data}, import_ids={}, format="csv",
                    encoding="utf-8", path=tmp_path / "x.csv")
    got, _, unplaced = draft(tmp_path, survey)
    personal = {s.column: s.action for s in got.personal.values()}
    assert personal == {"contact": "hash", "tel": "drop"}
    assert got.fields["submitted_at"].column == "day"  # dates: the response date
    assert unplaced == []


@pytest.mark.parametrize(("values", "expected"), [
    (["1", "5", "3", "N/A", "4"], ((1, 5), None)),
    (["0 - Not at all likely", "10 - Extremely likely", "7", "-99"], ((0, 10), None)),
    (["Strongly agree", "Agree", "Disagree", "Don't know"], ((1, 5), "agree5")),
    (["Somewhat agree", "Strongly agree", "Agree", "Neither agree nor disagree"],
     ((1, 7), "agree7")),
    (["Very dissatisfied", "Dissatisfied", "Neutral", "Satisfied", "Very satisfied"],
     ((1, 5), "satisfied5")),
    (["Very dissatisfied", "Dissatisfied", "Somewhat dissatisfied", "Neutral",
      "Somewhat satisfied", "Satisfied", "Very satisfied"], ((1, 7), "satisfied7")),
    (["Extremely dissatisfied", "Moderately dissatisfied", "Slightly satisfied"],
     ((1, 7), "satisfied7")),
    (["great", "slow", "fine", "ok"], (None, None)),
    ([1.0, 7.0, 4.0, float("nan")], ((1, 7), None)),
])
def test_scale_guess(values: list, expected: tuple) -> None:
    assert _scale(pd.Series(values)) == expected


def _survey(tmp_path: Path, data: pd.DataFrame, name: str = "export.csv") -> Survey:
    data = data.astype("string")
    return Survey(data=data, questions={c: c for c in data}, import_ids={}, format="csv",
                  encoding="utf-8", path=tmp_path / name)


def test_b2b_export_with_its_own_names(tmp_path: Path) -> None:
    """REC (0-10), Product.* and Salesman.* ratings on 0-10, account, region, business unit,
    product and a day-first response date: every column placed, and the draft cleans as is."""
    rng = np.random.default_rng(3)
    n = 400
    ratings = {f"{g}.{i}": rng.integers(0, 11, n) for g in ("Product", "Salesman")
               for i in ("Quality", "Reliability") if True}
    data = pd.DataFrame({"Account": [f"ACC{i % 60:03d}" for i in range(n)],
                         "REC": rng.integers(0, 11, n), **ratings,
                         "Region": rng.choice(["North", "South", "East"], n),
                         "Business Unit": rng.choice(["Retail", "Wholesale"], n),
                         "Product": rng.choice(["Alpha", "Beta", "Gamma", "Delta"], n),
                         "Response Date": [f"{d % 28 + 1:02d}/{d % 12 + 1:02d}/2025" for d in range(n)]})
    survey = _survey(tmp_path, data)
    d = infer_schema(survey)
    got, doc, unplaced = draft(tmp_path, survey)
    assert got.fields["ltr"].column == "REC" and unplaced == []
    assert got.fields["account_id"].column == "Account"
    assert got.fields["submitted_at"].column == "Response Date"
    assert {s.group for s in got.drivers.values()} == {"product", "sales"}
    assert all(s.scale == (0.0, 10.0) for s in got.drivers.values())
    assert got.market_rule == {"b2b_when_present": "account_id"}
    assert {got.fields[f].column for f in got.segment_fields("B2B")} == {"Region", "Business Unit", "Product"}
    assert got.stages == {"sales": "sales"}
    assert any("REC" in c and "recommend" in why for c, _, why in d.decisions)


def test_product_feedback_export_user_text_score(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 300
    words = ["great app", "crashes when I upload photos", "too expensive for what it does",
             "support answered quickly and fixed it", "love the new design"]
    data = pd.DataFrame({"user_id": [f"u{i % 200}" for i in range(n)],
                         "text": [f"{words[i % 5]} (#{i})" for i in range(n)],
                         "NPS_Score": rng.integers(0, 11, n)})
    got, _, unplaced = draft(tmp_path, _survey(tmp_path, data))
    assert got.fields["ltr"].column == "NPS_Score"
    assert got.fields["comment"].column == "text"
    assert got.personal["contact_key"].column == "user_id" and got.personal["contact_key"].action == "hash"
    assert got.market_rule == {"all": "B2C"} and got.waves == "quarter" and unplaced == []


def test_competing_ltr_candidates_are_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"likely_to_recommend": rng.integers(0, 11, 100),
                         "nps": rng.integers(0, 11, 100)})
    d = infer_schema(_survey(tmp_path, data))
    assert any(n.startswith("LTR: 'likely_to_recommend' chosen over 'nps'") or
               n.startswith("LTR: 'nps' chosen over 'likely_to_recommend'") for n in d.notes)


def test_garden_retailer_export_latin1_without_dates(tmp_path: Path) -> None:
    survey = read_survey(REAL / "garden_retailer_nps_fr.csv")
    d = infer_schema(survey)
    got, _, unplaced = draft(tmp_path, survey)
    assert got.fields["ltr"].column == "nps"
    assert got.fields["csat"].column == "satisfaction" and got.fields["csat"].scale == (0.0, 10.0)
    assert got.fields["comment"].column == "explication"
    assert "submitted_at" not in got.fields and any("one wave" in n for n in d.notes)
    assert set(unplaced) == {"NbPassageKS", "CaTicket", "t"}


def test_ltr_with_labelled_end_points_is_found_by_name_and_content(tmp_path: Path) -> None:
    """An 'NPS' column whose 0s and 10s are written "0 - Not at all likely" / "10 - Extremely
    likely" (a fifth of the answers here) is the LTR, not a 0-10 rating item; dates are not labels."""
    rng = np.random.default_rng(6)
    n = 400
    ltr = rng.choice([0, 10, 5, 7, 8, 9], n, p=[0.1, 0.2, 0.1, 0.2, 0.2, 0.2])
    data = pd.DataFrame({
        "NPS": [{0: "0 - Not at all likely", 10: "10 - Extremely likely"}.get(v, str(v)) for v in ltr],
        "Date": [f"2025-0{1 + i % 9}-1{i % 10}" for i in range(n)],
        "Store": rng.choice(["Lyon", "Paris"], n)})
    got, _, _ = draft(tmp_path, _survey(tmp_path, data))
    assert got.fields["ltr"].column == "NPS" and got.fields["ltr"].scale == (0.0, 10.0)
    assert got.drivers == {} and got.fields["submitted_at"].column == "Date"


def test_columns_of_peoples_names_are_dropped_not_segments(tmp_path: Path) -> None:
    """A 'Contact Name' column (by its name) and a column of names under another heading (by
    its values) are personal data to drop, never segment fields; cities and tiers stay segments."""
    rng = np.random.default_rng(8)
    n = 300
    people = ["Anna Schmidt", "Carlos López", "Sophie Martin", "Lukas Weber", "Emma Jansen",
              "Marco Rossi"]
    data = pd.DataFrame({"Contact Name": rng.choice(people, n), "Owner": rng.choice(people, n),
                         "City": rng.choice(["New York", "San Francisco", "Los Angeles"], n),
                         "Tier": rng.choice(["Enterprise", "SMB"], n),
                         "Recommend": rng.integers(0, 11, n)})
    got, _, _ = draft(tmp_path, _survey(tmp_path, data))
    dropped = {s.column for s in got.personal.values() if s.action == "drop"}
    assert {"Contact Name", "Owner"} <= dropped
    segment_columns = {got.fields[f].column for f in got.segment_fields("B2C")}
    assert segment_columns == {"City", "Tier"}


def test_common_satisfaction_wordings_are_read_and_unread_labels_are_warned(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """CSAT written in words with the usual midpoint 'Neither satisfied nor dissatisfied' (and
    Qualtrics' 'Somewhat'/'Extremely' wordings) is read whole by the unedited draft; answers in
    wordings no label set knows are counted missing and `cx check` says which, with examples."""
    from helpers import cli
    rng = np.random.default_rng(12)
    n = 400
    words = ["Extremely dissatisfied", "Somewhat dissatisfied", "Neither satisfied nor dissatisfied",
             "Somewhat satisfied", "Very satisfied"]
    csat = rng.choice(words, n)
    export = tmp_path / "b2c.csv"
    pd.DataFrame({"Recommend": rng.integers(0, 11, n), "Satisfaction": csat,
                  "Store": rng.choice(["Lyon", "Paris"], n)}).to_csv(export, index=False)
    assert cli.main(["schema", "infer", str(export), "--out", str(tmp_path / "s.yaml")]) == 0
    sch = schema.load(tmp_path / "s.yaml")
    assert sch.fields["csat"].column == "Satisfaction" and sch.fields["csat"].labels == "satisfied5"
    from helpers.ingest import clean
    res = clean.prepare(export, tmp_path / "s.yaml")
    assert res.log["answers"]["csat"]["unreadable"] == 0
    assert res.responses["csat"].notna().sum() == n
    expected = pd.Series(csat).map(dict(zip(words, [1, 2, 3, 4, 5], strict=True))).to_numpy(float)
    assert (res.responses["csat"].to_numpy(float) == expected).all()
    # the same column with a wording no set knows: missing in every figure, and said so
    french = np.where(csat == words[2], "Bof, ça va", csat)
    pd.DataFrame({"Recommend": rng.integers(0, 11, n), "Satisfaction": french,
                  "Store": rng.choice(["Lyon", "Paris"], n)}).to_csv(export, index=False)
    capsys.readouterr()
    assert cli.main(["check", str(export), "--schema", str(tmp_path / "s.yaml")]) == 0
    out = capsys.readouterr().out
    unread = int((french == "Bof, ça va").sum())
    assert (f"warning: csat (column 'Satisfaction'): {unread:,} of {n:,} answers could not be read"
            in out and "'Bof, ça va'" in out)


def test_labels_keep_the_exports_own_words(tmp_path: Path) -> None:
    """Segment fields keep accents and question text as labels (not 'Tranche d ge' or 'Which
    plan are'); rating items numbered 1, 2, 3 take their question text (SPSS variable labels)."""
    rng = np.random.default_rng(13)
    n = 200
    data = pd.DataFrame({"Recommend": rng.integers(0, 11, n).astype(str),
                         "Tranche d'âge": rng.choice(["18-34", "35-54", "55+"], n),
                         "Q7": rng.choice(["Business", "Free"], n),
                         "Rating_1": rng.integers(1, 6, n).astype(str),
                         "Rating_2": rng.integers(1, 6, n).astype(str)}).astype("string")
    questions = {**{c: c for c in data}, "Q7": "Which plan are you on?",
                 "Rating_1": "Rating: Product quality", "Rating_2": "Rating: Delivery speed"}
    survey = Survey(data=data, questions=questions, import_ids={}, format="spss",
                    encoding="utf-8", path=tmp_path / "x.sav")
    got, _, _ = draft(tmp_path, survey)
    labels = {f.column: f.label for f in got.fields.values()}
    assert labels["Tranche d'âge"] == "Tranche d'âge" and "tranche_d_age" in got.fields
    assert labels["Q7"] == "Which plan are you on?"
    assert sorted(got.driver_labels().values()) == ["Rating: Delivery speed", "Rating: Product quality"]


def test_effort_is_ces_and_a_satisfaction_grid_item_is_not_csat(tmp_path: Path) -> None:
    """'Effort client (1-7)' is the CES question; 'How satisfied ... | Ease of use' and its
    siblings are rating items of a grid, and the lone overall question is the CSAT."""
    rng = np.random.default_rng(14)
    n = 300
    data = pd.DataFrame({
        "Recommend": rng.integers(0, 11, n),
        "Effort client (1-7)": rng.integers(1, 8, n),
        "How satisfied are you with | Ease of use": rng.integers(1, 6, n),
        "How satisfied are you with | Support": rng.integers(1, 6, n),
        "How satisfied are you with | Price": rng.integers(1, 6, n),
        "Overall satisfaction": rng.integers(1, 6, n)})
    got, _, _ = draft(tmp_path, _survey(tmp_path, data))
    assert got.fields["ces"].column == "Effort client (1-7)" and got.fields["ces"].scale == (1.0, 7.0)
    assert got.fields["csat"].column == "Overall satisfaction"
    assert {s.column for s in got.drivers.values()} == {
        f"How satisfied are you with | {i}" for i in ("Ease of use", "Support", "Price")}


def test_spss_categories_are_segments_by_their_labels(tmp_path: Path) -> None:
    """SPSS codes named by value labels (customer type 1-3, wave 1-2) are drafted and cleaned as
    their labels: a segment 'Enterprise', a wave '2024 H2', not ratings of 1-3 or 'Wave 2.0';
    rating items whose labels are scale words stay ratings."""
    import pyreadstat

    from helpers.ingest import clean
    rng = np.random.default_rng(15)
    n = 300
    df = pd.DataFrame({"ltr": rng.integers(0, 11, n).astype(float),
                       "custtype": rng.integers(1, 4, n).astype(float),
                       "wave": rng.integers(1, 3, n).astype(float),
                       "q5_1": rng.integers(1, 6, n).astype(float),
                       "q5_2": rng.integers(1, 6, n).astype(float)})
    scale = {1.0: "Very poor", 2.0: "Poor", 3.0: "Fair", 4.0: "Good", 5.0: "Excellent"}
    path = tmp_path / "programme.sav"
    pyreadstat.write_sav(df, str(path), column_labels=[
        "How likely are you to recommend us?", "Customer type", "Survey wave",
        "Rating: Product quality", "Rating: Delivery"], variable_value_labels={
        "custtype": {1.0: "Private", 2.0: "Small business", 3.0: "Enterprise"},
        "wave": {1.0: "2024 H1", 2.0: "2024 H2"}, "q5_1": scale, "q5_2": scale})
    survey = read_survey(path)
    got, _, _ = draft(tmp_path, survey)
    assert got.fields["ltr"].column == "ltr" and got.fields["wave"].column == "wave"
    seg = [f for f in got.segment_fields("B2C") if got.fields[f].column == "custtype"]
    assert seg and {s.column for s in got.drivers.values()} == {"q5_1", "q5_2"}
    res = clean.clean_responses(survey, got, "salt")
    assert set(res.responses[seg[0]].dropna()) == {"Private", "Small business", "Enterprise"}
    assert set(res.responses["wave"].dropna()) == {"2024 H1", "2024 H2"}
    # labels that would sort out of time order are numbered by their codes
    from helpers.ingest.readers import in_code_order
    assert in_code_order({1.0: "Spring 2024", 2.0: "Autumn 2024"}) == {
        1.0: "1. Spring 2024", 2.0: "2. Autumn 2024"}
    assert in_code_order({1.0: "2024 H1", 2.0: "2024 H2"}) == {1.0: "2024 H1", 2.0: "2024 H2"}


def test_built_in_label_sets_match_the_schema_template() -> None:
    """Drafts take config/survey.yaml's label sets over the built-in ones: a set extended in one
    place only would silently lose its new wordings in every draft."""
    from helpers.ingest.profiling import LABEL_SETS
    doc = yaml.safe_load((CONFIG_DIR / "survey.yaml").read_text(encoding="utf-8"))
    assert doc["answers"]["label_sets"] == LABEL_SETS


@pytest.mark.parametrize("name", ["Kunde", "Kundennummer", "Firma", "client", "compte", "Société",
                                  "cliente", "cuenta", "empresa", "azienda", "klant", "bedrijf",
                                  "conta", "Customer No."])
def test_account_columns_in_seven_languages_make_the_programme_b2b(tmp_path: Path, name: str) -> None:
    """A customer column in en, de, fr, es, it, nl or pt (or a customer number) is the account,
    not a 26-level segment: the programme is B2B."""
    rng = np.random.default_rng(9)
    n = 120
    data = pd.DataFrame({name: [f"Kunde {chr(65 + i % 26)}" for i in range(n)],
                         "Recommend": rng.integers(0, 11, n),
                         "Region": rng.choice(["Nord", "Süd"], n)})
    got, _, _ = draft(tmp_path, _survey(tmp_path, data))
    assert got.fields["account_id"].column == name
    assert got.market_rule == {"b2b_when_present": "account_id"}
    assert {got.fields[f].column for f in got.segment_fields("B2B")} == {"Region"}


def test_an_account_found_by_its_question_text_says_so(tmp_path: Path) -> None:
    """'Q6' whose question text is 'Kunde': the reason names the question text, not 'Q6'."""
    rng = np.random.default_rng(10)
    n = 60
    data = pd.DataFrame({"Q6": [f"ACC{i % 12}" for i in range(n)], "Q1": rng.integers(0, 11, n)})
    survey = Survey(data=data.astype("string"), questions={"Q6": "Kunde", "Q1": "Empfehlung"},
                    import_ids={}, format="qualtrics", encoding="utf-8", path=tmp_path / "q.csv")
    d = infer_schema(survey)
    why = {c: w for c, _, w in d.decisions}
    assert why["Q6"] == "question text 'Kunde'" and "named" not in why["Q6"]
    assert "Q1" in why and "recommend question on 0-10" in why["Q1"]


def test_finished_is_a_boolean_and_cx_check_does_not_warn(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finished True/False (or ja/nein, oui/non, 1/0) is drafted as a boolean, read as 1/0 and
    not reported as unreadable by `cx check`; a test row not finished still counts as incomplete
    only by its answers."""
    from helpers import cli

    rng = np.random.default_rng(13)
    n = 80
    export = tmp_path / "finished.csv"
    pd.DataFrame({"Finished": rng.choice(["True", "False"], n), "Beendet": rng.choice(["ja", "nein"], n),
                  "LTR": rng.integers(0, 11, n)}).to_csv(export, index=False)
    assert cli.main(["schema", "infer", str(export), "--out", str(tmp_path / "s.yaml")]) == 0
    got = schema.load(tmp_path / "s.yaml")
    assert got.fields["finished"].column == "Finished" and got.fields["finished"].type == "boolean"
    capsys.readouterr()
    assert cli.main(["check", str(export), "--schema", str(tmp_path / "s.yaml")]) == 0
    assert "warning" not in capsys.readouterr().out


def test_booleans_in_the_usual_languages_are_read() -> None:
    from helpers.ingest.fields import read_booleans

    got = read_booleans(pd.Series(["True", "false", "ja", "Nein", "oui", "non", "sí", "não", "1",
                                   "0", "", None, "maybe"], dtype="string"))
    assert got.values.tolist()[:10] == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert got.values.iloc[10:].isna().all() and got.unparseable == 1


@pytest.mark.parametrize("lang", ["de", "es"])
def test_a_programme_in_another_language_drafts_its_measures_labels_and_comment(
        tmp_path: Path, lang: str) -> None:
    """Label-valued CSAT and effort answers and an agreement grid in German or Spanish read as
    scales with their label sets; a one-row header's recommend question is the LTR; the
    improvement question is the comment."""
    rng = np.random.default_rng(5)
    n = 120
    words = {"de": (["Sehr unzufrieden", "Unzufrieden", "Weder zufrieden noch unzufrieden",
                     "Zufrieden", "Sehr zufrieden"],
                    ["Stimme überhaupt nicht zu", "Stimme nicht zu", "Teils, teils", "Stimme zu",
                     "Stimme voll zu"],
                    {"ltr": "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?",
                     "csat": "Wie zufrieden sind Sie insgesamt?",
                     "ces": "Das Unternehmen hat es mir leicht gemacht, mein Anliegen zu lösen.",
                     "comment": "Was können wir verbessern?", "grid": "Aussagen | "}),
             "es": (["Muy insatisfecho", "Insatisfecho", "Ni satisfecho ni insatisfecho",
                     "Satisfecho", "Muy satisfecho"],
                    ["Totalmente en desacuerdo", "En desacuerdo", "Ni de acuerdo ni en desacuerdo",
                     "De acuerdo", "Totalmente de acuerdo"],
                    {"ltr": "¿Qué probabilidad hay de que nos recomiende? (0-10)",
                     "csat": "Satisfacción general", "ces": "Facilidad para resolver su consulta",
                     "comment": "¿Qué podríamos mejorar?", "grid": "Valore | "})}[lang]
    sat, agree, q = words
    pick = rng.integers(0, 5, (n, 4))
    pd.DataFrame({"ResponseId": [f"R{i}" for i in range(n)], q["ltr"]: rng.integers(0, 11, n),
                  q["csat"]: [sat[k] for k in pick[:, 0]], q["ces"]: [agree[k] for k in pick[:, 1]],
                  q["grid"] + "A": [agree[k] for k in pick[:, 2]],
                  q["grid"] + "B": [agree[k] for k in pick[:, 3]],
                  q["comment"]: [f"Antwort Nummer {i} mit etwas mehr Text" for i in range(n)],
                  }).to_csv(tmp_path / "export.csv", index=False)
    got, doc, _ = draft(tmp_path, read_survey(tmp_path / "export.csv"))
    assert got.fields["ltr"].column == q["ltr"]
    assert (got.fields["csat"].column, got.fields["csat"].labels) == (q["csat"], "satisfied5")
    assert (got.fields["ces"].column, got.fields["ces"].labels) == (q["ces"], "agree5")
    assert got.fields["comment"].column == q["comment"]
    assert {d.labels for d in got.drivers.values()} == {"agree5"} and len(got.drivers) == 2
    parsed = schema.parse_scores(pd.Series(sat + agree[2:3]), (1, 5), got.label_sets["satisfied5"],
                                 got.not_applicable)
    assert list(parsed.values[:5]) == [1, 2, 3, 4, 5]


def test_a_label_set_point_that_is_not_a_number_is_one_line(tmp_path: Path) -> None:
    """An unquoted label with a comma ("Teils, teils") splits into a label without a point."""
    text = (CONFIG_DIR / "survey.yaml").read_text(encoding="utf-8").replace(
        '"Teils, teils": 3', "Teils, teils: 3")
    (tmp_path / "survey.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(schema.ConfigError, match=r"answers.label_sets.agree5: 'Teils' is None"):
        schema.load(tmp_path / "survey.yaml")
