"""Property tests for helpers.ingest.readers.read_survey: malformed input gives a clean result or DataError.

Random bytes, truncated exports, random delimiters, line endings and encodings, mixed
encodings: the reader must either return a Survey or raise DataError with a one-line message,
never an exception from inside pandas / pyarrow / openpyxl / pyreadstat. Well-formed random
tables must round-trip exactly.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers.errors import DataError
from helpers.ingest.readers import Survey, read_survey
from helpers.paths import PROJECT_ROOT

REAL = PROJECT_ROOT / "tests" / "data" / "real-exports"
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

QUALTRICS = (
    'StartDate,EndDate,Status,ResponseId,Q1,Q2\n'
    'Start Date,End Date,Response Type,Response ID,"How likely ...\nrecommend?",Comment\n'
    '"{""ImportId"":""startDate""}","{""ImportId"":""endDate""}","{""ImportId"":""status""}",'
    '"{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}","{""ImportId"":""QID2_TEXT""}"\n'
    '2025-10-01 09:00:00,2025-10-01 09:04:00,IP Address,R_abcdef123456,10 - Extremely likely,'
    '"Fine, ""really"".\nThanks"\n'
    '2025-10-02 09:00:00,2025-10-02 09:01:00,IP Address,R_bcdefa234567,3,Größe €\n'
).encode()


def seeds() -> list[bytes]:
    out = [QUALTRICS, b"\xef\xbb\xbf" + QUALTRICS, QUALTRICS.decode().encode("utf-16")]
    for name in ("qualtrics_insights_sample.csv", "qualtrics_legacy_sample.csv"):
        out.append((REAL / name).read_bytes())
    out.append((REAL / "surveymonkey_steak_risk.csv").read_bytes()[:4000])
    return out


def read_bytes(data: bytes, suffix: str = ".csv", **kw: object) -> Survey | DataError:
    """Write `data` to a temporary file and read it; return the Survey or the DataError."""
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / f"input{suffix}"
        p.write_bytes(data)
        try:
            s = read_survey(p, **kw)  # any other exception fails the test
        except DataError as err:
            assert "\n" not in str(err) and "input" in str(err)
            return err
        assert p.read_bytes() == data  # never modified
        return s


def check_survey(s: Survey | DataError) -> None:
    if isinstance(s, Survey):
        assert s.data.columns.is_unique
        assert set(s.questions) == set(s.data.columns)
        assert set(s.import_ids) <= set(s.data.columns)
        assert isinstance(s.notes, list) and all(isinstance(n, str) for n in s.notes)


@SETTINGS
@given(st.binary(max_size=600), st.sampled_from([".csv", ".xlsx", ".sav", ".parquet", ".txt"]))
def test_random_bytes_give_survey_or_dataerror(data: bytes, suffix: str) -> None:
    check_survey(read_bytes(data, suffix))


@SETTINGS
@given(st.sampled_from([b"PK\x03\x04", b"$FL2", b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe", b""]),
       st.binary(max_size=300))
def test_magic_prefix_then_garbage(prefix: bytes, rest: bytes) -> None:
    check_survey(read_bytes(prefix + rest))


@SETTINGS
@given(st.data())
def test_truncated_exports(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(seeds()))
    cut = data.draw(st.integers(0, len(raw)))
    check_survey(read_bytes(raw[:cut]))


@SETTINGS
@given(st.data())
def test_corrupted_exports(data: st.DataObject) -> None:
    """Flip, insert or delete a few bytes somewhere in a real export."""
    raw = bytearray(data.draw(st.sampled_from(seeds())))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        b = data.draw(st.sampled_from([b'"', b",", b"\n", b"\r", b"\t", b"\x00", b"\xff", b"{"]))
        if op == "flip":
            raw[i:i + 1] = b
        elif op == "insert":
            raw[i:i] = b
        else:
            del raw[i]
    check_survey(read_bytes(bytes(raw)))


CELL = st.text(alphabet=st.sampled_from(list("abcxyzAZ09 -_.'\"é€“”中,;|\t\n\r")), max_size=8)


@SETTINGS
@given(st.data())
def test_wellformed_tables_round_trip(data: st.DataObject) -> None:
    """Any quoted table with any delimiter, line ending and encoding reads back exactly."""
    ncol = data.draw(st.integers(2, 5))
    nrow = data.draw(st.integers(0, 6))
    delimiter = data.draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = data.draw(st.sampled_from(["\n", "\r\n", "\r"]))
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le",
                                          "cp1252"]))
    alphabet = CELL if encoding != "cp1252" else CELL.filter(lambda s: "中" not in s)
    rows = data.draw(st.lists(st.lists(alphabet, min_size=ncol, max_size=ncol),
                              min_size=nrow, max_size=nrow))
    header = [f"h{i}" for i in range(ncol)]

    def quote(v: str) -> str:
        return '"' + v.replace('"', '""') + '"'

    text = "".join(delimiter.join(quote(v) for v in r) + newline for r in [header, *rows])
    raw = text.encode(encoding)
    if encoding == "cp1252" and not text.isascii():
        # cp1252 bytes that are also valid UTF-8 ("é““" is E9 93 93 = U+94D3) are read as UTF-8,
        # as any reader must: the file itself cannot tell them apart.
        # So are files where only part is valid UTF-8 ("éé““" = E9 | E9 93 93): the reader takes
        # them as UTF-8 with stray cp1252 bytes, the same rule as for mixed files.
        valid = raw.decode("utf-8", errors="ignore")
        assume(valid.isascii())
    result = read_bytes(raw)
    assert isinstance(result, Survey), result
    assert result.format == "csv"
    assert list(result.data.columns) == header
    expected = pd.DataFrame(rows, columns=header, dtype=object) if rows else None
    got = result.data.astype(object).where(result.data.notna(), "")
    if expected is not None:
        assert got.values.tolist() == expected.values.tolist()
    else:
        assert len(got) == 0


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["utf-8", "cp1252"]),
                          st.text(alphabet=st.sampled_from(list("abc éüß€–")), max_size=6)),
                min_size=1, max_size=8))
def test_mixed_encodings(lines: list[tuple[str, str]]) -> None:
    """Lines written in different encodings: clean result or DataError; ASCII is never lost."""
    body = b"".join(f"{i},{t}\n".encode(enc) for i, (enc, t) in enumerate(lines))
    result = read_bytes(b"id,text\n" + body)
    check_survey(result)
    assert isinstance(result, Survey)  # every line decodes one way or another
    assert result.data["id"].tolist() == [str(i) for i in range(len(lines))]
    for (enc, t), got in zip(lines, result.data["text"].tolist(), strict=True):
        if enc == "utf-8" or t.isascii():
            assert (got if isinstance(got, str) else "") == t


TEXT_CELL = st.text(alphabet=st.sampled_from(list("abcAZ09 -_.'\"é€中,;")), max_size=6)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), TEXT_CELL, st.integers(-10**6, 10**6),
                                   st.integers(-10**6, 10**6).map(lambda i: i / 100)),
                         min_size=3, max_size=3), min_size=0, max_size=5))
def test_xlsx_cells_read_back_as_text(rows: list[list[object]]) -> None:
    """Generic XLSX: every cell comes back as the text a CSV export would carry."""
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["h0", "h1", "h2"])
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    result = read_bytes(buf.getvalue(), ".xlsx")
    assert isinstance(result, Survey), result
    assert result.format == "xlsx" and list(result.data.columns) == ["h0", "h1", "h2"]

    def text(v: object) -> str | None:
        if v is None or v == "":
            return None
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
        return str(v)

    # a row of blank or white-space cells is no response (the reader skips it, as in a CSV)
    expected = [[text(v) for v in r] for r in rows if any((text(v) or "").strip() for v in r)]
    got = [[None if pd.isna(v) else v for v in r] for r in result.data.astype(object).values]
    assert got == expected


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["", "Q a", "Q b", "Q a<br>x"]),
                          st.sampled_from(["", "Response", "Open-Ended Response", "opt 1",
                                           "opt 2"])), min_size=1, max_size=8))
def test_surveymonkey_names_unique(cols: list[tuple[str, str]]) -> None:
    """Any SurveyMonkey header gives one unique name and one question per column."""
    row1 = ["RespondentID"] + [q for q, _ in cols]
    row2 = ["", "Response"] + [o for _, o in cols][1:]
    row2 = row2[:len(row1)]
    data_row = [str(i) for i in range(len(row1))]

    def line(r: list[str]) -> str:
        return ",".join('"' + v + '"' for v in r) + "\n"

    result = read_bytes((line(row1) + line(row2) + line(data_row)).encode(), format="surveymonkey")
    assert isinstance(result, Survey), result
    assert result.data.shape == (1, len(row1))
    assert result.data.columns.is_unique and set(result.questions) == set(result.data.columns)
    assert result.data.iloc[0].tolist() == data_row
    assert all("<br>" not in c for c in result.data.columns)
