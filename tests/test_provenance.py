"""Stale data/processed is announced or refused (helpers.ingest.provenance).

Cleaning records the export and schema it read (``cleaning_log.json``, ``built_from``). Opening a
study whose processed folder was built from another file or schema than the params file names
prints one line with the command that rebuilds it; in a `cx run` a notebook refuses processed data
that this run's notebook 01 did not write.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import cli, config, paths
from helpers.analysis import selection
from helpers.errors import DataError
from helpers.ingest import clean, provenance
from helpers.sample import program, writers

SCHEMA = paths.CONFIG_DIR / "survey.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small export cleaned outside any run, as `cx clean` does."""
    tmp = tmp_path_factory.mktemp("provenance")
    raw, processed = tmp / "raw", tmp / "processed"
    writers.write(program.generate(rows=400, seed=5), raw)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(config.RUN_ENV, raising=False)
        clean.run(raw / "survey_export.csv", SCHEMA, processed, inputs={"accounts": raw / "accounts.csv"})
    return {"tmp": tmp, "raw": raw / "survey_export.csv", "processed": processed,
            "responses": processed / "responses.parquet"}


def _params(built: dict[str, Path], name: str, **cleaning: str) -> Path:
    """A params file whose notebook 01 writes `built`'s processed folder from `cleaning`'s files."""
    section = {"raw_path": str(built["raw"]), "schema_path": str(SCHEMA),
               "accounts_path": str(built["raw"].parent / "accounts.csv"), "invitations_path": "",
               "out_dir": str(built["processed"]), "speeder_fraction": 0.33, **cleaning}
    p = built["tmp"] / name
    p.write_text(yaml.safe_dump({"notebooks": {"01_clean_survey": section}}), encoding="utf-8")
    return p


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_cleaning_records_the_export_and_schema_it_read(built):
    log = json.loads((built["processed"] / "cleaning_log.json").read_text())
    record = log["built_from"]
    assert record["raw_path"] == str(built["raw"]) and record["schema_path"] == "config/survey.yaml"
    assert record["raw_sha256"] == _sha(built["raw"]) and record["schema_sha256"] == _sha(SCHEMA)
    assert record["raw_bytes"] == built["raw"].stat().st_size and record["run_id"] is None


def test_a_folder_of_parts_records_its_parts(built, tmp_path, monkeypatch):
    parts = tmp_path / "export"
    parts.mkdir()
    shutil.copy(built["raw"], parts / "part-1.csv")
    monkeypatch.setenv(config.RUN_ENV, "20260101T000000Z-abc")
    clean.run(parts, SCHEMA, tmp_path / "processed")
    record = json.loads((tmp_path / "processed" / "cleaning_log.json").read_text())["built_from"]
    assert record["raw_path"] == str(parts) and record["run_id"] == "20260101T000000Z-abc"
    assert record["raw_sha256"] == provenance.sha256(parts) != _sha(built["raw"])


def test_silent_when_the_params_name_what_it_was_built_from(built, capsys, monkeypatch):
    params = _params(built, "same.yaml")
    assert provenance.stale_message(built["responses"], params) is None
    copy = built["tmp"] / "copy-of-export.csv"  # the same bytes elsewhere: not stale
    shutil.copy(built["raw"], copy)
    assert provenance.stale_message(built["responses"], _params(built, "copy.yaml", raw_path=str(copy))) is None
    monkeypatch.delenv(config.RUN_ENV, raising=False)
    monkeypatch.setenv(config.PARAMS_ENV, str(params))
    selection.load(str(built["responses"]), str(built["processed"] / "survey.yaml"), "config/segments.yaml")
    assert capsys.readouterr().err == ""


def test_another_export_is_announced_with_the_command_that_rebuilds(built, capsys, monkeypatch):
    other = built["tmp"] / "garden.csv"
    other.write_bytes(built["raw"].read_bytes().replace(b"2026Q3", b"2026Q4"))
    params = _params(built, "other.yaml", raw_path=str(other))
    msg = provenance.stale_message(built["responses"], params)
    assert msg is not None and "\n" not in msg
    assert f"built from {built['raw']}, but {params} names {other}" in msg
    assert "rebuild it by running notebooks/01_clean_survey.ipynb" in msg
    command = msg.split("`")[1]
    assert command.startswith(f"cx clean {other} --schema {SCHEMA} --out {built['processed']} --accounts ")
    assert "--invitations" not in command  # "" is not provided
    args = cli.build_parser().parse_args(command.split()[1:])  # a line `cx clean` accepts
    assert (args.speeder_fraction, args.out) == (0.33, str(built["processed"]))
    monkeypatch.delenv(config.RUN_ENV, raising=False)
    monkeypatch.setenv(config.PARAMS_ENV, str(params))
    selection.load(str(built["responses"]), str(built["processed"] / "survey.yaml"), "config/segments.yaml")
    assert capsys.readouterr().err == msg + "\n"  # one line, under the cell that opens the study


def test_another_schema_or_a_changed_file_is_announced(built, tmp_path):
    schema = tmp_path / "garden.yaml"
    schema.write_bytes(SCHEMA.read_bytes() + b"\n# edited\n")
    msg = provenance.stale_message(built["responses"], _params(built, "schema.yaml", schema_path=str(schema)))
    assert msg is not None and f"schema config/survey.yaml, but {built['tmp']}/schema.yaml names {schema}" in msg
    assert "built from" not in msg  # the export is the same
    raw, processed = tmp_path / "export.csv", tmp_path / "processed"
    shutil.copy(built["raw"], raw)
    clean.run(raw, SCHEMA, processed)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"notebooks": {"01_clean_survey": {
        "raw_path": str(raw), "out_dir": str(processed)}}}), encoding="utf-8")
    assert provenance.stale_message(processed / "responses.parquet", params) is None
    with raw.open("ab") as fh:  # a new export saved over the old one
        fh.write(b"\n")
    msg = provenance.stale_message(processed / "responses.parquet", params)
    assert msg is not None and f"({raw} changed since it was cleaned)" in msg


def test_a_missing_export_or_another_folder_is_not_rebuilt(built, tmp_path):
    gone = _params(built, "gone.yaml", raw_path=str(tmp_path / "nowhere.csv"))
    msg = provenance.stale_message(built["responses"], gone)
    assert msg is not None and "nowhere.csv, which does not exist: fix raw_path under 01_clean_survey" in msg
    elsewhere = _params(built, "elsewhere.yaml", raw_path=str(tmp_path / "nowhere.csv"),
                        out_dir=str(tmp_path / "processed"))
    assert provenance.stale_message(built["responses"], elsewhere) is None  # params say nothing of it


def test_a_log_written_before_provenance_compares_names_and_the_schema_copy(built, tmp_path):
    processed = tmp_path / "processed"
    shutil.copytree(built["processed"], processed)
    log = json.loads((processed / "cleaning_log.json").read_text())
    del log["built_from"]
    (processed / "cleaning_log.json").write_text(json.dumps(log))
    same = _params(built, "legacy.yaml", out_dir=str(processed))
    assert provenance.stale_message(processed / "responses.parquet", same) is None
    other = _params(built, "legacy-other.yaml", out_dir=str(processed), raw_path=str(built["tmp"] / "garden.csv"))
    (built["tmp"] / "garden.csv").touch()
    msg = provenance.stale_message(processed / "responses.parquet", other)
    assert msg is not None and "built from survey_export.csv, but" in msg


# --- the pipeline never reads processed data its own notebook 01 did not write ------------------


def test_in_a_run_processed_data_of_another_run_or_none_is_refused(built, monkeypatch):
    monkeypatch.setenv(config.RUN_ENV, "20260101T000000Z-abc")
    with pytest.raises(DataError, match=r"was not written by this run \(20260101T000000Z-abc\): "
                                        r"it holds data cleaned outside a run"):
        selection.load(str(built["responses"]), str(built["processed"] / "survey.yaml"), "config/segments.yaml")
    err = provenance.run_mismatch(built["tmp"] / "empty" / "responses.parquet", "20260101T000000Z-abc")
    assert err is not None and "no cleaning log" in str(err)


def test_in_a_run_the_data_its_notebook_01_wrote_is_read(built, tmp_path, monkeypatch):
    monkeypatch.setenv(config.RUN_ENV, "20260101T000000Z-abc")
    clean.run(built["raw"], SCHEMA, tmp_path / "processed")
    assert provenance.run_mismatch(tmp_path / "processed" / "responses.parquet", "20260101T000000Z-abc") is None
    err = provenance.run_mismatch(tmp_path / "processed" / "responses.parquet", "20260102T000000Z-def")
    assert err is not None and "data cleaned by run 20260101T000000Z-abc" in str(err)


def test_every_notebook_of_the_pipeline_needs_the_cleaning_notebook():
    steps = config.load_pipeline().steps
    assert steps[0].name == provenance.CLEANING_NOTEBOOK
    assert all(provenance.CLEANING_NOTEBOOK in s.needs for s in steps[1:])


def test_a_run_without_its_cleaning_step_fails_on_stale_processed_data(built, tmp_path):
    """A pipeline that opens data/processed without cleaning it first: the notebook stops with
    the one-line reason instead of reporting data cleaned from another export."""
    from helpers.reporting import pipeline
    pipe = tmp_path / "pipeline.yaml"
    pipe.write_text(f"notebooks_dir: {paths.NOTEBOOKS_DIR}\nnotebooks:\n  - name: 02_segments\n    needs: []\n",
                    encoding="utf-8")
    processed = built["processed"]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"notebooks": {"02_segments": {
        "responses_path": str(processed / "responses.parquet"), "schema_path": str(processed / "survey.yaml"),
        "accounts_path": str(processed / "accounts.parquet"), "invitations_path": ""}}}), encoding="utf-8")
    result = pipeline.run(params, out_dir=tmp_path / "reports", pipeline_path=pipe)
    entry = json.loads((result.run_dir / "manifest.json").read_text())["notebooks"][0]
    assert result.status == "failed" and entry["status"] == "failed"
    assert f"was not written by this run ({result.run_id}): it holds data cleaned outside a run" in entry["error"]
