"""Stratified subsamples for the analyses whose cost grows faster than the rows (gradient
boosting, clustering, topic models): whole clusters, proportional within each stratum, and the
sentence a report prints about them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.errors import DataError


@dataclass(frozen=True)
class Subsample:
    """Rows an analysis that cannot scale exactly works on, and how they were drawn."""

    rows: pd.DataFrame
    total: int
    size: int
    strata: tuple[str, ...]
    cluster: str | None
    positions: np.ndarray   # positions of the kept rows in the input

    @property
    def sampled(self) -> bool:
        """True when fewer rows than the whole selection were kept."""
        return len(self.rows) < self.total

    def note(self, unit: str = "responses") -> str:
        """One sentence for the report: what was used and how it was drawn."""
        if not self.sampled:
            return f"all {self.total:,} {unit} (at most {self.size:,} are used)"
        by = " and ".join(self.strata) or "nothing"
        whole = f", whole {self.cluster} clusters" if self.cluster else ""
        return (f"a stratified random subsample of {len(self.rows):,} of {self.total:,} {unit} "
                f"(proportional within each {by}{whole}; size parameter {self.size:,})")


def subsample(rows: pd.DataFrame, size: int, *, strata: Sequence[str] = ("wave",),
              cluster: str | None = None, seed: int = 0) -> Subsample:
    """At most about `size` rows, drawn within each stratum in proportion to its rows.

    For methods whose cost grows faster than the rows (gradient boosting, clustering, topic
    models). Each cluster (e.g. account) gets one random key; within a stratum clusters enter
    in key order until the stratum's share of `size` is reached, so clusters are kept whole
    within a stratum and, the key being common, the accounts kept in one wave are largely those
    kept in the others. With no more than `size` rows every row is kept (the result is then
    exactly the full-data result).
    """
    if size < 1:
        raise DataError(f"subsample size {size}", expected="a positive number of rows")
    total = len(rows)
    strata = tuple(s for s in strata if s in rows.columns)
    if total <= size:
        return Subsample(rows, total, size, strata, cluster, np.arange(total))
    rng = np.random.default_rng(seed)
    if cluster is not None and cluster in rows:
        codes = pd.factorize(rows[cluster])[0]
        own = codes < 0
        codes[own] = codes.max(initial=-1) + 1 + np.arange(int(own.sum()))
    else:
        codes = np.arange(total)
    key = rng.random(int(codes.max()) + 1)[codes]
    stratum = (rows.groupby(list(strata), sort=True, dropna=False, observed=True).ngroup()
               .to_numpy() if strata else np.zeros(total, np.int64))
    counts = np.bincount(stratum)
    quota = np.clip(np.floor(counts * size / total + 0.5), 1, counts).astype(np.int64)
    by_stratum = np.split(key[np.argsort(stratum, kind="stable")], np.cumsum(counts)[:-1])
    cut = np.array([np.partition(k, q - 1)[q - 1]   # key of each stratum's last row within quota
                    for k, q in zip(by_stratum, quota, strict=True)])
    keep = key <= cut[stratum]
    return Subsample(rows[keep], total, size, strata, cluster, np.flatnonzero(keep))
