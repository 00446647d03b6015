"""A vendor export with final weights and replicate weight columns, declared in the schema's
``design`` section, runs through `cx clean` and the study selection: the B2C market's design
is the vendor's replicate-weight design (R ``svrepdesign``), not a raking of our own.

The fixture is the session sample (tests/conftest.py) with a delete-a-group jackknife of 12
groups added as columns FinalWeight, repw1..repw12, the way panel vendors deliver them.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from helpers.analysis import selection
from helpers.paths import PROJECT_ROOT
from helpers.stats import estimators
from helpers.stats.replicates import ReplicateDesign

GROUPS = 12


def _vendor_export(src, dst) -> pd.DataFrame:
    """The sample export (Qualtrics: two label rows under the header) plus weight columns."""
    lines = src.read_text(encoding="utf-8").splitlines()
    header, rows = lines[:3], lines[3:]
    rng = np.random.default_rng(23)
    w = rng.uniform(0.5, 2.0, len(rows)).round(4)
    group = np.arange(len(rows)) % GROUPS
    rep = np.where(group[:, None] == np.arange(GROUPS), 0.0, w[:, None] * GROUPS / (GROUPS - 1))
    names = ["FinalWeight", *[f"repw{g + 1}" for g in range(GROUPS)]]
    out = [header[0] + "," + ",".join(names), header[1] + "," + ",".join(names),
           header[2] + "," + ",".join(f'"{{""ImportId"":""{n}""}}"' for n in names)]
    out += [r + "," + ",".join(f"{x:.6f}" for x in (w[i], *rep[i])) for i, r in enumerate(rows)]
    dst.write_text("\n".join(out) + "\n", encoding="utf-8")
    return pd.DataFrame(np.column_stack([w, rep]), columns=names)


@pytest.fixture(scope="module")
def vendor(sample_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vendor")
    weights = _vendor_export(sample_dir / "survey_export.csv", folder / "vendor.csv")
    schema = (PROJECT_ROOT / "config" / "survey.yaml").read_text(encoding="utf-8")
    (folder / "survey.yaml").write_text(schema + '\ndesign: {weights: FinalWeight, '
                                        'replicate_weights: "repw*", type: JK1, '
                                        f"scale: {(GROUPS - 1) / GROUPS}}}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "helpers.cli", "clean", str(folder / "vendor.csv"),
                           "--schema", str(folder / "survey.yaml"), "--out",
                           str(folder / "processed")], capture_output=True, text=True,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder, weights


def test_cx_clean_keeps_the_vendor_weights_and_replicates(vendor):
    folder, weights = vendor
    resp = pd.read_parquet(folder / "processed" / "responses.parquet")
    assert [c for c in resp.columns if c.startswith("repw_")] == [f"repw_{g + 1}"
                                                                  for g in range(GROUPS)]
    assert resp["vendor_weight"].to_numpy() == pytest.approx(weights["FinalWeight"].to_numpy())


@pytest.fixture(scope="module")
def vendor_study(vendor):
    folder, _ = vendor
    return selection.load(str(folder / "processed" / "responses.parquet"),
                          str(folder / "survey.yaml"), "config/segments.yaml")


def _jk1_se(reps: np.ndarray) -> float:
    """JK1 by hand: (G-1)/G * sum over replicates of (estimate_r - mean)^2, square-rooted."""
    return float(np.sqrt((GROUPS - 1) / GROUPS * ((reps - reps.mean()) ** 2).sum()))


def test_b2c_design_is_the_vendors_replicate_design(vendor_study):
    study = vendor_study
    b2c = study.market("B2C", "reported")
    assert isinstance(b2c.design, ReplicateDesign) and b2c.design.type == "JK1"
    assert "replicate" in b2c.design_note and study.weighting.startswith("vendor")
    rows = b2c.rows
    res = estimators.nps(rows["ltr"], b2c.design)
    y = np.where(rows["ltr"] >= 9, 100.0, np.where(rows["ltr"] <= 6, -100.0, 0.0))
    ok = rows["ltr"].notna().to_numpy()
    reps = np.array([np.average(y[ok], weights=rows[f"repw_{g + 1}"].to_numpy()[ok])
                     for g in range(GROUPS)])
    se = _jk1_se(reps)
    assert res.nps == pytest.approx(np.average(y[ok], weights=rows["weight"].to_numpy()[ok]))
    assert res.se == pytest.approx(se, rel=1e-9)
    assert res.df == GROUPS - 1 and res.ci_method == "t"
    table = b2c.estimate("nps", by="channel")
    assert table["se"].notna().all() and (table["df"] <= GROUPS - 1).all()


def test_a_segment_against_the_whole_market_on_replicate_weights(vendor_study):
    """explore.contrast(..., "all") on the vendor's design: the segment's NPS minus the
    market's, recomputed with each replicate's weights, on the replicate df."""
    b2c = vendor_study.market("B2C", "reported")
    rows = b2c.rows
    ok = rows["ltr"].notna().to_numpy()
    y = np.where(rows["ltr"] >= 9, 100.0, np.where(rows["ltr"] <= 6, -100.0, 0.0))[ok]
    inside = (rows["channel"] == "Store").fillna(False).to_numpy(bool)[ok]

    def diff(w: np.ndarray) -> float:
        return float(np.average(y[inside], weights=w[inside]) - np.average(y, weights=w))

    reps = np.array([diff(rows[f"repw_{g + 1}"].to_numpy()[ok]) for g in range(GROUPS)])
    res = b2c.contrast("nps", "channel", "Store", "all").iloc[0]
    assert res["difference"] == pytest.approx(diff(rows["weight"].to_numpy()[ok]), rel=1e-9)
    assert res["se"] == pytest.approx(_jk1_se(reps), rel=1e-9)
    assert res["df"] == GROUPS - 1
