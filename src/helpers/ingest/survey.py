"""What every survey reader returns: :class:`Survey`, the responses with their question text,
ImportIds, SPSS value labels and missing codes, and notes of what the reader did."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

#: pandas dtype of text columns (pyarrow strings, missing = NA).
STRING_DTYPE = pd.StringDtype("pyarrow")


#: Words of rating-scale labels: value labels using them describe a scale, not categories.
_RATING_WORDS = re.compile(r"(?i)likely|satisf|agree|poor|good|excellent|easy|difficult|effort|"
                           r"\bvery\b|extremely|not at all|neutral|^\s*\d+\s*([-–:=).]|$)|applicable|"
                           r"don.t know")


@dataclass(frozen=True, eq=False)
class Survey:
    """A survey export as read from disk.

    Attributes
    ----------
    data : one row per response; columns named by the export's column ids. Text exports keep
        every column as pandas string dtype (missing = NA); SPSS and parquet keep numbers.
    questions : column -> question text (the column id itself when the export has none).
    import_ids : column -> Qualtrics ImportId / QID, when the export carries them.
    format : detected or requested layout: "qualtrics", "qualtrics_legacy", "surveymonkey",
        "spss", "csv", "xlsx" or "parquet".
    encoding : text encoding used ("utf-8", "utf-8-sig", "utf-16", "cp1252", ...); None for
        binary containers without one.
    path : the file that was read.
    value_labels : column -> {code: label} (SPSS).
    missing_codes : column -> user-missing codes that were set to NA (SPSS); a range is a
        ``(low, high)`` tuple.
    notes : plain-language remarks of what the reader did, for the cleaning log.
    """

    data: pd.DataFrame
    questions: dict[str, str]
    import_ids: dict[str, str]
    format: str
    encoding: str | None
    path: Path
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    missing_codes: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def category_labels(self) -> dict[str, dict[Any, str]]:
        """Columns whose codes are categories named by value labels (SPSS 1 = "Private",
        2 = "Enterprise"; a wave 1, 2, 3 labelled "2024 spring" ...): every code present has a
        label and the labels are words, not the ends of a rating scale. Their labels, not the
        codes, are the values (schema drafting and cleaning read them so)."""
        out = {}
        for col, labels in self.value_labels.items():
            named = {k: str(v).strip() for k, v in labels.items() if str(v).strip()}
            codes = pd.Series(self.data[col]).dropna().unique() if col in self.data else []
            if len(named) >= 2 and len(codes) and all(c in named for c in codes) and \
                    not any(_RATING_WORDS.search(v) for v in named.values()):
                out[col] = named
        return out


def in_code_order(named: dict[Any, str]) -> dict[Any, str]:
    """Wave labels that sort as their codes do; others ("Spring 2024" coded 1 before "Autumn
    2024" coded 2) numbered "1. Spring 2024", "2. Autumn 2024" so waves keep their order."""
    if not all(isinstance(c, (int, float)) and float(c).is_integer() for c in named):
        return named
    codes = sorted(named)
    if [named[c] for c in codes] == sorted(named[c] for c in codes):
        return named
    width = len(str(int(max(codes))))
    return {c: f"{int(c):0{width}d}. {v}" for c, v in named.items()}
