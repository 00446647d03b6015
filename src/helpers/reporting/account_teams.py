"""What the analyst shares with account teams (never with leadership): the follow-up list as its
own workbook, marked for account teams on its first row.

Every text cell is written as text (a comment starting with ``=``, ``+``, ``-`` or ``@`` never
becomes a formula); rep ids, contact keys and other personal columns are not written.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from helpers import catalog, paths
from helpers.reporting import tables, views, workbook, xlsx

FILE = "follow_up_list.xlsx"
FOLDER = "account_teams"
#: Accounts listed on the page (worst first); the workbook lists every account.
PAGE_ROWS = 200


def write_follow_up_workbook(table: pd.DataFrame, run_dir: str | os.PathLike[str], note: str
                             ) -> Path:
    """Write ``<run_dir>/account_teams/follow_up_list.xlsx``: the note (who it is for) on the
    first row, then the table with its columns in words (streamed: a list of every account of a
    large programme is written in a fraction of a second)."""
    df = table.drop(columns=[c for c in table.columns if str(c).lower() in workbook.PERSONAL])
    bold = xlsx.Style(bold=True)
    buf = io.BytesIO()
    book = xlsx.Book(buf)
    book.table("Follow-up list", tuple((workbook.header(str(c)), bold) for c in df.columns),
               [_column(df[c]) for c in df.columns], frozen_rows=3, above=[((note, bold),), ()])
    book.close()
    out = paths.resolve(run_dir) / FOLDER / FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    catalog.atomic_write_bytes(out, buf.getvalue())
    return out


def _column(values: pd.Series) -> tuple[Any, xlsx.Style | None]:
    """A column's cells (:func:`_value` of each): numbers and texts as an Arrow array, written
    at once, any other column value by value."""
    cells, style = workbook.column_cells(values, None)
    return (cells, style) if isinstance(cells, pa.Array) else ([_value(v) for v in values.tolist()], None)


def _value(value: Any) -> Any:
    """A cell: text as text (one that reads as a formula with Excel's quote prefix), numbers as
    numbers, NaN and NA empty."""
    if isinstance(value, str):
        return (value, xlsx.QUOTED) if catalog.starts_formula(value) else value
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return value


def follow_up_page(table: pd.DataFrame, rows: int = PAGE_ROWS) -> tables.Table:
    """The follow-up list as the page shows it: the `rows` lowest-scoring accounts (a page of tens
    of thousands of rows helps no reader), the rest named in the workbook; no rep ids."""
    shown = table.drop(columns=["rep_id"], errors="ignore")
    if len(shown) <= rows:
        return views.frame(shown, interactive=True)
    return views.frame(shown.head(rows), interactive=True,
                       note=f"The {rows} lowest-scoring of {len(shown):,} accounts; every account is in "
                            f"{FOLDER}/{FILE} in the run folder.")
