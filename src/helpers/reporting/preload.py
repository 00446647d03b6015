"""IPython extension of a kernel started ahead of its notebook (:func:`helpers.reporting.kernels.start`):
it imports the modules named in ``$CX_PRELOAD`` while the kernel boots, so the notebook's own
import cell finds them loaded. A module that fails to import is left for that cell to report."""

from __future__ import annotations

import contextlib
import importlib
import os
from typing import Any

from helpers.stats import ON_FIRST_USE

PRELOAD_ENV = "CX_PRELOAD"  # comma-separated modules; removed from the kernel's environment
COMPUTING = ("helpers.analysis.", "helpers.stats.")  # a notebook importing these computes estimates


def modules_to_load(names: list[str]) -> list[str]:
    """`names`, then :data:`helpers.stats.ON_FIRST_USE` when one of them is an analysis or stats
    module: the notebook will call the functions that import those."""
    computes = any(name.startswith(COMPUTING) for name in names)
    return list(dict.fromkeys([*names, *(ON_FIRST_USE if computes else ())]))


def load_ipython_extension(ipython: Any) -> None:
    """Import every module of ``$CX_PRELOAD`` (in order; failures ignored)."""
    for name in modules_to_load(list(filter(None, os.environ.pop(PRELOAD_ENV, "").split(",")))):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
