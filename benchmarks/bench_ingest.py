"""Benchmark `cx sample --rows 1000000` (issue 2) and `cx clean` on that export (issue 3).

Each command runs as its own child process (`python -m helpers.cli ...`, the code behind `cx`);
wall time comes from time.perf_counter, CPU time (user + sys) and peak resident memory from the
child's resource usage (os.wait4, the per-child form of getrusage(RUSAGE_CHILDREN)). On a shared
machine the wall time depends on the load, the CPU time much less, so both are printed:

    cx sample 1M rows: 24.03 s (target < 60 s), peak 1735 MB (target < 2000 MB) [cpu 24.1 s, load 2.4]

The cleaning line also says whether every planted defect count in truth.json was found again.
The next line sets that cleaning against pyarrow alone parsing the same export, timed in this
process in the same run, best of three (issue 25: cleaning within twice the parse, CPU seconds):

    cx clean 1M rows vs 2x pyarrow parse (cpu): 9.10 s (target < 8.60 s) [ratio 2.12x cpu, ...; MISSED]

Then a table of where one more cleaning of the export spends its time, step by step
(benchmarks/clean_steps.py).

    .venv/bin/python benchmarks/bench_ingest.py [--rows 1000000] [--dir DIR] [--keep]
    .venv/bin/python benchmarks/bench_ingest.py --export build/bench-data/200000/raw/survey_export.csv
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_TARGET_S, SAMPLE_TARGET_MB = 60.0, 2000.0
CLEAN_TARGET_S, CLEAN_TARGET_MB = 20.0, 3000.0
#: `cx clean` may take this many times pyarrow's parse of the same export (CPU seconds).
PARSE_RATIO_TARGET = 2.0
#: Header rows after the column ids in the sample's Qualtrics-style export (text, ImportId).
EXTRA_HEADER_ROWS = 2
# cleaning rule in cleaning_log.json -> defect count in truth.json
RULE_TO_DEFECT = {"test": "test_responses", "duplicate": "duplicates", "speeder": "speeders",
                  "straightliner": "straightliners", "out_of_range": "out_of_range",
                  "incomplete": "blank_ltr"}


def measure(cmd: list[str]) -> dict[str, float]:
    """Run `cmd` as a child process; wall seconds, CPU seconds and peak RSS (MB) of that child.

    Raises RuntimeError with the end of the child's stderr when it exits non-zero.
    """
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            raise RuntimeError(f"{' '.join(cmd[2:4])} exited {proc.returncode}: " + " | ".join(tail))
    return {"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}


def line(name: str, r: dict[str, float], target_s: float, target_mb: float, note: str = "") -> str:
    """One result line in the house format, plus CPU time and the current load average."""
    extra = f", {note}" if note else ""
    return (f"{name}: {r['seconds']:.2f} s (target < {target_s:g} s), peak {r['peak_mb']:.0f} MB "
            f"(target < {target_mb:g} MB) [cpu {r['cpu']:.1f} s, load {os.getloadavg()[0]:.1f}{extra}]")


def defects_found(processed: Path, raw: Path) -> str:
    """Compare the cleaning log's rule counts with the planted defect counts in truth.json."""
    log = json.loads((processed / "cleaning_log.json").read_text(encoding="utf-8"))
    truth = json.loads((raw / "truth.json").read_text(encoding="utf-8"))["defects"]
    found = {key: log["rules"][rule]["rows"] for rule, key in RULE_TO_DEFECT.items()}
    found["label_valued"] = log["answers"]["ltr"]["labels_mapped"]
    found["not_applicable_answers"] = sum(a["not_applicable"] for name, a in log["answers"].items()
                                          if name not in ("ltr", "ces", "csat"))
    wrong = [f"{key} {n} vs {truth[key]}" for key, n in found.items() if n != truth[key]]
    return "planted defects all found" if not wrong else "DEFECT COUNTS DIFFER: " + "; ".join(wrong)


def arrow_parse(export: Path) -> dict[str, float]:
    """Wall and CPU seconds (all threads) of pyarrow alone reading `export` into a Table, with
    its own type inference (the extra header rows skipped, newlines allowed inside quotes)."""
    import pyarrow.csv as pacsv

    t0, c0 = time.perf_counter(), time.process_time()
    table = pacsv.read_csv(export, read_options=pacsv.ReadOptions(skip_rows_after_names=EXTRA_HEADER_ROWS),
                           parse_options=pacsv.ParseOptions(newlines_in_values=True))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": wall, "cpu": cpu, "rows": table.num_rows}


def parse_ratio_line(k: str, clean: dict[str, float], parse: dict[str, float]) -> str:
    """`cx clean` CPU seconds against twice pyarrow's, with both ratios (CPU and wall) and
    whether the target was met."""
    return (f"cx clean {k} rows vs {PARSE_RATIO_TARGET:g}x pyarrow parse (cpu): {clean['cpu']:.2f} s "
            f"(target < {PARSE_RATIO_TARGET * parse['cpu']:.2f} s) [ratio {clean['cpu'] / parse['cpu']:.2f}x cpu, "
            f"{clean['seconds'] / parse['seconds']:.2f}x wall; parse {parse['cpu']:.2f} s cpu "
            f"{parse['seconds']:.2f} s wall, clean {clean['cpu']:.2f} s cpu {clean['seconds']:.2f} s wall, "
            f"load {os.getloadavg()[0]:.1f}; "
            f"{'met' if clean['cpu'] < PARSE_RATIO_TARGET * parse['cpu'] else 'MISSED'}]")


def size_label(rows: int) -> str:
    """200k, 1M, 1.5M."""
    return f"{rows // 1000}k" if rows < 1_000_000 else f"{rows / 1e6:g}M"


#: pyarrow parses the export this many times per cleaning (cheap; its time varies with load).
PARSES = 3


def clean_against_parse(export: Path, processed: Path, repeat: int = 1) -> tuple[str, dict[str, float]]:
    """Clean `export` `repeat` times, each after :data:`PARSES` parses by pyarrow; the best
    (least CPU) of each."""
    cx = [sys.executable, "-m", "helpers.cli"]
    cleans, parses = [], []
    for _ in range(repeat):
        parses += [arrow_parse(export) for _ in range(PARSES)]
        cleans.append(measure([*cx, "clean", str(export), "--out", str(processed)]))
    clean = min(cleans, key=lambda r: r["cpu"])
    return parse_ratio_line(size_label(int(parses[0]["rows"])), clean, min(parses, key=lambda r: r["cpu"])), clean


def clean_steps(export: Path) -> str:
    """The step table of one cleaning of `export` (clean_steps.py, in its own process)."""
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("clean_steps.py")), str(export)],
                         capture_output=True, text=True, check=False)
    return out.stdout.rstrip() if out.returncode == 0 else \
        "clean steps failed: " + " | ".join(out.stderr.strip().splitlines()[-3:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files (with --dir)")
    ap.add_argument("--export", type=Path, default=None,
                    help="an existing sample export: only its cleaning against the parse is timed")
    ap.add_argument("--repeat", type=int, default=1, help="clean and parse this many times; best of each")
    args = ap.parse_args(argv)
    if args.export is not None:
        with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
            print(clean_against_parse(args.export, Path(tmp) / "processed", args.repeat)[0], flush=True)
        print(clean_steps(args.export))
        return 0
    k = size_label(args.rows)
    cx = [sys.executable, "-m", "helpers.cli"]
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    raw, processed = work / "raw", work / "processed"
    try:
        r = measure([*cx, "sample", "--rows", str(args.rows), "--seed", str(args.seed), "--out", str(raw)])
        print(line(f"cx sample {k} rows", r, SAMPLE_TARGET_S, SAMPLE_TARGET_MB), flush=True)
        export = raw / "survey_export.csv"
        size = export.stat().st_size / 2**20
        ratio, r = clean_against_parse(export, processed, args.repeat)
        print(line(f"cx clean {k} rows ({size:.0f} MB export + side tables) to parquet", r,
                   CLEAN_TARGET_S, CLEAN_TARGET_MB, defects_found(processed, raw)), flush=True)
        print(ratio, flush=True)
        print(clean_steps(export), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work if args.dir is None else raw, ignore_errors=True)
            if args.dir is not None:
                shutil.rmtree(processed, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
