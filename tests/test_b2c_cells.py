"""B2C tables of a study too large to load come from cells (wave x raking cell x segment x NPS
class), not rows: the raking, the weights and every figure equal the in-memory path on the
rows, and the cell design reproduces R's ``rake`` (tests/data/r_survey_reference.json)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.analysis import b2c_cells, segments, selection
from helpers.stats import cell_tables, compare, estimators, weighting
from helpers.stats.estimators import CellSums, group_means

PROCESSED = paths.PROCESSED_DIR / "responses.parquet"
needs_sample = pytest.mark.skipif(not PROCESSED.exists(), reason="run `make test-data` first")
DATA = paths.PROJECT_ROOT / "tests" / "data"
ARGS = ("data/processed/responses.parquet", "data/processed/survey.yaml", "config/segments.yaml")


@pytest.fixture(scope="module")
def study():
    return selection.load(*ARGS)


def _cells_of(study) -> b2c_cells.B2CCells:
    """The cells of the study's B2C rows counted in pandas, weighted on the counts."""
    rows = study.market("B2C").rows
    margins = study.raking_margins()
    keys = list(dict.fromkeys(["wave", *margins, *study.schema.segment_fields("B2C")]))
    y = estimators.nps_score(rows["ltr"], "ltr") / 100
    c = (rows[keys].astype("string").assign(nps_class=y, n=1)
         .groupby([*keys, "nps_class"], dropna=False, observed=True)["n"].sum().reset_index())
    return b2c_cells.B2CCells(c.assign(weight=b2c_cells.cell_weights(c, margins, study.settings)),
                              tuple(margins))


@needs_sample
def test_weights_and_tables_from_cells_equal_the_rows(study) -> None:
    cells = _cells_of(study)
    rows = study.market("B2C").rows
    assert len(cells.cells) < len(rows) / 2
    keys = ["wave", *cells.margins]
    per_row = rows[keys].astype("string").merge(
        cells.cells.drop_duplicates(keys)[[*keys, "weight"]], on=keys, how="left")["weight"]
    np.testing.assert_allclose(per_row.to_numpy(), rows["weight"].to_numpy(), rtol=1e-12)
    design = study.design("B2C", rows)
    d = rows.assign(wave=rows["wave"].astype("string"))
    for by in (["wave"], ["wave", "channel"], ["tenure_band", "wave"]):
        a = estimators.nps_table(d, by, design=design, covmat=True, ci="wald")
        b = cells.table(by, covmat=True, ci="wald")
        num = [c for c in a.columns if c not in (*by, "note", "ci_method")]
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float),
                                   rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(b.attrs["vcov"], a.attrs["vcov"], rtol=1e-9, atol=1e-9)
        assert (b.attrs["df_union"] == a.attrs["df_union"]).all()
        kish = segments.nps_by(d, by, design=design)
        np.testing.assert_allclose(b[["kish_deff", "kish_n_eff"]].to_numpy(float),
                                   kish[["kish_deff", "kish_n_eff"]].to_numpy(float), rtol=1e-9)


@needs_sample
def test_market_tables_out_of_core_equal_in_memory(study, monkeypatch) -> None:
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.005")   # the test sample "too large to load"
    big = selection.load(*ARGS)
    assert big.full is not None and b2c_cells.for_study(big) is not None
    for fn in (segments.market_segments, segments.market_trends, segments.market_changes):
        a, b = fn(study), fn(big)   # B2C from cells; B2B changes from paired sums
        assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
        assert set(a["market"]) == {"B2B", "B2C"}
        num = [c for c in a.columns if a[c].dtype.kind in "fiub" and c != "n_units"]
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float),
                                   rtol=1e-9, atol=1e-9)
        text = [c for c in a.columns if c not in num and c != "n_units"]
        assert (a[text].astype(str).to_numpy() == b[text].astype(str).to_numpy()).all()


def test_trim_with_counts_equals_trimming_the_rows() -> None:
    rng = np.random.default_rng(3)
    w, counts = rng.lognormal(0, 1, 40), rng.integers(1, 9, 40)
    for how in ("proportional", "additive"):
        rows = weighting.trim_weights(np.repeat(w, counts), 2.5, 0.4, redistribute=how)
        cells = weighting.trim_weights(w, 2.5, 0.4, redistribute=how, counts=counts)
        np.testing.assert_allclose(np.repeat(cells, counts), rows, rtol=1e-12)


def test_raking_on_cells_reproduces_r_rake() -> None:
    # R: rake(dsrs, list(~stype, ~sch.wide)) on the api SRS, mean of api00 with the
    # calibration-aware SE; here raked on the cells (stype, sch.wide, api00) with their counts
    ref = json.loads((DATA / "r_survey_reference.json").read_text())["rake_srs_api00"]
    srs = pd.read_csv(DATA / "apisrs.csv", keep_default_na=False, na_values=["NA"])
    pop = pd.read_csv(DATA / "apipop_margins.csv", keep_default_na=False, na_values=["NA"])
    margins = {v: {str(k): f / g["Freq"].sum() for k, f in zip(g["level"], g["Freq"], strict=True)}
               for v, g in pop.groupby("variable")}
    srs = srs.assign(**{m: srs[m].astype(str) for m in margins})
    keys = [*margins, "api00"]
    cells = srs.groupby(keys, sort=True).agg(n=("pw", "size"), pw=("pw", "first")).reset_index()
    assert cells["n"].max() > 1 and len(cells) < len(srs)
    counts = cells["n"].to_numpy(float)
    w = weighting.rake(cells, margins, base_weight=cells["pw"] * counts, tol=1e-13,
                       max_iter=2000).to_numpy() / counts
    per_row = srs.merge(cells.assign(w=w), on=keys, how="left")["w"].to_numpy()
    np.testing.assert_allclose(per_row, np.array(ref["weights"]), rtol=1e-10)
    cells = cells.assign(sw=w * counts)
    design = cell_tables.cells_design(cells, calibrate=list(margins))
    assert isinstance(design, cell_tables.UnitCellsDesign)
    y = cells["api00"].to_numpy(float)
    gm = group_means(design, y, cells=CellSums(counts, cells["sw"].to_numpy() * y * y))
    assert gm.est[0] == pytest.approx(ref["estimate"], rel=1e-9)
    assert np.sqrt(gm.var[0]) == pytest.approx(ref["se"], rel=1e-9)
    assert gm.df[0] == ref["df"] and gm.n_psu[0] == ref["n_psu"]
    assert gm.deff[0] == pytest.approx(ref["deff"], rel=1e-9)


def test_paired_sums_give_the_paired_changes() -> None:
    rng = np.random.default_rng(5)
    n = 400
    unit, wave = rng.integers(0, 60, n), rng.integers(0, 3, n)
    group, y = rng.integers(0, 2, n), rng.choice([-100.0, 0.0, 100.0], n)
    rows = compare.paired_changes(y, unit, wave, 3, group, 2)
    f = pd.DataFrame({"g": group, "u": unit, "wave": wave, "y": y}).groupby(
        ["g", "u", "wave"]).agg(c=("y", "size"), swy=("y", "sum")).reset_index()
    f["sw"] = f["c"].astype(float)
    out = []
    for g in (0, 1):
        for k in (0, 1):
            m = f[(f.g == g) & (f.wave == k)].merge(f[(f.g == g) & (f.wave == k + 1)], on="u",
                                                    suffixes=("_a", "_b"))
            a, b = {c: m[f"{c}_a"] for c in ("c", "sw", "swy")}, {c: m[f"{c}_b"] for c in ("c", "sw", "swy")}
            out.append({"m": len(m), "n_a": a["c"].sum(), "n_b": b["c"].sum(),
                        "tw_a": a["sw"].sum(), "tw_b": b["sw"].sum(), "s_a": a["swy"].sum(),
                        "s_b": b["swy"].sum(), "q_a": (a["swy"] ** 2).sum(),
                        "q_b": (b["swy"] ** 2).sum(), "p_a": (a["swy"] * a["sw"]).sum(),
                        "p_b": (b["swy"] * b["sw"]).sum(), "w_a": (a["sw"] ** 2).sum(),
                        "w_b": (b["sw"] ** 2).sum(), "ya_yb": (a["swy"] * b["swy"]).sum(),
                        "yb_wa": (b["swy"] * a["sw"]).sum(), "wb_ya": (b["sw"] * a["swy"]).sum(),
                        "wa_wb": (a["sw"] * b["sw"]).sum()})
    sums = compare.paired_from_sums(pd.DataFrame(out), (2, 2))
    for name in ("estimate", "var", "n_a", "n_b", "n_units"):
        np.testing.assert_allclose(getattr(sums, name), getattr(rows, name), rtol=1e-9, atol=1e-9)
