"""Speed of the segment engine (helpers.analysis.segments) at scale.

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB"
(seconds from an untraced call; peak = tracemalloc peak of Python allocations in a second,
traced call, since tracing slows the code down several-fold).

    .venv/bin/python benchmarks/bench_segments.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from harness import measure

from helpers import config
from helpers.analysis import accounts, personas, segments, selection

ROWS = 1_000_000
ACCOUNTS = 50_000


def _frame(rng: np.random.Generator) -> pd.DataFrame:
    """1M responses: 4 waves, 50,000 accounts, 3 roles, dimensions with 30 segments in all."""
    cfg = config.load_segments()
    df = pd.DataFrame({
        "wave": rng.choice(["2025Q4", "2026Q1", "2026Q2", "2026Q3"], ROWS),
        "account_id": np.char.add("A", rng.integers(0, ACCOUNTS, ROWS).astype(str)),
        "role": rng.choice(["decision_maker", "influencer", "user"], ROWS, p=[0.2, 0.3, 0.5]),
        "ltr": rng.integers(0, 11, ROWS).astype(float),
        "segment20": rng.choice([f"S{i:02d}" for i in range(20)], ROWS),
    })
    for var, shares in cfg.b2c_margins.items():   # region 4 + channel 3 + age band 3 = 10
        df[var] = rng.choice(list(shares), ROWS)
    return df


def main() -> None:
    """Run each target once (after a warm-up of the imports) and print its line."""
    rng = np.random.default_rng(0)
    cfg = config.load_segments()
    df = _frame(rng)
    dims = ["segment20", "region", "channel", "age_band"]          # 20 + 4 + 3 + 3 = 30
    small = df.head(2000)
    b2b, b2c = selection.DESIGNS["B2B"], selection.DESIGNS["B2C"]   # the reports' design rules
    segments.segment_tables(small, dims, design=b2b.design(small))    # warm-up
    measure("segment_tables 1M rows x 30 segments, clustered by 50k accounts, governed", 5.0,
             lambda: segments.segment_tables(df, dims, design=b2b.design(df)))
    w = measure("b2c_weights: rake + trim, 1M rows, 4 waves x 3 margins", 5.0,
                 lambda: selection.b2c_weights(df, cfg.b2c_margins))
    dfw = df.assign(weight=w)
    measure("segment_tables 1M rows x 30 segments, weighted (deff + Kish), waves as strata, "
            "governed", 5.0, lambda: segments.segment_tables(dfw, dims, design=b2c.design(dfw)))
    measure("segment_tables 1M rows x 30 segments, raked weights, calibration-aware, waves as "
            "strata", 5.0,
            lambda: segments.segment_tables(dfw, dims, design=b2c.design(dfw, cfg.b2c_margins)))
    measure("account_nps five ways, 1M responses, 50k accounts", 5.0,
             lambda: accounts.account_nps(df, role_order=cfg.role_order,
                                          role_weights=cfg.role_weights))
    items = [f"x{i}" for i in range(6)]
    rated = pd.DataFrame(rng.integers(1, 6, (50_000, 6)).astype(float), columns=items)
    rated["ltr"] = rng.integers(0, 11, 50_000).astype(float)
    measure("find_personas 50k rows x 6 items, k=2..6, 5 seeds", 30.0,
             lambda: personas.find_personas(rated, items,
                                            options=personas.PersonaOptions(seeds=tuple(cfg.seeds))))


if __name__ == "__main__":
    main()
