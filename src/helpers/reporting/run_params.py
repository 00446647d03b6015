"""The parameters of a run, checked before anything runs.

:func:`validate` reads each notebook's parameters cell (``papermill.inspect_notebook``) and checks
config/params.yaml against it: unknown notebooks and keys, wrong types (YAML dates arrive as
dates, tuples become lists in papermill: :func:`coerce`), oversized values and missing input
files; and checks config/pipeline.yaml against the run contract: every table or metrics file a
notebook reads comes from a notebook it needs. Each problem is one one-line
:class:`~helpers.errors.ConfigError`; the result is the plan, one :class:`PlannedStep` per notebook.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from helpers import config, contract, paths
from helpers import inputs as registry
from helpers.config import NotebookStep, PipelineConfig, RunParams
from helpers.errors import ConfigError
from helpers.reporting.render import ParamRow
from helpers.reporting.run_folder import relative

RESERVED = ("run_dir",)
MAX_PARAM_CHARS = 10_000  # a parameter value (as JSON) larger than this is a mistake or an attack


@dataclass(frozen=True)
class PlannedStep:
    """A validated notebook: its file, the parameters to inject and the input files it reads."""

    step: NotebookStep
    notebook: Path
    overrides: dict[str, Any]
    defaults: dict[str, Any]
    declared: dict[str, dict[str, Any]]
    inputs: dict[str, Path] = field(default_factory=dict)

    def effective(self, run_dir_value: str) -> dict[str, Any]:
        """Every parameter the notebook runs with: its defaults, the params file's values, run_dir."""
        out: dict[str, Any] = {}
        for name, meta in self.declared.items():
            default = self.defaults.get(name)
            out[name] = default if default is not None else meta.get("default")
        out.update(self.overrides)
        if "run_dir" in self.declared:
            out["run_dir"] = run_dir_value
        return out

    def param_rows(self, run_dir_value: str) -> list[ParamRow]:
        """The run-parameters table its report prints: value and where it came from."""
        rows = []
        for name, meta in self.declared.items():
            value: Any
            if name == "run_dir":
                value, source = run_dir_value, "runner"
            elif name in self.overrides:
                value, source = self.overrides[name], "params file"
            else:
                value, source = self.defaults.get(name, meta.get("default")), "notebook default"
            rows.append(ParamRow(name=name, value=json.dumps(value, default=str),
                                 source=source, help=str(meta.get("help", ""))))
        return rows


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (int, float),
                                         "bool": (bool,)}


def coerce(value: Any, type_name: str, default: Any = None) -> Any:
    """Check `value` against a parameters-cell annotation and return it in that type.

    Raises TypeError naming what was expected. YAML dates become ISO strings for ``str``; ints
    are accepted (and converted) for ``float``; bools are never ints. Parameters without an
    annotation are checked against the type of their literal default, when there is one.
    """
    t = (type_name or "None").replace(" ", "")
    if t in ("None", "Any", "typing.Any"):
        if default is None:
            return _plain(value)
        t = type(default).__name__
    base, _, inner = t.partition("[")
    inner = inner[:-1] if inner.endswith("]") else inner
    if isinstance(value, dt.date) and base == "str":
        return value.isoformat()
    if base in _SCALARS:
        ok = isinstance(value, _SCALARS[base]) and not (isinstance(value, bool) and base != "bool")
        if not ok:
            raise TypeError(base)
        return float(value) if base == "float" else value
    if base in ("list", "List", "tuple", "Tuple"):
        if not isinstance(value, list | tuple):
            raise TypeError(t)
        if inner in _SCALARS:
            try:
                return [coerce(v, inner) for v in value]
            except TypeError:
                raise TypeError(t) from None
        return [_plain(v) for v in value]
    if base in ("dict", "Dict"):
        if not isinstance(value, dict):
            raise TypeError(t)
        return {str(k): _plain(v) for k, v in value.items()}
    return _plain(value)


def _plain(value: Any) -> Any:
    """Make YAML values papermill-safe (dates -> ISO strings, tuples -> lists)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def inspect_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """Parameters declared by a notebook's ``parameters`` cell (name -> type, default, help);
    read once per version of the file (`cx run --raw` checks them before the run and as it
    starts)."""
    stat = Path(notebook).stat()
    return copy.deepcopy(_declared(str(notebook), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=64)
def _declared(notebook: str, mtime_ns: int, size: int) -> dict[str, dict[str, Any]]:
    import papermill

    pm_log = logging.getLogger("papermill")
    level = pm_log.level
    pm_log.setLevel(logging.WARNING)  # no "Input Notebook: ..." line per notebook on --check
    try:
        return dict(papermill.inspect_notebook(notebook))
    finally:
        pm_log.setLevel(level)


def validate(params: RunParams, pipeline: PipelineConfig) -> list[PlannedStep]:
    """Check the pipeline's reads and every parameter against every notebook before anything runs.

    Returns the planned steps; raises :class:`ConfigError` (one line, naming file, key, what was
    found and what was expected) for a notebook reading what no notebook it needs writes, unknown
    notebooks or keys, wrong types, a reserved key, a missing notebook or a missing input file.
    """
    check_reads(pipeline)
    pfile = relative(params.file)
    names = [s.name for s in pipeline.steps]
    for name in params.notebooks:
        if name not in names:
            raise ConfigError(f"notebooks.{name}: unknown notebook", file=pfile,
                              expected=f"one of {', '.join(names)} (config/pipeline.yaml)")
    for key in (*params.shared, *(k for v in params.notebooks.values() for k in v)):
        if key in RESERVED:
            raise ConfigError(f"key {key!r} is set by the runner", file=pfile,
                              expected="no run_dir in params (use cx run --out)")
    planned = [_plan_step(step, params, pipeline) for step in pipeline.steps]
    declared_anywhere = {k for p in planned for k in p.declared}
    for key in params.shared:
        if key not in declared_anywhere:
            raise ConfigError(f"shared.{key}: no notebook declares this parameter", file=pfile,
                              expected="a parameter of at least one notebook in the pipeline")
    return planned


def check_reads(pipeline: PipelineConfig) -> None:
    """:class:`ConfigError` when a notebook of `pipeline` reads a result table or metrics file
    (``contract.READS``) that is not written by a notebook among its ``needs``."""
    for step in pipeline.steps:
        for what, writer in contract.reads_of(step.name):
            if writer not in step.needs:
                raise ConfigError(
                    f"notebook {step.name} reads {what} of {writer}, which it does not need",
                    file=relative(pipeline.file),
                    expected=f"{writer} in the needs of {step.name}; helpers/contract.py READS "
                             "lists what each notebook reads")


def _plan_step(step: NotebookStep, params: RunParams, pipeline: PipelineConfig) -> PlannedStep:
    """One notebook's checked parameters (params file over its defaults) and input files."""
    nb_path = paths.resolve(step.path)
    if not nb_path.is_file():
        raise ConfigError(f"notebook {step.name!r}: file {step.path} not found",
                          file=relative(pipeline.file),
                          expected="an existing .ipynb (entry 'path' or notebooks_dir)")
    declared = inspect_parameters(nb_path)
    plan = PlannedStep(step=step, notebook=nb_path, overrides={}, declared=declared,
                       defaults={k: _literal(v.get("default", "")) for k, v in declared.items()})
    plan = replace(plan, overrides=_overrides(plan, params))
    return replace(plan, inputs=_input_files(plan, params, pipeline))


def _overrides(plan: PlannedStep, params: RunParams) -> dict[str, Any]:
    """The params file's values for one notebook (its own over ``shared``), checked and coerced."""
    pfile, name, declared = relative(params.file), plan.step.name, plan.declared
    specific = params.notebooks.get(name, {})
    for key in specific:
        if key not in declared:
            raise ConfigError(
                f"notebooks.{name}.{key}: unknown parameter", file=pfile,
                expected=f"one of {', '.join(sorted(declared)) or 'none'} "
                         f"(parameters cell of {relative(plan.notebook)})")
    merged = {**{k: v for k, v in params.shared.items() if k in declared}, **specific}
    overrides: dict[str, Any] = {}
    for key, value in merged.items():
        where = f"notebooks.{name}.{key}" if key in specific else f"shared.{key}"
        _check_size(value, where, pfile)
        if key == "currency":
            config.currency_code(value, where, pfile)
        try:
            overrides[key] = coerce(value, declared[key].get("inferred_type_name", "None"),
                                    plan.defaults.get(key))
        except TypeError as exc:
            raise ConfigError(f"{where}: found {_describe(value)}", file=pfile,
                              expected=f"{exc} (parameters cell of {relative(plan.notebook)}, "
                                       f"used by {name})") from None
    return overrides


def _input_files(plan: PlannedStep, params: RunParams, pipeline: PipelineConfig) -> dict[str, Path]:
    """The files a notebook's input parameters name (pipeline.yaml ``inputs`` and
    ``optional_inputs``), each checked to exist; optional inputs left "" are left out."""
    step, pfile = plan.step, relative(params.file)
    specific = params.notebooks.get(step.name, {})
    inputs: dict[str, Path] = {}
    for key in (*step.inputs, *step.optional_inputs):
        if key not in plan.declared:
            raise ConfigError(f"notebook {step.name!r}: input {key!r} is not a parameter",
                              file=relative(pipeline.file),
                              expected=f"one of {', '.join(sorted(plan.declared))}")
        source = (f"notebooks.{step.name}.{key}" if key in specific else
                  f"shared.{key}" if key in plan.overrides else
                  f"default of {key} in {relative(plan.notebook)}")
        found = _input_file(plan.overrides.get(key, plan.defaults.get(key)), source, pfile, step,
                            optional=key in step.optional_inputs)
        if found is not None:
            inputs[key] = found
    return inputs


def _check_size(value: Any, where: str, pfile: str) -> None:
    """ConfigError when a parameter value is larger than :data:`MAX_PARAM_CHARS` as JSON."""
    try:
        size = len(json.dumps(value, default=str))
    except (ValueError, RecursionError):  # a self-referencing YAML structure
        size = MAX_PARAM_CHARS + 1
    if size > MAX_PARAM_CHARS:
        raise ConfigError(f"{where}: value is {size:,} characters", file=pfile,
                          expected=f"at most {MAX_PARAM_CHARS:,} (a parameter is a setting, "
                                   "not data; put data in a file)")


def _input_file(value: Any, source: str, pfile: str, step: NotebookStep,
                optional: bool) -> Path | None:
    """The existing file an input parameter names; None for an optional input left ""."""
    if optional and value in ("", None):
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: input file is {value!r}", file=pfile,
                          expected="a file path" + (' (or "" when not provided)' if optional else ""))
    resolved = paths.resolve(value)
    if not resolved.exists():
        raise ConfigError(f"{source}: input file {value!r} not found", file=pfile,
                          expected=f"an existing file ({step.name} reads it)"
                                   + ('; "" when you have none' if optional else ""))
    if not resolved.is_file() and not _parts_folder(resolved):
        raise ConfigError(f"{source}: input {value!r} is not a file", file=pfile,
                          expected=f"one file ({step.name} reads it), or a folder of parts "
                                   "(part-*.csv or *.parquet files)")
    return resolved


def _parts_folder(p: Path) -> bool:
    """A folder holding the parts of one large input: files of one kind (CSV, TSV or parquet)
    and nothing else (hidden entries aside), so an ordinary folder is not taken for one."""
    if not p.is_dir():
        return False
    entries = [q for q in p.iterdir() if not q.name.startswith(".")]
    kinds = {q.suffix.lower() for q in entries}
    return bool(entries) and all(q.is_file() for q in entries) and len(kinds) == 1 \
        and kinds <= {".csv", ".tsv", ".txt", ".parquet"}


def not_provided(plan: list[PlannedStep]) -> list[str]:
    """One line per optional input left "" in this run: what it is and the report sections that
    will show a "not available" card for want of it (from helpers.contract.SECTIONS)."""
    lines = []
    for p in plan:
        for key in p.step.optional_inputs:
            inp = registry.by_parameter(key)
            if inp is None or key in p.inputs:
                continue
            titles = [contract.title(s) for s in contract.fed_by(inp.name)]
            also = f" unless {inp.fallback}" if inp.fallback else ""
            lines.append(f"not provided: {inp.what} ({key}); not available{also}: "
                         + ("; ".join(titles) or "nothing"))
    return lines


def preflight(plan: list[PlannedStep]) -> None:
    """Check the export of the cleaning step against its schema (columns, scales) before the run
    starts, so a wrong schema is one line and nothing is written. An export small enough to be
    cleaned here must keep a response, and its study must agree with every analysis settings
    file (``segments_config``) the notebooks will read, as `cx check` does."""
    from helpers.analysis import selection
    from helpers.ingest import clean
    for p in plan:
        values = {**p.defaults, **p.overrides}
        if "raw_path" in values and "schema_path" in values:
            cleaned = clean.preflight(values["raw_path"], values["schema_path"],
                                      speeder_fraction=values.get("speeder_fraction"))
            if cleaned is None:
                continue
            for settings in dict.fromkeys(q.effective("")["segments_config"] for q in plan
                                          if "segments_config" in q.declared):
                selection.study(cleaned.responses, cleaned.schema, config.load_segments(settings))
