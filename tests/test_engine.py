"""Tests of helpers.reporting.engine: the output notebook is written less often, never less
completely."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from helpers.reporting import engine


def _notebook(cells: int) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x = {i}") for i in range(cells)]
    nb.metadata.papermill = {}
    return nb


def _writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    written: list[str] = []
    original = engine.NotebookExecutionManager.save.__globals__["write_ipynb"]

    def counting(nb: nbformat.NotebookNode, path: str) -> None:
        written.append(path)
        original(nb, path)

    monkeypatch.setitem(engine.NotebookExecutionManager.save.__globals__, "write_ipynb", counting)
    return written


def _run_cells(manager: engine._Manager) -> None:
    manager.notebook_start()
    for i, cell in enumerate(manager.nb.cells):
        manager.cell_start(cell, i)
        manager.cell_complete(cell, i)
    manager.notebook_complete()


def test_cells_write_at_most_every_few_seconds_and_the_end_always(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = _writes(monkeypatch)
    out = tmp_path / "out.ipynb"
    manager = engine._Manager(_notebook(30), output_path=str(out), progress_bar=False)
    _run_cells(manager)
    assert len(written) == 2  # the start and the end; papermill's own manager: 62
    final = nbformat.read(out, as_version=4)
    assert [c.metadata.papermill["status"] for c in final.cells] == ["completed"] * 30
    assert all(c.metadata.papermill["duration"] is not None for c in final.cells)

    monkeypatch.setattr(engine, "SAVE_EVERY_S", 0.0)
    written.clear()
    _run_cells(engine._Manager(_notebook(3), output_path=str(out), progress_bar=False))
    assert len(written) == 2 + 2 * 3  # past the interval every cell writes, as papermill's


def test_the_engine_is_registered_with_papermill() -> None:
    from papermill.engines import papermill_engines
    assert papermill_engines.get_engine(engine.NAME) is engine.Engine
