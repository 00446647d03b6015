"""Tests for helpers.ingest.readers.read_survey: real exports, generated fixtures, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.errors import DataError
from helpers.ingest.readers import Survey, read_survey
from helpers.paths import PROJECT_ROOT

REAL = PROJECT_ROOT / "tests" / "data" / "real-exports"  # sources: tests/data/README.md


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# ---------------------------------------------------------------------------------------------
# real exports (tests/data/real-exports, sources in tests/data/README.md)


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


def test_real_qualtrics_legacy_export() -> None:
    s = read_survey(REAL / "qualtrics_legacy_sample.csv")
    assert s.format == "qualtrics_legacy"
    assert s.encoding == "utf-8-sig"  # the file starts with a byte-order mark
    # 15 named columns: the empty 16th from the trailing comma is dropped
    assert s.data.shape == (1, 15)
    assert list(s.data.columns[:3]) == ["V1", "V2", "V3"]
    assert s.questions["V1"] == "ResponseID"
    assert s.questions["Q1"] == "This is a multiple choice question."
    assert s.data.loc[0, "V1"] == "R_2YPOQ602ER1jkf1"
    assert s.data.loc[0, "LocationAccuracy"] == "-1"
    assert s.import_ids == {}
    assert any("trailing delimiter" in n for n in s.notes)


def test_real_surveymonkey_export() -> None:
    s = read_survey(REAL / "surveymonkey_steak_risk.csv")
    assert s.format == "surveymonkey"
    # FiveThirtyEight steak-risk-survey: 550 respondents (2 header rows), 15 columns
    assert s.data.shape == (550, 15)
    assert s.data.columns[0] == "RespondentID"
    assert s.data.loc[0, "RespondentID"] == "3237565956"
    assert s.data.loc[1, "Do you eat steak?"] == "Yes"
    assert s.data.loc[1, "Household Income"] == "$50,000 - $99,999"  # quoted comma kept
    lottery = s.data.columns[1]
    assert "<br>" not in lottery and lottery.startswith("Consider the following hypothetical")
    assert s.questions[lottery] == lottery
    assert s.data[lottery].value_counts().sum() > 500


# ---------------------------------------------------------------------------------------------
# generated fixtures: Qualtrics


QUALTRICS_ROWS = [
    ["StartDate", "EndDate", "Status", "ResponseId", "Duration (in seconds)", "Q1", "Q2_1",
     "Q3"],
    ["Start Date", "End Date", "Response Type", "Response ID", "Duration (in seconds)",
     "How likely are you to recommend us\nto a friend or colleague?",
     "How satisfied are you? - Support", "Any comments?"],
    ['{"ImportId":"startDate","timeZone":"Europe/Berlin"}',
     '{"ImportId":"endDate","timeZone":"Europe/Berlin"}', '{"ImportId":"status"}',
     '{"ImportId":"_recordId"}', '{"ImportId":"duration"}', '{"ImportId":"QID1"}',
     '{"ImportId":"QID2_1"}', '{"ImportId":"QID3_TEXT"}'],
    ["2025-10-01 09:00:00", "2025-10-01 09:04:00", "IP Address", "R_abcdef123456", "240",
     "10 - Extremely likely", "N/A", "Great, thanks.\nSecond line, with \"quotes\"."],
    ["2025-10-02 10:00:00", "2025-10-02 10:01:00", "IP Address", "R_bcdefg234567", "60",
     "0 - Not at all likely", "4", ""],
    ["2025-10-03 11:00:00", "2025-10-03 11:02:00", "Survey Preview", "R_cdefgh345678", "120",
     "", "Don't know", "Größe: ok – €5"],
]


def to_csv(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    """RFC 4180 text: fields holding the delimiter, a quote or a line break are quoted."""

    def field(v: str) -> str:
        if any(c in v for c in (delimiter, '"', "\r", "\n")):
            return '"' + v.replace('"', '""') + '"'
        return v

    return "".join(delimiter.join(field(v) for v in r) + newline for r in rows)


def check_qualtrics(s: Survey) -> None:
    assert s.format == "qualtrics"
    assert s.data.shape == (3, 8)
    assert list(s.data.columns) == QUALTRICS_ROWS[0]
    assert s.data["Q1"].tolist()[:2] == ["10 - Extremely likely", "0 - Not at all likely"]
    assert pd.isna(s.data.loc[2, "Q1"])
    assert s.data.loc[0, "Q2_1"] == "N/A"  # answer labels are not turned into missing here
    assert s.data.loc[0, "Q3"] == 'Great, thanks.\nSecond line, with "quotes".'
    assert s.data.loc[2, "Q3"] == "Größe: ok – €5"
    assert s.questions["Q1"].startswith("How likely are you to recommend us\nto a friend")
    assert s.import_ids["Q2_1"] == "QID2_1"
    assert s.import_ids["ResponseId"] == "_recordId"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_qualtrics_csv_line_endings_and_bom(tmp_path: Path, newline: str, bom: bytes) -> None:
    p = write(tmp_path, "q.csv", bom + to_csv(QUALTRICS_ROWS, newline=newline).encode("utf-8"))
    s = read_survey(p)
    check_qualtrics(s)
    assert s.encoding == ("utf-8-sig" if bom else "utf-8")
    assert any("Europe/Berlin" in n for n in s.notes)


def test_qualtrics_python_dict_importid_row(tmp_path: Path) -> None:
    rows = [list(r) for r in QUALTRICS_ROWS]
    rows[2] = [c.replace('"', "'") for c in rows[2]]  # {'ImportId': 'QID1'} style
    s = read_survey(write(tmp_path, "q.csv", to_csv(rows).encode()))
    check_qualtrics(s)
    assert any("Python-dict" in n for n in s.notes)


def test_qualtrics_large_file_sampled_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """Files bigger than the sample go through pyarrow at a byte offset past the header rows."""
    from helpers.ingest import delimited

    monkeypatch.setattr(delimited, "_SAMPLE_BYTES", 64)  # smaller than the header: sample must grow
    body = QUALTRICS_ROWS[:3] + QUALTRICS_ROWS[3:] * 50
    p = write(tmp_path, "q.csv", b"\xef\xbb\xbf" + to_csv(body, newline="\r\n").encode())
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    s = read_survey(p)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before  # memory-mapped read only
    assert s.data.shape == (150, 8)
    assert s.encoding == "utf-8-sig"
    assert s.data.loc[147, "ResponseId"] == "R_abcdefg123456"[:2] + "abcdef123456"
    assert s.data.loc[149, "Q3"] == "Größe: ok – €5"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_qualtrics_large_file_with_late_cp1252_bytes(tmp_path: Path, bom: bytes,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.ingest import delimited

    monkeypatch.setattr(delimited, "_SAMPLE_BYTES", 2048)
    body = QUALTRICS_ROWS[:3] + QUALTRICS_ROWS[3:] * 20
    data = bom + to_csv(body).encode() + "2025-10-09 09:00:00,x,IP Address,R_zzzzzz999999,5,9,5,Café\n"\
        .encode("cp1252")
    s = read_survey(write(tmp_path, "q.csv", data))
    assert s.data.shape == (61, 8)
    assert s.data.loc[60, "Q3"] == "Café"  # the stray cp1252 byte
    assert s.data.loc[2, "Q3"] == "Größe: ok – €5"  # UTF-8 text still UTF-8
    assert s.encoding == "utf-8+cp1252"
    assert any("mixed encodings" in n for n in s.notes)


def test_qualtrics_utf16_tab_export(tmp_path: Path) -> None:
    """Qualtrics' TSV download is UTF-16 with a byte-order mark and tabs."""
    p = write(tmp_path, "q.tsv", to_csv(QUALTRICS_ROWS, delimiter="\t").encode("utf-16"))
    s = read_survey(p)
    check_qualtrics(s)
    assert s.encoding == "utf-16"
    assert any("tab" in n for n in s.notes)


def test_qualtrics_two_header_rows_without_importid(tmp_path: Path) -> None:
    rows = QUALTRICS_ROWS[:2] + QUALTRICS_ROWS[3:]
    s = read_survey(write(tmp_path, "q.csv", to_csv(rows).encode()))
    assert s.format == "qualtrics" and s.data.shape == (3, 8) and s.import_ids == {}
    assert any("no ImportId row" in n for n in s.notes)


def test_qualtrics_missing_header_rows_is_dataerror(tmp_path: Path) -> None:
    rows = QUALTRICS_ROWS[:1] + QUALTRICS_ROWS[3:]
    p = write(tmp_path, "q.csv", to_csv(rows).encode())
    with pytest.raises(DataError, match=r"q\.csv, row 2: .*header rows missing.*expected 3 header"):
        read_survey(p)
    s = read_survey(p, format="csv")  # the analyst can override
    assert s.format == "csv" and s.data.shape == (3, 8)


def test_qualtrics_xlsx(tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet0"
    for r in QUALTRICS_ROWS[:3]:
        ws.append(r)
    ws.append([dt.datetime(2025, 10, 1, 9, 0), "2025-10-01 09:04:00", "IP Address",
               "R_abcdef123456", 240, 10, None, 4.5])
    ws.append([None] * 8)  # empty row, as Excel often leaves
    p = tmp_path / "q.xlsx"
    wb.save(p)
    s = read_survey(p)
    assert s.format == "qualtrics" and s.encoding is None
    assert s.data.shape == (1, 8)
    assert s.data.loc[0, "StartDate"] == "2025-10-01 09:00:00"
    assert s.data.loc[0, "Duration (in seconds)"] == "240"
    assert s.data.loc[0, "Q1"] == "10"
    assert s.data.loc[0, "Q3"] == "4.5"
    assert pd.isna(s.data.loc[0, "Q2_1"])
    assert s.import_ids["Q1"] == "QID1"
    assert s.questions["Q2_1"] == "How satisfied are you? - Support"
    assert any("Sheet0" in n for n in s.notes)


# ---------------------------------------------------------------------------------------------
# generated fixtures: SurveyMonkey

SM_ROWS = [
    ["RespondentID", "CollectorID", "Email Address",
     "Which products do you use?<br>(select all)", "", "", "",
     "How likely are you to recommend us?"],
    ["", "", "", "Product A", "Product B", "Product C", "Other (please specify)", "Response"],
    ["111", "9", "a@example.com", "Product A", "", "Product C", "my own", "9"],
    ["112", "9", "b@example.com", "", "Product B", "", "", "3"],
]

SM_NAMES = ["RespondentID", "CollectorID", "Email Address",
            "Which products do you use? (select all) | Product A",
            "Which products do you use? (select all) | Product B",
            "Which products do you use? (select all) | Product C",
            "Which products do you use? (select all) | Other (please specify)",
            "How likely are you to recommend us?"]


def check_surveymonkey(s: Survey) -> None:
    assert s.format == "surveymonkey"
    assert list(s.data.columns) == SM_NAMES
    assert s.data.shape == (2, 8)
    assert s.data.loc[0, SM_NAMES[5]] == "Product C" and pd.isna(s.data.loc[1, SM_NAMES[5]])
    assert s.data.loc[0, SM_NAMES[6]] == "my own"
    assert s.questions[SM_NAMES[4]] == "Which products do you use? (select all)"
    assert s.questions["How likely are you to recommend us?"] == (
        "How likely are you to recommend us?")


def test_surveymonkey_select_all_csv(tmp_path: Path) -> None:
    check_surveymonkey(read_survey(write(tmp_path, "sm.csv", to_csv(SM_ROWS).encode())))


def test_surveymonkey_xlsx(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    for r in SM_ROWS:
        wb.active.append([None if c == "" else c for c in r])
    wb.active.cell(row=3, column=8, value=9)  # numbers stored as numbers
    p = tmp_path / "sm.xlsx"
    wb.save(p)
    s = read_survey(p)
    check_surveymonkey(s)
    assert s.data.loc[0, "How likely are you to recommend us?"] == "9"


# ---------------------------------------------------------------------------------------------
# generated fixtures: SPSS, parquet, generic CSV/TSV/XLSX


def test_spss_value_labels_and_user_missing(tmp_path: Path) -> None:
    import pyreadstat

    df = pd.DataFrame({"ltr": [10.0, 9.0, -99.0, 3.0, 98.0], "comment": ["ok", "", "x", "y", "z"]})
    p = tmp_path / "s.sav"
    pyreadstat.write_sav(
        df, str(p), column_labels={"ltr": "How likely to recommend?", "comment": "Comment"},
        variable_value_labels={"ltr": {10.0: "10 - Extremely likely", -99.0: "Don't know"}},
        missing_ranges={"ltr": [-99.0, {"lo": 98.0, "hi": 99.0}]})
    s = read_survey(p)
    assert s.format == "spss"
    assert s.data["ltr"].dtype.kind == "f"  # numbers stay numbers
    assert s.data["ltr"].tolist()[:2] == [10.0, 9.0]
    assert s.data["ltr"].isna().tolist() == [False, False, True, False, True]
    assert s.value_labels["ltr"][-99.0] == "Don't know"
    assert s.value_labels["ltr"][10.0] == "10 - Extremely likely"
    assert sorted(s.missing_codes["ltr"], key=str) == sorted([-99.0, (98.0, 99.0)], key=str)
    assert s.questions["ltr"] == "How likely to recommend?"
    assert pd.isna(s.data.loc[1, "comment"]) and s.data.loc[0, "comment"] == "ok"
    assert any("set 2 user-missing" in n for n in s.notes)


def test_parquet_keeps_types(tmp_path: Path) -> None:
    df = pd.DataFrame({"response_id": ["a", "b"], "ltr": [10.0, 3.0]})
    p = tmp_path / "r.parquet"
    df.to_parquet(p)
    s = read_survey(p)
    assert s.format == "parquet" and s.data["ltr"].tolist() == [10.0, 3.0]
    assert s.questions == {"response_id": "response_id", "ltr": "ltr"}


GENERIC = [["id", "ltr", "comment"], ["1", "10", "Très bien “merci”"], ["2", "N/A", ""],
           ["3", "-99", "Don't know; maybe"]]


@pytest.mark.parametrize(("delimiter", "encoding", "newline"), [
    (",", "utf-8", "\n"), (";", "cp1252", "\r\n"), ("\t", "utf-16", "\r"),
    ("|", "utf-8-sig", "\r\n"), (",", "cp1252", "\r"), ("\t", "utf-16-le", "\n"),
])
def test_generic_delimiters_encodings_line_endings(tmp_path: Path, delimiter: str,
                                                   encoding: str, newline: str) -> None:
    data = to_csv(GENERIC, delimiter=delimiter, newline=newline).encode(encoding)
    s = read_survey(write(tmp_path, "g.txt", data))
    assert s.format == "csv"
    assert list(s.data.columns) == ["id", "ltr", "comment"]
    assert s.data["comment"].tolist()[0] == "Très bien “merci”"
    assert s.data.loc[2, "comment"] == "Don't know; maybe"
    assert s.data["ltr"].tolist() == ["10", "N/A", "-99"]  # labels and codes kept as text
    assert pd.isna(s.data.loc[1, "comment"])
    assert s.encoding == encoding


def test_latin1_when_not_cp1252(tmp_path: Path) -> None:
    # 0x81 is undefined in cp1252, so only latin-1 decodes this file
    data = "id,name\n1,Müller\n".encode("latin-1") + b"2,x\x81y\n"
    s = read_survey(write(tmp_path, "g.csv", data))
    assert s.encoding == "latin-1" and s.data.loc[0, "name"] == "Müller"


def test_encoding_override(tmp_path: Path) -> None:
    data = to_csv(GENERIC).encode("cp1252")
    s = read_survey(write(tmp_path, "g.csv", data), encoding="latin-1")
    assert s.encoding == "latin-1"
    assert s.data.loc[0, "comment"] == "Très bien \x93merci\x94"  # what latin-1 says


def test_tsv_override_and_generic_xlsx(tmp_path: Path) -> None:
    import openpyxl

    s = read_survey(write(tmp_path, "g.csv", b"a\tb;c\n1\t2;3\n"), format="tsv")
    assert list(s.data.columns) == ["a", "b;c"]
    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    wb.create_sheet("Other").append(["x", "y"])
    for r in GENERIC:
        wb["Data"].append(r)
    p = tmp_path / "g.xlsx"
    wb.save(p)
    s = read_survey(p)
    assert s.format == "xlsx" and s.data.shape == (3, 3)
    assert read_survey(p, sheet="Other").data.shape == (0, 2)
    assert read_survey(p, sheet=1).data.columns.tolist() == ["x", "y"]


def test_blank_and_repeated_column_ids(tmp_path: Path) -> None:
    s = read_survey(write(tmp_path, "g.csv", b"a,,a,a\n1,2,3,4\n"))
    assert list(s.data.columns) == ["a", "column_2", "a.1", "a.2"]
    assert any("repeated" in n for n in s.notes) and any("blank" in n for n in s.notes)


def test_header_only_file_gives_zero_rows(tmp_path: Path) -> None:
    s = read_survey(write(tmp_path, "g.csv", b"id,ltr\n"))
    assert s.data.shape == (0, 2)


# ---------------------------------------------------------------------------------------------
# bad input: one-line DataError naming file, row/column, found and expected


@pytest.mark.parametrize(("name", "data", "pattern"), [
    ("empty.csv", b"", r"empty\.csv: file is empty"),
    ("blank.csv", b"  \r\n\n", r"blank\.csv: file is empty"),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8\n", r"ragged\.csv, row 3: has 2 fields.*expected 3"),
    ("ragged_q.csv", b"", r"ragged_q\.csv, row 5: has 7 fields"),
    ("bin.csv", b"\x00\x01\x02\x03abc\x00\xff" * 20, r"bin\.csv.*binary"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, r"old\.xls: .*legacy"),
    ("bad.xlsx", b"PK\x03\x04garbage", r"bad\.xlsx: cannot be read as XLSX"),
    ("bad.sav", b"$FL2garbage", r"bad\.sav: cannot be read as SPSS"),
    ("bad.parquet", b"PAR1garbage", r"bad\.parquet: cannot be read as parquet"),
    ("truncq.csv", b"", r"truncq\.csv, row 3: header row 3 has 3 fields.*expected 8"),
])
def test_bad_input_raises_one_line_dataerror(tmp_path: Path, name: str, data: bytes,
                                             pattern: str) -> None:
    if name == "ragged_q.csv":
        rows = [list(r) for r in QUALTRICS_ROWS]
        rows[4] = rows[4][:7]
        data = to_csv(rows).encode()
    if name == "truncq.csv":
        data = to_csv(QUALTRICS_ROWS).encode().split(b'"{""ImportId"":""status')[0]
    p = write(tmp_path, name, data)
    with pytest.raises(DataError, match=pattern) as info:
        read_survey(p)
    assert "\n" not in str(info.value)


def test_missing_file_unknown_format_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        read_survey(tmp_path / "nope.csv")
    p = write(tmp_path, "g.csv", b"a,b\n1,2\n")
    with pytest.raises(DataError, match=r"unknown format 'pdf' \(expected auto, qualtrics"):
        read_survey(p, format="pdf")
    with pytest.raises(DataError, match=r"unknown encoding 'klingon'"):
        read_survey(p, encoding="klingon")
    with pytest.raises(DataError, match=r"is not a file"):
        read_survey(tmp_path)
    with pytest.raises(DataError, match=r"not an XLSX"):
        read_survey(p, format="xlsx")
    q = write(tmp_path, "q.csv", to_csv(QUALTRICS_ROWS).encode())
    with pytest.raises(DataError, match=r"q\.csv, row 3: .*ImportId row.*not a qualtrics_legacy"):
        read_survey(q, format="qualtrics_legacy")


def test_undecodable_with_explicit_encoding(tmp_path: Path) -> None:
    p = write(tmp_path, "g.csv", b"a,b\n1,2\n3,\xff\xfe\n")
    with pytest.raises(DataError, match=r"g\.csv, row 3: undecodable bytes .* at byte 10 as utf-8"):
        read_survey(p, encoding="utf-8")


def test_missing_sheet(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["a"])
    p = tmp_path / "g.xlsx"
    wb.save(p)
    with pytest.raises(DataError, match=r"has no sheet 'Nope' \(expected one of Sheet\)"):
        read_survey(p, sheet="Nope")
    with pytest.raises(DataError, match=r"has no sheet number 3"):
        read_survey(p, sheet=3)


# ---------------------------------------------------------------------------------------------
# the input is never modified


def test_input_files_unchanged(tmp_path: Path) -> None:
    import os

    import openpyxl
    import pyreadstat

    files = [write(tmp_path, "q.csv", to_csv(QUALTRICS_ROWS).encode()),
             write(tmp_path, "g.csv", to_csv(GENERIC).encode("cp1252")),
             write(tmp_path, "bad.csv", b"a,b\n1\n")]
    wb = openpyxl.Workbook()
    wb.active.append(["a", "b"])
    wb.save(tmp_path / "x.xlsx")
    pyreadstat.write_sav(pd.DataFrame({"a": [1.0]}), str(tmp_path / "s.sav"))
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "p.parquet")
    files += [tmp_path / "x.xlsx", tmp_path / "s.sav", tmp_path / "p.parquet"]
    for f in files:
        os.utime(f, (1_000_000_000, 1_000_000_000))
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files}
    for f in files:
        try:
            read_survey(f)
        except DataError:
            pass
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files} == before


def test_overlong_first_rows_are_dataerror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    from helpers.ingest import delimited

    monkeypatch.setattr(delimited, "_SAMPLE_BYTES", 64)
    monkeypatch.setattr(delimited, "_MAX_HEADER_BYTES", 256)
    p = write(tmp_path, "long.csv", b"a,b\n" + b"x" * 5000 + b",y\n1,2\n")
    with pytest.raises(DataError, match=r"long\.csv, row 2: the first 2 rows span more than"):
        read_survey(p)


def test_a_latin1_export_with_dos_typed_rows_reads_its_accents(tmp_path: Path) -> None:
    """Bytes 0x80-0x9F are no Latin-1 text: rows typed in DOS code page 850 ('pr\\x82sent\\x82')
    read as 'présenté', an euro sign beside a number as '€', and the reader says so (the real
    garden export has 2,470 of them in a third of its comments)."""
    raw = ("nps;comment\n9;Tr\xe8s bien, pr\x82sent\x82 et \x82quip\x82\n"
           "3;bon de 15\x80 pas pris en compte \x85 la caisse\n10;Parfait\n").encode("latin-1")
    raw += b"7;\x90t\x82 parfait\n"  # 0x90: undefined in cp1252, so the file is not cp1252
    p = tmp_path / "dos_rows.csv"
    p.write_bytes(raw)
    s = read_survey(p)
    assert s.encoding == "latin-1"
    assert s.data["comment"].tolist() == ["Très bien, présenté et équipé",
                                          "bon de 15€ pas pris en compte à la caisse", "Parfait", "Été parfait"]
    assert any("read as cp850 letters" in n for n in s.notes)
    garden = read_survey(PROJECT_ROOT / "tests" / "data" / "real-exports" / "garden_retailer_nps_fr.csv")
    assert not garden.data["explication"].dropna().str.contains("[\x80-\x9f]").any()
