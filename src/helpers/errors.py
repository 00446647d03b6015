"""Errors and exit codes every layer shares. Bad calls and bad data are different errors.

- :class:`ArgumentError`: the caller got an argument wrong (an unknown option, a level out of
  range, a negative size): a programming error, fixed in the code that calls.
- :class:`DataError`: a file or column does not fit (its message names file, column/row, found
  and expected); :class:`ThinData`, a DataError, when valid data are too thin for one method.
  Only ThinData is caught where a section may be thin.
- :class:`ExitCode`: the exit status of every ``cx`` command.

Also the one column check every layer uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit status of every ``cx`` command (docs/scheduling.md lists them for schedulers)."""

    OK = 0            # done; for ``cx run``: every notebook succeeded
    FAILED = 1        # ran, but a notebook failed or was skipped, a page check or a delivery failed
    BAD_INPUT = 2     # configuration or data error (one line on stderr); nothing ran
    LOCKED = 75       # another command holds the writer lock: try again later (EX_TEMPFAIL)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # output piped into a reader that stopped, e.g. `head` (128 + SIGPIPE)


class ArgumentError(ValueError):
    """A bad call: an argument value the function does not accept. ``str(err)`` is one line.

    Parameters
    ----------
    message : what is wrong, e.g. "unknown ci method 'exact'".
    argument : the parameter's name.
    expected : what would have been valid.
    """

    def __init__(self, message: str, *, argument: str | None = None,
                 expected: str | None = None) -> None:
        self.message, self.argument, self.expected = message, argument, expected
        text = f"argument {argument!r}: {message}" if argument else message
        if expected:
            text += f" (expected {expected})"
        super().__init__(" ".join(text.split()))


class DataError(ValueError):
    """Bad input data. ``str(err)`` is a single line fit for the command line.

    Parameters
    ----------
    message : what is wrong, e.g. "column 'Q1' has no numeric values".
    file, column, row : where it is (any may be omitted).
    expected : what would have been valid.
    """

    def __init__(
        self,
        message: str,
        *,
        file: object | None = None,
        column: str | None = None,
        row: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.file, self.column, self.row, self.expected = file, column, row, expected
        where = [f"{file}" if file is not None else None,
                 f"column {column!r}" if column is not None else None,
                 f"row {row}" if row is not None else None]
        prefix = ", ".join(w for w in where if w)
        text = f"{prefix}: {message}" if prefix else message
        if expected:
            text += f" (expected {expected})"
        super().__init__(" ".join(text.split()))


    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its parts (an error raised in a worker process reaches the caller whole)."""
        return _rebuilt, (type(self), self.message, self.file, self.column, self.row, self.expected)

    def moved(self, file: object, rows_before: int) -> DataError:
        """The same error told of the file a part was cut from: `rows_before` responses came
        before the part, so its row r is row r + rows_before of `file`."""
        return type(self)(self.message, file=file, column=self.column, expected=self.expected,
                          row=None if self.row is None else self.row + rows_before)


def _rebuilt(cls: type[DataError], message: str, file: object, column: str | None, row: int | None,
             expected: str | None) -> DataError:
    return cls(message, file=file, column=column, row=row, expected=expected)


class ConfigError(DataError):
    """Invalid configuration or run parameters."""


class ThinData(DataError):
    """Valid data too thin for one analysis (no promoter accounts, too few complete answers,
    an empty domain...). A report shows a "not enough data" card for that section and goes on
    (:meth:`helpers.reporting.cards.Gate.enough`); elsewhere it is a DataError like any other."""


def require_columns(df: Any, columns: Iterable[str], file: object = None, purpose: str = "") -> None:
    """Raise DataError naming the first column of `columns` that `df` lacks.

    `file` names the table (e.g. "responses"), `purpose` what needs the columns (e.g. "the
    timing check"); both appear in the one-line message.
    """
    wanted = list(columns)
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        what = f"missing column(s) {', '.join(map(str, missing))}" + (f" for {purpose}" if purpose else "")
        raise DataError(what, file=file, column=str(missing[0]),
                        expected=f"columns {', '.join(map(str, wanted))}")


def os_error_line(exc: OSError) -> str:
    """One line for a file-system error: what failed and on which file (no traceback).

    The data/raw guard's PermissionError carries its own message and is shown as it is.
    """
    if isinstance(exc, PermissionError) and not exc.filename:
        return " ".join(str(exc).split())
    where = f": {exc.filename}" if exc.filename else ""
    return " ".join(f"{exc.strerror or type(exc).__name__}{where}".split())
