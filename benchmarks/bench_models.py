"""Speed of the design-based models and tests (issue 23: svyglm, svyquantile, svyratio, svychisq,
svyttest) on bench_metrics' 1M rows, 50k account clusters, 4 strata, weights.
Run: .venv/bin/python benchmarks/bench_models.py [--r]

Prints one line per target ("<name>: <seconds> s (target < X s), peak <MB> MB"); each target is
twice the time of the existing survey_mean on the same prebuilt design (times the model's
columns for a regression, whose sandwich is the variance of one total per coefficient). When R
is installed (with r-cran-survey) it times the same calls in R (benchmarks/bench_r_models.R)
and prints ours, R's and the ratio; without Rscript it says so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from bench_metrics import _best, make_responses
from harness import measure

from helpers.stats import estimators, quantiles, ratios, regression, tests
from helpers.stats.design import Design

ITEMS = ["item1", "item2", "item3"]


def with_model_columns(df: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Three 1-5 items driving LTR, a promoter flag, orders and spend, a 3-level group."""
    rng = np.random.default_rng(seed)
    n = len(df)
    items = {k: rng.integers(1, 6, n).astype(float) for k in ITEMS}
    return df.assign(**items, promoter=(df["ltr"] >= 9).astype(float),
                     orders=rng.integers(1, 6, n).astype(float),
                     spend=rng.gamma(4.0, 10.0, n), group=rng.integers(0, 2, n),
                     category=np.where(df["ltr"] >= 9, "promoter",
                                       np.where(df["ltr"] <= 6, "detractor", "passive")))


def calls(df: pd.DataFrame, design: Design) -> dict[str, tuple[Callable[[], object], float]]:
    """Each new estimator and its target: a multiple of one survey_mean on the same design
    (a number), or ``0`` for twice the existing NPS group table with covariances (nps_table by
    the 30 segments, covmat=True: the same cells x PSU work as a two-way table)."""
    x = df[ITEMS]
    return {
        "svyglm gaussian ltr ~ 3 items": (
            lambda: regression.survey_glm(df["ltr"], x, design), 4.0),
        "svyglm quasibinomial promoter ~ 3 items": (
            lambda: regression.survey_glm(df["promoter"], x, design, family="quasibinomial"),
            4.0),
        "svyquantile median ltr (math, Woodruff mean)": (
            lambda: quantiles.survey_quantile(df["ltr"], design, [0.5]), 1.0),
        "svyratio spend / orders": (lambda: ratios.survey_ratio(df["spend"], df["orders"],
                                                                design), 1.0),
        "svychisq NPS category x segment (F)": (
            lambda: tests.survey_chisq(df["category"], df["segment"], design), 0.0),
        "svyttest ltr ~ group": (lambda: tests.survey_ttest(df["ltr"], design,
                                                             group=df["group"]), 2.0),
    }


def main() -> None:
    df = with_model_columns(make_responses())
    design = Design(len(df), weights=df["weight"], strata=df["stratum"],
                    cluster=df["account_id"])
    base = _best(lambda: estimators.survey_mean(df["ltr"], design=design))
    table = _best(lambda: estimators.nps_table(df, "segment", design=design, covmat=True))
    print(f"existing survey_mean on the same prebuilt design: {base:.3f} s; nps_table by "
          f"segment with covmat: {table:.3f} s (the units of the targets below)")
    ours = {}
    for name, (fn, columns) in calls(df, design).items():
        unit = columns * base if columns else table
        measure(f"{name}, 1M rows, 50k clusters", round(2 * unit, 3), fn, repeat=3)
        ours[name] = _best(fn, 1)
    if "--r" in sys.argv or shutil.which("Rscript"):
        compare_with_r(df, ours)
    else:
        print("R survey: Rscript not installed, R times not measured")


def compare_with_r(df: pd.DataFrame, ours: dict[str, float]) -> None:
    """Time R survey's calls on the same rows: ours, R's seconds and the ratio per call."""
    script = Path(__file__).with_name("bench_r_models.R")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "rows.csv"
        df.to_csv(csv, index=False)
        out = subprocess.run(["Rscript", str(script), str(csv)], capture_output=True, text=True,
                             check=True).stdout
    r = [float(line.split("=")[1]) for line in out.split() if "=" in line]
    for (name, mine), theirs in zip(ours.items(), r, strict=True):
        print(f"R survey {name}: {theirs:.2f} s; ours {mine:.3f} s: {theirs / mine:.0f}x faster")


if __name__ == "__main__":
    main()
