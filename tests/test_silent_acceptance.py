"""Issue 17, item 10: values the probe slipped through are now refused, flagged or logged.

LTR 9.5 was counted as a promoter and 7.25 / 1e1 were accepted; one date column was read
day-first for 31/01/2024 and month-first for 02/01/2024; an impossible date became missing with
the row included and nothing logged; a NUL byte after the first 64 KB was accepted.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.errors import DataError
from helpers.ingest import clean, fields, readers, schema
from helpers.ingest.schema import Schema

NA = frozenset({"n/a", "-99"})


@pytest.mark.parametrize("text", ["9.5", "7.25", "0.5", "9,5"])
def test_a_fraction_is_not_a_point_on_an_integer_scale(text: str) -> None:
    parsed = schema.parse_scores(pd.Series([text, "9", "10"], dtype="string"), (0, 10), None, NA,
                                 whole=True)
    assert parsed.values.isna().iloc[0] and bool(parsed.out_of_range.iloc[0])
    assert parsed.values.iloc[1:].tolist() == [9.0, 10.0]


def test_numeric_columns_get_the_same_rule() -> None:
    parsed = schema.parse_scores(pd.Series([9.5, 10.0, 3.0]), (0, 10), None, NA, whole=True)
    assert parsed.values.isna().tolist() == [True, False, False]
    assert parsed.out_of_range.tolist() == [True, False, False]


@pytest.mark.parametrize("text", ["1e1", "1E1", "0x0A", "+10", "10.", "١٠", "inf", "nan", "1_0"])
def test_scientific_and_other_number_spellings_are_unreadable(text: str) -> None:
    parsed = schema.parse_scores(pd.Series([text, "8"], dtype="string"), (0, 10), None, NA,
                                 whole=True)
    assert parsed.values.isna().iloc[0], text
    assert parsed.unparseable == 1 and not parsed.out_of_range.iloc[0]


def test_whole_numbers_written_with_zero_decimals_are_fine() -> None:
    parsed = schema.parse_scores(pd.Series(["10.0", " 9 ", "7,0", "10 - Extremely likely"],
                                           dtype="string"), (0, 10), None, NA, whole=True)
    assert parsed.values.tolist() == [10.0, 9.0, 7.0, 10.0]


def test_parse_column_counts_match_parse_scores() -> None:
    raw = pd.Series(["1e1"] * 5 + ["9.5"] * 3 + ["9"] * 40, dtype="string")
    fast = fields.parse_column(raw, (0, 10), None, NA, whole=True)
    slow = schema.parse_scores(raw, (0, 10), None, NA, whole=True)
    assert fast.unparseable == slow.unparseable == 5
    assert int(fast.out_of_range.sum()) == int(slow.out_of_range.sum()) == 3
    pd.testing.assert_series_equal(fast.values, slow.values, check_names=False)


def _export(tmp_path: Path, ltr: list[str], end: list[str]) -> Path:
    n = len(ltr)
    df = pd.DataFrame({"ResponseId": [f"R_{i:08d}" for i in range(n)], "EndDate": end,
                       "Q1": ltr, "Market": ["B2C"] * n})
    p = tmp_path / "export.csv"
    df.to_csv(p, index=False)
    return p


@pytest.fixture()
def tiny_schema(tmp_path: Path) -> Schema:
    p = tmp_path / "schema.yaml"
    p.write_text("""
fields:
  response_id: {column: ResponseId, required: true}
  submitted_at: {column: EndDate, type: datetime, required: true}
  ltr: {column: Q1, type: score, scale: [0, 10], required: true}
  market: {column: Market}
""", encoding="utf-8")
    return schema.load(p)


def test_ltr_9_5_is_not_a_promoter_and_is_excluded(tmp_path: Path, tiny_schema: Schema) -> None:
    p = _export(tmp_path, ["9.5", "7.25", "1e1", "10", "9"], ["2024-01-05"] * 5)
    res = clean.clean_responses(readers.read_survey(p), tiny_schema, "salt")
    df = res.responses
    assert df["ltr"].isna().tolist()[:3] == [True, True, True]
    assert df["flag_out_of_range"].tolist()[:2] == [True, True]
    assert not df["include"].iloc[:3].any() and df["include"].iloc[3:].all()
    assert res.log["answers"]["ltr"]["out_of_range"] == 2
    assert res.log["answers"]["ltr"]["unreadable"] == 1


def test_one_date_column_is_read_in_one_order() -> None:
    s = pd.Series(["31/01/2024", "02/01/2024", "15/03/2024 10:00"], dtype="string", name="EndDate")
    got = fields.parse_datetimes(s)
    assert got.tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-01-02"),
                            pd.Timestamp("2024-03-15 10:00")]
    us = pd.Series(["01/31/2024", "02/01/2024"], dtype="string", name="EndDate")
    assert fields.parse_datetimes(us).tolist() == [pd.Timestamp("2024-01-31"),
                                                  pd.Timestamp("2024-02-01")]


def test_a_column_mixing_day_first_and_month_first_is_an_error() -> None:
    s = pd.Series(["31/01/2024", "01/31/2024", "02/01/2024"], dtype="string", name="EndDate")
    with pytest.raises(DataError, match="day-first.*month-first|month-first.*day-first"):
        fields.parse_datetimes(s)


def test_impossible_dates_are_flagged_and_logged(tmp_path: Path, tiny_schema: Schema) -> None:
    p = _export(tmp_path, ["9", "8", "7"], ["2024-02-30", "2024-01-05", "2024-13-01"])
    res = clean.clean_responses(readers.read_survey(p), tiny_schema, "salt")
    df = res.responses
    assert df["submitted_at"].isna().tolist() == [True, False, True]
    assert df["include"].tolist() == [False, True, False]
    assert df["flag_out_of_range"].tolist() == [True, False, True]
    assert res.log["answers"]["submitted_at"]["unreadable"] == 2


def test_nul_byte_after_the_first_64_kb_is_refused(tmp_path: Path) -> None:
    rows = ["ResponseId,Q1,Q7"] + [f"R_{i:08d},9,fine comment number {i}" for i in range(4000)]
    rows[3500] = "R_00003500,9,bad \x00 byte"
    p = tmp_path / "export.csv"
    p.write_bytes("\n".join(rows).encode("utf-8"))
    assert p.stat().st_size > 65536 and p.read_bytes().index(b"\x00") > 65536
    with pytest.raises(DataError, match="NUL") as err:
        readers.read_survey(p)
    assert "row 3501" in str(err.value)


def test_nul_byte_in_a_large_file_read_in_place_is_refused(tmp_path: Path) -> None:
    line = "R_{:08d},9," + "x" * 200
    rows = ["ResponseId,Q1,Q7"] + [line.format(i) for i in range(8000)]
    rows[7000] = rows[7000][:-5] + "\x00abcd"
    p = tmp_path / "export.csv"
    p.write_bytes("\n".join(rows).encode("utf-8"))
    assert p.stat().st_size > (1 << 20)  # larger than the sample: read by Arrow in place
    with pytest.raises(DataError, match="NUL"):
        readers.read_survey(p)
