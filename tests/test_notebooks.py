"""Notebooks are committed clean: kernelspec python3, a parameters cell, outputs only in checked cells."""

import pytest

from helpers import paths
from helpers.reporting import nbtools

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(nb):
    assert nbtools.problems(nb) == []


def test_pipeline_lists_every_notebook():
    from helpers import config
    listed = {n["name"] for n in config.read_yaml("config/pipeline.yaml")["notebooks"]}
    assert listed == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_parameter_is_visible_to_papermill(nb):
    """papermill silently skips parameter lines it cannot parse (e.g. '=' inside a comment)."""
    import re

    import nbformat
    import papermill

    cell = next(c for c in nbformat.read(nb, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    declared = {m[1] for m in re.finditer(r"^(\w+)\s*:", cell.source, flags=re.M)}
    assert declared == set(papermill.inspect_notebook(str(nb))), "a parameter line papermill cannot parse"
    assert "run_dir" in declared
