"""Notebook kernels of a run: each executes in its own kernel whose connection file lives in the
run's private folder (it leaks files in /tmp otherwise), which talks over Unix sockets in a private
folder of its own (TCP ports are picked free and bound later, so kernels started at the same moment
by two runs or test workers can take the same port), and whose environment names the notebook it
runs (so the catalog checks its reads and writes against the
run contract, :data:`helpers.contract.NOTEBOOK_ENV`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from helpers import catalog, contract, paths

KERNELS = ".kernels"  # reports/.kernels/<run-id>/: connection files of the run's kernels (0700)
_KERNEL_DIR: list[Path | None] = [None]
_SOCKET_DIR: list[Path | None] = [None]
_SOCKET_PATH_MAX = 100  # bytes of a Unix socket's path (108 on Linux, 104 on macOS, with the NUL)
_SOCKET_NAME = len("/cx-XXXXXXXX/0123456789ab-9999")  # folder, kernel and channel of one socket


@contextlib.contextmanager
def kernel_folder(reports: Path, rid: str) -> Iterator[None]:
    """Kernel connection files go to a private folder of the run, never to /tmp.

    A run killed outright cannot clean up after itself; the next run (which holds the lock, so no
    other run is alive) removes what killed runs left behind.
    """
    root = catalog.refuse_symlink(reports / KERNELS, "the kernels folder")
    _remove_stale(root)
    folder = root / rid
    folder.mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    _KERNEL_DIR[0] = folder
    try:
        _SOCKET_DIR[0] = _socket_folder(folder)
        yield
    finally:
        _KERNEL_DIR[0] = None
        if _SOCKET_DIR[0] is not None:
            shutil.rmtree(_SOCKET_DIR[0], ignore_errors=True)
            _SOCKET_DIR[0] = None
        _remove_stale(root)  # also what a killed run's late-starting kernel wrote meanwhile
        with contextlib.suppress(OSError):
            root.rmdir()  # only when no killed run left a folder in it


def _socket_folder(run_folder: Path) -> Path | None:
    """A private folder for the kernels' Unix sockets, with a path short enough for one: in the
    run's kernel folder (a killed run's sockets go with it), else the temporary folder or /tmp;
    None (TCP) where there are no Unix sockets or every candidate path is too long."""
    if os.name != "posix":
        return None
    for base in (run_folder, Path(tempfile.gettempdir()), Path("/tmp")):  # noqa: S108 - short path
        if len(os.fsencode(base)) + _SOCKET_NAME <= _SOCKET_PATH_MAX and base.is_dir():
            with contextlib.suppress(OSError):
                return Path(tempfile.mkdtemp(prefix="cx-", dir=base))
    return None


def _remove_stale(root: Path) -> None:
    """Remove every run's folder under `root`: the caller holds the run lock, so no other run is
    alive. A link planted there is removed itself, never followed."""
    for stale in root.glob("*"):
        if stale.is_symlink():
            stale.unlink()
        else:
            shutil.rmtree(stale, ignore_errors=True)


def kernel_manager(notebook: str) -> type:
    """A KernelManager whose connection file lives in the run's kernel folder and whose kernel
    knows it runs `notebook` (``$CX_NOTEBOOK``)."""
    from jupyter_client.manager import KernelManager

    folder, sockets = _KERNEL_DIR[0], _SOCKET_DIR[0]

    class RunKernelManager(KernelManager):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            if folder is not None and not self.connection_file:
                self.connection_file = str(folder / f"kernel-{uuid.uuid4()}.json")
            if sockets is not None:
                self.transport = "ipc"
                self.ip = str(sockets / uuid.uuid4().hex[:12])

        def start_kernel(self, **kw: Any) -> None:
            env = dict(kw.pop("env", None) or os.environ)
            env[contract.NOTEBOOK_ENV] = notebook
            if folder is not None:
                env[contract.STUDY_CACHE_ENV] = str(folder)
            super().start_kernel(env=env, **kw)

    return RunKernelManager


def execute(notebook: Path, output: Path, parameters: Mapping[str, Any], name: str) -> None:
    """Execute `notebook` with `parameters` injected (papermill, kernel python3, cwd the project
    root) into `output`; `name` is the pipeline's name of the notebook."""
    import papermill

    on_tty = sys.stdout.isatty()
    papermill.execute_notebook(
        str(notebook), str(output), parameters=dict(parameters), kernel_name="python3",
        cwd=str(paths.PROJECT_ROOT), progress_bar=on_tty, log_output=not on_tty,
        kernel_manager_class=kernel_manager(name),
    )
