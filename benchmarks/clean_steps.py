"""Where `cx clean`'s time goes: wall and CPU seconds per step of one cleaning (issue 25).

Runs :func:`helpers.ingest.clean.run` in this process with each step below timed as it is
called (wall; CPU of the calling thread; system time of the whole process meanwhile), then the
process's CPU (user, system: on a VM, mostly first touches of fresh memory) and that of its
worker processes (the comment masking, and the helper that hashes identifiers). A step that no
longer exists is named as missing; the table still prints.

    .venv/bin/python benchmarks/clean_steps.py EXPORT [--inputs]

`--inputs` passes the side tables found beside the export (accounts.csv, invitations.csv, ...),
as notebook 01 does; without it only the export is cleaned, as `bench_ingest.py --export` does.
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

T0 = time.perf_counter()

from helpers import inputs as registry  # noqa: E402 - the imports are timed too
from helpers.ingest import clean  # noqa: E402

#: (module, function, what it does): in the order they run.
STEPS: list[tuple[Any, str, str]] = [
    (clean.readers, "read_survey", "parse the export (pyarrow, threads)"),
    (clean.fields, "read_fields", "read every field by its type"),
    (clean, "start_mask_comments", "comments: distinct texts, prefilter, ship to workers"),
    (clean, "_mask_text_fields", "mask other text fields, hash contact ids"),
    (clean, "_derive", "market, wave, journey, NPS group"),
    (clean.quality, "flag", "quality rules"),
    (clean, "_competitors", "competitor ratings"),
    (clean.side_tables, "read_input", "side tables read and cleaned"),
    (clean.side_tables, "accounts_from_responses", "accounts from the responses"),
    (clean.catalog, "atomic_write_table", "parquet writes (two threads)"),
]
WAIT = "wait for the masked comments"


class Timings:
    """Wall, thread CPU and process system seconds per step (thread-safe; steps may nest)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def add(self, label: str, wall: float, cpu: float, sys_s: float) -> None:
        with self.lock:
            row = self.rows.setdefault(label, [0.0, 0.0, 0.0, 0])
            row[0] += wall
            row[1] += cpu
            row[2] += sys_s
            row[3] += 1

    def timed(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t, c, s = time.perf_counter(), time.thread_time(), _sys()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - t, time.thread_time() - c, _sys() - s)
        return wrapper


def _sys() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def instrument(timings: Timings) -> list[str]:
    """Wrap every step of :data:`STEPS` found; the names of those missing."""
    missing = []
    for module, name, label in STEPS:
        fn = getattr(module, name, None)
        if fn is None:
            missing.append(f"{module.__name__}.{name}")
            continue
        setattr(module, name, timings.timed(label, fn))
    start = clean.start_mask_comments

    def start_then_time_the_wait(*args: Any, **kwargs: Any) -> Callable[[], Any]:
        finish = start(*args, **kwargs)
        return timings.timed(WAIT, finish)
    clean.start_mask_comments = start_then_time_the_wait
    return missing


def table(timings: Timings, missing: list[str], imports: tuple[float, float], wall: float) -> str:
    self_ = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [f"{'cx clean, step':<56}{'wall s':>8}{'CPU s':>8}{'sys s':>8}",
             f"{'imports (python, pandas, pyarrow, helpers)':<56}{imports[0]:>8.2f}{imports[1]:>8.2f}{'':>8}"]
    order = [label for _, _, label in STEPS[:3]] + [WAIT] + [label for _, _, label in STEPS[3:]]
    for label in order:
        if label in timings.rows:
            w, c, s, _ = timings.rows[label]
            lines.append(f"{label:<56}{w:>8.2f}{c:>8.2f}{s:>8.2f}")
    lines.append(f"{'(whole cleaning: its wall; CPU of every thread, sys)':<56}{wall:>8.2f}"
                 f"{self_.ru_utime + self_.ru_stime:>8.2f}{self_.ru_stime:>8.2f}")
    lines.append(f"{'(worker processes: masking, hashing)':<56}{'':>8}"
                 f"{kids.ru_utime + kids.ru_stime:>8.2f}{kids.ru_stime:>8.2f}")
    lines.append("(steps' CPU is the calling thread's: pyarrow's parse threads and the write threads "
                 "count only in the whole)")
    if missing:
        lines.append("steps not found (renamed?): " + ", ".join(missing))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", type=Path)
    ap.add_argument("--inputs", action="store_true", help="clean the side tables beside the export too")
    args = ap.parse_args(argv)
    imports = (time.perf_counter() - T0, time.process_time())
    inputs = {name: str(args.export.parent / Path(inp.file).with_suffix(".csv"))
              for name, inp in registry.INPUTS.items()
              if (args.export.parent / Path(inp.file).with_suffix(".csv")).exists()} if args.inputs else None
    timings = Timings()
    missing = instrument(timings)
    with tempfile.TemporaryDirectory(prefix="clean_steps_") as tmp:
        t = time.perf_counter()
        clean.run(args.export, out_dir=Path(tmp) / "processed", inputs=inputs)
        wall = time.perf_counter() - t + imports[0]
    print(table(timings, missing, imports, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
