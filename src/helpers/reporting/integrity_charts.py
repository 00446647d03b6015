"""Charts of the score-integrity checks: rates against the peer band, predicted against given
scores, the headline with and without the flagged reps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from helpers.analysis import disclosure
from helpers.errors import DataError
from helpers.measures import Measure
from helpers.reporting.chart_text import describe, place_labels, root_figure, title_of
from helpers.reporting.charts import PALETTE, ci_points
from helpers.stats.intervals import method_note


@dataclass(frozen=True)
class Words:
    """How the integrity page names the score its checks read: the LTR of an NPS programme, or
    the headline measure (CSAT, CES ...) of a programme without it (:meth:`of`)."""

    name: str            # the headline statistic: "NPS", "CSAT"
    score: str           # the answer the checks read: "LTR", "CSAT"
    scale: str           # its answer range: "0-10", "1-5"
    share_check: str     # the distribution check charted: "share_10" or "share_top"
    share_title: str
    share_note: str
    top: str             # the top answers, for the tone check: "9-10 scores", "CSAT 4-5 answers"
    eligible: str        # the same, in a methods note: "LTR 9-10", "CSAT 4-5"
    signed: bool         # the headline is written with its sign (NPS)

    @classmethod
    def of(cls, measure: Measure) -> Words:
        """The words of `measure`'s programme (the LTR's for an NPS headline)."""
        band = ("+/- 1.96 and 3.09 binomial SE for n responses. Orange: flagged by the integrity "
                "index (>= 2 kinds of evidence at FDR 5%). Reps shown by pseudonym.")
        if measure.headline.kind == "nps":
            return cls("NPS", "LTR", "0-10", "share_10", "Share of 10s per rep vs the peer band",
                       "Share of LTR = 10 among included responses per rep. Band: all-rep rate "
                       + band, "9-10 scores", "LTR 9-10", True)
        name, stat = measure.name, measure.headline
        cut = measure.cut_text if measure.cut is not None else "the top answer"
        return cls(stat.name, name, measure.range_text, "share_top",
                   f"Share of {name} {cut} answers per rep vs the peer band",
                   f"Share of {name} answers in {cut} among included responses per rep. Band: "
                   "all-rep rate " + band, f"{name} {cut} answers", f"{name} {cut}", stat.signed)

    def with_without_note(self, table: pd.DataFrame, market: str = "B2B") -> str:
        """The methods note of :func:`with_without`."""
        stat = table.attrs.get("statistic")
        if stat is None:
            return (f"NPS = % promoters (9-10) - % detractors (0-6) among included {market} "
                    "responses. 95% CI: design-based SE clustered by account, t with the design "
                    "df (R svymean).")
        return (f"{stat['label']}: {stat['detail']} among included {market} responses. 95% CI: "
                "design-based SE clustered by account, "
                f"{method_note(str(table.attrs.get('ci_method', '')))}.")

    @property
    def headers(self) -> dict[str, str]:
        """Check-table headers in the programme's words (none to change for NPS)."""
        return {} if self.score == "LTR" else {"tone_contradiction": "Top answer with a complaint",
                                                "ltr_residual": "Scores above the experience"}

    def figure(self, est: float, lo: float, hi: float) -> str:
        """'+12.3 [+8.0, +16.1]' (NPS) or '71.2 [66.0, 76.0]'."""
        f = "{:+.1f}" if self.signed else "{:.1f}"
        return f"{f.format(est)} [{f.format(lo)}, {f.format(hi)}]"


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
    title: str = "", ax: plt.Axes | None = None, measure: Measure | None = None,
) -> plt.Axes:
    """Mean score given vs predicted from the experience ratings per rep, with the residual's CI:
    the LTR, or `measure`'s answers in a programme without it.

    On the diagonal a rep's scores are what their customers' ratings explain; above it the scores
    are higher than the experience behind them. Vertical bars: 95% account-clustered CI. Flagged
    reps and reps whose CI lies above 0 are labelled.
    """

    d = ev.loc[ev["check"] == "ltr_residual"]
    if d.empty or "predicted" not in d:
        raise DataError("no ltr_residual evidence with predicted/given columns", column="check")
    words = Words.of(measure) if measure is not None else None
    score, scale = (words.score, words.scale) if words else ("LTR", "0-10")
    inflated = (d["ci_low"] > 0).to_numpy()
    if measure is not None and not measure.higher_is_better:  # the checks read -answer
        d = d.assign(given=-d["given"], predicted=-d["predicted"], ci_low=-d["ci_high"],
                     ci_high=-d["ci_low"])
    title = title or f"Mean {score} given vs predicted from experience ratings, per rep"
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
    ax.set_xlabel(f"Mean {score} predicted from experience ratings ({scale})")
    ax.set_ylabel(f"Mean {score} given ({scale})")
    legend = ax.legend(loc="upper left", fontsize=8)
    marked = [r for r, up in zip(d.itertuples(), inflated, strict=True)
              if r.rep_id in flagged or up]
    place_labels(ax, [(r.predicted, r.given) for r in marked],
                 [names.get(r.rep_id, r.rep_id) for r in marked], avoid=[legend])
    describe(ax, f"{title_of(ax)}. Reps whose scores are above what their customers' experience "
                 "predicts: " + ("; ".join(f"{names.get(r.rep_id, r.rep_id)} given {r.given:.1f} vs "
                                           f"predicted {r.predicted:.1f}" for r in marked)
                                 or "none") + ".")
    return ax


def with_without(table: pd.DataFrame, ax: plt.Axes | None = None,
                 min_n: int | None = None, market: str = "B2B") -> plt.Axes:
    """The headline (NPS, or the statistic ``table.attrs["statistic"]`` names: CSAT % top-2 box
    ...) with and without the flagged reps' responses: points, 95% CIs and n, as
    :func:`helpers.analysis.disclosure.shared_parts` lets them be shown (`min_n`: the settings')."""
    stat = table.attrs.get("statistic")
    name, xlabel = ((stat["name"], stat["label"]) if stat else
                    ("NPS", "NPS (points, -100 to 100)"))
    table = disclosure.shared_parts(
        table, min_n if min_n is not None else disclosure.settings_min_n())
    ax = ax or plt.subplots(figsize=(8, 3.2))[1]
    ci_points(table, label="label", xlabel=xlabel, ax=ax,
              title=f"{market} {name} with and without the flagged reps' responses")
    lo, hi = table["ci_low"].min(), table["ci_high"].max()
    ax.set_xlim(lo - 0.1 * (hi - lo), hi + 0.25 * (hi - lo))
    ax.set_ylim(len(table) - 0.5, -0.5)
    root_figure(ax).tight_layout()
    return ax
