"""Run named jobs in dependency order, a few at a time: the report pipeline's scheduler.

A job starts once every job it needs has finished; a job whose needs did not all succeed is
skipped with a reason instead of run; at most `parallel` jobs run at once (threads of this one
process, so kernels started by the jobs share one port cache). Needs that name no job of the
batch are ignored. An exception in a job (e.g. an interrupt) stops the scheduling and propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
             on_skip: Callable[[Job, str], None] = lambda job, reason: None) -> dict[str, Status]:
    """Run `jobs` (in their listed order where needs allow); return each job's final status.

    `run(job)` returns Status.SUCCEEDED or Status.FAILED. `on_start` is called (in the scheduling thread)
    just before a job is submitted, `on_skip(job, reason)` when a job is skipped.
    """
    names = {j.name for j in jobs}
    status: dict[str, Status] = {}
    waiting = list(jobs)
    active: dict[Future[Status], Job] = {}
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
                active[pool.submit(run, job)] = job
            if active:
                done, _ = wait(active, return_when=FIRST_COMPLETED)
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
