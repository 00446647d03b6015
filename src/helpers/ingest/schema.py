"""Survey schema (config/survey.yaml): which export column is which canonical field, and how
answer labels become numbers ("10 - Extremely likely" -> 10; "N/A", "Don't know", -99 -> missing).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers import config
from helpers.errors import ConfigError

DEFAULT_SCHEMA = "config/survey.yaml"
_PLAIN_NUMBER = r"-?\d+(?:[.,]\d+)?"  # 10, 9.5, 9,5; not 1e1, +10, 0x0A, inf
_LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(?:$|[-–:=)]|\s)")


@dataclass(frozen=True)
class FieldSpec:
    """Where a field lives in an export and how to read it."""

    name: str
    column: str | None = None
    import_id: str | None = None
    pattern: str | None = None
    type: str = "text"                        # text | number | datetime | score
    scale: tuple[float, float] | None = None
    labels: str | None = None                 # name of a label set for text answers
    required: bool = False
    group: str | None = None                  # drivers: sales / implementation / touchpoint ...
    label: str | None = None                  # short label for charts
    action: str | None = None                 # personal data: hash or drop


@dataclass(frozen=True)
class Schema:
    """A validated survey schema."""

    fields: dict[str, FieldSpec]
    drivers: dict[str, FieldSpec]
    competitors: dict[str, FieldSpec]
    personal: dict[str, FieldSpec]
    markets: dict[str, list[str]]
    market_rule: dict[str, str]
    not_applicable: frozenset[str]
    label_sets: dict[str, dict[str, float]]
    quality: dict[str, Any]
    source: str = DEFAULT_SCHEMA
    survey: str = ""

    def driver_items(self, market: str | None = None) -> list[str]:
        """Driver item names, for one market (by its driver groups) or all."""
        if market is None:
            return list(self.drivers)
        groups = self.markets.get(market, [])
        return [n for n, s in self.drivers.items() if s.group in groups]

    def driver_labels(self) -> dict[str, str]:
        return {n: s.label or n for n, s in self.drivers.items()}

    def driver_groups(self) -> dict[str, str]:
        return {n: s.group or "other" for n, s in self.drivers.items()}


_TYPES = {"text", "number", "datetime", "score"}


def _spec(name: str, raw: Any, file: str, section: str, **defaults: Any) -> FieldSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{section}.{name} is {type(raw).__name__}", file=file, expected="a mapping")
    unknown = set(raw) - {"column", "import_id", "pattern", "type", "scale", "labels", "required", "group",
                          "label", "action"}
    if unknown:
        raise ConfigError(f"{section}.{name} has unknown key(s) {sorted(unknown)}", file=file,
                          expected="column, import_id, pattern, type, scale, labels, required, group, label, action")
    if not any(raw.get(k) for k in ("column", "import_id", "pattern")):
        raise ConfigError(f"{section}.{name} names no column", file=file, expected="column, import_id or pattern")
    kw = {**defaults, **raw}
    if kw.get("type", "text") not in _TYPES:
        raise ConfigError(f"{section}.{name}.type is {kw['type']!r}", file=file, expected=" | ".join(sorted(_TYPES)))
    scale = kw.get("scale")
    if scale is not None:
        if not (isinstance(scale, list) and len(scale) == 2 and all(isinstance(v, int | float) for v in scale)
                and scale[0] < scale[1]):
            raise ConfigError(f"{section}.{name}.scale is {scale!r}", file=file, expected="[low, high]")
        kw["scale"] = (float(scale[0]), float(scale[1]))
    if kw.get("pattern"):
        try:
            re.compile(kw["pattern"])
        except re.error as exc:
            raise ConfigError(f"{section}.{name}.pattern is not a regular expression ({exc})", file=file) from None
    return FieldSpec(name=name, **{k: (str(v) if k in ("column", "import_id") and v is not None else v)
                                   for k, v in kw.items()})


def load(path: str | os.PathLike[str] = DEFAULT_SCHEMA) -> Schema:
    """Read and validate a survey schema YAML file."""
    doc = config.read_yaml(path)
    file = str(path)
    fields = {n: _spec(n, s, file, "fields") for n, s in (doc.get("fields") or {}).items()}
    for must in ("response_id", "ltr"):
        if must not in fields:
            raise ConfigError(f"fields.{must} is missing", file=file, expected=f"a mapping for {must}")
    drivers = {n: _spec(n, s, file, "drivers", type="score", labels="rating5")
               for n, s in (doc.get("drivers") or {}).items()}
    for n, s in drivers.items():
        if s.scale is None or s.group is None:
            raise ConfigError(f"drivers.{n} needs group and scale", file=file)
    competitors = {n: _spec(n, s, file, "competitors", type="score", scale=[0, 10])
                   for n, s in (doc.get("competitors") or {}).items()}
    personal = {n: _spec(n, s, file, "personal") for n, s in (doc.get("personal") or {}).items()}
    for n, s in personal.items():
        if s.action not in ("hash", "drop"):
            raise ConfigError(f"personal.{n}.action is {s.action!r}", file=file, expected="hash or drop")
    answers = doc.get("answers") or {}
    label_sets = {k: {str(a).strip().lower(): float(v) for a, v in m.items()}
                  for k, m in (answers.get("label_sets") or {}).items()}
    for n, s in {**fields, **drivers}.items():
        if s.labels and s.labels not in label_sets:
            raise ConfigError(f"{n}.labels names unknown label set {s.labels!r}", file=file,
                              expected=", ".join(label_sets) or "a set under answers.label_sets")
    quality = {"test_status": [], "test_channels": [], "speeder_fraction": 0.33,
               "straightliner_min_items": 5, "duplicate_key": ["contact_key", "wave"], **(doc.get("quality") or {})}
    return Schema(
        fields=fields, drivers=drivers, competitors=competitors, personal=personal,
        markets={k: list(v) for k, v in (doc.get("markets") or {}).items()},
        market_rule=doc.get("market_rule") or {},
        not_applicable=frozenset(str(v).strip().lower() for v in answers.get("not_applicable", [])),
        label_sets=label_sets, quality=quality, source=file, survey=str(doc.get("survey", "")),
    )


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
    if pd.api.types.is_numeric_dtype(raw.dtype):
        num = raw.astype(float)
        na_mask = num.astype(str).isin(not_applicable)
        text = None
    else:
        text = raw.astype("string").str.strip()
        na_mask = text.str.lower().isin(not_applicable).fillna(False).to_numpy(bool)
        num = plain_numbers(text.where(~na_mask))
    num = num.where(~np.asarray(na_mask))
    mapped = 0
    unparseable = 0
    if text is not None:
        left = text.notna() & (text != "") & num.isna() & ~np.asarray(na_mask)
        if left.any():
            sub = text[left]
            lead = pd.to_numeric(sub.str.extract(_LEADING_NUMBER, expand=False).str.replace(",", "."),
                                 errors="coerce")
            if labels:
                lead = lead.fillna(sub.str.lower().map(labels))
            num = num.astype(float)
            num[left] = lead.astype(float)
            mapped = int(lead.notna().sum())
            unparseable = int(lead.isna().sum())
    num = num.astype(float)
    oor = pd.Series(False, index=raw.index)
    if scale is not None:
        oor = (num < scale[0]) | (num > scale[1])
    if whole:
        oor = oor | (num.notna() & (num != num.round()))
    num = num.where(~oor)
    return ParsedScores(num, mapped, int(np.asarray(na_mask).sum()), unparseable, oor)


def data_dictionary(schema: Schema) -> pd.DataFrame:
    """One row per canonical field: name, type, scale, group and where it comes from."""
    rows = []
    for section, specs in (("field", schema.fields), ("driver", schema.drivers),
                           ("competitor", schema.competitors)):
        for n, s in specs.items():
            rows.append({"field": n if section != "competitor" else f"competitor: {n}", "kind": section,
                         "type": s.type, "scale": "" if s.scale is None else f"{s.scale[0]:g}-{s.scale[1]:g}",
                         "group": s.group or "", "label": s.label or "",
                         "source": s.column or s.import_id or s.pattern or ""})
    for n, s in schema.personal.items():
        rows.append({"field": n, "kind": "personal", "type": "hash key" if s.action == "hash" else "dropped",
                     "scale": "", "group": "", "label": "", "source": s.column or s.import_id or ""})
    return pd.DataFrame(rows)


def driver_items(market: str | None = None, path: str | os.PathLike[str] = DEFAULT_SCHEMA) -> list[str]:
    """Driver item names for a market, from the schema (default config/survey.yaml)."""
    return load(path).driver_items(market)



__all__ = ["Schema", "FieldSpec", "load", "locate", "parse_scores", "data_dictionary", "driver_items"]
