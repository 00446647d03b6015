"""Sufficient statistics of responses, defined once and computed where the data lives.

Every design-based estimate in :mod:`helpers.stats` needs the rows only through a few sums per
group: counts, sums of weights, weighted sums of each value, of its square, and of the products
of pairs of values (per stratum, cluster, segment and wave). A :class:`MomentQuery` names those
groups and values once; an engine computes it:

- :class:`PandasEngine` on data frames in memory (the reference);
- :class:`DuckDBEngine` on parquet files (one file, a folder of parts, or partitioned by wave)
  out of core: DuckDB streams the files and spills to disk under its memory limit;
- :class:`SparkEngine` with an Apache Spark session, when the data lives in a cluster or a
  lakehouse (pyspark is an optional extra: ``pip install -e .[spark]``).

All three run the same query (DuckDB and Spark the same SQL text) and return the same tidy frame:
the key columns, ``n`` (rows), ``sw`` (sum of weights), ``s__<v>`` (sum of w * v), ``ss__<v>``
(sum of w * v^2) and, with ``cross=True``, ``x__<a>__<b>`` (sum of w * a * b), sorted by the
keys. The statistics above them (numpy) do not change with the engine; docs/scaling.md says when
to use which.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from helpers import paths
from helpers.errors import ArgumentError, ConfigError

ENGINES = ("pandas", "duckdb", "spark")
TRANSFORMS = ("identity", "nps", "promoter", "detractor", "at_least")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Value:
    """A numeric value summed by a query: a column, or a score derived from it.

    ``transform``: "identity"; "nps" (+1 for 9-10, 0 for 7-8, -1 for 0-6); "promoter" (1 for
    9-10); "detractor" (1 for 0-6); "at_least" (1 when the value is >= ``cut``). A missing
    column value stays missing (the row leaves the query when ``complete``).
    """

    name: str
    column: str
    transform: str = "identity"
    cut: float | None = None


@dataclass(frozen=True)
class MomentQuery:
    """Counts and weighted sums of `values` per combination of `keys`, over `source`.

    `where`: (column, op, value) conditions joined by AND; op is "==", "!=", "in" (value a
    list), "notnull" or "true" (a boolean column). Rows with a missing key, weight or (when
    `complete`) value are left out; with ``complete=False`` each value's sums skip its own
    missing rows and ``n__<v>`` / ``sw__<v>`` count them.
    """

    source: str
    keys: tuple[str, ...]
    values: tuple[Value, ...]
    weights: str | None = None
    where: tuple[tuple[str, str, Any], ...] = ()
    cross: bool = False
    complete: bool = True

    def __post_init__(self) -> None:
        for name in (self.source, *self.keys, *(v.name for v in self.values),
                     *(v.column for v in self.values), *([self.weights] if self.weights else []),
                     *(c for c, _, _ in self.where)):
            if not _NAME.match(name):
                raise ConfigError(f"name {name!r} in a moment query", expected="letters, "
                                  "digits and underscores (a column or table name)")
        for v in self.values:
            if v.transform not in TRANSFORMS:
                raise ConfigError(f"transform {v.transform!r}", expected=", ".join(TRANSFORMS))
        for _, op, _ in self.where:
            if op not in ("==", "!=", "in", "notnull", "true"):
                raise ConfigError(f"condition {op!r}", expected="==, !=, in, notnull or true")

    @property
    def columns(self) -> list[str]:
        """Result columns after the keys, in order."""
        cols = ["n", "sw"]
        for v in self.values:
            if not self.complete:
                cols += [f"n__{v.name}", f"sw__{v.name}"]
            cols += [f"s__{v.name}", f"ss__{v.name}"]
        if self.cross:
            cols += [f"x__{a.name}__{b.name}" for a, b in combinations(self.values, 2)]
        return cols

    def needs(self) -> list[str]:
        """Columns of the source the query reads."""
        cols = [*self.keys, *(v.column for v in self.values), *(c for c, _, _ in self.where)]
        return list(dict.fromkeys(cols + ([self.weights] if self.weights else [])))


class Engine(Protocol):
    """Runs a :class:`MomentQuery`; ``name`` is one of :data:`ENGINES`."""

    name: str

    def run(self, query: MomentQuery) -> pd.DataFrame: ...

    def rows(self, source: str) -> int: ...


# --------------------------------------------------------------------------- SQL (DuckDB, Spark)
def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return repr(float(v)) if isinstance(v, (float, np.floating)) else str(int(v))
    return "'" + str(v).replace("'", "''") + "'"


def _sql_value(v: Value, q: str) -> str:
    c = f"CAST({q}{v.column}{q} AS DOUBLE)"
    if v.transform == "identity":
        return c
    if v.transform == "nps":
        return f"(CASE WHEN {c} >= 9 THEN 1.0 WHEN {c} <= 6 THEN -1.0 WHEN {c} IS NULL THEN NULL ELSE 0.0 END)"
    cond = {"promoter": f"{c} >= 9", "detractor": f"{c} <= 6",
            "at_least": f"{c} >= {float(v.cut if v.cut is not None else 0.0)!r}"}[v.transform]
    return f"(CASE WHEN {c} IS NULL THEN NULL WHEN {cond} THEN 1.0 ELSE 0.0 END)"


def value_sql(v: Value, quote: str = '"') -> str:
    """The SQL expression of a :class:`Value` (NULL where the column is)."""
    return _sql_value(v, quote)


def to_sql(query: MomentQuery, table: str, quote: str = '"') -> str:
    """The query as one SQL statement (DuckDB: quote '"'; Spark SQL: quote '`')."""
    q = quote
    w = f"CAST({q}{query.weights}{q} AS DOUBLE)" if query.weights else "1.0"
    conds = [f"{q}{k}{q} IS NOT NULL" for k in query.keys]
    if query.weights:
        conds.append(f"{q}{query.weights}{q} IS NOT NULL")
    for col, op, val in query.where:
        if op == "notnull":
            conds.append(f"{q}{col}{q} IS NOT NULL")
        elif op == "true":
            conds.append(f"CAST({q}{col}{q} AS BOOLEAN)")
        elif op == "in":
            conds.append(f"{q}{col}{q} IN ({', '.join(_literal(x) for x in val)})")
        else:
            conds.append(f"{q}{col}{q} {'=' if op == '==' else '<>'} {_literal(val)}")
    vals = {v.name: _sql_value(v, q) for v in query.values}
    if query.complete:
        conds += [f"{expr} IS NOT NULL" for expr in vals.values()]
    inner = ", ".join([*(f"{q}{k}{q}" for k in query.keys), f"{w} AS _w",
                       *(f"{expr} AS {q}_v_{name}{q}" for name, expr in vals.items())])
    agg = ["COUNT(*) AS n", "SUM(_w) AS sw"]
    for v in query.values:
        x = f"{q}_v_{v.name}{q}"
        if not query.complete:
            agg += [f"COUNT({x}) AS {q}n__{v.name}{q}",
                    f"SUM(CASE WHEN {x} IS NULL THEN NULL ELSE _w END) AS {q}sw__{v.name}{q}"]
        agg += [f"SUM(_w * {x}) AS {q}s__{v.name}{q}", f"SUM(_w * {x} * {x}) AS {q}ss__{v.name}{q}"]
    if query.cross:
        agg += [f"SUM(_w * {q}_v_{a.name}{q} * {q}_v_{b.name}{q}) AS {q}x__{a.name}__{b.name}{q}"
                for a, b in combinations(query.values, 2)]
    keys = ", ".join(f"{q}{k}{q}" for k in query.keys)
    where = " AND ".join(conds) if conds else "TRUE"
    sql = f"SELECT {keys + ', ' if keys else ''}{', '.join(agg)} FROM (SELECT {inner} FROM {table} WHERE {where}) AS t"
    return sql + (f" GROUP BY {keys} ORDER BY {keys}" if keys else "")


def _tidy(out: pd.DataFrame, query: MomentQuery) -> pd.DataFrame:
    """Same dtypes and order from every engine: keys as text (sorted), n int64, sums float64."""
    out = out.copy()
    for k in query.keys:
        out[k] = out[k].astype("string")
    for c in query.columns:
        if c not in out:
            out[c] = np.nan
        out[c] = out[c].astype("int64") if c == "n" or c.startswith("n__") else \
            pd.to_numeric(out[c]).astype("float64")
    out = out[[*query.keys, *query.columns]]
    if query.keys:
        out = out.sort_values(list(query.keys), kind="stable").reset_index(drop=True)
    return out


# --------------------------------------------------------------------------- pandas
def _pandas_value(v: Value, df: pd.DataFrame) -> np.ndarray:
    x = pd.to_numeric(df[v.column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    nan = np.isnan(x)
    if v.transform == "identity":
        return x
    if v.transform == "nps":
        out = np.where(x >= 9, 1.0, np.where(x <= 6, -1.0, 0.0))
    elif v.transform == "promoter":
        out = (x >= 9).astype(float)
    elif v.transform == "detractor":
        out = (x <= 6).astype(float)
    else:
        out = (x >= float(v.cut if v.cut is not None else 0.0)).astype(float)
    out[nan] = np.nan
    return out


def _where_mask(df: pd.DataFrame, query: MomentQuery) -> np.ndarray:
    """Rows with every key present that meet every condition of the query (the SQL WHERE)."""
    keep = np.ones(len(df), bool)
    for k in query.keys:
        keep &= df[k].notna().to_numpy()
    for col, op, val in query.where:
        s = df[col]
        if op == "notnull":
            keep &= s.notna().to_numpy()
        elif op == "true":
            keep &= s.fillna(False).astype(bool).to_numpy()
        elif op == "in":
            keep &= s.isin(list(val)).fillna(False).to_numpy(bool)
        else:
            hit = (s == val).fillna(False).to_numpy(bool)
            keep &= hit if op == "==" else (~hit & s.notna().to_numpy())
    return keep


@dataclass
class PandasEngine:
    """The reference engine: frames in memory, ``{source name: DataFrame}``."""

    frames: Mapping[str, pd.DataFrame]
    name: str = "pandas"

    def rows(self, source: str) -> int:
        return len(self._frame(source))

    def _frame(self, source: str) -> pd.DataFrame:
        if source not in self.frames:
            raise ArgumentError(f"no table {source!r}", argument="source",
                                expected=", ".join(self.frames))
        return self.frames[source]

    def run(self, query: MomentQuery) -> pd.DataFrame:
        df = self._frame(query.source)
        keep = _where_mask(df, query)
        w = (pd.to_numeric(df[query.weights]).to_numpy(dtype=float, na_value=np.nan)
             if query.weights else np.ones(len(df)))
        keep &= ~np.isnan(w)
        vals = {v.name: _pandas_value(v, df) for v in query.values}
        if query.complete:
            for x in vals.values():
                keep &= ~np.isnan(x)
        cols: dict[str, np.ndarray] = {"n": np.ones(len(df)), "sw": w}
        for v in query.values:
            x = vals[v.name]
            ok = ~np.isnan(x)
            xz = np.where(ok, x, 0.0)
            if not query.complete:
                cols[f"n__{v.name}"] = ok.astype(float)
                cols[f"sw__{v.name}"] = np.where(ok, w, 0.0)
            cols[f"s__{v.name}"] = w * xz
            cols[f"ss__{v.name}"] = w * xz * xz
        if query.cross:
            for a, b in combinations(query.values, 2):
                cols[f"x__{a.name}__{b.name}"] = w * np.nan_to_num(vals[a.name]) * \
                    np.nan_to_num(vals[b.name])
        frame = pd.DataFrame({c: v[keep] for c, v in cols.items()})
        if not query.keys:
            return _tidy(frame.sum().to_frame().T, query)
        for k in query.keys:
            frame[k] = df[k].to_numpy()[keep]
        out = frame.groupby(list(query.keys), sort=True, observed=True).sum().reset_index()
        return _tidy(out, query)


# --------------------------------------------------------------------------- DuckDB
def parquet_glob(path: str | Path) -> str:
    """A parquet file, or every parquet file below a folder (parts, or hive partitions)."""
    p = Path(path)
    return str(p / "**" / "*.parquet") if p.is_dir() else str(p)


@dataclass
class DuckDBEngine:
    """DuckDB (embedded, nothing to start) over parquet: ``{source name: file or folder}``.

    `memory_limit_gb` caps DuckDB's own memory (it spills to `temp_dir` beyond it), `threads`
    its worker threads. Data frames may be given instead of paths (registered as views).
    """

    sources: Mapping[str, str | Path | pd.DataFrame]
    memory_limit_gb: float = 4.0
    threads: int = 2
    temp_dir: str | None = None
    name: str = "duckdb"
    _con: Any = field(default=None, repr=False)

    def connection(self) -> Any:
        if self._con is None:
            import duckdb

            con = duckdb.connect()
            con.execute(f"SET memory_limit='{self.memory_limit_gb:g}GB'")
            con.execute(f"SET threads={int(self.threads)}")
            con.execute("SET preserve_insertion_order=false")
            with contextlib.suppress(duckdb.Error):  # in a kernel without ipywidgets it refuses
                con.execute("SET enable_progress_bar=false")  # no bar in a notebook's output
            spill = self.temp_dir or paths.resolve("build/duckdb-spill")   # never a stray .tmp
            con.execute(f"SET temp_directory='{spill}'")
            for name, src in self.sources.items():
                if isinstance(src, pd.DataFrame):
                    con.register(name, src)
                else:
                    glob = parquet_glob(src).replace("'", "''")
                    con.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{glob}', "
                                f"hive_partitioning = {str(Path(src).is_dir()).lower()}, "
                                f"union_by_name = true)")
            self._con = con
        return self._con

    def sql(self, text: str) -> pd.DataFrame:
        """Run any SQL on the sources (e.g. a subsample); the result as a data frame."""
        return self.connection().execute(text).df()

    def table_ref(self, source: str) -> str:
        """How SQL names the source."""
        return f'"{source}"'

    def rows(self, source: str) -> int:
        return int(self.connection().execute(f'SELECT COUNT(*) FROM "{source}"').fetchone()[0])

    def run(self, query: MomentQuery) -> pd.DataFrame:
        if query.source not in self.sources:
            raise ArgumentError(f"no table {query.source!r}", argument="source",
                                expected=", ".join(self.sources))
        return _tidy(self.sql(to_sql(query, f'"{query.source}"')), query)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


# --------------------------------------------------------------------------- Spark
@dataclass
class SparkEngine:
    """Apache Spark: the same SQL on a session's tables. `sources` maps a source name to a
    parquet path (read with ``spark.read.parquet``) or to a table or view the session already
    knows (a lakehouse table, e.g. ``"catalog.schema.responses"``)."""

    session: Any
    sources: Mapping[str, str | Path]
    name: str = "spark"
    _views: dict[str, str] = field(default_factory=dict, repr=False)

    def _view(self, source: str) -> str:
        if source not in self.sources:
            raise ArgumentError(f"no table {source!r}", argument="source",
                                expected=", ".join(self.sources))
        if source not in self._views:
            src = str(self.sources[source])
            if Path(src).exists():
                self.session.read.parquet(src).createOrReplaceTempView(f"cx_{source}")
                self._views[source] = f"cx_{source}"
            else:
                self._views[source] = src
        return self._views[source]

    def table_ref(self, source: str) -> str:
        """How SQL names the source (a temporary view of the parquet, or the lakehouse table)."""
        return self._view(source)

    def rows(self, source: str) -> int:
        return int(self.session.sql(f"SELECT COUNT(*) AS n FROM {self._view(source)}").collect()[0][0])

    def run(self, query: MomentQuery) -> pd.DataFrame:
        rows = self.session.sql(to_sql(query, self._view(query.source), quote="`")).collect()
        cols = [*query.keys, *query.columns]
        return _tidy(pd.DataFrame([r.asDict() for r in rows], columns=cols), query)


def spark_session(master: str = "local[2]", app_name: str = "cx-workspace",
                  conf: Mapping[str, str] | None = None) -> Any:
    """A Spark session (local mode by default; a cluster's master URL, or ``None`` to use the
    one a notebook platform provides). Needs pyspark and Java 17+."""
    import warnings

    try:
        with warnings.catch_warnings():   # pandas 3 notice: results come back as rows here
            warnings.filterwarnings("ignore", message=".*pandas.*", category=FutureWarning)
            from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("pyspark is not installed", expected="pip install -e '.[spark]' "
                          "(and Java 17 or later)") from None
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for k, v in {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
                 **(conf or {})}.items():
        builder = builder.config(k, v)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pandas.*", category=FutureWarning)
        return builder.getOrCreate()


@dataclass(frozen=True)
class EngineOptions:
    """Settings of the engines that run out of core: DuckDB's memory limit (GB), threads and
    spill folder; Spark's session (None: start one), master URL and configuration."""

    memory_limit_gb: float = 4.0
    threads: int = 2
    temp_dir: str | None = None
    spark: Any = None
    spark_master: str = "local[2]"
    spark_conf: Mapping[str, str] | None = None


def make_engine(name: str, sources: Mapping[str, Any],
                options: EngineOptions | None = None) -> Engine:
    """The engine `name` (pandas, duckdb or spark) over `sources`."""
    opt = options or EngineOptions()
    if name == "pandas":
        frames = {k: v if isinstance(v, pd.DataFrame) else pd.read_parquet(v)
                  for k, v in sources.items()}
        return PandasEngine(frames)
    if name == "duckdb":
        return DuckDBEngine(sources, opt.memory_limit_gb, opt.threads, opt.temp_dir)
    if name == "spark":
        return SparkEngine(opt.spark if opt.spark is not None else
                           spark_session(opt.spark_master, conf=opt.spark_conf), sources)
    raise ConfigError(f"engine {name!r}", expected=", ".join(ENGINES))


def run_all(engine: Engine, queries: Sequence[MomentQuery]) -> list[pd.DataFrame]:
    """Every query on one engine (one connection or session), in order."""
    return [engine.run(q) for q in queries]
