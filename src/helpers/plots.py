"""House style for every chart: one theme, a colour-blind-safe palette, fixed NPS colours.

Every chart states what it shows: axis labels with units, n on bars, and a methods note
(definition, n, weights, exclusions, date window) via :func:`methods_note`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE: list[str] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
NPS_COLORS: dict[str, str] = {"promoter": "#009E73", "passive": "#BDBDBD", "detractor": "#D55E00"}
SUPPRESSED_COLOR = "#DDDDDD"


def set_theme() -> None:
    """Apply the house theme (call once per notebook; helpers.plots functions assume it)."""
    # seaborn's "whitegrid" look, set directly: importing seaborn (and scipy.stats with it) costs
    # ~1.5 s in every kernel, and these rcParams are all the theme needs.
    mpl.rcParams.update({
        "axes.facecolor": "white", "figure.facecolor": "white", "axes.edgecolor": ".8",
        "axes.grid": True, "axes.axisbelow": True, "grid.color": ".8", "grid.linestyle": "-",
        "axes.labelcolor": ".15", "text.color": ".15", "xtick.color": ".15", "ytick.color": ".15",
        "xtick.direction": "out", "ytick.direction": "out", "xtick.bottom": False, "ytick.left": False,
        "axes.prop_cycle": mpl.cycler(color=PALETTE), "image.cmap": "viridis",
        "font.family": ["sans-serif"], "font.sans-serif": ["DejaVu Sans", "Arial", "Liberation Sans"],
        "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
        "figure.figsize": (8, 4.5), "figure.dpi": 100, "savefig.dpi": 150,
        "axes.titleweight": "bold", "axes.titlesize": 12, "axes.titlelocation": "left",
        "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    })


def methods_note(ax: plt.Axes, text: str) -> None:
    """Small grey note under the chart: definition, n, weights, exclusions, date window.

    Placed below everything the axes draw (tick labels, x label, legend) so it never overlaps them.
    """
    fig = ax.figure
    y = -0.02
    try:
        box = ax.get_tightbbox(fig.canvas.get_renderer()).transformed(fig.transFigure.inverted())
        y = min(y, box.y0 - 0.02)
    except (AttributeError, ValueError):
        pass
    fig.text(0.01, y, text, ha="left", va="top", fontsize=8, color="#555555", wrap=True)


def nps_stacked_bars(
    table: pd.DataFrame,
    label: str = "segment",
    title: str = "Promoters, passives and detractors",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Horizontal 100% bars of detractor / passive / promoter shares with NPS, its CI and n.

    `table` needs columns `label`, `pct_detractor`, `pct_passive`, `pct_promoter` (0-100),
    `nps`, `ci_low`, `ci_high`, `n`; optional bool `suppressed` and str `reason` grey a row out.
    """
    ax = ax or plt.subplots(figsize=(9, 0.5 * len(table) + 1.5))[1]
    y = np.arange(len(table))
    left = np.zeros(len(table))
    suppressed = table.get("suppressed", pd.Series(False, index=table.index)).to_numpy(bool)
    for group in ("detractor", "passive", "promoter"):
        width = table[f"pct_{group}"].to_numpy(float)
        colors = [SUPPRESSED_COLOR if s else NPS_COLORS[group] for s in suppressed]
        ax.barh(y, width, left=left, color=colors, label=group.capitalize() + "s", edgecolor="white")
        left += np.nan_to_num(width)
    for i, row in enumerate(table.itertuples(index=False)):
        r = row._asdict()
        if suppressed[i]:
            txt = f"suppressed: {r.get('reason', 'small n')} (n={int(r['n'])})"
        else:
            txt = f"NPS {r['nps']:+.0f} [{r['ci_low']:+.0f}, {r['ci_high']:+.0f}]  n={int(r['n'])}"
        ax.text(101, i, txt, va="center", fontsize=9)
    ax.set_yticks(y, table[label].astype(str))
    ax.set_xlim(0, 100)
    ax.set_xlabel("Share of respondents (%)")
    ax.invert_yaxis()
    ax.set_title(title)
    ax.legend(ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15 if len(table) > 3 else -0.3))
    return ax


def ci_points(
    table: pd.DataFrame,
    label: str,
    estimate: str = "estimate",
    low: str = "ci_low",
    high: str = "ci_high",
    xlabel: str = "Estimate",
    title: str = "",
    ax: plt.Axes | None = None,
    n: str | None = "n",
) -> plt.Axes:
    """Forest plot: one point with a CI whisker per row, n printed beside it."""
    ax = ax or plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))[1]
    y = np.arange(len(table))
    est = table[estimate].to_numpy(float)
    err = np.vstack([est - table[low].to_numpy(float), table[high].to_numpy(float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", color=PALETTE[0], capsize=3)
    if n and n in table:
        for i, v in enumerate(table[n]):
            ax.annotate(f"n={int(v)}", (table[high].iloc[i], i), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8, color="#555555")
    ax.set_yticks(y, table[label].astype(str))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


def line_with_band(
    table: pd.DataFrame,
    x: str,
    estimate: str = "estimate",
    low: str = "ci_low",
    high: str = "ci_high",
    hue: str | None = None,
    ylabel: str = "",
    title: str = "",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Trend line with a shaded confidence band, one line per `hue` level."""
    ax = ax or plt.subplots()[1]
    groups: Sequence[tuple[object, pd.DataFrame]] = list(table.groupby(hue, sort=False)) if hue else [(None, table)]
    for i, (name, g) in enumerate(groups):
        color = PALETTE[i % len(PALETTE)]
        ax.plot(g[x].astype(str), g[estimate], marker="o", color=color, label=None if name is None else str(name))
        ax.fill_between(g[x].astype(str), g[low], g[high], color=color, alpha=0.2, linewidth=0)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(x.replace("_", " ").capitalize())
    ax.set_title(title)
    if hue:
        ax.legend(title=hue.replace("_", " "))
    return ax


def funnel(steps: pd.DataFrame, label: str = "step", value: str = "rows", title: str = "", ax: plt.Axes | None = None) -> plt.Axes:
    """Horizontal funnel (raw rows -> included rows) with counts and % of raw."""
    ax = ax or plt.subplots(figsize=(8, 0.45 * len(steps) + 1.2))[1]
    vals = steps[value].to_numpy(float)
    y = np.arange(len(steps))
    ax.barh(y, vals, color=PALETTE[0])
    for i, v in enumerate(vals):
        ax.text(v, i, f" {int(v):,} ({v / vals[0]:.1%})", va="center", fontsize=9)
    ax.set_yticks(y, steps[label].astype(str))
    ax.invert_yaxis()
    ax.set_xlabel("Responses (rows)")
    ax.set_xlim(0, vals[0] * 1.25)
    ax.set_title(title)
    return ax


def account_matrix(
    table: pd.DataFrame,
    x: str = "dm_score",
    y: str = "others_score",
    size: str | None = "arr",
    hue: str | None = "archetype",
    xlabel: str = "Decision maker's score (NPS points)",
    ylabel: str = "Other contacts' mean score (NPS points)",
    title: str = "Account matrix",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """One dot per account (x vs y score, -100..100), dot area by `size`, colour by `hue`,
    quadrant lines at 0; accounts lacking x or y are left out and counted in the title."""
    ax = ax or plt.subplots(figsize=(7.5, 6))[1]
    d = table.dropna(subset=[x, y])
    sizes = pd.Series(40.0, index=d.index)
    if size and size in d and len(d) and d[size].max() > 0:
        sizes = 20 + 280 * d[size].astype(float).clip(lower=0) / d[size].max()
    groups = list(d.groupby(hue, sort=True)) if hue and hue in d else [(None, d)]
    for i, (name, g) in enumerate(groups):
        ax.scatter(g[x], g[y], s=sizes[g.index], color=PALETTE[i % len(PALETTE)], alpha=0.7,
                   edgecolor="white", label=None if name is None else f"{name} ({len(g)})")
    ax.axhline(0, color="#555555", linewidth=0.8)
    ax.axvline(0, color="#555555", linewidth=0.8)
    ax.set_xlim(-105, 105)
    ax.set_ylim(-105, 105)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title} (n={len(d)} accounts; {len(table) - len(d)} without both)")
    if hue and hue in d:
        ax.legend(title=hue.replace("_", " "), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return ax


def score_distribution(counts: pd.DataFrame, title: str = "", xlabel: str = "Likelihood to recommend (0-10)",
                       ax: plt.Axes | None = None) -> plt.Axes:
    """Side-by-side bars of score counts (one column per stage), coloured bands for NPS groups."""
    ax = ax or plt.subplots()[1]
    x = np.arange(len(counts))
    width = 0.8 / counts.shape[1]
    for i, col in enumerate(counts.columns):
        ax.bar(x + (i - (counts.shape[1] - 1) / 2) * width, counts[col], width, label=f"{col} (n={counts[col].sum():,})",
               color=PALETTE[i % len(PALETTE)])
    for lo, hi, group in ((-0.5, 6.5, "detractor"), (6.5, 8.5, "passive"), (8.5, 10.5, "promoter")):
        ax.axvspan(lo, hi, color=NPS_COLORS[group], alpha=0.08, linewidth=0)
    ax.set_xticks(x, counts.index.astype(str))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Responses")
    ax.set_title(title)
    ax.legend()
    return ax


def driver_importance(
    imp: pd.DataFrame,
    title: str = "What drives likelihood to recommend",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Ranked drivers: share of explained variance (R²) with bootstrap CI, and rank stability.

    `imp` is :func:`helpers.drivers.shapley_importance` output (index = driver, columns share,
    share_ci_low, share_ci_high, optional top3_share).
    """
    ax = ax or plt.subplots(figsize=(8, 0.45 * len(imp) + 1.6))[1]
    y = np.arange(len(imp))
    share = 100 * imp["share"].to_numpy(float)
    ax.barh(y, share, color=PALETTE[0], alpha=0.85)
    if "share_ci_low" in imp:
        lo, hi = 100 * imp["share_ci_low"].to_numpy(float), 100 * imp["share_ci_high"].to_numpy(float)
        ax.errorbar(share, y, xerr=np.vstack([share - lo, hi - share]), fmt="none", color="#333333",
                    capsize=3, linewidth=1)
    else:
        hi = share
    for i in range(len(imp)):
        note = f" {share[i]:.0f}%"
        if "top3_share" in imp:
            note += f"  (top 3 in {100 * imp['top3_share'].iloc[i]:.0f}% of resamples)"
        ax.text(hi[i], i, note, va="center", fontsize=8, color="#333333")
    ax.set_yticks(y, [str(i).replace("_", " ") for i in imp.index])
    ax.invert_yaxis()
    ax.set_xlim(0, max(100 * imp.get("share_ci_high", imp["share"]).max() * 1.6, 10))
    ax.set_xlabel("Share of explained variance in LTR (%), 95% bootstrap CI")
    ax.set_title(title)
    return ax


def priority_matrix(
    pm: pd.DataFrame,
    title: str = "Priority matrix: importance x performance",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Importance (share of R², x) against performance (y), both with CIs, quadrants labelled.

    `pm` is :func:`helpers.drivers.priority_matrix` output; its attrs give the cut lines.
    """
    ax = ax or plt.subplots(figsize=(8, 6))[1]
    x = 100 * pm["share"].to_numpy(float)
    y = pm["performance"].to_numpy(float)
    colors = {"fix first": PALETTE[5], "maintain": PALETTE[2], "monitor": "#999999",
              "don't over-invest": PALETTE[1]}
    xerr = None
    if "share_ci_low" in pm:
        xerr = np.vstack([x - 100 * pm["share_ci_low"].to_numpy(float),
                          100 * pm["share_ci_high"].to_numpy(float) - x])
    yerr = np.vstack([y - pm["perf_ci_low"].to_numpy(float), pm["perf_ci_high"].to_numpy(float) - y])
    for i, (name, row) in enumerate(pm.iterrows()):
        c = colors.get(row["quadrant"], PALETTE[0])
        ax.errorbar(x[i], y[i], xerr=None if xerr is None else xerr[:, [i]], yerr=yerr[:, [i]],
                    fmt="o", color=c, capsize=2, linewidth=1)
        ax.annotate(str(name).replace("_", " "), (x[i], y[i]), xytext=(5, 4), textcoords="offset points",
                    fontsize=8)
    xcut, ycut = 100 * pm.attrs.get("importance_cut", 1 / len(pm)), pm.attrs.get("performance_cut",
                                                                                   float(np.median(y)))
    ax.axvline(xcut, color="#777777", linestyle="--", linewidth=0.8)
    ax.axhline(ycut, color="#777777", linestyle="--", linewidth=0.8)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    for label, (qx, qy, ha, va) in {"fix first": (x1, y0, "right", "bottom"),
                                    "maintain": (x1, y1, "right", "top"),
                                    "monitor": (x0, y0, "left", "bottom"),
                                    "don't over-invest": (x0, y1, "left", "top")}.items():
        ax.text(qx, qy, label.upper(), ha=ha, va=va, fontsize=9, color=colors[label], fontweight="bold")
    unit = "% rating 4-5" if pm.attrs.get("performance") == "top_box" else "mean rating (1-5)"
    ax.set_xlabel("Importance: share of explained variance in LTR (%)")
    ax.set_ylabel(f"Performance: {unit}")
    ax.set_title(title)
    return ax


def nps_bars_ci(
    table: pd.DataFrame,
    label: str = "segment",
    title: str = "Promoters, passives and detractors",
) -> plt.Axes:
    """:func:`nps_stacked_bars` with a second panel of NPS points and 95% CI whiskers per row
    (suppressed rows drawn grey). Returns the bars' axes (for :func:`methods_note`)."""
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(14, 0.5 * len(table) + 1.8), sharey=True,
        gridspec_kw={"width_ratios": [3, 2], "wspace": 0.8})
    nps_stacked_bars(table, label=label, title=title, ax=ax1)
    suppressed = table.get("suppressed", pd.Series(False, index=table.index)).to_numpy(bool)
    est = table["nps"].to_numpy(float)
    lo, hi = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    for i in range(len(table)):
        color = SUPPRESSED_COLOR if suppressed[i] else PALETTE[0]
        ax2.errorbar(est[i], i, xerr=[[est[i] - lo[i]], [hi[i] - est[i]]], fmt="o", color=color,
                     capsize=3)
    ax2.axvline(0, color="#555555", linewidth=0.8)
    ax2.set_xlim(-100, 100)
    ax2.set_xlabel("NPS (points), 95% CI")
    ax2.tick_params(axis="y", left=False)
    ax2.set_title("NPS with 95% CI")
    return ax1
