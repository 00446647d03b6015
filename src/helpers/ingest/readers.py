"""Read survey exports (Qualtrics, SurveyMonkey, SPSS, generic CSV/TSV, XLSX, parquet).

One entry point, :func:`read_survey`, returns a :class:`Survey`: the responses (one row per
response, extra header rows removed, columns named by the export's column ids) plus the question
text of each column and plain-language notes of everything the reader did. Text exports keep every
value as text (pandas string dtype, missing = NA) so that answer labels such as
"10 - Extremely likely" reach the schema untouched; SPSS and parquet keep their numbers.

Anything the reader cannot make sense of raises :class:`helpers.errors.DataError` with one line
naming the file, the row or column, what was found and what was expected. The input file is only
ever opened for reading.

The work is split by job: :mod:`~helpers.ingest.sniff` tells the container and the layout,
:mod:`~helpers.ingest.encoding` decodes text, :mod:`~helpers.ingest.delimited` reads CSV/TSV,
:mod:`~helpers.ingest.containers` XLSX, SPSS and parquet, :mod:`~helpers.ingest.header` turns
header rows into column names and question text; :class:`Survey` is defined in
:mod:`~helpers.ingest.survey`. Import from here: this module is the public entry.
"""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from helpers import paths
from helpers.errors import DataError
from helpers.ingest.containers import read_parquet, read_spss, read_xlsx
from helpers.ingest.delimited import TextLayout, leading_layout, read_text
from helpers.ingest.sniff import container_kind
from helpers.ingest.survey import Survey, in_code_order

__all__ = ["FORMATS", "Survey", "TextLayout", "in_code_order", "read_survey", "text_layout"]

#: Values accepted by ``read_survey(format=...)``.
FORMATS: tuple[str, ...] = (
    "auto", "qualtrics", "qualtrics_legacy", "surveymonkey", "spss", "sav", "csv", "tsv",
    "xlsx", "parquet",
)


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
    container = container_kind(head, p, format)
    if container == "spss":
        return read_spss(p, encoding)
    if container == "parquet":
        return read_parquet(p)
    layout = {"auto": None, "xlsx": "csv"}.get(format, format)
    if container == "xlsx":
        return read_xlsx(p, layout, sheet, encoding)
    return read_text(p, layout, encoding, size)


def text_layout(path: str | os.PathLike[str], format: str = "auto", encoding: str | None = None
                ) -> TextLayout | None:
    """The encoding, delimiter and header rows of a CSV/TSV export, from its leading records
    only (a file of any size); None for XLSX, SPSS and parquet files."""
    p = paths.resolve(path)
    size, head = _checked_file(p, format, encoding)
    if container_kind(head, p, format) != "text":
        return None
    return leading_layout(p, size, {"auto": None, "xlsx": "csv"}.get(format, format), encoding)


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
