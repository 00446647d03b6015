"""Which wave a report is about: the latest complete one, unless a wave is asked for; waves still
coming in (a few early answers of a new quarter) are named, not reported."""

from __future__ import annotations

import pandas as pd

from helpers.errors import DataError

#: A latest wave with fewer responses than this share of the median wave is still coming in.
PARTIAL_WAVE_SHARE = 0.25


def reported_wave(df: pd.DataFrame, wave: str = "") -> str:
    """`wave` if given (checked to exist), else the latest complete wave (waves sort in time):
    the latest that is not still coming in (:func:`partial_waves`)."""
    waves = sorted(df["wave"].dropna().astype(str).unique())
    if not waves:
        raise DataError("no waves", column="wave", expected="at least one wave, e.g. 2025Q4")
    if wave and wave not in waves:
        raise DataError(f"wave {wave!r} not in the data", column="wave", expected=", ".join(waves))
    return wave or waves[len(waves) - len(partial_waves(df)) - 1]


def partial_waves(df: pd.DataFrame) -> list[str]:
    """The latest waves still coming in: each with fewer than PARTIAL_WAVE_SHARE of the median
    wave's responses (e.g. a few early answers of a new quarter); never every wave."""
    counts = df["wave"].dropna().astype(str).value_counts().sort_index()
    low = counts < PARTIAL_WAVE_SHARE * counts.median()
    k = 0
    while k < len(counts) - 1 and low.iloc[len(counts) - 1 - k]:
        k += 1
    return list(counts.index[len(counts) - k:]) if k else []


def partial_wave_note(df: pd.DataFrame, reported: str) -> str:
    """A sentence when waves after the reported one were passed over as still coming in."""
    counts = df["wave"].dropna().astype(str).value_counts()
    later = [w for w in partial_waves(df) if w > reported]
    if not later:
        return ""
    held = ", ".join(f"{w} ({counts[w]:,} responses)" for w in later)
    return (f"Later wave(s) {held} look still in progress (fewer than "
            f"{PARTIAL_WAVE_SHARE:.0%} of a typical wave's responses) and are not the reported "
            "wave; they appear in trends, and the `wave` parameter reports one anyway.")
