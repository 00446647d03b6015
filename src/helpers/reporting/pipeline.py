"""The report pipeline behind ``cx run``: validate, execute notebooks, render, record, publish.

1. Check config/params.yaml against each notebook's parameters cell and config/pipeline.yaml
   against the run contract *before* anything runs (:mod:`~helpers.reporting.run_params`): every
   problem is one one-line :class:`~helpers.errors.ConfigError`.
2. Take the lock ``reports/.lock`` (two runs never overlap), mark runs left "running" by a dead
   process as failed, create ``reports/<run-id>/`` (UTC timestamp + git sha, never reused)
   (:mod:`~helpers.reporting.run_folder`).
3. Run the notebooks with papermill (:mod:`~helpers.reporting.kernels`), each once all the
   notebooks it needs have finished, up to PARALLEL at a time from this one process
   (:mod:`~helpers.reporting.scheduler`); render each executed notebook to standalone HTML (code
   hidden) even when it failed, skip the notebooks that need a failed one, and keep
   ``manifest.json`` current (:mod:`~helpers.reporting.manifest`).
4. Write the run's workbook, rewrite ``reports/index.html``; switch ``reports/latest`` only when
   the whole run succeeded.

The command around it (options, exit codes, page checks, delivery) is
:mod:`~helpers.reporting.run_command`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import catalog, config, contract, paths
from helpers.config import PipelineConfig, RunParams
from helpers.errors import ExitCode
from helpers.reporting import (
    analyst_notes,
    kernels,
    manifest,
    render,
    run_folder,
    run_index,
    run_params,
    scheduler,
    studies,
    workbook,
)
from helpers.reporting.manifest import RunManifest, Status, StepRecord
from helpers.reporting.run_folder import relative
from helpers.reporting.run_params import PlannedStep

log = logging.getLogger("helpers.reporting.pipeline")

# Notebooks run at once when their needs are met (CX_PARALLEL_NOTEBOOKS=1 runs them one by one).
PARALLEL = kernels.PARALLEL
# Kernels started ahead of their notebooks, at most this many at once (CX_WARM_KERNELS=0: none):
# the first notebooks' as the run starts, the others' (once a notebook has finished) WARM_LEAD_S
# before their notebook should start, by the study's last run taken FASTER times as long and at
# this run's pace (at once without a last run).
WARM = max(0, int(os.environ.get("CX_WARM_KERNELS", PARALLEL)))
WARM_LEAD_S, FASTER = 8.0, 0.8


@dataclass(frozen=True)
class RunResult:
    """Outcome of one ``cx run``: where it went and how it ended."""

    run_id: str
    run_dir: Path
    status: Status  # SUCCEEDED or FAILED
    exit_code: ExitCode
    index_path: Path


def run(
    params_path: str | os.PathLike[str] = "config/params.yaml",
    out_dir: str | os.PathLike[str] | None = None,
    pipeline_path: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> RunResult:
    """Validate, then run the whole pipeline into ``<out_dir>/<run-id>/``.

    `overrides` replace notebooks' values of the params file
    (:func:`helpers.reporting.run_command.export_overrides`). Raises :class:`ConfigError`
    (nothing executed, no run folder) when the parameters do not fit the notebooks, and
    :class:`~helpers.reporting.run_folder.RunLockedError` when another run holds the lock.
    """
    run_folder.check_run_id(run_id)
    reports = catalog.refuse_raw(out_dir, "reports") if out_dir else paths.REPORTS_DIR
    params = config.with_overrides(config.load_params(params_path), overrides or {})
    pipeline = config.load_pipeline(pipeline_path or "config/pipeline.yaml")
    plan = run_params.validate(params, pipeline)
    for p in plan:
        kernels.notebook_modules(p.notebook)  # read before the run's threads start (see there)
    same = (reports / ".lock").resolve() == catalog.writer_lock_path().resolve()
    # the inputs are hashed (~1 s for a 600 MB export) while the first kernel boots
    hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checksums")
    checksums = hashing.submit(input_checksums, plan, params, pipeline)
    hashing.shutdown(wait=False)
    with run_folder.run_lock(reports), contextlib.nullcontext() if same else catalog.writer_lock():
        run_folder.mark_interrupted(reports)
        git = run_folder.git_info()
        rid, run_dir = run_folder.make_run_dir(reports, run_id, short_sha=git["short"])
        try:
            with _run_env(rid), run_folder.run_log(run_dir), kernels.kernel_folder(
                    reports, rid, [p.notebook for p in plan]):
                for first in [p for p in plan if not p.step.needs][:min(WARM, PARALLEL)]:
                    kernels.warm(first.notebook, first.step.name)  # booting while inputs are hashed
                started = _Run(rid, run_dir, reports, git["short"],
                               _new_manifest(plan, params, pipeline, run_dir, git, checksums.result()))
                return _run_locked(started, plan, pipeline)
        except OSError:
            if not (run_dir / manifest.FILE).is_file():  # nothing the index could show
                shutil.rmtree(run_dir, ignore_errors=True)
            raise


@contextlib.contextmanager
def _run_env(rid: str) -> Iterator[None]:
    """``$CX_RUN_ID`` for the run's duration: kernels inherit it, so notebooks keep the injected
    values instead of reading the params file themselves."""
    previous = os.environ.get(config.RUN_ENV)
    os.environ[config.RUN_ENV] = rid
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(config.RUN_ENV, None)
        else:
            os.environ[config.RUN_ENV] = previous


@dataclass
class _Run:
    """One run in progress: where it writes, its manifest (kept current on disk) and renderer."""

    rid: str
    run_dir: Path
    reports: Path
    short_sha: str
    manifest: RunManifest
    lock: threading.Lock = field(default_factory=threading.Lock)
    publisher: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="render"))
    rendering: list[Future[None]] = field(default_factory=list)
    ahead: workbook.Ahead | None = None  # the workbooks' sheets, made as notebooks finish
    sheets: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbook"))
    words: tuple[str, str] | None = None   # a programme without the LTR: render.programme_words

    @property
    def run_dir_value(self) -> str:
        return relative(self.run_dir)

    def save(self) -> None:
        with self.lock:
            manifest.write(self.run_dir, self.manifest)


def input_checksums(plan: list[PlannedStep], params: RunParams,
                    pipeline: PipelineConfig) -> dict[str, str]:
    """SHA-256 of the run's inputs: the params and pipeline files, the notebooks, the data files."""
    inputs: dict[str, str] = {}
    for extra in (Path(params.file), Path(pipeline.file), *(p.notebook for p in plan)):
        inputs[relative(extra)] = run_folder.sha256_path(extra)
    for p in plan:
        for f in p.inputs.values():
            inputs.setdefault(relative(f), run_folder.sha256_path(f))
    return inputs


def _new_manifest(plan: list[PlannedStep], params: RunParams, pipeline: PipelineConfig,
                  run_dir: Path, git: dict[str, Any], inputs: dict[str, str]) -> RunManifest:
    """The manifest a run starts with: inputs' checksums, parameters, packages, pending notebooks."""
    files: dict[str, Path] = {}
    for p in plan:
        for name, f in p.inputs.items():
            files.setdefault(name, f)
    return RunManifest(
        run_id=run_dir.name, status=Status.RUNNING, pid=os.getpid(), host=socket.gethostname(),
        study=studies.study_id(files),
        started_at=run_folder.now(), git={"commit": git["commit"], "dirty": git["dirty"]},
        params_file=relative(params.file), pipeline_file=relative(pipeline.file),
        parameters={p.step.name: p.effective(relative(run_dir)) for p in plan},
        overrides={p.step.name: p.overrides for p in plan},
        inputs=inputs, packages=run_folder.package_versions(),
        notebooks=[StepRecord(name=p.step.name, needs=tuple(p.step.needs)) for p in plan])


def _run_locked(run: _Run, plan: list[PlannedStep], pipeline: PipelineConfig) -> RunResult:
    """Run every notebook in dependency order (PARALLEL at a time), render, close the manifest.

    Kernels are started from this one process, whose port cache (jupyter_client LocalPortCache)
    keeps their ports apart; HTML and PDF are rendered on another thread meanwhile.
    """
    started = time.perf_counter()
    run.save()
    run_index.write_index(run.reports, pipeline.headline)
    log.info("run %s started: %d notebooks into %s", run.rid, len(plan), run.run_dir)
    durations = previous_durations(run.reports, run.manifest.study)
    run.ahead = workbook.Ahead(workbook.run_min_n(run.manifest), _currency(run.manifest))
    jobs = scheduler.by_critical_path([scheduler.Job(p.step.name, p.step.needs, p) for p in plan],
                                      durations)

    def start(job: scheduler.Job) -> None:
        run.manifest.step(job.name).status = Status.RUNNING
        run.save()

    def skip(job: scheduler.Job, reason: str) -> None:
        kernels.discard(job.name)
        record = run.manifest.step(job.name)
        record.status, record.reason = Status.SKIPPED, reason
        log.warning("%s skipped: %s", job.name, reason)
        run.save()

    try:
        scheduler.run_jobs(jobs, lambda job: _execute_step(run, job.payload), parallel=PARALLEL,
                           on_start=start, on_skip=skip,
                           on_wait=lambda upcoming, running: warm_ahead(
                               upcoming, running, durations, run.manifest))
    except BaseException as exc:
        run.manifest.interrupt(f"interrupted: {error_text(exc)}")
        raise
    finally:
        index = _finish(run, pipeline, started)
    status = run.manifest.status
    return RunResult(run_id=run.rid, run_dir=run.run_dir, status=status, index_path=index,
                     exit_code=ExitCode.OK if status is Status.SUCCEEDED else ExitCode.FAILED)


def previous_durations(reports: Path, study: str | None) -> dict[str, float]:
    """Seconds each notebook is expected to take: :data:`FASTER` times what it took in the
    study's latest successful run ({} without one)."""
    try:
        doc = manifest.read(reports / studies.latest_link(study or ""))
    except (OSError, ValueError):
        return {}
    return {n.name: n.duration_s * FASTER for n in doc.notebooks if n.duration_s}


def paced(durations: dict[str, float], doc: RunManifest) -> dict[str, float]:
    """`durations` scaled by how fast this run goes: the notebooks finished so far took this
    many times their expected seconds (a machine busier or quieter than in the last run)."""
    done = [(n.duration_s, durations[n.name]) for n in doc.notebooks
            if n.status is Status.SUCCEEDED and n.duration_s and durations.get(n.name)]
    if not done:
        return durations
    pace = sum(took for took, _ in done) / sum(expected for _, expected in done)
    return {name: seconds * pace for name, seconds in durations.items()}


def warm_ahead(upcoming: list[scheduler.Job], running: dict[str, float],
               durations: dict[str, float], doc: RunManifest) -> float | None:
    """Start the kernels of the next :data:`WARM` notebooks (by expected start, :func:`paced`)
    that should start within :data:`WARM_LEAD_S`; the seconds until another one is due (None:
    none). Not before a notebook of the run has finished: the first notebooks (the cleaning)
    hold the run's memory peak, which a kernel started ahead (~120 MB) would raise."""
    if not any(n.status in (Status.SUCCEEDED, Status.FAILED) for n in doc.notebooks):
        return None
    starts = scheduler.expected_starts(upcoming, running, paced(durations, doc), PARALLEL)
    later = []
    for job in sorted(upcoming, key=lambda j: starts[j.name])[:WARM]:
        if starts[job.name] <= WARM_LEAD_S:
            kernels.warm(job.payload.notebook, job.name)
        else:
            later.append(starts[job.name] - WARM_LEAD_S)
    return min(later, default=None)


def _execute_step(run: _Run, p: PlannedStep) -> Status:
    """Run one notebook (in a worker thread), then queue its HTML/PDF rendering; its status."""
    name = p.step.name
    record = run.manifest.step(name)
    output = run.run_dir / f"{name}.ipynb"
    parameters = dict(p.overrides)
    if "run_dir" in p.declared:
        parameters["run_dir"] = run.run_dir_value
    log.info("%s: executing %s", name, relative(p.notebook))
    t0 = time.perf_counter()
    error = None
    try:
        kernels.execute(p.notebook, output, parameters, name)
    except Exception as exc:  # noqa: BLE001 - any failure marks this notebook failed
        error = error_text(exc)
    record.duration_s, record.error = round(time.perf_counter() - t0, 3), error
    record.status = Status.FAILED if error else Status.SUCCEEDED
    if error:
        log.error("%s failed: %s", name, error)
    else:
        log.info("%s succeeded in %.1f s", name, record.duration_s)
    if output.is_file():
        record.ipynb = output.name
        run.rendering.append(run.publisher.submit(_publish, run, p, output, error))
    run.sheets.submit(_sheets_ahead, run, name)
    run.save()
    return record.status


def _sheets_ahead(run: _Run, name: str) -> None:
    """Make the workbook's sheets of the notebook `name`'s tables, and the analyst workbook once
    every notebook writing its tables has finished (a thread of their own, while notebooks run;
    a failure leaves them to the end of the run)."""
    if run.ahead is None:
        return
    t0 = time.perf_counter()
    try:
        run.ahead.add(run.run_dir, [t for t, writer in contract.TABLES.items() if writer == name])
        writers = workbook.analyst_writers() & {n.name for n in run.manifest.notebooks}
        if name in writers and all(run.manifest.step(w).status not in (Status.PENDING, Status.RUNNING)
                                   for w in writers):
            run.ahead.write_analyst(run.run_dir)
        log.info("%s: workbook sheets made in %.2f s", name, time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - the workbooks are then made at the end
        log.warning("%s: workbook sheets left to the end of the run: %s", name, error_text(exc))


def _publish(run: _Run, p: PlannedStep, output: Path, error: str | None) -> None:
    """Render one executed notebook to HTML (and PDF when asked); a rendering bug fails the notebook."""
    name = p.step.name
    record = run.manifest.step(name)
    schema_path = p.effective(run.run_dir_value).get("schema_path")
    if schema_path:  # the programme's words: the schema of this notebook (the runs' last known)
        run.words = render.programme_words(str(schema_path), run.words)
    t0 = time.perf_counter()
    try:
        if run.words is not None:
            render.write_in_programme_words(output, run.words)
        html_path = render.render_notebook_html(
            output, run.run_dir / f"{name}.html", run_id=run.rid,
            parameters=p.param_rows(run.run_dir_value), status=record.status, error=error,
            commit=run.short_sha)
        record.html = html_path.name
        log.info("%s: HTML rendered in %.2f s", name, time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a rendering bug must not hide the run
        record.status = Status.FAILED
        record.error = (error + "; " if error else "") + "HTML: " + error_text(exc)
        log.error("%s: %s", name, record.error)
    if p.step.pdf and record.html and record.status is Status.SUCCEEDED:
        pdf, message = render.print_pdf(run.run_dir / record.html, run.run_dir / f"{name}.pdf")
        record.pdf, record.pdf_note = (pdf.name if pdf else None), message
        log.info("%s: %s", name, message)
    run.save()


def _finish(run: _Run, pipeline: PipelineConfig, started: float) -> Path:
    """Wait for rendering, close the manifest, switch latest on success, rewrite the index."""
    run.publisher.shutdown(wait=True)
    run.sheets.shutdown(wait=True)
    for job in run.rendering:
        job.result()
    doc = run.manifest
    doc.close()
    _write_workbook(run.run_dir, doc, run.ahead)
    if (run.run_dir / "sections").is_dir():
        analyst_notes.write(run.run_dir)
    doc.finished_at = run_folder.now()
    doc.duration_s = round(time.perf_counter() - started, 3)
    manifest.write(run.run_dir, doc)
    if doc.succeeded:
        run_folder.switch_latest(run.reports, run.rid)
        run_folder.switch_latest(run.reports, run.rid, studies.latest_link(doc.study or ""))
    index = run_index.write_index(run.reports, pipeline.headline)
    log.info("run %s %s in %.1f s; index %s", run.rid, doc.status, doc.duration_s, index)
    return index


def _currency(doc: RunManifest) -> str:
    """The run's currency (a notebook parameter of the manifest), else USD."""
    return next((str(p["currency"]) for p in doc.parameters.values()
                 if isinstance(p, dict) and p.get("currency")), "USD")


def _write_workbook(run_dir: Path, doc: RunManifest, ahead: workbook.Ahead | None = None) -> None:
    """``tables.xlsx`` from the run's result tables (with the sheets made `ahead`); a failure
    is noted, never fatal."""
    t0 = time.perf_counter()
    try:
        book = workbook.write_workbook(run_dir, doc, currency=_currency(doc), ahead=ahead)
        doc.workbook = book.name if book else None
        log.info("workbook written in %.2f s", time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - the reports stand without the workbook
        doc.workbook = None
        doc.workbook_note = f"workbook failed: {error_text(exc)}"
        log.error("%s", doc.workbook_note)


def error_text(exc: BaseException) -> str:
    """One line (at most 500 characters) for a failure: a notebook's ``ename: evalue (cell [n])``
    from papermill, else the exception's type and message."""
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename:
        cell = getattr(exc, "exec_count", None)
        where = f" (cell [{cell}])" if cell else ""
        return " ".join(f"{ename}: {evalue}{where}".split())[:500]
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
