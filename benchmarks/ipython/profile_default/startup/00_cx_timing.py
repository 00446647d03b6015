"""Benchmark only (IPYTHONDIR=benchmarks/ipython): where a notebook kernel spends its time.

Records, per executed cell, its first line, wall and CPU seconds (CPU: this process, all its
threads), the kernel's CPU before its first cell, the time inside the data loaders
(selection.load, clean.run, summary.load_artefacts) and the time inside the chart helpers
(helpers.reporting.*charts) and in rendering figures to PNG (FigureCanvasBase.print_figure,
what the inline backend calls after each cell); written after every cell to
$CX_TIMING_DIR/<notebook>.json. Nothing is imported up front, so the notebook's own import cell
still pays for its imports.
"""
import functools
import json
import os
import sys
import time

_REC = {"boot_cpu": time.process_time(), "cells": [], "charts_wall": 0.0, "charts_cpu": 0.0,
        "load_wall": 0.0, "load_cpu": 0.0}
_DEPTH = {"charts": 0, "load": 0}
_LOADERS = {"helpers.analysis.selection": "load", "helpers.ingest.clean": "run",
            "helpers.reporting.summary": "load_artefacts"}
_PATCHED: set = set()
_CELL = {}


def _timed(fn, kind="charts"):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        _DEPTH[kind] += 1
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return fn(*a, **kw)
        finally:
            _DEPTH[kind] -= 1
            if _DEPTH[kind] == 0:
                _REC[kind + "_wall"] += time.perf_counter() - t0
                _REC[kind + "_cpu"] += time.process_time() - c0
    return wrapper


def _patch():
    for name, attr in _LOADERS.items():
        mod = sys.modules.get(name)
        if mod is not None and "load:" + name not in _PATCHED:
            _PATCHED.add("load:" + name)
            setattr(mod, attr, _timed(getattr(mod, attr), "load"))
    for name in ("helpers.reporting.charts", "helpers.reporting.driver_charts",
                 "helpers.reporting.integrity_charts", "helpers.reporting.summary"):
        mod = sys.modules.get(name)
        if mod is None or name in _PATCHED:
            continue
        _PATCHED.add(name)
        for attr, value in list(vars(mod).items()):
            if (callable(value) and getattr(value, "__module__", "") == name
                    and not isinstance(value, type) and attr not in ("set_theme", "show")
                    and (name != "helpers.reporting.summary" or attr.endswith("_chart"))):
                setattr(mod, attr, _timed(value))
    base = sys.modules.get("matplotlib.backend_bases")
    if base is not None and "canvas" not in _PATCHED:
        _PATCHED.add("canvas")
        base.FigureCanvasBase.print_figure = _timed(base.FigureCanvasBase.print_figure)


def _pre(info):
    _patch()
    _CELL.update(source=(info.raw_cell or "")[:2000], wall=time.perf_counter(), cpu=time.process_time())


def _post(*_):
    _patch()
    if _CELL:
        _REC["cells"].append({"source": _CELL["source"], "wall": time.perf_counter() - _CELL["wall"],
                              "cpu": time.process_time() - _CELL["cpu"]})
    folder, notebook = os.environ.get("CX_TIMING_DIR"), os.environ.get("CX_NOTEBOOK")
    if folder and notebook:
        with open(os.path.join(folder, f"{notebook}.json"), "w") as f:
            json.dump(_REC, f)


if os.environ.get("CX_TIMING_DIR") and os.environ.get("CX_NOTEBOOK"):
    # a kernel forked from the run's zygote shows the zygote's environment in /proc
    with open(os.path.join(os.environ["CX_TIMING_DIR"], f"pid-{os.getpid()}"), "w") as f:
        f.write(os.environ["CX_NOTEBOOK"])
get_ipython().events.register("pre_run_cell", _pre)  # noqa: F821
get_ipython().events.register("post_run_cell", _post)  # noqa: F821

if os.environ.get("CX_PROFILE_DIR") and os.environ.get("CX_NOTEBOOK"):
    import cProfile

    _PROF = cProfile.Profile()

    def _prof_on(_info):
        _PROF.enable()

    def _prof_off(*_):
        _PROF.disable()
        _PROF.dump_stats(os.path.join(os.environ["CX_PROFILE_DIR"], f"{os.environ['CX_NOTEBOOK']}.prof"))

    get_ipython().events.register("pre_run_cell", _prof_on)  # noqa: F821
    get_ipython().events.register("post_run_cell", _prof_off)  # noqa: F821
