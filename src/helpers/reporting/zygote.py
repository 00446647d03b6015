"""Kernel zygote of a run: one process that imports the libraries every notebook's kernel would
(numpy, pandas, matplotlib, ipykernel, the notebooks' modules) once, and forks each kernel from
itself on request, instead of each kernel starting Python and importing them anew. Forked
kernels share its pages until they write them.

`cx run` starts it before its checks, so it imports meanwhile
(:func:`helpers.reporting.kernels.zygote_ahead`), and the run's kernel folder adopts it
(:func:`helpers.reporting.kernels.kernel_folder`; a run started otherwise starts its own). It exits
when the runner closes its stdin or dies (``PR_SET_PDEATHSIG``, and the closed pipe), and each
kernel dies with it. Linux only (a kernel is watched through a pidfd); ``CX_KERNEL_ZYGOTE=0``
turns it off, and kernels then start as their own processes, as they do wherever it is off or
failed to start.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from helpers.lifetime import die_with_parent

log = logging.getLogger("helpers.reporting.pipeline")
ENV = "CX_KERNEL_ZYGOTE"  # 0: every kernel starts as its own process
LAUNCHER = ["-m", "ipykernel_launcher"]  # the kernel command a zygote can launch
_SAFE_THREADS = {"jemalloc_bg_thd"}  # pyarrow's allocator thread: jemalloc re-arms it in a fork
_REQUEST_TIMEOUT_S = 120.0  # the first request waits for the zygote's imports


def available() -> bool:
    """Whether kernels of a run may be forked from a zygote here."""
    if os.environ.get(ENV, "1") == "0" or sys.platform != "linux" or not hasattr(os, "pidfd_open"):
        return False
    import multiprocessing  # not helpers.ingest.privacy.can_fork: no pandas before the zygote

    return "fork" in multiprocessing.get_all_start_methods()


class ForkedKernel:
    """A kernel forked by the zygote, seen through a pidfd as a :class:`subprocess.Popen`
    (the zygote reaps it: its exit status is not known here, 0)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd = -1  # open while returncode is None
        try:
            self._pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            self.returncode = 0

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._pidfd], [], [], 0)[0]:
            self._exited()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0.0)
            self._exited()
        return 0

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def _exited(self) -> None:
        self.returncode = 0
        os.close(self._pidfd)
        self._pidfd = -1


class Zygote:
    """The runner's end of a zygote: started with `stages` of modules to import (it forks the
    kernels asked for after each stage: the first notebook's need not wait for the others'
    modules) and `env` (a kernel's, without its notebook), listening on `folder`/zygote (a
    private folder)."""

    def __init__(self, folder: Path, stages: Sequence[Sequence[str]], env: Mapping[str, str],
                 cwd: Path) -> None:
        self.path = str(folder / "zygote")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(self.path)
            listener.listen(64)  # requests wait here while the zygote imports
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", __name__, str(listener.fileno()), str(os.getpid()),
                 ";".join(",".join(modules) for modules in stages)],
                stdin=subprocess.PIPE, env=dict(env), cwd=cwd, pass_fds=(listener.fileno(),))

    def fork(self, cmd: Sequence[str], env: Mapping[str, str], cwd: str) -> ForkedKernel:
        """A kernel running `cmd` (``python -m ipykernel_launcher ...``) in `env` and `cwd`,
        forked now; OSError or ValueError when the zygote cannot."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(_REQUEST_TIMEOUT_S)
            conn.connect(self.path)
            conn.sendall(json.dumps({"cmd": list(cmd), "env": dict(env), "cwd": cwd}).encode())
            conn.shutdown(socket.SHUT_WR)
            return ForkedKernel(int(_read_all(conn)))

    def close(self) -> None:
        """Stop the zygote (its kernels die with it)."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _extra_threads() -> list[str]:
    """Threads of this process other than the main one and those safe across a fork."""
    names = [Path(f"/proc/self/task/{t}/comm").read_text().strip()
             for t in os.listdir("/proc/self/task") if int(t) != os.getpid()]
    return [name for name in names if name not in _SAFE_THREADS]


def main(argv: Sequence[str]) -> int:
    """The zygote: argv is the listening socket's fd, the runner's pid and the stages of modules
    (``a,b;c,d``)."""
    listener = socket.socket(fileno=int(argv[0]))
    die_with_parent(int(argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    signal.signal(signal.SIGCHLD, _reap)  # not SIG_IGN: that drops the kernels' CPU times
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]  # as ipykernel_launcher
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as ipykernel
    stages = [s.split(",") for s in argv[2].split(";")]
    stages[0] = ["ipykernel.kernelapp", *stages[0]]
    for k, stage in enumerate(stages):
        for name in filter(None, stage):
            with contextlib.suppress(Exception):
                __import__(name)
        if extra := _extra_threads():
            print(f"kernel zygote: not forking with threads {extra}", file=sys.stderr)
            return _serve(listener, forks=False)
        gc.collect()
        gc.freeze()  # the collector of a kernel never writes to (so copies) the pages imported here
        if k < len(stages) - 1 and not _serve(listener, pending_only=True):
            return 0
    return _serve(listener)


def _reap(*_: object) -> None:
    """Reap every kernel that has exited (their CPU times count in the runner's children)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _serve(listener: socket.socket, *, forks: bool = True, pending_only: bool = False) -> int:
    """Fork a kernel for each request until stdin closes (the runner is done or gone: 0); with
    `pending_only`, only for the requests already waiting (1 when it should go on). Without
    `forks`, a request is refused (its kernel then starts as its own process)."""
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [], 0 if pending_only else None)
        if sys.stdin in ready:
            return 0
        if not ready:
            return 1
        conn, _ = listener.accept()
        with conn:
            if not forks:
                continue
            try:
                conn.settimeout(10)
                request = json.loads(_read_all(conn))
                started_r, started_w = os.pipe()
                sys.stdout.flush()  # nothing buffered here is written again by the kernel
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    os.close(started_r)
                    _become_kernel(request, [listener, conn], started_w)
                os.close(started_w)
                os.read(started_r, 1)  # EOF once the kernel has its own session
                os.close(started_r)
                conn.sendall(str(pid).encode())
            except Exception:  # noqa: BLE001 - a bad request fails alone; the runner falls back
                traceback.print_exc()


def _become_kernel(request: dict, sockets: list[socket.socket], started: int) -> None:
    """In the forked child: become the kernel `request` asks for, as ipykernel_launcher would
    start it; never returns."""
    code = 1
    try:
        zygote = os.getppid()
        os.setsid()  # its own process group: interrupts reach it (and its children) alone
        os.close(started)
        die_with_parent(zygote)
        for sock in sockets:
            sock.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update({**request["env"], "JPY_PARENT_PID": str(zygote)})
        os.chdir(request["cwd"])
        _reseed()
        code = _launch(request["cmd"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    except BaseException:  # noqa: BLE001 - reported, then the process ends
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _reseed() -> None:
    """Fresh seeds for the global random generators a fork would share with its siblings."""
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def _launch(cmd: Sequence[str]) -> int:
    import importlib.util

    from ipykernel import kernelapp

    launcher = importlib.util.find_spec(LAUNCHER[1])
    # the parent is read from $JPY_PARENT_PID when kernelapp is imported (in the zygote, without
    # it): given as an option, the kernel polls its parent and prints no console banner
    sys.argv = [str(launcher and launcher.origin), *cmd[len(LAUNCHER) + 1:],
                f"--IPKernelApp.parent_handle={int(os.environ['JPY_PARENT_PID'])}"]
    kernelapp.launch_new_instance(argv=sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
