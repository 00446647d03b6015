"""CSV/TSV exports: a small RFC 4180 tokenizer for the leading records (delimiter and header
rows), then the body read by pyarrow, in place for a large UTF-8 file. A ragged row is a
DataError naming its record."""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from helpers import config
from helpers.errors import DataError
from helpers.ingest.containers import check_columns
from helpers.ingest.encoding import (
    check_nul_bytes,
    check_text,
    decode_all,
    decode_sample,
    undecodable,
    utf16_without_bom,
)
from helpers.ingest.header import assemble
from helpers.ingest.sniff import detect_layout
from helpers.ingest.survey import STRING_DTYPE, Survey

_SAMPLE_BYTES = 1 << 20
_MAX_HEADER_BYTES = 1 << 26
_SNIFF_RECORDS = 20
_DELIMITERS = (",", ";", "\t", "|")


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


def leading_layout(p: Path, size: int, layout: str | None, encoding: str | None) -> TextLayout:
    """The :class:`TextLayout` of a text export of `size` bytes, from its leading records only
    (at most the first 64 MB are read); `layout` as :func:`read_text` takes it."""
    with open(p, "rb") as fh:
        raw = fh.read(_MAX_HEADER_BYTES)
    if len(raw) < size:   # a leading sample: cut after its last line ending
        little = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE)) or \
            utf16_without_bom(raw[:4096]) == "utf-16-le"
        width = 4 if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) else 2
        raw = raw[:raw.rfind(b"\n") + (width if little else 1)] or raw
    text, enc = decode_all(raw, p, encoding, [])
    delimiter = "\t" if layout == "tsv" else sniff_delimiter(text, True)
    records, _ = parse_records(text, delimiter, 3, True)
    if not records:
        raise DataError("file has no complete record", file=p, expected="a header row")
    return TextLayout(enc, delimiter, detect_layout(records, layout, p)[1])


def parse_records(text: str, delimiter: str, limit: int, complete: bool
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


def sniff_delimiter(text: str, complete: bool) -> str:
    """Pick the delimiter giving the most columns with a constant field count across records."""
    best, best_score = ",", (False, 1, 0)
    for d in _DELIMITERS:
        recs, _ = parse_records(text, d, _SNIFF_RECORDS, complete)
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


def read_text(p: Path, layout: str | None, encoding: str | None, size: int) -> Survey:
    """A CSV/TSV export: layout and header rows from a leading sample, then the body by pyarrow."""
    notes: list[str] = []
    head = _text_head(p, layout, encoding, size, notes)
    if not head.records:
        raise DataError("file has no complete record", file=p, expected="a header row")
    kind, n_header = detect_layout(head.records, layout, p)
    header = head.records[:n_header]
    width = len(header[0])
    check_columns(width, p)
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
    frame = table.to_pandas(types_mapper={pa.string(): STRING_DTYPE, pa.large_string(): STRING_DTYPE}.get)
    return assemble(kind, header, frame, notes, p, enc)


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
        text, enc, whole = decode_sample(raw, len(raw) >= size, p, encoding, sample_notes)
        if whole and not text.strip():
            raise DataError("file is empty (only whitespace)", file=p,
                            expected="a header row and at least one response")
        check_text(text, p, enc)
        delimiter = "\t" if layout == "tsv" else sniff_delimiter(text, whole)
        records, ends = parse_records(text, delimiter, 3, whole)
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
        check_nul_bytes(p, enc)
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
                    raise undecodable(full, encoding, exc, p) from None
            with open(p, "rb") as fh:
                text, enc = decode_all(fh.read(), p, None, notes)
            whole = True
            _, ends = parse_records(text, head.delimiter, n_header, True)
            data_start = ends[n_header - 1]
    if whole:
        table = _arrow_read_bytes(text[data_start:].encode("utf-8"), width, head.delimiter)
    return table, enc

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
    check_line_length(p)
    with open(p, "rb") as fh:
        raw = fh.read()
    text, _ = decode_all(raw, p, None if "+" in enc else enc, [])
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


def check_line_length(p: Path) -> None:
    """DataError naming the first line longer than ``limits.line_mb`` (read in 4 MB chunks,
    never a whole line in memory)."""
    limits = config.load_limits()
    most, run, line = int(limits.line_mb * 1e6), 0, 1
    with open(p, "rb") as fh:
        while chunk := fh.read(1 << 22):
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                if run + end - start > most:
                    break
                run, start, line = 0, end + 1, line + 1
            else:
                run += len(chunk) - start
                if run <= most:
                    continue
            raise DataError(f"line {line:,} is longer than {limits.line_mb:,g} MB", file=p,
                            row=line, expected=limits.refusal("line_mb") + " MB")


def _delim_name(d: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(d, repr(d))
