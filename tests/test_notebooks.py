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


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_parameter_defaults_equal_the_params_file(nb):
    """config/params.yaml is the one source of run parameters: each notebook's defaults equal it,
    and every notebook parameter (but run_dir) is listed there."""
    import ast

    import papermill

    from helpers import config

    declared = papermill.inspect_notebook(str(nb))
    given = config.notebook_params(nb.stem)
    for name, meta in declared.items():
        if name == "run_dir":
            continue
        assert name in given, f"{nb.name}: {name} is missing from config/params.yaml"
        assert ast.literal_eval(meta["default"]) == given[name], (
            f"{nb.name}: default {name} = {meta['default']} but config/params.yaml says {given[name]!r}")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_interactive_runs_follow_the_params_file(nb):
    """Every pipeline notebook reads config/params.yaml when run outside `cx run`."""
    import nbformat

    code = "\n".join(c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code")
    assert f'config.use_params_file(globals(), "{nb.stem}")' in code


def test_use_params_file_only_outside_a_run(tmp_path, monkeypatch):
    from helpers import config
    from helpers.errors import ConfigError

    p = tmp_path / "params.yaml"
    p.write_text("shared: {min_n: 5}\nnotebooks:\n  02_segments: {wave: 2026Q1, max_halfwidth: 20}\n")
    ns = {"min_n": 10, "wave": "", "max_halfwidth": 30.0, "run_dir": "x", "other": 1}
    monkeypatch.delenv(config.RUN_ENV, raising=False)
    monkeypatch.setenv(config.PARAMS_ENV, str(p))
    config.use_params_file(ns, "02_segments")
    assert ns == {"min_n": 5, "wave": "2026Q1", "max_halfwidth": 20.0, "run_dir": "x", "other": 1}
    assert isinstance(ns["max_halfwidth"], float)
    ns2 = {"min_n": 10}
    monkeypatch.setenv(config.RUN_ENV, "a-run")
    config.use_params_file(ns2, "02_segments")
    assert ns2 == {"min_n": 10}
    monkeypatch.delenv(config.RUN_ENV)
    p.write_text("notebooks:\n  02_segments: {min_n: ten}\n")
    with pytest.raises(ConfigError, match="min_n"):
        config.use_params_file({"min_n": 10}, "02_segments")


def test_use_params_file_prints_the_values_it_changed(tmp_path, monkeypatch, capsys):
    """The parameters cell shows defaults; a params file that replaces any says so in one line."""
    from helpers import config

    p = tmp_path / "params.yaml"
    p.write_text("shared: {min_n: 10}\nnotebooks:\n  02_segments: {wave: 2026Q1, max_halfwidth: 30}\n")
    monkeypatch.delenv(config.RUN_ENV, raising=False)
    monkeypatch.setenv(config.PARAMS_ENV, str(p))
    config.use_params_file({"min_n": 10, "wave": "", "max_halfwidth": 30.0}, "02_segments")
    assert capsys.readouterr().out == (f"parameters from {p}, not the defaults shown above: wave='2026Q1'\n")
    config.use_params_file({"min_n": 10, "wave": "2026Q1", "max_halfwidth": 30.0}, "02_segments")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_says_where_its_values_come_from(nb):
    import nbformat

    cell = next(c for c in nbformat.read(nb, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    assert cell.source.splitlines()[0].startswith("# Defaults as in config/params.yaml; interactively")
