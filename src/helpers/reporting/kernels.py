"""Notebook kernels of a run: each executes in its own kernel whose connection file lives in the
run's private folder (it leaks files in /tmp otherwise), which talks over Unix sockets in a private
folder of its own (TCP ports are picked free and bound later, so kernels started at the same moment
by two runs or test workers can take the same port), and whose environment names the notebook it
runs (so the catalog checks its reads and writes against the
run contract, :data:`helpers.contract.NOTEBOOK_ENV`).

A notebook's kernel can be started ahead of it (:func:`warm`, while other notebooks run): it
imports the notebook's modules as it boots (:mod:`helpers.reporting.preload`), and the notebook
later runs in it (:func:`execute`), still one fresh kernel per notebook. Every kernel is shut
down after its notebook, and those left unused (a notebook skipped, a run interrupted) when the
run's kernel folder closes.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers import contract, paths
from helpers.analysis import LIBRARIES_ON_FIRST_USE
from helpers.reporting import zygote
from helpers.reporting.preload import PRELOAD_ENV, modules_to_load

log = logging.getLogger("helpers.reporting.pipeline")
#: Notebooks run at once (CX_PARALLEL_NOTEBOOKS; 1 runs them one by one).
PARALLEL = max(1, int(os.environ.get("CX_PARALLEL_NOTEBOOKS", min(2, os.cpu_count() or 1))))
#: The numeric libraries' thread pools, sized in each kernel to its share of the cores (two
#: kernels with a BLAS thread per core each on two cores spin more CPU than they compute).
THREAD_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
KERNELS = ".kernels"  # reports/.kernels/<run-id>/: connection files of the run's kernels (0700)
_KERNEL_DIR: list[Path | None] = [None]
_SOCKET_DIR: list[Path | None] = [None]
_ZYGOTE: list[zygote.Zygote | None] = [None]  # the run's kernel zygote, where there is one
_AHEAD: list[zygote.Zygote | None] = [None]  # a zygote started before its run (zygote_ahead)
_SOCKET_PATH_MAX = 100  # bytes of a Unix socket's path (108 on Linux, 104 on macOS, with the NUL)
_SOCKET_NAME = len("/cx-XXXXXXXX/0123456789ab-9999")  # folder, kernel and channel of one socket
#: Libraries every report notebook uses, imported by its kernel as it boots (then its own modules).
LIBRARIES = ("numpy", "pandas", "matplotlib.pyplot")
_BOOT_ARGS = ["--HistoryManager.hist_file=:memory:",  # as nbclient starts its kernels
              "--ext=helpers.reporting.preload"]
_WARM: dict[str, Any] = {}  # notebook name -> its kernel manager, started ahead of it
_WARM_LOCK = threading.Lock()
_STOPPING: list[threading.Thread] = []  # kernels of finished notebooks being shut down


@contextlib.contextmanager
def kernel_folder(reports: Path, rid: str, notebooks: Sequence[Path] = ()) -> Iterator[None]:
    """Kernel connection files go to a private folder of the run, never to /tmp; the run's
    kernels are forked from a zygote that imports `notebooks`' modules (:mod:`.zygote`), where
    there is one.

    A run killed outright cannot clean up after itself; the next run (which holds the lock, so no
    other run is alive) removes what killed runs left behind.
    """
    from helpers import catalog  # pandas: not before zygote_ahead has started its imports

    root = catalog.refuse_symlink(reports / KERNELS, "the kernels folder")
    _remove_stale(root)
    folder = root / rid
    folder.mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    _KERNEL_DIR[0] = folder
    try:
        _SOCKET_DIR[0] = _socket_folder(folder)
        _ZYGOTE[0] = _AHEAD[0] or _start_zygote(notebooks, _SOCKET_DIR[0])
        _AHEAD[0] = None  # stopped with the run's kernel folder
        yield
    finally:
        try:
            discard_all()
        finally:
            _stop_zygote()
        _KERNEL_DIR[0] = None
        if _SOCKET_DIR[0] is not None:
            shutil.rmtree(_SOCKET_DIR[0], ignore_errors=True)
            _SOCKET_DIR[0] = None
        _remove_stale(root)  # also what a killed run's late-starting kernel wrote meanwhile
        with contextlib.suppress(OSError):
            root.rmdir()  # only when no killed run left a folder in it


@contextlib.contextmanager
def zygote_ahead(notebooks: Sequence[Path]) -> Iterator[None]:
    """Start the kernel zygote of the run about to start now, in a private temporary folder: it
    imports on the other core while the run's checks go on (seconds for a large export), and the
    run's :func:`kernel_folder` adopts it. Stopped on leaving, adopted or not."""
    folder = Path(tempfile.mkdtemp(prefix="cx-"))  # 0700, a path short enough for a socket
    try:
        _AHEAD[0] = _start_zygote(notebooks, folder)
        yield
    finally:
        started, _AHEAD[0] = _AHEAD[0], None
        if started is not None:
            started.close()
        shutil.rmtree(folder, ignore_errors=True)


def _start_zygote(notebooks: Sequence[Path], sockets: Path | None) -> zygote.Zygote | None:
    """The run's kernel zygote, importing what the kernels of `notebooks` would, listening in
    `sockets` (None where kernels cannot be forked or it failed to start)."""
    if sockets is None or not zygote.available():
        return None
    first = [*LIBRARIES, *modules_to_load(notebook_modules(notebooks[0]))] if notebooks else []
    names = [name for nb in notebooks for name in notebook_modules(nb)]
    analyses = LIBRARIES_ON_FIRST_USE if any(n.startswith("helpers.analysis.") for n in names) else ()
    try:  # the first notebook's kernel is forked before the others' modules are imported
        return zygote.Zygote(sockets, [first, [*LIBRARIES, *modules_to_load(names), *analyses]],
                             kernel_env(os.environ, None, _KERNEL_DIR[0]), paths.PROJECT_ROOT)
    except OSError as e:
        log.warning("kernel zygote not started (%s): kernels start on their own", e)
        return None


def _stop_zygote() -> None:
    started, _ZYGOTE[0] = _ZYGOTE[0], None
    if started is not None:
        started.close()


def kernel_env(base: Mapping[str, str], notebook: str | None,
               folder: Path | None) -> dict[str, str]:
    """The environment of `notebook`'s kernel (of the zygote: None): `base` naming the notebook
    and the run's kernel `folder` (its study cache), with its share of the cores for numeric
    threads."""
    env = dict(base)
    if notebook is not None:
        env[contract.NOTEBOOK_ENV] = notebook
    if folder is not None:
        env[contract.STUDY_CACHE_ENV] = str(folder)
    share = str(max(1, (os.cpu_count() or 1) // PARALLEL))
    for setting in THREAD_SETTINGS:
        env.setdefault(setting, share)  # a user's own setting stands
    return env


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

    folder, sockets, forks = _KERNEL_DIR[0], _SOCKET_DIR[0], _ZYGOTE[0]

    class RunKernelManager(KernelManager):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            if folder is not None and not self.connection_file:
                self.connection_file = str(folder / f"kernel-{uuid.uuid4()}.json")
            if sockets is not None:
                self.transport = "ipc"
                self.ip = str(sockets / uuid.uuid4().hex[:12])

        def client(self, **kw: Any) -> Any:
            made = super().client(**kw)
            self.__dict__.setdefault("cx_clients", []).append(made)
            return made

        def start_kernel(self, **kw: Any) -> None:
            env = kernel_env(kw.pop("env", None) or os.environ, notebook, folder)
            if forks is not None and self.provisioner is None:
                self.kernel_id = self.kernel_id or str(uuid.uuid4())
                self.provisioner = _zygote_provisioner()(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self,
                    forks=forks)
            super().start_kernel(env=env, **kw)

    return RunKernelManager


@functools.lru_cache(maxsize=1)
def _zygote_provisioner() -> type:
    """A jupyter_client provisioner that forks its kernel from the run's zygote (or starts it as
    its own process when the zygote cannot)."""
    from jupyter_client.provisioning import LocalProvisioner

    class ZygoteProvisioner(LocalProvisioner):
        def __init__(self, *, forks: zygote.Zygote, **kw: Any) -> None:
            super().__init__(**kw)
            self.zygote = forks

        async def launch_kernel(self, cmd: list[str], **kw: Any) -> Any:
            if cmd[0] != sys.executable or cmd[1:3] != zygote.LAUNCHER:
                return await super().launch_kernel(cmd, **kw)
            try:
                forked = self.zygote.fork(cmd, kw.get("env") or os.environ,
                                          str(kw.get("cwd") or os.getcwd()))
            except (OSError, ValueError) as e:
                log.warning("kernel not forked (%s): started on its own", e)
                return await super().launch_kernel(cmd, **kw)
            self.process = forked  # type: ignore[assignment] # a Popen to jupyter_client
            self.pid = self.pgid = forked.pid  # the kernel leads a session of its own
            self.cwd = kw.get("cwd", os.getcwd())
            return self.connection_info

    return ZygoteProvisioner


def notebook_modules(notebook: Path) -> list[str]:
    """The modules `notebook`'s code cells import at their top level (``from a import b``: a and
    a.b, which may be a name rather than a module), read from its source, never run; read once
    per version of the file. A run reads them before it starts threads: CPython 3.11 fails
    ``ast.parse`` in one thread while another formats a traceback (gh-106905)."""
    stat = Path(notebook).stat()
    return list(_imports(str(notebook), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _imports(notebook: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    found: list[str] = []
    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        try:
            body = ast.parse("\n".join(line for line in source.splitlines()
                                       if not line.lstrip().startswith(("%", "!")))).body
        except SyntaxError:
            continue
        for node in body:
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return tuple(dict.fromkeys(found))


def start(notebook: Path, name: str) -> Any:
    """Start the kernel of the notebook `name` (not waiting for it): in the project root, its
    environment naming the notebook, importing :data:`LIBRARIES` and `notebook`'s modules as it
    boots. Its manager."""
    km = kernel_manager(name)(kernel_name="python3")
    modules = ",".join(dict.fromkeys([*LIBRARIES, *notebook_modules(notebook)]))
    km.start_kernel(cwd=str(paths.PROJECT_ROOT), extra_arguments=list(_BOOT_ARGS),
                    env={**os.environ, PRELOAD_ENV: modules})
    return km


def stop(km: Any, *, now: bool = False) -> None:
    """Stop a kernel started by :func:`start`: its clients' channels, then the kernel itself
    (asked to shut down, killed after a wait; at once when `now`)."""
    try:
        for made in km.__dict__.pop("cx_clients", []):
            made.stop_channels()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=now)


def warm(notebook: Path, name: str) -> bool:
    """Start the kernel of the notebook `name` ahead of it (once; only inside a run's
    :func:`kernel_folder`); True when it was started now."""
    with _WARM_LOCK:
        if name in _WARM or _KERNEL_DIR[0] is None:
            return False
        _WARM[name] = start(notebook, name)
    log.info("%s: kernel started ahead", name)
    return True


def discard(name: str) -> None:
    """Stop the kernel started ahead for `name`, if any (its notebook will not run)."""
    with _WARM_LOCK:
        km = _WARM.pop(name, None)
    if km is not None:
        stop(km, now=True)


def discard_all() -> None:
    """Stop every kernel started ahead and not used; wait for those being shut down."""
    with _WARM_LOCK:
        left = list(_WARM)
    for name in left:
        discard(name)
    with _WARM_LOCK:
        stopping = _STOPPING[:]
        _STOPPING.clear()
    for thread in stopping:
        thread.join()


def execute(notebook: Path, output: Path, parameters: Mapping[str, Any], name: str) -> None:
    """Execute `notebook` with `parameters` injected (papermill, kernel python3, cwd the project
    root) into `output`, in the kernel started ahead for it or in one started now (:func:`start`),
    shut down after it (on a thread of its own: the next notebook need not wait; the run's
    :func:`kernel_folder` waits for it); `name` is the pipeline's name of the notebook."""
    import papermill

    from helpers.reporting import engine

    with _WARM_LOCK:
        km = _WARM.pop(name, None)
    km = km if km is not None else start(notebook, name)
    on_tty = sys.stdout.isatty()
    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters=dict(parameters), kernel_name="python3",
            cwd=str(paths.PROJECT_ROOT), progress_bar=on_tty, log_output=not on_tty, km=km,
            engine_name=engine.NAME)
    finally:
        stopping = threading.Thread(target=stop, args=(km,), name="kernel-stop")
        stopping.start()
        with _WARM_LOCK:
            _STOPPING.append(stopping)
