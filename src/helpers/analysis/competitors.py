"""Competitors: our NPS against each competitor's, rated by the same respondents.

Respondents who rated us and a competitor give a paired comparison (not two independent
samples): :func:`vendor_nps` per vendor, :func:`paired_gaps` our lead or lag per competitor (and
by segment) with account-clustered CIs and Benjamini-Hochberg verdicts, :func:`all_pairs` every
vendor against every other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.errors import DataError, ThinData, require_columns
from helpers.stats import compare, estimators
from helpers.stats.arrays import t_ppf, t_sf
from helpers.stats.design import Design


# --------------------------------------------------------------------------- competitor benchmark
def vendor_ratings(
    rows: pd.DataFrame,
    competitor_ratings: pd.DataFrame,
    us: str = "Us",
    segments: Sequence[str] = ("region", "tier", "industry", "channel"),
) -> pd.DataFrame:
    """Long table of LTR ratings for us and each competitor by the same respondents.

    Parameters
    ----------
    rows : the selected responses (our own LTR), e.g. ``selection.Study.market(...).rows``.
    competitor_ratings : long response_id, vendor, ltr.
    us : our vendor label. segments : segment columns copied from `rows` when present.

    Returns
    -------
    response_id, cluster (account_id for B2B, else the response: the unit of independence),
    market, wave, segment columns, vendor, ltr. Rows without a rating are dropped. Respondent and
    cluster are categorical (their ids as categories).
    """
    require_columns(rows, ["response_id", "market", "wave", "ltr"], "responses")
    require_columns(competitor_ratings, ["response_id", "vendor", "ltr"], "competitor_ratings")
    if rows.empty:
        raise ThinData("no responses selected", file="responses", column="market",
                        expected="at least one included response of the market")
    keep = ["response_id", "market", "wave", *[c for c in segments if c in rows.columns]]
    base = rows[[*keep, "ltr"]]  # the columns the table keeps, not a copy of every column
    acct = rows["account_id"] if "account_id" in rows.columns else pd.Series(pd.NA, index=rows.index)
    cluster = acct.astype("string")
    if cluster.isna().any():  # a response without an account is a cluster of its own
        cluster = cluster.fillna("resp:" + rows["response_id"].astype(str))
    base = base.assign(cluster=cluster)
    keep.insert(1, "cluster")
    ours = base[[*keep, "ltr"]].assign(vendor=us)
    ids = pd.Index(base["response_id"])
    cid, clusters = pd.factorize(base["cluster"])
    if ids.is_unique and not ids.hasnans:  # one row per respondent: matched by position
        at = _positions(ids, competitor_ratings["response_id"])
        hit = np.flatnonzero(at >= 0)
        hit = hit[np.argsort(at[hit], kind="stable")]  # the inner join's order
        theirs = base[keep].take(at[hit]).assign(
            vendor=competitor_ratings["vendor"].array.take(hit),
            ltr=competitor_ratings["ltr"].to_numpy()[hit])
        out = pd.concat([ours, theirs], ignore_index=True)
        rid, cid = np.r_[np.arange(len(ids)), at[hit]], np.r_[cid, cid[at[hit]]]
    else:  # a respondent on several rows: every pair
        theirs = base[keep].merge(competitor_ratings[["response_id", "vendor", "ltr"]],
                                  on="response_id", how="inner")
        out = pd.concat([ours, theirs], ignore_index=True)
        (rid, ids), (cid, clusters) = pd.factorize(out["response_id"]), pd.factorize(out["cluster"])
    out["ltr"] = pd.to_numeric(out["ltr"], errors="coerce")
    rated = out["ltr"].notna().to_numpy()
    if not rated[len(ours):].any():
        raise _unmatched(len(competitor_ratings))
    out = out[rated]
    out["vendor"] = out["vendor"].astype(str)
    # respondent and cluster as categories: each later grouping of respondents reads codes
    out["response_id"] = _categories(rid[rated], pd.Index(ids))
    out["cluster"] = _categories(cid[rated], pd.Index(clusters))
    return out[[*keep, "vendor", "ltr"]].reset_index(drop=True)


def _unmatched(ratings: int) -> ThinData:
    return ThinData(f"none of the {ratings:,} competitor ratings is by a selected respondent",
                    file="competitor_ratings", column="response_id",
                    expected="ratings whose response_id is among the market's responses")


def _positions(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """``ids.get_indexer(values)`` (unique ids, -1 where absent); text ids by Arrow's hash
    lookup, without turning a million ids into Python strings."""
    if not (isinstance(ids.dtype, pd.StringDtype) and isinstance(values.dtype, pd.StringDtype)):
        return ids.get_indexer(values)
    known = pa.array(ids.array)
    found = pc.index_in(pa.array(values.array).cast(known.type), value_set=known)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)


def _categories(codes: np.ndarray, values: pd.Index) -> pd.Categorical:
    """Codes into `values` (-1: missing) as a categorical of the values they use."""
    used = np.bincount(codes[codes >= 0], minlength=len(values)) > 0
    if used.all():
        return pd.Categorical.from_codes(codes, categories=values)
    remap = np.r_[np.cumsum(used) - 1, -1]
    return pd.Categorical.from_codes(remap[codes], categories=values[used])


def vendor_nps(ratings: pd.DataFrame, us: str = "Us", by: str | None = None) -> pd.DataFrame:
    """NPS per vendor (and segment) with cluster-robust SE (accounts) and R's t CI (design df).

    Each vendor's NPS is over the respondents who rated it (competitor ratings come from users of
    that competitor). Our vendor comes first. Uses :func:`helpers.stats.estimators.nps_table`.
    """
    require_columns(ratings, ["vendor", "ltr", "cluster"], "ratings")
    cols = ["vendor", *([by] if by else [])]
    table = estimators.nps_table(ratings, by=cols, score="ltr",
                                 design=Design.from_frame(ratings, cluster="cluster"))
    table["is_us"] = table["vendor"] == us
    return table.sort_values(["is_us", "nps"], ascending=[False, False]).reset_index(drop=True)


def paired_mean_difference(d: np.ndarray, cluster: np.ndarray | None = None,
                           level: float = 0.95) -> dict[str, float]:
    """Mean of paired differences with a cluster-robust SE and a t interval (clusters - 1 df).

    With one pair per cluster this is the paired t-test (R ``t.test(paired = TRUE)``).
    """
    d = np.asarray(d, float)
    cl = np.arange(len(d)) if cluster is None else np.asarray(cluster)
    n_cl = len(pd.unique(cl))
    if len(d) < 2 or n_cl < 2:
        return {"estimate": float(np.mean(d)) if len(d) else np.nan, "se": np.nan,
                "ci_low": np.nan, "ci_high": np.nan, "t": np.nan, "p_value": np.nan,
                "n": len(d), "n_clusters": n_cl}
    r = estimators.survey_mean(d, Design(len(d), cluster=cl), level=level)
    q = t_ppf(0.5 + level / 2, n_cl - 1)
    t = r.estimate / r.se if r.se > 0 else np.nan
    return {"estimate": r.estimate, "se": r.se, "ci_low": r.estimate - q * r.se,
            "ci_high": r.estimate + q * r.se, "t": t,
            "p_value": float(2 * t_sf(abs(t), n_cl - 1)) if np.isfinite(t) else np.nan,
            "n": len(d), "n_clusters": n_cl}


def paired_gaps(ratings: pd.DataFrame, us: str = "Us", by: str | None = None,
                level: float = 0.95, q: float = 0.05, min_n: int = 30) -> pd.DataFrame:
    """Our NPS minus each competitor's among respondents who rated both (paired, clustered).

    Each respondent scores +100/0/-100 for us and for the competitor; the gap is the mean of the
    per-respondent difference, its SE is clustered by account (contacts of one account are not
    independent), t interval with (accounts - 1) df. Benjamini-Hochberg over all rows
    (competitors x segments). ``verdict``: "lead" / "lag" when significant after BH, else
    "no clear difference"; rows with fewer than `min_n` pairs are "too few".
    """
    require_columns(ratings, ["response_id", "cluster", "vendor", "ltr"], "ratings")
    groups = ["vendor", *([by] if by else [])]
    pairs = _paired_with_us(ratings, us, groups)
    if pairs.empty:
        raise ThinData(f"no respondent rated both {us!r} and a competitor", file="ratings",
                       column="response_id", expected="respondents who rated us and a competitor")
    rows = []
    for group_key, g in pairs.groupby(groups, sort=True)[["s_us", "score", "cluster"]]:  # numbers only
        key = group_key if isinstance(group_key, tuple) else (group_key,)
        s_us, score = g["s_us"].to_numpy(), g["score"].to_numpy()
        res = paired_mean_difference(s_us - score, g["cluster"].to_numpy(), level)
        rows.append({**dict(zip(groups, key, strict=True)), "nps_us": float(s_us.mean()),
                     "nps_competitor": float(score.mean()), **res})
    out = pd.DataFrame(rows).rename(columns={"vendor": "competitor"})
    out.loc[out["n"] < min_n, ["p_value"]] = np.nan
    bh = compare.bh_adjust(out["p_value"].astype(float), q=q)
    out["p_adjusted"] = bh["p_adjusted"].to_numpy()
    sig = bh["reject"].to_numpy(bool)
    out["verdict"] = np.where(out["n"] < min_n, "too few",
                              np.where(sig & (out["estimate"] > 0), "lead",
                                       np.where(sig & (out["estimate"] < 0), "lag",
                                                "no clear difference")))
    return out


def all_pairs(ratings: pd.DataFrame, level: float = 0.95, q: float = 0.05,
              min_n: int = 30) -> pd.DataFrame:
    """Paired NPS difference for every pair of vendors (a - b) among respondents rating both.

    Same method as :func:`paired_gaps` (per-respondent +100/0/-100 differences, SE clustered by
    account, t interval), with Benjamini-Hochberg over all pairs. Columns: vendor_a, vendor_b,
    nps_a, nps_b, estimate, se, ci_low, ci_high, t, p_value, n, n_clusters, p_adjusted,
    significant (False when fewer than `min_n` pairs).
    """
    require_columns(ratings, ["response_id", "cluster", "vendor", "ltr"], "ratings")
    r = ratings.assign(score=estimators.nps_score(ratings["ltr"], "ltr"))
    r = r[r["score"].notna()]
    rid = pd.factorize(r["response_id"])[0]
    vendors = sorted(r["vendor"].unique())
    vid = pd.Index(vendors).get_indexer(r["vendor"])
    first = ~pd.DataFrame({"r": rid, "v": vid}).duplicated().to_numpy()
    wide = np.full((rid.max() + 1 if len(rid) else 0, len(vendors)), np.nan)
    wide[rid[first], vid[first]] = r["score"].to_numpy(float)[first]
    cluster = np.zeros(len(wide), np.int64)
    cluster[rid] = pd.factorize(r["cluster"])[0]
    rows = []
    for i, a in enumerate(vendors):
        for j, b in enumerate(vendors[i + 1:], start=i + 1):
            both = ~np.isnan(wide[:, i]) & ~np.isnan(wide[:, j])
            xa, xb = wide[both, i], wide[both, j]
            res = paired_mean_difference(xa - xb, cluster[both], level)
            rows.append({"vendor_a": a, "vendor_b": b, "nps_a": float(np.mean(xa)) if len(xa) else np.nan,
                         "nps_b": float(np.mean(xb)) if len(xb) else np.nan, **res})
    out = pd.DataFrame(rows)
    out.loc[out["n"] < min_n, "p_value"] = np.nan
    return compare.with_fdr(out, q)


def _paired_with_us(ratings: pd.DataFrame, us: str, groups: list[str]) -> pd.DataFrame:
    """The competitors' ratings of respondents who also rated us: the `groups` columns, their
    ``score``, our ``s_us`` and the cluster as integer codes (respondents matched by codes, not
    by a join on string keys), in the order of `ratings`."""
    score = np.asarray(estimators.nps_score(ratings["ltr"], "ltr"), float)
    is_us = (ratings["vendor"] == us).to_numpy(bool)
    if not is_us.any():
        raise DataError(f"no ratings for {us!r}", file="ratings", column="vendor",
                        expected="our own vendor label among the vendors")
    rid = pd.factorize(ratings["response_id"])[0]
    theirs = ratings.loc[~is_us, [*groups, "response_id"]].assign(
        score=score[~is_us], cluster=pd.factorize(ratings["cluster"])[0][~is_us])
    ours = np.bincount(rid[is_us], minlength=rid.max() + 1) if (rid >= 0).all() else None
    if ours is None or ours.max() > 1:  # several of our ratings per respondent: every pair
        s_us = pd.DataFrame({"response_id": ratings["response_id"][is_us], "s_us": score[is_us]})
        return theirs.merge(s_us, on="response_id", how="inner").drop(columns="response_id")
    mine = np.full(len(ours), np.nan)
    mine[rid[is_us]] = score[is_us]
    found = ours[rid[~is_us]] == 1
    return theirs.loc[found].drop(columns="response_id").assign(s_us=mine[rid[~is_us]][found])
