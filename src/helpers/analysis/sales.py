"""The sales briefing's analyses: competitor gaps by every segment field, the sales and
implementation experiences that separate promoters from detractors, and whether we hear from
the people who decide (decision-maker coverage and response rates by account tier).

Everything is per group of customers, never per rep or contact: a briefing for a sales
leadership meeting names no person.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.analysis import competitors
from helpers.analysis.programme import among
from helpers.analysis.selection import Study
from helpers.errors import ThinData, require_columns
from helpers.ingest.schema import Schema
from helpers.stats import compare, estimators
from helpers.stats.design import Design

STAGES = ("sales", "implementation")


def briefing_market(data: Study, market: str = "") -> str:
    """The market the briefing is about: `market` when given, else B2B when the run has B2B
    responses, else the first market with responses."""
    if market:
        return market
    return "B2B" if "B2B" in data.markets else (data.markets[0] if data.markets else "B2B")


def segment_fields(data: Study, market: str) -> list[str]:
    """The market's segment fields with at least two values (roles are about contacts, not
    customers, and are left out)."""
    rows = data.market(market).rows
    return [f for f in data.schema.segment_fields(market)
            if f != "role" and f in rows and rows[f].nunique() >= 2]


def competitor_gaps_by_fields(ratings: pd.DataFrame, us: str, fields: Sequence[str],
                              min_n: int = 10, q: float = 0.05) -> pd.DataFrame:
    """Our paired NPS gap to each competitor within each segment of each field, stacked.

    One Benjamini-Hochberg family per field (competitors x segments of that field), as
    :func:`helpers.analysis.competitors.paired_gaps` does. Columns: field, segment, competitor,
    nps_us, nps_competitor, estimate, se, ci_low, ci_high, t, p_value, n, n_clusters,
    p_adjusted, verdict.
    """
    parts = []
    for f in fields:
        if f not in ratings:
            continue
        try:
            g = competitors.paired_gaps(ratings.dropna(subset=[f]), us=us, by=f, min_n=min_n, q=q)
        except ThinData:  # no pair where this field is known: the other fields still count
            continue
        parts.append(g.rename(columns={f: "segment"}).assign(field=f, segment=lambda d:
                                                               d["segment"].astype(str)))
    if not parts:
        return pd.DataFrame(columns=["field", "segment", "competitor", "estimate", "ci_low",
                                     "ci_high", "n", "p_adjusted", "verdict"])
    out = pd.concat(parts, ignore_index=True)
    return out[["field", "segment", "competitor", *[c for c in out if c not in
                                                    ("field", "segment", "competitor")]]]


def stage_items(schema: Schema, market: str) -> dict[str, str]:
    """Item -> stage for the sales and implementation items the market rates."""
    out: dict[str, str] = {}
    for stage in STAGES:
        for item in schema.stage_items(stage):
            if item in schema.driver_items(market):
                out[item] = stage
    return out


def separators(rows: pd.DataFrame, items: Mapping[str, str], cluster: str | None = None,
               weights: str | None = None, q: float = 0.05, level: float = 0.95) -> pd.DataFrame:
    """How much higher promoters (LTR 9-10) rate each item than detractors (0-6).

    Per item: the design-based mean rating of promoters and of detractors (B2B clustered by
    account, B2C weighted), their difference with a t interval from the covariance of the two
    domains (R ``svyby`` + ``svycontrast``), the p-value and the Benjamini-Hochberg adjusted
    p-value across the items. Columns: item, stage, mean_promoter, mean_detractor, estimate,
    se, ci_low, ci_high, p_value, n_promoter, n_detractor, p_adjusted, significant.
    """
    require_columns(rows, ["ltr", *items], "responses")
    d = rows[(rows["ltr"] >= 9) | (rows["ltr"] <= 6)].copy()  # passives and blanks out
    d["_group"] = np.where(d["ltr"] >= 9, "promoter", "detractor")
    if d.empty or d["_group"].nunique() < 2:
        raise ThinData("no promoters or no detractors among the responses", column="ltr",
                       expected="both promoters (9-10) and detractors (0-6)")
    design = Design.from_frame(d, weights=weights, cluster=cluster)
    out = []
    for item, stage in items.items():
        if d[item].notna().sum() < 2:
            continue
        t = estimators.survey_by(d, item, "_group", design=design, covmat=True, level=level)
        pos = {g: i for i, g in enumerate(t["_group"])}
        if not {"promoter", "detractor"} <= set(pos):
            continue
        r = compare.contrast(t, pos["detractor"], pos["promoter"], metric="mean", level=level)
        out.append({"item": item, "stage": stage,
                    "mean_promoter": float(t["estimate"].iloc[pos["promoter"]]),
                    "mean_detractor": float(t["estimate"].iloc[pos["detractor"]]),
                    "estimate": r.estimate, "se": r.se, "ci_low": r.ci[0], "ci_high": r.ci[1],
                    "p_value": r.p, "n_promoter": r.n_b, "n_detractor": r.n_a})
    res = pd.DataFrame(out)
    if res.empty:
        return res
    return compare.with_fdr(res, q).sort_values("estimate", ascending=False).reset_index(drop=True)


def with_importance(sep: pd.DataFrame, ranked: pd.DataFrame | None, market: str) -> pd.DataFrame:
    """`sep` with each item's share of explained LTR variance (and CI) from the drivers
    notebook's ranking, when the run has it."""
    if ranked is None or sep.empty or "share" not in ranked:
        return sep
    r = ranked[ranked["market"] == market][["driver", "share", "share_ci_low", "share_ci_high"]]
    return sep.merge(r.rename(columns={"driver": "item"}), on="item", how="left")


def dm_coverage_by(responses: pd.DataFrame, accounts: pd.DataFrame, by: str,
                   invitations: pd.DataFrame | None = None,
                   dm_role: str = "decision_maker", level: float = 0.95) -> pd.DataFrame:
    """Share of accounts in each group of `by` where a decision maker answered, with R
    ``svyciprop``'s 95% CI (accounts are the units; named in ``ci_method``). The base is the invited accounts when the invitation list
    is given, else the responding accounts. Columns: group, base, accounts, with_dm, share,
    ci_low, ci_high (percent)."""
    require_columns(responses, ["account_id", "role"], "responses")
    d = responses.loc[responses["account_id"].notna(),
                      [c for c in dict.fromkeys(["account_id", "role", by]) if c in responses]]
    with_dm = d.loc[d["role"] == dm_role, "account_id"].unique()
    if invitations is not None and len(invitations):
        base_ids, base = invitations["account_id"].dropna().unique(), "invited accounts"
    else:
        base_ids, base = d["account_id"].unique(), "responding accounts"
    acc = accounts.loc[among(accounts["account_id"], base_ids)] if by in accounts else None
    if acc is None:
        acc = d.drop_duplicates("account_id")[["account_id", by]]
    has_dm = pd.Series(among(acc["account_id"], with_dm).astype(float), index=acc.index)
    rows = []
    for group, g in has_dm.groupby(acc[by], sort=True):
        flags = g.to_numpy()
        r = estimators.proportion(flags, level=level)
        rows.append({"group": str(group), "base": base, "accounts": len(g),
                     "with_dm": int(flags.sum()), "share": r.estimate,
                     "ci_low": r.ci[0], "ci_high": r.ci[1], "ci_method": r.ci_method})
    return pd.DataFrame(rows, columns=["group", "base", "accounts", "with_dm", "share", "ci_low",
                                       "ci_high", "ci_method"])


def coverage_by_tier(dm: pd.DataFrame, rates: pd.DataFrame | None, by: str) -> pd.DataFrame:
    """Decision-maker coverage and contact response rate side by side, one row per tier."""
    out = dm.rename(columns={"share": "dm_share", "ci_low": "dm_ci_low", "ci_high": "dm_ci_high"})
    if rates is None or rates.empty:
        return out
    r = rates.rename(columns={by: "group", "ci_low": "rate_ci_low", "ci_high": "rate_ci_high"})
    r["group"] = r["group"].astype(str)
    return out.merge(r[["group", "invited", "responded", "rate", "rate_ci_low", "rate_ci_high"]],
                     on="group", how="outer")


def headline_metrics(gaps: pd.DataFrame | None, sep: pd.DataFrame | None) -> dict[str, object]:
    """Run-folder metrics: our gap to each competitor (with CI and n), and the item that
    separates promoters from detractors most."""
    out: dict[str, object] = {}
    for r in ([] if gaps is None else gaps.to_dict("records")):
        out[f"gap_vs_{r['competitor']}"] = {k: r.get(k) for k in ("estimate", "ci_low", "ci_high",
                                                                  "n", "verdict")}
    if sep is not None and len(sep):
        top = sep.iloc[0]
        out["top_separator"] = {"item": str(top["item"]), "estimate": float(top["estimate"]),
                                "ci_low": float(top["ci_low"]), "ci_high": float(top["ci_high"])}
    return out
