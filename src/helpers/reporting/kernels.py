"""Notebook kernels of a run: each executes in its own kernel whose connection file lives in the
run's private folder (parallel kernels race for ports and leak files in /tmp otherwise) and whose
environment names the notebook it runs (so the catalog checks its reads and writes against the
run contract, :data:`helpers.contract.NOTEBOOK_ENV`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from helpers import catalog, contract, paths

KERNELS = ".kernels"  # reports/.kernels/<run-id>/: connection files of the run's kernels (0700)
_KERNEL_DIR: list[Path | None] = [None]


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
        yield
    finally:
        _KERNEL_DIR[0] = None
        _remove_stale(root)  # also what a killed run's late-starting kernel wrote meanwhile
        with contextlib.suppress(OSError):
            root.rmdir()  # only when no killed run left a folder in it


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

    folder = _KERNEL_DIR[0]

    class RunKernelManager(KernelManager):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            if folder is not None and not self.connection_file:
                self.connection_file = str(folder / f"kernel-{uuid.uuid4()}.json")

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
