"""Notebooks are committed clean: kernelspec python3, a parameters cell, outputs only in checked cells."""

import pytest

from helpers import nbtools, paths

NOTEBOOKS = sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(nb):
    assert nbtools.problems(nb) == []


def test_pipeline_lists_every_notebook():
    from helpers import config
    listed = {n["name"] for n in config.read_yaml("config/pipeline.yaml")["notebooks"]}
    assert listed == {p.stem for p in NOTEBOOKS}
