"""Tests of helpers.reporting.scheduler: dependency order, skips with reasons, the parallel limit."""

from __future__ import annotations

import threading
import time

import pytest

from helpers.reporting.manifest import Status
from helpers.reporting.scheduler import Job, run_jobs


def _recorder(fail: set[str] = frozenset(), pause: float = 0.0):
    started: list[str] = []
    running, peak = [0], [0]
    lock = threading.Lock()

    def run(job: Job) -> Status:
        with lock:
            started.append(job.name)
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(pause)
        with lock:
            running[0] -= 1
        return Status.FAILED if job.name in fail else Status.SUCCEEDED

    return run, started, peak


def test_needs_run_first_and_failures_skip_dependants_with_a_reason() -> None:
    jobs = [Job("clean"), Job("segments", ("clean",)), Job("drivers", ("clean",)),
            Job("summary", ("segments", "drivers"))]
    run, started, _ = _recorder(fail={"drivers"})
    skipped: dict[str, str] = {}
    status = run_jobs(jobs, run, parallel=2, on_skip=lambda j, why: skipped.update({j.name: why}))
    assert started[0] == "clean" and set(started) == {"clean", "segments", "drivers"}
    assert status == {"clean": Status.SUCCEEDED, "segments": Status.SUCCEEDED,
                      "drivers": Status.FAILED, "summary": Status.SKIPPED}
    assert skipped == {"summary": "needs drivers (failed)"}


def test_at_most_parallel_jobs_at_once_and_all_independent_jobs_overlap() -> None:
    jobs = [Job(f"j{i}") for i in range(5)]
    run, _, peak = _recorder(pause=0.05)
    assert set(run_jobs(jobs, run, parallel=2).values()) == {Status.SUCCEEDED}
    assert peak[0] == 2
    run, _, peak = _recorder(pause=0.05)
    run_jobs(jobs, run, parallel=1)
    assert peak[0] == 1


def test_skips_cascade_and_unknown_needs_are_ignored() -> None:
    jobs = [Job("a"), Job("b", ("a",)), Job("c", ("b", "not-in-batch"))]
    run, started, _ = _recorder(fail={"a"})
    assert run_jobs(jobs, run) == {"a": Status.FAILED, "b": Status.SKIPPED, "c": Status.SKIPPED}
    assert started == ["a"]


def test_an_exception_in_a_job_stops_the_run_and_propagates() -> None:
    def run(job: Job) -> Status:
        if job.name == "b":
            raise KeyboardInterrupt
        return Status.SUCCEEDED

    with pytest.raises(KeyboardInterrupt):
        run_jobs([Job("a"), Job("b"), Job("c", ("b",))], run)


def test_jobs_waiting_on_each_other_are_refused() -> None:
    with pytest.raises(ValueError, match="wait on each other"):
        run_jobs([Job("a", ("b",)), Job("b", ("a",))], lambda j: Status.SUCCEEDED)


def test_expected_starts_follow_slots_and_needs() -> None:
    from helpers.reporting.scheduler import expected_starts
    upcoming = [Job("b", ("a",)), Job("c", ("a",)), Job("d", ("b",))]
    durations = {"a": 30.0, "b": 10.0, "c": 20.0, "d": 5.0}
    assert expected_starts(upcoming, {"a": 25.0}, durations, 2) == {"b": 5.0, "c": 5.0, "d": 15.0}
    assert expected_starts(upcoming, {"a": 25.0}, {}, 2) == {"b": 0.0, "c": 0.0, "d": 0.0}


def test_on_wait_sees_upcoming_jobs_without_failed_needs_and_sets_the_wait() -> None:
    seen: list[tuple[list[str], list[str]]] = []

    def on_wait(upcoming: list[Job], running: dict[str, float]) -> float:
        assert all(s >= 0 for s in running.values())
        seen.append(([j.name for j in upcoming], sorted(running)))
        return 0.01  # woken while the job still runs

    run, _, _ = _recorder(fail={"a"}, pause=0.05)
    run_jobs([Job("a"), Job("b", ("a",)), Job("c")], run, parallel=1, on_wait=on_wait)
    assert seen[0] == (["b", "c"], ["a"]) and len(seen) > 2
    assert (["c"], ["a"]) not in seen and seen[-1] == ([], ["c"])  # b: a failed


def test_critical_path_order_starts_the_longest_chain_first_and_ends_sooner() -> None:
    from helpers.reporting.scheduler import by_critical_path, expected_starts
    # the pipeline's shape at 1M responses: one long notebook with a follower, shorter ones
    jobs = [Job("clean"), Job("segments", ("clean",)), Job("drivers", ("clean",)),
            Job("leaders", ("clean",)), Job("integrity", ("clean",)),
            Job("briefing", ("clean", "drivers")), Job("programme", ("clean",)),
            Job("follow_up", ("clean",)),
            Job("summary", ("clean", "segments", "drivers", "leaders", "integrity", "programme"))]
    took = {"clean": 23, "segments": 21, "drivers": 35, "leaders": 9, "integrity": 8.5,
            "briefing": 6.6, "programme": 11.4, "follow_up": 2.8, "summary": 1.4}
    ordered = by_critical_path(jobs, took)
    assert [j.name for j in ordered] == ["clean", "drivers", "segments", "programme", "leaders",
                                         "integrity", "briefing", "follow_up", "summary"]

    def end(order: list[Job]) -> float:  # when the last job ends, two at a time
        starts = expected_starts(order, {}, took, 2)
        return max(starts[j.name] + took[j.name] for j in order)

    assert end(ordered) < end(jobs) - 1.5
    assert by_critical_path(jobs, {}) == jobs  # a first run: the listed order
    run, started, _ = _recorder()
    run_jobs(ordered, run, parallel=1)
    assert started == [j.name for j in ordered]


def test_critical_path_order_refuses_a_cycle() -> None:
    from helpers.reporting.scheduler import by_critical_path
    with pytest.raises(ValueError, match="wait on each other"):
        by_critical_path([Job("a", ("b",)), Job("b", ("a",))], {"a": 1.0})
