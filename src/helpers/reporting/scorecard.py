"""The executive summary's first screen: headline tiles per market and what to fix first.

Read from a run's artefacts (never recomputed): NPS, CES and CSAT per market from the segments
notebook (estimate, 95% CI, n; its change since the previous wave with its significance), and
the "fix first" items of the drivers notebook's priority matrix with their what-if NPS gain. A
market or measure this run does not have gets no tile; the scorecard says nothing about it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from helpers.analysis import disclosure
from helpers.measures import Statistic, Unit
from helpers.reporting import formats
from helpers.reporting.summary import (
    MARKETS,
    Artefacts,
    headline_figures,
    run_min_n,
    run_statistics,
    run_wave,
)


@dataclass(frozen=True)
class Tile:
    """One headline figure with its interval, n and change since the previous wave."""

    market: str
    metric: str
    name: str
    unit: Unit
    estimate: float
    ci_low: float
    ci_high: float
    n: float
    detail: str = ""
    change: float = float("nan")
    change_low: float = float("nan")
    change_high: float = float("nan")
    wave_from: str = ""
    significant: bool | None = None
    no_ci: str = ""   # why there is no interval, when there is none
    compares: str = ""   # what the change compares when not the two waves' own figures
    too_few: bool = False   # fewer responses than the run's minimum n: no figure, words
    change_too_few: str = ""   # the wave with too few responses for a change, if any

    def value_text(self) -> str:
        if self.too_few:
            return formats.too_few_text(self.n)
        if self.unit is Unit.POINTS:
            return formats.fmt_points(self.estimate)
        if self.unit is Unit.PERCENT:
            return formats.fmt_pct(self.estimate)
        return formats.fmt_num(self.estimate, 2)

    def ci_text(self) -> str:
        fmt = formats.fmt_points if self.unit is Unit.POINTS else formats.fmt_num
        return formats.fmt_ci(self.ci_low, self.ci_high, fmt)

    def interval_text(self) -> str:
        """'95% CI [+9.4, +25.9]', or why there is none."""
        if self.too_few:
            return "95% CI in the segments report"
        has_ci = formats.is_number(self.ci_low) and formats.is_number(self.ci_high)
        return f"95% CI {self.ci_text()}" if has_ci or not self.no_ci else self.no_ci

    def change_text(self) -> str:
        """'▲ +7.0 since 2026Q2, not significant' (points, or percentage points for rates),
        with what it compares when that is not the two waves' own figures ('(38 accounts that
        answered both waves)')."""
        if self.too_few:
            return "no change shown: too few responses this wave"
        if self.change_too_few:
            return f"no change shown: too few responses in {self.change_too_few}"
        if not formats.is_number(self.change):
            return "no earlier wave to compare" if not self.wave_from else "change not tested"
        arrow = "▲" if self.change > 0 else "▼" if self.change < 0 else "="
        unit = {Unit.POINTS: "pts", Unit.PERCENT: "pp"}.get(self.unit, "")
        word = ("not tested" if self.significant is None else
                "significant" if self.significant else "not significant")
        on = f" {self.compares}" if self.compares else ""
        return f"{arrow} {formats.fmt_points(self.change)} {unit} since {self.wave_from}{on}, {word}"


def _headline_rows(art: Artefacts) -> pd.DataFrame:
    """market, metric, label, estimate, ci_low, ci_high, n ... from the market_headline table (or
    the segments notebook's metrics when the table is missing)."""
    table = art.table("market_headline")
    if table is not None and len(table):
        return table
    return headline_figures(art)


def _changes(art: Artefacts) -> dict[tuple[str, str], Mapping[str, Any]]:
    table = art.table("headline_changes")
    if table is None or table.empty:
        return {}
    return {(str(r["market"]), str(r["metric"])): r for r in table.to_dict("records")}


def _detail(stat: Statistic, rows: pd.DataFrame, stats: list[Statistic]) -> str:
    """What the tile's number means, with the measure's companion mean when it has one."""
    companion = next((s for s in stats if s.measure == stat.measure and not s.headline), None)
    if companion is None or companion.key not in rows.index:
        return stat.detail
    return f"{stat.detail}; {companion.kind} {formats.fmt_num(rows.loc[companion.key, 'estimate'], 2)}"


def compared(change: Mapping[str, Any]) -> str:
    """What a headline change compares, in words, when it is not the difference of the two
    waves' own figures (the trend chart's points): a paired change is on the units that
    answered in both waves only."""
    if "paired" not in str(change.get("test") or ""):
        return ""
    units = change.get("n_units")
    many = f"{formats.fmt_int(units)} " if formats.is_number(units) else ""
    return f"({many}accounts that answered both waves)"


def _change_too_few(change: Mapping[str, Any], min_n: int) -> str:
    """The wave of a change with fewer responses than `min_n` ('' when both have enough)."""
    for n, wave in (("n_from", "wave_from"), ("n_to", "wave_to")):
        if formats.is_number(change.get(n)) and disclosure.too_few(change[n], min_n):
            return str(change.get(wave) or "")
    return ""


def tiles(art: Artefacts, min_n: int | None = None) -> list[Tile]:
    """A tile per market and headline statistic this run has (markets in B2B, B2C order).
    A figure on fewer than `min_n` responses (default: the run's, :func:`run_min_n`) gets
    words instead of a number, as the segment tables grey out such cells."""
    head = _headline_rows(art)
    changes = _changes(art)
    stats = run_statistics(art)
    min_n = run_min_n(art) if min_n is None else min_n
    out = []
    for market in MARKETS:
        rows = head[head["market"] == market].set_index("metric")
        for stat in (s for s in stats if s.headline):
            if stat.key not in rows.index or not formats.is_number(rows.loc[stat.key, "estimate"]):
                continue
            r = rows.loc[stat.key]
            ch = changes.get((market, stat.key), {})
            sig = ch.get("significant")
            out.append(Tile(
                market, stat.key, stat.name, stat.unit, float(r["estimate"]),
                formats.as_number(r["ci_low"]), formats.as_number(r["ci_high"]),
                formats.as_number(r["n"]), _detail(stat, rows, stats),
                formats.as_number(ch.get("change")), formats.as_number(ch.get("ci_low")),
                formats.as_number(ch.get("ci_high")), str(ch.get("wave_from") or ""),
                None if sig is None or (isinstance(sig, float) and pd.isna(sig)) else bool(sig),
                _no_ci(r), compared(ch), disclosure.too_few(r["n"], min_n),
                _change_too_few(ch, min_n)))
    return out


def _no_ci(row: pd.Series) -> str:
    """Why a headline figure has no interval: one cluster (account) holds every response, or
    too few responses."""
    if formats.is_number(row.get("ci_low")) and formats.is_number(row.get("ci_high")):
        return ""
    if formats.is_number(row.get("df")) and row["df"] < 1 and "cluster" in str(row.get("design", "")):
        return "no CI: every response is from one account (sampling error needs two or more)"
    return "no CI: too few responses"


FIX_COLUMNS = ["market", "driver", "label", "share", "performance", "gain", "gain_low",
               "gain_high", "n"]


def fix_first(art: Artefacts, k: int = 3) -> pd.DataFrame:
    """The `k` "fix first" items (important, rated below the median) with the largest what-if
    NPS gain (else importance), across markets, with the gain's 95% CI."""
    pm = art.table("drivers_priority")
    if pm is None or pm.empty or "quadrant" not in pm:
        return pd.DataFrame(columns=FIX_COLUMNS)
    fix = pm[pm["quadrant"] == "fix first"][["market", "driver", "share", "performance"]].copy()
    ranked = art.table("drivers_ranked")
    labels = ({(r["market"], r["driver"]): r["label"] for r in ranked.to_dict("records")}
              if ranked is not None and "label" in ranked else {})
    fix["label"] = [labels.get((m, d)) or str(d).replace("_", " ")
                    for m, d in zip(fix["market"], fix["driver"], strict=True)]
    wi = art.table("drivers_what_if")
    if wi is not None and len(wi):
        gains = wi.rename(columns={"estimate": "gain", "ci_low": "gain_low", "ci_high": "gain_high"})
        fix = fix.merge(gains[["market", "driver", "gain", "gain_low", "gain_high", "n"]],
                        on=["market", "driver"], how="left")
    for c in FIX_COLUMNS:
        if c not in fix:
            fix[c] = float("nan")
    fix = fix.sort_values(["gain", "share"], ascending=[False, False], na_position="last")
    return fix.head(k)[FIX_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class Scorecard:
    """The first screen of the executive summary (HTML in the page, plain text for nbval)."""

    wave: str | None
    tiles: tuple[Tile, ...]
    fixes: pd.DataFrame

    def _fix_lines(self) -> list[tuple[str, str, str]]:
        """(market, label, gain text) per fix-first item."""
        out = []
        for r in self.fixes.to_dict("records"):
            if formats.is_number(r.get("gain")):
                gain = (f"{formats.fmt_points(r['gain'])} NPS points "
                        f"{formats.fmt_ci(r['gain_low'], r['gain_high'], formats.fmt_points)}")
            else:
                gain = "gain not estimated"
            out.append((str(r["market"]), str(r["label"]), gain))
        return out

    def to_html(self) -> str:
        e = html.escape
        markets = [m for m in MARKETS if any(t.market == m for t in self.tiles)]
        rows = []
        for m in markets:
            cells = []
            for t in (t for t in self.tiles if t.market == m):
                mood = ("up" if t.change > 0 else "down") if t.significant else "flat"
                cells.append(
                    f'<div class="cx-tile" role="group" aria-label="{e(m)} {e(t.name)}">'
                    f'<p class="cx-tile-name">{e(m)} · {e(t.name)}</p>'
                    f'<p class="{"cx-tile-few" if t.too_few else "cx-tile-value"}">'
                    f"{e(t.value_text())}</p>"
                    f'<p class="cx-tile-ci">{e(t.interval_text())} · n={e(formats.fmt_int(t.n))}</p>'
                    f'<p class="cx-tile-detail">{e(t.detail)}</p>'
                    f'<p class="cx-tile-change cx-change-{mood}">{e(t.change_text())}</p></div>')
            dense = " cx-tiles-dense" if len(cells) > 3 else ""
            rows.append(f'<div class="cx-tiles{dense}">{"".join(cells)}</div>')
        tiles_html = "".join(rows) or '<p class="cx-tile-none">No headline figures in this run.</p>'
        fixes = self._fix_lines()
        items = "".join(f"<li><strong>{e(label)}</strong> ({e(m)}): {e(gain)}</li>"
                        for m, label, gain in fixes)
        fix_html = (f'<div class="cx-fix"><p class="cx-fix-title">What to fix first</p>'
                    f'<ol>{items}</ol><p class="cx-fix-note">Important, rated below the median; gain: '
                    "NPS change if the bottom quarter on the item moved up to its median (95% CI, "
                    "model-based).</p></div>"
                    if fixes else "")
        wave = f"Wave {e(self.wave)}" if self.wave and self.wave != "all" else "This survey"
        return (f'<div class="cx-scorecard" id="cx-scorecard" aria-label="Scorecard">'
                f'<p class="cx-scorecard-head">{wave}: 95% confidence intervals, number of '
                f"responses and change since the previous wave.</p>"
                f"{tiles_html}{fix_html}</div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        lines = [f"{t.market} {t.name} {t.value_text()} "
                 f"{t.interval_text() if t.too_few else t.no_ci or t.ci_text()} n={formats.fmt_int(t.n)}; "
                 f"{t.change_text()}" for t in self.tiles]
        lines += [f"fix first: {label} ({m}): {gain}" for m, label, gain in self._fix_lines()]
        return "\n".join(lines) or "no headline figures"


def build(art: Artefacts, k: int = 3, min_n: int | None = None) -> Scorecard:
    """The scorecard of a run: tiles for what the run has (words below `min_n`, default the
    run's), and the `k` items to fix first."""
    return Scorecard(run_wave(art), tuple(tiles(art, min_n)), fix_first(art, k))
