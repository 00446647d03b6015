"""Tables a person reads: labelled columns, units, CIs as "[low, high]", no index column.

A report table is declared as a list of columns (:class:`Col`), each with its label and its kind
of number; :func:`table` formats a tidy frame with them into a :class:`Table`, which shows as a
styled HTML table in a notebook and in the rendered page (house CSS, classes only: the pages'
sanitiser keeps no inline style) and as aligned text in ``text/plain``::

    tables.table(seg, [tables.text("label", "Segment"), tables.count(),
                       tables.points("nps", "NPS"), tables.ci(kind="points")],
                 suppressed="suppressed", reason="reason")

Kinds: ``text``, ``int`` (counts, thousands separators), ``num`` (plain number), ``points``
(NPS and differences, signed), ``pct`` (percent; ``fraction=True`` for 0-1 shares), ``money``
(currency with thousands separators), ``p`` (p-values), ``sig`` (significance as a word),
``ratio`` and ``fixed`` (text formatted elsewhere, aligned as a number). A CI column shows ``[low, high]`` in the kind of its estimate. Rows flagged in the
``suppressed`` column show their numbers as a greyed dash and the reason in words.
``interactive=True`` marks a table for sorting, filtering and searching in the analysis pages
(``templates/cx/tables.js``); leadership pages keep them static.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from helpers.reporting import formats

NUMERIC = {"int", "num", "points", "pct", "money", "p", "ratio", "fixed"}
INTERACTIVE_CLASS = "cx-interactive"
#: Rows of a table's plain-text view (pandas shows 60 too); its HTML is whole.
TEXT_ROWS = 60
SCROLL_ROWS = 12  # an interactive table longer than this scrolls inside a box of its own


@dataclass(frozen=True)
class Col:
    """One column of a report table: the frame's column `key`, its `label` and its `kind`.

    `kind` may also be a function of the row (a mapping of column -> value) returning a kind,
    for tables whose rows hold different measures (NPS in points, CES mean, CSAT %).
    `low` / `high` make it a CI column. `digits`, `fraction` and `currency` tune the format.
    """

    key: str
    label: str
    kind: str | Callable[[Mapping[str, Any]], str] = "text"
    low: str | None = None
    high: str | None = None
    digits: int = 1
    fraction: bool = False
    currency: str = "USD"
    signed: bool = False


def text(key: str, label: str) -> Col:
    return Col(key, label)


def count(key: str = "n", label: str = "n") -> Col:
    return Col(key, label, "int")


def num(key: str, label: str, digits: int = 1, signed: bool = False) -> Col:
    return Col(key, label, "num", digits=digits, signed=signed)


def points(key: str, label: str, digits: int = 1) -> Col:
    """NPS or a difference in points (signed)."""
    return Col(key, label, "points", digits=digits)


def pct(key: str, label: str, digits: int = 1, fraction: bool = False, signed: bool = False) -> Col:
    """A rate in percent; `fraction` when the frame holds 0-1 shares."""
    return Col(key, label, "pct", digits=digits, fraction=fraction, signed=signed)


def money(key: str, label: str, currency: str = "USD") -> Col:
    return Col(key, label, "money", currency=currency)


def pvalue(key: str = "p_adjusted", label: str = "Adjusted p") -> Col:
    return Col(key, label, "p")


def sig(key: str = "significant", label: str = "Significant") -> Col:
    return Col(key, label, "sig")


def ratio(key: str, label: str, digits: int = 2) -> Col:
    return Col(key, label, "ratio", digits=digits)


def ci(low: str = "ci_low", high: str = "ci_high", label: str = "95% CI",
       kind: str | Callable[[Mapping[str, Any]], str] = "num", digits: int = 1,
       fraction: bool = False, currency: str = "USD") -> Col:
    """A CI column, '[low, high]' formatted like its estimate (`kind`)."""
    return Col(low, label, kind, low=low, high=high, digits=digits, fraction=fraction,
               currency=currency)


def like(col: Col, key: str, label: str) -> Col:
    """`col`'s format for another column (e.g. the estimate's format for its CI bounds)."""
    return replace(col, key=key, label=label, low=None, high=None)


def format_value(value: Any, kind: str, col: Col) -> str:
    """One number in the column's kind ('+17.8', '60.6%', 'USD 1,234', '<0.001', 'yes')."""
    if kind == "text":
        return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    if kind == "sig":
        return formats.fmt_sig(value)
    if kind == "fixed":  # already formatted elsewhere (e.g. '24% [18, 30]')
        return formats.DASH if value is None or (isinstance(value, float) and pd.isna(value)) \
            else str(value)
    if kind == "int":
        return formats.fmt_int(value)
    if kind == "points":
        return formats.fmt_points(value, col.digits)
    if kind == "pct":
        return formats.fmt_pct(value, col.digits, col.fraction, col.signed)
    if kind == "money":
        return formats.fmt_money(value, col.currency)
    if kind == "p":
        return formats.fmt_p(value)
    if kind == "ratio":
        return formats.fmt_num(value, col.digits)
    return formats.fmt_num(value, col.digits, col.signed)


def _kind(col: Col, row: Mapping[str, Any]) -> str:
    return col.kind(row) if callable(col.kind) else col.kind


def _cell(col: Col, row: Mapping[str, Any]) -> tuple[str, str]:
    """(text, css class) of one cell."""
    kind = _kind(col, row)
    if col.low is not None:
        lo, hi = row.get(col.low), row.get(col.high or "")
        return formats.fmt_ci(lo, hi, lambda x: format_value(x, kind, col)), "num ci"
    value = row.get(col.key)
    shown = format_value(value, kind, col)
    if kind == "sig":
        return shown, "sig sig-" + ("yes" if shown == "yes" else "no")
    return shown, "num" if kind in NUMERIC else "text"


@dataclass(frozen=True)
class Table:
    """A formatted report table: header labels, cell texts and classes, caption and note."""

    labels: tuple[str, ...]
    rows: tuple[tuple[tuple[str, str], ...], ...]
    row_classes: tuple[str, ...]
    caption: str = ""
    note: str = ""
    interactive: bool = False

    def to_frame(self) -> pd.DataFrame:
        """The cell texts as a frame with the labels as columns (no index)."""
        return pd.DataFrame([[t for t, _ in r] for r in self.rows], columns=list(self.labels))

    def to_html(self) -> str:
        """Accessible HTML: caption, column headers with scope, classes for the house CSS."""
        e = html.escape
        cls = "cx-table cx-data" + (f" {INTERACTIVE_CLASS}" if self.interactive else "")
        first = self.rows[0] if self.rows else ()
        heads = "".join(f'<th scope="col" class="{first[i][1].split()[0] if first else "text"}">'
                        f"{e(lab)}</th>" for i, lab in enumerate(self.labels))
        body = "".join(
            (f'<tr class="{rc}">' if rc else "<tr>")
            + "".join(f'<td class="{c}">{e(t)}</td>' for t, c in r) + "</tr>"
            for r, rc in zip(self.rows, self.row_classes, strict=True))
        cap = f"<caption>{e(self.caption)}</caption>" if self.caption else ""
        note = f'<p class="cx-table-note">{e(self.note)}</p>' if self.note else ""
        wrap = "cx-table-wrap" + (" cx-scroll" if self.interactive and
                                  len(self.rows) > SCROLL_ROWS else "")
        return (f'<div class="{wrap}"><table class="{cls}">{cap}<thead><tr>{heads}'
                f"</tr></thead><tbody>{body}</tbody></table></div>{note}")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        """The plain-text view (notebook text/plain, run.log): at most :data:`TEXT_ROWS` rows;
        the page's HTML holds them all."""
        frame = self.to_frame()
        text = frame.head(TEXT_ROWS).to_string(index=False) if len(frame) else "(no rows)"
        if len(frame) > TEXT_ROWS:
            text += f"\n... {len(frame) - TEXT_ROWS:,} more rows"
        return "\n".join(p for p in (self.caption, text, self.note) if p)

    def __len__(self) -> int:
        return len(self.rows)


def table(df: pd.DataFrame, cols: Sequence[Col], *, caption: str = "", note: str = "",
          suppressed: str | tuple[str, str] | None = None, interactive: bool = False,
          max_rows: int | None = None) -> Table:
    """Format `df` with `cols` into a :class:`Table` (columns missing from `df` are left out).

    Rows whose `suppressed` column is true show a greyed dash in every estimate column (counts
    stay), and the first one says why (``suppressed=("suppressed", "reason")``: the flag column
    and the reason column). `max_rows` keeps the first rows and says how many were left out in
    the note.
    """
    suppressed, reason = (suppressed if isinstance(suppressed, tuple) else (suppressed, None))
    present = [c for c in cols if (c.low or c.key) in df.columns]
    shown = (df if max_rows is None else df.head(max_rows)).to_dict("records")  # rows shown only
    rows, row_classes = [], []
    for r in shown:
        hidden = bool(suppressed) and _truthy(r.get(suppressed or ""))
        cells, said = [], False
        for c in present:
            txt, cls = _cell(c, r)
            if hidden and cls.split()[0] == "num" and _kind(c, r) != "int":
                why = str(r.get(reason) or "small n") if reason else "small n"
                txt, cls = (formats.DASH, "num cx-suppressed") if said else (
                    f"suppressed: {why}", "num cx-suppressed")
                said = True
            cells.append((txt, cls))
        rows.append(tuple(cells))
        row_classes.append("cx-suppressed-row" if hidden else "")
    if max_rows is not None and len(df) > max_rows:
        more = f"{len(df) - max_rows:,} more rows in the run's tables (tables.xlsx)."
        note = f"{note} {more}".strip()
    return Table(tuple(c.label for c in present), tuple(rows), tuple(row_classes), caption, note,
                 interactive)


def _truthy(flag: Any) -> bool:
    """True for a set flag (bool, numpy bool, 1); False for None, NaN, NA and false."""
    if flag is None or flag is pd.NA or (isinstance(flag, float) and pd.isna(flag)):
        return False
    return bool(flag)


def field_label(schema: Any, name: str) -> str:
    """A field's label from the survey schema, else its name in words ('age_band' -> 'Age band')."""
    spec = getattr(schema, "fields", {}).get(name) if schema is not None else None
    label = getattr(spec, "label", None)
    return label or str(name).replace("_", " ").capitalize()


def labelled(values: pd.Series, labels: Mapping[str, str] | None) -> pd.Series:
    """Codes replaced by their labels (driver items, fields); unknown codes in words."""
    lab = labels or {}
    return values.map(lambda v: lab.get(str(v)) or str(v).replace("_", " "))
