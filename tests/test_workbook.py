"""tables.xlsx per run: one sheet per registered table, labelled columns, numbers as numbers with
formats, a README (run id, sheets, parameters) and no personal data (no rep id)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from helpers import catalog
from helpers.analysis import drivers
from helpers.measures import Measure
from helpers.reporting import workbook
from helpers.reporting.manifest import RunManifest, Status


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    r = tmp_path / "20261201T000000Z-abc1234"
    catalog.save_result(pd.DataFrame({
        "market": ["B2B", "B2C"], "metric": ["nps", "nps"], "estimate": [17.78, 12.2],
        "ci_low": [9.41, 3.4], "ci_high": [25.9, 20.7], "n": [731, 460]}), "market_headline", r)
    catalog.save_result(pd.DataFrame({
        "rep_id": ["R01", "R02", "R03"], "successes": [60.0, 8.0, 30.0], "n": [71.0, 9.0, 40.0],
        "raw_rate": [84.5, 88.9, 75.0], "shrunk_rate": [78.3, 60.0, 70.0], "ci_low": [68.9, 40, 55],
        "ci_high": [86.4, 75, 80], "flag": ["above", "", ""]}), "team_promoter_rates", r)
    catalog.save_result(pd.DataFrame({"basis": ["Renewal rate"], "gap": [0.1],
                                      "arr_laggards": [8323066.33], "estimate": [832306.6],
                                      "ci_low": [-167984.2], "ci_high": [1975282.7], "n": [165]}),
                        "gap_value", r)
    catalog.save_result(pd.DataFrame({"market": ["B2B"], "driver": ["sales_needs"],
                                      "label": ["Understood our needs"], "share": [0.46]}),
                        "drivers_ranked", r)
    catalog.save_result(pd.DataFrame({"competitor": ["X"], "segment": ["SMB"], "field": ["tier"],
                                      "estimate": [3.0]}), "sales_competitor_gaps_by_segment", r)
    catalog.atomic_write_table(pd.DataFrame({"x": [1]}), r / "tables" / "not_registered.parquet")
    return r


def test_one_sheet_per_registered_table_with_a_readme(run: Path) -> None:
    manifest = RunManifest(run_id=run.name, status=Status.SUCCEEDED,
                           parameters={"02_segments": {"min_n": 10, "wave": ""}})
    path = workbook.write_workbook(run, manifest, currency="EUR")
    assert path == run / "tables.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "README"
    assert "not_registered" not in wb.sheetnames
    assert "sales_competitor_gaps_by_segmen" in wb.sheetnames  # 31 characters at most
    readme = [r for r in wb["README"].iter_rows(values_only=True)]
    assert ("Run id", run.name) == readme[1][:2]
    assert any(r[:3] == ("market_headline", "market_headline", "02_segments") for r in readme)
    assert any(r[:3] == ("min_n", "02_segments", "10") for r in readme)


def test_readme_names_the_measure_the_drivers_explain(run: Path) -> None:
    """LTR unless the drivers notebook stored another outcome (a CSAT-headline study: CSAT)."""
    def described() -> str:
        wb = openpyxl.load_workbook(workbook.write_workbook(run))
        return next(r[3] for r in wb["README"].iter_rows(values_only=True)
                    if r[0] == "drivers_ranked")

    assert described() == "Driver importance (share of explained LTR variance) with bootstrap CI"
    catalog.save_metrics(drivers.headline_metrics({}, outcome=Measure.define(
        "csat", scale=(1, 5), rule="top_box", name="CSAT")), "03_promoter_drivers", run)
    assert described() == "Driver importance (share of explained CSAT variance) with bootstrap CI"


def test_numbers_are_numbers_with_formats_and_labels(run: Path) -> None:
    wb = openpyxl.load_workbook(workbook.write_workbook(run, currency="EUR"))
    ws = wb["market_headline"]
    assert [c.value for c in ws[1]] == ["Market", "Metric", "Estimate", "95% CI low",
                                        "95% CI high", "n"]
    est, n = ws["C2"], ws["F2"]
    assert isinstance(est.value, float) and est.value == pytest.approx(17.78)
    assert isinstance(n.value, int) and n.number_format == "#,##0"
    money = wb["gap_value"]
    assert money["D2"].value == pytest.approx(832306.6) and money["D2"].number_format == '"EUR" #,##0'
    assert money["B2"].number_format == "0.0%"  # the rate gap is a fraction
    ranked = wb["drivers_ranked"]
    assert [c.value for c in ranked[1]][:3] == ["Market", "Driver", "Item (label)"]
    assert ranked["C2"].value == "Understood our needs"


def test_no_rep_id_and_small_teams_left_out(run: Path) -> None:
    wb = openpyxl.load_workbook(workbook.write_workbook(run))
    values = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    assert not {"R01", "R02", "R03"} & values
    teams = wb["team_promoter_rates"]
    assert [c.value for c in teams[1]][:2] == ["Team", "Responses"]
    assert teams.max_row == 3  # the team with 9 responses is not shown
    assert teams["B2"].value == "70-79"  # counts in bands, not exact


def test_a_rep_level_table_without_disclosure_rule_is_left_out(tmp_path: Path) -> None:
    catalog.save_result(pd.DataFrame({"rep_id": ["R1"], "x": [np.float64(1.0)]}), "integrity_nps",
                        tmp_path)
    wb = openpyxl.load_workbook(workbook.write_workbook(tmp_path))
    assert wb.sheetnames == ["README"]
    assert any("integrity_nps" in str(r) for r in wb["README"].iter_rows(values_only=True))


def test_no_tables_no_workbook(tmp_path: Path) -> None:
    assert workbook.write_workbook(tmp_path) is None
    assert not (tmp_path / "tables.xlsx").exists()


HOSTILE = ['=HYPERLINK("http://evil.example/c","Contoso")', "+1+cmd|' /C calc'!A0", "-2+3",
           "@SUM(1,2)", "\t=1+1", "\r=1+1"]


def test_no_text_from_data_becomes_a_formula(tmp_path: Path) -> None:
    """Issue 26: segment values, driver labels, run parameters and column names that start
    with = + - @ tab or CR are text cells, never formulas; negative numbers stay numbers."""
    catalog.save_result(pd.DataFrame({
        "market": HOSTILE, "metric": ["nps"] * 6, "estimate": [-12.5, 3.0, -1.0, 0.0, 1.0, 2.0],
        "n": [11] * 6}), "market_headline", tmp_path)
    catalog.save_result(pd.DataFrame({"market": ["B2B"], "driver": ["d1"], "label": [HOSTILE[0]],
                                      "share": [0.4]}), "drivers_ranked", tmp_path)
    catalog.save_result(pd.DataFrame({"segment": ["SMB"], "=cmd|' /C calc'!A0": ["x"]}),
                        "segment_nps", tmp_path)
    manifest = RunManifest(run_id=tmp_path.name, status=Status.SUCCEEDED,
                           parameters={"02_segments": {"wave": "=1+1", "currency": "EUR"}})
    wb = openpyxl.load_workbook(workbook.write_workbook(tmp_path, manifest, currency="EUR"))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert set(HOSTILE[:5]) <= texts and "=1+1" in texts  # (XML reads CR back as a line feed)
    assert all(c.quotePrefix for c in cells if isinstance(c.value, str) and c.value in HOSTILE)
    estimates = [c.value for c in wb["market_headline"]["C"][1:]]
    assert estimates[0] == -12.5 and isinstance(estimates[0], float)


@pytest.mark.parametrize("currency", ['EU"R', "US D", "usd", "€", "EUR\"#,##0;@"])
def test_currency_outside_iso_codes_is_refused(run: Path, currency: str) -> None:
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match="ISO 4217"):
        workbook.write_workbook(run, currency=currency)


def test_csv_fields_from_data_never_start_a_formula(tmp_path: Path) -> None:
    """integrity_flags.csv (and every CSV written through the catalog): a rep id or a reason
    starting with a formula character is written with a leading apostrophe."""
    import csv

    from helpers.analysis import integrity

    audit = pd.DataFrame({"rep_id": HOSTILE, "flagged": [True] * 6, "score": [-1.5, 2, 3, 4, 5, 6],
                          "reasons": ["@x", "ok", "-", "+", "=", "-3.5"]})
    target = integrity.write_flags(audit, tmp_path)
    with open(target, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    fields = [f for row in rows for f in row]
    assert not [f for f in fields if catalog.starts_formula(f)]
    assert "'" + HOSTILE[0] in fields and "-1.5" in fields and "-3.5" in fields
    assert (target.stat().st_mode & 0o777) == 0o600


def test_a_sheet_written_by_columns_is_byte_for_byte_the_sheet_written_by_rows(monkeypatch) -> None:
    """Book.table (a column of plain numbers or texts rendered at once) writes what Book.sheet
    writes cell by cell: floats with NaN and infinity, ints, bools, texts that repeat, need
    escaping, keep edge spaces or read as formulas, dates, None and mixed columns, with styles."""
    import datetime as dt
    import io
    import zipfile

    from helpers.reporting import xlsx
    monkeypatch.setattr(xlsx, "_CHUNK_ROWS", 2)  # rows written in chunks of two
    bold, pct = xlsx.Style(bold=True), xlsx.Style("0.0%")
    columns = [([1.5, float("nan"), float("inf"), -2.0, 0.1], pct), ([1.5, float("nan"), 3.0, 4.0, 5.0], None),
               ([1, 2, 3, 4, 5], None), ([True, False, True, True, False], pct),
               (["a", "a<b&c", " edge ", "a", "x\x01y"], None), (["w", "w", "w", "v", "v"], bold),
               ([("=1+1", xlsx.Style(quote=True)), "b", None, dt.date(2026, 1, 2), np.float64(2.5)], None),
               ([1, 2.5, None, "t", True], pct)]
    head = [("H" + str(j), bold) for j in range(len(columns))]
    rows = [head, *zip(*[[v if style is None else (v, style) for v in values] for values, style in columns],
                       strict=True)]
    by_rows, by_columns = io.BytesIO(), io.BytesIO()
    for target, write in ((by_rows, lambda b: b.sheet("S", rows, widths={1: 9}, frozen_rows=1)),
                          (by_columns, lambda b: b.table("S", head, columns, widths={1: 9}, frozen_rows=1))):
        book = xlsx.Book(target)
        write(book)
        book.close()
    read = [{n: z.read(n) for n in z.namelist()} for z in map(zipfile.ZipFile, (by_rows, by_columns))]
    assert read[0] == read[1]
    assert openpyxl.load_workbook(io.BytesIO(by_columns.getvalue())).active["E3"].value == "a<b&c"


def test_sheets_made_ahead_give_the_same_workbooks_and_are_redone_when_stale(run: Path) -> None:
    """Sheets made while the notebooks run (workbook.Ahead) give tables.xlsx and the analyst
    workbook member for member as written at the end; a table rewritten since, or item labels
    changed since, is made again."""
    import zipfile

    def members(path: Path) -> dict[str, bytes]:
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in z.namelist()}

    catalog.save_result(pd.DataFrame({"account_id": ["A1", "A2"], "n": [3, 40], "nps": [10.0, -5.5],
                                      "tier": ["=cmd", "Gold"]}), "account_nps_ranking", run)
    catalog.save_result(pd.DataFrame({"driver": ["sales_needs"], "quadrant": ["fix"]}),
                        "drivers_priority", run)
    manifest = RunManifest(run_id=run.name, status=Status.SUCCEEDED)
    books = [run / workbook.FILE, run / workbook.ANALYST_FILE]
    workbook.write_workbook(run, manifest, currency="EUR")
    serial = [members(p) for p in books]
    ahead = workbook.Ahead(workbook.run_min_n(manifest), "EUR")
    ahead.add(run, sorted(p.stem for p in (run / "tables").glob("*.parquet")))
    ahead.write_analyst(run)
    written = books[1].stat().st_mtime_ns
    assert ahead.analyst_written(run, "EUR") and not ahead.analyst_written(run, "USD")
    workbook.write_workbook(run, manifest, currency="EUR", ahead=ahead)
    assert [members(p) for p in books] == serial and books[1].stat().st_mtime_ns == written
    catalog.save_result(pd.DataFrame({"market": ["B2B"], "driver": ["sales_needs"],
                                      "label": ["Knew our needs"], "share": [0.46]}),
                        "drivers_ranked", run)
    catalog.save_result(pd.DataFrame({"account_id": ["A1"], "n": [50], "nps": [1.0], "tier": ["x"]}),
                        "account_nps_ranking", run)
    assert not ahead.analyst_written(run, "EUR")
    workbook.write_workbook(run, manifest, currency="EUR", ahead=ahead)
    fresh = [members(p) for p in books]
    workbook.write_workbook(run, manifest, currency="EUR")
    assert [members(p) for p in books] == fresh and fresh[0] != serial[0] and fresh[1] != serial[1]
    cells = [c.value for row in openpyxl.load_workbook(books[0])["drivers_priority"].iter_rows()
             for c in row]
    assert "Knew our needs" in cells


def test_sheets_made_ahead_in_any_order_are_the_sheets_written_in_place() -> None:
    """xlsx.prepare_table + Book.add: styles numbered as if each sheet were written in place."""
    import io
    import zipfile

    from helpers.reporting import xlsx
    bold, pct, money = xlsx.Style(bold=True), xlsx.Style("0.0%"), xlsx.Style('"EUR" #,##0')
    tables = [(("A", bold), ("B", bold)), [([0.1, 0.2], pct), (["x", ("=1", xlsx.Style(quote=True))], None)]], \
        [(("C", bold),), [([1000, 2000], money)]], [(("D", None),), [([0.5, None], pct)]]
    in_place, added = io.BytesIO(), io.BytesIO()
    book = xlsx.Book(in_place)
    book.sheet("README", [[("Title", bold)]])
    for i, (head, columns) in enumerate(tables):
        book.table(f"S{i}", head, columns, widths={1: 9}, frozen_rows=1)
    book.close()
    made = {i: xlsx.prepare_table(head, columns, widths={1: 9}, frozen_rows=1)
            for i, (head, columns) in reversed(list(enumerate(tables)))}
    book = xlsx.Book(added)
    book.sheet("README", [[("Title", bold)]])
    for i in range(len(tables)):
        book.add(f"S{i}", made[i])
    book.close()
    read = [{n: z.read(n) for n in z.namelist()} for z in map(zipfile.ZipFile, (in_place, added))]
    assert read[0] == read[1] and b' s="4"' in read[0]["xl/worksheets/sheet3.xml"]


def test_arrow_columns_are_byte_for_byte_their_values_written_one_by_one(monkeypatch) -> None:
    """Book.table with Arrow columns (cells made by Arrow's kernels) writes what Book.sheet writes
    for the same values: floats (NaN, infinity, -0.0, repeats), ints, nullable ints, bools, texts
    that need escaping, keep edge spaces, start with a non-ASCII character or read as formulas
    (a number in other digits does not), nulls as no cell; rows above the head; chunks of two."""
    import io
    import zipfile

    import pyarrow as pa

    from helpers.reporting import xlsx
    monkeypatch.setattr(xlsx, "_CHUNK_ROWS", 2)
    bold, pct, q = xlsx.Style(bold=True), xlsx.Style("0.0%"), xlsx.QUOTED
    texts = ["a", "a<b&c", None, " edge ", "x\x01y", "=1+1", "-٣", "\u00a0nb", "-2.5", ""]
    floats = [1.5, float("nan"), -0.0, 0.0, float("inf"), 0.1, 1e-07, 1e22, 1.5, -2.0]
    columns = [(pa.array(floats), pct), (pa.array(floats), None), (pa.array(range(-5, 5)), pct),
               (pa.array([1, None, 3, None, None, None, 7, 8, 9, 10], pa.int64()), pct),
               (pa.array([True, False, None] + [True] * 7), None), (pa.array(texts), None),
               (pa.array(texts, pa.large_string()), bold), (pa.array([None] * 10, pa.string()), None)]
    expected = [
        [None if v is None else (v, s) if s else v for v in arr.to_pylist()] for arr, s in columns[:-3]] + [
        [None if v is None else (v, q) if catalog.starts_formula(v) else v for v in texts],
        [None if v is None else (v, q) if catalog.starts_formula(v) else (v, bold) for v in texts], [None] * 10]
    head = [(f"H{j}", bold) for j in range(len(columns))]
    above = [[("For the analyst", bold)], []]
    rows = [*above, head, *zip(*expected, strict=True)]
    by_rows, by_columns = io.BytesIO(), io.BytesIO()
    for target, write in ((by_rows, lambda b: b.sheet("S", rows, frozen_rows=3)),
                          (by_columns, lambda b: b.table("S", head, columns, frozen_rows=3, above=above))):
        book = xlsx.Book(target)
        write(book)
        book.close()
    read = [{n: z.read(n) for n in z.namelist()} for z in map(zipfile.ZipFile, (by_rows, by_columns))]
    assert read[0] == read[1]
    ws = openpyxl.load_workbook(io.BytesIO(by_columns.getvalue())).active
    assert ws["F5"].value == "a<b&c" and ws["F9"].quotePrefix and not ws["F10"].quotePrefix
    assert ws["F7"].value == " edge " and ws["D5"].value is None and str(ws["A6"].value) == "-0.0"


def test_columns_of_a_frame_are_the_cells_written_value_by_value() -> None:
    """workbook.column_cells: numbers, nullable ints and texts of a frame (as Arrow) give the
    same sheet as their values each made a cell: numpy's numbers as they are with the column's
    style (NaN an empty cell with it), other values as workbook._written makes them."""
    import io
    import zipfile

    from helpers.reporting import xlsx
    pct = xlsx.Style("0.0%")
    df = pd.DataFrame({"f": [0.5, np.nan, -1.0], "i": np.array([1, 2, 3], np.int32),
                       "b": [True, False, True], "ni": pd.array([4, None, 6], "Int64"),
                       "s": pd.array(["x", None, "=cmd"], "string"), "o": pd.Series(["y", np.nan, "@a"], dtype=object),
                       "t": pd.to_datetime(["2026-01-02", None, "2026-03-04"])})
    columns = [workbook.column_cells(df[c], pct) for c in df.columns]
    assert [type(v).__name__ for v, _ in columns][-1] == "_Cells"
    slow = [(df[c].tolist(), pct) if c in "fib" else ([workbook._written(v, pct) for v in df[c].tolist()], None)
            for c in df.columns]
    books = []
    for cols in (columns, slow):
        buf = io.BytesIO()
        book = xlsx.Book(buf)
        book.table("S", [c for c in df.columns], cols)
        book.close()
        books.append({n: zipfile.ZipFile(buf).read(n) for n in zipfile.ZipFile(buf).namelist()})
    assert books[0] == books[1]
