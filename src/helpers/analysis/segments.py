"""Honest NPS by segment: B2B account engine, B2C weights, sub-segments, personas, trends, small n.

Every figure comes with its uncertainty from :mod:`helpers.stats` (account-clustered for B2B,
design-weighted with Kish deff and effective n for B2C); weights come from
:mod:`helpers.stats.weighting`. Functions are pure and take tidy frames (one row per response) plus
plain values from :func:`helpers.config.load_segments`, never config paths.

Definitions used throughout (stated in tables and methods notes):

- response score (metrics.nps_score): +100 promoter (LTR 9-10), 0 passive (7-8), -100 detractor
  (0-6); NPS is its mean.
- one vote per account, ``vote="mean"``: the account's score is the mean of its contacts' scores
  (the account's own NPS); ``vote="majority"``: promoter (+100) if more than half its contacts
  are promoters, detractor (-100) if more than half are detractors, otherwise passive (0).
- waterfall: the account's score is the mean score of the contacts in the first role of
  ``role_order`` (decision maker, else influencer, else user) that answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from helpers.analysis.selection import Study, b2c_weighting, subsample
from helpers.errors import DataError, ThinData, require_columns
from helpers.stats import compare, estimators, weighting
from helpers.stats.design import Design, as_weights

ROLE_ORDER: tuple[str, ...] = ("decision_maker", "influencer", "user")
ROLE_WEIGHTS: dict[str, float] = {"decision_maker": 3.0, "influencer": 2.0, "user": 1.0}


# --------------------------------------------------------------------------- basics

def _score(ltr: pd.Series) -> pd.Series:
    """+100 / 0 / -100 per response (estimators.nps_score) as a Series aligned with `ltr`."""
    return pd.Series(estimators.nps_score(ltr, name=str(ltr.name)), index=ltr.index)


def _row(res: estimators.NPSResult | estimators.MeanResult) -> dict[str, float]:
    """estimate, se, ci_low, ci_high, df, n, deff, n_eff of a metrics result (deff NaN if none)."""
    deff = getattr(res, "deff", None)
    n_eff = getattr(res, "n_eff", None)
    return {"estimate": float(res.estimate), "se": float(res.se), "ci_low": float(res.ci[0]),
            "ci_high": float(res.ci[1]), "df": float(res.df), "n": int(res.n),
            "deff": np.nan if deff is None else float(deff),
            "n_eff": np.nan if n_eff is None else float(n_eff)}


def _mean_points(values: pd.Series, weights: pd.Series | None = None,
                 cluster: pd.Series | None = None, lo: float = -100.0, hi: float = 100.0
                 ) -> dict[str, float]:
    """Design-based mean (estimators.survey_mean) of a score already in points, CI clipped to
    range; missing values are outside the domain, their units stay in the design."""
    res = estimators.survey_mean(values.astype(float).to_numpy(), Design(
        len(values), weights=None if weights is None else weights.to_numpy(float),
        cluster=None if cluster is None else cluster.to_numpy()))
    out = _row(res)
    out["ci_low"], out["ci_high"] = max(lo, out["ci_low"]), min(hi, out["ci_high"])
    return out






# --------------------------------------------------------------------------- small-n governance
def govern(table: pd.DataFrame, min_n: int = 10, max_halfwidth: float = 30.0, *,
           n: str = "n", low: str = "ci_low", high: str = "ci_high") -> pd.DataFrame:
    """Add `suppressed` (bool) and `reason` (str, "" when shown): n below `min_n`, or a 95% CI
    half-width above `max_halfwidth` points, or no CI at all. Charts grey such rows out.
    """
    require_columns(table, [n, low, high], "table")
    out = table.copy()
    nn = out[n].astype(float).to_numpy()
    half = (out[high].astype(float) - out[low].astype(float)).to_numpy() / 2
    reason = np.where(
        nn < min_n, [f"n={int(v) if v == v else 0} < {min_n}" for v in nn],
        np.where(np.isnan(half), "no CI",
                 np.where(half > max_halfwidth,
                          [f"CI +/-{h:.1f} > +/-{max_halfwidth:g} pts" for h in np.nan_to_num(half)],
                          "")))
    out["reason"] = pd.Series(reason, index=out.index, dtype="str")
    out["suppressed"] = out["reason"] != ""
    return out


# --------------------------------------------------------------------------- B2B accounts
def account_frame(responses: pd.DataFrame, role_order: Sequence[str] = ROLE_ORDER) -> pd.DataFrame:
    """One row per responding account: contacts' mean score, majority vote, waterfall score,
    decision maker's and other contacts' mean scores, counts by NPS group.

    `responses`: account_id, ltr and role when known (one wave, included rows). Scores are in
    points (+100 promoter, 0 passive, -100 detractor), so an account's mean score is its NPS;
    without roles the role-based columns are missing.
    """
    require_columns(responses, ["account_id", "ltr"], "responses")
    d = responses.loc[responses["account_id"].notna()].copy()
    d["role"] = d["role"] if "role" in d else pd.Series(pd.NA, index=d.index, dtype="string")
    d = d[["account_id", "role", "ltr"]]
    d["score"] = _score(d["ltr"])
    d = d[d["score"].notna()]
    counts = pd.DataFrame({"n_responses": 1, "n_promoters": d["score"] > 0,
                           "n_passives": d["score"] == 0, "n_detractors": d["score"] < 0},
                          index=d.index).astype(int).groupby(d["account_id"], sort=True).sum()
    out = counts.assign(score_mean=d.groupby("account_id", sort=True)["score"].mean())
    half = out["n_responses"] / 2
    out["score_majority"] = np.where(out["n_promoters"] > half, 100.0,
                                     np.where(out["n_detractors"] > half, -100.0, 0.0))
    by_role = d.groupby(["account_id", "role"])["score"].mean().unstack("role")
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
    others = d[d["role"] != dm].groupby("account_id")["score"].mean()
    out["others_score"] = others.reindex(out.index)
    out["has_dm"] = out["dm_score"].notna()
    return out.reset_index()

def account_nps(responses: pd.DataFrame, accounts: pd.DataFrame | None = None, *,
                role_order: Sequence[str] = ROLE_ORDER,
                role_weights: Mapping[str, float] | None = None,
                vote: str = "mean") -> pd.DataFrame:
    """B2B NPS up to five ways side by side, each with SE, 95% CI and n (one wave, included rows).

    - all responses: every contact counts once; SE clustered by account.
    - one vote per account (`vote` mean or majority, see module docstring); accounts are the units.
    - waterfall: decision maker first, else influencer, else user; accounts are the units.
    - role-weighted: responses weighted by `role_weights`; SE clustered by account.
    - ARR-weighted: one vote per account weighted by the account's ARR (needs `accounts`).

    Without contact roles the waterfall and role-weighted rows, without ARR the ARR-weighted
    row, are left out.
    """
    if vote not in ("mean", "majority"):
        raise DataError(f"vote={vote!r}", expected="mean or majority")
    weights = dict(role_weights or ROLE_WEIGHTS)
    d = responses[responses["account_id"].notna()].copy()
    d["score"] = _score(d["ltr"])
    d = d[d["score"].notna()]
    acc = account_frame(d, role_order)
    vote_col = "score_mean" if vote == "mean" else "score_majority"
    rows = []
    account_code = pd.factorize(d["account_id"])[0]  # integer clusters: factorised once
    res = estimators.nps(d["ltr"].to_numpy(float), Design(len(d), cluster=account_code))
    rows.append({"method": "all responses", "unit": "responses", **_row(res)})
    rows.append({"method": f"one vote per account ({vote})", "unit": "accounts",
                 **_mean_points(acc[vote_col])})
    if "role" in d and d["role"].isin(list(weights)).any():
        rows += _role_rows(d, acc, weights, account_code)
    if accounts is not None and "arr" in accounts and accounts["arr"].notna().any():
        arr = acc["account_id"].map(accounts.set_index("account_id")["arr"]).astype(float)
        if arr.isna().any() or (arr < 0).any():
            bad = acc["account_id"][arr.isna() | (arr < 0)].iloc[0]
            raise DataError(f"account {bad!r} has no valid ARR", file="accounts", column="arr",
                            expected="ARR >= 0 for every responding account")
        rows.append({"method": f"ARR-weighted (one vote, {vote})", "unit": "accounts",
                     **_mean_points(acc[vote_col], weights=arr)})
    out = pd.DataFrame(rows)
    out["n_accounts"] = acc.shape[0]
    return out


def _role_rows(d: pd.DataFrame, acc: pd.DataFrame, weights: Mapping[str, float],
               account_code: np.ndarray) -> list[dict[str, object]]:
    """The waterfall and role-weighted variants of account NPS (they need contact roles)."""
    rows: list[dict[str, object]] = [{"method": "waterfall (DM, else influencer, else user)",
                                      "unit": "accounts", **_mean_points(acc["waterfall_score"])}]
    w = d["role"].map(weights).astype(float)
    unknown = sorted(set(d.loc[w.isna(), "role"].fillna("no role")))
    res = estimators.nps(d["ltr"].to_numpy(float), Design(
        len(d), weights=w.fillna(0.0).to_numpy(), cluster=account_code))
    method = "role-weighted (" + "/".join(f"{v:g}" for v in weights.values()) + ")"
    if unknown:  # weight 0: out of the estimate and of n (b2b.role_weights can give them one)
        method += "; without a weight: " + ", ".join(map(str, unknown[:3])) + (
            f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
    rows.append({"method": method, "unit": "responses", **_row(res)})
    return rows

def dm_coverage(responses: pd.DataFrame, invitations: pd.DataFrame | None = None,
                dm_role: str = "decision_maker") -> pd.DataFrame:
    """Share of accounts with a decision-maker response, over invited and over responding accounts."""
    d = responses[responses["account_id"].notna()]
    responding = set(d["account_id"])
    with_dm = set(d.loc[d["role"] == dm_role, "account_id"])
    rows = [{"base": "responding accounts", "accounts": len(responding),
             "with_dm": len(with_dm & responding)}]
    if invitations is not None:
        inv = invitations[invitations["account_id"].notna()]
        invited = set(inv["account_id"])
        rows.insert(0, {"base": "invited accounts", "accounts": len(invited),
                        "with_dm": len(with_dm & invited)})
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
    acc["responded"] = acc["account_id"].isin(set(responses["account_id"].dropna()))
    acc["arr_responded"] = acc["arr"].where(acc["responded"], 0.0)
    keys = [by] if by else []
    g = acc.groupby(keys, sort=True) if keys else acc.assign(_all="all").groupby("_all")
    out = g.agg(accounts=("account_id", "size"), accounts_responding=("responded", "sum"),
                arr_total=("arr", "sum"), arr_responding=("arr_responded", "sum")).reset_index()
    out = out.drop(columns="_all", errors="ignore")
    out["pct_arr"] = 100 * out["arr_responding"] / out["arr_total"]
    out["pct_accounts"] = 100 * out["accounts_responding"] / out["accounts"]
    return out


ARCHETYPES: dict[str, str] = {
    "silent: invited, no response": "invited this wave, nobody answered",
    "all promoters": "every contact who answered is a promoter",
    "all detractors": "every contact who answered is a detractor",
    "DM detractor, others promoters": "decision maker(s) negative, other contacts positive",
    "DM promoter, others detractors": "decision maker(s) positive, other contacts negative",
    "split": "promoters and detractors in the same account",
    "lukewarm": "no split: passives with promoters or detractors",
}


def account_archetypes(responses: pd.DataFrame, invitations: pd.DataFrame | None = None,
                       accounts: pd.DataFrame | None = None,
                       role_order: Sequence[str] = ROLE_ORDER,
                       join: Sequence[str] = ("arr",)) -> pd.DataFrame:
    """One row per account with its archetype (first matching rule of :data:`ARCHETYPES`).

    DM/others use mean scores: DM detractor = DM mean score < 0 while the other contacts' mean > 0.
    Accounts invited but silent come from `invitations`; the `join` columns (those present,
    e.g. ARR and a segment field) are joined from `accounts`.
    """
    acc = account_frame(responses, role_order)
    if invitations is not None:
        invited = invitations.loc[invitations["account_id"].notna(), "account_id"].unique()
        silent = pd.DataFrame({"account_id": sorted(set(invited) - set(acc["account_id"]))})
        acc = pd.concat([acc, silent.assign(n_responses=0)], ignore_index=True)
    n = acc["n_responses"].fillna(0)
    pro, det = acc["n_promoters"].fillna(0), acc["n_detractors"].fillna(0)
    conds = [
        n == 0,
        (n > 0) & (pro == n),
        (n > 0) & (det == n),
        (acc["dm_score"] < 0) & (acc["others_score"] > 0),
        (acc["dm_score"] > 0) & (acc["others_score"] < 0),
        (pro > 0) & (det > 0),
    ]
    acc["archetype"] = np.select(conds, list(ARCHETYPES)[:-1], default="lukewarm")
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
    out["meaning"] = pd.Series(ARCHETYPES)
    return out.reset_index(names="archetype")


# --------------------------------------------------------------------------- personas
@dataclass(frozen=True)
class Personas:
    """Experience personas: KMeans on standardised ratings, k chosen by `criterion`.

    `selection`: one row per k with the criterion value; `stability`: adjusted Rand index between
    each pair of seeds at the chosen k; `labels`: persona per row of the input (NaN when a rating
    is missing); `profile`: persona x item z-scores (persona mean minus overall mean, in overall
    SDs); `table`: per persona n, share, distinctive items, NPS with SE/CI.
    """

    k: int
    criterion: str
    selection: pd.DataFrame
    stability: pd.DataFrame
    labels: pd.Series
    profile: pd.DataFrame
    table: pd.DataFrame
    sample_note: str = ""

    @property
    def ari_mean(self) -> float:
        """Mean adjusted Rand index between seeds (1 = identical partitions)."""
        return float(self.stability["ari"].mean()) if len(self.stability) else float("nan")

    @property
    def structure(self) -> str:
        """Kaufman & Rousseeuw (1990) reading of the chosen k's mean silhouette (silhouette
        criterion only): > 0.70 strong, > 0.50 reasonable, > 0.25 weak, else no substantial
        structure (personas are then slices of a continuum, not distinct groups)."""
        if "silhouette" not in self.selection:
            return "n/a (BIC criterion)"
        s = float(self.selection.loc[self.selection["chosen"], "silhouette"].iloc[0])
        label = ("strong" if s > 0.70 else "reasonable" if s > 0.50 else "weak" if s > 0.25
                 else "no substantial structure")
        return f"silhouette {s:.2f}: {label}"

    @property
    def ari_min(self) -> float:
        """Worst pairwise adjusted Rand index between seeds."""
        return float(self.stability["ari"].min()) if len(self.stability) else float("nan")


def find_personas(df: pd.DataFrame, items: Sequence[str], *, k_min: int = 2, k_max: int = 6,
                  criterion: str = "silhouette", seeds: Sequence[int] = (0, 1, 2, 3, 4),
                  cluster: str | None = None, top_items: int = 3,
                  silhouette_sample: int = 4000, sample: int | None = None) -> Personas:
    """Cluster respondents on their standardised experience ratings (complete cases).

    k in k_min..k_max maximises the mean silhouette (``criterion="silhouette"``, KMeans) or
    minimises the BIC of a Gaussian mixture (``"bic"``; labels then still come from KMeans so
    that seeds are comparable). Persona numbers are ordered by NPS (persona 1 = lowest).
    `cluster` names a column (e.g. account_id) for clustered SEs of persona NPS.

    `sample`: with more complete rows than this, k, the seeds' stability and the persona
    centres come from a stratified subsample of that size (selection.subsample: by wave, whole
    clusters); every complete row is then assigned to its nearest centre, so shares, profiles
    and persona NPS describe all respondents. ``sample_note`` says which was done.
    """
    import sklearn.cluster  # noqa: F401  load the OpenMP runtime first: limits only reach loaded libraries
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small problems: BLAS/OpenMP threads only oversubscribe the CPU
        return _find_personas(df, list(items), k_min, k_max, criterion, list(seeds), cluster,
                              top_items, silhouette_sample, sample)


def _find_personas(df: pd.DataFrame, items: list[str], k_min: int, k_max: int, criterion: str,
                   seeds: list[int], cluster: str | None, top_items: int,
                   silhouette_sample: int, sample: int | None) -> Personas:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    require_columns(df, [*items, "ltr"], "responses")
    if criterion not in ("silhouette", "bic"):
        raise DataError(f"criterion={criterion!r}", expected="silhouette or bic")
    df = df[[*dict.fromkeys([*items, "ltr", *[c for c in ("wave", cluster) if c and c in df]])]]
    data = df[list(items)].apply(pd.to_numeric, errors="coerce").astype(float)
    ok = data.notna().all(axis=1)
    x = data[ok].to_numpy()
    if len(x) < 5 * k_max:
        raise ThinData(f"{len(x)} complete rows for {len(items)} items", column=", ".join(items),
                        expected=f"at least {5 * k_max} rows to cluster k up to {k_max}")
    mu, sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    fit = subsample(df[ok], sample or len(z), strata=("wave",), cluster=cluster,
                    seed=int(seeds[0]) if len(seeds) else 0)
    zf = z[fit.positions] if fit.sampled else z
    selection = _choose_k(zf, k_min, k_max, criterion, int(seeds[0]) if len(seeds) else 0,
                          silhouette_sample)
    k = int(selection.loc[selection["chosen"], "k"].iloc[0])
    runs = {int(s): KMeans(k, n_init=4, random_state=int(s)).fit(zf) for s in seeds}
    stability = pd.DataFrame(
        [{"seed_a": a, "seed_b": b, "ari": adjusted_rand_score(runs[a].labels_, runs[b].labels_)}
         for a, b in combinations(runs, 2)])
    first = runs[int(seeds[0])]
    raw = first.predict(z) if fit.sampled else first.labels_
    score = _score(df.loc[ok, "ltr"]).to_numpy()
    order = pd.Series(score).groupby(raw).mean().sort_values(kind="stable").index
    relabel = {old: new + 1 for new, old in enumerate(order)}
    lab = np.array([relabel[v] for v in raw])
    labels = pd.Series(np.nan, index=df.index, name="persona")
    labels[ok] = lab
    profile = pd.DataFrame(z, columns=list(items)).groupby(lab).mean()
    profile.index.name = "persona"
    table = _persona_nps(df, labels, profile, cluster, top_items)
    note = ("k-means fitted on " + fit.note("complete responses")
            + ("; every complete response assigned to its nearest persona" if fit.sampled else ""))
    return Personas(k=k, criterion=criterion, selection=selection, stability=stability,
                    labels=labels, profile=profile, table=table, sample_note=note)


def _choose_k(z: np.ndarray, k_min: int, k_max: int, criterion: str, seed: int,
              silhouette_sample: int) -> pd.DataFrame:
    """k and its criterion for each candidate k (mean silhouette of KMeans, or GMM BIC), with
    ``chosen`` marking the best (highest silhouette, lowest BIC)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.mixture import GaussianMixture

    rows = []
    for k in range(k_min, k_max + 1):
        if criterion == "silhouette":
            lab = KMeans(k, n_init=4, random_state=seed).fit_predict(z)
            val = silhouette_score(z, lab, sample_size=min(silhouette_sample, len(z)),
                                   random_state=seed)
        else:
            val = GaussianMixture(k, random_state=seed, n_init=2).fit(z).bic(z)
        rows.append({"k": k, criterion: float(val)})
    selection = pd.DataFrame(rows)
    best = selection[criterion].idxmax() if criterion == "silhouette" else selection[criterion].idxmin()
    selection["chosen"] = selection.index == best
    return selection


def _persona_nps(df: pd.DataFrame, labels: pd.Series, profile: pd.DataFrame, cluster: str | None,
                 top_items: int) -> pd.DataFrame:
    """One row per persona: share of respondents, most distinctive items (z), NPS with CI (each
    persona a domain of the design of all respondents)."""
    design = Design.from_frame(df, cluster=cluster) if cluster else None
    recs = []
    for p in profile.index:
        res = estimators.nps(df["ltr"], design=design, domain=(labels == p).to_numpy())
        zs = profile.loc[p].sort_values(key=np.abs, ascending=False).head(top_items)
        recs.append({"persona": int(p), "share": float((labels == p).sum() / labels.notna().sum()),
                     "distinctive": ", ".join(f"{i} {v:+.1f}" for i, v in zs.items()),
                     **_row(res)})
    return pd.DataFrame(recs).rename(columns={"estimate": "nps"})


# --------------------------------------------------------------------------- B2C weights


def weighting_effect(df: pd.DataFrame, weight: pd.Series, score: str = "ltr",
                     margins: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Unweighted vs weighted NPS side by side, with Kish deff and effective n of the weights.

    `deff`/`n_eff` are the design effect of the estimate (estimators.nps; with the raking
    `margins` the weighted variance is calibration-aware, as R's ``rake``); `kish_deff` /
    `kish_n_eff` those of unequal weighting alone (weighting.kish_deff / effective_n).
    """
    keep = df[score].notna().to_numpy()
    w = weight.to_numpy(float)
    cal = [df[m].to_numpy() for m in margins] if margins else None
    design = Design(len(df), weights=w, calibrate=cal)
    rows = [{"estimate_type": "unweighted", **_row(estimators.nps(df[score])), "kish_deff": 1.0,
             "kish_n_eff": float(keep.sum())},
            {"estimate_type": "weighted (raked)", **_row(estimators.nps(df[score], design=design)),
             "kish_deff": weighting.kish_deff(w[keep]), "kish_n_eff": weighting.effective_n(w[keep])}]
    return pd.DataFrame(rows).rename(columns={"estimate": "nps"})


# --------------------------------------------------------------------------- tables
def _kish_by(df: pd.DataFrame, by: list[str], weight: str) -> pd.DataFrame:
    w = df[weight].astype(float)
    g = pd.DataFrame({"w": w, "w2": w**2, "one": 1.0}).groupby(
        [df[c] for c in by], sort=True, observed=True).sum()
    g["kish_deff"] = g["one"] * g["w2"] / g["w"] ** 2
    g["kish_n_eff"] = g["w"] ** 2 / g["w2"]
    return g[["kish_deff", "kish_n_eff"]].reset_index()


Calibrate = Sequence[str | Sequence[str]] | None


def design_for(df: pd.DataFrame, *, weight: str | None = None, cluster: str | None = None,
               calibrate: Calibrate = None, strata: str | None = None) -> Design:
    """The survey design of a market's responses: B2B clustered by account, B2C weighted with
    its raking margins (``calibrate``, e.g. ``[["wave", "region"], ...]`` when raked within each
    wave) and, across waves, ``strata="wave"`` (each wave is its own sample)."""
    return Design.from_frame(df, weights=weight, cluster=cluster, strata=strata,
                             calibrate=calibrate)


def b2c_calibration(margins: Mapping[str, object] | None) -> list[list[str]] | None:
    """Calibration margins of :func:`b2c_weights` (raked within each wave) for a Design."""
    return None if not margins else [["wave", m] for m in margins]


def nps_by(df: pd.DataFrame, by: str | Sequence[str], *, weight: str | None = None,
           cluster: str | None = None, min_n: int = 10, max_halfwidth: float = 30.0,
           calibrate: Calibrate = None, strata: str | None = None,
           design: Design | None = None) -> pd.DataFrame:
    """estimators.nps_table for `by` (every group a domain of the design of all of `df`), plus
    Kish deff / effective n when weighted, then :func:`govern`."""
    by_cols = [by] if isinstance(by, str) else list(by)
    if design is None:
        design = design_for(df, weight=weight, cluster=cluster, calibrate=calibrate,
                            strata=strata)
    t = estimators.nps_table(df, by_cols, design=design)
    if weight is not None:
        t = t.merge(_kish_by(df[df["ltr"].notna()], by_cols, weight), on=by_cols, how="left")
    return govern(t, min_n=min_n, max_halfwidth=max_halfwidth)


def segment_tables(df: pd.DataFrame, dimensions: Sequence[str], *, weight: str | None = None,
                   cluster: str | None = None, min_n: int = 10, max_halfwidth: float = 30.0,
                   calibrate: Calibrate = None, strata: str | None = None) -> pd.DataFrame:
    """Sub-segment NPS for each of `dimensions` stacked into one long table.

    Columns: dimension, segment, n, pct_promoter/passive/detractor, nps, se, ci_low, ci_high,
    df, deff, n_eff, n_psu, note (+ kish_* when weighted, n_clusters when clustered),
    suppressed, reason. Use ``cluster="account_id"`` for B2B and ``weight=`` raked weights with
    their ``calibrate`` margins for B2C; the design of all of `df` is built once and every
    segment is a domain of it.
    """
    design = design_for(df, weight=weight, cluster=cluster, calibrate=calibrate, strata=strata)
    parts = []
    for dim in dimensions:
        require_columns(df, [dim], "responses")
        t = nps_by(df, dim, weight=weight, min_n=min_n, max_halfwidth=max_halfwidth,
                   design=design)
        parts.append(t.rename(columns={dim: "segment"}).assign(
            dimension=dim, segment=lambda x: x["segment"].astype(str)))
    out = pd.concat(parts, ignore_index=True)
    return out[["dimension", "segment", *[c for c in out.columns if c not in ("dimension", "segment")]]]


def headline(df: pd.DataFrame, measures: Mapping[str, tuple[float, float]] | None = None, *,
             weight: str | None = None, cluster: str | None = None,
             calibrate: Calibrate = None) -> pd.DataFrame:
    """NPS, and CES (mean and % agree) and CSAT (% top-2 box) when asked, with SE, CI (t with the
    design df), df, n, deff.

    `measures` maps "ces" / "csat" to their answer scales (the survey schema's); a measure with
    no answer in `df` is left out. Pass ``cluster="account_id"`` for B2B (account-clustered
    SEs) and ``weight=`` with its raking margins ``calibrate`` for B2C (calibration-aware
    variance, as R's ``rake``).
    """
    design = design_for(df, weight=weight, cluster=cluster, calibrate=calibrate)
    rows = [("nps", "NPS (points, -100..100)", estimators.nps(df["ltr"], design=design))]
    measures = measures or {}
    if "ces" in measures and df["ces"].notna().any():
        lo, hi = measures["ces"]
        ces = estimators.ces(df["ces"], design=design, scale=(lo, hi))
        cut = estimators.agree_cut((lo, hi))
        rows += [("ces_mean", f"CES mean ({lo:g}-{hi:g})", ces.mean),
                 ("ces_agree", f"CES % agree ({cut:g}-{hi:g})", ces.pct_agree)]
    if "csat" in measures and df["csat"].notna().any():
        lo, hi = measures["csat"]
        csat = estimators.csat(df["csat"], design=design, scale=(lo, hi))
        rows.append(("csat_top2", f"CSAT % top-2 box ({estimators.top2_cut((lo, hi)):g}-{hi:g})",
                     csat.pct_top2))
    return pd.DataFrame([{"metric": k, "label": lab, **_row(r)} for k, lab, r in rows])


# --------------------------------------------------------------------------- trends
def trend(df: pd.DataFrame, by: str | None = None, *, weight: str | None = None,
          cluster: str | None = None, min_n: int = 10, max_halfwidth: float = 30.0,
          calibrate: Calibrate = None, strata: str | None = None) -> pd.DataFrame:
    """NPS per wave (and per `by` segment) with 95% CI, governed; waves sort chronologically.
    Each wave is a domain of the design of all waves (accounts answering in several waves are
    one PSU; for B2C pass ``strata="wave"``)."""
    return nps_by(df, ["wave", *([by] if by else [])], weight=weight, cluster=cluster,
                  min_n=min_n, max_halfwidth=max_halfwidth, calibrate=calibrate, strata=strata)


def wave_changes(df: pd.DataFrame, by: str | Sequence[str] | None = None, *,
                 weight: str | None = None, cluster: str | None = None,
                 paired_unit: str | None = None, q: float = 0.05, calibrate: Calibrate = None,
                 strata: str | None = None) -> pd.DataFrame:
    """Wave-over-wave NPS change overall and per segment of each `by` dimension, tested, then
    Benjamini-Hochberg across all rows (one family: every segment and wave pair at once).

    With `paired_unit` (B2B: account_id) the change is estimated on the units that answered in
    both waves (compare.compare_paired, t with units-1 df); otherwise each segment x wave is a
    domain of the design of all of `df` (`weight`, `cluster`, `calibrate`, `strata`) and the
    change is their contrast with the covariance of the joint design (compare.contrast, R
    ``svycontrast``; t with the df of the two domains). A change is `significant` only when its
    BH-adjusted p-value is <= `q` (compare.bh_adjust). Pairs that cannot be tested (fewer than
    2 units in both waves, or an empty wave) get NaN p and a `note`.
    """
    waves = sorted(df["wave"].dropna().astype(str).unique())
    dims = [] if by is None else [by] if isinstance(by, str) else list(by)
    if paired_unit:
        rows = _paired_changes(df, dims, waves, paired_unit, weight)
    else:
        design = design_for(df, weight=weight, cluster=cluster, calibrate=calibrate,
                            strata=strata)
        d = df.assign(_all="all", wave=df["wave"].astype(str))
        rows = [r for dim in ["_all", *dims]
                for r in _joint_changes(d, dim, waves, design)]
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    # a change of NPS lies in [-200, 200]: a t interval on a few units can pass those bounds
    out["ci_low"], out["ci_high"] = out["ci_low"].clip(lower=-200), out["ci_high"].clip(upper=200)
    return compare.with_fdr(out, q)


def _untested(base: dict, n_from: int, n_to: int, note: str) -> dict:
    return {**base, "change": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
            "p_value": np.nan, "n_from": n_from, "n_to": n_to, "n_units": None, "test": "",
            "note": note}


def _tested(base: dict, r: compare.DiffResult, test: str) -> dict:
    return {**base, "change": r.estimate, "se": r.se, "ci_low": r.ci[0], "ci_high": r.ci[1],
            "p_value": r.p, "n_from": r.n_a, "n_to": r.n_b, "n_units": r.n_units, "test": test,
            "note": ""}


def _paired_changes(df: pd.DataFrame, dims: list[str], waves: list[str], unit: str,
                    weight: str | None) -> list[dict]:
    """compare.compare_paired of every segment and consecutive waves, from per-unit sums
    (compare.paired_changes: one pass over the rows, no per-pair selection)."""
    require_columns(df, [unit, "wave", "ltr", *([weight] if weight else [])], "responses")
    y = estimators.nps_score(df["ltr"], "ltr")
    unit_codes = pd.factorize(df[unit])[0]
    wave_codes = pd.Categorical(df["wave"].astype(str), categories=waves).codes.astype(np.int64)
    w = None if weight is None else as_weights(df[weight], len(df), weight)
    wave_n = np.bincount(np.where(wave_codes >= 0, wave_codes, len(waves)),
                         minlength=len(waves) + 1)[:len(waves)]
    parts = [("all", ["all"], np.zeros(len(df), np.int64), wave_n[None, :])]
    for d in dims:
        codes, labels = pd.factorize(df[d], sort=True)
        counts = np.zeros((len(labels), len(waves)), np.int64)
        ok = (codes >= 0) & (wave_codes >= 0)
        np.add.at(counts, (codes[ok], wave_codes[ok]), 1)
        parts.append((d, [str(k) for k in labels], codes, counts))
    rows = []
    for dim, labels, codes, counts in parts:
        table = compare.paired_changes(y, unit_codes, wave_codes, len(waves), codes, len(labels), w)
        for gi, seg in enumerate(labels):
            for k, (a, b) in enumerate(zip(waves[:-1], waves[1:], strict=True)):
                base = {"dimension": dim, "segment": seg, "wave_from": a, "wave_to": b}
                try:
                    rows.append(_tested(base, table.result(gi, k, unit),
                                        "paired (same units in both waves)"))
                except DataError as exc:
                    rows.append(_untested(base, int(counts[gi, k]), int(counts[gi, k + 1]),
                                          str(exc)))
    return rows


def _joint_changes(df: pd.DataFrame, dim: str, waves: list[str], design: Design) -> list[dict]:
    """Consecutive-wave contrasts of every segment of `dim`, from one covmat table."""
    t = estimators.nps_table(df, [dim, "wave"], design=design, covmat=True, ci="wald")
    pos = {(str(k), w): i for i, (k, w) in enumerate(zip(t[dim], t["wave"], strict=True))}
    segs = sorted(df[dim].dropna().astype(str).unique())
    rows = []
    for seg in segs:
        for a, b in zip(waves[:-1], waves[1:], strict=True):
            base = {"dimension": "all" if dim == "_all" else dim, "segment": seg,
                    "wave_from": a, "wave_to": b}
            ia, ib = pos.get((seg, a)), pos.get((seg, b))
            if ia is None or ib is None:
                n = [int(t["n"].iloc[i]) if i is not None else 0 for i in (ia, ib)]
                rows.append(_untested(base, n[0], n[1], "no rated responses in one of the waves"))
                continue
            r = compare.contrast(t, ia, ib, metric="nps")
            rows.append(_tested(base, r, "joint design (domains, covariance included)"))
    return rows


# --------------------------------------------------------------------------- notebook inputs




def aggregate_rows(data: Study, market: str, waves: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows an aggregate table of `market` is computed from: the study's included rows
    (of `waves`), or, for a study too large to load (``data.full``), every included row with
    only the columns the tables use, projected out of core (B2C raking weights computed on all
    of them exactly as :func:`helpers.analysis.selection.study` does)."""
    if data.full is None:
        rows = data.market(market).rows
        return rows if waves is None else rows[rows["wave"].astype(str).isin(list(waves))]
    measures = [m for m in data.schema.measures()]
    margins = list(data.settings.b2c_margins) if market == "B2C" else []
    cols = ["ltr", *measures, "account_id", *data.schema.segment_fields(market), *margins]
    rows = data.full.rows(market, cols, list(waves) if waves else None)
    if market == "B2C" and len(rows):
        rows["weight"], _ = b2c_weighting(rows, data.settings)
    return rows


def market_headline(data: Study) -> pd.DataFrame:
    """Headline NPS (and CES / CSAT when the survey asks them) of the reported wave per market:
    B2B account-clustered, B2C weighted (calibration-aware when raked, R ``rake``; with Kish
    deff and effective n of the weights). All rows, out of core, when the study is too large
    to load (:func:`aggregate_rows`)."""
    measures = {m: data.schema.scale(m) for m in data.schema.measures() if m != "ltr"}
    parts = []
    b2b, b2c = (aggregate_rows(data, m, [data.wave]) for m in ("B2B", "B2C"))
    if len(b2b):
        parts.append(headline(b2b, measures, cluster="account_id").assign(
            market="B2B", design="clustered by account", kish_deff=np.nan, kish_n_eff=np.nan))
    if len(b2c):
        margins = data.raking_margins()
        parts.append(headline(b2c, measures, weight="weight",
                              calibrate=b2c_calibration(margins)).assign(
            market="B2C", design="raked weights" if margins else "unweighted",
            kish_deff=weighting.kish_deff(b2c["weight"]),
            kish_n_eff=weighting.effective_n(b2c["weight"])))
    out = pd.concat(parts, ignore_index=True)
    return out[["market", "metric", "label", "estimate", "se", "ci_low", "ci_high", "df", "n",
                "deff", "n_eff", "kish_deff", "kish_n_eff", "design"]]


def headline_metrics(head: pd.DataFrame, changes: pd.DataFrame | None = None) -> dict[str, object]:
    """Run-folder metrics: ``{"<metric>_<market>": {estimate, se, ci_low, ci_high, n, ...}}`` plus
    the list of wave-over-wave changes significant after Benjamini-Hochberg."""
    out: dict[str, object] = {}
    for r in head.to_dict("records"):
        key = f"{r['metric']}_{str(r['market']).lower()}"
        out[key] = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()
                    if k in ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "n_eff",
                             "kish_deff", "kish_n_eff", "design", "label")}
    if changes is not None and len(changes):
        sig = changes[changes["significant"]]
        cols = ["market", "dimension", "segment", "wave_from", "wave_to", "change", "ci_low",
                "ci_high", "p_value", "p_adjusted", "test"]
        out["significant_changes"] = sig[[c for c in cols if c in sig]].to_dict("records")
        out["changes_tested"] = int(changes["p_value"].notna().sum())
    return out


def market_segments(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """Sub-segment NPS of the reported wave for each market over the schema's segment fields
    (B2B clustered, B2C weighted and calibration-aware when raked), every segment a domain of
    its market's design, governed, with a `label` "market · dimension: segment" for charts."""
    parts = []
    b2c_kw = {"weight": "weight", "calibrate": b2c_calibration(data.raking_margins())}
    for market, df, kw in (("B2B", aggregate_rows(data, "B2B", [data.wave]), {"cluster": "account_id"}),
                           ("B2C", aggregate_rows(data, "B2C", [data.wave]), b2c_kw)):
        dims = [d for d in data.schema.segment_fields(market) if d in df.columns and df[d].notna().any()]
        if len(df) and dims:
            t = segment_tables(df, dims, min_n=min_n, max_halfwidth=max_halfwidth, **kw)
            parts.append(t.assign(market=market))
    out = pd.concat(parts, ignore_index=True)
    out["label"] = out["market"] + " · " + out["dimension"] + ": " + out["segment"]
    return out


def market_trends(data: Study, *, min_n: int = 10, max_halfwidth: float = 30.0) -> pd.DataFrame:
    """NPS per wave and market with 95% CI (B2B clustered by account across waves, B2C weighted
    with waves as strata, calibration-aware when raked)."""
    parts = []
    if len(data.b2b):
        b2b = (trend(data.b2b, cluster="account_id", min_n=min_n, max_halfwidth=max_halfwidth)
               if data.full is None else _b2b_trend_from_moments(data, min_n, max_halfwidth))
        parts.append(b2b.assign(market="B2B"))
    if len(data.b2c):
        parts.append(trend(aggregate_rows(data, "B2C"), weight="weight", min_n=min_n,
                           max_halfwidth=max_halfwidth,
                           calibrate=b2c_calibration(data.raking_margins()), strata="wave"
                           ).assign(market="B2C"))
    return pd.concat(parts, ignore_index=True)


def _b2b_trend_from_moments(data: Study, min_n: int, max_halfwidth: float) -> pd.DataFrame:
    """:func:`trend` of all B2B rows from the sufficient statistics per account and wave (a
    moment query the engine runs out of core; the same numbers as from the rows)."""
    from helpers.stats.moments import MomentQuery, Value

    cells = data.full.moments(MomentQuery(
        "responses", ("account_id", "wave"), (Value("nps", "ltr", "nps"),),
        where=(("include", "true", None), ("market", "==", "B2B"))))
    t = estimators.nps_table_cells(cells, ["wave"], design=estimators.cells_design(
        cells, cluster="account_id"))
    return govern(t, min_n=min_n, max_halfwidth=max_halfwidth)


def market_changes(data: Study, q: float = 0.05) -> pd.DataFrame:
    """Wave-over-wave NPS changes, overall and per sub-segment, both markets: B2B paired on the
    accounts present in both waves, B2C contrasts of domains of the weighted design of all
    waves (waves as strata, calibration-aware when raked); one Benjamini-Hochberg family across
    every test of both markets."""
    parts = []
    if len(data.b2b):
        parts.append(wave_changes(aggregate_rows(data, "B2B"), _segment_fields(data, "B2B"),
                                  paired_unit="account_id", q=q).assign(market="B2B"))
    if len(data.b2c):
        parts.append(wave_changes(aggregate_rows(data, "B2C"), _segment_fields(data, "B2C"),
                                  weight="weight", q=q,
                                  calibrate=b2c_calibration(data.raking_margins()),
                                  strata="wave").assign(market="B2C"))
    out = compare.with_fdr(pd.concat(parts, ignore_index=True), q)
    return out[["market", *[c for c in out.columns if c != "market"]]]


def _segment_fields(data: Study, market: str) -> list[str]:
    rows = data.market(market).rows
    return [f for f in data.schema.segment_fields(market) if f in rows and rows[f].notna().any()]


def persona_table(personas: Mapping[str, Personas]) -> pd.DataFrame:
    """Persona tables of several markets stacked, with a chart `label` "B2B persona 1 (items)"
    and each market's k, criterion and seed-stability ARI repeated per row."""
    parts = [p.table.assign(market=m, k=p.k, criterion=p.criterion, ari_mean=p.ari_mean,
                            ari_min=p.ari_min) for m, p in personas.items()]
    out = pd.concat(parts, ignore_index=True)
    out["label"] = (out["market"] + " persona " + out["persona"].astype(str) + " ("
                    + (100 * out["share"]).round(0).astype(int).astype(str) + "%): "
                    + out["distinctive"])
    return out[["market", "persona", "label", *[c for c in out if c not in
                                                ("market", "persona", "label")]]]


# --------------------------------------------------------------------------- headline changes
HEADLINE_CHANGE_COLUMNS = ["market", "metric", "wave_from", "wave_to", "change", "ci_low",
                           "ci_high", "p_value", "p_adjusted", "significant", "n_from", "n_to",
                           "test"]


def _measure_values(rows: pd.DataFrame, data: Study) -> dict[str, pd.Series]:
    """Per-response values whose mean is each CES / CSAT headline measure (NaN: not answered)."""
    out: dict[str, pd.Series] = {}
    measures = data.schema.measures()
    if "ces" in measures and "ces" in rows and rows["ces"].notna().any():
        cut = estimators.agree_cut(data.schema.scale("ces"))
        out["ces_mean"] = rows["ces"].astype(float)
        out["ces_agree"] = 100.0 * (rows["ces"] >= cut).where(rows["ces"].notna())
    if "csat" in measures and "csat" in rows and rows["csat"].notna().any():
        cut = estimators.top2_cut(data.schema.scale("csat"))
        out["csat_top2"] = 100.0 * (rows["csat"] >= cut).where(rows["csat"].notna())
    return out


def _measure_change(data: Study, market: str, rows: pd.DataFrame, values: pd.Series,
                    waves: tuple[str, str]) -> tuple[compare.DiffResult, str]:
    """B2B: paired on the accounts answering in both waves; B2C: contrast of the two waves'
    domains of the weighted design (waves as strata, calibration-aware when raked)."""
    d = rows.assign(_value=values.to_numpy(), wave=rows["wave"].astype(str))
    if market == "B2B":
        return (compare.compare_paired(d, "_value", compare.Panel("account_id", "wave", waves),
                                       metric="mean"), "paired (same accounts in both waves)")
    design = design_for(d, weight="weight", calibrate=b2c_calibration(data.raking_margins()),
                        strata="wave")
    table = estimators.survey_by(d, "_value", "wave", design=design, covmat=True)
    pos = {str(w): i for i, w in enumerate(table["wave"])}
    if waves[0] not in pos or waves[1] not in pos:
        raise DataError("no answers in one of the waves", column="wave")
    return (compare.contrast(table, pos[waves[0]], pos[waves[1]], metric="mean"),
            "joint design (domains, covariance included)")


def headline_changes(data: Study, changes: pd.DataFrame | None = None, q: float = 0.05
                     ) -> pd.DataFrame:
    """Change of each headline measure from the wave before the reported one, per market.

    NPS: the overall rows of `changes` (:func:`market_changes`; significance adjusted across all
    of its tests). CES mean, CES % agree and CSAT % top-2 box: the same designs applied to each
    response's value (B2B paired on the accounts answering in both waves, B2C the two waves as
    domains of the weighted design), Benjamini-Hochberg across these. Empty when the reported
    wave is the first one.
    """
    empty = pd.DataFrame(columns=HEADLINE_CHANGE_COLUMNS)
    if data.wave not in data.waves or data.waves.index(data.wave) == 0:
        return empty
    waves = (data.waves[data.waves.index(data.wave) - 1], data.wave)
    rows: list[dict] = []
    if changes is not None and len(changes):
        nps = changes[(changes["dimension"] == "all") & (changes["wave_from"] == waves[0])
                      & (changes["wave_to"] == waves[1])]
        rows += [{**{c: r.get(c) for c in HEADLINE_CHANGE_COLUMNS}, "metric": "nps"}
                 for r in nps.to_dict("records")]
    other: list[dict] = []
    for market in data.markets:
        sel = data.market(market, list(waves)).rows
        for metric, values in _measure_values(sel, data).items():
            try:
                r, test = _measure_change(data, market, sel, values, waves)
            except DataError:
                continue
            other.append({"market": market, "metric": metric, "wave_from": waves[0],
                          "wave_to": waves[1], "change": r.estimate, "ci_low": r.ci[0],
                          "ci_high": r.ci[1], "p_value": r.p, "n_from": r.n_a, "n_to": r.n_b,
                          "test": test})
    if other:
        adj = compare.bh_adjust(pd.Series([o["p_value"] for o in other]), q=q)
        for o, p_adj, rej in zip(other, adj["p_adjusted"], adj["reject"], strict=True):
            o.update(p_adjusted=float(p_adj), significant=bool(rej))
    out = pd.DataFrame(rows + other, columns=HEADLINE_CHANGE_COLUMNS)
    return out if len(out) else empty
