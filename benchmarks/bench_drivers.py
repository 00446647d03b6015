"""Speed of the key-driver analysis (issue 5 targets).

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB"
(seconds from an untraced call; peak = tracemalloc peak of Python/numpy allocations in a second,
traced call, since tracing slows the code down).

    .venv/bin/python benchmarks/bench_drivers.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from harness import measure

from helpers.analysis import importance
from helpers.analysis.modelling import Bootstrap


def _survey(rows: int, p: int, accounts: int, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Items 1-5 sharing an account effect, LTR 0-10 from a linear model."""
    rng = np.random.default_rng(seed)
    acc = rng.integers(0, accounts, rows)
    latent = rng.normal(0, 1, (accounts, p))[acc] * 0.5 + rng.normal(0, 1, (rows, p))
    x = np.clip(np.rint(3.5 + latent), 1, 5)
    beta = np.linspace(1.0, 0.05, p)
    ltr = np.clip(np.rint(7 + (x - 3.5) @ beta * 0.6 + rng.normal(0, 1.5, rows)), 0, 10)
    names = [f"item_{j:02d}" for j in range(p)]
    df = pd.DataFrame(x, columns=names)
    df["ltr"] = ltr
    df["account_id"] = acc
    return df, names


def main() -> None:
    """Run each target once (after a warm-up) and print its line."""
    small, names = _survey(2_000, 5, 100, 0)
    importance.shapley_importance(small, "ltr", names, bootstrap=Bootstrap(5),
                                  cluster="account_id")  # warm-up
    big, names15 = _survey(1_000_000, 15, 20_000, 1)
    measure("shapley_importance, 15 drivers x 1,000,000 rows", 3.0,
             lambda: importance.shapley_importance(big, "ltr", names15))
    mid, names12 = _survey(100_000, 12, 5_000, 2)
    measure("200 bootstrap resamples, 12 drivers x 100,000 rows (by account)", 30.0,
             lambda: importance.shapley_importance(mid, "ltr", names12, bootstrap=Bootstrap(200),
                                                   cluster="account_id"))
    measure("200 bootstrap resamples, 12 drivers x 100,000 rows (by contact)", 30.0,
             lambda: importance.shapley_importance(mid, "ltr", names12, bootstrap=Bootstrap(200)))
    wide, names20 = _survey(5_000, 20, 500, 3)
    measure("shapley_importance, 20 drivers (2^20 subsets) x 5,000 rows", 30.0,
             lambda: importance.shapley_importance(wide, "ltr", names20))


if __name__ == "__main__":
    main()
