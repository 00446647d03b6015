"""IPython extension of a kernel started ahead of its notebook (:func:`helpers.reporting.kernels.start`):
it imports the modules named in ``$CX_PRELOAD`` while the kernel boots, so the notebook's own
import cell finds them loaded. A module that fails to import is left for that cell to report."""

from __future__ import annotations

import contextlib
import importlib
import os
from typing import Any

PRELOAD_ENV = "CX_PRELOAD"  # comma-separated modules; removed from the kernel's environment


def load_ipython_extension(ipython: Any) -> None:
    """Import every module of ``$CX_PRELOAD`` (in order; failures ignored)."""
    for name in filter(None, os.environ.pop(PRELOAD_ENV, "").split(",")):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
