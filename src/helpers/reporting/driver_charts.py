"""Charts of the driver analysis: what drives likelihood to recommend, and the priority matrix."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.reporting.chart_text import describe_rows, place_labels
from helpers.reporting.charts import PALETTE


def _label(name: object, labels: Mapping[str, str] | None) -> str:
    """A driver's chart label from the schema, else its name in words."""
    return (labels or {}).get(str(name)) or str(name).replace("_", " ")


def _outcome(imp: pd.DataFrame) -> str:
    """The outcome the importances explain, as charts name it: LTR, CSAT, CES ..."""
    outcome = str(imp.attrs.get("outcome") or "ltr")
    return outcome.upper() if len(outcome) <= 4 else outcome.replace("_", " ")


def driver_importance(
    imp: pd.DataFrame,
    title: str = "What drives likelihood to recommend",
    ax: plt.Axes | None = None,
    labels: Mapping[str, str] | None = None,
) -> plt.Axes:
    """Ranked drivers: share of explained variance (R²) with bootstrap CI, and rank stability.

    `imp` is :func:`helpers.analysis.importance.shapley_importance` output (index = driver, columns share,
    share_ci_low, share_ci_high, optional top3_share).
    """
    ax = ax or plt.subplots(figsize=(8, 0.45 * len(imp) + 1.6))[1]
    y = np.arange(len(imp))
    share = 100 * imp["share"].to_numpy(float)
    ax.barh(y, share, color=PALETTE[0], alpha=0.85)
    if "share_ci_low" in imp:
        lo, hi = 100 * imp["share_ci_low"].to_numpy(float), 100 * imp["share_ci_high"].to_numpy(float)
        # a percentile interval may lie to one side of the estimate (few resamples): whisker from it
        ax.errorbar(share, y, xerr=np.clip(np.vstack([share - lo, hi - share]), 0, None),
                    fmt="none", color="#333333", capsize=3, linewidth=1)
    else:
        hi = share
    for i in range(len(imp)):
        note = f" {share[i]:.0f}%"
        if "top3_share" in imp:
            note += f"  (top 3 in {100 * imp['top3_share'].iloc[i]:.0f}% of resamples)"
        ax.text(hi[i], i, note, va="center", fontsize=8, color="#333333")
    ax.set_yticks(y, [_label(i, labels) for i in imp.index])
    ax.invert_yaxis()
    ax.set_xlim(0, max(100 * imp.get("share_ci_high", imp["share"]).max() * 1.6, 10))
    ax.set_xlabel(f"Share of explained variance in {_outcome(imp)} (%), 95% bootstrap CI")
    ax.set_title(title)
    describe_rows(ax, title, [
        f"{_label(i, labels)} {share[k]:.0f}%"
        + (f" [{lo[k]:.0f}, {hi[k]:.0f}]" if "share_ci_low" in imp else "")
        for k, i in enumerate(imp.index)], unit=f"share of explained variance in {_outcome(imp)}")
    return ax


def priority_matrix(
    pm: pd.DataFrame,
    title: str = "Priority matrix: importance x performance",
    ax: plt.Axes | None = None,
    labels: Mapping[str, str] | None = None,
) -> plt.Axes:
    """Importance (share of R², x) against performance (y), both with CIs, quadrants labelled.

    `pm` is :func:`helpers.analysis.priority.priority_matrix` output; its attrs give the cut lines.
    """
    ax = ax or plt.subplots(figsize=(8, 6))[1]
    x = 100 * pm["share"].to_numpy(float)
    y = pm["performance"].to_numpy(float)
    colors = {"fix first": PALETTE[5], "maintain": PALETTE[2], "monitor": "#999999",
              "don't over-invest": PALETTE[1]}
    xerr = None
    if "share_ci_low" in pm:
        xerr = np.clip(np.vstack([x - 100 * pm["share_ci_low"].to_numpy(float),
                                  100 * pm["share_ci_high"].to_numpy(float) - x]), 0, None)
    yerr = np.vstack([y - pm["perf_ci_low"].to_numpy(float), pm["perf_ci_high"].to_numpy(float) - y])
    for i, (_, row) in enumerate(pm.iterrows()):
        c = colors.get(row["quadrant"], PALETTE[0])
        ax.errorbar(x[i], y[i], xerr=None if xerr is None else xerr[:, [i]], yerr=yerr[:, [i]],
                    fmt="o", color=c, capsize=2, linewidth=1)
    xcut, ycut = 100 * pm.attrs.get("importance_cut", 1 / len(pm)), pm.attrs.get("performance_cut",
                                                                                   float(np.median(y)))
    ax.axvline(xcut, color="#777777", linestyle="--", linewidth=0.8)
    ax.axhline(ycut, color="#777777", linestyle="--", linewidth=0.8)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    pad_x, pad_y = 0.25 * (x1 - x0), 0.08 * (y1 - y0)  # room for labels at the edges
    ax.set_xlim(x0, x1 + pad_x)
    ax.set_ylim(y0 - pad_y, y1 + pad_y)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    corners = [ax.text(qx, qy, label.upper(), ha=ha, va=va, fontsize=9, color=colors[label],
                       fontweight="bold")
               for label, (qx, qy, ha, va) in {"fix first": (x1, y0, "right", "bottom"),
                                               "maintain": (x1, y1, "right", "top"),
                                               "monitor": (x0, y0, "left", "bottom"),
                                               "don't over-invest": (x0, y1, "left", "top")}.items()]
    unit = pm.attrs.get("performance_unit") or (
        "% in the top two boxes" if pm.attrs.get("performance") == "top_box" else "mean rating")
    ax.set_xlabel(f"Importance: share of explained variance in {_outcome(pm)} (%)")
    ax.set_ylabel(f"Performance: {unit}")
    ax.set_title(title)
    names = [_label(n, labels) for n in pm.index]
    place_labels(ax, list(zip(x, y, strict=True)), names, avoid=corners)
    describe_rows(ax, title, [f"{n}: importance {x[i]:.0f}%, performance {y[i]:.1f} "
                              f"({pm['quadrant'].iloc[i]})" for i, n in enumerate(names)])
    return ax
