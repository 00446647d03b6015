"""The sufficient-statistics queries give identical figures on pandas, DuckDB and Spark (local
mode), and the statistics computed from them equal those computed from the rows.

One Spark session for the whole module (starting one takes seconds). Spark needs pyspark (the
``spark`` extra, ``make install-spark``) and Java 17+; without them the Spark case is skipped
with the reason, except where CX_REQUIRE_SPARK=1 (CI's in-place run installs both) makes it fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.analysis import selection
from helpers.stats import cell_tables, estimators, moments
from helpers.stats.design import Design
from helpers.stats.moments import MomentQuery, Value

PROCESSED = paths.PROCESSED_DIR / "responses.parquet"
needs_sample = pytest.mark.skipif(not PROCESSED.exists(), reason="run `make test-data` first")


def _java_reason() -> str | None:
    java = shutil.which("java")
    if java is None:
        return "Java not found (apt-get install openjdk-17-jre-headless; .ci/run installs it)"
    try:
        subprocess.run([java, "-version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Java does not run ({exc})"
    return None


@pytest.fixture(scope="module")
def spark():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CX_REQUIRE_SPARK") == "1":
            pytest.fail("pyspark is not installed (make install-spark)")
        pytest.skip("pyspark not installed (make install-spark)")
    reason = _java_reason()
    if reason:
        if os.environ.get("CX_REQUIRE_SPARK") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    session = moments.spark_session("local[2]", app_name="cx-test-moments")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def study():
    return selection.load("data/processed/responses.parquet", "data/processed/survey.yaml",
                          "config/segments.yaml")


@pytest.fixture(scope="module")
def tables(study, tmp_path_factory):
    """The study's B2B and B2C rows as parquet (what DuckDB and Spark read) and in memory."""
    folder = tmp_path_factory.mktemp("moments")
    cols = ["account_id", "contact_unit", "wave", "tier", "channel", "region", "age_band",
            "ltr", "ces", "csat", "weight", "include", "market", *study.schema.driver_items()]
    frames = {}
    for m in ("B2B", "B2C"):
        df = study.market(m).rows
        df = df[[c for c in cols if c in df]].reset_index(drop=True)
        df.to_parquet(folder / f"{m.lower()}.parquet", index=False)
        frames[m.lower()] = df
    return folder, frames


def _queries(study) -> list[MomentQuery]:
    b2b_items = tuple(Value(i, i) for i in study.schema.driver_items("B2B"))
    return [
        MomentQuery("b2b", ("account_id", "wave", "tier"), (Value("nps", "ltr", "nps"),)),
        MomentQuery("b2b", ("account_id",), (Value("ltr", "ltr"), *b2b_items), cross=True),
        MomentQuery("b2c", ("wave", "channel"), (Value("nps", "ltr", "nps"),
                                                 Value("promoter", "ltr", "promoter"),
                                                 Value("agree", "ces", "at_least", 5.0)),
                    weights="weight", complete=False),
        MomentQuery("b2c", ("wave", "contact_unit", "channel", "age_band", "region"),
                    (Value("nps", "ltr", "nps"),), weights="weight",
                    where=(("channel", "in", ["Online", "Store"]), ("wave", "!=", "none"))),
        MomentQuery("b2b", (), (Value("ces", "ces"), Value("csat", "csat")), complete=False),
    ]


def _engines(frames, folder, spark=None):
    sources = {k: folder / f"{k}.parquet" for k in frames}
    out = [moments.PandasEngine(frames), moments.DuckDBEngine(sources, memory_limit_gb=1)]
    if spark is not None:
        out.append(moments.SparkEngine(spark, sources))
    return out


def _same(a: pd.DataFrame, b: pd.DataFrame, query: MomentQuery) -> None:
    assert list(a.columns) == list(b.columns) == [*query.keys, *query.columns]
    for k in query.keys:
        assert a[k].tolist() == b[k].tolist(), k
    for c in query.columns:
        if c == "n" or c.startswith("n__"):
            assert (a[c].to_numpy() == b[c].to_numpy()).all(), c
        else:   # integer-valued sums are exact; weighted sums differ at most in the last bits
            np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=1e-12, atol=1e-9,
                                       err_msg=c)


@needs_sample
def test_pandas_and_duckdb_give_identical_moments(study, tables) -> None:
    folder, frames = tables
    pd_engine, duck = _engines(frames, folder)
    for q in _queries(study):
        _same(pd_engine.run(q), duck.run(q), q)
    assert duck.rows("b2b") == len(frames["b2b"])


@needs_sample
def test_spark_local_gives_identical_moments(study, tables, spark) -> None:
    folder, frames = tables
    pd_engine, _, sp = _engines(frames, folder, spark)
    for q in _queries(study):
        _same(pd_engine.run(q), sp.run(q), q)
    assert sp.rows("b2c") == len(frames["b2c"])


@needs_sample
def test_nps_tables_from_moments_equal_the_row_tables(study, tables) -> None:
    # the statistics above the queries do not change: R-exact domains from cells
    folder, frames = tables
    b2b = frames["b2b"]
    rows = estimators.nps_table(b2b, ["wave", "tier"], covmat=True,
                                design=Design.from_frame(b2b, cluster="account_id"))
    q = _queries(study)[0]
    for engine in _engines(frames, folder):
        cells = engine.run(q)
        assert len(cells) < len(b2b)
        t = cell_tables.nps_table_cells(cells, ["wave", "tier"], covmat=True,
                                       design=cell_tables.cells_design(cells, cluster="account_id"))
        num = [c for c in rows.columns if c not in ("wave", "tier", "note", "ci_method")]
        np.testing.assert_allclose(t[num].to_numpy(float), rows[num].to_numpy(float),
                                   rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(t.attrs["vcov"], rows.attrs["vcov"], rtol=1e-9, atol=1e-9)
        assert (t.attrs["df_union"] == rows.attrs["df_union"]).all()


@needs_sample
def test_calibrated_b2c_tables_from_contact_cells_equal_the_rows(study, tables) -> None:
    # cells keep one contact, wave and level of every raking margin: the calibrated variance
    # (R rake residuals) from the cells equals the one from the rows
    folder, frames = tables
    b2c = frames["b2c"]
    cal = [["wave", m] for m in study.raking_margins()]
    design = Design.from_frame(b2c, weights="weight", calibrate=cal, strata="wave",
                               cluster="contact_unit")
    rows = estimators.nps_table(b2c, ["wave", "channel"], design=design)
    q = MomentQuery("b2c", ("wave", "contact_unit", "channel", "age_band", "region"),
                    (Value("nps", "ltr", "nps"),), weights="weight")
    cells = moments.DuckDBEngine({"b2c": folder / "b2c.parquet"}).run(q)
    t = cell_tables.nps_table_cells(cells, ["wave", "channel"], design=cell_tables.cells_design(
        cells, strata="wave", cluster="contact_unit", calibrate=cal))
    num = [c for c in rows.columns if c not in ("wave", "channel", "note", "ci_method")]
    np.testing.assert_allclose(t[num].to_numpy(float), rows[num].to_numpy(float),
                               rtol=1e-9, atol=1e-9)


def test_query_names_are_checked_and_sql_is_shared() -> None:
    with pytest.raises(Exception, match="name 'x; DROP'"):
        MomentQuery("t", ("x; DROP",), (Value("y", "y"),))
    q = MomentQuery("t", ("g",), (Value("y", "ltr", "nps"),), weights="w",
                    where=(("market", "==", "B2B"),))
    duck, spark_sql = moments.to_sql(q, "t"), moments.to_sql(q, "t", quote="`")
    assert duck.replace('"', "`") == spark_sql
    assert "market\" = 'B2B'" in duck and "GROUP BY \"g\"" in duck
