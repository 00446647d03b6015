"""Benchmark helpers.ingest.readers.read_survey on a 1,000,000-row Qualtrics-style export.

Generates the export once (into a temporary folder, or --dir), then measures each target in a
fresh subprocess so that the peak resident memory (resource.getrusage ru_maxrss) belongs to that
target alone. Prints one line per target:
"<name>: <seconds> s (target < X s), peak <MB> MB [cpu <s>, load <1-min load average>]";
on a shared machine the wall time depends on the load, the CPU time much less.

    .venv/bin/python benchmarks/bench_io.py [--rows 1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

SYSTEM = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)",
          "Finished", "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName",
          "RecipientEmail", "ExternalReference", "LocationLatitude", "LocationLongitude",
          "DistributionChannel", "UserLanguage"]
ITEMS = [f"Q{i}" for i in range(2, 24)]  # 22 rating items
EXTRA = ["market", "account_id", "region", "wave", "Q_comment"]
COLUMNS = SYSTEM + ["Q1"] + ITEMS + EXTRA  # 45 columns

LTR = ["0 - Not at all likely", *map(str, range(1, 10)), "10 - Extremely likely"]
AGREE = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree", "N/A"]
COMMENTS = ["", "", "Great service, thanks!", 'Support said "soon", twice.',
            "Onboarding was slow;\nbilling was fine.", "Größe passt – danke", "N/A"]


def _pick(rng: np.random.Generator, vocab: list[str], n: int) -> pa.Array:
    return pc.take(pa.array(vocab, pa.string()), pa.array(rng.integers(0, len(vocab), n)))


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write a Qualtrics-style CSV (3 header rows, 45 columns, text values) of `rows` rows."""
    rng = np.random.default_rng(seed)
    ids = np.arange(rows)
    start = (np.datetime64("2025-07-01T00:00:00") + rng.integers(0, 90 * 86400, rows)
             .astype("timedelta64[s]"))
    dur = rng.integers(30, 1800, rows)
    cols: dict[str, pa.Array] = {
        "StartDate": pa.array(np.datetime_as_string(start).astype(object)).cast(pa.string()),
        "EndDate": pa.array(np.datetime_as_string(start + dur.astype("timedelta64[s]"))
                            .astype(object)).cast(pa.string()),
        "Status": _pick(rng, ["IP Address", "Survey Preview"], rows),
        "IPAddress": pa.array([f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in ids]),
        "Progress": _pick(rng, ["100", "100", "100", "57"], rows),
        "Duration (in seconds)": pa.array(dur.astype(str).astype(object)).cast(pa.string()),
        "Finished": _pick(rng, ["1", "1", "1", "0"], rows),
        "ResponseId": pa.array([f"R_{i:015x}" for i in ids]),
        "RecipientLastName": _pick(rng, ["Smith", "Müller", "O'Brien", ""], rows),
        "RecipientFirstName": _pick(rng, ["Ann", "Bo", "Chloé", ""], rows),
        "RecipientEmail": pa.array([f"user{i}@example.com" for i in ids]),
        "ExternalReference": _pick(rng, ["", "CRM-1", "CRM-2"], rows),
        "LocationLatitude": _pick(rng, ["47.115097045898", "40.7128", ""], rows),
        "LocationLongitude": _pick(rng, ["7.2315979003906", "-74.006", ""], rows),
        "DistributionChannel": _pick(rng, ["email", "anonymous"], rows),
        "UserLanguage": _pick(rng, ["EN", "DE", "FR"], rows),
        "Q1": _pick(rng, LTR + [""], rows),
        **{q: _pick(rng, AGREE + [""], rows) for q in ITEMS},
        "market": _pick(rng, ["B2B", "B2C"], rows),
        "account_id": _pick(rng, [f"A{i:04d}" for i in range(800)] + [""], rows),
        "region": _pick(rng, ["NA", "EMEA", "APAC", "LATAM"], rows),
        "wave": _pick(rng, ["2025Q3", "2025Q4"], rows),
        "Q_comment": _pick(rng, COMMENTS, rows),
    }
    cols["RecordedDate"] = cols["EndDate"]
    table = pa.table({c: cols[c] for c in COLUMNS})
    head = io.StringIO()
    w = csv.writer(head, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerow([f"Question text of {c}\n(second line)" if c.startswith("Q") else c
                for c in COLUMNS])
    w.writerow([json.dumps({"ImportId": c}) for c in COLUMNS])
    with open(path, "wb") as fh:
        fh.write(head.getvalue().encode("utf-8"))
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False,
                                                      quoting_style="needed"))


def measure(target: str, path: Path) -> None:
    """Run one target in this (fresh) process and print JSON with seconds and peak MB."""
    from helpers.ingest.readers import read_survey

    t0, c0 = time.perf_counter(), time.process_time()
    survey = read_survey(path)
    if target == "ingest":
        out = path.with_suffix(".parquet")
        survey.data.to_parquet(out, index=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb, "rows": len(survey.data),
                      "cols": survey.data.shape[1]}))


def _run(target: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--measure", target, str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--measure", nargs=2, metavar=("TARGET", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"qualtrics_{args.rows}.csv"
        if not path.exists():
            generate(path, args.rows)
        size_mb = path.stat().st_size / 2**20
        k = f"{args.rows // 1000}k" if args.rows < 1_000_000 else f"{args.rows / 1e6:g}M"
        r = _run("read", path)
        print(f"read_survey qualtrics csv {k} rows x {int(r['cols'])} cols ({size_mb:.0f} MB): "
              f"{r['seconds']:.2f} s (target < 8 s), peak {r['peak_mb']:.0f} MB "
              f"[cpu {r['cpu']:.2f} s, load {os.getloadavg()[0]:.1f}]")
        small = folder / f"qualtrics_{args.rows // 5}_cp1252.csv"
        if not small.exists():
            generate(small, args.rows // 5)
            small.write_bytes(small.read_bytes().decode("utf-8").encode("cp1252"))
        r = _run("read", small)
        k5 = f"{args.rows // 5000}k"
        print(f"read_survey cp1252 csv {k5} rows (decoded in Python): {r['seconds']:.2f} s "
              f"(target < 4 s), peak {r['peak_mb']:.0f} MB "
              f"[cpu {r['cpu']:.2f} s, load {os.getloadavg()[0]:.1f}]")
        r = _run("ingest", path)
        print(f"ingest to parquet {k} rows (read_survey + to_parquet): {r['seconds']:.2f} s "
              f"(target < 20 s), peak {r['peak_mb']:.0f} MB (target < 3000 MB) "
              f"[cpu {r['cpu']:.2f} s, load {os.getloadavg()[0]:.1f}]")


if __name__ == "__main__":
    main()
