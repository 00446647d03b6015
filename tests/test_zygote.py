"""The run's kernel zygote (helpers.reporting.zygote): kernels forked from it run notebooks in
an environment of their own, can be interrupted, and die with it; where it is off or gone,
kernels start as their own processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.paths import PROJECT_ROOT
from helpers.reporting import kernels, zygote

pytestmark = pytest.mark.skipif(not zygote.available(), reason="no kernel zygote here")
NOTEBOOK = PROJECT_ROOT / "notebooks" / "02_segments.ipynb"


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[zygote.Zygote]:
    with kernels.kernel_folder(tmp_path / "reports", "r1", [NOTEBOOK]):
        assert kernels._ZYGOTE[0] is not None
        yield kernels._ZYGOTE[0]


def _started(name: str) -> tuple[Any, Any]:
    km = kernels.kernel_manager(name)()
    km.start_kernel(cwd=str(PROJECT_ROOT))
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return km, client


def _run(client: Any, code: str) -> str:
    out: list[str] = []
    reply = client.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(
        m["content"].get("text", "")))
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def test_kernels_are_forked_from_the_zygote_each_with_its_own_environment(
        folder: zygote.Zygote) -> None:
    started = [_started(name) for name in ("nb_a", "nb_b")]
    try:
        seen = []
        for km, client in started:
            assert isinstance(km.provisioner.process, zygote.ForkedKernel)
            seen.append(_run(client, "import os, random, sys, numpy\nprint(os.getppid(), "
                                     "os.environ['CX_NOTEBOOK'], 'pandas' in sys.modules, "
                                     "os.environ.get('CX_PRELOAD'), os.getcwd(), "
                                     "random.random(), numpy.random.random())").split())
        for (ppid, notebook, *rest), name in zip(seen, ("nb_a", "nb_b"), strict=True):
            assert int(ppid) == folder.process.pid and notebook == name  # forked, its own name
            assert rest[:3] == ["True", "None", str(PROJECT_ROOT)]  # preloaded, own env and cwd
        assert seen[0][-2:] != seen[1][-2:]  # random generators seeded apart
        # the kernel knows its parent: it polls it and prints no console banner on the run's stdout
        handle = _run(started[0][1], "from ipykernel.kernelapp import IPKernelApp\n"
                                     "print(IPKernelApp.instance().parent_handle)")
        assert int(handle) == folder.process.pid
        assert "nb_a" not in os.environ.get("CX_NOTEBOOK", "")
    finally:
        for km, client in started:
            client.stop_channels()
            km.shutdown_kernel(now=True)
    assert not any(km.is_alive() for km, _ in started)


def test_a_forked_kernel_can_be_interrupted(folder: zygote.Zygote) -> None:  # noqa: ARG001
    km, client = _started("nb_a")
    try:
        threading.Timer(2.0, km.interrupt_kernel).start()
        reply = client.execute_interactive("import time\ntime.sleep(60)", timeout=30,
                                           output_hook=lambda m: None)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert _run(client, "print(6 * 7)").strip() == "42"  # still serving
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_zygote_and_its_kernels_end_with_the_run(tmp_path: Path) -> None:
    with kernels.kernel_folder(tmp_path / "reports", "r1"):
        forks = kernels._ZYGOTE[0]
        assert forks is not None
        km, client = _started("nb_a")
        client.stop_channels()
        kernel = km.provisioner.pid
    assert forks.process.poll() is not None and not _alive(kernel)


_RUNNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from helpers.reporting import kernels
    with kernels.kernel_folder(Path(sys.argv[1]), "r1"):
        km = kernels.kernel_manager("nb_a")()
        km.start_kernel()
        print(kernels._ZYGOTE[0].process.pid, km.provisioner.pid, flush=True)
        time.sleep(120)
""")


def test_a_killed_runner_leaves_no_zygote_and_no_kernel(tmp_path: Path) -> None:
    runner = subprocess.Popen([sys.executable, "-c", _RUNNER, str(tmp_path / "reports")],
                              stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")})
    assert runner.stdout is not None
    pids = [int(p) for p in runner.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def test_kernels_start_on_their_own_when_the_zygote_is_gone(folder: zygote.Zygote) -> None:
    folder.process.kill()
    folder.process.wait()
    km, client = _started("nb_a")
    try:
        assert isinstance(km.provisioner.process, subprocess.Popen)
        assert _run(client, "import os\nprint(os.environ['CX_NOTEBOOK'])").strip() == "nb_a"
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def test_no_zygote_when_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(zygote.ENV, "0")
    assert not zygote.available()
    with kernels.kernel_folder(tmp_path / "reports", "r1"):
        assert kernels._ZYGOTE[0] is None


def test_the_first_notebooks_kernel_does_not_wait_for_the_others_modules(tmp_path: Path) -> None:
    """01 (cleaning) imports no statistics: its kernel is forked once its own modules are in,
    while the zygote goes on to import what the later notebooks need."""
    first = PROJECT_ROOT / "notebooks" / "01_clean_survey.ipynb"
    probe = "import sys\nprint('pandas' in sys.modules, 'scipy.sparse' in sys.modules)"
    with kernels.kernel_folder(tmp_path / "reports", "r1", [first, NOTEBOOK]):
        started = [_started("01_clean_survey")]
        try:
            assert _run(started[0][1], probe).split() == ["True", "False"]
            started.append(_started("02_segments"))
            assert _run(started[1][1], probe).split() == ["True", "True"]
        finally:
            for km, client in started:
                client.stop_channels()
                km.shutdown_kernel(now=True)


def test_a_zygote_started_ahead_is_adopted_by_the_run_and_stopped_with_it(tmp_path: Path) -> None:
    with kernels.zygote_ahead([NOTEBOOK]):
        ahead = kernels._AHEAD[0]
        assert ahead is not None and ahead.process.poll() is None
        folder = Path(ahead.path).parent
        with kernels.kernel_folder(tmp_path / "reports", "r1", [NOTEBOOK]):
            assert kernels._ZYGOTE[0] is ahead and kernels._AHEAD[0] is None  # not a second one
            km, client = _started("nb_a")
            assert _run(client, "import os; print(os.getppid())").strip() == str(ahead.process.pid)
            client.stop_channels()
            km.shutdown_kernel(now=True)
        assert ahead.process.poll() is not None  # stopped with the run's kernel folder
    assert not folder.exists()


def test_a_zygote_started_ahead_of_a_run_that_never_starts_is_stopped() -> None:
    with pytest.raises(ValueError, match="bad parameters"), kernels.zygote_ahead([NOTEBOOK]):
        ahead = kernels._AHEAD[0]
        assert ahead is not None
        raise ValueError("bad parameters")
    assert ahead.process.poll() is not None and kernels._AHEAD[0] is None
    assert not Path(ahead.path).parent.exists()
