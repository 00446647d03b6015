"""Speed of issue 23's design machinery on bench_metrics.py's rows (1M rows, 50k account
clusters, 4 strata): svyciprop intervals, two-stage designs, calibrate() to totals, total_vcov
and replicate-weight designs, each beside the one-stage survey_mean it must stay within 2x of.
Run: .venv/bin/python benchmarks/bench_designs.py [--r]

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB". With R installed
(r-cran-survey) it also times R on the same rows (benchmarks/bench_r_designs.R) and prints both.
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

from helpers.stats import estimators
from helpers.stats.calibration import calibrate
from helpers.stats.design import Clusters, Design
from helpers.stats.replicates import ReplicateDesign, as_replicate_design


def with_stages(df: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Sites within accounts (second stage), population sizes for both stages, a promoter flag."""
    rng = np.random.default_rng(seed)
    return df.assign(site=rng.integers(0, 4, len(df)), fpc1=200_000, fpc2=12,
                     promoter=(df["ltr"] >= 9).astype(float),
                     tier=np.where(df["account_id"] % 3 == 0, "Enterprise", "SMB"))


def main() -> None:
    df = with_stages(make_responses())
    one = Design(len(df), weights=df["weight"], strata=df["stratum"],
                 cluster=Clusters(df["account_id"], nest=True))
    two = Design.from_frame(df, weights="weight", strata="stratum", fpc="fpc1",
                            cluster=Clusters("account_id", "site", "fpc2", nest=True))
    pop = {"tier": {"Enterprise": 400_000, "SMB": 800_000},
           "stratum": {0: 300_000, 1: 300_000, 2: 300_000, 3: 300_000}}
    cal = calibrate(df, pop, base_weight="weight")
    caldesign = Design(len(df), weights=cal.weights, strata=df["stratum"],
                       cluster=Clusters(df["account_id"], nest=True), calibrate=cal.calibration)
    boot = as_replicate_design(Design(len(df), weights=df["weight"],
                                      cluster=df["account_id"]), "bootstrap", 50, seed=1)
    small = df.iloc[:100_000]
    vendor = ReplicateDesign(small["weight"], small["weight"].to_numpy()[:, None]
                             * np.random.default_rng(2).uniform(0.5, 1.5, (len(small), 80)),
                             type="bootstrap")
    z = np.column_stack([df["weight"] * (df["ltr"] - 7)] * 5) / df["weight"].sum()
    targets: list[tuple[str, Callable[[], object], float]] = [
        ("[baseline] survey_mean, one-stage prebuilt design (1M rows, 50k clusters)",
         lambda: estimators.survey_mean(df["ltr"], one), 5.0),
        ("proportion logit interval (R svyciprop default), same design",
         lambda: estimators.proportion(df["promoter"], one), 5.0),
        ("proportion likelihood interval, same design",
         lambda: estimators.proportion(df["promoter"], one, ci="likelihood"), 5.0),
        ("nps t interval (R confint df = degf), same design",
         lambda: estimators.nps(df["ltr"], one), 5.0),
        ("two-stage design (fpc at both stages) build + survey_mean",
         lambda: estimators.survey_mean(df["ltr"], Design.from_frame(
             df, weights="weight", strata="stratum", fpc="fpc1",
             cluster=Clusters("account_id", "site", "fpc2", nest=True))), 5.0),
        ("survey_mean on the prebuilt two-stage design, domain",
         lambda: estimators.survey_mean(df["ltr"], two, domain=(df["tier"] == "SMB").to_numpy()),
         5.0),
        ("calibrate() linear to population totals (2 margins, 1M rows)",
         lambda: calibrate(df, pop, base_weight="weight"), 5.0),
        ("survey_mean on the GREG-calibrated design",
         lambda: estimators.survey_mean(df["ltr"], caldesign), 5.0),
        ("total_vcov of a 1M x 5 influence matrix (svymodels' hook)",
         lambda: one.total_vcov(z), 5.0),
        ("as_replicate_design bootstrap, 50 replicates over 50k PSUs",
         lambda: as_replicate_design(Design(len(df), weights=df["weight"],
                                            cluster=df["account_id"]), "bootstrap", 50, seed=1),
         5.0),
        ("survey_mean on the bootstrap replicate design (50 replicates)",
         lambda: estimators.survey_mean(df["ltr"], boot), 5.0),
        ("nps_table 30 segments on the bootstrap replicate design",
         lambda: estimators.nps_table(df, "segment", design=boot), 10.0),
        ("survey_mean, vendor replicate columns (100k rows x 80)",
         lambda: estimators.survey_mean(small["ltr"], vendor), 5.0),
    ]
    for name, fn, target in targets:
        measure(name, target, fn, repeat=2)
    if "--r" in sys.argv or shutil.which("Rscript"):
        compare_with_r(df)


def compare_with_r(df: pd.DataFrame, rows: int = 10_000) -> None:
    """Time R (bench_r_designs.R) and ours on the first `rows` rows (R's recursive two-stage
    variance loops over PSUs in R code: the full million rows take R too long to measure on a
    shared machine) and print both."""
    sub = df[df["account_id"] < round(df["account_id"].max() * rows / len(df)) + 1]
    script = Path(__file__).with_name("bench_r_designs.R")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "rows.csv"
        sub.to_csv(csv, index=False)
        out = subprocess.run(["Rscript", str(script), str(csv)], capture_output=True, text=True,
                             check=True).stdout
    r = dict(line.split("=") for line in out.split() if "=" in line)
    one = Design(len(sub), weights=sub["weight"], strata=sub["stratum"],
                 cluster=Clusters(sub["account_id"], nest=True))
    pop = {"tier": {"Enterprise": 400_000, "SMB": 800_000},
           "stratum": {0: 300_000, 1: 300_000, 2: 300_000, 3: 300_000}}
    ours = {"svyciprop": _best(lambda: estimators.proportion(sub["promoter"], one)),
            "twostage": _best(lambda: estimators.survey_mean(sub["ltr"], Design.from_frame(
                sub, weights="weight", strata="stratum", fpc="fpc1",
                cluster=Clusters("account_id", "site", "fpc2", nest=True)))),
            "calibrate": _best(lambda: calibrate(sub, pop, base_weight="weight")),
            "bootmean": _best(lambda: estimators.survey_mean(sub["ltr"], as_replicate_design(
                Design(len(sub), weights=sub["weight"], cluster=sub["account_id"]),
                "bootstrap", 50, seed=1)))}
    for key, secs in ours.items():
        theirs = float(r.get(key, "nan"))
        print(f"R survey {key} ({len(sub):,} rows): {theirs:.2f} s; ours {secs:.3f} s: "
              f"{theirs / secs:.0f}x faster")


if __name__ == "__main__":
    main()
