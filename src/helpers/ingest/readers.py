"""Read survey exports (Qualtrics, SurveyMonkey, SPSS, generic CSV/TSV, XLSX, parquet).

One entry point, :func:`read_survey`, returns a :class:`Survey`: the responses (one row per
response, extra header rows removed, columns named by the export's column ids) plus the question
text of each column and plain-language notes of everything the reader did. Text exports keep every
value as text (pandas string dtype, missing = NA) so that answer labels such as
"10 - Extremely likely" reach the schema untouched; SPSS and parquet keep their numbers.

Anything the reader cannot make sense of raises :class:`helpers.errors.DataError` with one line
naming the file, the row or column, what was found and what was expected. The input file is only
ever opened for reading.
"""

from __future__ import annotations

import ast
import codecs
import csv
import datetime as dt
import io
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from helpers import paths
from helpers.errors import DataError

__all__ = ["FORMATS", "Survey", "read_survey"]

#: Values accepted by ``read_survey(format=...)``.
FORMATS: tuple[str, ...] = (
    "auto", "qualtrics", "qualtrics_legacy", "surveymonkey", "spss", "sav", "csv", "tsv",
    "xlsx", "parquet",
)

_STRING = pd.StringDtype("pyarrow")
_SAMPLE_BYTES = 1 << 20
_MAX_HEADER_BYTES = 1 << 26
_SNIFF_RECORDS = 20
_DELIMITERS = (",", ";", "\t", "|")
_QUALTRICS_IDS = {
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
    "Finished", "RecordedDate", "ResponseId", "ResponseID", "DistributionChannel",
    "UserLanguage", "RecipientEmail", "ExternalReference",
}
_IMPORT_ID = re.compile(r"""^\s*\{\s*(["'])ImportId\1\s*:""")
_TIMESTAMP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})")
_RESPONSE_ID = re.compile(r"^R_[A-Za-z0-9]{6,}$")
_SM_OPTION_ONLY = {"", "Response", "Open-Ended Response"}
_SM_IDS = {"RespondentID", "Respondent ID", "CollectorID", "Collector ID"}
_HTML_TAG = re.compile(r"<[^>]{0,200}>")


#: Words of rating-scale labels: value labels using them describe a scale, not categories.
_RATING_WORDS = re.compile(r"(?i)likely|satisf|agree|poor|good|excellent|easy|difficult|effort|"
                           r"\bvery\b|extremely|not at all|neutral|^\s*\d+\s*([-–:=).]|$)|applicable|"
                           r"don.t know")


@dataclass(frozen=True, eq=False)
class Survey:
    """A survey export as read from disk.

    Attributes
    ----------
    data : one row per response; columns named by the export's column ids. Text exports keep
        every column as pandas string dtype (missing = NA); SPSS and parquet keep numbers.
    questions : column -> question text (the column id itself when the export has none).
    import_ids : column -> Qualtrics ImportId / QID, when the export carries them.
    format : detected or requested layout: "qualtrics", "qualtrics_legacy", "surveymonkey",
        "spss", "csv", "xlsx" or "parquet".
    encoding : text encoding used ("utf-8", "utf-8-sig", "utf-16", "cp1252", ...); None for
        binary containers without one.
    path : the file that was read.
    value_labels : column -> {code: label} (SPSS).
    missing_codes : column -> user-missing codes that were set to NA (SPSS); a range is a
        ``(low, high)`` tuple.
    notes : plain-language remarks of what the reader did, for the cleaning log.
    """

    data: pd.DataFrame
    questions: dict[str, str]
    import_ids: dict[str, str]
    format: str
    encoding: str | None
    path: Path
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    missing_codes: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def category_labels(self) -> dict[str, dict[Any, str]]:
        """Columns whose codes are categories named by value labels (SPSS 1 = "Private",
        2 = "Enterprise"; a wave 1, 2, 3 labelled "2024 spring" ...): every code present has a
        label and the labels are words, not the ends of a rating scale. Their labels, not the
        codes, are the values (schema drafting and cleaning read them so)."""
        out = {}
        for col, labels in self.value_labels.items():
            named = {k: str(v).strip() for k, v in labels.items() if str(v).strip()}
            codes = pd.Series(self.data[col]).dropna().unique() if col in self.data else []
            if len(named) >= 2 and len(codes) and all(c in named for c in codes) and \
                    not any(_RATING_WORDS.search(v) for v in named.values()):
                out[col] = named
        return out


def in_code_order(named: dict[Any, str]) -> dict[Any, str]:
    """Wave labels that sort as their codes do; others ("Spring 2024" coded 1 before "Autumn
    2024" coded 2) numbered "1. Spring 2024", "2. Autumn 2024" so waves keep their order."""
    if not all(isinstance(c, (int, float)) and float(c).is_integer() for c in named):
        return named
    codes = sorted(named)
    if [named[c] for c in codes] == sorted(named[c] for c in codes):
        return named
    width = len(str(int(max(codes))))
    return {c: f"{int(c):0{width}d}. {v}" for c, v in named.items()}


def read_survey(
    path: str | os.PathLike[str],
    format: str = "auto",
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> Survey:
    """Read a survey export into a :class:`Survey`.

    Parameters
    ----------
    path : the export; relative paths are taken from the project root.
    format : "auto" (detect from the bytes and the header rows) or one of :data:`FORMATS`.
        "qualtrics", "qualtrics_legacy" and "surveymonkey" apply to CSV/TSV and XLSX files;
        "csv"/"tsv"/"xlsx" read a plain table with one header row.
    encoding : text encoding of CSV/TSV (and SPSS) files; detected when None.
    sheet : XLSX sheet name or 0-based index (first sheet when None).

    Returns
    -------
    Survey

    Raises
    ------
    DataError
        Missing, empty, undecodable, ragged or unrecognised files, or a Qualtrics export that
        lost its header rows. Row numbers in messages count the file's records from 1,
        header rows included (a quoted line break does not start a new row).
    """
    p = paths.resolve(path)
    size, head = _checked_file(p, format, encoding)
    container = _container(head, p, format)
    if container == "spss":
        return _read_spss(p, encoding)
    if container == "parquet":
        return _read_parquet(p)
    layout = {"auto": None, "xlsx": "csv"}.get(format, format)
    if container == "xlsx":
        return _read_xlsx(p, layout, sheet, encoding)
    return _read_text(p, layout, encoding, size)


@dataclass(frozen=True)
class TextLayout:
    """How a CSV/TSV export is written: what streaming it record by record needs."""

    encoding: str          # a Python codec; "utf-8+cp1252" (mixed) reads as utf-8 with cp1252 fallback
    delimiter: str
    header_rows: int

    def open(self, p: Path) -> Any:
        """The file as text, for :mod:`csv` (quoted line breaks kept inside their field)."""
        if self.encoding == "utf-8+cp1252":
            return open(p, encoding="utf-8", errors="helpers_io_cp1252", newline="")
        return open(p, encoding=self.encoding, newline="")


def text_layout(path: str | os.PathLike[str], format: str = "auto", encoding: str | None = None
                ) -> TextLayout | None:
    """The encoding, delimiter and header rows of a CSV/TSV export, from its leading records
    only (a file of any size); None for XLSX, SPSS and parquet files."""
    p = paths.resolve(path)
    size, head = _checked_file(p, format, encoding)
    if _container(head, p, format) != "text":
        return None
    with open(p, "rb") as fh:
        raw = fh.read(_MAX_HEADER_BYTES)
    if len(raw) < size:   # a leading sample: cut after its last line ending
        little = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE)) or \
            _utf16_without_bom(raw[:4096]) == "utf-16-le"
        width = 4 if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) else 2
        raw = raw[:raw.rfind(b"\n") + (width if little else 1)] or raw
    text, enc = _decode_all(raw, p, encoding, [])
    layout = {"auto": None, "xlsx": "csv"}.get(format, format)
    delimiter = "\t" if layout == "tsv" else _sniff_delimiter(text, True)
    records, _ = _parse_records(text, delimiter, 3, True)
    if not records:
        raise DataError("file has no complete record", file=p, expected="a header row")
    return TextLayout(enc, delimiter, _detect_layout(records, layout, p)[1])


def _checked_file(p: Path, format: str, encoding: str | None) -> tuple[int, bytes]:
    """Size and first 8 bytes of a readable, non-empty file, after checking format and encoding."""
    if format not in FORMATS:
        raise DataError(f"unknown format {format!r}", file=p, expected=", ".join(FORMATS))
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise DataError(f"unknown encoding {encoding!r}", file=p,
                            expected="a Python codec name such as utf-8, cp1252, utf-16") from None
    if not p.exists():
        raise DataError("file not found", file=p, expected="an existing survey export")
    if not p.is_file():
        raise DataError("is not a file", file=p, expected="a survey export file")
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise DataError(f"cannot be opened ({exc.strerror})", file=p,
                        expected="a readable file") from None
    if size == 0:
        raise DataError("file is empty (0 bytes)", file=p,
                        expected="a header row and at least one response")
    return size, head


# ----------------------------------------------------------------------------------------------
# container detection


def _container(head: bytes, p: Path, format: str) -> str:
    """Which reader to use: "spss", "parquet", "xlsx" or "text" (magic bytes beat the suffix)."""
    if format in ("spss", "sav"):
        return "spss"
    if format == "parquet":
        return "parquet"
    if head.startswith((b"$FL2", b"$FL3")):
        return "spss"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError("is a legacy binary Excel (.xls) or other OLE2 file", file=p,
                        expected="XLSX, CSV/TSV, SPSS .sav or parquet; save it as .xlsx")
    if format == "xlsx":
        raise DataError("is not an XLSX workbook (no zip signature)", file=p,
                        expected="an .xlsx file, or format='auto'")
    return "text"


# ----------------------------------------------------------------------------------------------
# text exports


def _mixed_handler(exc: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not valid UTF-8 as cp1252 (latin-1 where cp1252 has no glyph)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return bad.decode("cp1252", errors="replace").replace("\ufffd", "") or bad.decode(
        "latin-1"), exc.end


codecs.register_error("helpers_io_cp1252", _mixed_handler)


def _bom_encoding(head: bytes) -> tuple[str | None, int]:
    """Encoding named by a byte-order mark, and the mark's length."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", 3
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", 4
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 2
    return None, 0


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 without BOM shows as NUL bytes in every other position of ASCII-heavy text."""
    n = len(sample) - len(sample) % 2
    if n < 4:
        return None
    even, odd = sample[0:n:2].count(0), sample[1:n:2].count(0)
    half = n // 2
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _check_text(text: str, p: Path, encoding: str) -> None:
    """Reject binary content that happened to decode (NULs, many control characters)."""
    sample = text[:65536]
    if "\x00" in text:  # anywhere in what was read, not only the first 64 KB
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise DataError(f"contains NUL bytes (binary content) when decoded as {encoding}",
                        file=p, row=line, expected="a text export (CSV/TSV) or XLSX/SPSS/parquet")
    ctrl = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n")
               or 0x7F <= ord(ch) <= 0x9F)
    if ctrl > max(2, 0.01 * len(sample)):
        raise DataError(f"contains {ctrl} control characters in its first {len(sample)} "
                        f"characters when decoded as {encoding} (binary or wrong encoding)",
                        file=p, expected="a text export (CSV/TSV); pass encoding= if it is text")


def _check_nul_bytes(p: Path, encoding: str) -> None:
    """Refuse a NUL byte anywhere in a file read in place (a memory-mapped scan, no copy)."""
    with pa.memory_map(str(p), "r") as mm:
        buf = memoryview(mm.read_buffer())
        at = bytes(buf).find(b"\x00") if len(buf) < (1 << 26) else _find_in_chunks(buf)
        if at >= 0:
            line = bytes(buf[:at]).count(b"\n") + 1
            raise DataError(f"contains NUL bytes (binary content) when decoded as {encoding}",
                            file=p, row=line,
                            expected="a text export (CSV/TSV) or XLSX/SPSS/parquet")


def _find_in_chunks(buf: memoryview, size: int = 1 << 24) -> int:
    for start in range(0, len(buf), size):
        at = bytes(buf[start:start + size]).find(b"\x00")
        if at >= 0:
            return start + at
    return -1


def _undecodable(raw: bytes, encoding: str, exc: UnicodeDecodeError, p: Path) -> DataError:
    line = raw.count(b"\n", 0, exc.start) + 1 if "16" not in encoding and "32" not in encoding \
        else None
    return DataError(
        f"undecodable bytes {raw[exc.start:exc.start + 4]!r} at byte {exc.start} as {encoding}",
        file=p, row=line, expected=f"text in {encoding}, or pass the right encoding=")


def _decode_all(raw: bytes, p: Path, encoding: str | None, notes: list[str]) -> tuple[str, str]:
    """Decode the whole file; returns (text without BOM, encoding name) and notes what it did.

    An explicit `encoding` is strict. Otherwise: byte-order mark, UTF-16 without BOM, UTF-8,
    UTF-8 with stray cp1252 bytes (mixed files), cp1252, latin-1, in that order.
    """
    if encoding is not None:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise _undecodable(raw, encoding, exc, p) from None
        notes.append(f"decoded as {encoding} (as requested)")
        return text.removeprefix("\ufeff"), encoding
    bom, bom_len = _bom_encoding(raw[:4])
    enc = bom if bom != "utf-8-sig" else None
    enc = enc or (_utf16_without_bom(raw[:4096]) if bom is None else None)
    if enc is not None:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError as exc:
            raise _undecodable(raw, enc, exc, p) from None
        notes.append(f"decoded as {enc}" + (" (byte-order mark)" if bom else " (no byte-order mark)"))
        return text.removeprefix("\ufeff"), enc
    body = raw[bom_len:]
    try:
        text = body.decode("utf-8")
        if bom:
            notes.append("decoded as utf-8 (byte-order mark removed)")
        return text, bom or "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start + bom_len
    valid = body.decode("utf-8", errors="ignore")
    if len(valid) != len(valid.encode("ascii", errors="ignore")):  # some real UTF-8 text
        text = body.decode("utf-8", errors="helpers_io_cp1252")
        line = raw.count(b"\n", 0, first_bad) + 1
        notes.append("mixed encodings: decoded as UTF-8, with the bytes that are not valid UTF-8 "
                     f"(first on line {line}) decoded as cp1252")
        return text, "utf-8+cp1252"
    raw = body
    try:
        text = raw.decode("cp1252")
        notes.append("not valid UTF-8: decoded as cp1252 (Windows Western European)")
        return text, "cp1252"
    except UnicodeDecodeError:
        notes.append("not valid UTF-8 or cp1252: decoded as latin-1 (ISO-8859-1)")
        return _repair_c1(raw.decode("latin-1"), notes), "latin-1"


_C1 = re.compile("[\x80-\x9f]")
_EURO_BESIDE_DIGIT = re.compile("(?<=\\d)\x80|(?<=\\d )\x80|\x80(?= ?\\d)")


def _repair_c1(text: str, notes: list[str]) -> str:
    """Latin-1 text holding bytes 0x80-0x9F (control codes, never text) was partly written in
    another code page: a French export with DOS-typed rows has 'pr\\x82sent\\x82' for 'présenté'.
    The code page under which those bytes read as letters fitting their neighbours (cp850, Mac
    Roman or cp1252) replaces them, when it fits at least 80% of them; noted."""
    hits = [m.start() for m in _C1.finditer(text)][:5000]
    if not hits:
        return text
    best, best_fit, best_table = "", 0.0, {}
    for enc in ("cp850", "mac_roman", "cp1252"):
        table = {}
        for b in range(0x80, 0xA0):
            try:
                table[chr(b)] = bytes([b]).decode(enc)
            except UnicodeDecodeError:
                continue
        fits = 0
        for i in hits:
            ch, prev = table.get(text[i], ""), text[i - 1] if i else " "
            fits += ch.isalpha() and (not prev.isalpha() or ch.islower() == prev.islower())
        if fits / len(hits) > best_fit:
            best, best_fit, best_table = enc, fits / len(hits), table
    if best_fit < 0.8:
        return text
    count = len(_C1.findall(text))
    text = _EURO_BESIDE_DIGIT.sub("€", text)  # "15\x80": the cp1252 euro sign, in any mix
    notes.append(f"{count:,} characters in the range 0x80-0x9F (not Latin-1 text) read as {best} "
                 "letters (é, à, ç ...): the file mixes two encodings")
    return text.translate(str.maketrans(best_table))


def _parse_records(text: str, delimiter: str, limit: int, complete: bool
                   ) -> tuple[list[list[str]], list[int]]:
    """Split the first `limit` CSV records of `text` (RFC 4180 quoting, LF/CRLF/CR endings).

    Returns the records and, for each, the index in `text` just after its line ending. A record
    cut off by the end of `text` is dropped unless `complete` (text is the whole file).
    """
    records: list[list[str]] = []
    ends: list[int] = []
    n, i = len(text), 0
    while i < n and len(records) < limit:
        fields: list[str] = []
        buf: list[str] = []
        in_quotes = False
        at_start = True
        ended = False
        while i < n:
            ch = text[i]
            if in_quotes:
                if ch == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    in_quotes = False
                else:
                    buf.append(ch)
                i += 1
                continue
            if ch == '"' and at_start:
                in_quotes, at_start = True, False
                i += 1
                continue
            if ch == delimiter:
                fields.append("".join(buf))
                buf, at_start = [], True
                i += 1
                continue
            if ch in "\r\n":
                i += 2 if ch == "\r" and i + 1 < n and text[i + 1] == "\n" else 1
                ended = True
                break
            buf.append(ch)
            at_start = False
            i += 1
        if not ended and not complete:
            break
        fields.append("".join(buf))
        if fields == [""]:
            continue
        records.append(fields)
        ends.append(i)
    return records, ends


def _sniff_delimiter(text: str, complete: bool) -> str:
    """Pick the delimiter giving the most columns with a constant field count across records."""
    best, best_score = ",", (False, 1, 0)
    for d in _DELIMITERS:
        recs, _ = _parse_records(text, d, _SNIFF_RECORDS, complete)
        if not recs:
            continue
        counts = [len(r) for r in recs]
        consistent = len(set(counts)) == 1
        width = max(set(counts), key=counts.count)
        score = (consistent and width > 1, width, -_DELIMITERS.index(d))
        if width > 1 and score > best_score:
            best, best_score = d, score
    return best


@dataclass(frozen=True)
class _TextHead:
    """The decoded leading sample of a text export and its first records."""

    raw: bytes
    text: str
    encoding: str
    whole: bool                  # the sample is the whole file
    delimiter: str
    records: list[list[str]]     # up to 3
    ends: list[int]              # index in `text` just after each record


def _read_text(p: Path, layout: str | None, encoding: str | None, size: int) -> Survey:
    """A CSV/TSV export: layout and header rows from a leading sample, then the body by pyarrow."""
    notes: list[str] = []
    head = _text_head(p, layout, encoding, size, notes)
    if not head.records:
        raise DataError("file has no complete record", file=p, expected="a header row")
    kind, n_header = _detect_layout(head.records, layout, p)
    header = head.records[:n_header]
    width = len(header[0])
    for k, rec in enumerate(header[1:], start=2):
        if len(rec) != width:
            raise DataError(f"header row {k} has {len(rec)} fields", file=p, row=k,
                            expected=f"{width} fields like header row 1")
    if head.delimiter != ",":
        notes.append(f"delimiter: {_delim_name(head.delimiter)}")
    if n_header:
        notes.append(f"removed {n_header} header row{'s' if n_header > 1 else ''}")
    table, enc = _text_body(p, head, n_header, width, encoding, notes)
    if isinstance(table, _Ragged):
        raise _ragged_error(p, enc, head.delimiter, width, n_header, table.message)
    if not isinstance(table, pa.Table):
        raise DataError("undecodable text", file=p, expected="UTF-8 text")
    frame = table.to_pandas(types_mapper={pa.string(): _STRING, pa.large_string(): _STRING}.get)
    return _assemble(kind, header, frame, notes, p, enc)


def _text_head(p: Path, layout: str | None, encoding: str | None, size: int,
               notes: list[str]) -> _TextHead:
    """Decode a leading sample that holds the first 3 records (or the whole file).

    The sample starts at 1 MB and grows fourfold up to 64 MB; rows longer than that are a
    DataError. Adds the decoding notes of the final sample to `notes`.
    """
    sample_size = _SAMPLE_BYTES
    while True:
        with open(p, "rb") as fh:
            raw = fh.read(sample_size)
        sample_notes: list[str] = []
        text, enc, whole = _decode_sample(raw, len(raw) >= size, p, encoding, sample_notes)
        if whole and not text.strip():
            raise DataError("file is empty (only whitespace)", file=p,
                            expected="a header row and at least one response")
        _check_text(text, p, enc)
        delimiter = "\t" if layout == "tsv" else _sniff_delimiter(text, whole)
        records, ends = _parse_records(text, delimiter, 3, whole)
        if whole or len(records) >= 3:
            notes.extend(sample_notes)
            return _TextHead(raw, text, enc, whole, delimiter, records, ends)
        if sample_size >= _MAX_HEADER_BYTES:
            raise DataError(f"the first {len(records) + 1} rows span more than "
                            f"{_MAX_HEADER_BYTES >> 20} MB", file=p, row=len(records) + 1,
                            expected="a survey export with rows of a sensible length")
        sample_size *= 4


def _text_body(p: Path, head: _TextHead, n_header: int, width: int, encoding: str | None,
               notes: list[str]) -> tuple[pa.Table | _Ragged | UnicodeError | None, str]:
    """The records after the header rows as an Arrow table (or why not), and the encoding used.

    A sampled (large UTF-8) file is parsed by pyarrow in place. When bytes after the sample are
    not UTF-8, the whole file is decoded in Python (e.g. mixed encodings) and parsed from that
    text, unless an explicit `encoding` rejects it.
    """
    text, enc, whole = head.text, head.encoding, head.whole
    data_start = head.ends[n_header - 1]
    table: pa.Table | _Ragged | UnicodeError | None = None
    if not whole:  # large UTF-8 file: pyarrow reads the bytes after the header in place
        _check_nul_bytes(p, enc)
        offset = (3 if head.raw.startswith(codecs.BOM_UTF8) else 0) + len(
            text[:data_start].encode("utf-8"))
        table = _arrow_read_file(p, offset, width, head.delimiter)
        if isinstance(table, UnicodeError):
            if encoding is not None:
                with open(p, "rb") as fh:
                    full = fh.read()
                try:
                    full.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise _undecodable(full, encoding, exc, p) from None
            with open(p, "rb") as fh:
                text, enc = _decode_all(fh.read(), p, None, notes)
            whole = True
            _, ends = _parse_records(text, head.delimiter, n_header, True)
            data_start = ends[n_header - 1]
    if whole:
        table = _arrow_read_bytes(text[data_start:].encode("utf-8"), width, head.delimiter)
    return table, enc


def _decode_sample(raw: bytes, complete: bool, p: Path, encoding: str | None,
                   notes: list[str]) -> tuple[str, str, bool]:
    """Decode the leading sample of a text export.

    Returns (text, encoding, whole): `whole` is True when `text` is the entire file. A large
    file is only sampled when it is UTF-8, so that pyarrow can read its bytes directly; other
    encodings are decoded whole in Python.
    """
    if not complete and (encoding is None or codecs.lookup(encoding).name == "utf-8"):
        if _bom_encoding(raw[:4])[0] in (None, "utf-8-sig") and not _utf16_without_bom(
                raw[:4096]):
            has_bom = raw.startswith(codecs.BOM_UTF8)
            try:
                text = codecs.getincrementaldecoder("utf-8")().decode(raw[3 if has_bom else 0:],
                                                                      final=False)
            except UnicodeDecodeError as exc:
                if encoding is not None:
                    raise _undecodable(raw, encoding, exc, p) from None
            else:
                enc = "utf-8-sig" if has_bom else "utf-8"
                if has_bom:
                    notes.append("decoded as utf-8 (byte-order mark removed)")
                return text, enc, False
    if not complete:
        with open(p, "rb") as fh:
            raw = fh.read()
    text, enc = _decode_all(raw, p, encoding, notes)
    return text, enc, True


class _Ragged:
    def __init__(self, message: str) -> None:
        self.message = message


def _arrow_options(width: int, delimiter: str) -> tuple[Any, Any, Any]:
    names = [f"c{i}" for i in range(width)]
    read = pacsv.ReadOptions(column_names=names, block_size=1 << 22)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                               ignore_empty_lines=True)
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.large_string()),
                                   null_values=[""], strings_can_be_null=True,
                                   quoted_strings_can_be_null=True)
    return read, parse, convert


def _arrow_read(source: Any, width: int, delimiter: str) -> pa.Table | _Ragged | UnicodeError:
    read, parse, convert = _arrow_options(width, delimiter)
    try:
        return pacsv.read_csv(source, read_options=read, parse_options=parse,
                              convert_options=convert)
    except pa.ArrowException as exc:
        msg = str(exc)
        if "UTF8" in msg or "UTF-8" in msg:
            return UnicodeError(msg)
        if "Empty CSV file" in msg:
            names = [f"c{i}" for i in range(width)]
            return pa.table({n: pa.array([], pa.large_string()) for n in names})
        return _Ragged(msg.splitlines()[0] if msg else "CSV parse error")


def _arrow_read_file(p: Path, offset: int, width: int, delimiter: str
                     ) -> pa.Table | _Ragged | UnicodeError:
    with pa.memory_map(str(p), "r") as mm:
        buf = mm.read_buffer()
        return _arrow_read(pa.BufferReader(buf.slice(offset)), width, delimiter)


def _arrow_read_bytes(data: bytes, width: int, delimiter: str) -> pa.Table | _Ragged | UnicodeError:
    return _arrow_read(pa.BufferReader(data), width, delimiter)


def _ragged_error(p: Path, enc: str, delimiter: str, width: int, n_header: int,
                  arrow_msg: str) -> DataError:
    """Find the first record whose field count differs from the header (error path only)."""
    with open(p, "rb") as fh:
        raw = fh.read()
    text, _ = _decode_all(raw, p, None if "+" in enc else enc, [])
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
        for k, rec in enumerate(reader, start=1):
            if rec and len(rec) != width and k > n_header:
                return DataError(f"has {len(rec)} fields (ragged row, ends on line "
                                 f"{reader.line_num})", file=p, row=k,
                                 expected=f"{width} fields like the header")
    except csv.Error as exc:
        return DataError(f"malformed CSV ({exc})", file=p, expected="well-formed CSV")
    return DataError(f"malformed CSV ({arrow_msg})", file=p,
                     expected=f"{width} fields per row like the header")


def _delim_name(d: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(d, repr(d))


# ----------------------------------------------------------------------------------------------
# layout detection (shared by text and XLSX)


def _detect_layout(records: Sequence[Sequence[str]], layout: str | None, p: Path
                   ) -> tuple[str, int]:
    """Return (layout, number of header rows) from the first records of the export."""
    row1 = [c.strip() for c in records[0]]
    row2 = list(records[1]) if len(records) > 1 else None
    row3 = list(records[2]) if len(records) > 2 else None

    def import_row(row: Sequence[str] | None) -> bool:
        cells = [c for c in row or [] if c.strip()]
        return bool(cells) and sum(bool(_IMPORT_ID.match(c)) for c in cells) >= 0.5 * len(cells)

    legacy = len(row1) >= 3 and all(re.fullmatch(r"V\d+", c) for c in row1[:3])
    qualtrics_ids = len(_QUALTRICS_IDS.intersection(row1)) >= 3
    sm = row2 is not None and (
        any(c.strip() in ("Response", "Open-Ended Response") for c in row2)
        and (bool(_SM_IDS.intersection(row1)) or not row2[0].strip()))

    if layout in ("csv", "tsv"):
        return "csv", 1
    if layout in ("qualtrics_legacy", "surveymonkey") and import_row(row3):
        raise DataError(f"row 3 is a Qualtrics ImportId row, so this is not a {layout} export",
                        file=p, row=3, expected="format='qualtrics' or format='auto'")
    if layout == "qualtrics_legacy" or (layout is None and legacy and row2 is not None
                                        and any(c.strip() == "ResponseID" for c in row2)):
        if row2 is None:
            raise DataError("legacy Qualtrics export has no question-text row", file=p, row=2,
                            expected="2 header rows (V1... ids, then question text)")
        return "qualtrics_legacy", 2
    if layout == "surveymonkey" or (layout is None and sm and not import_row(row3)):
        if row2 is None:
            raise DataError("SurveyMonkey export has only one header row", file=p, row=2,
                            expected="2 header rows (question text, then Response/option text)")
        return "surveymonkey", 2
    if layout == "qualtrics" or (layout is None and (qualtrics_ids or import_row(row3))):
        if row2 is None:
            raise DataError("Qualtrics export has no question-text row", file=p, row=2,
                            expected="3 header rows: column ids, question text, "
                                     '{"ImportId": ...}')
        if import_row(row3):
            return "qualtrics", 3
        if _looks_like_response(row1, row2):
            raise DataError(
                "looks like a Qualtrics export but row 2 holds a response, not question text "
                "(header rows missing)", file=p, row=2,
                expected='3 header rows: column ids, question text, {"ImportId": ...}; '
                         "pass format='csv' to read it as a plain table")
        return "qualtrics", 2
    return "csv", 1


def _looks_like_response(row1: Sequence[str], row2: Sequence[str]) -> bool:
    """True when row 2 of a Qualtrics-style file holds answers rather than question text."""
    for col, val in zip(row1, row2, strict=False):
        if col in ("StartDate", "EndDate", "RecordedDate") and _TIMESTAMP.match(val or ""):
            return True
        if col in ("ResponseId", "ResponseID") and _RESPONSE_ID.match((val or "").strip()):
            return True
    return False


def _parse_import_id(cell: str) -> tuple[str | None, dict[str, Any], bool]:
    """ImportId of a Qualtrics third-row cell (JSON or single-quoted Python dict)."""
    text = cell.strip()
    if not text:
        return None, {}, False
    try:
        obj = json.loads(text)
        python_style = False
    except ValueError:
        try:
            obj = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None, {}, False
        python_style = True
    if not isinstance(obj, dict) or "ImportId" not in obj:
        return None, {}, False
    return str(obj["ImportId"]), obj, python_style


def _clean_question(text: str) -> str:
    """Question text without HTML tags and runs of whitespace (SurveyMonkey uses <br>)."""
    return " ".join(_HTML_TAG.sub(" ", text).split())


def _unique(names: Sequence[str], notes: list[str]) -> list[str]:
    """Make column names unique (blank -> column_N, repeats -> name.1, name.2)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    blanks, repeats = 0, []
    for i, name in enumerate(names, start=1):
        if not name:
            name = f"column_{i}"
            blanks += 1
        base = name
        while name in seen:
            seen[base] += 1
            name = f"{base}.{seen[base]}"
        if name != base:
            repeats.append(base)
        seen.setdefault(name, 0)
        out.append(name)
    if blanks:
        notes.append(f"named {blanks} column(s) with a blank header 'column_N' (N = position)")
    if repeats:
        shown = ", ".join(repr(r) for r in dict.fromkeys(repeats))
        notes.append(f"renamed repeated column ids with a .1, .2 suffix: {shown}")
    return out


def _assemble(kind: str, header: Sequence[Sequence[str]], frame: pd.DataFrame,
              notes: list[str], p: Path, encoding: str | None) -> Survey:
    """Name the columns and collect question text / ImportIds for a parsed export."""
    width = frame.shape[1]
    ids = [c.strip() for c in header[0]] if header else [f"column_{i + 1}" for i in range(width)]
    # a trailing delimiter gives a nameless, empty last column: drop it
    drop = [i for i in range(width) if not ids[i] and i == width - 1
            and all(not str(h[i]).strip() for h in header) and frame.iloc[:, i].isna().all()]
    if drop:
        frame = frame.drop(columns=frame.columns[drop])
        ids = [c for i, c in enumerate(ids) if i not in drop]
        header = [[c for i, c in enumerate(h) if i not in drop] for h in header]
        notes.append("dropped 1 empty unnamed last column (trailing delimiter)")

    questions_raw: list[str]
    import_ids: dict[str, str] = {}
    if kind == "surveymonkey":
        names, questions_raw = _surveymonkey_names(header[0], header[1], notes)
        names = _unique(names, notes)
    else:
        names = _unique(ids, notes)
        questions_raw = [h.strip() for h in header[1]] if kind.startswith("qualtrics") \
            else list(names)
    if kind == "qualtrics" and len(header) == 3:
        python_style, zones = False, set()
        for name, cell in zip(names, header[2], strict=True):
            qid, obj, py = _parse_import_id(cell)
            if qid is not None:
                import_ids[name] = qid
                python_style |= py
                if "timeZone" in obj:
                    zones.add(str(obj["timeZone"]))
        if python_style:
            notes.append("ImportId row is in single-quoted Python-dict style {'ImportId': ...}")
        if zones:
            notes.append(f"timestamps are in time zone {', '.join(sorted(zones))} "
                         "(from the ImportId row)")
    elif kind == "qualtrics":
        notes.append("no ImportId row (2 header rows: column ids, question text)")
    frame.columns = names
    questions = {n: (q or n) for n, q in zip(names, questions_raw, strict=True)}
    notes.insert(0, f"read {len(frame)} responses x {frame.shape[1]} columns as {kind}")
    return Survey(data=frame, questions=questions, import_ids=import_ids, format=kind,
                  encoding=encoding, path=p, notes=notes)


def _surveymonkey_names(row1: Sequence[str], row2: Sequence[str], notes: list[str]
                        ) -> tuple[list[str], list[str]]:
    """Column names "<question>" or "<question> | <option>" and each column's question text."""
    names: list[str] = []
    questions: list[str] = []
    current = ""
    html = False
    for i, (q_raw, opt_raw) in enumerate(zip(row1, row2, strict=True)):
        q = _clean_question(q_raw)
        html |= q != q_raw.strip()
        opt = _clean_question(opt_raw)
        continuation = not q
        if not continuation:
            current = q
        question = current or f"column_{i + 1}"
        if continuation or opt not in _SM_OPTION_ONLY:
            names.append(f"{question} | {opt or f'column_{i + 1}'}")
        else:
            names.append(question)
        questions.append(question)
    multi = sum(1 for n in names if " | " in n)
    if multi:
        notes.append(f"named {multi} answer-option column(s) '<question> | <option>' "
                     "(select-all / matrix / other answers)")
    if html:
        notes.append("removed HTML tags such as <br> from question text")
    return names, questions


# ----------------------------------------------------------------------------------------------
# XLSX


def _cell_text(v: Any) -> str | None:
    """Render an XLSX cell as the text a CSV export would carry."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v != v:  # NaN
            return None
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    text = str(v)
    return text if text != "" else None


def _read_xlsx(p: Path, layout: str | None, sheet: str | int | None,
               encoding: str | None) -> Survey:
    """An XLSX export: one sheet's cells as text like a CSV export, then the same layout rules."""
    notes: list[str] = []
    if encoding is not None:
        notes.append(f"encoding={encoding!r} ignored: XLSX stores its own text encoding")
    rows, sheet_name = _xlsx_sheet_rows(p, sheet, notes)
    rows = _squared_rows(rows, sheet_name, p, notes)
    width = len(rows[0])
    records = [[c or "" for c in r] for r in rows[:3]]
    kind, n_header = _detect_layout(records, layout, p)
    kind = "xlsx" if kind == "csv" else kind
    if n_header:
        notes.append(f"removed {n_header} header row{'s' if n_header > 1 else ''}")
    notes.append("cells converted to text like a CSV export (numbers, dates as ISO text)")
    body = rows[n_header:]
    frame = pd.DataFrame({f"c{i}": pd.array([r[i] for r in body], dtype=_STRING)
                          for i in range(width)})
    survey = _assemble(kind, records[:n_header], frame, notes, p, None)
    return survey


def _xlsx_sheet_rows(p: Path, sheet: str | int | None, notes: list[str]
                     ) -> tuple[list[list[str | None]], str]:
    """Every row of the chosen sheet as cell text (None for empty cells), and the sheet's name."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # corrupt zip/XML: any library error means the workbook is bad
        raise DataError(f"cannot be read as XLSX ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})", file=p,
                        expected="a valid .xlsx workbook") from None
    try:
        names = wb.sheetnames
        if sheet is None:
            ws, sheet_name = wb.worksheets[0], names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise DataError(f"has no sheet number {sheet}", file=p,
                                expected=f"0..{len(names) - 1} ({', '.join(names)})")
            ws, sheet_name = wb.worksheets[sheet], names[sheet]
        else:
            if sheet not in names:
                raise DataError(f"has no sheet {sheet!r}", file=p,
                                expected=f"one of {', '.join(names)}")
            ws, sheet_name = wb[sheet], sheet
        try:
            rows = [[_cell_text(v) for v in r] for r in ws.iter_rows(values_only=True)]
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"sheet {sheet_name!r} cannot be read ({type(exc).__name__})",
                            file=p, expected="a valid .xlsx workbook") from None
    finally:
        wb.close()
    if len(names) > 1:
        notes.append(f"read sheet {sheet_name!r} of {len(names)} ({', '.join(names)})")
    else:
        notes.append(f"read sheet {sheet_name!r}")
    return rows, sheet_name


def _squared_rows(rows: list[list[str | None]], sheet_name: str, p: Path, notes: list[str]
                  ) -> list[list[str | None]]:
    """Rows without the empty ones, all of one width (trailing all-empty columns dropped)."""
    n_before = len(rows)
    rows = [r for r in rows if any(c is not None and c.strip() for c in r)]
    if not rows:
        raise DataError(f"sheet {sheet_name!r} is empty", file=p,
                        expected="a header row and at least one response")
    if n_before - len(rows):
        notes.append(f"skipped {n_before - len(rows)} empty row(s)")
    width = max(len(r) for r in rows)
    # drop trailing columns that are empty everywhere (openpyxl pads to the used range)
    while width > 1 and all(len(r) < width or r[width - 1] is None for r in rows):
        width -= 1
    return [(r + [None] * width)[:width] for r in rows]


# ----------------------------------------------------------------------------------------------
# SPSS and parquet


def _read_spss(p: Path, encoding: str | None) -> Survey:
    import pyreadstat

    try:
        df, meta = pyreadstat.read_sav(str(p), user_missing=True, apply_value_formats=False,
                                       encoding=encoding)
    except Exception as exc:  # pyreadstat raises several unrelated types on corrupt input
        raise DataError(f"cannot be read as SPSS .sav ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})", file=p,
                        expected="a valid SPSS .sav file") from None
    notes = [f"read {len(df)} responses x {df.shape[1]} columns as spss"]
    missing_codes: dict[str, list[Any]] = {}
    n_set = 0
    for col, ranges in (meta.missing_ranges or {}).items():
        if col not in df.columns:
            continue
        codes: list[Any] = []
        mask = pd.Series(False, index=df.index)
        values = df[col]
        for r in ranges:
            lo, hi = r["lo"], r["hi"]
            codes.append(lo if lo == hi else (lo, hi))
            if pd.api.types.is_numeric_dtype(values):
                mask |= values.between(lo, hi)
            else:
                mask |= values.astype("object").isin([lo, hi])
        missing_codes[col] = codes
        n_set += int(mask.sum())
        df[col] = values.mask(mask)
    if missing_codes:
        notes.append(f"set {n_set} user-missing value(s) to NA in {len(missing_codes)} "
                     "column(s); the codes are kept in missing_codes, their labels in value_labels")
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            s = df[col].astype(_STRING)
            df[col] = s.mask(s.str.strip() == "")
    labels = {c: dict(v) for c, v in (meta.variable_value_labels or {}).items()}
    questions = {c: (meta.column_names_to_labels or {}).get(c) or c for c in df.columns}
    enc = encoding or meta.file_encoding
    if labels:
        notes.append(f"value labels for {len(labels)} column(s) kept in value_labels "
                     "(data keep the numeric codes)")
    return Survey(data=df, questions=questions, import_ids={}, format="spss", encoding=enc,
                  path=p, value_labels=labels, missing_codes=missing_codes, notes=notes)


def _read_parquet(p: Path) -> Survey:
    try:
        df = pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... on corrupt files
        raise DataError(f"cannot be read as parquet ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})", file=p,
                        expected="a valid parquet file") from None
    df.columns = [str(c) for c in df.columns]
    notes = [f"read {len(df)} responses x {df.shape[1]} columns as parquet"]
    return Survey(data=df, questions={c: c for c in df.columns}, import_ids={},
                  format="parquet", encoding=None, path=p, notes=notes)
