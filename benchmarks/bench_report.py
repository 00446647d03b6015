"""Benchmark `make report`: `cx run --params config/params.yaml` on the default sample (issue 2).

Runs the pipeline once as a child process (`python -m helpers.cli run`, the code behind `cx run`)
into a temporary reports folder, so reports/ and reports/latest are not touched. Wall time comes
from time.perf_counter; CPU time (user + sys, including the notebook kernels the runner waited
for) and peak resident memory (the largest single process: cx or one kernel) from os.wait4.
Per-notebook wall times come from the run's manifest.json, largest first:

    make report (cx run, 5 notebooks): 48.20 s (target < 60 s), peak 610 MB [cpu 61.3 s, load 2.1]
    notebook 02_segments: 14.10 s (29% of the run, succeeded)

The notebooks do exactly the work of `make report`, but every data/processed path in the params
(and notebook 01's out_dir) points at a temporary folder, so a benchmark never rewrites the work
tree's processed tables; --in-place runs the params file unchanged, like `make report` itself.

    .venv/bin/python benchmarks/bench_report.py [--params config/params.yaml] [--in-place]
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

import yaml

from helpers import paths

TARGET_S = 60.0
PROCESSED = "data/processed"


def isolated_params(params: Path, processed: Path, out: Path) -> Path:
    """A copy of `params` whose data/processed paths (and notebook 01's out_dir) use `processed`."""
    doc = yaml.safe_load(params.read_text(encoding="utf-8")) or {}

    def move(value: object) -> object:
        if isinstance(value, str) and (value == PROCESSED or value.startswith(PROCESSED + "/")):
            return str(processed / value[len(PROCESSED):].lstrip("/"))
        return value

    doc["shared"] = {k: move(v) for k, v in (doc.get("shared") or {}).items()}
    notebooks = doc.get("notebooks") or {}
    for name, values in notebooks.items():
        notebooks[name] = {k: move(v) for k, v in (values or {}).items()}
    notebooks.setdefault("01_clean_survey", {})["out_dir"] = str(processed)
    doc["notebooks"] = notebooks
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out


def run_pipeline(params: Path, reports: Path) -> dict[str, float]:
    """Run `cx run` as a child; wall, CPU (child + its reaped kernels) and peak RSS in MB."""
    cmd = [sys.executable, "-m", "helpers.cli", "run", "--params", str(params), "--out", str(reports)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=paths.PROJECT_ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        log.seek(0)
        tail = log.read().decode("utf-8", "replace").strip().splitlines()[-3:]
    return {"seconds": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024,
            "exit": code, "tail": " | ".join(tail)}


def manifest_of(reports: Path) -> dict:
    """The manifest.json of the single run written into `reports`."""
    found = [m for m in reports.glob("*/manifest.json") if not m.parent.is_symlink()]
    if len(found) != 1:
        raise RuntimeError(f"{reports}: expected one run folder, found {len(found)}")
    return json.loads(found[0].read_text(encoding="utf-8"))


def slowest_cells(run_dir: Path, k: int) -> list[str]:
    """The `k` slowest cells of the executed notebooks (papermill's per-cell duration)."""
    cells = []
    for ipynb in sorted(run_dir.glob("*.ipynb")):
        nb = json.loads(ipynb.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb.get("cells", [])):
            d = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
            if cell.get("cell_type") == "code" and d:
                src = "".join(cell.get("source", "")).strip().splitlines()
                first = next((ln for ln in src if ln.strip() and not ln.lstrip().startswith("#")), "")
                cells.append((float(d), ipynb.stem, i, first[:70]))
    return [f"slowest cell {name}[{i}]: {d:.2f} s  {first}" for d, name, i, first in sorted(cells)[::-1][:k]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("config/params.yaml"))
    ap.add_argument("--cells", type=int, default=8, help="list this many slowest cells (default 8)")
    ap.add_argument("--in-place", action="store_true",
                    help="use the params unchanged (notebook 01 rewrites data/processed)")
    args = ap.parse_args(argv)
    params = paths.resolve(args.params)
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        work = Path(tmp)
        if not args.in_place:
            params = isolated_params(params, work / "processed", work / "params.yaml")
        reports = work / "reports"
        r = run_pipeline(params, reports)
        if not any(reports.glob("*/manifest.json")):
            print(f"make report (cx run): FAILED before running (exit {r['exit']}): {r['tail']}")
            return 1
        doc = manifest_of(reports)
        nbs = doc["notebooks"]
        status = doc["status"] if r["exit"] == 0 else f"{doc['status']}, exit {r['exit']}"
        print(f"make report (cx run, {len(nbs)} notebooks{'' if status == 'succeeded' else ', ' + status}): "
              f"{r['seconds']:.2f} s (target < {TARGET_S:g} s), peak {r['peak_mb']:.0f} MB "
              f"[cpu {r['cpu']:.1f} s incl. kernels, load {os.getloadavg()[0]:.1f}]", flush=True)
        total = r["seconds"]
        for nb in sorted(nbs, key=lambda e: -(e.get("duration_s") or 0.0)):
            d = nb.get("duration_s")
            if d is None:
                print(f"notebook {nb['name']}: not run ({nb['status']}: {nb.get('reason') or ''})")
                continue
            print(f"notebook {nb['name']}: {d:.2f} s ({nb['status']})")
        busy = sum(nb.get("duration_s") or 0.0 for nb in nbs)
        print(f"notebook time {busy:.1f} s in {total:.1f} s wall: notebooks whose needs are met run "
              "side by side, HTML/PDF rendering overlaps them", flush=True)
        run_dir = next(m.parent for m in reports.glob("*/manifest.json") if not m.parent.is_symlink())
        for text in slowest_cells(run_dir, args.cells):
            print(text, flush=True)
        shutil.rmtree(reports, ignore_errors=True)
    return 0 if r["exit"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
