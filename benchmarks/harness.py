"""The one timing harness every benchmarks/bench_*.py uses.

`measure` prints "<name>: <seconds> s (target < X s), peak <MB> MB": seconds are the best untraced
wall time over `repeat` calls; peak is the tracemalloc peak of Python/numpy allocations in one
more, traced call (tracing slows code down, so it is never timed).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def measure(name: str, target_s: float, fn: Callable[[], Any], repeat: int = 1) -> Any:
    """Time `fn`, print its benchmark line, and return its result."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{name}: {best:.2f} s (target < {target_s:g} s), peak {peak / 2**20:.0f} MB", flush=True)
    return out
