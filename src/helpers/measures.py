"""What a survey measures, defined once: each measure's scale, the rule that makes it a figure,
and the words and units every table, chart, tile and sentence shows it with.

A :class:`Measure` is built from the survey schema (``helpers.ingest.schema``) for each rated
question the programme reports on (likelihood to recommend, customer effort, satisfaction, any
other rating). Its :class:`Statistic` objects are the figures reported for it: NPS, a share of
answers at or above a cut (top box, agree) or a mean. A statistic carries its own key, label,
unit and number format into every result, as R survey puts a statistic's name on the result, so
nothing downstream restates a scale, a cut or a label.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError

#: NPS categories on the 0-10 likelihood-to-recommend scale (Reichheld).
PROMOTER_MIN = 9.0
DETRACTOR_MAX = 6.0


class Rule(StrEnum):
    """How a measure's answers become its headline figure."""

    NPS = "nps"          # % promoters (9-10) - % detractors (0-6), in points
    TOP_BOX = "top_box"  # % answering at or above the cut (default: the top two boxes)
    AGREE = "agree"      # % answering above the scale's midpoint (CES 2.0 "agree")
    MEAN = "mean"        # the mean answer


class Unit(StrEnum):
    """The kind of number a statistic is, which decides how it is written."""

    POINTS = "points"    # NPS points, -100..100, signed
    PERCENT = "pct"      # a share of respondents, 0..100
    SCORE = "num"        # an answer on the measure's own scale


@dataclass(frozen=True)
class Statistic:
    """One figure reported for a measure, with everything needed to show it."""

    key: str             # metric key, e.g. "nps", "ces_agree", "csat_top2", "ease_mean"
    measure: str         # the measure (response column) it is computed from
    kind: str            # "nps", "share" or "mean"
    name: str            # short name for a tile: "NPS", "CES", "Ease of doing business"
    label: str           # full label: "<name> % agree (<cut>-<top>)"
    detail: str          # what the number means, in words
    unit: Unit
    digits: int
    headline: bool       # the measure's main figure (a tile); False for a companion mean

    @property
    def signed(self) -> bool:
        """NPS is written with its sign (+12.3); shares and means are not."""
        return self.unit is Unit.POINTS

    @property
    def definition(self) -> str:
        """How the figure is made, for a methods note."""
        if self.kind == "nps":
            return (f"% promoters ({PROMOTER_MIN:g}-10) minus % detractors (0-{DETRACTOR_MAX:g}), "
                    "in points")
        return self.detail

    def metric_key(self, market: str) -> str:
        """The run-folder metric key of this statistic in `market`: ``nps_b2b``."""
        return metric_key(self.key, market)

    def describe(self) -> dict[str, Any]:
        """Plain JSON fields naming the statistic, stored beside every estimate of it."""
        d = asdict(self)
        d["unit"] = str(self.unit)
        return d

    @classmethod
    def from_description(cls, d: Mapping[str, Any]) -> Statistic:
        """The statistic a result's descriptive fields name (:meth:`describe`)."""
        fields = {k: d[k] for k in cls.__dataclass_fields__}
        return cls(**{**fields, "unit": Unit(fields["unit"]), "digits": int(fields["digits"]),
                      "headline": bool(fields["headline"])})


def metric_key(statistic: str, market: str) -> str:
    """The run-folder metric key of a statistic in a market (``"nps", "B2B"`` -> ``nps_b2b``):
    the one place this key is built."""
    return f"{statistic}_{market.lower()}"


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Measure:
    """A rated question the programme reports on (see the module docstring).

    `key` is the response column, `name` the short name shown on tiles (NPS, CES, CSAT or the
    programme's own), `label` the programme's wording of the question, `scale` the answer
    range, `rule` how answers become the headline figure and `cut` the lowest answer counted in
    a share (TOP_BOX, AGREE); `higher_is_better` says which way is good.
    """

    key: str
    name: str
    label: str
    scale: tuple[float, float]
    rule: Rule
    cut: float | None = None
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not lo < hi:
            raise ArgumentError(f"measure {self.key}: scale {self.scale} is not [low, high]")
        if self.rule is Rule.NPS and self.scale != (0.0, 10.0):
            raise ArgumentError(f"measure {self.key}: NPS needs the 0-10 scale, not {self.scale}")
        if self.rule in (Rule.TOP_BOX, Rule.AGREE):
            if self.cut is None or not lo < self.cut <= hi:
                raise ArgumentError(f"measure {self.key}: cut {self.cut} outside ({lo:g}, {hi:g}]")

    @classmethod
    def define(cls, key: str, *, scale: tuple[float, float], rule: Rule | str,
               name: str = "", label: str = "", cut: float | None = None) -> Measure:
        """A measure with the usual cut of its rule: AGREE above the midpoint (5-7 on 1-7, 4-5
        on 1-5), TOP_BOX the top two answers (4-5 on 1-5, 9-10 on 0-10)."""
        rule = Rule(rule)
        lo, hi = float(scale[0]), float(scale[1])
        if cut is None and rule is Rule.AGREE:
            cut = float(math.floor((lo + hi) / 2) + 1)
        elif cut is None and rule is Rule.TOP_BOX:
            cut = hi - 1
        name = name or label or key.replace("_", " ")
        return cls(key, name, label or name, (lo, hi), rule, None if cut is None else float(cut))

    # ------------------------------------------------------------------ the figures
    @property
    def range_text(self) -> str:
        """'1-7'."""
        return f"{_fmt(self.scale[0])}-{_fmt(self.scale[1])}"

    @property
    def cut_text(self) -> str:
        """The answers a share counts: '5-7'."""
        return f"{_fmt(self.cut or 0)}-{_fmt(self.scale[1])}"

    def _share_key(self) -> str:
        if self.rule is Rule.AGREE:
            return f"{self.key}_agree"
        return f"{self.key}_top{int(self.scale[1] - (self.cut or 0) + 1)}"

    def _share_label(self) -> str:
        if self.rule is Rule.AGREE:
            return f"% agree ({self.cut_text})"
        return f"% top-{int(self.scale[1] - (self.cut or 0) + 1)} box ({self.cut_text})"

    @property
    def statistics(self) -> tuple[Statistic, ...]:
        """The figures reported for this measure (an AGREE measure: its mean, then the share)."""
        if self.rule is Rule.NPS:
            return (Statistic("nps", self.key, "nps", "NPS", "NPS (points, -100..100)",
                              "promoters minus detractors, points", Unit.POINTS, 1,
                              True),)
        mean = Statistic(f"{self.key}_mean", self.key, "mean", self.name,
                         f"{self.name} mean ({self.range_text})",
                         f"mean answer on the {self.range_text} scale", Unit.SCORE, 2,
                         self.rule is Rule.MEAN)
        if self.rule is Rule.MEAN:
            return (mean,)
        share = Statistic(self._share_key(), self.key, "share", self.name,
                          f"{self.name} {self._share_label()}",
                          f"% answering {self.cut_text} on {self.range_text}", Unit.PERCENT, 1,
                          True)
        return (mean, share) if self.rule is Rule.AGREE else (share,)

    @property
    def headline(self) -> Statistic:
        """The measure's main figure (a tile on the summary)."""
        return next(s for s in self.statistics if s.headline)

    @property
    def answer_name(self) -> str:
        """The answer a model of this measure explains, in short: "LTR" for the recommend
        question (whose figure is NPS), else the measure's name ("CSAT")."""
        return "LTR" if self.rule is Rule.NPS else self.name

    def describe_answer(self) -> dict[str, str]:
        """Plain JSON fields naming the answer a model explains (key, rule, short name, the name
        in words, scale), stored with the driver results so that every label can name it."""
        words = "likelihood to recommend" if self.rule is Rule.NPS else self.name
        return {"measure": self.key, "rule": str(self.rule), "name": self.answer_name,
                "words": words, "scale": self.range_text}

    def values(self, answers: Any, statistic: Statistic) -> np.ndarray:
        """Per-response values whose (weighted) mean is `statistic`: +100/0/-100 for NPS, 100 or
        0 for a share, the answer for a mean; NaN where not answered."""
        if statistic.measure != self.key:
            raise ArgumentError(f"{statistic.key} is not a statistic of measure {self.key}")
        y = np.asarray(pd.to_numeric(answers, errors="coerce"), dtype=float)
        if statistic.kind == "nps":
            return np.where(np.isnan(y), np.nan,
                            100.0 * ((y >= PROMOTER_MIN).astype(float) - (y <= DETRACTOR_MAX)))
        if statistic.kind == "share":
            return np.where(np.isnan(y), np.nan, 100.0 * self.in_share(y))
        return y

    def in_share(self, answers: np.ndarray) -> np.ndarray:
        """True where an answer counts in the measure's share (at or above the cut; at or below
        it when lower answers are better)."""
        if self.cut is None:
            raise ArgumentError(f"measure {self.key} has no share (rule {self.rule})")
        return answers >= self.cut if self.higher_is_better else answers <= self.cut


def statistics(measures: Iterable[Measure]) -> list[Statistic]:
    """Every statistic of `measures`, in order."""
    return [s for m in measures for s in m.statistics]


def find_statistic(measures: Iterable[Measure], key: str) -> tuple[Measure, Statistic]:
    """The measure and statistic with metric key `key` (e.g. "csat_top2")."""
    for m in measures:
        for s in m.statistics:
            if s.key == key:
                return m, s
    known = ", ".join(s.key for s in statistics(measures))
    raise ArgumentError(f"no statistic {key!r}; this survey reports {known}")


__all__ = ["Measure", "Rule", "Statistic", "Unit", "find_statistic", "metric_key", "statistics",
           "PROMOTER_MIN", "DETRACTOR_MAX"]
