"""Cost per million responses of each engine (issue 25): the report's sufficient-statistics
queries (NPS per account x wave x tier, the B2B driver cross-products per account, B2C
weighted NPS per wave x channel) over the cleaned 1M-response sample, on pandas (in memory),
DuckDB (parquet, out of core) and Spark (local mode, or the cluster named by
$CX_SPARK_MASTER; skipped, and said, without pyspark or Java).

    .venv/bin/python benchmarks/bench_engines.py [--rows 1000000]

Prints "<engine> ... per million responses: <s> s (target < X s)"; the time is the best of
three runs of all the queries (Spark's session start is not counted, its first run is).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from bench_scaling import data_dir

from helpers.stats import moments
from helpers.stats.moments import MomentQuery, Value

TARGET_PER_MILLION = {"pandas": 10.0, "duckdb": 10.0, "spark": 60.0}


def queries(items: list[str]) -> list[MomentQuery]:
    """What the notebooks ask an engine for when they work out of core."""
    return [
        MomentQuery("responses", ("account_id", "wave", "tier"), (Value("nps", "ltr", "nps"),),
                    where=(("include", "true", None), ("market", "==", "B2B"))),
        MomentQuery("responses", ("account_id",), (Value("ltr", "ltr"), *(Value(i, i) for i in items)),
                    cross=True, where=(("include", "true", None), ("market", "==", "B2B"))),
        MomentQuery("responses", ("wave", "channel"), (Value("nps", "ltr", "nps"),),
                    where=(("include", "true", None), ("market", "==", "B2C")), complete=False),
    ]


def best(engine: moments.Engine, qs: list[MomentQuery], repeat: int = 3) -> float:
    out = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        moments.run_all(engine, qs)
        out = min(out, time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    path = data_dir(args.rows) / "processed" / "responses.parquet"
    import pandas as pd
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    items = [c for c in names if c.startswith(("sales_", "impl_"))][:8]
    qs = queries(items)
    per_m = 1_000_000 / args.rows
    engines: dict[str, object] = {}
    engines["pandas"] = lambda: moments.PandasEngine({"responses": pd.read_parquet(path)})
    engines["duckdb"] = lambda: moments.DuckDBEngine({"responses": path}, memory_limit_gb=2)
    session = None
    try:
        import pyspark  # noqa: F401
        has_spark = shutil.which("java") is not None
    except ImportError:
        has_spark = False
    if has_spark:
        master = os.environ.get("CX_SPARK_MASTER", "local[2]")
        session = moments.spark_session(master, app_name="cx-bench-engines",
                                        conf={"spark.ui.showConsoleProgress": "false"})
        engines["spark"] = lambda: moments.SparkEngine(session, {"responses": str(path)})
    else:
        print("spark: pyspark or Java not installed, skipped")
    for name, make in engines.items():
        t0 = time.perf_counter()
        engine = make()
        ready = time.perf_counter() - t0
        s = best(engine, qs) + (ready if name == "pandas" else 0.0)
        where = f" ({os.environ.get('CX_SPARK_MASTER', 'local[2]')})" if name == "spark" else ""
        print(f"{name}{where}: {len(qs)} sufficient-statistics queries per million responses"
              f"{' (reading the parquet included)' if name == 'pandas' else ''}: {s * per_m:.2f} s "
              f"(target < {TARGET_PER_MILLION[name]:g} s)", flush=True)
    if session is not None:
        session.stop()
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
