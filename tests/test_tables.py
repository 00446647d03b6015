"""Report tables (helpers.reporting.tables): labels, units, CIs, significance, suppressed cells,
no index column, everything escaped; and the number formats they share with the workbook."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.reporting import formats, safe_html
from helpers.reporting import tables as t


@pytest.fixture()
def seg() -> pd.DataFrame:
    return pd.DataFrame({
        "label": ["Enterprise", "SMB <b>x</b>"], "n": [1234, 7], "nps": [17.78, -3.0],
        "ci_low": [9.41, -40.0], "ci_high": [25.88, 30.0], "suppressed": [False, True],
        "reason": ["", "n < 10"], "significant": [True, False], "arr": [8323066.33, 950.0],
        "rate": [0.606, 0.1], "p_adjusted": [0.0004, 0.2346]})


def _cols() -> list[t.Col]:
    return [t.text("label", "Segment"), t.count(), t.points("nps", "NPS"), t.ci(kind="points"),
            t.sig(), t.money("arr", "ARR"), t.pct("rate", "Renewal", fraction=True),
            t.pvalue()]


def test_cells_carry_units_and_cis(seg: pd.DataFrame) -> None:
    frame = t.table(seg, _cols()).to_frame()
    assert list(frame.columns) == ["Segment", "n", "NPS", "95% CI", "Significant", "ARR",
                                   "Renewal", "Adjusted p"]
    first = frame.iloc[0].to_dict()
    assert first == {"Segment": "Enterprise", "n": "1,234", "NPS": "+17.8",
                     "95% CI": "[+9.4, +25.9]", "Significant": "yes", "ARR": "USD 8,323,066",
                     "Renewal": "60.6%", "Adjusted p": "<0.001"}
    assert frame.iloc[1]["Adjusted p"] == "0.235"


def test_suppressed_rows_are_greyed_with_their_reason_and_keep_n(seg: pd.DataFrame) -> None:
    tab = t.table(seg, _cols(), suppressed=("suppressed", "reason"))
    row = tab.to_frame().iloc[1]
    assert row["n"] == "7"  # the count stays: it is why the cell is suppressed
    assert row["NPS"] == "suppressed: n < 10" and row["95% CI"] == formats.DASH
    assert "-3.0" not in tab.to_html() and "-40" not in tab.to_html()
    assert tab.to_html().count('class="num cx-suppressed"') == 5
    assert '<tr class="cx-suppressed-row">' in tab.to_html()


def test_html_has_no_index_column_escapes_data_and_survives_the_sanitiser(seg: pd.DataFrame) -> None:
    tab = t.table(seg, _cols(), caption="NPS <by> segment", note="Source: x & y")
    page = tab.to_html()
    assert "<th" in page and page.count('<th scope="col"') == 8  # one per column, no index
    assert "SMB &lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "<caption>NPS &lt;by&gt; segment</caption>" in page
    assert 'class="cx-table-note">Source: x &amp; y' in page
    kept = safe_html.sanitize(page)
    for needle in ('class="num ci"', "<caption>", 'scope="col"', "cx-table-note"):
        assert needle in kept, needle  # the sanitiser keeps what the house CSS styles


def test_text_form_for_notebooks_and_row_limit(seg: pd.DataFrame) -> None:
    tab = t.table(seg, _cols()[:3], caption="Cap", max_rows=1)
    text = repr(tab)
    assert text.splitlines()[0] == "Cap"
    assert "Enterprise" in text and "SMB" not in text
    assert "1 more rows in the run's tables" in tab.note
    assert len(tab) == 1


def test_kind_by_row_and_missing_columns() -> None:
    head = pd.DataFrame({"metric": ["nps", "ces_mean", "csat_top2"], "estimate": [17.8, 4.7649, 61.1],
                         "ci_low": [9.4, 4.66, 57.0], "ci_high": [25.9, 4.86, 65.2]})
    kind = {"nps": "points", "ces_mean": "num", "csat_top2": "pct"}
    cols = [t.Col("estimate", "Estimate", lambda r: kind[r["metric"]], digits=1),
            t.ci(kind=lambda r: kind[r["metric"]]), t.count()]  # no n column: left out
    frame = t.table(head, cols).to_frame()
    assert list(frame["Estimate"]) == ["+17.8", "4.8", "61.1%"]
    assert list(frame["95% CI"]) == ["[+9.4, +25.9]", "[4.7, 4.9]", "[57.0%, 65.2%]"]
    assert "n" not in frame


def test_formats() -> None:
    assert formats.fmt_int(1234567.4) == "1,234,567"
    assert formats.fmt_points(-0.04) == "+0.0" and formats.fmt_points(3) == "+3.0"  # no "-0.0"
    assert formats.fmt_points(-0.06) == "-0.1"
    assert formats.fmt_pct(0.149, fraction=True) == "14.9%"
    assert formats.fmt_money(-167984.15, "EUR") == "EUR -167,984"
    assert formats.fmt_p(float("nan")) == formats.DASH
    assert formats.fmt_ci(1, None) == formats.DASH
    assert formats.fmt_sig(None) == formats.DASH and formats.fmt_sig(0) == "no"


def test_field_and_item_labels() -> None:
    from helpers.ingest import schema
    sch = schema.load("config/survey.yaml")
    assert t.field_label(sch, "age_band") == "Age band"
    assert list(t.labelled(pd.Series(["sales_needs", "x_y"]), sch.driver_labels())) == [
        "Understood our needs", "x y"]
