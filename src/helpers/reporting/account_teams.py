"""What the analyst shares with account teams (never with leadership): the follow-up list as its
own workbook, marked for account teams on its first row.

Every text cell is written as text (a comment starting with ``=``, ``+``, ``-`` or ``@`` never
becomes a formula); rep ids, contact keys and other personal columns are not written.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd

from helpers import catalog, paths
from helpers.reporting import workbook

FILE = "follow_up_list.xlsx"
FOLDER = "account_teams"


def write_follow_up_workbook(table: pd.DataFrame, run_dir: str | os.PathLike[str], note: str
                             ) -> Path:
    """Write ``<run_dir>/account_teams/follow_up_list.xlsx``: the note (who it is for) on the
    first row, then the table with its columns in words."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    df = table.drop(columns=[c for c in table.columns if str(c).lower() in workbook.PERSONAL])
    wb = Workbook()
    ws = wb.active
    ws.title = "Follow-up list"
    ws.cell(row=1, column=1, value=note).font = Font(bold=True)
    for j, col in enumerate(df.columns, start=1):
        ws.cell(row=3, column=j, value=workbook.header(str(col))).font = Font(bold=True)
        for i, v in enumerate(df[col].tolist(), start=4):
            cell = ws.cell(row=i, column=j)
            if isinstance(v, str):
                cell.value, cell.data_type = v, "s"
            elif v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA:
                cell.value = v.item() if hasattr(v, "item") else v
    ws.freeze_panes = "A4"
    buf = io.BytesIO()
    wb.save(buf)
    out = paths.resolve(run_dir) / FOLDER / FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    catalog.atomic_write_bytes(out, buf.getvalue())
    return out
