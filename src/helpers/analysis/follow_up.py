"""The follow-up list for account teams, and whether following up goes with scores that move.

A B2B programme earns its response rates by acting on what it heard. This module lists, for the
reported wave, the accounts with a detractor or a drop since their previous wave, what their
contacts said (comments as cleaning masked them: ``data/processed`` holds no personal data) and the
items they rated lowest against the other accounts of the wave. The list names accounts, so it is
for account teams, never for a leadership page (:data:`AUDIENCE`).

With a follow-up file (account, date, outcome) it also measures the time from the account's last
response to its first follow-up, and compares how followed-up accounts moved to their next wave
with accounts that were not followed up (clustered CI). That comparison is observational: teams
choose whom to call, so a difference is an association, not the effect of a call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers.analysis.programme import account_wave_scores, among, clustered_diff, with_next_wave
from helpers.errors import ThinData, require_columns
from helpers.measures import Measure

AUDIENCE = "For account teams: names accounts and quotes customers; not for leadership pages."
OBSERVATIONAL = ("Observational: account teams choose whom to follow up, so this is an association "
                 "between following up and the next wave's score, not the effect of a call.")


def needs_follow_up(scores: pd.DataFrame) -> pd.Series:
    """True for account-waves (:func:`helpers.analysis.programme.with_next_wave`) with a
    detractor or a lower score than the account's previous responding wave."""
    return (scores["detractors"] > 0) | (scores["score"] < scores["prev"])


def lowest_items(rows: pd.DataFrame, items: Sequence[str], labels: Mapping[str, str],
                 k: int = 3, accounts: Sequence[str] | None = None) -> pd.Series:
    """Per account (those in `accounts`, default all): its `k` items furthest below the other
    accounts of the same rows (account mean minus the mean of every other account's responses),
    in words."""
    have = [i for i in items if i in rows]
    if not have:
        return pd.Series(dtype="string")
    x = rows[["account_id", *have]].assign(account_id=rows["account_id"].astype(str))
    sums = x.groupby("account_id")[have].sum(min_count=1)
    counts = x.groupby("account_id")[have].count()
    if accounts is not None:
        sums, counts = sums.reindex([str(a) for a in accounts]), counts.reindex([str(a) for a in accounts])
    total, n = x[have].sum(), x[have].count()
    peers = (total - sums) / (n - counts).replace(0, np.nan)
    gap = (sums / counts.replace(0, np.nan) - peers).to_numpy(float)
    order = np.argsort(np.where(np.isnan(gap), np.inf, gap), axis=1)[:, :k]
    low = np.take_along_axis(gap, order, axis=1)
    names = np.array([labels.get(i, i) for i in have], dtype=object)[order]
    return pd.Series(["; ".join(f"{name} ({v:+.1f})" for name, v in zip(nr, vr, strict=True) if v < 0)
                      for nr, vr in zip(names, low, strict=True)], index=sums.index, dtype="string")


def follow_up_list(rows: pd.DataFrame, measures: Sequence[Measure], wave: str,
                   items: Sequence[str], labels: Mapping[str, str]) -> pd.DataFrame:
    """Accounts to follow up after `wave`: a detractor in the wave or a drop since their previous
    wave, worst first, with the score, its change, the detractors, what the account's contacts
    said (masked comments of its detractors, else of anyone) and its lowest items against peers."""
    require_columns(rows, ["account_id", "wave"], "responses")
    scores = with_next_wave(account_wave_scores(rows, measures))
    now = scores[(scores["wave"] == str(wave)) & needs_follow_up(scores)].copy()
    wave_rows = rows[rows["wave"].astype(str) == str(wave)]
    now["change_since_previous"] = now["score"] - now["prev"]
    low = lowest_items(wave_rows, items, labels, accounts=now["account_id"].tolist())
    now["lowest_items"] = now["account_id"].map(low).fillna("")
    listed = wave_rows[among(wave_rows["account_id"].astype(str), now["account_id"])]
    now["what_they_said"] = now["account_id"].map(_comments(listed, measures)).fillna("")
    cols = ["account_id", "rep_id", "n", "score", "change_since_previous", "detractors",
            "what_they_said", "lowest_items"]
    out = now[[c for c in cols if c in now]].sort_values(["score", "account_id"], ignore_index=True)
    out.attrs["audience"] = AUDIENCE
    return out


def _comments(rows: pd.DataFrame, measures: Sequence[Measure], limit: int = 3) -> pd.Series:
    """Per account: up to `limit` comments, detractors' first (as cleaning masked them)."""
    if "comment" not in rows:
        return pd.Series(dtype="string")
    from helpers.analysis.programme import response_values

    d = pd.DataFrame({"account_id": rows["account_id"].astype(str).to_numpy(),
                      "value": response_values(rows, measures),
                      "comment": rows["comment"].astype("string").str.strip().to_numpy()})
    d = d[d["comment"].fillna("").ne("")].sort_values(["account_id", "value"])
    d = d[d.groupby("account_id", sort=False).cumcount().to_numpy() < limit]
    ids, said = d["account_id"].to_numpy(), d["comment"].tolist()
    bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True]) if len(ids) else np.zeros(1, int)
    return pd.Series([" | ".join(said[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
                     index=pd.Index(ids[bounds[:-1]], name="account_id"), name="comment",
                     dtype=d["comment"].dtype)


def follow_up_timing(rows: pd.DataFrame, measures: Sequence[Measure], follow_ups: pd.DataFrame
                     ) -> pd.DataFrame:
    """Every account-wave that needed a follow-up and had a next wave: whether it was followed
    up (a follow-up after its last response and before its next wave's first response), the
    days to the first follow-up, and the change of the score to the next wave."""
    require_columns(follow_ups, ["account_id", "date"], "follow_ups")
    s = with_next_wave(account_wave_scores(rows, measures))
    s = s[needs_follow_up(s) & s["next"].notna()].reset_index(drop=True)
    if s.empty:
        raise ThinData("no account with a detractor or a drop and a next wave",
                       expected="accounts answering in two waves")
    fu = follow_ups[["account_id", "date"]].assign(account_id=follow_ups["account_id"].astype(str),
                                                   date=pd.to_datetime(follow_ups["date"]))
    m = s[["account_id", "wave", "last", "next_first"]].merge(fu, on="account_id", how="left")
    m = m[(m["date"] >= m["last"].dt.normalize()) & (m["date"] < m["next_first"])]
    first = m.groupby(["account_id", "wave"])["date"].min()
    key = pd.MultiIndex.from_frame(s[["account_id", "wave"]])
    s["follow_up_date"] = first.reindex(key).to_numpy()
    s["followed_up"] = s["follow_up_date"].notna()
    s["days_to_follow_up"] = (s["follow_up_date"] - s["last"]).dt.total_seconds() / 86400
    return s


def follow_up_effect(timing: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """How much more followed-up accounts moved to their next wave than accounts not followed up
    (score points, account-clustered CI), and the days to follow-up (mean with a CI, median)."""
    diff = clustered_diff(timing["change"].to_numpy(float), timing["followed_up"].to_numpy(bool),
                          timing["account_id"].to_numpy(), level)
    moved = timing.groupby("followed_up")["change"].mean()
    days = timing["days_to_follow_up"].dropna().to_numpy(float)
    if len(days) < 2:
        raise ThinData(f"{len(days)} follow-ups matched to a response", file="follow_ups",
                       expected="at least 2")
    se = days.std(ddof=1) / np.sqrt(len(days))
    from scipy import stats

    t = stats.t.ppf(0.5 + level / 2, len(days) - 1)
    return pd.DataFrame([
        {"figure": "change to next wave: followed up minus not", **diff,
         "followed_up_change": moved.get(True, np.nan), "others_change": moved.get(False, np.nan)},
        {"figure": "days from last response to follow-up", "estimate": days.mean(), "se": se,
         "ci_low": days.mean() - t * se, "ci_high": days.mean() + t * se,
         "median": float(np.median(days)), "n": len(days)},
    ]).assign(note=OBSERVATIONAL)
