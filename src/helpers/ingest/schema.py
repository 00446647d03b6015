"""Survey schema (config/survey.yaml): which export column is which field, and what the survey asks.

The schema drives everything downstream. It maps export columns to fields (by column id,
Qualtrics ImportId or question-text pattern), says how answer labels become numbers
("10 - Extremely likely" -> 10; "N/A", "Don't know", -99 -> missing), and declares the
programme's own question set: the measures present (``ltr``, the 0-10 recommend question, or
another rating named as ``headline:``; ``ces`` and ``csat`` are optional, each on its own
scale), the driver items with their groups (any
names), labels and scales, the segment fields per market, the journey stages, how a response's
market is decided and how waves are derived. Nothing downstream assumes the sample's names.

Every problem names the schema file and line, the field, what was found and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers import config, paths
from helpers.errors import ArgumentError, ConfigError
from helpers.measures import Measure, Rule

DEFAULT_SCHEMA = "config/survey.yaml"
MARKETS = ("B2B", "B2C")
WAVE_PERIODS = {"quarter": "Q", "month": "M", "half": "2Q", "year": "Y"}
#: Fields with a fixed meaning (docs/data-contract.md) and their default type; any other field
#: name is the programme's own (a segment field such as "business_unit", read as text).
CANONICAL: dict[str, str] = {
    "response_id": "text", "submitted_at": "datetime", "started_at": "datetime",
    "duration_s": "number", "status": "text", "distribution_channel": "text", "finished": "boolean",
    "market": "text", "wave": "text", "account_id": "text", "role": "text", "rep_id": "text",
    "ltr": "score", "ces": "score", "csat": "score", "comment": "text",
    "deal_close_date": "datetime", "go_live_planned": "datetime", "go_live_date": "datetime",
    "last_rep_touch_at": "datetime",
}
MEASURE_SCALES = {"ltr": (0.0, 10.0), "ces": (1.0, 7.0), "csat": (1.0, 5.0)}
#: The measures a programme reports without a `measures:` section: field -> how (its name, the
#: question in words, the rule that makes it a figure). `measures:` overrides or adds any.
DEFAULT_MEASURES: dict[str, dict[str, str]] = {
    "ltr": {"name": "NPS", "label": "Likelihood to recommend", "rule": "nps"},
    "ces": {"name": "CES", "label": "Customer effort", "rule": "agree"},
    "csat": {"name": "CSAT", "label": "Satisfaction", "rule": "top_box"},
}
_MEASURE_KEYS = {"name", "label", "rule", "cut"}
_KEYS = {"column", "import_id", "pattern", "type", "scale", "labels", "required", "group",
         "label", "action"}
_TYPES = {"text", "number", "datetime", "score", "boolean"}
_PLAIN_NUMBER = r"-?\d+(?:[.,]\d+)?"  # 10, 9.5, 9,5; not 1e1, +10, 0x0A, inf
_LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(?:$|[-–:=)]|\s)")


@dataclass(frozen=True)
class FieldSpec:
    """Where a field lives in an export and how to read it."""

    name: str
    column: str | None = None
    import_id: str | None = None
    pattern: str | None = None
    type: str = "text"                        # text | number | datetime | score | boolean
    scale: tuple[float, float] | None = None
    labels: str | None = None                 # name of a label set for text answers
    required: bool = False
    group: str | None = None                  # drivers: any group name (sales, product, ...)
    label: str | None = None                  # short label for charts
    action: str | None = None                 # personal data: hash or drop

    @property
    def source(self) -> str:
        """How the schema locates the column, for messages."""
        return self.column or self.import_id or self.pattern or "?"


@dataclass(frozen=True)
class Schema:
    """A validated survey schema (see the module docstring and config/survey.yaml)."""

    fields: dict[str, FieldSpec]
    drivers: dict[str, FieldSpec]
    competitors: dict[str, FieldSpec]
    personal: dict[str, FieldSpec]
    markets: dict[str, list[str]]              # market -> driver groups
    segments: dict[str, list[str]]             # market -> segment fields
    stages: dict[str, str]                     # journey stage (sales, implementation) -> group
    market_rule: dict[str, str]                # {b2b_when_present: f} | {column: f} | {all: M}
    waves: str                                 # period of waves derived from submitted_at
    not_applicable: frozenset[str]
    label_sets: dict[str, dict[str, float]]
    quality: dict[str, Any]
    measures: tuple[Measure, ...] = ()         # what the programme reports, its headline first
    headline: str = "ltr"                      # the measure the programme is run on
    source: str = DEFAULT_SCHEMA
    survey: str = ""
    company: str = "Us"                        # our name, beside the competitors
    privacy_keep: tuple[str, ...] = ()         # privacy.keep: words never masked as names
    design: dict[str, Any] = field(default_factory=dict)   # vendor replicate weights (B2C)
    lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def driver_items(self, market: str | None = None) -> list[str]:
        """Driver item names, for one market (by its driver groups) or all."""
        if market is None:
            return list(self.drivers)
        groups = self.markets.get(market, [])
        return [n for n, s in self.drivers.items() if s.group in groups]

    def group_items(self, group: str | None) -> list[str]:
        """Items of one driver group (empty when the group is None or unknown)."""
        return [n for n, s in self.drivers.items() if group is not None and s.group == group]

    def stage_items(self, stage: str) -> list[str]:
        """Items of a journey stage ("sales", "implementation"), empty when not declared."""
        return self.group_items(self.stages.get(stage))

    def driver_labels(self) -> dict[str, str]:
        return {n: s.label or n.replace("_", " ") for n, s in self.drivers.items()}

    def driver_groups(self) -> dict[str, str]:
        return {n: s.group or "other" for n, s in self.drivers.items()}

    def segment_fields(self, market: str) -> list[str]:
        return list(self.segments.get(market, []))

    def scale(self, name: str) -> tuple[float, float]:
        """Answer scale of a measure or driver item (measure defaults: LTR 0-10, CES 1-7, CSAT 1-5)."""
        spec = self.fields.get(name) or self.drivers.get(name)
        if spec is not None and spec.scale is not None:
            return spec.scale
        if name in MEASURE_SCALES:
            return MEASURE_SCALES[name]
        raise ConfigError(f"{name!r} has no scale", file=self.where(f"drivers.{name}"))

    def measure(self, key: str) -> Measure:
        """The measure of response column `key` (e.g. "csat")."""
        for m in self.measures:
            if m.key == key:
                return m
        raise ConfigError(f"{key!r} is not a measure of this survey", file=self.source,
                          expected=", ".join(m.key for m in self.measures) or "a measure")

    @property
    def headline_measure(self) -> Measure:
        """The programme's headline measure: the LTR (NPS) when mapped, else the `headline:`
        rating (a satisfaction or effort programme)."""
        return self.measure(self.headline)

    @property
    def has_ltr(self) -> bool:
        """Whether the programme has a 0-10 likelihood-to-recommend question (NPS)."""
        return "ltr" in self.fields

    def where(self, key: str) -> str:
        """'config/survey.yaml line 12' for a dotted key (the file alone when unknown)."""
        line = self.lines.get(key) or self.lines.get(key.split(".")[0])
        return f"{self.source} line {line}" if line else self.source


def _spec(name: str, raw: Any, where: str, section: str, **defaults: Any) -> FieldSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{section}.{name} is {type(raw).__name__}", file=where, expected="a mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f"{section}.{name} has unknown key(s) {sorted(unknown)}", file=where,
                          expected=", ".join(sorted(_KEYS)))
    if not any(raw.get(k) for k in ("column", "import_id", "pattern")):
        raise ConfigError(f"{section}.{name} names no column", file=where,
                          expected="column, import_id or pattern")
    kw: dict[str, Any] = {**defaults, **raw}
    if kw.get("type", "text") not in _TYPES:
        raise ConfigError(f"{section}.{name}.type is {kw['type']!r}", file=where,
                          expected=" | ".join(sorted(_TYPES)))
    scale = kw.get("scale")
    if scale is not None:
        if not (isinstance(scale, list) and len(scale) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in scale)
                and scale[0] < scale[1]):
            raise ConfigError(f"{section}.{name}.scale is {scale!r}", file=where,
                              expected="[low, high], e.g. [1, 5] or [0, 10]")
        kw["scale"] = (float(scale[0]), float(scale[1]))
    if kw.get("pattern"):
        try:
            re.compile(kw["pattern"])
        except re.error as exc:
            raise ConfigError(f"{section}.{name}.pattern is not a regular expression ({exc})",
                              file=where) from None
    for k in ("column", "import_id"):
        if kw.get(k) is not None:
            kw[k] = str(kw[k])
    return FieldSpec(name=name, **kw)


def _key_lines(path: str | os.PathLike[str]) -> dict[str, int]:
    """Line of every top-level key and of every entry one level below ('fields.ltr' -> 31)."""
    try:
        node = yaml.compose(paths.resolve(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError):
        return {}
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out[str(k.value)] = k.start_mark.line + 1
            if isinstance(v, yaml.MappingNode):
                for k2, _ in v.value:
                    out[f"{k.value}.{k2.value}"] = k2.start_mark.line + 1
    return out


def load(path: str | os.PathLike[str] = DEFAULT_SCHEMA) -> Schema:
    """Read and validate a survey schema YAML file."""
    doc = config.read_yaml(path)
    file = str(path)
    lines = _key_lines(path)

    def at(key: str) -> str:
        line = lines.get(key) or lines.get(key.split(".")[0])
        return f"{file} line {line}" if line else file

    fields = {n: _spec(n, s, at(f"fields.{n}"), "fields", type=CANONICAL.get(n, "text"),
                       scale=list(MEASURE_SCALES[n]) if n in MEASURE_SCALES else None)
              for n, s in (doc.get("fields") or {}).items()}
    if "ltr" in fields and fields["ltr"].scale != (0.0, 10.0):
        raise ConfigError(f"fields.ltr.scale is {list(fields['ltr'].scale or ())}",
                          file=at("fields.ltr"), expected="[0, 10]: NPS needs the 0-10 question")
    drivers = {n: _spec(n, s, at(f"drivers.{n}"), "drivers", type="score")
               for n, s in (doc.get("drivers") or {}).items()}
    for n, s in drivers.items():
        if s.scale is None or s.group is None:
            raise ConfigError(f"drivers.{n} needs group and scale", file=at(f"drivers.{n}"),
                              expected="e.g. {column: Q4_1, group: sales, scale: [1, 5]}")
    competitors = {n: _spec(n, s, at(f"competitors.{n}"), "competitors", type="score", scale=[0, 10])
                   for n, s in (doc.get("competitors") or {}).items()}
    personal = {n: _spec(n, s, at(f"personal.{n}"), "personal") for n, s in (doc.get("personal") or {}).items()}
    for n, s in personal.items():
        if s.action not in ("hash", "drop"):
            raise ConfigError(f"personal.{n}.action is {s.action!r}", file=at(f"personal.{n}"),
                              expected="hash or drop")
    answers = doc.get("answers") or {}
    label_sets = {k: _label_set(m, f"answers.label_sets.{k}", at)
                  for k, m in (answers.get("label_sets") or {}).items()}
    for n, s in {**fields, **drivers}.items():
        if s.labels and s.labels not in label_sets:
            raise ConfigError(f"{n}.labels names unknown label set {s.labels!r}", file=at(f"fields.{n}"),
                              expected=", ".join(label_sets) or "a set under answers.label_sets")
    quality = {"test_status": [], "test_channels": [], "speeder_fraction": 0.33,
               "straightliner_min_items": 5, "duplicate_key": ["contact_key", "wave"],
               **(doc.get("quality") or {})}
    measures = _measures(doc, fields, at)
    headline = _headline(doc, fields, measures, at)
    measures = tuple(sorted(measures, key=lambda m: m.key != headline))  # the headline leads
    return Schema(
        fields=fields, drivers=drivers, competitors=competitors, personal=personal,
        markets=_markets(doc, drivers, at), segments=_segments(doc, fields, at),
        stages=_stages(doc, drivers, at), market_rule=_market_rule(doc, fields, at),
        waves=_waves(doc, at),
        not_applicable=frozenset(str(v).strip().lower() for v in answers.get("not_applicable", [])),
        label_sets=label_sets, quality=quality, measures=measures,
        headline=headline, source=file, survey=str(doc.get("survey", "")),
        company=str(doc.get("company") or "Us"), lines=lines, privacy_keep=_privacy_keep(doc, at),
        design=_design(doc, at),
    )


def _label_set(labels: Any, where: str, at: Callable[[str], str]) -> dict[str, float]:
    """A label set of the schema, its labels read without case or surrounding spaces; a
    ConfigError naming the label whose point is not a number."""
    if not isinstance(labels, Mapping):
        raise ConfigError(f"{where} is {type(labels).__name__}", file=at(where),
                          expected="a mapping of answer label -> point, e.g. {Agree: 4}")
    out = {}
    for label, point in labels.items():
        if isinstance(point, bool) or not isinstance(point, int | float):
            raise ConfigError(f"{where}: {label!r} is {point!r}", file=at(where),
                              expected="a number for every label (quote a label holding a comma or colon)")
        out[str(label).strip().lower()] = float(point)
    return out


def _privacy_keep(doc: dict[str, Any], at: Callable[[str], str]) -> tuple[str, ...]:
    """``privacy: {keep: [...]}``: the programme's words (products, brands, towns) that masking
    must not read as person names."""
    section = doc.get("privacy") or {}
    keep = section.get("keep") if isinstance(section, dict) else None
    if not isinstance(section, dict) or set(section) - {"keep"} or not isinstance(keep or [], list) \
            or not all(isinstance(w, str | int) for w in keep or []):
        raise ConfigError("privacy is not {keep: [words]}", file=at("privacy"),
                          expected="privacy: {keep: [Sleekly, Lyon]}: words never masked as names")
    return tuple(str(w) for w in keep or [])


REPLICATE_TYPES = ("JK1", "JKn", "bootstrap", "BRR", "Fay", "other")


def _design(doc: dict[str, Any], at: Any) -> dict[str, Any]:
    """``design: {weights: FinalWeight, replicate_weights: "repw*", type: JK1, scale: 0.98,
    rscales: [...], mse: false, rho: 0.5}``: the vendor's final weights and replicate weight
    columns of the B2C responses (R ``svrepdesign``); {} when absent."""
    raw = doc.get("design") or {}
    if not raw:
        return {}
    if not isinstance(raw, dict) or not raw.get("replicate_weights") or not raw.get("weights"):
        raise ConfigError("design needs weights and replicate_weights", file=at("design"),
                          expected='e.g. {weights: FinalWeight, replicate_weights: "repw*", '
                                   "type: JK1}")
    unknown = set(raw) - {"weights", "replicate_weights", "type", "scale", "rscales", "mse", "rho"}
    if unknown:
        raise ConfigError(f"design.{sorted(unknown)[0]} is not a design key", file=at("design"),
                          expected="weights, replicate_weights, type, scale, rscales, mse, rho")
    kind = str(raw.get("type", "JK1"))
    if kind not in REPLICATE_TYPES:
        raise ConfigError(f"design.type is {kind!r}", file=at("design"),
                          expected=", ".join(REPLICATE_TYPES))
    return {**raw, "type": kind}


def _measures(doc: dict[str, Any], fields: dict[str, FieldSpec], at: Any) -> tuple[Measure, ...]:
    """The programme's measures: ltr, ces and csat when mapped (DEFAULT_MEASURES), then every
    entry of `measures:` (a field of type score with a scale; name, label, rule, cut)."""
    raw = doc.get("measures") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"measures is {raw!r}", file=at("measures"),
                          expected="a mapping: <field>: {label: ..., rule: top_box | agree | mean | nps}")
    keys = [k for k in DEFAULT_MEASURES if k in fields] + [k for k in raw if k not in DEFAULT_MEASURES]
    return tuple(_measure(k, raw.get(k) or {}, fields, at) for k in keys)


def _headline(doc: dict[str, Any], fields: dict[str, FieldSpec], measures: tuple[Measure, ...],
              at: Any) -> str:
    """The headline measure: `headline:` when given, else the LTR; a schema without either
    names no measure to run the programme on."""
    keys = [m.key for m in measures]
    raw = doc.get("headline")
    if raw is None:
        if "ltr" in fields:
            return "ltr"
        raise ConfigError("fields.ltr is missing and no headline measure is named", file=at("fields"),
                          expected="the 0-10 likelihood-to-recommend column (ltr: {column: Q1}) or "
                                   "a rated field named as `headline:` (e.g. headline: csat)")
    if str(raw) not in keys:
        raise ConfigError(f"headline is {raw!r}", file=at("headline"),
                          expected=f"a measure of this survey ({', '.join(keys) or 'none mapped'})")
    return str(raw)


def _measure(key: str, raw: Any, fields: dict[str, FieldSpec], at: Any) -> Measure:
    where = at(f"measures.{key}") if raw else at(f"fields.{key}")
    spec = fields.get(key)
    if not isinstance(raw, dict) or set(raw) - _MEASURE_KEYS:
        raise ConfigError(f"measures.{key} is {raw!r}", file=where,
                          expected=f"a mapping with {', '.join(sorted(_MEASURE_KEYS))}")
    if spec is None or spec.type != "score" or spec.scale is None:
        raise ConfigError(f"measures.{key}: {key!r} is not a rated field", file=where,
                          expected="a field under fields: with type: score and a scale")
    how = {**DEFAULT_MEASURES.get(key, {"rule": "mean"}), **raw}
    if spec.label and "label" not in raw:
        how["label"] = spec.label
    if how["rule"] not in {r.value for r in Rule}:
        raise ConfigError(f"measures.{key}.rule is {how['rule']!r}", file=where,
                          expected=" | ".join(r.value for r in Rule))
    try:
        return Measure.define(key, scale=spec.scale, rule=how["rule"], name=str(how.get("name", "")),
                              label=str(how.get("label", "")),
                              cut=None if how.get("cut") is None else float(how["cut"]))
    except (ArgumentError, TypeError, ValueError) as exc:
        raise ConfigError(f"measures.{key}: {exc}", file=where,
                          expected="a cut inside the field's scale; NPS only on 0-10") from None


def _names(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} is {value!r}", file=where, expected="a list of names")
    return list(value)


def _markets(doc: dict[str, Any], drivers: dict[str, FieldSpec], at: Any) -> dict[str, list[str]]:
    """Driver groups per market; by default every group belongs to every market present."""
    raw = doc.get("markets")
    groups = list(dict.fromkeys(s.group for s in drivers.values() if s.group is not None))
    if raw is None:
        return {m: groups for m in MARKETS}
    if not isinstance(raw, dict):
        raise ConfigError(f"markets is {raw!r}", file=at("markets"), expected="B2B: [groups], B2C: [groups]")
    out = {}
    for m, gs in raw.items():
        if m not in MARKETS:
            raise ConfigError(f"markets.{m}: unknown market", file=at(f"markets.{m}"), expected="B2B or B2C")
        out[m] = _names(gs, f"markets.{m}", at(f"markets.{m}"))
        for g in out[m]:
            if g not in groups:
                raise ConfigError(f"markets.{m}: group {g!r} has no driver item",
                                  file=at(f"markets.{m}"), expected=f"one of {groups}")
    return out


def _segments(doc: dict[str, Any], fields: dict[str, FieldSpec], at: Any) -> dict[str, list[str]]:
    raw = doc.get("segments") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"segments is {raw!r}", file=at("segments"), expected="B2B: [fields], B2C: [fields]")
    out = {}
    for m, names in raw.items():
        if m not in MARKETS:
            raise ConfigError(f"segments.{m}: unknown market", file=at(f"segments.{m}"), expected="B2B or B2C")
        out[m] = _names(names, f"segments.{m}", at(f"segments.{m}"))
        for n in out[m]:
            if n not in fields:
                raise ConfigError(f"segments.{m}: {n!r} is not a field", file=at(f"segments.{m}"),
                                  expected=f"a field under fields: ({', '.join(fields)})")
    return out


def _stages(doc: dict[str, Any], drivers: dict[str, FieldSpec], at: Any) -> dict[str, str]:
    raw = doc.get("stages") or {}
    groups = {s.group for s in drivers.values() if s.group is not None}
    if not isinstance(raw, dict):
        raise ConfigError(f"stages is {raw!r}", file=at("stages"),
                          expected="sales: <group>, implementation: <group>")
    for stage, g in raw.items():
        if stage not in ("sales", "implementation") or g not in groups:
            raise ConfigError(f"stages.{stage}: {g!r}", file=at(f"stages.{stage}"),
                              expected=f"sales or implementation -> a driver group ({sorted(groups)})")
    return {str(k): str(v) for k, v in raw.items()}


def _market_rule(doc: dict[str, Any], fields: dict[str, FieldSpec], at: Any) -> dict[str, str]:
    """How a response's market is decided; default: the market field, else accounts -> B2B."""
    raw = doc.get("market_rule")
    if raw is None:
        if "market" in fields:
            return {"column": "market"}
        return {"b2b_when_present": "account_id"} if "account_id" in fields else {"all": "B2C"}
    ok = isinstance(raw, dict) and len(raw) == 1
    kind, value = next(iter(raw.items())) if ok else (None, None)
    if kind == "all" and value in MARKETS:
        return {"all": value}
    if kind in ("column", "b2b_when_present") and value in fields:
        return {kind: value}
    raise ConfigError(f"market_rule is {raw!r}", file=at("market_rule"),
                      expected="{all: B2B}, {all: B2C}, {column: <field with B2B/B2C>} or "
                               "{b2b_when_present: <field, e.g. account_id>}")


def _waves(doc: dict[str, Any], at: Any) -> str:
    raw = doc.get("waves") or {}
    period = raw.get("period", "quarter") if isinstance(raw, dict) else raw
    if period not in WAVE_PERIODS:
        raise ConfigError(f"waves.period is {period!r}", file=at("waves"),
                          expected=" | ".join(WAVE_PERIODS))
    return str(period)


def locate(spec: FieldSpec, columns: list[str], questions: dict[str, str],
           import_ids: dict[str, str]) -> str | None:
    """The export column holding `spec`: by column id, then ImportId/QID, then question-text pattern."""
    if spec.column and spec.column in columns:
        return spec.column
    if spec.import_id:
        for col, qid in import_ids.items():
            if qid == spec.import_id and col in columns:
                return col
    if spec.pattern:
        rx = re.compile(spec.pattern)
        for col in columns:
            if rx.search(questions.get(col, "") or ""):
                return col
    return None


@dataclass
class ParsedScores:
    """Numbers read from an answer column, with what had to be interpreted."""

    values: pd.Series
    labels_mapped: int = 0
    not_applicable: int = 0
    unparseable: int = 0
    out_of_range: pd.Series = field(default_factory=lambda: pd.Series(dtype=bool))
    #: The numbers as read, before the scale and whole-number checks (None: not kept).
    unscaled: pd.Series | None = None


def plain_numbers(text: pd.Series) -> pd.Series:
    """Numbers written plainly (``10``, ``9.5``, ``9,5``); anything else (``1e1``, ``+10``,
    ``inf``) is NaN, so it goes through the label rules and is counted when unreadable."""
    plain = text.str.fullmatch(_PLAIN_NUMBER).fillna(False).astype(bool)
    return pd.to_numeric(text.where(plain).str.replace(",", ".", regex=False), errors="coerce")


def parse_scores(raw: pd.Series, scale: tuple[float, float] | None, labels: dict[str, float] | None,
                 not_applicable: frozenset[str], whole: bool = False) -> ParsedScores:
    """Answer text -> numbers. Not-applicable codes become NaN (never zero); values outside `scale`
    become NaN and are marked in `.out_of_range`; unreadable text becomes NaN and is counted.

    With `whole` (rating scales: LTR 0-10, items 1-5) a fraction such as 9.5 is no point of the
    scale: it is treated like a value outside it (NaN, marked), never rounded into a promoter.
    """
    num, na_mask, mapped, unreadable, oor = score_masks(raw, scale, labels, not_applicable, whole)
    return ParsedScores(num.where(~oor), int(mapped.sum()), int(na_mask.sum()), int(unreadable.sum()),
                        oor, unscaled=num)


def score_masks(raw: pd.Series, scale: tuple[float, float] | None, labels: dict[str, float] | None,
                not_applicable: frozenset[str], whole: bool = False
                ) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """:func:`parse_scores` answer by answer: the numbers as read (before the scale), and which
    answers were not-applicable codes, labels read as numbers, unreadable, outside the scale."""
    n = len(raw)
    mapped, unreadable = np.zeros(n, bool), np.zeros(n, bool)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        num = raw.astype(float)
        na_mask = num.astype(str).isin(not_applicable).to_numpy(bool)
        text = None
    else:
        text = raw.astype("string").str.strip()
        na_mask = text.str.lower().isin(not_applicable).fillna(False).to_numpy(bool)
        num = plain_numbers(text.where(~na_mask))
    num = num.where(~na_mask)
    if text is not None:
        left = text.notna() & (text != "") & num.isna() & ~na_mask
        if left.any():
            sub = text[left]
            lead = pd.to_numeric(sub.str.extract(_LEADING_NUMBER, expand=False).str.replace(",", "."),
                                 errors="coerce")
            if labels:
                lead = lead.fillna(sub.str.lower().map(labels))
            num = num.astype(float)
            num[left] = lead.astype(float)
            at = np.flatnonzero(left.to_numpy(bool))
            mapped[at], unreadable[at] = lead.notna().to_numpy(bool), lead.isna().to_numpy(bool)
    num = num.astype(float)
    oor = pd.Series(False, index=raw.index)
    if scale is not None:
        oor = (num < scale[0]) | (num > scale[1])
    if whole:
        oor = oor | (num.notna() & (num != num.round()))
    return num, na_mask, mapped, unreadable, oor


def data_dictionary(schema: Schema) -> pd.DataFrame:
    """One row per field: name, kind, type, scale, group and where it comes from."""
    rows = []
    for section, specs in (("field", schema.fields), ("driver", schema.drivers),
                           ("competitor", schema.competitors)):
        for n, s in specs.items():
            kind = section if section != "field" or n in CANONICAL else "segment field"
            rows.append({"field": n if section != "competitor" else f"competitor: {n}", "kind": kind,
                         "type": s.type, "scale": "" if s.scale is None else f"{s.scale[0]:g}-{s.scale[1]:g}",
                         "group": s.group or "", "label": s.label or "", "source": s.source})
    for n, s in schema.personal.items():
        rows.append({"field": n, "kind": "personal", "type": "hash key" if s.action == "hash" else "dropped",
                     "scale": "", "group": "", "label": "", "source": s.column or s.import_id or ""})
    return pd.DataFrame(rows)


__all__ = ["Schema", "FieldSpec", "load", "locate", "parse_scores", "data_dictionary", "CANONICAL"]
