"""Issue 17, items 3, 4, 5, 8 and 9: nothing escapes its folder, one writer at a time, no
resource abuse, faults end in one line.

Every hostile input here was found by a probe: traversal run ids, data/raw reached through '..',
an absolute path or a symlink, `cx clean` during a run, a YAML alias bomb, a folder as an input
file, a 20 MB parameter, a full or read-only disk (a real size-limited / read-only mount made in
a private mount namespace with `unshare`), and kernel connection files left in /tmp.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from helpers import catalog, cli, config, paths
from helpers.errors import ConfigError, os_error_line
from helpers.reporting import kernels, pipeline, run_folder

FIX = Path(__file__).parent / "fixtures" / "pipeline"
PARAMS, OK = FIX / "params.yaml", FIX / "pipeline_ok.yaml"


def _listing(folder: Path) -> dict[str, int]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.lstat().st_size for p in sorted(folder.rglob("*"))}


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# --- item 3: run ids are folder names ----------------------------------------------------------


@pytest.mark.parametrize("run_id", ["../../x", "../escape", "a/b", "/tmp/abs", "..",
                                    "<img src=x onerror=alert(11)>", ".hidden", "-rf", "x" * 81,
                                    "ok\nnewline"])
def test_run_id_cannot_leave_reports_or_carry_markup(tmp_path: Path, run_id: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "deep" / "reports"
    code = cli.main(["run", "--params", str(PARAMS), "--out", str(out), f"--run-id={run_id}"])
    assert code == 2
    assert "run id" in _one_line_error(capsys)
    assert _listing(tmp_path) == {}  # nothing written anywhere: no lock, no log, no folder


def test_a_plain_run_id_is_accepted() -> None:
    run_folder.check_run_id("2026-11-23_weekly.1")
    run_folder.check_run_id("latest_release_review")  # only the folder's own names are reserved


@pytest.mark.parametrize("run_id", ["latest", "LATEST", "latest-b2b", "latest.1", "index.html",
                                    "Index.HTM", "index", "interactive"])
def test_run_id_naming_the_folders_own_files_is_refused(tmp_path: Path, run_id: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26: 'latest' and 'index.html' passed, then broke the reports folder for good."""
    out = tmp_path / "reports"
    code = cli.main(["run", "--params", str(PARAMS), "--out", str(out), f"--run-id={run_id}"])
    assert code == 2
    assert "reports folder uses itself" in _one_line_error(capsys)
    assert _listing(tmp_path) == {}


def test_a_real_folder_named_latest_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "latest").mkdir()
    with pytest.raises(PermissionError, match="not the link a run keeps there"):
        run_folder.switch_latest(tmp_path, "20260101T000000Z-abc")
    assert (tmp_path / "latest").is_dir() and not list(tmp_path.glob(".latest.*"))


def test_a_lock_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    """Issue 26: reports/.lock pointing at a file overwrote it. (The lock is taken directly: a
    whole `cx run` here would warm the imports that test_killed_run... relies on being cold.)"""
    out, victim = tmp_path / "reports", tmp_path / "precious.txt"
    out.mkdir()
    victim.write_text("keep me")
    (out / ".lock").symlink_to(victim)
    with pytest.raises(PermissionError, match="symbolic link") as err, run_folder.run_lock(out):
        pass
    assert len(os_error_line(err.value).splitlines()) == 1
    assert victim.read_text() == "keep me"
    assert sorted(q.name for q in out.iterdir()) == [".lock"]


def test_a_kernels_folder_that_is_a_symlink_is_refused_and_its_target_untouched(
        tmp_path: Path) -> None:
    """Issue 26: reports/.kernels pointing at a folder deleted its subfolders and chmod-ed it."""
    out, victim = tmp_path / "reports", tmp_path / "home"
    (victim / "projects").mkdir(parents=True)
    victim.chmod(0o755)
    out.mkdir()
    (out / kernels.KERNELS).symlink_to(victim, target_is_directory=True)
    with pytest.raises(PermissionError, match="symbolic link"), kernels.kernel_folder(out, "r1"):
        pass
    assert (victim / "projects").is_dir() and victim.stat().st_mode & 0o777 == 0o755


def test_a_planted_link_among_stale_kernel_folders_is_removed_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "home"
    (victim / "projects").mkdir(parents=True)
    root = tmp_path / "reports" / kernels.KERNELS
    root.mkdir(parents=True)
    (root / "old-run").symlink_to(victim, target_is_directory=True)
    with kernels.kernel_folder(tmp_path / "reports", "r2"):
        pass
    assert (victim / "projects").is_dir() and not (root / "old-run").is_symlink()


# --- item 4: data/raw cannot be reached by any spelling ----------------------------------------


def _raw_spellings(tmp_path: Path) -> list[str]:
    link = tmp_path / "looks_harmless"
    link.symlink_to(paths.RAW_DIR, target_is_directory=True)
    parent_link = tmp_path / "data_link"
    parent_link.symlink_to(paths.DATA_DIR, target_is_directory=True)
    return ["data/processed/../raw", str(paths.PROCESSED_DIR / ".." / "raw"), str(paths.RAW_DIR),
            str(link), str(parent_link / "raw" / "sub"), "data/raw/./x/.."]


def test_is_raw_sees_through_dotdot_absolute_paths_and_symlinks(tmp_path: Path) -> None:
    for spelling in _raw_spellings(tmp_path):
        assert paths.is_raw(spelling), spelling
    assert not paths.is_raw("data/processed")
    assert not paths.is_raw(tmp_path / "raw")


def test_cx_clean_cannot_write_into_raw(sample_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    before = _listing(paths.RAW_DIR)
    for spelling in _raw_spellings(tmp_path):
        code = cli.main(["clean", str(sample_dir / "survey_export.csv"), "--out", spelling])
        assert code == 2, spelling
        assert "data/raw is immutable" in _one_line_error(capsys)
    assert _listing(paths.RAW_DIR) == before


def test_cx_schema_infer_cannot_write_into_raw(sample_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = _listing(paths.RAW_DIR)
    for target in ("data/raw/x.yaml", str(tmp_path / "looks_harmless.yaml")):
        if target.startswith(str(tmp_path)):
            Path(target).symlink_to(paths.RAW_DIR / "x.yaml")
        code = cli.main(["schema", "infer", str(sample_dir / "survey_export.csv"), "--out", target])
        assert code == 2
        assert "data/raw is immutable" in _one_line_error(capsys)
    assert _listing(paths.RAW_DIR) == before


def test_cx_run_out_raw_leaves_no_lock_or_log(capsys: pytest.CaptureFixture[str]) -> None:
    before = _listing(paths.RAW_DIR)
    for spelling in ("data/raw", "data/processed/../raw/reports"):
        code = cli.main(["run", "--params", str(PARAMS), "--out", spelling])
        assert code == 2
        assert "data/raw is immutable" in _one_line_error(capsys)
    assert _listing(paths.RAW_DIR) == before


# --- item 5: one writer at a time --------------------------------------------------------------


def test_cx_clean_waits_for_no_one_and_writes_nothing_while_a_run_holds_the_lock(
        sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "processed"
    out.mkdir()
    (out / "responses.parquet").write_bytes(b"the dataset the running report reads")
    before = _listing(out)
    with run_folder.run_lock(paths.REPORTS_DIR):  # what `cx run` holds for its whole duration
        code = cli.main(["clean", str(sample_dir / "survey_export.csv"), "--out", str(out)])
    assert code == 75
    assert "another command is writing" in _one_line_error(capsys)
    assert _listing(out) == before


def test_a_notebook_kernel_of_the_running_pipeline_may_write(sample_dir: Path, tmp_path: Path
                                                             ) -> None:
    """Notebook 01 writes data/processed on behalf of the run that holds the lock."""
    out = tmp_path / "processed"
    script = textwrap.dedent(f"""
        from helpers.ingest import clean
        clean.run({str(sample_dir / 'survey_export.csv')!r}, out_dir={str(out)!r})
    """)
    with catalog.writer_lock():  # the parent holds it; the child inherits $CX_WRITER_LOCK
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=os.environ.copy(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "responses.parquet").is_file()
    # ... and without the lock held by an ancestor, a second process is refused
    with catalog.writer_lock():
        env = {k: v for k, v in os.environ.items() if k != catalog.LOCK_ENV}
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, timeout=300, check=False)
    assert proc.returncode != 0 and "LockedError" in proc.stderr


def test_staged_folder_swaps_in_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "processed"
    out.mkdir()
    (out / "a.txt").write_text("old a")
    (out / "keep.txt").write_text("not ours")
    with pytest.raises(RuntimeError), catalog.staged_folder(out) as stage:
        (stage / "a.txt").write_text("new a")
        raise RuntimeError("the step failed half-way")
    assert (out / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "keep.txt"]
    with catalog.staged_folder(out) as stage:
        (stage / "a.txt").write_text("new a")
        (stage / "b.txt").write_text("new b")
    assert (out / "a.txt").read_text() == "new a" and (out / "b.txt").read_text() == "new b"
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "keep.txt"]


# --- item 8: resource abuse --------------------------------------------------------------------


def _bomb(levels: int = 7, width: int = 10) -> str:
    lines = ["shared:", "  unused: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join(f"*l{i - 1}" for _ in range(width))
        lines.append(f"  l{i}: &l{i} [{refs}]")
    lines += ["notebooks:", "  01_ok:", f"    wave: *l{levels - 1}"]
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused_in_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "params.yaml"
    p.write_text(_bomb(), encoding="utf-8")
    code = cli.main(["run", "--params", str(p), "--out", str(tmp_path / "reports"), "--check"])
    assert code == 2
    assert "aliases expand to more than" in _one_line_error(capsys)
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("shared: &a\n  x: *a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="aliases expand"):
        config.read_yaml(recursive)


def test_oversized_yaml_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("shared:\n  note: '" + "x" * (2 << 20) + "'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bytes"):
        config.load_params(p)


def test_huge_parameter_string_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("notebooks:\n  01_ok:\n    wave: '" + "w" * 20_000 + "'\n", encoding="utf-8")
    out = tmp_path / "reports"
    code = cli.main(["run", "--params", str(p), "--out", str(out), "--pipeline", str(OK)])
    assert code == 2
    assert "notebooks.01_ok.wave: value is 20,002 characters" in _one_line_error(capsys)
    assert _listing(out) == {}


@pytest.mark.parametrize("folder", ["../..", "/usr", "tests/fixtures"])
def test_a_folder_is_not_an_input_file(tmp_path: Path, folder: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "params.yaml"
    p.write_text(f"notebooks:\n  01_ok:\n    data_path: {folder}\n", encoding="utf-8")
    out = tmp_path / "reports"
    code = cli.main(["run", "--params", str(p), "--out", str(out), "--pipeline", str(OK)])
    assert code == 2
    assert "is not a file" in _one_line_error(capsys)
    assert _listing(out) == {}


def test_a_folder_with_a_csv_among_other_things_is_not_a_parts_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mixed = tmp_path / "downloads"
    (mixed / "old-runs").mkdir(parents=True)
    (mixed / "export.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (mixed / "notes.docx").write_bytes(b"PK")
    p = tmp_path / "params.yaml"
    p.write_text(f"notebooks:\n  01_ok:\n    data_path: {mixed}\n", encoding="utf-8")
    code = cli.main(["run", "--params", str(p), "--out", str(tmp_path / "reports"),
                     "--pipeline", str(OK)])
    assert code == 2 and "is not a file" in _one_line_error(capsys)


# --- item 9: full and read-only disks ----------------------------------------------------------

UNSHARE = shutil.which("unshare")
needs_unshare = pytest.mark.skipif(UNSHARE is None, reason="util-linux unshare not installed")

_FAULT = textwrap.dedent("""
    import hashlib, io, json, os, subprocess, sys
    from contextlib import redirect_stderr
    out, mode, argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    if mode == "full":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", out], check=True)
    # the dataset a previous `cx clean` published (small enough to fit)
    for name in ("responses.parquet", "cleaning_log.json", "prices.parquet"):
        with open(os.path.join(out, name), "w") as fh:
            fh.write("previous " + name)
    if mode == "readonly":
        subprocess.run(["mount", "--bind", out, out], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", out], check=True)
    from helpers import cli
    err = io.StringIO()
    with redirect_stderr(err):
        code = cli.main(argv)
    files = {n: hashlib.sha256(open(os.path.join(out, n), "rb").read()).hexdigest()
             for n in sorted(os.listdir(out)) if os.path.isfile(os.path.join(out, n))}
    print(json.dumps({"code": code, "err": err.getvalue(), "files": files}))
""")


def _in_namespace(tmp_path: Path, mode: str, argv: list[str], out: Path) -> dict:
    script = tmp_path / "fault.py"
    script.write_text(_FAULT, encoding="utf-8")
    cmd = [UNSHARE, "--user", "--map-root-user", "--mount", sys.executable, str(script),
           str(out), mode, json.dumps(argv)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "CX_PROJECT_ROOT": str(paths.PROJECT_ROOT)})
    if proc.returncode != 0 and "Operation not permitted" in proc.stderr:
        pytest.skip(f"no private mount namespace here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_unshare
@pytest.mark.parametrize("mode", ["full", "readonly"])
def test_cx_clean_on_a_full_or_read_only_disk(sample_dir: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "processed"
    out.mkdir()
    res = _in_namespace(tmp_path, mode, ["clean", str(sample_dir / "survey_export.csv"),
                                         "--out", str(out)], out)
    assert res["code"] == 2
    err = res["err"].strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert ("No space left on device" if mode == "full" else "Read-only file system") in err
    previous = {n: __import__("hashlib").sha256(f"previous {n}".encode()).hexdigest()
                for n in ("cleaning_log.json", "prices.parquet", "responses.parquet")}
    assert res["files"] == previous  # nothing half-updated, no staging folder left


@needs_unshare
def test_cx_run_on_a_full_reports_disk(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    res = _in_namespace(tmp_path, "full", ["run", "--params", str(PARAMS), "--pipeline", str(OK),
                                           "--out", str(out)], out)
    assert res["code"] in (1, 2)
    err = res["err"]
    assert "Traceback" not in err and "Logging error" not in err, err[-3000:]
    assert len(err.splitlines()) < 40, err


# --- item 10: kernel connection files stay out of /tmp -----------------------------------------


def _slow_pipeline(tmp_path: Path) -> tuple[Path, Path]:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('run_dir: str = "x"  # run folder')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("import time\ntime.sleep(120)")]
    nbformat.write(nb, tmp_path / "01_slow.ipynb")
    pipe = tmp_path / "pipeline.yaml"
    pipe.write_text(f"notebooks_dir: {tmp_path}\nnotebooks:\n  - name: 01_slow\n", encoding="utf-8")
    params_file = tmp_path / "params.yaml"
    params_file.write_text("notebooks: {}\n", encoding="utf-8")
    return pipe, params_file


def _tmp_connection_files(folder: Path) -> set[str]:
    found = set()
    for p in folder.rglob("*.json"):
        try:
            if "shell_port" in p.read_text(errors="ignore")[:2000]:
                found.add(p.name)
        except OSError:
            continue
    return found


def test_killed_run_leaves_no_kernel_connection_file_in_tmp(tmp_path: Path) -> None:
    pipe, params_file = _slow_pipeline(tmp_path)
    out = tmp_path / "reports"
    tmp = tmp_path / "tmp"  # the run's /tmp (TMPDIR): jupyter_client used to put kernel files here
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "helpers.cli", "run", "--params",
                             str(params_file), "--pipeline", str(pipe), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(tmp)})
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(f"{kernels.KERNELS}/*/kernel-*.json")):
            assert time.monotonic() < deadline and proc.poll() is None, "no kernel started"
            time.sleep(0.5)
        time.sleep(1)
        assert _tmp_connection_files(tmp) == set()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run, its kernel and everything it started
        proc.wait()
    left = list(out.glob(f"{kernels.KERNELS}/*/kernel-*.json"))
    assert left and oct(left[0].parent.parent.stat().st_mode & 0o777) == "0o700"
    assert _tmp_connection_files(tmp) == set()
    # the next run removes what the killed one left behind
    (out / ".lock").unlink(missing_ok=True)
    with run_folder.run_lock(out):
        pass
    res = pipeline.run(PARAMS, out_dir=out, pipeline_path=OK)
    assert res.status == "succeeded"
    assert not (out / kernels.KERNELS).exists(), _listing(out / kernels.KERNELS)


# --- issue 26: hostile files stop in seconds, in one line naming the limit ----------------------


def _limits(monkeypatch: pytest.MonkeyPatch, **small: float) -> None:
    monkeypatch.setattr(config, "load_limits", lambda *a, **k: config.Limits(**small))


def _refused_fast(argv: list[str], capsys: pytest.CaptureFixture[str], key: str) -> str:
    started = time.perf_counter()
    code = cli.main(argv)
    took = time.perf_counter() - started
    err = _one_line_error(capsys)
    assert code == 2 and key in err and "config/scale.yaml" in err, err
    assert took < 10, took
    return err


def test_an_inflating_xlsx_is_refused_before_it_is_unpacked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import zipfile

    bomb = tmp_path / "export.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(24):
                member.write(b"\0" * (1 << 20))
    assert bomb.stat().st_size < 200_000
    _limits(monkeypatch, xlsx_inflated_mb=20)
    err = _refused_fast(["schema", "infer", str(bomb)], capsys, "xlsx_inflated_mb")
    assert "unpacks to 25 MB" in err


def test_an_export_with_too_many_columns_is_refused_in_seconds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wide = tmp_path / "wide.csv"
    width = 100_000
    wide.write_text(",".join(f"Q{i}" for i in range(width)) + "\n"
                    + ",".join("1" for _ in range(width)) + "\n")
    err = _refused_fast(["schema", "infer", str(wide)], capsys, "limits")
    assert "has 100,000 columns" in err and "at most 5,000" in err


def test_a_line_past_the_limit_is_one_line_not_a_memory_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    long = tmp_path / "long.csv"
    with open(long, "w") as fh:
        fh.write("id,ltr\n1,9\n2,10\n3,7\n4," + "9" * (6 << 20) + ",x\n5,8\n")
    _limits(monkeypatch, line_mb=1)
    err = _refused_fast(["schema", "infer", str(long)], capsys, "line_mb")
    assert "line 5 is longer than 1 MB" in err


def test_line_length_check_across_chunk_boundaries(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.errors import DataError
    from helpers.ingest import delimited

    p = tmp_path / "x.csv"
    p.write_bytes(b"a\n" + b"x" * 900_000 + b"\n" + b"y" * (5 << 20) + b"\nz\n")
    _limits(monkeypatch, line_mb=1)
    with pytest.raises(DataError, match="line 3 is longer"):
        delimited.check_line_length(p)
    p.write_bytes((b"x" * 900_000 + b"\n") * 8)
    delimited.check_line_length(p)   # long lines under the limit pass


def test_a_schema_whose_aliases_expand_to_gigabytes_is_refused(tmp_path: Path) -> None:
    """0.8 MB within the node limit: one 400 KB string referenced 99,000 times (62 s before)."""
    schema = tmp_path / "survey.yaml"
    refs = ", ".join(["*s"] * 99_000)
    schema.write_text(f'big: &s "{"x" * 400_000}"\nlabels: [{refs}]\n')
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"more than [\d,]+ MB of text.*yaml_expanded_mb"):
        config.read_yaml(schema)
    assert time.perf_counter() - started < 10


def test_a_newline_in_an_export_name_writes_no_key_into_the_draft(tmp_path: Path) -> None:
    import yaml

    from helpers.ingest import infer, readers

    name = "export\nmarket_rule: {all: B2C}\u2028x: 1\x85y: 2.csv"
    p = tmp_path / name
    p.write_text("ResponseId,Q1\nR1,9\nR2,7\nR3,10\n")
    draft = infer.infer_schema(readers.read_survey(p)).text
    doc = yaml.safe_load(draft)
    assert "x" not in doc and "y" not in doc
    assert len([line for line in draft.splitlines() if line.startswith("market_rule:")]) == 1
    assert len(draft.splitlines()) == len(draft.split("\n")) - (draft.endswith("\n"))
    assert "# Source: \"export\\nmarket_rule" in draft
