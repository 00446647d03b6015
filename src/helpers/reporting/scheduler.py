"""Run named jobs in dependency order, a few at a time: the report pipeline's scheduler.

A job starts once every job it needs has finished; a job whose needs did not all succeed is
skipped with a reason instead of run; at most `parallel` jobs run at once (threads of this one
process, so kernels started by the jobs share one port cache). Needs that name no job of the
batch are ignored. An exception in a job (e.g. an interrupt) stops the scheduling and propagates.

With the jobs' durations of an earlier run, :func:`by_critical_path` orders the jobs so that those
heading the longest chains start first (on two cores the run ends sooner than in the listed order),
and :func:`expected_starts` says when each waiting job should start (the runner starts kernels
ahead of their notebooks from it).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from helpers.reporting.manifest import Status


@dataclass(frozen=True)
class Job:
    """One unit of work: its name, the names it needs, and anything the runner wants (payload)."""

    name: str
    needs: tuple[str, ...] = ()
    payload: Any = None


def run_jobs(jobs: Sequence[Job], run: Callable[[Job], Status], *, parallel: int = 1,
             on_start: Callable[[Job], None] = lambda job: None,
             on_skip: Callable[[Job, str], None] = lambda job, reason: None,
             on_wait: Callable[[list[Job], dict[str, float]], float | None] = lambda up, running: None,
             ) -> dict[str, Status]:
    """Run `jobs` (in their listed order where needs allow); return each job's final status.

    `run(job)` returns Status.SUCCEEDED or Status.FAILED. `on_start` is called (in the scheduling thread)
    just before a job is submitted, `on_skip(job, reason)` when a job is skipped, and
    `on_wait(upcoming, running)` whenever the scheduler waits: the jobs still to run (in order,
    none whose needs failed) and the seconds each running job has run; it returns the longest
    wait (seconds) before it is called again, or None (when a job finishes).
    """
    names = {j.name for j in jobs}
    status: dict[str, Status] = {}
    waiting = list(jobs)
    active: dict[Future[Status], Job] = {}
    began: dict[str, float] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="job")
    try:
        while waiting or active:
            batch = ready(waiting, status, names, room=max(1, parallel) - len(active))
            if not batch and not active:
                raise ValueError("jobs wait on each other: " + ", ".join(j.name for j in waiting))
            for job in batch:
                waiting.remove(job)
                blocked = [n for n in job.needs if n in names and status.get(n) is not Status.SUCCEEDED]
                if blocked:
                    status[job.name] = Status.SKIPPED
                    on_skip(job, "needs " + ", ".join(f"{n} ({status[n]})" for n in blocked))
                    continue
                on_start(job)
                began[job.name] = time.monotonic()
                active[pool.submit(run, job)] = job
            if active:
                now = time.monotonic()
                upcoming = [j for j in waiting if not any(
                    status.get(n, Status.SUCCEEDED) is not Status.SUCCEEDED for n in j.needs if n in names)]
                timeout = on_wait(upcoming, {j.name: now - began[j.name] for j in active.values()})
                done, _ = wait(active, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in done:
                    status[active.pop(future).name] = future.result()
    finally:
        pool.shutdown(wait=not active, cancel_futures=True)
    return status


def ready(waiting: Sequence[Job], status: dict[str, Status], names: set[str], room: int) -> list[Job]:
    """Waiting jobs whose needs have all finished (any status), in order, at most `room` of them
    that will actually run (a job about to be skipped takes no room)."""
    out: list[Job] = []
    for job in waiting:
        if room <= 0:
            break
        if any(n in names and n not in status for n in job.needs):
            continue
        out.append(job)
        if all(status.get(n) is Status.SUCCEEDED for n in job.needs if n in names):
            room -= 1
    return out


def expected_starts(upcoming: Sequence[Job], running: Mapping[str, float],
                    durations: Mapping[str, float], parallel: int) -> dict[str, float]:
    """Seconds from now until each of `upcoming` (in order) should start, given the seconds each
    running job has run, the jobs' `durations` (a missing one counts as 0: its start is now)
    and `parallel` slots: each job takes the first free slot once its needs are expected done."""
    finish = {name: max(0.0, durations.get(name, 0.0) - ran) for name, ran in running.items()}
    slots = sorted(finish.values()) + [0.0] * max(0, parallel - len(running))
    heapq.heapify(slots)
    starts: dict[str, float] = {}
    for job in upcoming:
        at = max([heapq.heappop(slots), *(finish.get(n, 0.0) for n in job.needs)])
        starts[job.name], finish[job.name] = at, at + durations.get(job.name, 0.0)
        heapq.heappush(slots, finish[job.name])
    return starts


def by_critical_path(jobs: Sequence[Job], durations: Mapping[str, float]) -> list[Job]:
    """`jobs` ordered by the expected seconds from each job's start to the end of the longest
    chain of jobs that need it, longest first (ties and jobs without a duration in their listed
    order); `jobs` as listed when no job has a duration (a first run)."""
    if not any(durations.get(j.name) for j in jobs):
        return list(jobs)
    needed_by: dict[str, list[str]] = {j.name: [] for j in jobs}
    for job in jobs:
        for need in job.needs:
            if need in needed_by:
                needed_by[need].append(job.name)
    chain: dict[str, float] = {}

    def length(name: str, seen: tuple[str, ...] = ()) -> float:
        if name not in chain:
            if name in seen:
                raise ValueError("jobs wait on each other: " + ", ".join((*seen, name)))
            after = [length(n, (*seen, name)) for n in needed_by[name]]
            chain[name] = durations.get(name, 0.0) + max(after, default=0.0)
        return chain[name]

    place = {j.name: i for i, j in enumerate(jobs)}
    return sorted(jobs, key=lambda j: (-length(j.name), place[j.name]))
