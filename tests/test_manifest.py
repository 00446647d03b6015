"""The run manifest model (helpers.reporting.manifest): manifests written by earlier versions
read back unchanged, statuses keep their strings on disk, and a run closes the way it ended."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.reporting import manifest
from helpers.reporting.manifest import RunManifest, Status, StepRecord

#: A finished run's manifest.json as the runner wrote it before the model existed (trimmed).
OLDER = {
    "run_id": "20261123T061500Z-ab12cd3", "status": "failed", "pid": 4242, "host": "cx-reports",
    "started_at": "2026-11-23T06:15:00Z", "finished_at": "2026-11-23T06:17:12Z",
    "duration_s": 132.5, "git": {"commit": "ab12cd3" + "0" * 33, "dirty": False},
    "params_file": "config/params.yaml", "pipeline_file": "config/pipeline.yaml",
    "parameters": {"02_segments": {"min_n": 10, "run_dir": "reports/20261123T061500Z-ab12cd3"}},
    "overrides": {"02_segments": {"min_n": 10}},
    "inputs": {"config/params.yaml": "e" * 64}, "packages": {"python": "3.11.7", "pandas": None},
    "notebooks": [
        {"name": "02_segments", "status": "succeeded", "needs": [], "duration_s": 20.1,
         "error": None, "reason": None, "ipynb": "02_segments.ipynb", "html": "02_segments.html",
         "pdf": None},
        {"name": "04_leaders_vs_laggards", "status": "failed", "needs": ["02_segments"],
         "duration_s": 3.0, "error": "ValueError: boom (cell [12])", "reason": None,
         "ipynb": "04_leaders_vs_laggards.ipynb", "html": "04_leaders_vs_laggards.html",
         "pdf": None},
        {"name": "06_executive_summary", "status": "skipped", "needs": ["04_leaders_vs_laggards"],
         "duration_s": None, "error": None, "reason": "needs 04_leaders_vs_laggards (failed)",
         "ipynb": None, "html": None, "pdf": None, "pdf_note": "PDF skipped"}],
    "workbook": None,
    "page_checks": [{"page": "index.html", "ok": True, "problems": [], "screenshot": None}],
    "delivery": ["delivery skipped (--no-send)"],
    "archived_by": "a later version",  # a key this version does not know
}


def test_statuses_are_stored_as_the_strings_earlier_runs_wrote() -> None:
    assert [s.value for s in Status] == ["pending", "running", "succeeded", "failed", "skipped",
                                         "unknown"]
    assert Status.of("succeeded") is Status.SUCCEEDED and Status.of("exploded") is Status.UNKNOWN
    assert json.dumps({"status": Status.FAILED}) == '{"status": "failed"}'


def test_an_earlier_manifest_reads_and_writes_back_unchanged(tmp_path: Path) -> None:
    folder = tmp_path / OLDER["run_id"]
    folder.mkdir()
    (folder / manifest.FILE).write_text(json.dumps(OLDER, indent=2))
    doc = manifest.read(folder)
    assert doc.status is Status.FAILED and not doc.succeeded
    assert doc.step("06_executive_summary").status is Status.SKIPPED
    assert doc.step("04_leaders_vs_laggards").needs == ("02_segments",)
    manifest.write(folder, doc)
    assert json.loads((folder / manifest.FILE).read_text()) == OLDER
    assert list(doc.to_json()) == list(OLDER)  # same keys in the same order


def test_a_minimal_or_odd_manifest_reads_with_defaults(tmp_path: Path) -> None:
    doc = RunManifest.from_json({"status": "running", "pid": "x", "duration_s": "slow",
                                 "notebooks": [{"name": "a"}, "junk"]}, run_id="r1")
    assert (doc.run_id, doc.status, doc.pid, doc.duration_s) == ("r1", Status.RUNNING, None, None)
    assert doc.notebooks == [StepRecord(name="a", status=Status.UNKNOWN)]
    assert doc.started_at is None and doc.workbook is None and "workbook" not in doc.to_json()
    (tmp_path / manifest.FILE).write_text("[1, 2]")
    try:
        manifest.read(tmp_path)
    except ValueError as exc:
        assert "not a JSON object" in str(exc)
    else:
        raise AssertionError("a JSON list was read as a manifest")


def test_a_run_closes_as_it_ended() -> None:
    def run(*states: Status) -> RunManifest:
        return RunManifest(run_id="r", notebooks=[StepRecord(name=f"n{i}", status=s)
                                                  for i, s in enumerate(states)])

    ok = run(Status.SUCCEEDED, Status.SUCCEEDED)
    ok.close()
    assert ok.status is Status.SUCCEEDED
    bad = run(Status.SUCCEEDED, Status.SKIPPED)
    bad.close()
    assert bad.status is Status.FAILED
    stopped = run(Status.SUCCEEDED, Status.RUNNING, Status.PENDING)
    stopped.interrupt("interrupted: SystemExit: 143")
    stopped.close()  # an interrupted run stays failed
    assert stopped.status is Status.FAILED and stopped.error == "interrupted: SystemExit: 143"
    assert [(r.status, r.error, r.reason) for r in stopped.notebooks] == [
        (Status.SUCCEEDED, None, None), (Status.FAILED, "interrupted: SystemExit: 143", None),
        (Status.SKIPPED, None, "interrupted: SystemExit: 143")]
