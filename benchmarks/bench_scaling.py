"""Cost of each heavy step against the number of responses (issue 16), and the whole pipeline.

    .venv/bin/python benchmarks/bench_scaling.py                  # 100k and 1M steps, 200k pipeline
    .venv/bin/python benchmarks/bench_scaling.py --million        # ... and the 1M pipeline (issue 25)
    .venv/bin/python benchmarks/bench_scaling.py --rows 100000,1000000,10000000
    .venv/bin/python benchmarks/bench_scaling.py --pipeline 20000000   # cx run on 20M (long)
    .venv/bin/python benchmarks/bench_scaling.py --no-pipeline         # steps only
    .venv/bin/python benchmarks/bench_scaling.py --rows "" --no-pipeline --outofcore 100000000

The samples are generated once into build/bench-data/<rows>/ (``cx sample --seed 11``; above
2M rows as parts) and cleaned there (``cx clean``, a folder of parts one at a time). Each step
is the notebooks' own helper call on what selection.load gives (above memory_budget_gb the
aggregates run out of core and the rest on a subsample, as in a report). Prints one line per
step and size, "<step> @ <rows>: <s> s (target < X s)", then a table of seconds per step
(rows as columns); the pipeline lines carry the wall time of a run nobody watches and the
peak memory of the whole process tree in a second, watched run (the runner, its kernels and
their workers, sampled every 0.2 s; proportional set size, so pages a forked worker shares with
its kernel count once). The watcher's reads cost the run a sixth of a core, hence two runs
(``--one-run``: one watched run for both).

``--outofcore N`` (issue 25): N responses made from the cleaned 1M sample repeated with renamed
responses, contacts and accounts, written one copy at a time as parquet partitioned by wave
(never all in memory; build/bench-data/<N>-ooc), then the steps above on them: above the memory budget
the aggregate tables run out of core (DuckDB) and the row-level analyses on the subsample. It
prints the steps, wall time, peak memory of the process tree and the disk the data takes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "build" / "bench-data"
BIN = Path(sys.executable).parent
#: Seconds allowed per step at 1M rows (scaled linearly with rows, at least 10 s).
STEP_TARGET_1M = 30.0
#: cx run (cleaning included): wall seconds and peak MB of the process tree (issue 25: 1M in
#: under 60 s and 2.5 GB, 20M in under 10 minutes and 12 GB; 200k, what `make bench` runs by
#: default, is held to the 1M target's share of the fixed costs: 9 kernels, 9 pages).
PIPELINE_TARGETS = {200_000: (30.0, 1536.0), 1_000_000: (60.0, 2560.0),
                    20_000_000: (600.0, 12 * 1024.0)}


def data_dir(rows: int, clean: bool = True) -> Path:
    """build/bench-data/<rows>: raw sample and (with `clean`) cleaned tables, made once."""
    d = DATA / f"{rows}"
    raw, processed = d / "raw", d / "processed"
    env = {**os.environ, "CX_DATA_DIR": str(d)}
    if not (raw / "truth.json").exists():
        subprocess.run([str(BIN / "cx"), "sample", "--rows", str(rows), "--seed", "11", "--out",
                        "data/raw"], env=env, check=True, cwd=ROOT)
    if clean and not (processed / "cleaning_log.json").exists():
        export = raw / ("survey_export" if (raw / "survey_export").is_dir() else "survey_export.csv")
        inv = raw / ("invitations" if (raw / "invitations").is_dir() else "invitations.csv")
        subprocess.run([str(BIN / "cx"), "clean", str(export), "--out", "data/processed",
                        "--accounts", str(raw / "accounts.csv"), "--invitations", str(inv),
                        "--cx-index", str(raw / "cx_index.csv"), "--prices", str(raw / "prices.csv")],
                       env=env, check=True, cwd=ROOT)
    return d


STEPS_CODE = r'''
import json, sys, time
from helpers import config
from helpers.analysis import (drivers, headline, importance, integrity, journey, outcomes, personas, priority,
                              segments, selection, text)
from helpers.analysis.modelling import Bootstrap
T = {}
ONLY = tuple(sys.argv[1:])   # name prefixes of the steps to run (none: all)
def step(name, fn):
    if ONLY and not name.startswith(ONLY):
        return
    t, c = time.perf_counter(), time.process_time(); fn(); T[name] = time.perf_counter() - t
    print(f"STEP {name}: {T[name]:.1f} s ({time.process_time() - c:.0f} CPU s)", flush=True)
p3 = config.notebook_params("03_promoter_drivers")
p2 = config.notebook_params("02_segments")
t0 = time.perf_counter()
data = selection.load("data/processed/responses.parquet", "data/processed/survey.yaml",
                      "config/segments.yaml", inputs={"accounts": "data/processed/accounts.parquet"})
T["load (selection.load)"] = time.perf_counter() - t0
print(f"STEP load (selection.load): {T['load (selection.load)']:.1f} s", flush=True)
sch, cfg = data.schema, data.settings
step("02 headline", lambda: headline.market_headline(data))
step("02 segment tables", lambda: segments.market_segments(data))
step("02 trends", lambda: segments.market_trends(data))
step("02 wave-over-wave changes", lambda: segments.market_changes(data))
step("02 headline changes (CES, CSAT)", lambda: headline.headline_changes(data))
step("02 personas (subsample)", lambda: [personas.find_personas(
    data.market(m).rows, sch.driver_items(m), cluster=data.market(m).cluster,
    options=personas.PersonaOptions.from_settings(cfg, sample=p2["persona_sample"]))
    for m in data.markets])
sel = {m: data.market(m) for m in data.markets}
items = {m: [i for i in sch.driver_items(m) if sel[m].rows[i].notna().any()] for m in sel}
step("03 importance LMG + bootstrap", lambda: [importance.shapley_importance(
    s.rows, "ltr", items[m], bootstrap=Bootstrap(p3["n_boot"], p3["seed"]), **s.columns)
    for m, s in sel.items()])
step("03 what-if + bootstrap", lambda: [priority.what_if(
    s.rows, items[m], bootstrap=Bootstrap(p3["whatif_boot"], p3["seed"]), **s.columns)
    for m, s in sel.items()])
step("03 promoter/detractor models", lambda: [drivers.outcome_models(s.rows, items[m], **s.columns)
                                               for m, s in sel.items()])
step("03 non-linear check (subsample)", lambda: [drivers.nonlinear_check(
    s.rows, items[m], target=t, cluster=s.cluster, sample=p3["nonlinear_sample"],
    cv=drivers.CrossValidation(folds=p3["cv_folds"], seed=p3["seed"]))
    for m, s in sel.items() for t in ("promoter", "detractor")])
impl = [i for i in sch.stage_items("implementation") if i in data.b2b]
step("03 journey effects", lambda: journey.journey_effects(sel["B2B"].rows, impl))
step("03 themes (subsample)", lambda: [text.themes(
    s.rows["comment"], n_themes=p3["n_themes"], seed=p3["seed"], sample=p3["theme_sample"],
    strata=s.rows["nps_group"]) for s in sel.values()])
step("04 account ranking", lambda: outcomes.rank_accounts(data.market("B2B", "reported").rows))
step("05 integrity evidence", lambda: integrity.evidence(
    data.market("B2B", included=False).rows, items["B2B"]))
print("STEPS " + json.dumps(T))
'''


def steps(rows: int) -> dict[str, float]:
    """Seconds per step on the sample of `rows` (one fresh process)."""
    d = data_dir(rows)
    out = subprocess.run([sys.executable, "-c", STEPS_CODE], env={**os.environ, "CX_DATA_DIR": str(d)},
                         capture_output=True, text=True, cwd=ROOT)
    line = [x for x in out.stdout.splitlines() if x.startswith("STEPS ")]
    if out.returncode or not line:
        raise RuntimeError(f"steps at {rows:,} rows failed: {out.stderr.strip().splitlines()[-3:]}")
    import json
    return json.loads(line[0][6:])


def _memory(pid: int) -> int:
    """Bytes of physical memory a process uses: its proportional set size (shared pages split
    among the processes sharing them, so forked workers are not counted twice), or RSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


_TIMING: list[Path | None] = [None]  # $CX_TIMING_DIR of the run being watched


def _label(pid: int, root: int) -> str:
    """What a process of a run is: the runner, the kernel of a notebook ($CX_NOTEBOOK, or the
    pid file its startup file wrote: a kernel forked from the zygote), or its command name."""
    if pid == root:
        return "runner"
    forked = _TIMING[0] / f"pid-{pid}" if _TIMING[0] else None
    if forked is not None and forked.exists():
        return forked.read_text()
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"CX_NOTEBOOK="):
                    return item[12:].decode()
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _tree_memory(pid: int, parts: dict[str, int] | None = None) -> int:
    """Physical memory of a process and all its descendants (from /proc, see :func:`_memory`);
    `parts` receives it per process (:func:`_label`)."""
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except OSError:
                pass
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        used = _memory(p)
        total += used
        if parts is not None:
            label = _label(p, pid)
            parts[label] = parts.get(label, 0) + used
        stack += kids.get(p, [])
    return total


PHASES = ("kernel", "imports", "load", "compute", "charts", "nbconvert")
IPYTHON = ROOT / "benchmarks" / "ipython"  # its startup file times each kernel's cells and charts


def notebook_phases(run_dir: Path, timing: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """(wall, CPU) seconds per phase of each notebook of a finished run. kernel: starting and
    stopping the kernel and papermill's bookkeeping (the notebook's wall time outside its cells;
    CPU: the kernel's before its first cell); imports: the first cell that imports; load: inside
    the data loaders (selection.load, clean.run, summary.load_artefacts); charts: chart helpers and PNG rendering; compute: the other cells;
    nbconvert: HTML rendering (run.log; wall for both). Cells' figures come from the kernels'
    startup file (benchmarks/ipython), CPU is the kernel process's (all threads)."""
    import json
    import re
    doc = json.loads((run_dir / "manifest.json").read_text())
    log = (run_dir / "run.log").read_text() if (run_dir / "run.log").exists() else ""
    html = {m[1]: float(m[2]) for m in re.finditer(r": (\S+): HTML rendered in ([\d.]+) s", log)}
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for step in doc["notebooks"]:
        name, rec_path = step["name"], timing / f"{step['name']}.json"
        if not rec_path.exists() or not step.get("duration_s"):
            continue
        rec = json.loads(rec_path.read_text())
        wall, cpu = dict.fromkeys(PHASES, 0.0), dict.fromkeys(PHASES, 0.0)
        seen_import = False
        for c in rec["cells"]:
            phase = "compute" if seen_import or "import " not in c["source"] else "imports"
            seen_import = seen_import or phase == "imports"
            wall[phase] += c["wall"]
            cpu[phase] += c["cpu"]
        for d, kind in ((wall, "wall"), (cpu, "cpu")):
            for phase in ("load", "charts"):
                d[phase] = min(rec[f"{phase}_{kind}"], d["compute"])
                d["compute"] -= d[phase]
        wall["kernel"] = step["duration_s"] - sum(c["wall"] for c in rec["cells"])
        cpu["kernel"] = rec["boot_cpu"]
        wall["nbconvert"] = cpu["nbconvert"] = html.get(name, 0.0)
        out[name] = {ph: (wall[ph], cpu[ph]) for ph in PHASES}
    found = re.search(r"workbook written in ([\d.]+) s", log)
    book = float(found[1]) if found else 0.0
    out["(run) workbook"] = {**{ph: (0.0, 0.0) for ph in PHASES}, "compute": (book, book)}
    return out


def phase_table(phases: dict[str, dict[str, tuple[float, float]]], wall: float,
                cpu: float | None = None) -> str:
    """Seconds per notebook and phase, wall and CPU (notebooks overlap: rows sum to more than
    the run's wall time)."""
    lines = []
    for i, kind in enumerate(("wall", "CPU")):
        lines.append(f"{kind + ' seconds per notebook':<26}" + "".join(f"{p:>10}" for p in PHASES)
                     + f"{'total':>9}")
        for name, row in [*phases.items(), ("sum", {p: tuple(sum(r[p][j] for r in phases.values())
                                                           for j in (0, 1)) for p in PHASES})]:
            lines.append(f"{name:<26}" + "".join(f"{row[p][i]:>10.1f}" for p in PHASES)
                         + f"{sum(row[p][i] for p in PHASES):>9.1f}")
    spent = f", CPU of all its processes {cpu:.1f} s" if cpu is not None else ""
    lines.append(f"(wall time of the whole run {wall:.1f} s{spent}, load average "
                 f"{os.getloadavg()[0]:.1f}; on 2 cores 60 s of wall needs well under 120 s of CPU)")
    return "\n".join(lines)


def pipeline(rows: int, watched: bool = True) -> tuple[float, float, str, str]:
    """`cx run` on the sample of `rows` (cleaning included): wall seconds, peak MB of the
    process tree (0 when not `watched`), status, and the table of seconds per notebook and
    phase (with the CPU seconds of every process of the run: the runner and its kernels, reaped).

    The watcher reads every process's smaps_rollup five times a second: at 1M about 40 ms of
    kernel time a sample, a sixth of a core taken from the run on two cores. So the wall time
    that counts is a run nobody watches (`watched` False); the peak comes from a watched one."""
    import resource
    import tempfile
    d = data_dir(rows, clean=False)
    raw = d / "raw"
    export = raw / ("survey_export" if (raw / "survey_export").is_dir() else "survey_export.csv")
    inv = raw / ("invitations" if (raw / "invitations").is_dir() else "invitations.csv")
    cmd = [str(BIN / "cx"), "run", "--out", str(d / "reports"), "--raw", str(export),
           "--accounts", str(raw / "accounts.csv"), "--invitations", str(inv),
           "--cx-index", str(raw / "cx_index.csv"), "--prices", str(raw / "prices.csv")]
    peak = [0]
    timing = Path(tempfile.mkdtemp(prefix="cx-bench-"))
    _TIMING[0] = timing
    env = {**os.environ, "CX_DATA_DIR": str(d), "IPYTHONDIR": str(IPYTHON), "CX_TIMING_DIR": str(timing)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    at_peak: list[dict[str, int]] = [{}]  # PSS by process at the peak
    each: dict[str, int] = {}  # each process's own peak
    after_cleaning = [0]  # the tree's peak once 01 (the cleaning) has ended

    def watch() -> None:
        while proc.poll() is None:
            parts: dict[str, int] = {}
            total = _tree_memory(proc.pid, parts)
            if total > peak[0]:
                peak[0], at_peak[0] = total, parts
            for k, v in parts.items():
                each[k] = max(each.get(k, 0), v)
            if "01_clean_survey" in each and "01_clean_survey" not in parts:
                after_cleaning[0] = max(after_cleaning[0], total)
            time.sleep(0.2)

    t = threading.Thread(target=watch, daemon=True)
    if watched:
        t.start()
    _, err = proc.communicate()
    if watched:
        t.join()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    status = "succeeded" if proc.returncode == 0 else f"failed ({err.strip().splitlines()[-1:]})"
    runs = sorted(p for p in (d / "reports").glob("2*") if p.is_dir())
    table = phase_table(notebook_phases(runs[-1], timing), wall, cpu) if runs else ""
    if not watched:
        return wall, 0.0, status, table
    table += "\npeak PSS by process: " + ", ".join(
        f"{k} {v / 2**20:.0f} MB" for k, v in sorted(at_peak[0].items(), key=lambda kv: -kv[1]))
    table += (f"\npeak PSS after the cleaning {after_cleaning[0] / 2**20:.0f} MB; each process's own "
              "peak: " + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in each.items()))
    shutil.rmtree(timing, ignore_errors=True)
    return wall, peak[0] / 2**20, status, table


def replicated(rows: int, base_rows: int = 1_000_000) -> Path:
    """build/bench-data/<rows>-ooc: the cleaned `base_rows` sample repeated until `rows`, copy k
    with "_k" appended to every response, contact and account id (the accounts table repeated
    alike), one copy in memory at a time, written as responses.parquet/wave=<wave>/ parts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    d = DATA / f"{rows}-ooc"
    out, base = d / "processed", data_dir(base_rows) / "processed"
    if (out / "complete").exists():
        return d
    shutil.rmtree(out, ignore_errors=True)
    (out / "responses.parquet").mkdir(parents=True)
    for f in base.iterdir():
        if f.is_file() and f.name not in ("responses.parquet", "accounts.parquet"):
            shutil.copy(f, out / f.name)

    def renamed(t: pa.Table, k: int, ids: tuple[str, ...]) -> pa.Table:
        for c in ids:
            typ = t.schema.field(c).type
            t = t.set_column(t.column_names.index(c), c, pc.binary_join_element_wise(
                t[c], pa.scalar(f"{k}", typ), pa.scalar("_", typ)))
        return t

    accounts, responses = pq.read_table(base / "accounts.parquet"), pq.read_table(
        base / "responses.parquet")
    waves = {w: responses.filter(pc.equal(responses["wave"], w))
             for w in pc.unique(responses["wave"]).to_pylist()}
    copies = -(-rows // len(responses))
    with pq.ParquetWriter(out / "accounts.parquet", accounts.schema) as writer:
        for k in range(copies):
            writer.write_table(renamed(accounts, k, ("account_id",)))
    left = rows
    for k in range(copies):
        for wave, t in waves.items():
            part = renamed(t.slice(0, left), k, ("response_id", "contact_key", "account_id"))
            left -= len(part)
            (out / "responses.parquet" / f"wave={wave}").mkdir(exist_ok=True)
            pq.write_table(part, out / "responses.parquet" / f"wave={wave}" / f"part-{k:04d}.parquet")
    (out / "complete").write_text(f"{rows}\n")
    return d


def outofcore(rows: int, only: list[str]) -> None:
    """The steps (those whose names start with one of `only`; all without) on `rows` responses
    made by :func:`replicated`, in a fresh process: seconds per step, wall, peak, disk."""
    t0 = time.perf_counter()
    d = replicated(rows)
    made = time.perf_counter() - t0
    disk = sum(f.stat().st_size for f in (d / "processed").rglob("*") if f.is_file()) / 2**30
    print(f"{rows:,} responses out of core: data made in {made:.0f} s, {disk:.1f} GB on disk "
          f"({d / 'processed'})", flush=True)
    peak, step_peak, loads = [0], [0], []
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", STEPS_CODE, *only], cwd=ROOT, text=True,
                            env={**os.environ, "CX_DATA_DIR": str(d)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def watch() -> None:
        while proc.poll() is None:
            now = _tree_memory(proc.pid)
            peak[0], step_peak[0] = max(peak[0], now), max(step_peak[0], now)
            loads.append(os.getloadavg()[0])
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()
    assert proc.stdout is not None
    lines = []
    for x in proc.stdout:   # each step as it ends: a run stopped early still shows how far
        lines.append(x)
        if x.startswith(("STEP ", "Traceback")) or "out of core" in x or "Error" in x:
            at = (f" (peak {step_peak[0] / 2**20:,.0f} MB, load {os.getloadavg()[0]:.1f})"
                  if x.startswith("STEP ") else "")
            print(f"  {time.perf_counter() - t0:6.0f} s  {x.strip()}{at}", flush=True)
            step_peak[0] = 0
    proc.wait()
    wall = time.perf_counter() - t0
    status = "succeeded" if proc.returncode == 0 and any(x.startswith("STEPS ") for x in lines) \
        else f"failed (exit {proc.returncode})"
    print(f"steps on {rows:,} responses out of core ({status}): {wall:.0f} s wall, peak "
          f"{peak[0] / 2**20:.0f} MB (process tree, PSS), load average "
          f"{min(loads, default=0):.1f}-{max(loads, default=0):.1f}", flush=True)


def whole_pipeline(n: int, one_run: bool) -> None:
    """Print `cx run` on `n` responses against its targets: the wall time of a run nobody
    watches, then the peak memory of a watched run (`one_run`: both from the watched run)."""
    t_s, t_mb = PIPELINE_TARGETS.get(n, (3600.0, 24 * 1024.0))
    timed = None if one_run else pipeline(n, watched=False)
    if timed is not None:
        print(f"\n(run nobody watches)\n{timed[3]}\n", flush=True)
    wall, peak, status, table = pipeline(n)
    print(f"\n(run watched for memory)\n{table}\n", flush=True)
    if timed is not None:
        print(f"cx run with the memory watcher: {wall:.1f} s", flush=True)
        wall, status = timed[0], timed[2] if timed[2] != "succeeded" else status
    verdict = "met" if wall < t_s and peak < t_mb and status == "succeeded" else "MISSED"
    timing = "one watched run" if timed is None else "wall of the run nobody watches"
    print(f"cx run, whole pipeline on {n:,} responses ({status}): {wall:.1f} s ({timing}; "
          f"target < {t_s:g} s), peak {peak:.0f} MB (target < {t_mb:g} MB): {verdict}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="100000,1000000", help="comma-separated sample sizes")
    ap.add_argument("--pipeline", default="200000", help="sizes for a whole cx run ('' = none)")
    ap.add_argument("--million", action="store_true", help="also cx run on 1M responses (issue 25)")
    ap.add_argument("--no-pipeline", action="store_true")
    ap.add_argument("--one-run", action="store_true",
                    help="time the pipeline on the run watched for memory (half the time; "
                         "the watcher's reads slow it by a few %%)")
    ap.add_argument("--outofcore", type=int, default=0,
                    help="responses made from the 1M sample, the steps out of core (0 = none)")
    ap.add_argument("--outofcore-steps", default="",
                    help="comma-separated step-name prefixes to run out of core ('' = all)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.rows.split(",") if x]
    table: dict[int, dict[str, float]] = {}
    for n in sizes:
        table[n] = steps(n)
        target = max(10.0, STEP_TARGET_1M * n / 1_000_000)
        for name, s in table[n].items():
            print(f"{name} @ {n:,}: {s:.2f} s (target < {target:g} s)", flush=True)
    names = list(dict.fromkeys(k for t in table.values() for k in t))
    print("\nseconds per step" + "".join(f"{n:>14,}" for n in sizes))
    for name in names:
        print(f"{name:<34}" + "".join(f"{table[n].get(name, float('nan')):>14.2f}" for n in sizes))
    runs = [int(x) for x in args.pipeline.split(",") if x] + ([1_000_000] if args.million else [])
    for n in ([] if args.no_pipeline else list(dict.fromkeys(runs))):
        whole_pipeline(n, args.one_run)
    if args.outofcore:
        outofcore(args.outofcore, [x for x in args.outofcore_steps.split(",") if x])
    print(f"load average {os.getloadavg()[0]:.1f} (wall times grow with load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
