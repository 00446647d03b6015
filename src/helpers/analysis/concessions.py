"""Concessions and scores: are scores being bought?

When NPS becomes a target, powerful customers extract concessions (discounts, credits, free
services) and reps give them away to secure high scores. With a concessions table (account, rep,
date, type, value) this module asks, within each account from wave to wave (so an account's
general mood cancels out), whether a concession before a survey goes with a higher score from
the same account; which reps' concessions buy more score than their peers' (a within-account
lift per rep, shrunk towards the peers, one-sided test, Benjamini-Hochberg across reps); and what a
point of NPS bought this way costs. Per-rep results join the integrity index as their own
evidence family (:func:`evidence`). Reps are named only in the analyst's tables; leadership pages
use pseudonyms, as the rest of the integrity report does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.analysis.integrity_checks import EVIDENCE_COLUMNS, FAMILIES, finish_evidence
from helpers.analysis.programme import account_wave_scores
from helpers.errors import ThinData, require_columns
from helpers.measures import Measure
from helpers.stats.arrays import norm_sf, t_ppf, t_sf

CHECK = "concession_lift"
#: Days before an account's first response of a wave in which a concession counts as "before
#: the survey" (bounded by the account's previous responding wave).
WINDOW_DAYS = 120


def conceded_waves(rows: pd.DataFrame, measures: Sequence[Measure], concessions: pd.DataFrame,
                   window_days: int = WINDOW_DAYS, statistic: str = "nps") -> pd.DataFrame:
    """One row per account and wave with responses: its score (the account's `statistic`: NPS,
    or the headline of a programme without the LTR, e.g. CSAT % top-2 box), rep, and the
    concessions (count and value) given after the account's previous responding wave (at most
    `window_days` before) and before its first response of this wave; ``conceded`` when any."""
    require_columns(concessions, ["account_id", "rep_id", "date", "value"], "concessions")
    s = account_wave_scores(rows, measures, statistic).sort_values(["account_id", "wave"],
                                                                   ignore_index=True)
    s["prev_last"] = s.groupby("account_id")["last"].shift(1)
    start = s["first"] - pd.Timedelta(days=window_days)
    s["from"] = s["prev_last"].where(s["prev_last"] > start, start)
    c = concessions.assign(account_id=concessions["account_id"].astype(str),
                           date=pd.to_datetime(concessions["date"]),
                           value=pd.to_numeric(concessions["value"], errors="coerce"),
                           giver=concessions["rep_id"].astype(str))
    m = s[["account_id", "wave", "from", "first"]].merge(c[["account_id", "date", "value", "giver"]],
                                                         on="account_id")
    m = m[(m["date"] > m["from"]) & (m["date"] <= m["first"])]
    agg = m.groupby(["account_id", "wave"]).agg(concessions=("value", "size"), value=("value", "sum"),
                                                giver=("giver", "first"))
    s = s.merge(agg, on=["account_id", "wave"], how="left")
    s["concessions"] = s["concessions"].fillna(0).astype(int)
    s["value"] = s["value"].fillna(0.0)
    s["conceded"] = s["concessions"] > 0
    s["rep_id"] = s["giver"].fillna(s["rep_id"]) if "rep_id" in s else s["giver"]
    return s.drop(columns=["giver", "prev_last", "from"])


def _within(y: np.ndarray, t: np.ndarray, acc: np.ndarray) -> tuple[float, float, int]:
    """Fixed-effects slope of y on t within accounts and its account-clustered SE (CR1)."""
    codes = pd.factorize(acc)[0]
    yd = y - (np.bincount(codes, y) / np.bincount(codes))[codes]
    td = t - (np.bincount(codes, t) / np.bincount(codes))[codes]
    sxx = float((td * td).sum())
    informative = int((np.bincount(codes, np.abs(td)) > 0).sum())
    if sxx <= 0 or informative < 2:
        return np.nan, np.nan, informative
    b = float((td * yd).sum() / sxx)
    u = np.bincount(codes, td * (yd - b * td))
    g = int(codes.max()) + 1
    se = float(np.sqrt(g / max(g - 1, 1) * (u * u).sum()) / sxx)
    return b, se, informative


def score_lift(waves: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Within-account lift of the score in waves after a concession (all reps), and per 1,000
    of concession value, with account-clustered CIs."""
    y, acc = waves["score"].to_numpy(float), waves["account_id"].to_numpy()
    rows = []
    for name, t in (("after a concession", waves["conceded"].to_numpy(float)),
                    ("per 1,000 of concession value", waves["value"].to_numpy(float) / 1000)):
        b, se, k = _within(y, t, acc)
        z = t_ppf(0.5 + level / 2, max(waves["account_id"].nunique() - 1, 1))
        rows.append({"effect": name, "estimate": b, "se": se, "ci_low": b - z * se,
                     "ci_high": b + z * se, "p_value": 2 * norm_sf(abs(b / se)) if se > 0 else np.nan,
                     "n": len(y), "accounts_informative": k})
    return pd.DataFrame(rows)


def _shrink(est: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Normal-normal empirical Bayes (DerSimonian-Laird between-rep variance): shrunk lifts, their
    posterior SDs, the pooled mean and tau²."""
    ok = np.isfinite(est) & np.isfinite(se) & (se > 0)
    w = 1 / se[ok] ** 2
    mu = float((w * est[ok]).sum() / w.sum())
    q = float((w * (est[ok] - mu) ** 2).sum())
    tau2 = max(0.0, (q - (ok.sum() - 1)) / (w.sum() - (w * w).sum() / w.sum()))
    b = np.where(ok, tau2 / (tau2 + np.where(ok, se, 1) ** 2), 0.0)
    shrunk = np.where(ok, mu + b * (np.nan_to_num(est) - mu), mu)
    post_sd = np.where(ok, np.sqrt(b * np.where(ok, se, 1) ** 2), np.sqrt(tau2))
    return shrunk, post_sd, mu, tau2


def _rep_sums(waves: pd.DataFrame) -> pd.DataFrame:
    """Per rep and account: the within-(account, rep) cross-product sums Sty and Stt of the score
    and the concession indicator, from which every rep's and its peers' fixed-effects slope and
    clustered variance follow without refitting (u = Sty - b Stt is an account's score)."""
    d = pd.DataFrame({"rep_id": waves["rep_id"].astype(str).to_numpy(),
                      "account_id": waves["account_id"].astype(str).to_numpy(),
                      "y": waves["score"].to_numpy(float), "t": waves["conceded"].to_numpy(float)})
    d["yt"], d["tt"] = d["y"] * d["t"], d["t"] * d["t"]
    g = d.groupby(["rep_id", "account_id"], sort=True).agg(
        n=("y", "size"), y=("y", "sum"), t=("t", "sum"), yt=("yt", "sum"), tt=("tt", "sum"))
    g["sty"] = g["yt"] - g["t"] * g["y"] / g["n"]
    g["stt"] = g["tt"] - g["t"] ** 2 / g["n"]
    return g[["sty", "stt"]].reset_index()


def rep_lifts(waves: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per rep: concessions, value, the within-account score lift after their concessions, the
    peers' lift (every other rep pooled), EB-shrunk lift with a 95 % interval, one-sided p of
    lift > 0 (t with informative accounts - 1 df: a rep whose concessions have nothing to do
    with the survey has no lift), BH q across reps, and the value given per point of lift."""
    require_columns(waves, ["rep_id", "account_id", "score", "conceded", "value"], "account waves")
    s = _rep_sums(waves)
    s["sy2"], s["syt"], s["st2"] = s["sty"] ** 2, s["sty"] * s["stt"], s["stt"] ** 2
    s["inf"] = (s["stt"] > 0).astype(int)
    per = s.groupby("rep_id", sort=True)[["sty", "stt", "sy2", "syt", "st2", "inf"]].sum()
    per["g"] = s.groupby("rep_id", sort=True).size()
    tot = per.sum()
    peer = tot - per
    out = pd.DataFrame(index=per.index)
    for name, src in (("", per), ("peer_", peer)):
        ok = (src["stt"] > 0) & (src["inf"] >= 2)
        b = (src["sty"] / src["stt"].where(ok)).to_numpy(float)
        meat = (src["sy2"] - 2 * b * src["syt"] + b ** 2 * src["st2"]).clip(lower=0)
        g = src["g"].to_numpy(float)
        out[f"{name}b"] = b
        out[f"{name}se"] = np.sqrt(g / np.maximum(g - 1, 1) * meat) / src["stt"].where(ok)
    counts = waves.assign(rep_id=waves["rep_id"].astype(str)).groupby("rep_id").agg(
        n=("conceded", "sum"), value=("value", "sum"))
    out = pd.DataFrame({"rep_id": per.index.astype(str), "n": counts["n"].reindex(per.index).to_numpy(int),
                        "k": per["inf"].to_numpy(int), "estimate": out["b"].to_numpy(float),
                        "peer": out["peer_b"].to_numpy(float), "se": out["se"].to_numpy(float),
                        "peer_se": out["peer_se"].to_numpy(float),
                        "value": counts["value"].reindex(per.index).to_numpy(float)})
    if out["estimate"].notna().sum() < 3:
        raise ThinData(f"{int(out['estimate'].notna().sum())} reps with concessions before some "
                       "but not all of an account's waves", file="concessions",
                       expected="at least 3 reps")
    shrunk, sd, _, _ = _shrink(out["estimate"].to_numpy(float), out["se"].to_numpy(float))
    out["shrunk"], out["ci_low"], out["ci_high"] = shrunk, shrunk - 1.96 * sd, shrunk + 1.96 * sd
    out["p"] = t_sf(out["estimate"] / out["se"], np.maximum(out["k"] - 1, 1))
    out["value_per_point"] = out["value"] / (out["n"] * out["shrunk"].clip(lower=1e-9))
    out.loc[out["shrunk"] <= 0, "value_per_point"] = np.nan
    out = finish_evidence(out, CHECK, alpha).merge(out[["rep_id", "value", "value_per_point"]], on="rep_id")
    out["reason"] = [
        f"scores {r.estimate:+.0f} points higher after their concessions than in the same "
        f"accounts' other waves vs {r.peer:+.0f} for peers (shrunk {r.shrunk:+.0f}, "
        f"{r.n} concessions, q={r.q:.3f})" for r in out.itertuples()]
    return out


def evidence(lifts: pd.DataFrame) -> pd.DataFrame:
    """The per-rep lifts as integrity evidence (one family, ``concessions``)."""
    return lifts[EVIDENCE_COLUMNS].copy()


def cost_per_point(lifts: pd.DataFrame) -> pd.DataFrame:
    """What a point of the account score (NPS, or the headline statistic) bought by concessions
    cost, for the reps whose concessions
    buy more than their peers' (failing after FDR control): total value given over the points
    bought (shrunk lift times concessions)."""
    bought = lifts[lifts["fail"]]
    points = float((bought["shrunk"].clip(lower=0) * bought["n"]).sum())
    value = float(bought["value"].sum())
    return pd.DataFrame([{"reps": len(bought), "concessions": int(bought["n"].sum()),
                          "value": value, "points_bought": points,
                          "cost_per_point": value / points if points > 0 else np.nan}])


def joined(evidence_table: pd.DataFrame, lifts: pd.DataFrame) -> pd.DataFrame:
    """The integrity evidence with the concessions family added (replacing an earlier one)."""
    kept = evidence_table[evidence_table["check"] != CHECK]
    return pd.concat([kept, evidence(lifts)], ignore_index=True)


def lift_table(waves: pd.DataFrame, lifts: pd.DataFrame, name: str = "NPS") -> pd.DataFrame:
    """The programme-wide figures, no rep named: the within-account lift after a concession and
    per 1,000 of value (95 % CIs), and the cost of a point bought by the reps who buy scores;
    `name` is the score's (the headline statistic's) name."""
    out = score_lift(waves)
    cost = cost_per_point(lifts).iloc[0]
    bought = {"effect": f"cost of an account-{name} point bought (reps whose concessions buy "
                        "scores)",
              "estimate": cost["cost_per_point"], "n": int(cost["concessions"]),
              "reps": int(cost["reps"])}
    return pd.concat([out, pd.DataFrame([bought])], ignore_index=True)


def rep_table(lifts: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Per rep by pseudonym (never the rep id): concessions, value, lift, shrunk lift with its
    interval, q-value, whether it fails, and the value given per point."""
    cols = ["n", "value", "estimate", "shrunk", "ci_low", "ci_high", "q", "fail", "value_per_point"]
    out = lifts.assign(rep=lifts["rep_id"].map(names).fillna("other"))[["rep", *cols]]
    return out.rename(columns={"n": "concessions", "estimate": "lift", "fail": "buys_scores"}) \
        .sort_values(["buys_scores", "shrunk"], ascending=[False, False], ignore_index=True)


assert CHECK in FAMILIES, "register the concessions check in integrity_checks.FAMILIES"
