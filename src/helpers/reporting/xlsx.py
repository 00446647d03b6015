"""A small streaming .xlsx writer for the run's workbooks: each sheet's XML goes straight into
the zip as it is made, a cell is a few string operations (openpyxl builds and serialises an XML
element per cell in pure Python: minutes and gigabytes for the tables of a million responses).

Values are written as openpyxl would: numbers as numbers, booleans as booleans, date-times as
Excel serial numbers with a date format, texts always as texts (inline strings, never formulas).
A cell with a look is ``(value, Style(...))``. A column of a table can be an Arrow array: its
cells are then made by Arrow's string kernels a chunk of rows at a time, with no Python object per
cell (the same bytes as its values written one by one). A sheet can be made ahead of its workbook
(:func:`prepare_table`, e.g. while other work runs) and added to it later (:meth:`Book.add`): the
file is the same as when the sheet is written in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from helpers import catalog

_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")
_EPOCH = dt.datetime(1899, 12, 30)
DATETIME_FORMAT, DATE_FORMAT = "yyyy-mm-dd h:mm:ss", "yyyy-mm-dd"
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CHUNK_ROWS = 20000
_MARK = "\x01{}\x02"  # a style of a sheet made ahead, by its order of first use (never in XML text)
#: Texts that may need more than wrapping: XML's special or illegal characters, an edge that is
#: not printable ASCII (a space, kept with xml:space); and texts that may read as a formula.
_NOT_PLAIN_TEXT = r"[&<>\x00-\x1f]|^[^!-~]|[^!-~]$"
_MAY_BE_FORMULA = "^[" + re.escape("".join(catalog.FORMULA_START)) + "]"


@dataclass(frozen=True)
class Style:
    """A cell's look: number format, bold, solid fill colour (RGB hex), wrapped text aligned
    to the bottom, and the quote prefix (Excel keeps a text that looks like a formula text)."""

    number_format: str | None = None
    bold: bool = False
    fill: str | None = None
    wrap: bool = False
    quote: bool = False


#: The look of a text that would read as a formula (Excel's quote prefix keeps it a text).
QUOTED = Style(quote=True)


@dataclass(frozen=True)
class Prepared:
    """A sheet made ahead of its workbook (:func:`prepare_table`): its XML, each style in it a
    mark of the style's place in `styles` (in order of first use)."""

    xml: bytes
    styles: tuple[Style, ...]


def column_letter(j: int) -> str:
    """Excel's letters of the 1-based column `j` (1 -> A, 28 -> AB)."""
    out = ""
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


class Book:
    """An .xlsx file written sheet by sheet (:meth:`sheet`), finished by :meth:`close`."""

    def __init__(self, target: str | os.PathLike[str] | Any) -> None:
        self._zip = zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
        self._names: list[str] = []
        self._styles: dict[Style, int] = {Style(): 0}
        self._ids: dict[int, int] = {}
        self._kept: list[Style] = []

    def style_id(self, style: Style) -> int:
        """The number of `style` in styles.xml (the same object is looked up once)."""
        found = self._ids.get(id(style))
        if found is None:
            found = self._ids[id(style)] = self._styles.setdefault(style, len(self._styles))
            self._kept.append(style)
        return found

    def _style_attr(self, style: Style | None) -> str:
        return f' s="{self.style_id(style)}"' if style is not None else ""

    def add(self, name: str, sheet: Prepared) -> None:
        """Add a sheet made ahead (:func:`prepare_table`) as the next sheet, named `name`."""
        xml = sheet.xml
        for k, style in enumerate(sheet.styles):
            xml = xml.replace(_MARK.format(k).encode(), str(self.style_id(style)).encode())
        with self._member(name) as f:
            f.write(xml)

    @contextlib.contextmanager
    def _member(self, name: str) -> Iterator[_Sink]:
        """The zip file of the next sheet, named `name` in the workbook."""
        self._names.append(name)
        with self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w") as f:
            behind = _Behind(f)
            try:
                yield behind
            finally:
                behind.close()

    def sheet(self, name: str, rows: Iterable[Sequence[Any]], *, widths: Mapping[int, float] = {},
              frozen_rows: int = 0) -> None:
        """Write one sheet: `rows` of values or ``(value, Style)`` pairs; `widths` of 1-based
        columns; the first `frozen_rows` rows stay in view."""
        with self._open(name, widths, frozen_rows) as f:
            letters: list[str] = []
            chunk: list[str] = []
            for i, row in enumerate(rows, start=1):
                while len(letters) < len(row):
                    letters.append(column_letter(len(letters) + 1))
                chunk.append(f'<row r="{i}">')
                for letter, value in zip(letters, row, strict=False):
                    chunk.append(self._cell(f"{letter}{i}", value))
                chunk.append("</row>")
                if len(chunk) > 20000:
                    f.write("".join(chunk).encode())
                    chunk.clear()
            f.write("".join(chunk).encode())

    def table(self, name: str, head: Sequence[Any], columns: Sequence[tuple[Any, Style | None]],
              *, widths: Mapping[int, float] = {}, frozen_rows: int = 0,
              above: Sequence[Sequence[Any]] = ()) -> None:
        """Write one sheet as :meth:`sheet` would write the rows `above`, `head` and then the rows
        of `columns` (each its values and the style of all of them, or None), column by column.
        Values are a sequence (of values or ``(value, Style)`` pairs: a column of plain numbers
        is a single f-string per cell) or an Arrow array (:meth:`_arrow_cells`)."""
        letters = [column_letter(j) for j in range(1, max(len(head), len(columns)) + 1)]
        n = max((len(values) for values, _ in columns), default=0)
        top = len(above) + 2
        with self._open(name, widths, frozen_rows) as f:
            f.write("".join(f'<row r="{i}">' + "".join(self._cell(f"{column_letter(j)}{i}", v)
                                                       for j, v in enumerate(row, start=1)) + "</row>"
                            for i, row in enumerate([*above, head], start=1)).encode())
            for a in range(0, n, _CHUNK_ROWS):
                rows = pc.cast(pa.array(np.arange(a + top, min(n, a + _CHUNK_ROWS) + top)), pa.string())
                parts = [self._cells(letter, values[a:a + _CHUNK_ROWS], style, a + top, rows)
                         for letter, (values, style) in zip(letters, columns, strict=False)]
                _write_texts(f, pc.binary_join_element_wise('<row r="', rows, '">', *parts, "</row>", ""))

    def _cells(self, letter: str, values: Any, style: Style | None, first: int, rows: pa.Array
               ) -> pa.Array:
        """The cells of one column from row `first` (`rows`: the row numbers as texts)."""
        if isinstance(values, pa.Array):
            return self._arrow_cells(letter, values, style, rows)
        if len(values) != len(rows):
            raise ValueError(f"column {letter} has {len(values)} values where {len(rows)} rows are written")
        return pa.array(self._column(letter, values, style, first), pa.string())

    def _arrow_cells(self, letter: str, values: pa.Array, style: Style | None, rows: pa.Array
                     ) -> pa.Array:
        """The cells of an Arrow column: a null is no cell; a number (float, int, bool) has
        `style`, a NaN or infinite one is an empty cell (with `style`, else none); a text has
        `style`, or :data:`QUOTED` when it would read as a formula."""
        kind, start = values.type, f'<c r="{letter}'
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return _no_cell(self._text_cells(start, rows, values.cast(pa.string()), style), values.is_valid())
        s = self._style_attr(style) if len(values) > values.null_count else ""
        if pa.types.is_boolean(kind):
            return _no_cell(pc.binary_join_element_wise(start, rows, f'"{s} t="b"><v>', pc.if_else(values, "1", "0"),
                                                        "</v></c>", ""), values.is_valid())
        if pa.types.is_integer(kind):
            return _no_cell(pc.binary_join_element_wise(start, rows, f'"{s}><v>', pc.cast(values, pa.string()),
                                                        "</v></c>", ""), values.is_valid())
        if not pa.types.is_floating(kind):
            raise TypeError(f"column {letter}: Arrow type {kind} is not a number, bool or text")
        numbers = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        finite = np.isfinite(numbers)
        cells = pc.binary_join_element_wise(start, rows, f'"{s}><v>', _float_texts(numbers), "</v></c>", "")
        if not finite.all():
            empty = pc.binary_join_element_wise(start, rows, f'"{s}/>', "") if s else ""
            cells = pc.if_else(pa.array(finite), cells, empty)
        return _no_cell(cells, values.is_valid())

    def _text_cells(self, start: str, rows: pa.Array, texts: pa.Array, style: Style | None) -> pa.Array:
        """Text cells (null where `texts` is): each text :func:`_inline`, wrapped at once unless
        it needs more (a cheap test first, then Python's for the few it finds). A column that
        repeats its texts (waves, tiers, statuses) has each distinct text made once."""
        coded = pc.dictionary_encode(texts)
        if 2 * len(coded.dictionary) > len(texts):  # mostly distinct: made text by text
            body, formula = _text_bodies(texts)
        else:
            distinct, quoted = _text_bodies(coded.dictionary)
            body = distinct.take(coded.indices)
            at = coded.indices.fill_null(len(quoted)).to_numpy(zero_copy_only=False)
            formula = np.r_[quoted, False][at]  # a null is no formula
        plain = np.flatnonzero(~formula & texts.is_valid().to_numpy(zero_copy_only=False))
        order = sorted((int(at[0]), look) for at, look in ((plain, style), (np.flatnonzero(formula), QUOTED))
                       if len(at) and look is not None)
        attrs = {look: self._style_attr(look) for _, look in order}
        s = attrs.get(style, "") if style else ""
        if formula.any():
            return pc.binary_join_element_wise(start, rows, pc.if_else(pa.array(formula), f'"{attrs[QUOTED]}',
                                                                       f'"{s}'), body, "")
        return pc.binary_join_element_wise(start, rows, f'"{s}', body, "")

    def _column(self, letter: str, values: Sequence[Any], style: Style | None, first: int) -> list[str]:
        """The cells of one column from row `first`: what :meth:`_cell` writes for each value."""
        kinds = set(map(type, values))
        s = self._style_attr(style)
        if kinds == {float}:
            return [f'<c r="{letter}{i}"{s}><v>{v!r}</v></c>' if v - v == 0 else
                    (f'<c r="{letter}{i}"{s}/>' if s else "") for i, v in enumerate(values, start=first)]
        if kinds == {int}:
            return [f'<c r="{letter}{i}"{s}><v>{v}</v></c>' for i, v in enumerate(values, start=first)]
        if kinds == {bool}:
            return [f'<c r="{letter}{i}"{s} t="b"><v>{int(v)}</v></c>' for i, v in enumerate(values, start=first)]
        if kinds == {str}:  # each distinct text escaped once (codes, waves, tiers repeat)
            memo: dict[str, str] = {}
            return [f'<c r="{letter}{i}"{s}{memo.get(v) or memo.setdefault(v, _inline(v))}'
                    for i, v in enumerate(values, start=first)]
        if style is None:
            return [self._cell(f"{letter}{i}", v) for i, v in enumerate(values, start=first)]
        return [self._cell(f"{letter}{i}", (v, style)) for i, v in enumerate(values, start=first)]

    @contextlib.contextmanager
    def _open(self, name: str, widths: Mapping[int, float], frozen_rows: int) -> Iterator[_Sink]:
        """A sheet's XML file in the zip, its view and column widths written, its cells to come."""
        with self._member(name) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>'
                    .encode())
            if frozen_rows:
                cell = f"A{frozen_rows + 1}"
                f.write(f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{frozen_rows}" '
                        f'topLeftCell="{cell}" activePane="bottomLeft" state="frozen"/>'
                        f'<selection pane="bottomLeft" activeCell="{cell}" sqref="{cell}"/>'
                        "</sheetView></sheetViews>".encode())
            if widths:
                f.write(("<cols>" + "".join(f'<col min="{j}" max="{j}" width="{w:g}" customWidth="1"/>'
                                            for j, w in sorted(widths.items())) + "</cols>").encode())
            f.write(b"<sheetData>")
            yield f
            f.write(b"</sheetData></worksheet>")

    def _cell(self, ref: str, value: Any) -> str:
        style = None
        if type(value) is tuple:
            value, style = value
        kind = type(value)
        if kind is not str and kind is not float and kind is not int and kind is not bool:
            value, style = _slow(value, style)
            kind = type(value)
        s = self._style_attr(style)
        if kind is float:
            if value - value != 0:  # NaN or infinite: an empty cell
                return f'<c r="{ref}"{s}/>' if s else ""
            return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
        if kind is str:
            return f'<c r="{ref}"{s}{_inline(value)}'
        if kind is bool:
            return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
        if kind is int:
            return f'<c r="{ref}"{s}><v>{value}</v></c>'
        return f'<c r="{ref}"{s}/>' if s else ""  # None

    def close(self) -> None:
        """Write the workbook, its styles and relations; close the file."""
        z, n = self._zip, len(self._names)
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
            'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType='
            '"application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                      'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                      for i in range(1, n + 1)) + "</Types>"))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://'
            'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
            f'"{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        z.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {_NS} '
            f'xmlns:r="{_REL}"><sheets>'
            + "".join(f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
                      for i, name in enumerate(self._names, start=1)) + "</sheets></workbook>"))
        z.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://'
            'schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" '
                      f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            "</Relationships>"))
        z.writestr("xl/styles.xml", _styles_xml(list(self._styles)))
        z.close()


class _Sink(Protocol):
    """Where a sheet's XML goes: a zip member, one write behind (:class:`_Behind`), or a buffer."""

    def write(self, data: Any, /) -> int: ...


class _Behind:
    """A zip member written one write behind, in a thread of its own: zlib compresses a chunk
    of XML (without the GIL) while the next chunk is made. At most one write waits."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f, self._pool = f, ThreadPoolExecutor(max_workers=1, thread_name_prefix="xlsx")
        self._last: Future[int] | None = None

    def write(self, data: Any) -> int:
        self._wait()
        self._last = self._pool.submit(self._f.write, data)
        return len(memoryview(data))

    def _wait(self) -> None:
        if self._last is not None:
            last, self._last = self._last, None
            last.result()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown()


class _Ahead(Book):
    """A book that makes one sheet in memory, its styles as marks (:func:`prepare_table`)."""

    def __init__(self) -> None:  # no zip
        self._order: dict[Style, int] = {}
        self._buffer = io.BytesIO()

    def _style_attr(self, style: Style | None) -> str:
        if style is None:
            return ""
        return f' s="{_MARK.format(self._order.setdefault(style, len(self._order)))}"'

    @contextlib.contextmanager
    def _member(self, name: str) -> Iterator[_Sink]:
        yield self._buffer


def prepare_table(head: Sequence[Any], columns: Sequence[tuple[Sequence[Any], Style | None]], *,
                  widths: Mapping[int, float] = {}, frozen_rows: int = 0) -> Prepared:
    """The sheet :meth:`Book.table` would write, made now, for :meth:`Book.add` later."""
    ahead = _Ahead()
    ahead.table("", head, columns, widths=widths, frozen_rows=frozen_rows)
    return Prepared(ahead._buffer.getvalue(), tuple(ahead._order))


def _no_cell(cells: pa.Array, valid: pa.Array) -> pa.Array:
    """`cells` with no cell (an empty text) where the value is null."""
    return cells if valid.false_count == 0 else pc.if_else(valid, cells, "")


def _float_texts(numbers: np.ndarray) -> pa.Array:
    """Python's repr of each float (the shortest text that reads back the same number), made
    once for each distinct number (bit for bit: -0.0 is not 0.0)."""
    bits, at = np.unique(numbers.view(np.int64), return_inverse=True)
    return pa.array([repr(v) for v in bits.view(np.float64).tolist()], pa.string()).take(pa.array(at.ravel()))


def _text_bodies(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Each text's cell after its style (:func:`_inline`; null where the text is) and whether it
    would read as a formula (Excel's quote prefix then keeps it a text)."""
    odd = pc.fill_null(pc.match_substring_regex(texts, _NOT_PLAIN_TEXT), False)
    body = pc.binary_join_element_wise(' t="inlineStr"><is><t>', texts, "</t></is></c>", "")
    if pc.any(odd).as_py():
        body = pc.replace_with_mask(body, odd, pa.array([_inline(t) for t in texts.filter(odd).to_pylist()],
                                                        pa.string()))
    maybe = np.flatnonzero(pc.fill_null(pc.match_substring_regex(texts, _MAY_BE_FORMULA), False))
    formula = np.zeros(len(texts), bool)
    formula[maybe] = [catalog.starts_formula(t) for t in texts.take(maybe).to_pylist()]
    return body, formula


def _write_texts(f: _Sink, texts: pa.Array) -> None:
    """Write the texts of a string array one after the other (its data buffer, not copied)."""
    if not len(texts):
        return
    offsets = np.frombuffer(texts.buffers()[1], np.int32, len(texts) + 1, texts.offset * 4)
    data = texts.buffers()[2]
    if data is not None and offsets[-1] > offsets[0]:
        f.write(memoryview(data)[offsets[0]:offsets[-1]])


def _inline(value: str) -> str:
    """A text cell's type and content after its reference and style (XML-escaped, characters
    XML cannot hold removed, edge spaces kept)."""
    text = _ILLEGAL.sub("", value)
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f' t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


def _slow(value: Any, style: Style | None) -> tuple[Any, Style | None]:
    """A value of another type as one of str, float, int, bool or None: date-times as Excel
    serial numbers (with a date format unless `style` has one), numpy scalars as Python ones."""
    if isinstance(value, dt.datetime | dt.date):
        if style is None or style.number_format is None:
            fmt = DATETIME_FORMAT if isinstance(value, dt.datetime) else DATE_FORMAT
            style = Style(fmt, *((style.bold, style.fill, style.wrap) if style else ()))
        moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
        return (moment.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400, style
    if value is None:
        return None, style
    if hasattr(value, "item"):  # a numpy scalar
        item = value.item()
        return (item, style) if type(item) in (str, float, int, bool) else _slow(item, style)
    for kind in (bool, int, float, str):  # subclasses as their base type
        if isinstance(value, kind):
            return kind(value), style
    return str(value), style


def _styles_xml(styles: Sequence[Style]) -> str:
    """styles.xml for `styles` (in their ids' order): custom number formats from id 164."""
    formats = {f: 164 + i for i, f in enumerate(dict.fromkeys(s.number_format for s in styles
                                                               if s.number_format))}
    fills = list(dict.fromkeys(s.fill for s in styles if s.fill))
    xfs = []
    for s in styles:
        attrs = (f'numFmtId="{formats.get(s.number_format or "", 0)}" fontId="{int(s.bold)}" '
                 f'fillId="{fills.index(s.fill) + 2 if s.fill else 0}" borderId="0" xfId="0"')
        attrs += ' applyNumberFormat="1"' if s.number_format else ""
        attrs += ' applyFont="1"' if s.bold else ""
        attrs += ' applyFill="1"' if s.fill else ""
        attrs += ' quotePrefix="1"' if s.quote else ""
        inner = '<alignment vertical="bottom" wrapText="1"/>' if s.wrap else ""
        xfs.append(f'<xf {attrs} applyAlignment="1">{inner}</xf>' if s.wrap else f"<xf {attrs}/>")
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet {_NS}>'
        f'<numFmts count="{len(formats)}">'
        + "".join(f"<numFmt numFmtId={quoteattr(str(i))} formatCode={quoteattr(f)}/>"
                  for f, i in formats.items())
        + '</numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        f'<fills count="{len(fills) + 2}"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill>'
        + "".join(f'<fill><patternFill patternType="solid"><fgColor rgb="FF{c}"/></patternFill></fill>'
                  for c in fills)
        + '</fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
        '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        f'</cellStyleXfs><cellXfs count="{len(xfs)}">' + "".join(xfs) + "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>")


def write(target: str | os.PathLike[str] | Path | Any,
          sheets: Iterable[tuple[str, Iterable[Sequence[Any]], Mapping[int, float], int]]) -> None:
    """Write `sheets` ``(name, rows, widths, frozen_rows)`` to `target` (a path or a binary file)."""
    book = Book(target)
    for name, rows, widths, frozen in sheets:
        book.sheet(name, rows, widths=widths, frozen_rows=frozen)
    book.close()
