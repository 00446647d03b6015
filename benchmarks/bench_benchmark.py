"""Speed of the market view: synthetic market sample and the Watermark backtest on it.

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB"
(seconds from an untraced call; peak = tracemalloc peak of Python allocations in a second,
traced call, since tracing slows the code down several-fold).

    .venv/bin/python benchmarks/bench_benchmark.py
"""

from __future__ import annotations

from harness import measure

from helpers.analysis import market_backtest
from helpers.sample import market_data


def main() -> None:
    """Run each target once (after a warm-up of the imports) and print its line."""
    market_data.make_market_sample(0)
    cx, prices, truth = measure("make_market_sample (41 tickers x 18 years, daily)", 3.0,
                                 lambda: market_data.make_market_sample(1))
    measure("backtest (top/bottom 10 of 40, 2007-2024, daily prices + dividends)", 5.0,
             lambda: market_backtest.backtest(cx, prices, top_n=10, benchmark=truth["benchmark"]))


if __name__ == "__main__":
    main()
