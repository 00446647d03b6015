"""Tests of the report pipeline (helpers.reporting.pipeline and its parts: run_params, run_folder,
manifest, kernels, run_command): validation before anything runs, failed runs, skipped dependants,
the latest link, unique run ids, the lock and interrupted runs.

The fixture notebooks in tests/fixtures/pipeline are tiny; only two kernels start in this file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import cli, config
from helpers.errors import ConfigError, ExitCode
from helpers.paths import PROJECT_ROOT
from helpers.reporting import kernels, pipeline, run_folder, run_index, run_params, zygote

FIX = Path(__file__).parent / "fixtures" / "pipeline"
PARAMS = FIX / "params.yaml"
OK = FIX / "pipeline_ok.yaml"
FAIL = FIX / "pipeline_fail.yaml"
CODE_IN_DOM = re.compile(r'class="[^"]*(jp-InputArea|jp-InputPrompt|jp-CodeMirrorEditor)')


@pytest.fixture()
def no_execution(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (instead of run) every notebook execution."""
    calls: list[str] = []
    monkeypatch.setattr(kernels, "execute", lambda notebook, output, parameters, name:
                        calls.append(name))
    monkeypatch.setattr(kernels, "warm", lambda notebook, name: False)
    return calls


def _params(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _expect_config_error(tmp_path: Path, params_text: str, calls: list[str], *needles: str) -> str:
    out = tmp_path / "reports"
    with pytest.raises(ConfigError) as err:
        pipeline.run(_params(tmp_path, params_text), out_dir=out, pipeline_path=OK)
    msg = str(err.value)
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, msg
    assert calls == []
    assert not out.exists() or not any(out.iterdir()), "a run folder was created"
    return msg


# --- validation: nothing runs -----------------------------------------------------------------


def test_unknown_key_is_rejected_before_anything_runs(tmp_path: Path, no_execution: list[str]) -> None:
    msg = _expect_config_error(
        tmp_path, "notebooks:\n  01_ok:\n    min_nn: 3\n", no_execution,
        "notebooks.01_ok.min_nn", "unknown parameter", "params.yaml", "min_n")
    assert "expected one of" in msg


def test_wrong_type_is_rejected(tmp_path: Path, no_execution: list[str]) -> None:
    _expect_config_error(tmp_path, "notebooks:\n  01_ok:\n    min_n: ten\n", no_execution,
                         "notebooks.01_ok.min_n", "found str 'ten'", "expected int")


def test_bool_is_not_an_int_and_float_is_not_an_int(tmp_path: Path, no_execution: list[str]) -> None:
    _expect_config_error(tmp_path, "shared:\n  min_n: true\n", no_execution,
                         "shared.min_n", "found bool True", "expected int")
    _expect_config_error(tmp_path, "shared:\n  min_n: 2.5\n", no_execution,
                         "shared.min_n", "found float 2.5")


def test_missing_input_file_is_rejected(tmp_path: Path, no_execution: list[str]) -> None:
    _expect_config_error(tmp_path, "notebooks:\n  01_ok:\n    data_path: data/raw/nope.csv\n",
                         no_execution, "notebooks.01_ok.data_path", "'data/raw/nope.csv' not found")


def test_unknown_notebook_and_orphan_shared_key(tmp_path: Path, no_execution: list[str]) -> None:
    _expect_config_error(tmp_path, "notebooks:\n  09_nope:\n    a: 1\n", no_execution,
                         "notebooks.09_nope", "unknown notebook", "01_ok")
    _expect_config_error(tmp_path, "shared:\n  colour: red\n", no_execution,
                         "shared.colour", "no notebook declares")


def test_run_dir_is_reserved(tmp_path: Path, no_execution: list[str]) -> None:
    _expect_config_error(tmp_path, "shared:\n  run_dir: x\n", no_execution, "run_dir")


def test_cli_config_error_is_one_line_and_exit_2(tmp_path: Path, no_execution: list[str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    p = _params(tmp_path, "notebooks:\n  01_ok:\n    alpha: high\n")
    code = cli.main(["run", "--params", str(p), "--pipeline", str(OK), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == ExitCode.BAD_INPUT == 2
    assert len(err.splitlines()) == 1 and "notebooks.01_ok.alpha" in err and "float" in err
    assert no_execution == []


def test_yaml_dates_ints_and_shared_keys_are_coerced() -> None:
    plan = run_params.validate(config.load_params(PARAMS), config.load_pipeline(OK))
    over = plan[0].overrides
    assert over["wave"] == "2025-12-31"  # YAML date -> str for a str parameter
    assert over["alpha"] == 1.0 and isinstance(over["alpha"], float)  # int accepted for float
    assert over["min_n"] == 5  # from shared:
    assert plan[0].inputs["data_path"] == FIX / "data.csv"


@pytest.mark.parametrize(("value", "type_name", "expected"), [
    (dt.date(2025, 1, 2), "str", "2025-01-02"),
    (3, "float", 3.0),
    (["a", dt.date(2025, 1, 2)], "list[str]", ["a", "2025-01-02"]),
    ({"k": 1}, "dict", {"k": 1}),
    (7, "None", 7),
])
def test_coerce_accepts(value: object, type_name: str, expected: object) -> None:
    assert run_params.coerce(value, type_name) == expected


@pytest.mark.parametrize(("value", "type_name", "default"), [
    ("x", "int", None), (True, "float", None), (1, "bool", None), ("a", "list[str]", None),
    ([1, "a"], "list[int]", None), ("3", "None", 3),
])
def test_coerce_rejects(value: object, type_name: str, default: object) -> None:
    with pytest.raises(TypeError):
        run_params.coerce(value, type_name, default)


def test_pipeline_needs_must_name_an_earlier_notebook(tmp_path: Path) -> None:
    bad = tmp_path / "pipeline.yaml"
    bad.write_text("notebooks:\n  - name: a\n    needs: [b]\n  - name: b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="needs 'b'"):
        config.load_pipeline(bad)


# --- run ids, lock, interrupted runs ----------------------------------------------------------


def test_run_ids_are_unique_and_never_reuse_a_folder(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 23, 14, 15, 0, tzinfo=dt.UTC)
    ids: list[str] = []

    def take() -> None:
        ids.append(run_folder.make_run_dir(tmp_path, now=now, short_sha="ab12cd3")[0])

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 8
    assert "20261123T141500Z-ab12cd3" in ids and "20261123T141500Z-ab12cd3-8" in ids
    assert len(list(tmp_path.iterdir())) == 8


def test_second_run_is_refused_while_the_lock_is_held(tmp_path: Path, no_execution: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    with run_folder.run_lock(out):
        with pytest.raises(run_folder.RunLockedError, match="another report run is in progress"):
            pipeline.run(PARAMS, out_dir=out, pipeline_path=OK)
        code = cli.main(["run", "--params", str(PARAMS), "--pipeline", str(OK), "--out", str(out)])
    assert code == ExitCode.LOCKED == 75
    assert "in progress" in capsys.readouterr().err
    assert no_execution == []
    assert [p.name for p in out.iterdir()] == [".lock"]


def test_interrupted_run_is_marked_failed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    folder = tmp_path / "20260101T000000Z-abc1234"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({
        "run_id": folder.name, "status": "running", "pid": dead.pid,
        "notebooks": [{"name": "a", "status": "running"}, {"name": "b", "status": "pending"}],
    }))
    assert run_folder.mark_interrupted(tmp_path) == [folder.name]
    doc = json.loads((folder / "manifest.json").read_text())
    assert doc["status"] == "failed" and "interrupted" in doc["error"]
    assert [n["status"] for n in doc["notebooks"]] == ["failed", "skipped"]


# --- real runs (two kernels) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pipeline.RunResult]:
    out = tmp_path_factory.mktemp("reports")
    good = pipeline.run(PARAMS, out_dir=out, pipeline_path=OK)
    fail_params = out.parent / "fail_params.yaml"
    fail_params.write_text("notebooks: {}\n", encoding="utf-8")
    bad = pipeline.run(fail_params, out_dir=out, pipeline_path=FAIL, run_id=good.run_id)
    return {"good": good, "bad": bad}


def _manifest(result: pipeline.RunResult) -> dict:
    return json.loads((result.run_dir / "manifest.json").read_text())


def test_successful_run_switches_latest_and_records_manifest(runs: dict) -> None:
    good = runs["good"]
    assert (good.status, good.exit_code) == ("succeeded", 0)
    doc = _manifest(good)
    assert doc["status"] == "succeeded" and doc["notebooks"][0]["status"] == "succeeded"
    data = FIX / "data.csv"
    assert doc["inputs"]["tests/fixtures/pipeline/data.csv"] == hashlib.sha256(
        data.read_bytes()).hexdigest()
    assert doc["packages"]["papermill"] == "2.7.0" and doc["git"]["commit"]
    assert doc["parameters"]["01_ok"]["wave"] == "2025-12-31"
    assert doc["parameters"]["01_ok"]["make_chart"] is True  # a default, recorded too
    assert doc["parameters"]["01_ok"]["run_dir"] == str(good.run_dir)
    assert "make_chart" not in doc["overrides"]["01_ok"] and doc["overrides"]["01_ok"]["min_n"] == 5
    metrics = json.loads((good.run_dir / "metrics" / "01_ok.json").read_text())
    assert metrics["score"]["estimate"] == pytest.approx(3.0)  # mean of 1, 2, 3, 6
    assert metrics["wave"] == "2025-12-31"  # the YAML date reached the notebook as a str
    assert (good.run_dir / "run.log").read_text().count("01_ok succeeded") == 1


def test_report_html_hides_code_and_shows_parameters(runs: dict) -> None:
    page = (runs["good"].run_dir / "01_ok.html").read_text()
    assert not CODE_IN_DOM.search(page)
    assert "catalog.save_json" not in page  # no source code
    assert "Run parameters" in page and "2025-12-31" in page and "params file" in page
    assert 'src="data:image/png;base64,' in page  # chart embedded: the file stands alone
    assert "<script src=" not in page  # no external scripts
    assert 'href="#The-score"' in page  # table of contents


def test_failing_notebook_fails_the_run_and_skips_dependants(runs: dict) -> None:
    good, bad = runs["good"], runs["bad"]
    assert bad.status == "failed" and bad.exit_code != 0
    assert bad.run_id == good.run_id + "-2"  # same requested id: suffixed, not overwritten
    doc = _manifest(bad)
    by_name = {n["name"]: n for n in doc["notebooks"]}
    assert by_name["02_fail"]["status"] == "failed"
    assert "planted failure" in by_name["02_fail"]["error"]
    assert by_name["03_dep"]["status"] == "skipped"
    assert "02_fail (failed)" in by_name["03_dep"]["reason"]
    assert not (bad.run_dir / "03_dep.ipynb").exists()
    page = (bad.run_dir / "02_fail.html").read_text()
    assert "planted failure for the pipeline test" in page and "cx-status-failed" in page
    assert not CODE_IN_DOM.search(page)


def _kernel_processes(forked: list[int] = []) -> list[int]:  # noqa: B006 - never changed
    """Live kernels of this process: children whose environment names a notebook, and those of
    `forked` (kernels forked from a zygote, and zygotes) still running."""
    found = [pid for pid in forked
             if "\nState:\tZ" not in (Path(f"/proc/{pid}/status").read_text()
                                      if Path(f"/proc/{pid}/status").exists() else "\nState:\tZ")]
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{d}/status").read_text()
            environ = Path(f"/proc/{d}/environ").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{os.getpid()}\n" in status and b"CX_NOTEBOOK=" in environ:
            found.append(int(d))
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
@pytest.mark.parametrize("stop", [RuntimeError, KeyboardInterrupt])
def test_kernels_started_ahead_are_shut_down_when_a_notebook_fails_or_the_run_is_stopped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop: type[BaseException]) -> None:
    """01_ok and 02_fail get their kernels as the run starts, 03_dep once 01_ok has finished;
    02_fail then fails (03_dep is skipped) or Ctrl-C stops the run: no kernel is left."""
    import papermill

    started: dict[str, object] = {}
    forked: list[int] = []  # kernels forked from the run's zygote, and the zygote
    real_init, real_zygote = zygote.ForkedKernel.__init__, zygote.Zygote.__init__
    monkeypatch.setattr(zygote.ForkedKernel, "__init__", lambda self, pid: (
        forked.append(pid), real_init(self, pid))[-1])
    monkeypatch.setattr(zygote.Zygote, "__init__", lambda self, *a: (
        real_zygote(self, *a), forked.append(self.process.pid))[0])
    real_start = kernels.start
    monkeypatch.setattr(kernels, "start", lambda notebook, name: started.setdefault(
        name, real_start(notebook, name)))

    def execute(notebook: str, *args: object, **kw: object) -> None:
        if "02_fail" in notebook:
            for _ in range(600):
                if "03_dep" in started:
                    raise stop("planted")
                threading.Event().wait(0.1)

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    fail_params = tmp_path / "params.yaml"
    fail_params.write_text("notebooks: {}\n", encoding="utf-8")
    with contextlib.nullcontext() if stop is RuntimeError else pytest.raises(stop):
        result = pipeline.run(fail_params, out_dir=tmp_path / "reports", pipeline_path=FAIL)
        assert [n["status"] for n in _manifest(result)["notebooks"]] == ["succeeded", "failed", "skipped"]
    assert sorted(started) == ["01_ok", "02_fail", "03_dep"]
    assert not any(km.has_kernel for km in started.values())  # type: ignore[attr-defined]
    assert len(forked) == (4 if zygote.available() else 0)
    assert _kernel_processes(forked) == []


def test_latest_is_not_switched_by_a_failed_run(runs: dict) -> None:
    out = runs["good"].run_dir.parent
    assert os.readlink(out / "latest") == runs["good"].run_id


def test_index_lists_every_run_with_links_and_figures(runs: dict) -> None:
    index = runs["bad"].index_path.read_text()
    for r in runs.values():
        assert r.run_id in index
    assert f'href="{runs["good"].run_id}/01_ok.html"' in index
    assert f'href="{runs["bad"].run_id}/02_fail.html"' in index
    assert "score (ok): 3.0 [" in index and "<svg" in index  # pipeline_ok.yaml headline
    assert "02_fail (failed)" in index


def test_index_survives_a_broken_manifest(runs: dict, tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    assert "No runs yet" in run_index.write_index(tmp_path).read_text()



# --- nbval sanitisers ---------------------------------------------------------------------------


def _sanitise(text: str) -> str:
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parent / "nbval_sanitize.cfg")
    for section in cfg.sections():
        text = re.sub(cfg[section]["regex"], cfg[section]["replace"], text)
    return text


@pytest.mark.parametrize(("raw", "clean"), [
    ("run 20261123T141500Z-ab12cd3-2 finished", "run RUN-ID finished"),
    ("generated 2026-11-23T14:15:03Z", "generated DATETIME"),
    ("generated 2026-11-23 14:15 UTC", "generated DATETIME"),
    ("as of 2026-11-23", "as of DATE"),
    ("at 14:15:03", "at TIME"),
    ("<function f at 0x7f3a2b4c5d60>", "<function f at 0xADDRESS>"),
    ("<Figure size 800x450 with 1 Axes>", "<Figure>"),
    ("saved to /tmp/pytest-of-root/pytest-3/x/metrics.json", "saved to TMP-PATH"),
])
def test_nbval_sanitisers_mask_what_changes_between_runs(raw: str, clean: str) -> None:
    assert _sanitise(raw) == clean


def test_nbval_sanitisers_keep_headline_numbers() -> None:
    text = "B2B NPS +31.2 [27.0, 35.4] n=812; CES 5.4 (SE 0.05); 2025Q4 vs 2025Q3: -4.1 points"
    assert _sanitise(text) == text


def test_a_run_stopped_half_way_is_closed_as_failed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM (systemd stop) becomes SystemExit in main(): the manifest must not stay 'running'."""
    def stop(*args: object) -> None:
        raise SystemExit(143)

    monkeypatch.setattr(kernels, "execute", stop)
    monkeypatch.setattr(kernels, "warm", lambda notebook, name: False)
    out = tmp_path / "reports"
    with pytest.raises(SystemExit):
        pipeline.run(PARAMS, out_dir=out, pipeline_path=OK)
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    doc = json.loads((run / "manifest.json").read_text())
    assert doc["status"] == "failed" and doc["error"].startswith("interrupted")
    assert doc["notebooks"][0]["status"] == "failed"
    assert not (out / "latest").exists()
    with run_folder.run_lock(out):  # the lock was released
        pass


# --- property tests of the parameter coercion --------------------------------------------------


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_any_int_is_a_float_parameter(x: int) -> None:
    out = run_params.coerce(x, "float")
    assert isinstance(out, float) and out == float(x)


@given(st.booleans(), st.sampled_from(["int", "float", "str", "list[int]"]))
def test_bools_never_pass_as_other_types(b: bool, type_name: str) -> None:
    with pytest.raises(TypeError):
        run_params.coerce(b, type_name)


@given(st.dates() | st.datetimes())
def test_yaml_dates_become_iso_strings(d: dt.date) -> None:
    assert run_params.coerce(d, "str") == d.isoformat()
    assert run_params.coerce([d], "list[str]") == [d.isoformat()]


@given(st.text(max_size=20))
def test_strings_pass_unchanged_and_are_never_numbers(s: str) -> None:
    assert run_params.coerce(s, "str") == s
    with pytest.raises(TypeError):
        run_params.coerce(s, "int")


def test_check_lists_the_optional_inputs_not_provided(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`cx run --check` on a bare export says which inputs are missing and which sections lose them."""
    p = _params(tmp_path, 'notebooks:\n  01_clean_survey:\n    invitations_path: ""\n'
                          '    prices_path: ""\n')
    assert cli.main(["run", "--params", str(p), "--check"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "invitations_path); not available: Response rates by tier and role" in out
    assert "prices_path); not available: Did CX leaders beat the market" in out
    assert "accounts_path" not in out and "cx_index_path" not in out  # provided in params


TINY_SCHEMA = Path(__file__).parent / "data" / "tiny_schema.yaml"  # ID, Date, Sat, Region
_SETTINGS = """b2c_margins:
  region: {%s}
weights: {trim_lower: 0.3, trim_upper: 3.0}
b2b: {role_order: [user], role_weights: {user: 1.0}, account_vote: mean}
personas: {k_min: 2, k_max: 3, criterion: silhouette, seeds: [0]}
"""


def _cx_run_on_tiny_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str,
                           margins: str = "North: 0.5, East: 0.5", *more: str) -> int:
    """`cx run --raw` on a 12-response export of one wave (regions North and East) with its own
    settings."""
    export, seg = tmp_path / "x.csv", tmp_path / "seg_own.yaml"
    export.write_text("ID,Date,Sat,Region\n" + "".join(
        f"R{i},2026-03-{10 + i},{answer},{'East' if i % 2 else 'North'}\n" for i in range(12)))
    seg.write_text(_SETTINGS % margins)
    monkeypatch.setattr(kernels, "zygote_ahead", lambda notebooks: contextlib.nullcontext())
    return cli.main(["run", "--raw", str(export), "--schema", str(TINY_SCHEMA), "--segments", str(seg),
                     "--out", str(tmp_path / "reports"), "--no-send", *more])


def test_run_stops_before_any_notebook_when_the_settings_lack_a_level(
        tmp_path: Path, no_execution: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A B2C level the analysis settings given have no share for: one line naming that file and
    the levels it has, exit 2, no notebook started (it used to fail six of them, exit 1)."""
    code = _cx_run_on_tiny_export(tmp_path, monkeypatch, "4", "North: 0.5, South: 0.5")
    err = capsys.readouterr().err.strip()
    assert code == ExitCode.BAD_INPUT and len(err.splitlines()) == 1, err
    assert "region='East' has no population share" in err and "one of North, South" in err
    assert str(tmp_path / "seg_own.yaml") in err and "config/segments.yaml" not in err
    assert no_execution == [] and not (tmp_path / "reports").exists()
    assert _cx_run_on_tiny_export(tmp_path, monkeypatch, "4", "North: 0.5, East: 0.5",
                                  "--check") == ExitCode.OK   # every level has its share


def test_run_stops_before_any_notebook_when_no_response_is_kept(
        tmp_path: Path, no_execution: list[str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Headline answers left blank: the cleaning's one line before the run, exit 2, nothing run."""
    code = _cx_run_on_tiny_export(tmp_path, monkeypatch, "")
    err = capsys.readouterr().err.strip()
    assert code == ExitCode.BAD_INPUT and len(err.splitlines()) == 1, err
    assert "x.csv" in err and "no response kept: 12 of 12 responses removed as incomplete" in err
    assert no_execution == [] and not (tmp_path / "reports").exists()


def test_each_kernel_knows_the_notebook_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner names the notebook in its kernel's environment: the catalog checks that
    notebook's reads and writes against the run contract (helpers.contract.NOTEBOOK_ENV)."""
    from jupyter_client.manager import KernelManager

    from helpers import contract

    seen: dict[str, object] = {}
    monkeypatch.setattr(KernelManager, "start_kernel", lambda self, **kw: seen.update(kw))
    kernels.kernel_manager("02_segments")().start_kernel(extra_arguments=[])
    assert seen["env"][contract.NOTEBOOK_ENV] == "02_segments"
    assert seen["env"]["PATH"] == os.environ["PATH"]  # the rest of the environment is inherited
    assert contract.NOTEBOOK_ENV not in os.environ  # only the kernel's


def test_each_kernel_has_its_share_of_the_cores_for_numeric_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """BLAS/OpenMP pools sized to the cores per notebook running at once; a user's setting stands."""
    from jupyter_client.manager import KernelManager

    seen: dict[str, dict[str, str]] = {}
    monkeypatch.setattr(KernelManager, "start_kernel", lambda self, **kw: seen.update(kw))
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(kernels, "PARALLEL", 2)
    for setting in kernels.THREAD_SETTINGS:
        monkeypatch.delenv(setting, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    kernels.kernel_manager("03_promoter_drivers")().start_kernel(extra_arguments=[])
    assert seen["env"]["OPENBLAS_NUM_THREADS"] == seen["env"]["OMP_NUM_THREADS"] == "4"
    assert seen["env"]["MKL_NUM_THREADS"] == "3"
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 2)
    kernels.kernel_manager("03_promoter_drivers")().start_kernel(extra_arguments=[])
    assert seen["env"]["OPENBLAS_NUM_THREADS"] == "1"


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets")
def test_kernels_started_together_talk_over_private_sockets(tmp_path: Path) -> None:
    """Kernels started at the same moment never race for a TCP port (CI once lost a run to
    "Address already in use"): each talks over Unix sockets in a private folder of the run, which
    is removed when the run ends."""
    from concurrent.futures import ThreadPoolExecutor

    with kernels.kernel_folder(tmp_path / "reports", "r1"):
        sockets = kernels._SOCKET_DIR[0]
        assert sockets is not None and (sockets.stat().st_mode & 0o777) == 0o700
        managers = [kernels.kernel_manager(f"nb{i}")() for i in range(3)]
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda km: km.start_kernel(), managers))
        try:
            for km in managers:
                assert km.transport == "ipc" and km.ip.startswith(str(sockets))
                client = km.client()
                client.start_channels()
                client.wait_for_ready(timeout=60)
                assert client.execute_interactive("x = 1", timeout=60)["content"]["status"] == "ok"
                client.stop_channels()
        finally:
            for km in managers:
                km.shutdown_kernel(now=True)
    assert not sockets.exists()


@pytest.mark.skipif(os.name != "posix", reason="Unix sockets")
def test_kernel_sockets_go_where_their_path_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    folder = kernels._socket_folder(deep)  # both too long: /tmp
    assert folder is not None and folder.parent == Path("/tmp")
    folder.rmdir()
    folder = kernels._socket_folder(Path("/no-such-folder"))  # missing: the next one
    assert folder is not None and folder.parent == Path("/tmp")
    folder.rmdir()
    monkeypatch.setattr(Path, "is_dir", lambda self: False)
    assert kernels._socket_folder(deep) is None  # nowhere: TCP


def test_expected_durations_follow_the_pace_of_the_run() -> None:
    """A run going at half the last run's pace expects its other notebooks to take half as long."""
    from helpers.reporting.manifest import RunManifest, Status, StepRecord

    doc = RunManifest(run_id="r", status=Status.RUNNING, notebooks=[
        StepRecord(name="a", status=Status.SUCCEEDED, duration_s=10.0),
        StepRecord(name="b", status=Status.FAILED, duration_s=1.0), StepRecord(name="c")])
    expected = {"a": 20.0, "b": 20.0, "c": 30.0}
    assert pipeline.paced(expected, doc) == {"a": 10.0, "b": 10.0, "c": 15.0}
    doc.notebooks[0].status = Status.RUNNING
    assert pipeline.paced(expected, doc) == expected


def test_cx_run_stopped_while_a_kernel_computes_exits_and_closes_the_run(tmp_path: Path) -> None:
    """systemd's stop (SIGTERM) in the middle of a cell: the run is closed as failed and cx run
    exits at once; it used to wait for ever on the thread still listening to the dead kernel."""
    import signal
    import sys
    import time

    nb = json.loads((FIX / "01_ok.ipynb").read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                        "source": "import time\nprint('sleeping', flush=True)\ntime.sleep(300)"})
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "01_ok.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    (folder / "pipeline.yaml").write_text(OK.read_text(encoding="utf-8").replace(
        "notebooks_dir: tests/fixtures/pipeline", f"notebooks_dir: {folder}"), encoding="utf-8")
    out = tmp_path / "reports"
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers.cli", "run", "--params", str(PARAMS), "--pipeline",
         str(folder / "pipeline.yaml"), "--out", str(out), "--no-send"],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:  # type: ignore[union-attr]
            if "sleeping" in line:
                break
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        assert time.monotonic() - t0 < 30
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    (run,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    doc = json.loads((run / "manifest.json").read_text())
    assert doc["status"] == "failed" and doc["error"].startswith("interrupted")
    time.sleep(1.0)  # the kernels die with the zygote, which dies with the runner
    left = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if f"CX_RUN_ID={run.name}".encode() in environ.read_bytes().split(b"\0"):
                left.append(environ.parent.name)
    assert not left, f"processes of the stopped run left behind: {left}"
