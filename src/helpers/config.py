"""The one place YAML configuration is read and validated; helpers take values, not config paths.

One loader per config file. Each raises :class:`helpers.errors.ConfigError` with a one-line message
naming the file and key when the content is not what is expected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from helpers import paths
from helpers.errors import ConfigError

MAX_YAML_BYTES = 1 << 20   # a configuration file is small; anything larger is a mistake
MAX_YAML_NODES = 100_000   # values after expanding YAML aliases (stops "billion laughs" bombs)
#: libyaml's safe loader when built (a long string scans 80 times faster than in pure Python)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: str | os.PathLike[str], max_chars: int | None = None) -> dict[str, Any]:
    """Read a YAML mapping (path relative to the project root) or raise ConfigError.

    Files over 1 MB, or whose aliases expand to more than 100,000 values or to more text than
    `max_chars` (default: ``limits.yaml_expanded_mb`` of config/scale.yaml), are refused before
    anything uses them.
    """
    p = paths.resolve(path)
    if not p.is_file():
        raise ConfigError("file not found", file=p, expected="a YAML file")
    size = p.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"file is {size:,} bytes", file=p,
                          expected=f"a configuration file of at most {MAX_YAML_BYTES:,} bytes")
    try:
        doc = yaml.load(p.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=p,
                          row=(mark.line + 1) if mark else None) from None
    except (UnicodeDecodeError, RecursionError, MemoryError) as exc:
        raise ConfigError(f"unreadable YAML ({type(exc).__name__})", file=p,
                          expected="UTF-8 YAML text") from None
    if _expanded_size(doc, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise ConfigError(f"aliases expand to more than {MAX_YAML_NODES:,} values", file=p,
                          expected="a plain configuration (YAML anchors/aliases used sparingly)")
    limits = Limits() if max_chars is not None else load_limits()
    budget = max_chars if max_chars is not None else int(limits.yaml_expanded_mb * 1e6)
    if (chars := _expanded_chars(doc, budget)) > budget:
        raise ConfigError(f"expands to more than {chars / 1e6:,.0f} MB of text", file=p,
                          expected=limits.refusal("yaml_expanded_mb") + " MB")
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"top level is a {type(doc).__name__}", file=p, expected="a mapping")
    return doc


CURRENCY = re.compile(r"[A-Z]{3}")


def currency_code(value: Any, where: str = "currency", file: object = "config/params.yaml") -> str:
    """`value` as an ISO 4217 currency code ('USD'), or ConfigError: the code is written into
    number formats and text, so nothing else may pass."""
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ConfigError(f"{where} is {shown}", file=file,
                          expected="a three-letter ISO 4217 currency code such as USD or EUR")
    return value


def _expanded_size(doc: Any, budget: int) -> int:
    """Values in `doc` counting every alias expansion, stopping once past `budget`."""
    seen, stack = 0, [doc]
    while stack and seen <= budget:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple | set):
            stack.extend(node)
    return seen


def _expanded_chars(doc: Any, budget: int) -> int:
    """Characters of text in `doc` counting every alias expansion, stopping once past `budget`."""
    seen, stack = 0, [doc]
    while stack and seen <= budget:
        node = stack.pop()
        if isinstance(node, str | bytes):
            seen += len(node)
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple | set):
            stack.extend(node)
    return seen


def require(doc: dict[str, Any], key: str, typ: type | tuple[type, ...], file: object) -> Any:
    """Return doc[key] after checking it exists and has the expected type."""
    if key not in doc:
        raise ConfigError(f"missing key {key!r}", file=file)
    value = doc[key]
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise ConfigError(f"key {key!r} is {type(value).__name__}", file=file, expected=names)
    return value


@dataclass(frozen=True)
class SegmentsConfig:
    """Validated content of config/segments.yaml (see that file for the meaning of each key)."""

    b2c_margins: dict[str, dict[str, float]]
    trim_lower: float
    trim_upper: float
    role_order: list[str]
    role_weights: dict[str, float]
    account_vote: str
    k_min: int
    k_max: int
    criterion: str
    seeds: list[int]
    #: The settings file as the user named it (for messages; not part of the settings).
    file: str = field(default="config/segments.yaml", compare=False, repr=False)


def load_segments(path: str | os.PathLike[str] = "config/segments.yaml") -> SegmentsConfig:
    """Read and validate the analysis settings; margins must each sum to 1 (within 1e-6)."""
    doc = read_yaml(path)
    f = paths.resolve(path)
    margins: dict[str, dict[str, float]] = {}
    for var, shares in require(doc, "b2c_margins", dict, f).items():
        if not isinstance(shares, dict) or not shares:
            raise ConfigError(f"b2c_margins.{var} is {shares!r}", file=f,
                              expected="a mapping category -> share")
        vals = {str(k): float(v) for k, v in shares.items()}
        if any(v <= 0 for v in vals.values()) or abs(sum(vals.values()) - 1) > 1e-6:
            raise ConfigError(f"b2c_margins.{var} shares sum to {sum(vals.values()):.4f}", file=f,
                              expected="positive shares summing to 1")
        margins[str(var)] = vals
    weights = require(doc, "weights", dict, f)
    lo = float(require(weights, "trim_lower", (int, float), f))
    hi = float(require(weights, "trim_upper", (int, float), f))
    if not 0 <= lo < 1 < hi:
        raise ConfigError(f"weights.trim_lower={lo}, trim_upper={hi}", file=f,
                          expected="0 <= trim_lower < 1 < trim_upper")
    b2b = require(doc, "b2b", dict, f)
    vote = require(b2b, "account_vote", str, f)
    if vote not in ("mean", "majority"):
        raise ConfigError(f"b2b.account_vote is {vote!r}", file=f, expected="mean or majority")
    personas = require(doc, "personas", dict, f)
    k_min = require(personas, "k_min", int, f)
    k_max = require(personas, "k_max", int, f)
    if not 2 <= k_min <= k_max:
        raise ConfigError(f"personas k_min={k_min}, k_max={k_max}", file=f,
                          expected="2 <= k_min <= k_max")
    criterion = require(personas, "criterion", str, f)
    if criterion not in ("silhouette", "bic"):
        raise ConfigError(f"personas.criterion is {criterion!r}", file=f, expected="silhouette or bic")
    return SegmentsConfig(
        b2c_margins=margins,
        trim_lower=lo, trim_upper=hi,
        role_order=[str(r) for r in require(b2b, "role_order", list, f)],
        role_weights={str(k): float(v) for k, v in require(b2b, "role_weights", dict, f).items()},
        account_vote=vote, k_min=k_min, k_max=k_max, criterion=criterion,
        seeds=[int(s) for s in require(personas, "seeds", list, f)],
        file=paths.shown(path),
    )


# --- report pipeline: config/pipeline.yaml and config/params.yaml (helpers.reporting.pipeline) ---


@dataclass(frozen=True)
class NotebookStep:
    """One notebook of the report pipeline (an entry of config/pipeline.yaml ``notebooks:``)."""

    name: str
    path: str
    needs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    pdf: bool = False


@dataclass(frozen=True)
class PipelineConfig:
    """Validated config/pipeline.yaml: notebooks in run order, plus headline metric keys."""

    file: str
    steps: tuple[NotebookStep, ...]
    headline: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunParams:
    """Validated config/params.yaml: ``shared`` keys and ``notebooks.<name>`` keys."""

    file: str
    shared: dict[str, Any]
    notebooks: dict[str, dict[str, Any]]


def load_pipeline(path: str | os.PathLike[str] = "config/pipeline.yaml") -> PipelineConfig:
    """Read config/pipeline.yaml; `needs` must name earlier notebooks (run order is file order).

    Optional keys: ``notebooks_dir`` (default ``notebooks``, relative to the project root),
    per entry ``path`` (default ``<notebooks_dir>/<name>.ipynb``) and ``pdf`` (print it to PDF),
    and a top-level ``headline`` list of ``<notebook>.<metric>`` keys shown on the index page.
    """
    f = paths.resolve(path)
    doc = read_yaml(f)
    folder = doc.get("notebooks_dir", "notebooks")
    if not isinstance(folder, str):
        raise ConfigError(f"notebooks_dir is {folder!r}", file=f, expected="a folder path")
    entries = require(doc, "notebooks", list, f)
    steps: list[NotebookStep] = []
    for i, entry in enumerate(entries):
        where = f"notebooks[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} is {entry!r}", file=f, expected="a mapping with 'name'")
        name = require(entry, "name", str, f"{f} {where}")
        seen = [s.name for s in steps]
        if name in seen:
            raise ConfigError(f"{where}: notebook {name!r} listed twice", file=f)
        needs = tuple(str(n) for n in (entry.get("needs") or []))
        for n in needs:
            if n not in seen:
                raise ConfigError(f"{where} ({name}): needs {n!r}", file=f,
                                  expected=f"a notebook listed before it: {', '.join(seen) or 'none'}")
        inputs = tuple(str(k) for k in (entry.get("inputs") or []))
        optional = tuple(str(k) for k in (entry.get("optional_inputs") or []))
        nb_path = entry.get("path") or f"{folder}/{name}.ipynb"
        steps.append(NotebookStep(name=name, path=str(nb_path), needs=needs, inputs=inputs,
                                  optional_inputs=optional, pdf=bool(entry.get("pdf", False))))
    if not steps:
        raise ConfigError("no notebooks listed", file=f, expected="at least one notebook")
    headline = doc.get("headline") or []
    if not isinstance(headline, list):
        raise ConfigError(f"headline is {headline!r}", file=f, expected="a list of notebook.metric")
    return PipelineConfig(file=str(f), steps=tuple(steps), headline=tuple(str(h) for h in headline))


def load_params(path: str | os.PathLike[str] = "config/params.yaml") -> RunParams:
    """Read config/params.yaml (``shared:`` and ``notebooks: {name: {key: value}}``).

    Only the structure is checked here; keys and types are checked against each notebook's
    parameters cell by :func:`helpers.reporting.pipeline.validate`.
    """
    f = paths.resolve(path)
    doc = read_yaml(f)
    unknown = sorted(set(doc) - {"shared", "notebooks"})
    if unknown:
        raise ConfigError(f"unknown top-level key {unknown[0]!r}", file=f,
                          expected="only 'shared' and 'notebooks'")
    shared = doc.get("shared") or {}
    if not isinstance(shared, dict):
        raise ConfigError(f"shared is {type(shared).__name__}", file=f, expected="a mapping")
    per = doc.get("notebooks") or {}
    if not isinstance(per, dict):
        raise ConfigError(f"notebooks is {type(per).__name__}", file=f, expected="a mapping")
    notebooks: dict[str, dict[str, Any]] = {}
    for name, values in per.items():
        values = values or {}
        if not isinstance(values, dict):
            raise ConfigError(f"notebooks.{name} is {type(values).__name__}", file=f,
                              expected="a mapping parameter -> value")
        notebooks[str(name)] = {str(k): v for k, v in values.items()}
    return RunParams(file=str(f), shared={str(k): v for k, v in shared.items()}, notebooks=notebooks)


def with_overrides(params: RunParams, overrides: dict[str, dict[str, Any]]) -> RunParams:
    """`params` with some values replaced (e.g. ``cx run --raw ... --schema ...``): key
    ``shared`` for every notebook that declares the parameter, else a notebook's name."""
    merged = {name: dict(values) for name, values in params.notebooks.items()}
    shared = {**params.shared, **overrides.get("shared", {})}
    for name, values in overrides.items():
        if name != "shared":
            merged.setdefault(name, {}).update(values)
    for values in merged.values():  # a shared override beats the same key set per notebook
        values.update({k: v for k, v in overrides.get("shared", {}).items() if k in values})
    return RunParams(file=params.file, shared=shared, notebooks=merged)


def notebook_params(notebook: str, path: str | os.PathLike[str] = "config/params.yaml") -> dict[str, Any]:
    """The parameters a run gives `notebook`: the file's ``shared`` keys, then its own section."""
    params = load_params(path)
    return {**params.shared, **params.notebooks.get(notebook, {})}


RUN_ENV = "CX_RUN_ID"       # set by `cx run` for the notebooks it executes
PARAMS_ENV = "CX_PARAMS"    # another params file for interactive runs


def use_params_file(namespace: dict[str, Any], notebook: str,
                    path: str | os.PathLike[str] = "config/params.yaml") -> None:
    """Outside a pipeline run (JupyterLab, nbval), set the notebook's parameters from the params file.

    A scheduled run injects its parameters itself (``$CX_RUN_ID`` is set), so nothing changes
    there. Interactively the notebook explores what config/params.yaml (or ``$CX_PARAMS``)
    points at, not whatever its parameters cell defaults to, and prints one line naming the
    parameters whose shown defaults it replaced (nothing when none changed). Only parameters
    the notebook declares are set (``run_dir`` stays as it is).
    """
    if os.environ.get(RUN_ENV):
        return
    source = os.environ.get(PARAMS_ENV) or path
    changed = []
    for key, value in notebook_params(notebook, source).items():
        if key not in namespace or key == "run_dir":
            continue
        default = namespace[key]
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not type(default):
            raise ConfigError(f"notebooks.{notebook}.{key} is {type(value).__name__} {value!r}",
                              file=source, expected=f"{type(default).__name__} like the notebook's default")
        if value != default:
            changed.append(f"{key}={value!r}")
        namespace[key] = value
    if changed:
        print(f"parameters from {source}, not the defaults shown above: {', '.join(changed)}")


# --- delivery of a run's results: SMTP and webhook settings (never in the repository) ---------

DELIVERY_FILE = "config/delivery.local.yaml"  # git-ignored; CX_DELIVERY_FILE names another
_EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[A-Za-z]{2,}$")
_SECURITY = ("starttls", "ssl", "none")


@dataclass(frozen=True)
class DeliverySettings:
    """Where a run's results go: SMTP server, senders and recipients, an optional webhook."""

    host: str | None = None
    port: int = 587
    user: str | None = None
    password: str | None = None
    security: str = "starttls"
    sender: str | None = None
    leadership: tuple[str, ...] = ()
    analysts: tuple[str, ...] = ()
    webhook: str | None = None
    report_url: str | None = None
    source: str = "not configured"

    @property
    def configured(self) -> bool:
        """True when there is somewhere to send to (recipients and a server, or a webhook)."""
        return bool(self.host and (self.leadership or self.analysts)) or bool(self.webhook)


def _addresses(value: Any, key: str, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    out = tuple(str(a).strip() for a in items if str(a).strip())
    for a in out:
        if not _EMAIL.match(a):
            raise ConfigError(f"{key}: {a!r} is not an email address", file=where,
                              expected="name@example.com, comma-separated or a YAML list")
    return out


def load_delivery(env: dict[str, str] | None = None) -> DeliverySettings:
    """Delivery settings from environment variables (``CX_SMTP_HOST``, ``CX_SMTP_PORT``,
    ``CX_SMTP_USER``, ``CX_SMTP_PASSWORD``, ``CX_SMTP_SECURITY``, ``CX_MAIL_FROM``,
    ``CX_MAIL_LEADERSHIP``, ``CX_MAIL_ANALYSTS``, ``CX_WEBHOOK_URL``, ``CX_REPORT_URL``), over
    the git-ignored file :data:`DELIVERY_FILE` (or ``CX_DELIVERY_FILE``) when it exists.
    Unset everywhere: not configured, nothing is sent."""
    env = dict(os.environ) if env is None else env
    file = env.get("CX_DELIVERY_FILE") or DELIVERY_FILE
    doc: dict[str, Any] = {}
    if paths.resolve(file).is_file():
        doc = read_yaml(file)
    smtp = doc.get("smtp") or {}
    if not isinstance(smtp, dict):
        raise ConfigError("smtp is not a mapping", file=file, expected="smtp: {host: ..., port: ...}")

    def pick(var: str, value: Any) -> Any:
        return env[var] if env.get(var) not in (None, "") else value

    where = "environment / " + str(file)
    port = pick("CX_SMTP_PORT", smtp.get("port", 587))
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"SMTP port {port!r}", file=where, expected="a number, e.g. 587") from None
    security = str(pick("CX_SMTP_SECURITY", smtp.get("security", "starttls"))).lower()
    if security not in _SECURITY:
        raise ConfigError(f"SMTP security {security!r}", file=where, expected=" or ".join(_SECURITY))
    webhook = pick("CX_WEBHOOK_URL", doc.get("webhook")) or None
    if webhook and not str(webhook).startswith(("https://", "http://")):
        raise ConfigError(f"webhook {webhook!r}", file=where, expected="an http(s) URL")
    sender = pick("CX_MAIL_FROM", doc.get("from")) or None
    if sender:
        _addresses(sender, "from", where)
    source = ", ".join(s for s, used in (("environment", any(k.startswith(("CX_SMTP", "CX_MAIL",
                       "CX_WEBHOOK")) and v for k, v in env.items())), (str(file), bool(doc))) if used)
    return DeliverySettings(
        host=pick("CX_SMTP_HOST", smtp.get("host")) or None, port=port,
        user=pick("CX_SMTP_USER", smtp.get("user")) or None,
        password=pick("CX_SMTP_PASSWORD", smtp.get("password")) or None, security=security,
        sender=sender, leadership=_addresses(pick("CX_MAIL_LEADERSHIP", doc.get("leadership")),
                                             "leadership", where),
        analysts=_addresses(pick("CX_MAIL_ANALYSTS", doc.get("analysts")), "analysts", where),
        webhook=webhook, report_url=(pick("CX_REPORT_URL", doc.get("report_url")) or None),
        source=source or "not configured")


SCALE_ENGINES = ("pandas", "duckdb", "spark")   # helpers.stats.moments.ENGINES


@dataclass(frozen=True)
class ScaleConfig:
    """How large data is handled (config/scale.yaml; docs/scaling.md)."""

    memory_budget_gb: float
    engine: str
    duckdb_memory_gb: float
    duckdb_threads: int
    duckdb_temp_dir: str
    spark_master: str
    spark_conf: dict[str, str]
    spark_tables: dict[str, str]


@dataclass(frozen=True)
class Limits:
    """Input limits (config/scale.yaml ``limits:``): each refusal names its key."""

    xlsx_inflated_mb: float = 1000.0
    columns: int = 5000
    line_mb: float = 64.0
    yaml_expanded_mb: float = 8.0

    def refusal(self, key: str) -> str:
        """The 'expected' part of a refusal: the limit and how to raise it."""
        return f"at most {getattr(self, key):,g} ({key} under limits: in config/scale.yaml; " \
               "raise it there for a larger genuine input)"


def load_limits(path: str | os.PathLike[str] = "config/scale.yaml") -> Limits:
    """The ``limits:`` of config/scale.yaml (defaults for keys not set); positive numbers."""
    f = paths.resolve(path)
    doc = read_yaml(f, max_chars=int(Limits.yaml_expanded_mb * 1e6)) if f.is_file() else {}
    given = doc.get("limits") or {}
    if not isinstance(given, dict):
        raise ConfigError("limits is not a mapping", file=f, expected="limits: {columns: 5000}")
    values: dict[str, Any] = {}
    for key, value in given.items():
        default = getattr(Limits, str(key), None)
        if default is None:
            raise ConfigError(f"limits.{key}: unknown limit", file=f,
                              expected=", ".join(Limits.__dataclass_fields__))
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"limits.{key} is {value!r}", file=f, expected="a positive number")
        values[str(key)] = type(default)(value)
    return Limits(**values)


def load_scale(path: str | os.PathLike[str] = "config/scale.yaml") -> ScaleConfig:
    """Read and validate config/scale.yaml; $CX_MEMORY_BUDGET_GB, $CX_ENGINE and
    $CX_SPARK_MASTER (a cluster's master URL) override it."""
    f = paths.resolve(path)
    doc = read_yaml(path) if f.exists() else {"memory_budget_gb": 8, "engine": "duckdb"}
    budget = os.environ.get("CX_MEMORY_BUDGET_GB") or require(doc, "memory_budget_gb",
                                                               (int, float), f)
    try:
        budget = float(budget)
    except ValueError:
        raise ConfigError(f"memory budget {budget!r}", file="$CX_MEMORY_BUDGET_GB",
                          expected="a number of gigabytes") from None
    if not budget > 0:
        raise ConfigError(f"memory_budget_gb is {budget!r}", file=f, expected="a positive number")
    engine = os.environ.get("CX_ENGINE") or str(require(doc, "engine", str, f))
    if engine not in SCALE_ENGINES:
        raise ConfigError(f"engine is {engine!r}", file=f, expected=", ".join(SCALE_ENGINES))
    duck, spark = doc.get("duckdb") or {}, doc.get("spark") or {}
    if not isinstance(duck, dict) or not isinstance(spark, dict):
        raise ConfigError("duckdb and spark must be mappings", file=f,
                          expected="duckdb: {memory_limit_gb: ...}, spark: {master: ...}")
    return ScaleConfig(
        memory_budget_gb=budget, engine=engine,
        duckdb_memory_gb=float(duck.get("memory_limit_gb", 4)),
        duckdb_threads=int(duck.get("threads", 2)),
        duckdb_temp_dir=str(duck.get("temp_dir") or ""),
        spark_master=os.environ.get("CX_SPARK_MASTER") or str(spark.get("master") or ""),
        spark_conf={str(k): str(v) for k, v in (spark.get("conf") or {}).items()},
        spark_tables={str(k): str(v) for k, v in (spark.get("tables") or {}).items()})
