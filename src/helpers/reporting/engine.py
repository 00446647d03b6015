"""The papermill engine of a run: nbclient's, writing the output notebook less often.

papermill writes the whole output notebook (its charts included, checked against the notebook
schema) when each cell starts and again when it ends: 5-16 ms a time for a report notebook, in
the runner, between two cells, about 470 times a run. Here a cell's start or end writes it only
when :data:`SAVE_EVERY_S` have passed since the last write. The notebook's start and its end,
also after a failure (papermill's ``finally``), always write it, so the finished notebook is the
same; while a notebook runs, its output file is at most that many seconds behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

NAME = "cx"
SAVE_EVERY_S = 10.0


class _Manager(NotebookExecutionManager):
    """papermill's manager, its cells' writes at most every :data:`SAVE_EVERY_S`."""

    in_cell = False

    def save(self, **kwargs: Any) -> None:
        if self.in_cell and (self.now() - self.last_save_time).total_seconds() < SAVE_EVERY_S:
            return
        super().save(**kwargs)

    @contextlib.contextmanager
    def _cell_hook(self) -> Iterator[None]:
        self.in_cell = True
        try:
            yield
        finally:
            self.in_cell = False

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        with self._cell_hook():
            super().cell_start(cell, cell_index, **kwargs)

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        with self._cell_hook():
            super().cell_complete(cell, cell_index, **kwargs)


class Engine(NBClientEngine):
    """nbclient's engine with :class:`_Manager` (papermill's ``Engine.execute_notebook``)."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                         progress_bar: bool = True, log_output: bool = False,
                         autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        manager = _Manager(nb, output_path=output_path, progress_bar=progress_bar,
                           log_output=log_output, autosave_cell_every=autosave_cell_every)
        manager.notebook_start()
        try:
            cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
        finally:
            manager.cleanup_pbar()
            manager.notebook_complete()
        return manager.nb


papermill_engines.register(NAME, Engine)
