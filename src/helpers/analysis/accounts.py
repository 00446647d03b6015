"""B2B accounts: account NPS several ways, coverage of accounts, decision makers and revenue,
response rates and account archetypes.

Definitions (stated in tables and methods notes):

- response score: +100 promoter (LTR 9-10), 0 passive (7-8), -100 detractor (0-6); NPS is its
  mean.
- one vote per account, ``vote="mean"``: the account's score is the mean of its contacts' scores
  (the account's own NPS); ``vote="majority"``: promoter (+100) if more than half its contacts
  are promoters, detractor (-100) if more than half are detractors, otherwise passive (0).
- waterfall: the account's score is the mean score of the contacts in the first role of
  ``role_order`` (decision maker, else influencer, else user) that answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.analysis.segments import mean_points, nps_points, result_row
from helpers.errors import ArgumentError, DataError, ThinData, require_columns
from helpers.stats import estimators
from helpers.stats.design import Design

ROLE_ORDER: tuple[str, ...] = ("decision_maker", "influencer", "user")
ROLE_WEIGHTS: dict[str, float] = {"decision_maker": 3.0, "influencer": 2.0, "user": 1.0}


def account_frame(responses: pd.DataFrame, role_order: Sequence[str] = ROLE_ORDER) -> pd.DataFrame:
    """One row per responding account: contacts' mean score, majority vote, waterfall score,
    decision maker's and other contacts' mean scores, counts by NPS group.

    `responses`: account_id, ltr and role when known (one wave, included rows). Scores are in
    points (+100 promoter, 0 passive, -100 detractor), so an account's mean score is its NPS;
    without roles the role-based columns are missing.
    """
    require_columns(responses, ["account_id", "ltr"], "responses")
    d = responses.loc[responses["account_id"].notna().to_numpy(),  # only the columns used
                      [c for c in ("account_id", "role", "ltr") if c in responses]]
    d["role"] = d["role"] if "role" in d else pd.Series(pd.NA, index=d.index, dtype="string")
    d = d[["account_id", "role", "ltr"]]
    d["score"] = nps_points(d["ltr"])
    d = d[d["score"].notna()]
    # accounts (sorted) and roles as codes, factorised once: the groupings below read numbers
    account, ids = pd.factorize(d["account_id"], sort=True)
    score = pd.Series(d["score"].to_numpy())
    counts = pd.DataFrame({"n_responses": 1, "n_promoters": score > 0, "n_passives": score == 0,
                           "n_detractors": score < 0}).astype(int).groupby(account).sum()
    out = counts.assign(score_mean=score.groupby(account).mean())
    out.index = pd.Index(ids, name="account_id")
    half = out["n_responses"] / 2
    out["score_majority"] = np.where(out["n_promoters"] > half, 100.0,
                                     np.where(out["n_detractors"] > half, -100.0, 0.0))
    by_role = _mean_by_role(score, account, d["role"], ids)
    out["waterfall_role"] = pd.Series(pd.NA, index=out.index, dtype="str")
    out["waterfall_score"] = np.nan
    for role in reversed(list(role_order)):
        if role in by_role:
            s = by_role[role].reindex(out.index)
            has = s.notna()
            out.loc[has, "waterfall_role"] = role
            out.loc[has, "waterfall_score"] = s[has]
    dm = role_order[0]
    out["dm_score"] = by_role[dm].reindex(out.index) if dm in by_role else np.nan
    other = (d["role"] != dm).to_numpy(bool, na_value=False)
    out["others_score"] = score[other].groupby(account[other]).mean().reindex(
        np.arange(len(ids))).to_numpy()
    out["has_dm"] = out["dm_score"].notna()
    return out.reset_index()


def _mean_by_role(score: pd.Series, account: np.ndarray, role: pd.Series, ids: pd.Index
                  ) -> pd.DataFrame:
    """Mean `score` per account (codes into `ids`) and known role: accounts x roles."""
    role_code, roles = pd.factorize(role)
    known = role_code >= 0
    means = score[known].groupby([account[known], role_code[known]]).mean().unstack()
    means.index = ids[means.index.to_numpy()]
    means.columns = roles[means.columns.to_numpy()]
    return means


def account_nps(responses: pd.DataFrame, accounts: pd.DataFrame | None = None, *,
                role_order: Sequence[str] = ROLE_ORDER,
                role_weights: Mapping[str, float] | None = None,
                vote: str = "mean") -> pd.DataFrame:
    """B2B NPS up to five ways side by side, each with SE, 95% CI and n (one wave, included rows):
    ``variant`` is the code of each way (responses, account_vote, waterfall, role_weighted,
    arr_weighted), ``method`` its description for readers.

    - all responses: every contact counts once; SE clustered by account.
    - one vote per account (`vote` mean or majority, see module docstring); accounts are the units.
    - waterfall: decision maker first, else influencer, else user; accounts are the units.
    - role-weighted: responses weighted by `role_weights`; SE clustered by account.
    - ARR-weighted: one vote per account weighted by the account's ARR (needs `accounts`).

    Without contact roles the waterfall and role-weighted rows, without ARR the ARR-weighted
    row, are left out; responding accounts absent from `accounts` (or without ARR) are left out
    of the ARR-weighted row only, its method says how many.
    """
    if vote not in ("mean", "majority"):
        raise ArgumentError(f"vote={vote!r}: expected mean or majority")
    weights = dict(role_weights or ROLE_WEIGHTS)
    d = responses[responses["account_id"].notna()].copy()
    d["score"] = nps_points(d["ltr"])
    d = d[d["score"].notna()]
    acc = account_frame(d, role_order)
    vote_col = "score_mean" if vote == "mean" else "score_majority"
    rows = []
    account_code = pd.factorize(d["account_id"])[0]  # integer clusters: factorised once
    res = estimators.nps(d["ltr"].to_numpy(float), design=Design(len(d), cluster=account_code))
    rows.append({"variant": "responses", "method": "all responses", "unit": "responses",
                 **result_row(res)})
    rows.append({"variant": "account_vote", "method": f"one vote per account ({vote})", "unit": "accounts",
                 **mean_points(acc[vote_col])})
    if "role" in d and d["role"].isin(list(weights)).any():
        rows += _role_rows(d, acc, weights, account_code)
    arr_row = _arr_row(acc, accounts, vote_col, vote)
    if arr_row is not None:
        rows.append(arr_row)
    out = pd.DataFrame(rows)
    out["n_accounts"] = acc.shape[0]
    return out


def _arr_row(acc: pd.DataFrame, accounts: pd.DataFrame | None, vote_col: str, vote: str
             ) -> dict[str, object] | None:
    """The ARR-weighted variant of account NPS over the responding accounts with an ARR in
    `accounts` (those absent from the master, or without ARR, are left out and counted in the
    method); None when no responding account has one. A negative ARR is bad data."""
    if accounts is None or "arr" not in accounts:
        return None
    arr = acc["account_id"].map(accounts.set_index("account_id")["arr"]).astype(float)
    if (arr < 0).any():
        bad = acc["account_id"][arr < 0].iloc[0]
        raise DataError(f"account {bad!r} has a negative ARR", file="accounts", column="arr",
                        expected="ARR >= 0")
    known = arr.notna()
    if not known.any():
        return None
    method = f"ARR-weighted (one vote, {vote}"
    if not known.all():
        method += f"; {int((~known).sum())} of {len(arr)} accounts without ARR left out"
    return {"variant": "arr_weighted", "method": method + ")", "unit": "accounts",
            **mean_points(acc.loc[known, vote_col], weights=arr[known])}


def _role_rows(d: pd.DataFrame, acc: pd.DataFrame, weights: Mapping[str, float],
               account_code: np.ndarray) -> list[dict[str, object]]:
    """The waterfall and role-weighted variants of account NPS (they need contact roles)."""
    rows: list[dict[str, object]] = [{"variant": "waterfall",
                                      "method": "waterfall (DM, else influencer, else user)",
                                      "unit": "accounts", **mean_points(acc["waterfall_score"])}]
    w = d["role"].map(weights).astype(float)
    unknown = sorted(set(d.loc[w.isna(), "role"].fillna("no role")))
    res = estimators.nps(d["ltr"].to_numpy(float),
                         design=Design(len(d), weights=w.fillna(0.0).to_numpy(), cluster=account_code))
    method = "role-weighted (" + "/".join(f"{v:g}" for v in weights.values()) + ")"
    if unknown:  # weight 0: out of the estimate and of n (b2b.role_weights can give them one)
        method += "; without a weight: " + ", ".join(map(str, unknown[:3])) + (
            f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
    rows.append({"variant": "role_weighted", "method": method, "unit": "responses",
                 **result_row(res)})
    return rows

def dm_coverage(responses: pd.DataFrame, invitations: pd.DataFrame | None = None,
                dm_role: str = "decision_maker") -> pd.DataFrame:
    """Share of accounts with a decision-maker response, over invited and over responding accounts."""
    d = responses[responses["account_id"].notna()]
    responding = pd.Index(d["account_id"].unique())  # distinct ids, compared without a Python set
    with_dm = pd.Index(d.loc[d["role"] == dm_role, "account_id"].unique())
    rows = [{"base": "responding accounts", "accounts": len(responding),
             "with_dm": len(with_dm.intersection(responding))}]
    if invitations is not None:
        inv = invitations[invitations["account_id"].notna()]
        invited = pd.Index(inv["account_id"].unique())
        rows.insert(0, {"base": "invited accounts", "accounts": len(invited),
                        "with_dm": len(with_dm.intersection(invited))})
    out = pd.DataFrame(rows)
    out["share"] = out["with_dm"] / out["accounts"].where(out["accounts"] > 0)
    return out


def response_rates(invitations: pd.DataFrame, by: str, accounts: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """Response rate (%) of B2B invitations by `by` (account_id, role, tier, ...) with 95% CI.

    Contacts of one account are not independent, so the SE is clustered by account (except
    when `by` is the account itself); every group is a domain of the design of all invitations
    (R ``svyby``), t interval with the group's df. Columns from `accounts` (e.g. tier) are
    joined on account_id.
    """
    require_columns(invitations, ["account_id", "responded"], "invitations")
    inv = invitations[invitations["account_id"].notna()].copy()
    if by not in inv.columns:
        if accounts is None or by not in accounts.columns:
            raise DataError(f"no column {by!r}", file="invitations", expected="a column of "
                            "invitations or accounts")
        inv[by] = inv["account_id"].map(accounts.set_index("account_id")[by])
        if len(inv) and inv[by].isna().all():
            raise ThinData(f"none of the {inv['account_id'].nunique()} invited accounts has a {by} "
                           "in the account master", file="accounts", column=by,
                           expected="the invited accounts' ids in the account master")
    inv["responded"] = 100 * inv["responded"].astype(bool).astype(float)
    design = Design.from_frame(inv, cluster=None if by == "account_id" else "account_id")
    out = estimators.survey_by(inv, "responded", by, design=design).rename(
        columns={"estimate": "rate"})
    out["ci_low"], out["ci_high"] = out["ci_low"].clip(0, 100), out["ci_high"].clip(0, 100)
    out["invited"] = out["n"]
    out["responded"] = (out["rate"] * out["n"] / 100).round().astype(int)
    return out[[by, "invited", "responded", "rate", "se", "ci_low", "ci_high", "df", "n"]]


def response_rate_table(invitations: pd.DataFrame, accounts: pd.DataFrame | None = None,
                        dims: Sequence[str] = ("role",)) -> pd.DataFrame:
    """:func:`response_rates` for several dimensions stacked (dimension, group, label, rate...)."""
    parts = [response_rates(invitations, d, accounts).rename(columns={d: "group"}).assign(dimension=d)
             for d in dims]
    out = pd.concat(parts, ignore_index=True)
    out["group"] = out["group"].astype(str)
    out["label"] = out["dimension"] + ": " + out["group"]
    return out[["dimension", "group", "label", *[c for c in out if c not in
                                                 ("dimension", "group", "label")]]]

def revenue_coverage(responses: pd.DataFrame, accounts: pd.DataFrame, by: str | None = None
                     ) -> pd.DataFrame:
    """Share of ARR (and of accounts) whose account has at least one response, overall or by `by`."""
    require_columns(accounts, ["account_id", "arr"], "accounts")
    acc = accounts.copy()
    acc["responded"] = pd.Index(responses["account_id"].dropna().unique()).get_indexer(acc["account_id"]) >= 0
    acc["arr_responded"] = acc["arr"].where(acc["responded"], 0.0)
    keys = [by] if by else []
    g = acc.groupby(keys, sort=True) if keys else acc.assign(_all="all").groupby("_all")
    out = g.agg(accounts=("account_id", "size"), accounts_responding=("responded", "sum"),
                arr_total=("arr", "sum"), arr_responding=("arr_responded", "sum")).reset_index()
    out = out.drop(columns="_all", errors="ignore")
    out["pct_arr"] = 100 * out["arr_responding"] / out["arr_total"]
    out["pct_accounts"] = 100 * out["accounts_responding"] / out["accounts"]
    return out


#: Account archetypes: code -> (label, meaning), in the order the rules are tried.
ARCHETYPES: dict[str, tuple[str, str]] = {
    "silent": ("silent: invited, no response", "invited this wave, nobody answered"),
    "all_promoters": ("all promoters", "every contact who answered is a promoter"),
    "all_detractors": ("all detractors", "every contact who answered is a detractor"),
    "dm_detractor": ("DM detractor, others promoters",
                     "decision maker(s) negative, other contacts positive"),
    "dm_promoter": ("DM promoter, others detractors",
                    "decision maker(s) positive, other contacts negative"),
    "split": ("split", "promoters and detractors in the same account"),
    "lukewarm": ("lukewarm", "no split: passives with promoters or detractors"),
}
#: Archetypes whose accounts are listed as at risk (most revenue first).
AT_RISK = ("dm_detractor", "all_detractors", "silent")


def account_archetypes(responses: pd.DataFrame, invitations: pd.DataFrame | None = None,
                       accounts: pd.DataFrame | None = None,
                       role_order: Sequence[str] = ROLE_ORDER,
                       join: Sequence[str] = ("arr",)) -> pd.DataFrame:
    """One row per account with its archetype code and label (first matching rule of
    :data:`ARCHETYPES`).

    DM/others use mean scores: DM detractor = DM mean score < 0 while the other contacts' mean > 0.
    Accounts invited but silent come from `invitations`; the `join` columns (those present,
    e.g. ARR and a segment field) are joined from `accounts`.
    """
    acc = account_frame(responses, role_order)
    if invitations is not None:
        invited = invitations.loc[invitations["account_id"].notna(), "account_id"].unique()
        silent = pd.DataFrame({"account_id": sorted(pd.Index(invited).difference(acc["account_id"].unique(),
                                                                           sort=False).tolist())})
        acc = pd.concat([acc, silent.assign(n_responses=0)], ignore_index=True)
    n = acc["n_responses"].fillna(0)
    pro, det = acc["n_promoters"].fillna(0), acc["n_detractors"].fillna(0)
    rules = {
        "silent": n == 0,
        "all_promoters": (n > 0) & (pro == n),
        "all_detractors": (n > 0) & (det == n),
        "dm_detractor": (acc["dm_score"] < 0) & (acc["others_score"] > 0),
        "dm_promoter": (acc["dm_score"] > 0) & (acc["others_score"] < 0),
        "split": (pro > 0) & (det > 0),
    }
    acc["archetype"] = np.select(list(rules.values()), list(rules), default="lukewarm")
    acc["archetype_label"] = acc["archetype"].map({k: v[0] for k, v in ARCHETYPES.items()})
    acc["n_responses"] = n.astype(int)
    if accounts is not None:
        cols = [c for c in join if c in accounts.columns and c != "account_id"]
        acc = acc.merge(accounts[["account_id", *cols]], on="account_id", how="left")
    return acc

def archetype_counts(archetypes: pd.DataFrame) -> pd.DataFrame:
    """Count (and ARR, when present) of accounts per archetype, in the order of :data:`ARCHETYPES`."""
    agg = {"accounts": ("account_id", "size")}
    if "arr" in archetypes:
        agg["arr"] = ("arr", "sum")
    out = archetypes.groupby("archetype").agg(**agg).reindex(list(ARCHETYPES)).fillna(0)
    out["accounts"] = out["accounts"].astype(int)
    out["pct_accounts"] = 100 * out["accounts"] / max(int(out["accounts"].sum()), 1)
    out["archetype_label"] = [ARCHETYPES[k][0] for k in out.index]
    out["meaning"] = [ARCHETYPES[k][1] for k in out.index]
    return out.reset_index(names="archetype")


def at_risk(archetypes: pd.DataFrame) -> pd.DataFrame:
    """Accounts of the :data:`AT_RISK` archetypes, most revenue (else most responses) first."""
    risky = archetypes[archetypes["archetype"].isin(AT_RISK)]
    return risky.sort_values("arr" if "arr" in risky else "n_responses", ascending=False)
