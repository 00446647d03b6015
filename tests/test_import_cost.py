"""What a report kernel imports before its notebook computes anything: every kernel of a run pays
it, so heavy libraries load on first use, and only in the kernels that use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.paths import PROJECT_ROOT
from helpers.reporting import kernels, preload
from helpers.stats import ON_FIRST_USE

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("0*.ipynb"))
#: Libraries no report notebook's import cell may load (they load in the functions that use them).
ON_DEMAND = ("scipy", "sklearn", "statsmodels", "seaborn", "duckdb", "openpyxl", "nbformat",
             "nbconvert", "jinja2", "papermill", "pyspark", "polars")
_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:  # 'from a import b' where b is a name, not a module
        pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_import_cells_load_no_library_on_demand() -> None:
    names = sorted({m for nb in NOTEBOOKS for m in kernels.notebook_modules(nb)})
    assert any(n.startswith("helpers.analysis.") for n in names)
    done = subprocess.run([sys.executable, "-c", _PROBE, *kernels.LIBRARIES, *names],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")})
    loaded = set(json.loads(done.stdout))
    assert "helpers" in loaded
    assert not loaded & set(ON_DEMAND)


def test_kernels_of_computing_notebooks_preload_what_the_stats_layer_defers() -> None:
    by_notebook = {nb.stem: preload.modules_to_load([*kernels.LIBRARIES,
                                                     *kernels.notebook_modules(nb)])
                   for nb in NOTEBOOKS}
    for name in ("01_clean_survey", "06_executive_summary"):  # read or clean, estimate nothing
        assert not set(ON_FIRST_USE) & set(by_notebook[name])
    for name in ("02_segments", "03_promoter_drivers", "09_follow_up_list"):
        assert by_notebook[name][-len(ON_FIRST_USE):] == list(ON_FIRST_USE)
    assert preload.modules_to_load(["numpy", "numpy"]) == ["numpy"]



def test_the_runner_loads_papermill_and_nbconvert_without_compiling_iri_grammars() -> None:
    """`cx run` imports papermill and nbconvert (through jsonschema) at its start: no Lark grammar
    compiled for rfc3987_syntax's "iri" checks, which no notebook schema uses."""
    probe = ("import sys, helpers.reporting.run_command, papermill, nbconvert\n"
             "print(sorted(m for m in ('jsonschema', 'lark', 'rfc3987_syntax') if sys.modules.get(m)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")})
    assert done.stdout.strip() == "['jsonschema']"


def test_libraries_the_analyses_import_on_first_use_are_listed_for_the_zygote() -> None:
    """helpers.analysis.LIBRARIES_ON_FIRST_USE names exactly the scikit-learn and statsmodels
    modules the analyses import inside their functions."""
    import re

    from helpers.analysis import LIBRARIES_ON_FIRST_USE

    found = set()
    for path in (PROJECT_ROOT / "src" / "helpers" / "analysis").glob("*.py"):
        found |= set(re.findall(r"^\s*(?:from|import) ((?:sklearn|statsmodels)[\w.]*)",
                                path.read_text(), re.M))
    assert found == set(LIBRARIES_ON_FIRST_USE)


def test_the_zygote_imports_them_once_after_the_cleanings_kernel(monkeypatch, tmp_path) -> None:
    """The run's zygote imports them in its second stage (the kernels forked after the first
    notebook's share them); the first notebook's kernel, the cleaning, is forked before."""
    from helpers.analysis import LIBRARIES_ON_FIRST_USE

    seen = {}
    monkeypatch.setattr(kernels.zygote, "available", lambda: True)
    monkeypatch.setattr(kernels.zygote, "Zygote", lambda sockets, stages, env, cwd: seen.update(stages=stages))
    kernels._start_zygote(NOTEBOOKS, tmp_path)
    first, later = seen["stages"]
    assert not set(LIBRARIES_ON_FIRST_USE) & set(first)
    assert later[-len(LIBRARIES_ON_FIRST_USE):] == list(LIBRARIES_ON_FIRST_USE)
    kernels._start_zygote(NOTEBOOKS[:1], tmp_path)  # the cleaning alone computes nothing
    assert not set(LIBRARIES_ON_FIRST_USE) & set(seen["stages"][1])


def test_a_zygote_with_them_still_forks() -> None:
    """Importing them starts no thread in the zygote (it refuses to fork with threads)."""
    from helpers.analysis import LIBRARIES_ON_FIRST_USE

    probe = ("import sys\nfrom helpers.reporting import zygote\n"
             "for m in sys.argv[1:]:\n    __import__(m)\nprint(zygote._extra_threads())")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"),
           **dict.fromkeys(kernels.THREAD_SETTINGS, "1")}
    done = subprocess.run([sys.executable, "-c", probe, "ipykernel.kernelapp", *kernels.LIBRARIES,
                           *ON_FIRST_USE, *LIBRARIES_ON_FIRST_USE],
                          capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "[]"
