#!/usr/bin/env python3
"""Compare the results of two report runs byte for byte: metrics/*.json and tables/*.parquet.

Two installs from requirements.lock must give the same numbers on the sample. Run the report in
each install (e.g. two `make fresh-check` runs, the first with FRESH_SAVE=DIR, the second with
COMPARE=DIR) and compare the run folders:

    python3 tools/compare_runs.py RUN_A RUN_B    # exit 0 when identical, 1 listing what differs

Standard library only, so any Python runs it.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PARTS = ("metrics/*.json", "tables/*.parquet")


def digests(run: Path) -> dict[str, str]:
    """SHA-256 of every result file of a run folder, keyed by its path inside the folder."""
    return {p.relative_to(run).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for pattern in PARTS for p in sorted(run.glob(pattern))}


def differences(a: Path, b: Path) -> list[str]:
    """One line per file that is missing from one run or differs; empty when the runs agree."""
    da, db = digests(a), digests(b)
    out = [f"only in {a}: {f}" for f in sorted(set(da) - set(db))]
    out += [f"only in {b}: {f}" for f in sorted(set(db) - set(da))]
    out += [f"differs: {f}" for f in sorted(set(da) & set(db)) if da[f] != db[f]]
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    a, b = (Path(x).resolve() for x in argv)
    for run in (a, b):
        if not (run / "metrics").is_dir():
            print(f"{run}: not a run folder (no metrics/)", file=sys.stderr)
            return 2
    diff = differences(a, b)
    print("\n".join(diff) if diff else
          f"identical: {len(digests(a))} result files (metrics and tables) in both runs")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
