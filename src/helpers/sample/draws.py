"""Vectorised draws and lookups shared by the sample's generators: 1-5 items from latent
scores, quarter ends, submission times inside a wave, IP addresses, NPS, and dictionary
lookups over arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def to_items(latent: np.ndarray, center: float = 3.5) -> np.ndarray:
    """A 1-5 item answer from a latent score around `center`."""
    return np.clip(np.rint(center + latent), 1, 5)


def quarter_end(dates: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """True where a date falls in the last 14 days of its quarter."""
    d = pd.DatetimeIndex(dates)
    q_end = (d.to_period("Q").end_time).normalize()
    return np.asarray((q_end - d.normalize()).days < 14)


def wave_dates(rng: np.random.Generator, waves: np.ndarray) -> pd.DatetimeIndex:
    """A submission time inside the wave's fielding window (weeks 3-8 of the quarter)."""
    starts = _wave_starts(waves)
    offset = rng.uniform(14, 56, len(waves)) * 86400.0
    return pd.DatetimeIndex(starts + pd.to_timedelta(np.round(offset), unit="s"))


def _wave_starts(waves: np.ndarray) -> pd.DatetimeIndex:
    """Start time of each wave label's quarter (each distinct label parsed once, not per row)."""
    labels, inv = np.unique(np.asarray(waves), return_inverse=True)
    return pd.PeriodIndex(labels, freq="Q").start_time[inv.ravel()]


def lookup_map(keys: np.ndarray, mapping: dict[Any, Any], default: Any = None) -> np.ndarray:
    """Vectorised ``mapping.get(key, default)`` over an array (replaces np.vectorize(dict.get))."""
    keys = np.asarray(keys)
    vals = np.array([*mapping.values(), default])
    out = np.full(len(keys), vals[-1], dtype=vals.dtype)
    for k, v in zip(mapping, vals[:-1], strict=True):  # few keys: one vectorised comparison each
        out[keys == k] = v
    return out


def random_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random IPv4 addresses as text."""
    parts = [pc.cast(pa.array(p), pa.string()) for p in rng.integers(1, 255, (4, n))]
    return pc.binary_join_element_wise(*parts, ".").to_numpy(zero_copy_only=False)


def nps_of(ltr: np.ndarray) -> float:
    """Net Promoter Score of 0-10 ratings: % promoters (9-10) minus % detractors (0-6)."""
    return float(100 * ((ltr >= 9).mean() - (ltr <= 6).mean()))
