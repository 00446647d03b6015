"""Charts: the house style and the charts a report draws (analysis returns tables, this draws them).

One theme, a colour-blind-safe palette (Okabe-Ito) and fixed NPS colours. Every chart states
what it shows: axis labels with units, n on bars, and a methods note (definition, n, weights,
exclusions, date window) via :func:`methods_note`. Every chart also describes itself for
screen readers (:mod:`helpers.reporting.chart_text`: alt text, point labels that never
overlap); :func:`set_theme` makes the notebook's PNG output carry it. General charts come
first, then the charts of particular analyses (leaders vs laggards, competitors, market
backtest); the driver and integrity charts are in :mod:`helpers.reporting.driver_charts` and
:mod:`helpers.reporting.integrity_charts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.analysis.market_backtest import VERDICT_COLORS, BacktestResult
from helpers.analysis.outcomes import BINARY, CONTINUOUS, DEFAULT_OUTCOMES
from helpers.reporting.chart_text import (
    describe_rows,
    fast_wrap,
    install_alt_text,
    root_figure,
    share_font_layout,
    share_text_metrics,
    skip_idle_redraw,
    title_of,
)

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE: list[str] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
#: The interval columns of every result table (estimate, se, ci_low, ci_high, n).
CI_COLUMNS = ("ci_low", "ci_high")
NPS_COLORS: dict[str, str] = {"promoter": "#009E73", "passive": "#BDBDBD", "detractor": "#D55E00"}
SUPPRESSED_COLOR = "#DDDDDD"


def show() -> None:
    """Draw the current figure now (a chart per market in a loop each get their own output)."""
    plt.show()


def set_theme() -> None:
    """Apply the house theme (call once per notebook; helpers.reporting.charts functions assume it)."""
    # seaborn's "whitegrid" look, set directly: importing seaborn (and scipy.stats with it) costs
    # ~1.5 s in every kernel, and these rcParams are all the theme needs.
    mpl.rcParams.update({
        "axes.facecolor": "white", "figure.facecolor": "white", "axes.edgecolor": ".8",
        "axes.grid": True, "axes.axisbelow": True, "grid.color": ".8", "grid.linestyle": "-",
        "axes.labelcolor": ".15", "text.color": ".15", "xtick.color": ".15", "ytick.color": ".15",
        "xtick.direction": "out", "ytick.direction": "out", "xtick.bottom": False, "ytick.left": False,
        "axes.prop_cycle": mpl.rcsetup.cycler(color=PALETTE), "image.cmap": "viridis",
        "font.family": ["sans-serif"], "font.sans-serif": ["DejaVu Sans", "Arial", "Liberation Sans"],
        "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
        "figure.figsize": (8, 4.5), "figure.dpi": 100, "savefig.dpi": 150,
        "axes.titleweight": "bold", "axes.titlesize": 12, "axes.titlelocation": "left",
        "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    })
    pd.set_option("styler.format.escape", "html")  # Styler tables show data as text, like to_html
    install_alt_text()
    share_text_metrics()
    share_font_layout()
    fast_wrap()
    skip_idle_redraw()


def methods_note(ax: plt.Axes, text: str) -> None:
    """Small grey note under the chart: definition, n, weights, exclusions, date window.

    Placed below everything the axes draw (tick labels, x label, legend) so it never overlaps them.
    """
    fig = root_figure(ax)
    gap = 0.12 / fig.get_figheight()  # 0.12 inch below the lowest thing the axes draw
    y = -gap
    try:
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # stubs: Agg canvas only
        boxes = [a.get_tightbbox(renderer) for a in fig.axes]
        lowest = min(b.transformed(fig.transFigure.inverted()).y0 for b in boxes if b is not None)
        y = lowest - gap
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
    describe_rows(ax, title, [
        f"{r[label]}: suppressed ({r.get('reason', 'small n')}), n={int(r['n'])}" if suppressed[i]
        else f"{r[label]}: NPS {r['nps']:+.0f} [{r['ci_low']:+.0f}, {r['ci_high']:+.0f}], "
             f"{r['pct_promoter']:.0f}% promoters, {r['pct_detractor']:.0f}% detractors, n={int(r['n'])}"
        for i, r in enumerate(table.to_dict("records"))])
    ax.legend(ncols=3, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              handlelength=1.2, borderaxespad=0.2)
    return ax


def n_text(n: Any) -> str:
    """'n=812' for a count, 'n 560-569' for a band (helpers.analysis.disclosure), '' for none."""
    if isinstance(n, str):
        return f"n {n}" if n else ""
    return "" if n is None or pd.isna(n) else f"n={int(n)}"


def ci_points(
    table: pd.DataFrame,
    label: str,
    estimate: str = "estimate",
    xlabel: str = "Estimate",
    title: str = "",
    ax: plt.Axes | None = None,
    n: str | None = "n",
) -> plt.Axes:
    """Forest plot: one point with a CI whisker (``ci_low``, ``ci_high``) per row, n printed
    beside it."""
    low, high = CI_COLUMNS
    ax = ax or plt.subplots(figsize=(8, 0.45 * len(table) + 1.5))[1]
    y = np.arange(len(table))
    est = table[estimate].to_numpy(float)
    err = np.vstack([est - table[low].to_numpy(float), table[high].to_numpy(float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", color=PALETTE[0], capsize=3)
    if n and n in table:
        for i, v in enumerate(table[n]):
            ax.annotate(n_text(v), (table[high].iloc[i], i), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8, color="#555555")
    ax.set_yticks(y, table[label].astype(str))
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    describe_rows(ax, title, [
        f"{r[label]}: {r[estimate]:.1f} [{r[low]:.1f}, {r[high]:.1f}]"
        + (f", {n_text(r[n])}" if n and n in table and n_text(r[n]) else "")
        for r in table.to_dict("records")], unit=xlabel)
    return ax


def line_with_band(
    table: pd.DataFrame,
    x: str,
    estimate: str = "estimate",
    hue: str | None = None,
    ylabel: str = "",
    title: str = "",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Trend line with a shaded confidence band (``ci_low``, ``ci_high``), one line per `hue`
    level."""
    low, high = CI_COLUMNS
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
    describe_rows(ax, title, [
        ("" if name is None else f"{name} ") + ", ".join(
            f"{w}: {v:.1f} [{lo_:.1f}, {hi_:.1f}]" for w, v, lo_, hi_ in
            zip(g[x].astype(str), g[estimate], g[low], g[high], strict=True))
        for name, g in groups], unit=ylabel)
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
    describe_rows(ax, title, [f"{s_}: {int(v):,} rows ({v / vals[0]:.1%})"
                              for s_, v in zip(steps[label].astype(str), vals, strict=True)])
    return ax


def account_matrix(
    table: pd.DataFrame,
    x: str = "dm_score",
    y: str = "others_score",
    size: str | None = "arr",
    hue: str | None = "archetype_label",
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
        sizes = sizes.fillna(40.0)   # accounts absent from the master: the size of unknown ARR
    groups = list(d.groupby(hue, sort=True)) if hue and hue in d else [(None, d)]
    for i, (name, g) in enumerate(groups):
        ax.scatter(g[x], g[y], s=sizes[g.index], color=PALETTE[i % len(PALETTE)], alpha=0.7,
                   edgecolor="white", label=None if name is None else f"{name} ({len(g)})")
    ax.axhline(0, color="#555555", linewidth=0.8)
    ax.axvline(0, color="#555555", linewidth=0.8)
    ax.set_xlim(-105, 105)
    ax.set_ylim(-105, 105)
    ax.set_xlabel("Decision maker's score (NPS points)" if x == "dm_score" else x.replace("_", " "))
    ax.set_ylabel("Other contacts' mean score (NPS points)" if y == "others_score"
                  else y.replace("_", " "))
    ax.set_title(f"{title} (n={len(d)} accounts; {len(table) - len(d)} without both)")
    if hue and hue in d:
        ax.legend(title=hue.removesuffix("_label").replace("_", " "), loc="upper left",
                  bbox_to_anchor=(1.01, 1), fontsize=8)
    quads = {"both positive": ((d[x] > 0) & (d[y] > 0)).sum(),
             "decision maker negative, others positive": ((d[x] < 0) & (d[y] > 0)).sum(),
             "decision maker positive, others negative": ((d[x] > 0) & (d[y] < 0)).sum(),
             "both negative": ((d[x] < 0) & (d[y] < 0)).sum()}
    describe_rows(ax, title_of(ax), [f"{k}: {int(v)} accounts" for k, v in quads.items()])
    return ax


def score_distribution(counts: pd.DataFrame, title: str = "", xlabel: str = "Likelihood to recommend (0-10)",
                       ax: plt.Axes | None = None, nps_bands: bool = True) -> plt.Axes:
    """Side-by-side bars of score counts (one column per stage), coloured bands for NPS groups
    (`nps_bands`, the 0-10 recommend question only)."""
    ax = ax or plt.subplots()[1]
    x = np.arange(len(counts))
    width = 0.8 / counts.shape[1]
    for i, col in enumerate(counts.columns):
        ax.bar(x + (i - (counts.shape[1] - 1) / 2) * width, counts[col], width, label=f"{col} (n={counts[col].sum():,})",
               color=PALETTE[i % len(PALETTE)])
    for lo, hi, group in ((-0.5, 6.5, "detractor"), (6.5, 8.5, "passive"), (8.5, 10.5, "promoter")):
        if nps_bands:
            ax.axvspan(lo, hi, color=NPS_COLORS[group], alpha=0.08, linewidth=0)
    ax.set_xticks(x, counts.index.astype(str))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Responses")
    ax.set_title(title)
    ax.legend()
    describe_rows(ax, title, [f"{col}: " + ", ".join(f"{k}: {int(v):,}" for k, v in counts[col].items())
                              for col in counts.columns], unit="responses per score")
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


# --- charts of particular analyses ---------------------------------------------------------


GROUP_LABELS = {"leader": "Leaders (top 25%)", "middle": "Middle", "laggard": "Laggards (bottom 25%)",
                "below min n": "Too few responses", "not rated": "No response"}


def group_outcomes(summary: pd.DataFrame, outcomes: Sequence[str] = DEFAULT_OUTCOMES,
                        title: str = "") -> plt.Figure:
    """Small multiples: each outcome's level per account group with its 95% CI and n.

    `summary` is :func:`group_summary` output. Rates and NRR are shown in percent.
    """


    groups = [g for g in GROUP_LABELS if g in set(summary["group"])]
    colors = {"leader": PALETTE[2], "middle": PALETTE[0],
              "laggard": PALETTE[5], "below min n": "#999999", "not rated": "#999999"}
    fig, axes = plt.subplots(1, len(outcomes), figsize=(3.1 * len(outcomes), 0.5 * len(groups) + 1.8),
                             sharey=True)
    axes = np.atleast_1d(axes)
    for ax, out in zip(axes, outcomes, strict=True):
        sub = summary[summary["outcome"] == out].set_index("group").reindex(groups)
        for i, g in enumerate(groups):
            r = sub.loc[g]
            ax.plot([100 * r["ci_low"], 100 * r["ci_high"]], [i, i], color=colors[g], lw=2.5)
            ax.plot(100 * r["estimate"], i, "o", color=colors[g], ms=7)
            ax.annotate(f"{100 * r['estimate']:.0f}%", (100 * r["ci_high"], i), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=8)
        ax.set_title({**BINARY, **CONTINUOUS}[out], fontsize=10)
        ax.set_xlabel("%")
    axes[0].set_yticks(range(len(groups)),
                       [f"{GROUP_LABELS[g]} (n={int(summary.loc[summary['group'] == g, 'n'].iloc[0])})"
                        for g in groups])
    axes[0].invert_yaxis()
    fig.suptitle(title or "Next-period outcomes by account NPS group", x=0.01, ha="left",
                 fontweight="bold")
    describe_rows(fig, title or "Next-period outcomes by account NPS group", [
        f"{({**BINARY, **CONTINUOUS})[r['outcome']]}, {GROUP_LABELS.get(r['group'], r['group'])}: "
        f"{100 * r['estimate']:.0f}% [{100 * r['ci_low']:.0f}, {100 * r['ci_high']:.0f}], n={int(r['n'])}"
        for r in summary[summary["outcome"].isin(outcomes)].to_dict("records")])
    methods_note(axes[0], (
        "Accounts ranked by NPS in the survey wave (empirical-Bayes shrunk; minimum n of rated "
        "contacts applies); groups by quartile. Points: share or mean per account; bars: 95% CI "
        "(Wilson for rates, t for means). NRR = (ARR + expansion - churned ARR) / ARR."))
    fig.tight_layout()
    return fig


def backtest_cumulative(result: BacktestResult, ax: plt.Axes | None = None, title: str = "") -> plt.Axes:
    """Cumulative-return lines for leaders, laggards and the benchmark, final value labelled."""


    ax = ax or plt.subplots(figsize=(9, 4.8))[1]
    colors = [PALETTE[2], PALETTE[5], "#555555"]
    for color, (name, g) in zip(colors, result.series.groupby("portfolio", sort=False), strict=False):
        y = (g["value"] - 1.0) * 100
        ax.plot(g["date"], y, color=color, label=name, lw=1.6 if "Bench" not in name else 1.2)
        ax.annotate(f"{y.iloc[-1]:+.0f}%", (g["date"].iloc[-1], y.iloc[-1]), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=9, color=color)
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_ylabel("Cumulative return (%)")
    ax.set_xlabel("")
    ax.set_title(title or f"CX leaders vs laggards, {result.first_year}-{result.last_year}")
    ax.legend(loc="upper left")
    describe_rows(ax, title_of(ax), [
        f"{name}: {(g['value'].iloc[-1] - 1) * 100:+.0f}% cumulative return"
        for name, g in result.series.groupby("portfolio", sort=False)])
    kind = "PRICE-ONLY returns (understated)" if result.price_only else "total returns"
    ex = result.excess.iloc[0]
    methods_note(ax, (
        f"Equal-weighted top/bottom {result.top_n} of each year's CX index, held one calendar year, "
        f"{kind}, rebalanced annually; benchmark {result.benchmark}. Mean yearly return gap "
        f"leaders - laggards {100 * ex['estimate']:+.1f} pts, 95% CI [{100 * ex['ci_low']:+.1f}, "
        f"{100 * ex['ci_high']:+.1f}], n={int(ex['n'])} years. {len(result.events)} mid-year "
        "exits/late listings handled (events table). Past returns; correlation, not causation."))
    return ax


def competitor_gaps(gaps: pd.DataFrame, us: str = "Us", label: str = "competitor", title: str = "",
              ax: plt.Axes | None = None) -> plt.Axes:
    """Dot plot for sales: our NPS lead (right, green) or lag (left, orange) vs each competitor.

    One row per competitor: the paired NPS gap in points with its CI, coloured by verdict (BH),
    with "we lead/lag by ... [CI], n pairs" printed beside it.
    """

    g = gaps.sort_values("estimate", ascending=False).reset_index(drop=True)
    ax = ax or plt.subplots(figsize=(8, 0.55 * len(g) + 1.8))[1]
    lo = np.nanmin(g["ci_low"]) if len(g) else -10
    hi = np.nanmax(g["ci_high"]) if len(g) else 10
    span = max(abs(lo), abs(hi), 5) * 1.15
    for i, r in g.iterrows():
        color = VERDICT_COLORS.get(r["verdict"], "#999999")
        ax.plot([r["ci_low"], r["ci_high"]], [i, i], color=color, lw=2.5, solid_capstyle="round")
        ax.plot(r["estimate"], i, "o", color=color, ms=9)
        word = {"lead": "we lead", "lag": "we lag"}.get(r["verdict"], r["verdict"])
        ax.text(span * 1.02, i, f"{word}: {r['estimate']:+.0f} [{r['ci_low']:+.0f}, "
                f"{r['ci_high']:+.0f}], n={int(r['n'])}", va="center", fontsize=9, color=color)
    ax.axvline(0, color="#555555", lw=1)
    ax.set_yticks(range(len(g)), [f"vs {c}" for c in g[label].astype(str)])
    ax.set_xlim(-span, span)
    ax.invert_yaxis()
    ax.set_xlabel(f"NPS of {us} minus competitor (points, same respondents)")
    ax.set_title(title or f"Where {us} leads or lags on NPS")
    describe_rows(ax, title_of(ax), [
        f"vs {r[label]}: {({'lead': 'we lead', 'lag': 'we lag'}).get(r['verdict'], r['verdict'])} "
        f"by {r['estimate']:+.0f} points [{r['ci_low']:+.0f}, {r['ci_high']:+.0f}], n={int(r['n'])}"
        for r in g.to_dict("records")])

    methods_note(ax, (
        "Paired comparison: respondents who rated both vendors; NPS = % promoters (9-10) - % "
        "detractors (0-6); 95% CI clustered by account; green/orange = significant after "
        "Benjamini-Hochberg (FDR 5%), grey = no clear difference."))
    return ax


def rate_against_target(trend: pd.DataFrame, by: str = "tier", title: str = "",
                        ax: plt.Axes | None = None) -> plt.Axes:
    """Response rate (%) per wave and `by` level with its 95 % band, against the programme's
    target (dashed): the first thing the account-programme page shows."""
    ax = line_with_band(trend.rename(columns={"rate": "estimate"}), "wave", hue=by,
                        ylabel="Response rate (%)", ax=ax or plt.subplots(figsize=(8, 3.6))[1],
                        title=title or f"Response rate per {by} and wave against the target")
    target = float(trend["target"].iloc[0])
    ax.axhline(target, color="#555555", lw=1, ls="--")
    ax.annotate(f"target {target:.0f}%", (0, target), xytext=(4, 3), textcoords="offset points",
                fontsize=8, color="#555555")
    ax.set_ylim(0, 100)
    ax.legend(title=by.replace("_", " "), loc="lower right", fontsize=8)
    methods_note(ax, "Share of invited contacts who answered, 95% CI clustered by account "
                     "(contacts of one account answer alike); dashed: the response target.")
    return ax
