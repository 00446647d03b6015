"""Notebook hygiene: keep outputs only in `# NBVAL_CHECK_OUTPUT` cells, so nbval can fail on them.

`python -m helpers.nbtools refresh notebooks/NN_name.ipynb` executes a notebook on its defaults
(from the project root), keeps the outputs and execution counts of checked cells and strips the rest.
`python -m helpers.nbtools check` lists hygiene problems (used by tests/test_notebooks.py).
`python -m helpers.reporting.nbtools strip FILE...` strips saved notebooks in place (the pre-commit
hook; exit 1 when it changed a file, so the commit stops for a look).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

from helpers import paths

CHECK = "NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def is_checked(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and CHECK in cell.source


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and execution counts of unchecked cells; keep tags and kernelspec."""
    for cell in nb.cells:
        if cell.cell_type == "code" and not is_checked(cell):
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def refresh(path: str | Path, timeout: int = 600) -> None:
    """Execute a notebook in the project root and save it with only checked outputs kept."""
    from nbclient import NotebookClient
    p = paths.resolve(path)
    nb = nbformat.read(p, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(paths.PROJECT_ROOT)}}).execute()
    # Checked cells are numbered 1..k in order, as nbval's fresh kernel will see them run.
    nbformat.write(strip(nb), p)


def strip_file(path: str | Path) -> bool:
    """Strip one saved notebook in place (no execution); True when the file changed."""
    p = Path(path)
    before = p.read_text(encoding="utf-8")
    after = nbformat.writes(strip(nbformat.reads(before, as_version=4)))
    after = after if after.endswith("\n") else after + "\n"
    if after == before:
        return False
    p.write_text(after, encoding="utf-8")
    return True


def problems(path: str | Path) -> list[str]:
    """Hygiene problems of one notebook (empty list when clean)."""
    p = Path(path)
    raw = json.loads(p.read_text(encoding="utf-8"))
    out = [f"{p.name}: cell {i} has no id (nbformat warns in every run)"
           for i, c in enumerate(raw.get("cells", [])) if "id" not in c]
    nb = nbformat.read(p, as_version=4)
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        out.append(f"{p.name}: kernelspec is not python3")
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first_code is None or "parameters" not in first_code.metadata.get("tags", []):
        out.append(f"{p.name}: first code cell is not tagged 'parameters'")
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        if "sys.path" in c.source:
            out.append(f"{p.name}: cell {i} edits sys.path")
        if not is_checked(c) and (c.outputs or c.execution_count is not None):
            out.append(f"{p.name}: cell {i} keeps outputs but is not a {CHECK} cell")
        if is_checked(c) and not c.outputs:
            out.append(f"{p.name}: checked cell {i} has no stored output for nbval to compare")
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "refresh":
        for path in argv[1:]:
            refresh(path)
            print(f"refreshed {path}")
        return 0
    if argv and argv[0] == "strip":
        changed = [path for path in argv[1:] if strip_file(path)]
        for path in changed:
            print(f"stripped outputs of {path}")
        return 1 if changed else 0
    if argv and argv[0] == "check":
        found = [msg for p in sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb")) for msg in problems(p)]
        print("\n".join(found) or "all notebooks clean")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
