"""A real Spark cluster, not local mode: a standalone master and one worker started as separate
processes on this machine; the sufficient-statistics queries and one whole ``cx run`` with
``engine: spark`` (out of core, $CX_SPARK_MASTER) run against it and give the figures of pandas
and DuckDB.

Skipped without pyspark or Java 17+, except under CX_REQUIRE_SPARK=1, which makes it fail.
Starting a cluster and a whole run cost minutes on two cores, so the module runs only under
CX_SPARK_CLUSTER=1 (``make test-spark-cluster``), not in every ``make test``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_moments import _engines, _java_reason, _queries, _same, needs_sample

from helpers import cli, paths
from helpers.analysis import headline, segments, selection
from helpers.sample import profiles
from helpers.stats import moments

pytestmark = pytest.mark.skipif(
    os.environ.get("CX_SPARK_CLUSTER") != "1",
    reason="a Spark cluster test: `make test-spark-cluster` (CX_SPARK_CLUSTER=1) runs it")


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CX_REQUIRE_SPARK") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], log: Path, ready: str, env: dict[str, str], timeout: float = 60) -> subprocess.Popen:
    """Start a Spark daemon in the foreground (its own process group) and wait for `ready` in its log."""
    out = log.open("w")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready in log.read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{cmd[1]} did not start: {log.read_text(errors='replace')[-500:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """spark://127.0.0.1:<port>: a standalone master and one worker (2 cores, 2 GB)."""
    try:
        import pyspark
    except ImportError:
        _skip_or_fail("pyspark not installed (make install-spark)")
    reason = _java_reason()
    if reason:
        _skip_or_fail(reason)
    home = Path(pyspark.__file__).parent
    logs = tmp_path_factory.mktemp("spark")
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(logs / "work")}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    cls = str(home / "bin" / "spark-class")
    master = _start([cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                     "--port", str(port), "--webui-port", str(_free_port())],
                    logs / "master.log", "I have been elected leader", env)
    try:
        worker = _start([cls, "org.apache.spark.deploy.worker.Worker", url, "--cores", "2",
                         "--memory", "2g", "--webui-port", str(_free_port())],
                        logs / "worker.log", "Successfully registered with master", env)
    except RuntimeError:
        os.killpg(master.pid, 15)
        raise
    yield url
    for proc in (worker, master):
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


@needs_sample
def test_cluster_gives_the_moments_of_pandas_and_duckdb(cluster, tmp_path) -> None:
    study = selection.load("data/processed/responses.parquet", "data/processed/survey.yaml",
                           "config/segments.yaml")
    frames = {}
    for m in ("B2B", "B2C"):
        df = study.market(m).rows
        cols = ["account_id", "contact_unit", "wave", "tier", "channel", "region", "age_band",
                "ltr", "ces", "csat", "weight", "include", "market", *study.schema.driver_items()]
        frames[m.lower()] = df[[c for c in cols if c in df]].reset_index(drop=True)
        frames[m.lower()].to_parquet(tmp_path / f"{m.lower()}.parquet", index=False)
    session = moments.spark_session(cluster, app_name="cx-test-cluster",
                                    conf={"spark.cores.max": "1", "spark.executor.memory": "512m"})
    try:
        assert session.sparkContext.master == cluster   # not local mode
        pandas_engine, duck, spark = _engines(frames, tmp_path, session)
        for q in _queries(study):
            expected = pandas_engine.run(q)
            _same(expected, duck.run(q), q)
            _same(expected, spark.run(q), q)
    finally:
        session.stop()


def test_cx_run_with_engine_spark_on_the_cluster(cluster, tmp_path, monkeypatch) -> None:
    written, _ = profiles.write("b2b-responses", tmp_path / "raw", rows=1200, seed=5)
    doc = yaml.safe_load((paths.CONFIG_DIR / "params.yaml").read_text())
    processed = tmp_path / "processed"
    for section in doc["notebooks"].values():
        for k, v in section.items():
            if isinstance(v, str) and v.startswith("data/processed"):
                section[k] = str(processed / v.removeprefix("data/processed").lstrip("/"))
    doc["notebooks"]["03_promoter_drivers"].update(n_boot=20, whatif_boot=10, cv_folds=2)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(doc))
    for k, v in {"CX_ENGINE": "spark", "CX_SPARK_MASTER": cluster,
                 "CX_MEMORY_BUDGET_GB": "0.0005"}.items():   # every notebook out of core
        monkeypatch.setenv(k, v)
    reports = tmp_path / "reports"
    side = [f"--{k.replace('_', '-')}={written[k]}" for k in ("accounts", "invitations")
            if k in written]
    if "segments" in written:
        side.append(f"--segments={written['segments']}")
    code = cli.main(["run", "--params", str(params), "--out", str(reports), "--raw",
                     str(written["survey_export"]), "--schema", str(written["schema"]), *side])
    run = (reports / "latest").resolve()
    manifest = json.loads((run / "manifest.json").read_text())
    assert code == 0, [(n["name"], n.get("error")) for n in manifest["notebooks"]]
    log = (run / "run.log").read_text(encoding="utf-8")
    assert "out of core (spark)" in log
    on_cluster = pd.read_parquet(run / "tables" / "market_headline.parquet")
    args = (str(processed / "responses.parquet"), str(processed / "survey.yaml"),
            written.get("segments") or "config/segments.yaml")
    monkeypatch.delenv("CX_MEMORY_BUDGET_GB")
    in_memory = selection.load(*args)                                 # pandas, every row
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.0005")
    monkeypatch.setenv("CX_ENGINE", "duckdb")
    duck = selection.load(*args)                                      # DuckDB, out of core
    assert in_memory.full is None and duck.full is not None
    for found in (headline.market_headline(in_memory), headline.market_headline(duck)):
        num = [c for c in found.columns if pd.api.types.is_numeric_dtype(found[c])]
        np.testing.assert_allclose(on_cluster[num].to_numpy(float), found[num].to_numpy(float),
                                   rtol=1e-9, atol=1e-9)
    a, b = segments.market_segments(in_memory), segments.market_segments(duck)
    num = [c for c in a.columns if pd.api.types.is_numeric_dtype(a[c])]
    np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float), rtol=1e-9, atol=1e-9)
