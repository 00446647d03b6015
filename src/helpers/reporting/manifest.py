"""The run manifest, ``reports/<run-id>/manifest.json``, as a typed model.

A :class:`RunManifest` holds what a run is (id, process, commit, checksums of its inputs,
parameters, package versions), how it went (:class:`Status`) and one :class:`StepRecord` per
notebook. The runner keeps it current on disk while it works; the run index, delivery, the
workbook and the next run (which closes runs a dead process left "running") read it back with
:func:`read`. The JSON keeps the keys and status strings of earlier runs, so their manifests
still read; keys this model does not know are kept as they were.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from helpers import catalog

FILE = "manifest.json"


class Status(StrEnum):
    """State of a run or of one notebook in it (the strings stored in manifest.json)."""

    PENDING = "pending"      # a notebook waiting for the notebooks it needs
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"      # a notebook not run: a notebook it needs did not succeed
    UNKNOWN = "unknown"      # a manifest without a status, or with one this version does not know

    @classmethod
    def of(cls, value: object) -> Status:
        """The status stored as `value` (UNKNOWN for anything else)."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass
class StepRecord:
    """One notebook of a run: its state, duration, error or skip reason, and the files it left
    in the run folder (executed notebook, HTML, PDF; names relative to the folder)."""

    name: str
    needs: tuple[str, ...] = ()
    status: Status = Status.PENDING
    duration_s: float | None = None
    error: str | None = None
    reason: str | None = None
    ipynb: str | None = None
    html: str | None = None
    pdf: str | None = None
    pdf_note: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name, "status": str(self.status), "needs": list(self.needs),
            "duration_s": self.duration_s, "error": self.error, "reason": self.reason,
            "ipynb": self.ipynb, "html": self.html, "pdf": self.pdf}
        if self.pdf_note is not None:
            doc["pdf_note"] = self.pdf_note
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StepRecord:
        return cls(name=str(doc.get("name", "")), needs=tuple(map(str, doc.get("needs") or ())),
                   status=Status.of(doc.get("status")), duration_s=_number(doc.get("duration_s")),
                   error=_text(doc.get("error")), reason=_text(doc.get("reason")),
                   ipynb=_text(doc.get("ipynb")), html=_text(doc.get("html")),
                   pdf=_text(doc.get("pdf")), pdf_note=_text(doc.get("pdf_note")))


#: Keys written in this order by :meth:`RunManifest.to_json`; optional ones only when set (and
#: ``workbook`` always once the run has finished, as earlier versions wrote it).
_KEYS = ("run_id", "status", "pid", "host", "started_at", "finished_at", "duration_s", "git",
         "params_file", "pipeline_file", "parameters", "overrides", "inputs", "packages")
_OPTIONAL = ("study", "error", "workbook", "workbook_note", "page_checks", "delivery")


@dataclass
class RunManifest:
    """One run: identity and provenance, its status and its notebooks (see the module doc)."""

    run_id: str
    study: str | None = None              # the survey programme (helpers.reporting.studies)
    # how it went
    status: Status = Status.RUNNING
    notebooks: list[StepRecord] = field(default_factory=list)
    error: str | None = None              # why the run as a whole failed (an interruption)
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None
    # who ran it on what: the process, the code, the settings, the inputs
    pid: int | None = None
    host: str | None = None
    git: dict[str, Any] = field(default_factory=dict)
    params_file: str | None = None
    pipeline_file: str | None = None
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # file -> SHA-256
    packages: dict[str, str | None] = field(default_factory=dict)
    # what came after the notebooks
    workbook: str | None = None
    workbook_note: str | None = None
    page_checks: list[dict[str, Any]] | None = None
    delivery: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept as read

    def step(self, name: str) -> StepRecord:
        """The record of notebook `name` (KeyError when the run has none)."""
        for record in self.notebooks:
            if record.name == name:
                return record
        raise KeyError(name)

    @property
    def succeeded(self) -> bool:
        return self.status is Status.SUCCEEDED

    def close(self) -> None:
        """A run still running ends succeeded when every notebook succeeded, else failed."""
        if self.status is Status.RUNNING:
            ok = all(r.status is Status.SUCCEEDED for r in self.notebooks)
            self.status = Status.SUCCEEDED if ok else Status.FAILED

    def interrupt(self, reason: str) -> None:
        """The run stopped before its end: failed, its running notebooks failed and its waiting
        ones skipped, each with `reason`."""
        self.status, self.error = Status.FAILED, reason
        for record in self.notebooks:
            if record.status is Status.RUNNING:
                record.status, record.error = Status.FAILED, reason
            elif record.status is Status.PENDING:
                record.status, record.reason = Status.SKIPPED, reason

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {key: getattr(self, key) for key in _KEYS}
        doc["status"] = str(self.status)
        doc["notebooks"] = [r.to_json() for r in self.notebooks]
        doc.update({key: getattr(self, key) for key in _OPTIONAL
                    if getattr(self, key) is not None
                    or (key == "workbook" and self.finished_at is not None)})
        doc.update({k: v for k, v in self.extra.items() if k not in doc})
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], run_id: str = "") -> RunManifest:
        """The manifest stored as `doc` (missing keys take their defaults; `run_id` is the id
        when the document has none, e.g. the folder's name)."""
        def mapping(key: str) -> dict[str, Any]:
            value = doc.get(key)
            return dict(value) if isinstance(value, Mapping) else {}

        pid = doc.get("pid")
        steps = doc.get("notebooks")
        book = doc.get("workbook")
        return cls(
            run_id=str(doc.get("run_id") or run_id), status=Status.of(doc.get("status")),
            study=_text(doc.get("study")),
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            host=_text(doc.get("host")), started_at=_text(doc.get("started_at")),
            finished_at=_text(doc.get("finished_at")), duration_s=_number(doc.get("duration_s")),
            git=mapping("git"), params_file=_text(doc.get("params_file")),
            pipeline_file=_text(doc.get("pipeline_file")), parameters=mapping("parameters"),
            overrides=mapping("overrides"), inputs=mapping("inputs"), packages=mapping("packages"),
            notebooks=[StepRecord.from_json(s) for s in (steps if isinstance(steps, list) else [])
                       if isinstance(s, Mapping)],
            error=_text(doc.get("error")), workbook=book if isinstance(book, str) else None,
            workbook_note=_text(doc.get("workbook_note")),
            page_checks=doc.get("page_checks") if isinstance(doc.get("page_checks"), list) else None,
            delivery=doc.get("delivery") if isinstance(doc.get("delivery"), list) else None,
            extra={k: v for k, v in doc.items() if k not in (*_KEYS, "notebooks", *_OPTIONAL)})


def read(run_dir: str | Path) -> RunManifest:
    """The manifest of the run in `run_dir` (OSError when there is none, ValueError when it is
    not a JSON object)."""
    folder = Path(run_dir)
    doc = json.loads((folder / FILE).read_text(encoding="utf-8"))
    if not isinstance(doc, Mapping):
        raise ValueError(f"{folder / FILE}: not a JSON object")
    return RunManifest.from_json(doc, run_id=folder.name)


def write(run_dir: str | Path, manifest: RunManifest) -> Path:
    """Write `manifest` to ``<run_dir>/manifest.json`` atomically (readers never see half) and
    world-readable, as every file of a run (a web server serves them)."""
    target = Path(run_dir) / FILE
    catalog.atomic_write_bytes(target, json.dumps(manifest.to_json(), indent=2, default=str)
                               .encode("utf-8"))
    target.chmod(0o644)
    return target
