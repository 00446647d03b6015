"""What kind of export a file is: the container from its magic bytes (SPSS, parquet, XLSX or
text), then the layout from its first records (Qualtrics with 3 or 2 header rows, legacy
Qualtrics, SurveyMonkey, or a plain table) and how many header rows to remove."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from helpers.errors import DataError

_QUALTRICS_IDS = {
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
    "Finished", "RecordedDate", "ResponseId", "ResponseID", "DistributionChannel",
    "UserLanguage", "RecipientEmail", "ExternalReference",
}
_IMPORT_ID = re.compile(r"""^\s*\{\s*(["'])ImportId\1\s*:""")
_TIMESTAMP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})")
_RESPONSE_ID = re.compile(r"^R_[A-Za-z0-9]{6,}$")
_SM_IDS = {"RespondentID", "Respondent ID", "CollectorID", "Collector ID"}


def container_kind(head: bytes, p: Path, format: str) -> str:
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


def detect_layout(records: Sequence[Sequence[str]], layout: str | None, p: Path
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
