"""helpers.lifetime: worker processes do not outlive the process that forked them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_masking_workers_die_with_the_process_that_forked_them() -> None:
    """A kernel killed while cleaning (a run stopped) used to leave its two workers alive for ever,
    each waiting on a pipe its sibling also held."""
    import signal
    import subprocess
    import time

    code = ("import os, sys\nfrom helpers.ingest import privacy\npool = privacy.forked_pool(2)\n"
            "print(' '.join(str(p) for p in pool._processes), flush=True)\nsys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in proc.stdout.readline().split()]  # type: ignore[union-attr]
    assert len(workers) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.05)
    assert not any(Path(f"/proc/{p}").exists() for p in workers)
    proc.stdin.close()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
