"""The B2B account programme's plants: response propensity, withheld accounts, follow-ups and
concessions, with what each plants recorded for ``truth.json``.

Everything here draws from a generator of its own (``default_rng([seed, PLANT_STREAM])``) after the
B2B survey is drawn, and only adds: columns to the invitations (reminders, days since the last
touchpoint), accounts to the master that were never surveyed, and three side tables (exclusions,
follow-ups, concessions). The responses themselves are unchanged, so every earlier plant keeps
its value for a seed.

- Response propensity: who answered was drawn from role and account (:data:`ROLE_RESPONSE_LOGODDS`,
  an account effect, silent accounts; tier has no effect). Reminders and the days since the last
  touchpoint are drawn given the answer, so that by Bayes' rule each adds exactly a known term to
  the log-odds of answering (:data:`REMINDER_LOGODDS` per reminder, :data:`TOUCH_LOGODDS_PER_DAY`).
- Withheld accounts: extra accounts, larger (more Enterprise, higher ARR), more often in an open
  deal and renewing sooner, some removed by the account team (the exclusions table), the rest never
  invited; had they been asked, their contacts would have scored :data:`WITHHELD_LTR_SHIFT` lower.
- Follow-ups: accounts with a detractor or a drop are followed up more often where the next wave
  improved (an observational association of known size, as a real programme would see).
- Concessions: every rep gives some at random; two reps give them before the waves their
  accounts score higher (a known within-account lift).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.sample.draws import lookup_map
from helpers.sample.planted_model import ROLE_RESPONSE_LOGODDS, TIER_ARR, TIERS

PLANT_STREAM = 24
REMINDERS_IF_SILENT = np.array([0.5, 0.3, 0.2])   # share with 0, 1, 2 reminders among non-responders
REMINDER_LOGODDS = 0.4
TOUCH_MEAN_DAYS = {True: 20.0, False: 35.0}        # days since last touchpoint, by answered
TOUCH_LOGODDS_PER_DAY = 1 / TOUCH_MEAN_DAYS[False] - 1 / TOUCH_MEAN_DAYS[True]
WITHHELD_SHARE = 0.08
WITHHELD_TIERS = {"Enterprise": 0.55, "Mid-market": 0.30, "SMB": 0.15}
WITHHELD_ARR_LOG_SHIFT = 0.4
DEAL_STAGES = ("none", "expansion open", "renewal open")
DEAL_STAGE_P = {"surveyed": (0.70, 0.15, 0.15), "withheld": (0.30, 0.40, 0.30)}
WITHHELD_LTR_SHIFT = -1.5
FOLLOW_UP_TILT = 0.6
FOLLOW_UP_MEAN_DAYS = 12.0
CONCESSION_BASE_P = 0.12
CONCESSION_TILT = 2.5
CONCESSION_TYPES = ("discount", "service credit", "free services")


@dataclass(frozen=True)
class Plants:
    """The programme tables with the plants added, and what was planted."""

    accounts: pd.DataFrame
    invitations: pd.DataFrame
    exclusions: pd.DataFrame
    follow_ups: pd.DataFrame
    concessions: pd.DataFrame
    truth: dict[str, Any]


def plant(rng: np.random.Generator, responses: pd.DataFrame, accounts: pd.DataFrame,
          invitations: pd.DataFrame, gaming_reps: list[str]) -> Plants:
    """Add the account programme's plants to a B2B programme (its responses unchanged)."""
    inv, inv_truth = _invitation_covariates(rng, invitations)
    acc, exclusions, wh_truth = _withheld_accounts(rng, accounts)
    scores = _account_wave_nps(responses)
    follow_ups, fu_truth = _follow_ups(rng, scores)
    concessions, co_truth = _concessions(rng, scores, acc, gaming_reps)
    truth = {"response_model": inv_truth, "withheld": wh_truth, "follow_ups": fu_truth,
             "concessions": co_truth}
    return Plants(acc, inv, exclusions, follow_ups, concessions, truth)


def _invitation_covariates(rng: np.random.Generator, inv: pd.DataFrame
                           ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Reminders and days since the last touchpoint, drawn given whether the contact answered."""
    y = inv["responded"].to_numpy(bool)
    q0 = REMINDERS_IF_SILENT
    q1 = q0 * np.exp(REMINDER_LOGODDS * np.arange(3))
    q1 = q1 / q1.sum()
    u = rng.random(len(y))
    reminders = np.where(y, np.searchsorted(np.cumsum(q1), u), np.searchsorted(np.cumsum(q0), u))
    days = rng.exponential(np.where(y, TOUCH_MEAN_DAYS[True], TOUCH_MEAN_DAYS[False]))
    out = inv.assign(reminders=np.minimum(reminders, 2), days_since_touch=np.round(days, 1))
    truth = {
        "role_logodds": dict(ROLE_RESPONSE_LOGODDS), "tier_logodds": dict.fromkeys(TIERS, 0.0),
        "reminder_logodds": REMINDER_LOGODDS, "touch_logodds_per_day": round(TOUCH_LOGODDS_PER_DAY, 5),
        "account_sd": 0.8, "note": "logit P(answer) = role + account effect + reminders and "
        "days-since-touch terms (exact); tier has no effect",
    }
    return out, truth


def _withheld_accounts(rng: np.random.Generator, accounts: pd.DataFrame
                       ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Extra accounts never surveyed (half removed by their account team), and deal stages."""
    n_acc = len(accounts)
    n_w = max(4, int(round(WITHHELD_SHARE * n_acc)))
    donors = accounts.iloc[rng.integers(0, n_acc, n_w)].reset_index(drop=True)
    prefix = str(accounts["account_id"].iloc[0])[:-5]
    tier = rng.choice(list(WITHHELD_TIERS), n_w, p=list(WITHHELD_TIERS.values()))
    arr = lookup_map(tier, TIER_ARR, 0.0) * rng.lognormal(WITHHELD_ARR_LOG_SHIFT, 0.5, n_w)
    renewal = pd.Timestamp(accounts["renewal_date"].min()) + pd.to_timedelta(
        rng.integers(0, 120, n_w), unit="D")
    renewed = rng.random(n_w) < 0.85
    withheld = donors.assign(
        account_id=[f"{prefix}{n_acc + i:05d}" for i in range(1, n_w + 1)],
        account_name=[f"Customer {n_acc + i} Ltd" for i in range(1, n_w + 1)],
        tier=tier, arr=np.round(arr, 2), renewal_date=renewal.strftime("%Y-%m-%d"),
        renewed=renewed, churned=~renewed,
        expansion_arr=np.round(np.where(renewed, arr * np.maximum(0, rng.normal(0.05, 0.06, n_w)), 0), 2))
    stage = {k: rng.choice(DEAL_STAGES, n, p=DEAL_STAGE_P[k])
             for k, n in (("surveyed", n_acc), ("withheld", n_w))}
    acc = pd.concat([accounts.assign(deal_stage=stage["surveyed"]),
                     withheld.assign(deal_stage=stage["withheld"])], ignore_index=True)
    removed = rng.random(n_w) < 0.5
    exclusions = pd.DataFrame({
        "account_id": withheld["account_id"][removed], "excluded_by": withheld["rep_id"][removed],
        "excluded_at": pd.Timestamp(accounts["deal_close_date"].max()).strftime("%Y-%m-%d"),
        "reason": rng.choice(["open deal", "renewal negotiation", "escalation"], int(removed.sum())),
    }).reset_index(drop=True)
    truth = _withheld_truth(rng, acc, withheld, removed)
    return acc, exclusions, truth


def _withheld_truth(rng: np.random.Generator, acc: pd.DataFrame, withheld: pd.DataFrame,
                    removed: np.ndarray) -> dict[str, Any]:
    """What the withheld accounts are, and the scores their contacts would have given."""
    surveyed = acc.loc[~acc["account_id"].isin(withheld["account_id"])]
    would_be = np.clip(np.rint(7.9 + WITHHELD_LTR_SHIFT + rng.normal(0, 1.8, (len(withheld), 3))), 0, 10)
    return {
        "accounts": sorted(withheld["account_id"].tolist()), "n": len(withheld),
        "n_removed": int(removed.sum()), "n_never_invited": int((~removed).sum()),
        "arr_share": round(float(withheld["arr"].sum() / acc["arr"].sum()), 4),
        "tier_p": WITHHELD_TIERS, "surveyed_tier_p": TIERS,
        "arr_log_shift_within_tier": WITHHELD_ARR_LOG_SHIFT,
        "deal_stage_p": {k: dict(zip(DEAL_STAGES, v, strict=True)) for k, v in DEAL_STAGE_P.items()},
        "mean_arr_ratio": round(float(withheld["arr"].mean() / surveyed["arr"].mean()), 3),
        "ltr_shift": WITHHELD_LTR_SHIFT,
        "would_be_nps": round(float(100 * ((would_be >= 9).mean() - (would_be <= 6).mean())), 2),
    }


def _account_wave_nps(responses: pd.DataFrame) -> pd.DataFrame:
    """Account NPS (mean of +100/0/-100) per account and wave, with detractors and last response."""
    ltr = responses["ltr"].to_numpy(float)
    d = pd.DataFrame({"account_id": responses["account_id"].to_numpy(), "wave": responses["wave"].to_numpy(),
                      "rep_id": responses["rep_id"].to_numpy(),
                      "score": 100.0 * (ltr >= 9) - 100.0 * (ltr <= 6), "detractor": ltr <= 6,
                      "submitted_at": pd.DatetimeIndex(responses["submitted_at"])})
    g = d.groupby(["account_id", "wave"], sort=True).agg(
        nps=("score", "mean"), detractors=("detractor", "sum"), last=("submitted_at", "max"),
        rep_id=("rep_id", "first"))
    return g.reset_index()


def _tilted(rng: np.random.Generator, z: np.ndarray, base: float, tilt: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """Draws with P = logistic(base + tilt * z): (probabilities, draws)."""
    p = 1 / (1 + np.exp(-(base + tilt * z)))
    return p, rng.random(len(z)) < p


def _weighted_gap(x: np.ndarray, p: np.ndarray) -> float:
    """Expected mean of `x` among the drawn minus among the others, over draws with P = `p`."""
    return float((p * x).sum() / p.sum() - ((1 - p) * x).sum() / (1 - p).sum())


def _follow_ups(rng: np.random.Generator, scores: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Follow-ups of accounts with a detractor or a drop, more likely where the next wave rose."""
    s = scores.sort_values(["account_id", "wave"])
    grp = s.groupby("account_id")
    s = s.assign(prev=grp["nps"].shift(1), nxt=grp["nps"].shift(-1), next_wave=grp["wave"].shift(-1))
    elig = s.loc[((s["detractors"] > 0) | (s["nps"] < s["prev"])) & s["nxt"].notna()].reset_index(drop=True)
    delta = (elig["nxt"] - elig["nps"]).to_numpy(float)
    z = (delta - delta.mean()) / max(float(delta.std()), 1e-9)
    p, drawn = _tilted(rng, z, 0.0, FOLLOW_UP_TILT)
    fu = elig.loc[drawn]
    days = rng.gamma(2.0, FOLLOW_UP_MEAN_DAYS / 2, len(fu))
    table = pd.DataFrame({
        "account_id": fu["account_id"].to_numpy(),
        "date": (pd.DatetimeIndex(fu["last"]) + pd.to_timedelta(np.round(days, 2), unit="D")).strftime("%Y-%m-%d"),
        "outcome": rng.choice(["call held", "meeting held", "no reply"], len(fu), p=[0.5, 0.3, 0.2]),
    })
    truth = {"n": len(table), "eligible": len(elig), "mean_days": FOLLOW_UP_MEAN_DAYS,
             "expected_gap_nps_points": round(_weighted_gap(delta, p), 2),
             "realised_gap_nps_points": round(float(delta[drawn].mean() - delta[~drawn].mean()), 2),
             "note": "followed-up accounts (detractor or drop) move more to the next wave: "
                     "planted by who is followed up (observational)"}
    return table, truth


def _concessions(rng: np.random.Generator, scores: pd.DataFrame, accounts: pd.DataFrame,
                 gaming_reps: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Concessions before survey waves: at random from every rep, before the account's better
    waves from two buying reps."""
    reps = sorted(set(scores["rep_id"]) - set(gaming_reps))
    buying = sorted(rng.choice(reps, 2, replace=False).tolist())
    dev = (scores["nps"] - scores.groupby("account_id")["nps"].transform("mean")).to_numpy(float)
    z = dev / max(float(dev.std()), 1e-9)
    is_buyer = scores["rep_id"].isin(buying).to_numpy()
    base = np.log(CONCESSION_BASE_P / (1 - CONCESSION_BASE_P))
    p = np.where(is_buyer, 1 / (1 + np.exp(-(CONCESSION_TILT * z))), CONCESSION_BASE_P)
    drawn = rng.random(len(z)) < p
    c = scores.loc[drawn]
    arr = c["account_id"].map(accounts.set_index("account_id")["arr"]).to_numpy(float)
    start = pd.PeriodIndex(c["wave"], freq="Q").start_time
    table = pd.DataFrame({
        "account_id": c["account_id"].to_numpy(), "rep_id": c["rep_id"].to_numpy(),
        "date": (start + pd.to_timedelta(14 - rng.uniform(3, 40, len(c)), unit="D")).strftime("%Y-%m-%d"),
        "type": rng.choice(CONCESSION_TYPES, len(c)),
        "value": np.round(arr * rng.uniform(0.02, 0.08, len(c)), 2),
    })
    lift = {r: round(_weighted_gap(dev[(scores["rep_id"] == r).to_numpy()],
                                   p[(scores["rep_id"] == r).to_numpy()]), 2) for r in buying}
    buyer_value = table.loc[table["rep_id"].isin(buying), "value"]
    truth = {"buying_reps": buying, "lift_nps_points": lift, "others_lift_nps_points": 0.0,
             "base_rate": CONCESSION_BASE_P, "base_logodds": round(float(base), 3),
             "mean_value_buying": round(float(buyer_value.mean()), 2),
             "note": "within-account: concessions from the buying reps come before the account's "
                     "better waves; everyone else's are at random"}
    return table, truth
