"""Speed of the statistics core (issue 4 targets). Run: .venv/bin/python benchmarks/bench_metrics.py

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB". Seconds are the
best of a few runs without tracing; peak is the traced (tracemalloc) allocation peak of one run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from harness import measure

from helpers.stats import estimators

N_ROWS = 1_000_000
N_SEGMENTS = 30
N_CLUSTERS = 50_000


def make_responses(seed: int = 0) -> pd.DataFrame:
    """Synthetic responses: 30 segments (strings), 50,000 accounts, weights, 0-10 LTR."""
    rng = np.random.default_rng(seed)
    segments = np.array([f"segment_{i:02d}" for i in range(N_SEGMENTS)])
    return pd.DataFrame({
        "segment": pd.array(segments[rng.integers(0, N_SEGMENTS, N_ROWS)], dtype="string"),
        "account_id": rng.integers(0, N_CLUSTERS, N_ROWS),
        "weight": rng.uniform(0.3, 3.0, N_ROWS),
        "ltr": rng.integers(0, 11, N_ROWS).astype(float),
        "stratum": rng.integers(0, 4, N_ROWS),
    })


def main() -> None:
    df = make_responses()
    targets: list[tuple[str, Callable[[], object], float]] = [
        ("nps_table 1M rows x 30 segments (unweighted, adjusted Wald)",
         lambda: estimators.nps_table(df, "segment"), 5.0),
        ("nps_table 1M rows x 30 segments (weighted, 50k account clusters)",
         lambda: estimators.nps_table(df, "segment", weight="weight", cluster="account_id"), 5.0),
        ("survey_mean 1M rows, 50k clusters, 4 strata, weighted",
         lambda: estimators.survey_mean(df["ltr"], weights=df["weight"], strata=df["stratum"],
                                     cluster=df["account_id"]), 5.0),
        ("nps 1M rows, 50k account clusters, weighted",
         lambda: estimators.nps(df["ltr"], weights=df["weight"], cluster=df["account_id"]), 5.0),
    ]
    for name, fn, target in targets:
        measure(name, target, fn, repeat=3)


if __name__ == "__main__":
    main()
