"""What a run wrote, read back for the executive summary: the metrics by notebook and the result
tables by name (:func:`load_artefacts`), and the figures the summary states from them (headline,
significant changes, top drivers, revenue gap), never recomputed."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers import catalog, contract, paths
from helpers.analysis import disclosure
from helpers.errors import ConfigError
from helpers.measures import Measure, Rule, Statistic, Unit, metric_key
from helpers.reporting import cards
from helpers.reporting.formats import MISSING, as_number, ci_text, is_number, too_few_text

MARKETS = ("B2B", "B2C")
#: The notebook whose models rank the drivers, and what they explain unless it says otherwise.
DRIVERS = "03_promoter_drivers"
LTR_OUTCOME = Measure.define("ltr", scale=(0, 10), rule=Rule.NPS).describe_answer()


@dataclass(frozen=True)
class Artefacts:
    """Everything one run wrote: metrics by notebook and result tables by name."""

    run_dir: Path
    metrics: dict[str, dict[str, Any]]
    tables: dict[str, Any]
    not_available: list[dict[str, Any]] = field(default_factory=list)
    drivers_outcome: Mapping[str, str] | None = None  # what the driver models explain (03)

    def metric(self, key: str, notebook: str) -> Any:
        """Metric `key` of the metrics file `notebook` wrote (None when this run has none)."""
        if notebook not in contract.METRICS:
            raise ValueError(f"{notebook!r} writes no metrics file (contract.METRICS)")
        return self.metrics.get(notebook, {}).get(key)

    def table(self, name: str) -> Any:
        """The registered result table `name` when this run wrote it, else None."""
        return self.tables.get(contract.table_name(name))


def load_artefacts(run_dir: str | os.PathLike[str]) -> Artefacts:
    """Read the metrics files and result tables of `run_dir` that the summary declares it reads
    (``contract.READS``), where the run wrote them. Only those: a notebook the summary does not
    wait for may or may not have finished, and must not change what the summary says."""
    reads = contract.READS[contract.SUMMARY]
    folder = paths.resolve(Path(run_dir))
    metrics = {nb: m for nb, m in catalog.load_metrics(folder).items() if nb in reads.metrics} \
        if (folder / "metrics").is_dir() else {}
    tables = {p.stem: pd.read_parquet(p) for p in sorted((folder / "tables").glob("*.parquet"))
              if p.stem in reads.tables}
    return Artefacts(run_dir=folder, metrics=metrics, tables=tables,
                     not_available=cards.not_available(folder),
                     drivers_outcome=stored_outcome(folder) if "drivers_ranked" in tables else None)


def stored_outcome(folder: Path) -> Mapping[str, str] | None:
    """The ``outcome`` the drivers notebook stored beside its ranking (the measure its models
    explain), read alone: the summary states none of that notebook's figures."""
    p = folder / "metrics" / f"{DRIVERS}.json"
    found = json.loads(p.read_text(encoding="utf-8")).get("outcome") if p.is_file() else None
    return found if isinstance(found, Mapping) else None


def run_statistics(art: Artefacts) -> list[Statistic]:
    """The statistics the run reported, in the survey's order, as the segments notebook
    described them (its ``statistics`` metric, else the description stored with each headline
    row or figure)."""
    listed = art.metric("statistics", "02_segments")
    if isinstance(listed, list):
        return [Statistic.from_description(d) for d in listed]
    found: dict[str, Statistic] = {}
    table = art.table("market_headline")
    if table is not None and "measure" in table:
        for r in table.to_dict("records"):
            found.setdefault(str(r["metric"]), Statistic.from_description({**r, "key": r["metric"]}))
    for key, value in art.metrics.get("02_segments", {}).items():
        if isinstance(value, Mapping) and "measure" in value and "_" in key:
            stat = key.rsplit("_", 1)[0]
            found.setdefault(stat, Statistic.from_description({**value, "key": stat}))
    return list(found.values())


def run_min_n(art: Artefacts) -> int:
    """The minimum n the run's segment tables used (``min_n`` in the segments notebook's
    metrics), else the setting (config/params.yaml ``shared.min_n``): one rule for tables and
    headline tiles."""
    value = art.metric("min_n", "02_segments")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    try:
        return disclosure.settings_min_n()
    except (ConfigError, ValueError):  # no readable params file here: the house default
        return disclosure.MIN_CELL


def figure_text(stat: Statistic, value: Mapping[str, Any], n: bool = True) -> str:
    """'+17.8 [+9.4, +25.9] (n=731)' in the statistic's own unit and digits."""
    return ci_text(value.get("estimate"), value.get("ci_low"), value.get("ci_high"),
                   value.get("n") if n else None, signed=stat.signed, digits=stat.digits,
                   unit="%" if stat.unit is Unit.PERCENT else "")


def headline_figures(art: Artefacts) -> Any:
    """Every headline statistic per market from the segments notebook's metrics
    (:func:`helpers.measures.metric_key`), with its label and unit as the run described them.
    Figures this run does not have say so in `text`; figures on fewer responses than the
    run's minimum n say that instead (`too_few`)."""
    rows, min_n = [], run_min_n(art)
    for market in MARKETS:
        for stat in run_statistics(art):
            value = art.metric(metric_key(stat.key, market), "02_segments")
            value = value if isinstance(value, Mapping) else {}
            est = value.get("estimate")
            rows.append({
                "market": market, "metric": stat.key, "label": stat.label, "name": stat.name,
                "unit": str(stat.unit), "headline": stat.headline,
                "estimate": float(est) if is_number(est) else float("nan"),
                "ci_low": as_number(value.get("ci_low")), "ci_high": as_number(value.get("ci_high")),
                "n": as_number(value.get("n")), "design": value.get("design") or "",
                "too_few": is_number(est) and disclosure.too_few(value.get("n"), min_n),
                "text": (MISSING if not is_number(est) else too_few_text(value.get("n"))
                         if disclosure.too_few(value.get("n"), min_n) else figure_text(stat, value)),
            })
    columns = ["market", "metric", "label", "name", "unit", "headline", "estimate", "ci_low",
               "ci_high", "n", "design", "too_few", "text"]
    return pd.DataFrame(rows, columns=columns)


def run_wave(art: Artefacts) -> str | None:
    """The wave the run reports on: the segments notebook's ``wave`` metric, else the newest
    ``wave_to`` of the wave-changes table."""
    wave = art.metric("wave", "02_segments")
    if isinstance(wave, str) and wave:
        return wave
    table = art.table("wave_changes")
    if table is not None and "wave_to" in table and table["wave_to"].notna().any():
        return str(sorted(table["wave_to"].dropna().astype(str))[-1])
    return None


def _since_previous(df: Any, wave: str | None) -> Any:
    """Rows comparing the reported wave with the one before it (all rows when unknown)."""
    if wave is None or "wave_to" not in df:
        return df
    return df[df["wave_to"].astype(str) == wave]


def significant_changes(art: Artefacts) -> Any:
    """Changes since the previous wave that are significant after false-discovery control, and
    only those.

    Read from the ``wave_changes`` table (column ``significant``) or the ``significant_changes``
    list in the metrics, restricted to the pair ending in the reported wave; nothing is
    re-tested here.
    """
    cols = ["market", "dimension", "segment", "wave_from", "wave_to", "change", "ci_low",
            "ci_high", "p_adjusted", "test"]
    table = art.table("wave_changes")
    if table is not None and "significant" in table:
        sig = table[table["significant"].fillna(False).astype(bool)]
    else:
        listed = art.metric("significant_changes", "02_segments")
        sig = pd.DataFrame(listed) if isinstance(listed, list) else pd.DataFrame(columns=cols)
    sig = _since_previous(sig, run_wave(art))
    sig = sig[[c for c in cols if c in sig]].copy()
    if sig.empty:
        return sig
    sig["label"] = [_change_label(r) for r in sig.to_dict("records")]
    return sig.sort_values("change", key=abs, ascending=False).reset_index(drop=True)


def _change_label(r: Mapping[str, Any]) -> str:
    seg = "all" if r.get("segment") in (None, "all") else f"{r.get('dimension')}: {r.get('segment')}"
    return f"{r.get('market', '')} {seg} ({r.get('wave_from')} to {r.get('wave_to')})".strip()


def changes_tested(art: Artefacts) -> tuple[int | None, int | None]:
    """(changes tested since the previous wave, size of the false-discovery family)."""
    table = art.table("wave_changes")
    if table is not None and "p_value" in table:
        tested = table[table["p_value"].notna()]
        return int(len(_since_previous(tested, run_wave(art)))), int(len(tested))
    value = art.metric("changes_tested", "02_segments")
    return (None, int(value)) if is_number(value) else (None, None)


def driver_label(item: str, labels: Mapping[str, str] | None = None) -> str:
    """The item's label from the survey schema (stored with the ranking), else its name in words."""
    return (labels or {}).get(str(item)) or str(item).replace("_", " ")


def driver_outcome(art: Artefacts) -> dict[str, str]:
    """What the drivers notebook's models explain (measure, rule, name, words, scale), as it
    stored it; a run from before it did: the LTR when the run reports NPS (or nothing), else
    the headline measure unnamed."""
    if art.drivers_outcome is not None:
        return {**LTR_OUTCOME, **art.drivers_outcome}
    stats = run_statistics(art)
    if not stats or any(s.kind == "nps" for s in stats):
        return dict(LTR_OUTCOME)
    return {"measure": "", "rule": "", "name": "the headline measure",
            "words": "the headline measure", "scale": ""}


def top_drivers(art: Artefacts, k: int = 3) -> Any:
    """The `k` most important drivers per market (of the measure :func:`driver_outcome`
    names), as the drivers notebook ranked them.

    Reads the ``drivers_ranked`` table (market, driver, label, share with share_ci_low /
    share_ci_high, top3_share, n, r2). Columns: market, rank, driver, label, importance, share,
    share_ci_low, share_ci_high, top3_share, n, r2.
    """
    cols = ["market", "rank", "driver", "label", "importance", "ci_low", "ci_high"]
    t = art.table("drivers_ranked")
    if t is None or t.empty:
        return pd.DataFrame(columns=cols)
    t = t.copy()
    if "label" not in t:
        t["label"] = t["driver"].map(driver_label)
    t["importance"] = t["share"]
    t = t.sort_values(["market", "importance"], ascending=[True, False])
    t["rank"] = t.groupby("market").cumcount() + 1
    keep = [c for c in (*cols, "share", "share_ci_low", "share_ci_high", "top3_share", "n", "r2")
            if c in t]
    return t[t["rank"] <= k][keep].reset_index(drop=True)


def revenue_gap(art: Artefacts) -> Any:
    """The leaders-vs-laggards gap in revenue terms (ARR) from the leaders notebook's
    ``gap_value`` table (basis, gap, estimate, ci_low, ci_high, n); empty when not available."""
    table = art.table("gap_value")
    if table is None:
        return pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"])
    out = table.copy()
    out["label"] = out["basis"]
    return out.reset_index(drop=True)


def integrity_summary(art: Artefacts) -> dict[str, Any]:
    """Reps flagged and the headline with / without their responses (from the integrity
    notebook): ``reps_flagged``, ``all``, ``without_flagged`` and the statistic's ``name`` (NPS,
    or the headline of a programme without the LTR, e.g. CSAT) and ``unit``."""
    written = art.metrics.get("05_score_integrity", {})
    key = next((k.removesuffix("_without_flagged") for k in written
                if k.endswith("_without_flagged")), "nps")
    without = art.metric(f"{key}_without_flagged", "05_score_integrity")
    named = without if isinstance(without, dict) else {}
    return {"reps_flagged": art.metric("reps_flagged", "05_score_integrity"),
            "all": art.metric(f"{key}_all", "05_score_integrity"), "without_flagged": without,
            "name": named.get("name", "NPS"), "unit": named.get("unit", "points")}


def available(art: Artefacts) -> Any:
    """Which notebooks left metrics and which tables exist: the summary's inventory."""
    rows = [{"artefact": f"metrics/{nb}.json", "written by": nb, "entries": len(v)}
            for nb, v in art.metrics.items()]
    rows += [{"artefact": f"tables/{name}.parquet", "written by": "", "entries": len(t)}
             for name, t in art.tables.items()]
    return pd.DataFrame(rows, columns=["artefact", "written by", "entries"]).set_index("artefact")


# --- executive summary: findings in plain words, each with one chart and a methods note -------
