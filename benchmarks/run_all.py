"""`make bench`: run every benchmarks/bench_*.py, one after the other, and summarise the targets.

Each script runs as its own child process from the project root (never two at once: on a shared
2-core machine parallel benchmarks measure each other). Its lines are printed as they come; at the
end a table lists every target line ("<name>: <seconds> s (target < X s), peak <MB> MB ...") with
whether the time and, when a line states one, the memory target were met, followed by each
script's status, wall time, CPU time (user + sys, from os.wait4) and peak resident memory.

    .venv/bin/python benchmarks/run_all.py [-k PATTERN] [--timeout SECONDS] [--strict] [--list]

Exit code: 1 when a script failed or timed out (or, with --strict, when a target was missed).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LINE = re.compile(r"^(?P<name>.+?): (?P<s>\d+(?:\.\d+)?) s \(target < (?P<t>\d+(?:\.\d+)?) s\)"
                  r"(?:.*?peak (?P<mb>\d+(?:\.\d+)?) MB(?: \(target < (?P<tmb>\d+(?:\.\d+)?) MB\))?)?")


@dataclass
class Target:
    """One parsed benchmark line."""

    script: str
    name: str
    seconds: float
    target_s: float
    peak_mb: float | None
    target_mb: float | None

    @property
    def met(self) -> bool:
        mem_ok = self.target_mb is None or self.peak_mb is None or self.peak_mb < self.target_mb
        return self.seconds < self.target_s and mem_ok


@dataclass
class ScriptResult:
    """How one benchmark script ran."""

    script: str
    status: str = "ok"
    wall: float = 0.0
    cpu: float = 0.0
    peak_mb: float = 0.0
    lines: list[str] = field(default_factory=list)
    error: str = ""


def parse(script: str, line: str) -> Target | None:
    """A Target from a benchmark line, or None when the line states no time target."""
    m = LINE.match(line.strip())
    if not m:
        return None
    mb, tmb = (float(m.group(g)) if m.group(g) else None for g in ("mb", "tmb"))
    return Target(script, m.group("name"), float(m.group("s")), float(m.group("t")), mb, tmb)


def run_script(path: Path, timeout: float) -> ScriptResult:
    """Run one script, echoing its output; wall, CPU and peak RSS of the child (os.wait4)."""
    res = ScriptResult(path.name)
    err_lines: list[str] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1, start_new_session=True)

    def pump(stream, sink: list[str], echo: bool) -> None:
        for raw in stream:
            sink.append(raw.rstrip("\n"))
            if echo:
                print(f"  {raw.rstrip()}", flush=True)

    readers = [threading.Thread(target=pump, args=(proc.stdout, res.lines, True), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err_lines, False), daemon=True)]
    for r in readers:
        r.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGTERM)  # the group this run started (its own session)
            for _ in range(50):
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.2)
            else:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
            res.status = f"timeout after {timeout:g} s"
            break
        time.sleep(0.2)
    for r in readers:
        r.join(timeout=5)
    res.wall = time.perf_counter() - t0
    res.cpu = usage.ru_utime + usage.ru_stime
    res.peak_mb = usage.ru_maxrss / 1024
    code = os.waitstatus_to_exitcode(status)
    if res.status == "ok" and code != 0:
        res.status = f"failed (exit {code})"
    if res.status != "ok":
        res.error = " | ".join(line for line in err_lines[-4:] if line.strip())
    return res


def summary(results: list[ScriptResult]) -> tuple[str, int]:
    """The summary table and the number of missed targets."""
    targets = [t for r in results for line in r.lines if (t := parse(r.script, line))]
    width = min(70, max([len(t.name) for t in targets] + [6]))
    out = [f"{'target':<{width}}  {'seconds':>8}  {'limit':>6}  {'peak MB':>8}  {'limit':>6}  result"]
    for t in targets:
        name = t.name if len(t.name) <= width else t.name[:width - 1] + "…"
        peak = f"{t.peak_mb:.0f}" if t.peak_mb is not None else "-"
        limit_mb = f"{t.target_mb:g}" if t.target_mb is not None else "-"
        out.append(f"{name:<{width}}  {t.seconds:>8.2f}  {t.target_s:>6g}  {peak:>8}  {limit_mb:>6}  "
                   f"{'ok' if t.met else 'MISSED'}")
    missed = sum(not t.met for t in targets)
    out.append("")
    out.append(f"{'script':<24}  {'status':<22}  {'wall s':>7}  {'cpu s':>7}  {'peak MB':>8}")
    for r in results:
        out.append(f"{r.script:<24}  {r.status:<22}  {r.wall:>7.1f}  {r.cpu:>7.1f}  {r.peak_mb:>8.0f}"
                   + (f"  {r.error}" if r.error else ""))
    out.append("")
    out.append(f"{len(targets) - missed} of {len(targets)} targets met, {missed} missed; "
               f"{sum(r.status != 'ok' for r in results)} of {len(results)} scripts failed; "
               f"load average now {os.getloadavg()[0]:.1f} (wall times grow with load, CPU times much less)")
    return "\n".join(out), missed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", dest="pattern", default="", help="only scripts whose name contains this")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per script (default 1800)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = ap.parse_args(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if args.pattern in p.name)
    if args.list or not scripts:
        print("\n".join(p.name for p in scripts) or "no benchmark scripts match")
        return 0 if scripts else 1
    results = []
    for path in scripts:
        print(f"== {path.name}", flush=True)
        results.append(run_script(path, args.timeout))
        if results[-1].status != "ok":
            print(f"  {path.name}: {results[-1].status}: {results[-1].error}", flush=True)
    table, missed = summary(results)
    print("\n" + table)
    failed = any(r.status != "ok" for r in results)
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
