"""Charts of the score-integrity checks: rates against the peer band, predicted against given
scores, NPS with and without the flagged reps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.analysis import disclosure
from helpers.errors import DataError
from helpers.reporting.chart_text import describe, place_labels, root_figure, title_of
from helpers.reporting.charts import PALETTE, ci_points


def rate_funnel(
    ev: pd.DataFrame, check: str, names: Mapping[str, str], flagged: Iterable[str] = (),
    title: str = "", ax: plt.Axes | None = None,
) -> plt.Axes:
    """Funnel plot: each rep's raw rate against their n, inside the 95% / 99.8% peer band.

    The band is the pooled rate ± z·√(p(1-p)/n): what chance alone produces for a rep with that
    many responses. Flagged reps (orange) and reps above the 95% band are labelled with their
    pseudonyms.
    """

    d = ev.loc[ev["check"] == check]
    if d.empty:
        raise DataError(f"no evidence rows for check {check!r}", column="check")
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    pooled = d["k"].sum() / d["n"].sum()
    nn = np.linspace(max(2, d["n"].min() * 0.8), d["n"].max() * 1.1, 200)
    for zq, alpha_fill, lab in ((1.96, 0.25, "95% peer band"), (3.09, 0.12, "99.8% peer band")):
        half = zq * np.sqrt(pooled * (1 - pooled) / nn)
        ax.fill_between(nn, np.clip(pooled - half, 0, 1) * 100, np.clip(pooled + half, 0, 1) * 100,
                        color=PALETTE[4], alpha=alpha_fill, linewidth=0, label=lab)
    ax.axhline(pooled * 100, color="#555555", lw=1, ls="--", label=f"all reps {pooled:.0%}")
    flagged = set(flagged)
    colors = [PALETTE[5] if r in flagged else PALETTE[0] for r in d["rep_id"]]
    ax.scatter(d["n"], d["estimate"] * 100, c=colors, zorder=3)
    outside = d["estimate"] - pooled > 1.96 * np.sqrt(pooled * (1 - pooled) / d["n"])
    ax.set_xlabel("Responses per rep (n)")
    ax.set_ylabel("Share of responses (%)")
    ax.set_title(f"{title or check} ({len(d)} reps, n={int(d['n'].sum()):,})")
    legend = ax.legend(loc="upper right", fontsize=8)
    marked = [r for r, out in zip(d.itertuples(), outside, strict=True)
              if out or r.rep_id in flagged]  # label what stands out; the rest is the crowd
    place_labels(ax, [(r.n, r.estimate * 100) for r in marked],
                 [names.get(r.rep_id, r.rep_id) for r in marked], avoid=[legend])
    describe(ax, f"{title_of(ax)}. All reps {pooled:.0%}. Above the peer band or flagged: "
                 + ("; ".join(f"{names.get(r.rep_id, r.rep_id)} {r.estimate:.0%}" for r in marked)
                    or "none") + ".")
    return ax


def predicted_vs_given(
    ev: pd.DataFrame, names: Mapping[str, str], flagged: Iterable[str] = (),
    title: str = "Mean LTR given vs predicted from experience ratings, per rep",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Mean LTR given vs predicted from the experience ratings per rep, with the residual's CI.

    On the diagonal a rep's scores are what their customers' ratings explain; above it the scores
    are higher than the experience behind them. Vertical bars: 95% account-clustered CI. Flagged
    reps and reps whose CI lies above 0 are labelled.
    """

    d = ev.loc[ev["check"] == "ltr_residual"]
    if d.empty or "predicted" not in d:
        raise DataError("no ltr_residual evidence with predicted/given columns", column="check")
    ax = ax or plt.subplots(figsize=(6.5, 5.5))[1]
    flagged = set(flagged)
    colors = [PALETTE[5] if r in flagged else PALETTE[0] for r in d["rep_id"]]
    lo = d["predicted"] + d["ci_low"]
    hi = d["predicted"] + d["ci_high"]
    ax.vlines(d["predicted"], lo, hi, colors=colors, alpha=0.6)
    ax.scatter(d["predicted"], d["given"], c=colors, zorder=3)
    lims = (min(d["predicted"].min(), lo.min()) - 0.3, max(d["predicted"].max(), hi.max()) + 0.3)
    ax.plot(lims, lims, color="#555555", lw=1, ls="--", label="given = predicted")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_title(f"{title} ({len(d)} reps, n={int(d['n'].sum()):,})")
    ax.set_xlabel("Mean LTR predicted from experience ratings (0-10)")
    ax.set_ylabel("Mean LTR given (0-10)")
    legend = ax.legend(loc="upper left", fontsize=8)
    marked = [r for r in d.itertuples() if r.rep_id in flagged or r.ci_low > 0]
    place_labels(ax, [(r.predicted, r.given) for r in marked],
                 [names.get(r.rep_id, r.rep_id) for r in marked], avoid=[legend])
    describe(ax, f"{title_of(ax)}. Reps whose scores are above what their customers' experience "
                 "predicts: " + ("; ".join(f"{names.get(r.rep_id, r.rep_id)} given {r.given:.1f} vs "
                                           f"predicted {r.predicted:.1f}" for r in marked)
                                 or "none") + ".")
    return ax


def nps_with_without(nps_table: pd.DataFrame, ax: plt.Axes | None = None,
                     min_n: int | None = None) -> plt.Axes:
    """Headline NPS with and without the flagged reps' responses: points, 95% CIs and n, as
    :func:`helpers.analysis.disclosure.shared_parts` lets them be shown (`min_n`: the settings')."""
    nps_table = disclosure.shared_parts(
        nps_table, min_n if min_n is not None else disclosure.settings_min_n())
    ax = ax or plt.subplots(figsize=(8, 3.2))[1]
    ci_points(nps_table, label="label", xlabel="NPS (points, -100 to 100)", ax=ax,
              title="B2B NPS with and without the flagged reps' responses")
    lo, hi = nps_table["ci_low"].min(), nps_table["ci_high"].max()
    ax.set_xlim(lo - 0.1 * (hi - lo), hi + 0.25 * (hi - lo))
    ax.set_ylim(len(nps_table) - 0.5, -0.5)
    root_figure(ax).tight_layout()
    return ax
