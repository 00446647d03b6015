"""Responses that do not fit in memory: aggregates out of core, row-level work on a subsample.

:func:`helpers.analysis.selection.load` compares the responses' estimated memory
(:func:`helpers.catalog.memory_estimate`) with ``memory_budget_gb`` (config/scale.yaml). Above
it, nothing loads every row: :func:`open_large` draws a stratified subsample of whole clusters
(by market and wave; an account, else a contact, else a response, by a hash of its id, so the
same accounts are kept in every wave) that fits the budget, and keeps a :class:`FullData` handle
on the engine (DuckDB by default, Spark when configured). The report's aggregate tables
(headline, sub-segments, trends, wave-over-wave changes) are computed from all rows: the engine
filters and projects only the columns a table needs (:meth:`FullData.rows`), or returns the
sufficient statistics per account, wave and segment (:meth:`FullData.moments`), and the same
estimators as in memory run on those. Every other analysis runs on the subsample and the report
says so (:meth:`FullData.note`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import catalog, config, paths
from helpers.analysis import study_cache
from helpers.config import ScaleConfig
from helpers.errors import ConfigError
from helpers.stats import moments
from helpers.stats.moments import Value

#: Identifier columns a cluster is drawn by, in order of preference.
CLUSTER_IDS = ("account_id", "contact_key", "response_id")


@dataclass
class FullData:
    """All responses, left where they are: an engine over them, their size and the subsample."""

    engine: Any
    source: Path
    rows_total: int
    rows_sampled: int
    budget_gb: float
    columns: tuple[str, ...]
    _tmp: list[Path] = field(default_factory=list, repr=False)
    _cells: dict[tuple, pd.DataFrame] = field(default_factory=dict, repr=False)

    def note(self) -> str:
        """One sentence for the report: what is computed from all rows and what from a sample."""
        return (f"{self.rows_total:,} responses exceed the memory budget ({self.budget_gb:g} GB): "
                f"headline, segment, trend and change tables use all of them ({self.engine.name}, "
                f"out of core); the other analyses a stratified subsample of "
                f"{self.rows_sampled:,} (by market and wave, whole accounts within a wave).")

    def _fetch(self, sql: str) -> pd.DataFrame:
        """A query's result as pandas with the dtypes of a parquet read (via a temporary file)."""
        folder = Path(tempfile.mkdtemp(prefix="cx-outofcore-"))
        self._tmp.append(folder)
        try:
            out = folder / "part.parquet"
            _copy_to_parquet(self.engine, sql, out)
            return pd.read_parquet(out)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def rows(self, market: str, columns: Sequence[str], waves: Sequence[str] | None = None
             ) -> pd.DataFrame:
        """Included responses of `market` (in `waves`), only `columns`: a narrow frame of all
        rows, however many there are (a few numbers and labels per row)."""
        cols = [c for c in dict.fromkeys(["market", "wave", *columns]) if c in self.columns]
        where = f"CAST(include AS BOOLEAN) AND market = '{market}'"
        if waves:
            where += " AND wave IN (" + ", ".join("'" + w.replace("'", "''") + "'"
                                                   for w in waves) + ")"
        q = _quote(self.engine)
        return self._fetch(f"SELECT {', '.join(q + c + q for c in cols)} FROM "
                           f"{self.engine.table_ref('responses')} WHERE {where}")

    def moments(self, query: moments.MomentQuery) -> pd.DataFrame:
        """A sufficient-statistics query on all responses (source ``responses``)."""
        return self.engine.run(query)

    def cell_counts(self, market: str, keys: Sequence[str], value: Value
                    ) -> pd.DataFrame:
        """Included responses of `market` counted (``n``) per combination of `keys` and of
        `value` (e.g. the NPS class; missing keys and values are levels of their own): one
        query per market and keys, kept for the later tables."""
        cols = tuple(c for c in dict.fromkeys(keys) if c in self.columns)
        memo = (market, cols, value)
        if memo not in self._cells:
            q = _quote(self.engine)
            names = [f"CAST({q}{c}{q} AS {'STRING' if q == '`' else 'VARCHAR'}) AS {q}{c}{q}"
                     for c in cols]
            group = ", ".join(str(i + 1) for i in range(len(cols) + 1))
            self._cells[memo] = self._fetch(
                f"SELECT {', '.join(names)}, {moments.value_sql(value, q)} AS {q}{value.name}{q}, "
                f"COUNT(*) AS n FROM {self.engine.table_ref('responses')} WHERE "
                f"CAST(include AS BOOLEAN) AND market = '{market}' GROUP BY {group}")
        return self._cells[memo]

    def paired_sums(self, market: str, unit: str, dim: str | None, waves: Sequence[str],
                    value: Value) -> tuple[pd.DataFrame, pd.DataFrame]:
        """For a paired wave-over-wave test of `value` (x 100: points) between consecutive
        `waves`, per segment of `dim` (None: one segment "all"): the sums of
        :data:`helpers.stats.compare.PAIRED_SUMS` over the units present in both waves (summed
        per unit and wave first, then joined), and the included responses per segment and
        wave. Two aggregations out of core; nothing per unit comes back."""
        from helpers.stats.compare import PAIRED_SUMS

        q = _quote(self.engine)
        text = "STRING" if q == "`" else "VARCHAR"
        seg = "'all'" if dim is None else f"CAST({q}{dim}{q} AS {text})"
        where = (f"CAST(include AS BOOLEAN) AND market = '{market}'"
                 + ("" if dim is None else f" AND {q}{dim}{q} IS NOT NULL"))
        table = self.engine.table_ref("responses")
        counts = self._fetch(f"SELECT {seg} AS seg, CAST(wave AS {text}) AS wave, COUNT(*) AS n "
                             f"FROM {table} WHERE {where} GROUP BY 1, 2")
        y = f"(100.0 * {moments.value_sql(value, q)})"
        pairs = " UNION ALL ".join(f"SELECT '{a}' AS wa, '{b}' AS wb"
                                   for a, b in zip(waves[:-1], waves[1:], strict=True))
        sums = {"m": "COUNT(*)", "n_a": "SUM(a.c)", "n_b": "SUM(b.c)"}
        for k, expr in (("tw", "{x}.sw"), ("s", "{x}.swy"), ("q", "{x}.swy * {x}.swy"),
                        ("p", "{x}.swy * {x}.sw"), ("w", "{x}.sw * {x}.sw")):
            sums |= {f"{k}_{x}": f"SUM({expr.format(x=x)})" for x in ("a", "b")}
        sums |= {"ya_yb": "SUM(a.swy * b.swy)", "yb_wa": "SUM(b.swy * a.sw)",
                 "wb_ya": "SUM(b.sw * a.swy)", "wa_wb": "SUM(a.sw * b.sw)"}
        assert tuple(sums) == PAIRED_SUMS
        found = self._fetch(
            f"WITH r AS (SELECT {seg} AS seg, CAST({q}{unit}{q} AS {text}) AS u, "
            f"CAST(wave AS {text}) AS wave, {y} AS y FROM {table} WHERE {where} AND "
            f"{q}{unit}{q} IS NOT NULL AND {y} IS NOT NULL), "
            f"s AS (SELECT seg, u, wave, COUNT(*) AS c, CAST(COUNT(*) AS DOUBLE) AS sw, "
            f"SUM(y) AS swy FROM r GROUP BY seg, u, wave), "
            f"nxt AS ({pairs}) "
            f"SELECT a.seg AS seg, nxt.wa AS wave_from, nxt.wb AS wave_to, "
            + ", ".join(f"{e} AS {k}" for k, e in sums.items())
            + " FROM s a JOIN nxt ON a.wave = nxt.wa JOIN s b ON b.seg = a.seg AND b.u = a.u "
            "AND b.wave = nxt.wb GROUP BY 1, 2, 3") if pairs else pd.DataFrame()
        return found, counts

    def alike_clusters(self, market: str, cluster: str, value: Value) -> pd.DataFrame:
        """Per-wave cells of the clusters (e.g. accounts) of `market`, clusters with the same
        cells counted once: one row per distinct pattern (``pattern``) and wave with the
        pattern's ``copies`` and one cluster's ``n``, ``s`` (sum of `value`) and ``ss`` (sum
        of its square), rated included responses only (as a moment query). A few thousand
        patterns however many clusters (DuckDB; None on other engines)."""
        v = moments.value_sql(value, '"')
        found = self._fetch(
            f'WITH s AS (SELECT CAST("{cluster}" AS VARCHAR) AS u, CAST(wave AS VARCHAR) AS wave, '
            f"COUNT(*) AS n, SUM({v}) AS s, SUM({v} * {v}) AS ss FROM "
            f"{self.engine.table_ref('responses')} WHERE CAST(include AS BOOLEAN) AND market = "
            f"'{market}' AND \"{cluster}\" IS NOT NULL AND wave IS NOT NULL AND {v} IS NOT NULL "
            f"GROUP BY 1, 2), p AS (SELECT string_agg(wave || '|' || n || '|' || s || '|' || ss, "
            f"';' ORDER BY wave) AS pattern FROM s GROUP BY u) "
            f"SELECT pattern, COUNT(*) AS copies FROM p GROUP BY pattern")
        cells = found.assign(part=found["pattern"].str.split(";")).explode("part")
        fields = cells["part"].str.split("|", expand=True)
        return pd.DataFrame({"pattern": pd.factorize(cells["pattern"])[0],
                             "wave": fields[0].astype("string"),
                             "n": fields[1].astype(float), "s": fields[2].astype(float),
                             "ss": fields[3].astype(float),
                             "copies": cells["copies"].astype(float)}).reset_index(drop=True)


def _quote(engine: Any) -> str:
    return "`" if engine.name == "spark" else '"'


def _copy_to_parquet(engine: Any, sql: str, out: Path) -> None:
    if engine.name == "duckdb":
        engine.connection().execute(f"COPY ({sql}) TO '{str(out)}' (FORMAT PARQUET)")
    elif engine.name == "spark":
        rows = engine.session.sql(sql).collect()
        pd.DataFrame([r.asDict() for r in rows]).to_parquet(out, index=False)
    else:
        raise ConfigError(f"engine {engine.name!r} cannot work out of core",
                          file="config/scale.yaml", expected="engine: duckdb or spark")


def make_engine(cfg: ScaleConfig, source: Path) -> Any:
    """The configured engine over the responses (a lakehouse table when configured)."""
    table = cfg.spark_tables.get("responses") if cfg.engine == "spark" else None
    return moments.make_engine(cfg.engine, {"responses": table or source}, moments.EngineOptions(
        memory_limit_gb=cfg.duckdb_memory_gb, threads=cfg.duckdb_threads,
        temp_dir=cfg.duckdb_temp_dir or None, spark_master=cfg.spark_master,
        spark_conf=cfg.spark_conf))


def sample_sql(columns: Sequence[str], fraction: float, table: str = '"responses"',
               dialect: str = "duckdb") -> str:
    """Rows of whole clusters with a hash of the cluster id below each market-and-wave stratum's
    `fraction` quantile: proportional within every stratum, the same clusters in every wave."""
    ids = [c for c in CLUSTER_IDS if c in columns]
    q = "`" if dialect == "spark" else '"'
    key = "COALESCE(" + ", ".join(f"CAST({q}{c}{q} AS VARCHAR)" if dialect != "spark" else
                                  f"CAST({q}{c}{q} AS STRING)" for c in ids) + ")"
    if dialect == "spark":
        u = f"(pmod(xxhash64({key}), 1000000007) / 1000000007.0)"
        cut = f"percentile_approx(_u, {fraction!r})"
    else:
        u = f"((hash({key}) % 1000000007) / 1000000007.0)"
        cut = f"quantile_disc(_u, {fraction!r})"
    cols = ", ".join(f"u.{q}{c}{q}" for c in columns)
    # the cut from a narrow scan, the rows from a second one streamed past it: a CTE of every
    # column read twice would be materialised (and spilled: ~30 GB at 100M responses)
    return (f"WITH cut AS (SELECT market, wave, {cut} AS c FROM (SELECT market, wave, {u} AS _u "
            f"FROM {table}) s GROUP BY market, wave) "
            f"SELECT {cols} FROM (SELECT *, {u} AS _u FROM {table}) u JOIN cut "
            f"ON u.market IS NOT DISTINCT FROM cut.market "
            f"AND u.wave IS NOT DISTINCT FROM cut.wave WHERE u._u <= cut.c")


def open_large(responses_path: str | Path, estimate: catalog.MemoryEstimate,
               cfg: ScaleConfig) -> tuple[pd.DataFrame, FullData]:
    """The subsample (a frame like ``catalog.load("responses")``) and the handle on all rows."""
    import pyarrow.parquet as pq

    source = paths.resolve(responses_path)
    engine = make_engine(cfg, source)
    files = sorted(source.rglob("*.parquet")) if source.is_dir() else [source]
    columns = tuple(pq.read_schema(files[0]).names)
    per_row_gb = estimate.gigabytes / max(estimate.rows, 1)
    fit = int(cfg.memory_budget_gb / 2 / per_row_gb)   # half: the aggregates' narrow frames too
    fraction = min(1.0, fit / max(estimate.rows, 1))
    full = FullData(engine, source, estimate.rows, 0, cfg.memory_budget_gb, columns)
    sql = sample_sql(columns, fraction, engine.table_ref("responses"), engine.name)
    # drawn once per run: the later notebooks map the first one's (its pages shared)
    sample = study_cache.shared("subsample", source, lambda: full._fetch(sql), sql)
    full.rows_sampled = len(sample)
    return sample, full


def load_settings() -> ScaleConfig:
    """config/scale.yaml (its defaults when the file is absent)."""
    return config.load_scale()
