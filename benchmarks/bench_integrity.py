"""Speed of the score-integrity checks (issue 6). Run: .venv/bin/python benchmarks/bench_integrity.py

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB". Seconds are the
best of a few runs without tracing; peak is the traced (tracemalloc) allocation peak of one run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from harness import measure

from helpers import catalog
from helpers.analysis import integrity
from helpers.errors import DataError
from helpers.ingest import schema

ITEMS = schema.driver_items("B2B")
COMMENTS = np.array(["Onboarding was a mess and training was poor.", "Great team, very helpful.",
                     "Quick time to value, it paid off fast.", "Hidden costs appeared after signing.",
                     ""], dtype=object)


def make_b2b(rows: int, reps: int, accounts: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic B2B responses shaped like data/processed/responses (4 waves, 10 driver items)."""
    rng = np.random.default_rng(seed)
    acc = rng.integers(0, accounts, rows)
    acc_rep = rng.integers(0, reps, accounts)
    latent = rng.normal(0, 1, accounts)[acc] + rng.normal(0, 0.8, rows)
    items = np.clip(np.rint(3.5 + 0.9 * (latent[:, None] + rng.normal(0, 0.6, (rows, 10)))), 1, 5)
    ltr = np.clip(np.rint(7.5 + 1.2 * (items.mean(axis=1) - 3.5) + rng.normal(0, 1.2, rows)), 0, 10)
    sub = pd.Timestamp("2025-10-01") + pd.to_timedelta(rng.uniform(0, 360, rows), unit="D")
    return pd.DataFrame({
        "market": "B2B", "wave": sub.to_period("Q").astype(str), "include": True,
        "flag_test": False, "rep_id": np.char.add("R", acc_rep[acc].astype(str)),
        "account_id": np.char.add("A", acc.astype(str)), "ltr": ltr,
        **{c: items[:, j] for j, c in enumerate(ITEMS)},
        "comment": COMMENTS[rng.integers(0, len(COMMENTS), rows)], "submitted_at": sub,
        "last_rep_touch_at": sub - pd.to_timedelta(rng.uniform(0.2, 60, rows), unit="D"),
        "deal_close_date": sub - pd.to_timedelta(rng.uniform(10, 900, rows), unit="D"),
        "ip_key": np.char.add("ip", rng.integers(0, rows, rows).astype(str)),
        "contact_key": np.char.add("c", rng.integers(0, rows * 2, rows).astype(str)),
    })


def audit(df: pd.DataFrame) -> pd.DataFrame:
    return integrity.integrity_index(integrity.evidence(df, ITEMS))


def main() -> None:
    targets: list[tuple[str, Callable[[], object], float]] = []
    try:
        sample = catalog.load("responses")
        targets.append(("evidence + index on the processed sample "
                        f"({int((sample['market'] == 'B2B').sum())} B2B rows)",
                        lambda: audit(sample), 5.0))
    except DataError:
        print("processed sample missing: run `cx sample` and `cx clean` (sample target skipped)")
    big = make_b2b(100_000, 60, 10_000)
    targets.append(("evidence + index 100k B2B rows, 60 reps, 10k accounts",
                    lambda: audit(big), 30.0))
    for name, fn, target in targets:
        measure(name, target, fn, repeat=2)


if __name__ == "__main__":
    main()
