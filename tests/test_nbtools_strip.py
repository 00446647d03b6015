"""helpers.reporting.nbtools strip (the pre-commit hook): checked cells keep outputs and counts."""

from __future__ import annotations

from pathlib import Path

import nbformat

from helpers.reporting import nbtools


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("min_n: int = 10", metadata={"tags": ["parameters"]})
    noisy = nbformat.v4.new_code_cell("df.head()", execution_count=2,
                                      outputs=[nbformat.v4.new_output("stream", text="rows\n")])
    noisy.metadata["execution"] = {"iopub.status.idle": "2026-11-23T15:04:05Z"}
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(nps)", execution_count=3,
                                        outputs=[nbformat.v4.new_output("stream", text="31.2\n")])
    nb.cells = [params, noisy, checked]
    nbformat.write(nb, path)
    return path


def test_strip_keeps_checked_cells_and_drops_the_rest(tmp_path: Path) -> None:
    p = _notebook(tmp_path / "nb.ipynb")
    assert nbtools.main(["strip", str(p)]) == 1  # changed: the commit stops for a look
    params, noisy, checked = nbformat.read(p, as_version=4).cells
    assert params.metadata == {"tags": ["parameters"]}
    assert noisy.outputs == [] and noisy.execution_count is None and noisy.metadata == {}
    assert checked.execution_count == 3 and checked.outputs[0]["text"] == "31.2\n"
    assert nbformat.read(p, as_version=4).metadata["kernelspec"]["name"] == "python3"
    assert nbtools.main(["strip", str(p)]) == 0  # already clean: left byte for byte
