"""Schema loading and answer parsing: labels to numbers, not-applicable to missing."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import paths
from helpers.errors import ConfigError
from helpers.ingest import schema

NA = frozenset({"n/a", "don't know", "-99"})


def test_labels_and_codes():
    s = pd.Series(["10 - Extremely likely", "0 - Not at all likely", "7", "N/A", "Don't know", "-99", "", None,
                   "11", "great"], dtype="string")
    p = schema.parse_scores(s, (0, 10), None, NA)
    v = p.values.tolist()
    assert v[:3] == [10.0, 0.0, 7.0]
    assert all(np.isnan(x) for x in v[3:])
    assert p.labels_mapped == 2 and p.not_applicable == 3 and p.unparseable == 1
    assert p.out_of_range.tolist() == [False] * 8 + [True, False]


def test_label_sets():
    sch = schema.load()
    s = pd.Series(["Strongly agree", "somewhat disagree", "5"], dtype="string")
    p = schema.parse_scores(s, (1, 7), sch.label_sets["agree7"], sch.not_applicable)
    assert p.values.tolist() == [7.0, 3.0, 5.0]


@given(st.lists(st.one_of(st.integers(-200, 200).map(str), st.text(max_size=12), st.none()), max_size=40))
def test_parse_never_crashes_and_respects_scale(values):
    p = schema.parse_scores(pd.Series(values, dtype="string"), (0, 10), None, NA)
    v = p.values.dropna()
    assert ((v >= 0) & (v <= 10)).all()
    assert len(p.values) == len(values)


def test_driver_items_by_market():
    sch = schema.load()
    assert "impl_time_to_value" in sch.driver_items("B2B")
    assert "tp_quality" in sch.driver_items("B2C") and "tp_quality" not in sch.driver_items("B2B")


def test_bad_schema_is_one_line(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("fields:\n  response_id: {column: ResponseId}\n  ltr: {column: Q1, type: score, scale: [10, 0]}\n")
    with pytest.raises(ConfigError) as err:
        schema.load(p)
    assert "ltr.scale" in str(err.value) and "\n" not in str(err.value)


def _with(tmp_path, change) -> schema.Schema:
    import yaml

    doc = yaml.safe_load(open(schema.paths.resolve(schema.DEFAULT_SCHEMA), encoding="utf-8"))
    change(doc)
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return schema.load(p)


def test_measures_come_from_the_schema(tmp_path):
    """ltr, ces and csat are measures by default; `measures:` adds any rated field and changes
    a rule or cut; every label is computed from the field's own scale."""
    sample = schema.load()
    assert [s.label for m in sample.measures for s in m.statistics] == [
        "NPS (points, -100..100)", "CES mean (1-7)", "CES % agree (5-7)", "CSAT % top-2 box (4-5)"]

    def own(doc):
        doc["fields"]["ease"] = {"column": "Q9", "type": "score", "scale": [1, 7]}
        doc["fields"]["csat"]["scale"] = [0, 10]
        doc["fields"]["ces"]["scale"] = [1, 5]
        doc["measures"] = {"ease": {"label": "Ease of doing business", "rule": "top_box"},
                           "csat": {"cut": 8}}
    labels = [s.label for m in _with(tmp_path, own).measures for s in m.statistics]
    assert labels == ["NPS (points, -100..100)", "CES mean (1-5)", "CES % agree (4-5)",
                      "CSAT % top-3 box (8-10)", "Ease of doing business % top-2 box (6-7)"]


@pytest.mark.parametrize(("measures", "message"), [
    ({"csat": {"rule": "bogus"}}, "measures.csat.rule is 'bogus'"),
    ({"region": {"rule": "mean"}}, "'region' is not a rated field"),
    ({"csat": {"cut": 9}}, "cut 9.0 outside"),
    ({"csat": {"colour": "x"}}, "expected a mapping with cut, label, name, rule"),
    (["csat"], r"measures is \['csat'\]"),
])
def test_a_bad_measure_is_one_line_naming_the_schema(tmp_path, measures, message):
    with pytest.raises(ConfigError, match=message) as err:
        _with(tmp_path, lambda doc: doc.update(measures=measures))
    assert "s.yaml line" in str(err.value) and "\n" not in str(err.value)


def test_the_headline_measure_leads_the_measures(tmp_path):
    """A satisfaction programme that also asks for effort: every "first measure" (summary tile,
    workbook sheet, change line) is the headline the schema names, not the first one mapped."""
    (tmp_path / "s.yaml").write_text(
        "fields:\n  response_id: {column: R}\n  ces: {column: E, scale: [1, 7]}\n"
        "  csat: {column: S, scale: [1, 5]}\nheadline: csat\nmarket_rule: {all: B2C}\n", encoding="utf-8")
    sch = schema.load(tmp_path / "s.yaml")
    assert [m.key for m in sch.measures] == ["csat", "ces"] and sch.headline_measure.key == "csat"
    ref = schema.load(paths.CONFIG_DIR / "survey.yaml")
    assert ref.measures[0].key == "ltr"
