"""Speed of the market view: synthetic market sample and the Watermark backtest on it.

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB"
(seconds from an untraced call; peak = tracemalloc peak of Python allocations in a second,
traced call, since tracing slows the code down several-fold).

    .venv/bin/python benchmarks/bench_benchmark.py
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from helpers import benchmark, synth_market


def _measure(name: str, target_s: float, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{name}: {seconds:.2f} s (target < {target_s:g} s), peak {peak / 2**20:.0f} MB")
    return out


def main() -> None:
    """Run each target once (after a warm-up of the imports) and print its line."""
    synth_market.make_market_sample(0)
    cx, prices, truth = _measure("make_market_sample (41 tickers x 18 years, daily)", 3.0,
                                 lambda: synth_market.make_market_sample(1))
    _measure("backtest (top/bottom 10 of 40, 2007-2024, daily prices + dividends)", 5.0,
             lambda: benchmark.backtest(cx, prices, top_n=10, benchmark=truth["benchmark"]))


if __name__ == "__main__":
    main()
