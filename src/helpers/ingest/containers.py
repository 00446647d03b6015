"""Binary survey exports: XLSX (cells as the text a CSV export would carry, then the same
layout rules), SPSS .sav (value labels, user-missing codes set to NA) and parquet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import config
from helpers.errors import DataError
from helpers.ingest.header import assemble
from helpers.ingest.sniff import detect_layout
from helpers.ingest.survey import STRING_DTYPE, Survey


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


def check_inflated_size(p: Path) -> None:
    """DataError when the workbook's zip members unpack to more than ``limits.xlsx_inflated_mb``
    (a zip bomb is refused before a byte of it is inflated)."""
    import zipfile

    limits = config.load_limits()
    try:
        with zipfile.ZipFile(p) as zf:
            size = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"cannot be read as XLSX ({type(exc).__name__})", file=p,
                        expected="a valid .xlsx workbook") from None
    if size > limits.xlsx_inflated_mb * 1e6:
        raise DataError(f"unpacks to {size / 1e6:,.0f} MB", file=p,
                        expected=limits.refusal("xlsx_inflated_mb") + " MB")


def check_columns(width: int, p: Path) -> None:
    """DataError when an export has more columns than ``limits.columns``."""
    limits = config.load_limits()
    if width > limits.columns:
        raise DataError(f"has {width:,} columns", file=p, expected=limits.refusal("columns"))


def read_xlsx(p: Path, layout: str | None, sheet: str | int | None,
              encoding: str | None) -> Survey:
    """An XLSX export: one sheet's cells as text like a CSV export, then the same layout rules."""
    notes: list[str] = []
    if encoding is not None:
        notes.append(f"encoding={encoding!r} ignored: XLSX stores its own text encoding")
    check_inflated_size(p)
    rows, sheet_name = _xlsx_sheet_rows(p, sheet, notes)
    rows = _squared_rows(rows, sheet_name, p, notes)
    width = len(rows[0])
    check_columns(width, p)
    records = [[c or "" for c in r] for r in rows[:3]]
    kind, n_header = detect_layout(records, layout, p)
    kind = "xlsx" if kind == "csv" else kind
    if n_header:
        notes.append(f"removed {n_header} header row{'s' if n_header > 1 else ''}")
    notes.append("cells converted to text like a CSV export (numbers, dates as ISO text)")
    body = rows[n_header:]
    frame = pd.DataFrame({f"c{i}": pd.array([r[i] for r in body], dtype=STRING_DTYPE)
                          for i in range(width)})
    survey = assemble(kind, records[:n_header], frame, notes, p, None)
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


def read_spss(p: Path, encoding: str | None) -> Survey:
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
            lo, hi = (r["lo"], r["hi"]) if isinstance(r, dict) else (r, r)  # a range or one code
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
            s = df[col].astype(STRING_DTYPE)
            df[col] = s.mask(s.str.strip() == "")
    labels = {c: dict(v) for c, v in (meta.variable_value_labels or {}).items()}
    questions = {c: (meta.column_names_to_labels or {}).get(c) or c for c in df.columns}
    enc = encoding or meta.file_encoding
    if labels:
        notes.append(f"value labels for {len(labels)} column(s) kept in value_labels "
                     "(data keep the numeric codes)")
    return Survey(data=df, questions=questions, import_ids={}, format="spss", encoding=enc,
                  path=p, value_labels=labels, missing_codes=missing_codes, notes=notes)


def read_parquet(p: Path) -> Survey:
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
