"""The B2B relationship survey of the sample programme.

Accounts (CRM fields, deals with a quarter-end rush, reps of whom some game their scores), 1-8
contacts per account, an invitation per contact and wave, responses drawn from the planted
model, and next-period renewal and expansion that follow the accounts' true experience.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.sample.draws import lookup_map, quarter_end, random_ips, to_items, wave_dates
from helpers.sample.planted_model import (
    B2B_EFFECTS,
    FIRST_NAMES,
    IMPL_ITEMS,
    INDUSTRIES,
    LAST_NAMES,
    QUARTER_END_IMPL_PENALTY,
    QUARTER_END_SLIP_DAYS,
    REGIONS_B2B,
    ROLE_LTR,
    ROLE_RESPONSE_LOGODDS,
    SALES_ITEMS,
    TIER_ARR,
    TIERS,
)


@dataclass(frozen=True)
class B2BProgram:
    """The generated B2B relationship survey and the CRM tables around it."""

    responses: pd.DataFrame    # one row per response (numbers, not yet export text)
    accounts: pd.DataFrame     # CRM extract with next-period outcomes, one row per account
    invitations: pd.DataFrame  # every contact, every wave, and whether they answered
    truth: dict[str, Any]      # what was planted (gaming reps, response rate, outcome model)


@dataclass(frozen=True)
class _Accounts:
    """B2B accounts, one array entry each: CRM fields, the deal and its implementation, and the
    latent experience factors that drive their contacts' answers and the account's outcomes."""

    ids: np.ndarray
    tier: np.ndarray
    arr: np.ndarray
    region: np.ndarray
    industry: np.ndarray
    rep: np.ndarray
    n_reps: int
    gaming_reps: list[str]
    close: pd.DatetimeIndex
    quarter_end: np.ndarray      # deal closed in the last 14 days of a quarter
    slip: np.ndarray             # go-live slip in days
    go_live_planned: pd.DatetimeIndex
    go_live: pd.DatetimeIndex
    f_sales: np.ndarray
    f_impl: np.ndarray
    f_all: np.ndarray
    u_acc: np.ndarray
    propensity: np.ndarray       # logit shift of the contacts' response probability
    silent: np.ndarray           # accounts whose contacts (almost) never answer


@dataclass(frozen=True)
class _Contacts:
    """The accounts' contacts, one array entry each (``account`` indexes :class:`_Accounts`)."""

    account: np.ndarray
    n_per_account: np.ndarray
    role: np.ndarray
    first: np.ndarray
    last: np.ndarray
    email: np.ndarray
    phone: np.ndarray
    noise: np.ndarray            # the contact's own rating style
    corp_ip: np.ndarray          # one per account: its corporate NAT address
    ip_shared: np.ndarray        # contact sits behind the corporate NAT


def b2b_program(rng: np.random.Generator, target: int, wave_labels: list[str], gaming: bool,
                part: int = 0) -> B2BProgram:
    """The B2B survey: accounts, their contacts, an invitation per contact and wave, about
    `target` responses, and next-period account outcomes.

    The steps draw from `rng` in this order; reordering them changes the sample for every seed.
    """
    acc = _b2b_accounts(rng, target, len(wave_labels), gaming, part)
    con = _b2b_contacts(rng, acc)
    invitations, rc, rw = _b2b_invitations(rng, acc, con, wave_labels, target)
    resp = _b2b_responses(rng, acc, con, rc, rw, wave_labels)
    accounts, outcomes = _b2b_outcomes(rng, acc, con, wave_labels[-1])
    truth = {
        "gaming_reps": acc.gaming_reps,
        "b2b_accounts": len(acc.ids), "b2b_reps": acc.n_reps, "silent_accounts": int(acc.silent.sum()),
        "b2b_response_rate": round(float(invitations["responded"].to_numpy().mean()), 4),
        "outcomes": outcomes,
        "pressured_responses": int(resp["pressured"].to_numpy().sum()),
    }
    return B2BProgram(resp, accounts, invitations, truth)


def _b2b_accounts(rng: np.random.Generator, target: int, n_waves: int, gaming: bool,
                  part: int = 0) -> _Accounts:
    """Enough accounts for `target` responses, with reps, deals (a quarter-end rush) and factors."""
    # Expected responses per account per wave ~ 3.8 contacts x 0.5 response rate.
    n_acc = max(30, int(np.ceil(target / (n_waves * 1.9) * 1.15)))
    n_reps = int(np.clip(n_acc // 18, 8, 60))
    prefix = f"{part:03d}-" if part else ""
    acc_ids = np.array([f"A{prefix}{i:05d}" for i in range(1, n_acc + 1)])
    tier = rng.choice(list(TIERS), n_acc, p=list(TIERS.values()))
    arr = lookup_map(tier, TIER_ARR, 0.0) * rng.lognormal(0, 0.5, n_acc)
    region = rng.choice(list(REGIONS_B2B), n_acc, p=list(REGIONS_B2B.values()))
    industry = rng.choice(INDUSTRIES, n_acc)
    rep_ids = np.array([f"R{prefix}{i:02d}" for i in range(1, n_reps + 1)])
    rep = rep_ids[rng.integers(0, n_reps, n_acc)]
    gaming_reps = sorted(rng.choice(rep_ids, 3, replace=False).tolist()) if gaming else []

    # Deal and implementation: a quarter-end rush (deals closed in the last 14 days of a quarter).
    start = pd.Timestamp("2023-01-01")
    day = rng.integers(0, 900, n_acc)
    rush = rng.random(n_acc) < 0.22
    close = start + pd.to_timedelta(day, unit="D")
    q_end = close.to_period("Q").end_time.normalize()
    close = pd.DatetimeIndex(np.where(rush, q_end - pd.to_timedelta(rng.integers(0, 14, n_acc), unit="D"), close))
    qe = quarter_end(close)
    planned_len = lookup_map(tier, {"Enterprise": 150, "Mid-market": 90, "SMB": 45}, 0) \
        * rng.uniform(0.8, 1.2, n_acc)
    slip = np.maximum(0, rng.gamma(1.5, 10, n_acc) + QUARTER_END_SLIP_DAYS * qe + rng.normal(0, 5, n_acc))
    go_live_planned = close + pd.to_timedelta(np.rint(planned_len), unit="D")
    go_live = go_live_planned + pd.to_timedelta(np.rint(slip), unit="D")

    # Account-level experience factors.
    f_sales, f_impl, f_all = rng.normal(0, 1, (3, n_acc))
    u_acc = rng.normal(0, 1, n_acc)
    propensity = rng.normal(0, 0.8, n_acc)
    silent = rng.random(n_acc) < 0.07
    propensity[silent] = -6.0
    return _Accounts(acc_ids, tier, arr, region, industry, rep, n_reps, gaming_reps, close, qe, slip,
                     go_live_planned, go_live, f_sales, f_impl, f_all, u_acc, propensity, silent)


def _b2b_contacts(rng: np.random.Generator, acc: _Accounts) -> _Contacts:
    """1-8 contacts per account (the first is the decision maker), with personal data."""
    n_acc = len(acc.ids)
    n_contacts = 1 + rng.binomial(7, 0.4, n_acc)
    c_acc = np.repeat(np.arange(n_acc), n_contacts)
    first = np.r_[0, np.cumsum(n_contacts)[:-1]]
    is_first = np.zeros(len(c_acc), bool)
    is_first[first] = True
    role = np.where(is_first, "decision_maker", np.where(rng.random(len(c_acc)) < 0.35, "influencer", "user"))
    n_c = len(c_acc)
    c_first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n_c)]
    c_last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n_c)]
    c_email = pd.Series(c_first).str.lower() + "." + pd.Series(c_last).str.lower() + "." + \
        pd.Series(np.arange(n_c)).astype(str) + "@" + pd.Series(acc.ids[c_acc]).str.lower() + ".example.com"
    c_phone = pd.Series(rng.integers(200, 999, n_c)).astype(str) + "-555-" + \
        pd.Series(rng.integers(1000, 9999, n_c)).astype(str)
    c_noise = rng.normal(0, 1, n_c)
    corp_ip = random_ips(rng, n_acc)
    c_ip_shared = rng.random(n_c) < 0.5      # half the contacts sit behind the account's corporate NAT
    return _Contacts(c_acc, n_contacts, role, c_first, c_last, c_email.to_numpy(), c_phone.to_numpy(),
                     c_noise, corp_ip, c_ip_shared)


def _b2b_invitations(rng: np.random.Generator, acc: _Accounts, con: _Contacts,
                     wave_labels: list[str], target: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Every contact invited every wave; who answers depends on role and account.

    Returns the invitations table and, for each response (at most `target`), the contact's and
    the wave's position.
    """
    n_c = len(con.account)
    inv_c = np.tile(np.arange(n_c), len(wave_labels))
    inv_w = np.repeat(np.arange(len(wave_labels)), n_c)
    logit = 0.05 + lookup_map(con.role, ROLE_RESPONSE_LOGODDS, 0.0)[inv_c] + acc.propensity[con.account[inv_c]]
    responded = rng.random(len(inv_c)) < 1 / (1 + np.exp(-logit))
    idx = np.flatnonzero(responded)
    if len(idx) > target:  # trim to the target: the extra invitees simply did not answer
        drop = rng.choice(idx, len(idx) - target, replace=False)
        responded[drop] = False
        idx = np.flatnonzero(responded)
    invited_at = np.asarray((pd.PeriodIndex(wave_labels, freq="Q").start_time
                             + pd.Timedelta(days=10)).strftime("%Y-%m-%d"))[inv_w]
    invitations = pd.DataFrame({
        "wave": np.array(wave_labels)[inv_w], "market": "B2B", "account_id": acc.ids[con.account[inv_c]],
        "contact_email": con.email[inv_c], "role": con.role[inv_c],
        "invited_at": invited_at, "responded": responded,
    })
    return invitations, inv_c[idx], inv_w[idx]


def _b2b_responses(rng: np.random.Generator, acc: _Accounts, con: _Contacts, rc: np.ndarray,
                   rw: np.ndarray, wave_labels: list[str]) -> pd.DataFrame:
    """One row per response (contact `rc` in wave `rw`): answers from the planted model, dates,
    personal data, and the gaming reps' pressure."""
    ra = con.account[rc]
    n = len(rc)
    answers = _b2b_answers(rng, acc, con, ra, rc, rw, len(wave_labels))
    submitted = wave_dates(rng, np.array(wave_labels)[rw])
    touch = submitted - pd.to_timedelta(rng.uniform(3, 60, n), unit="D")
    cols = {
        "market": "B2B", "wave": np.array(wave_labels)[rw], "account_id": acc.ids[ra], "role": con.role[rc],
        "rep_id": acc.rep[ra], "region": acc.region[ra], "industry": acc.industry[ra], "tier": acc.tier[ra],
        "first_name": con.first[rc], "last_name": con.last[rc], "email": con.email[rc],
        "phone": con.phone[rc], "ip": np.where(con.ip_shared[rc], con.corp_ip[ra], random_ips(rng, n)),
        "submitted_at": submitted, **answers,
        "deal_close_date": acc.close[ra], "go_live_planned": acc.go_live_planned[ra],
        "go_live_date": acc.go_live[ra], "last_rep_touch_at": touch, "pressured": np.zeros(n, bool),
    }
    if acc.gaming_reps:
        cols.update(_pressure(rng, acc, ra, cols))
    return pd.DataFrame(cols)


def _b2b_answers(rng: np.random.Generator, acc: _Accounts, con: _Contacts, ra: np.ndarray,
                 rc: np.ndarray, rw: np.ndarray, n_waves: int) -> dict[str, np.ndarray]:
    """LTR, CES, CSAT and the sales and implementation items of each response (account `ra`,
    contact `rc`, wave `rw`): LTR follows :data:`B2B_EFFECTS`; quarter-end deals rate the
    implementation lower and slip."""
    n = len(rc)
    wave_shift = np.array([0.0, 0.05, -0.05, 0.15, 0.1, 0.0, 0.05, -0.1][:n_waves] + [0.0] * max(0, n_waves - 8))
    qe = acc.quarter_end
    items: dict[str, np.ndarray] = {}
    for name in SALES_ITEMS:
        items[name] = to_items(0.6 * acc.f_sales[ra] + 0.3 * acc.f_all[ra] + 0.15 * con.noise[rc]
                               + rng.normal(0, 0.8, n))
    slip_r = acc.slip[ra]
    for name in IMPL_ITEMS:
        lat = 0.6 * acc.f_impl[ra] + 0.3 * acc.f_all[ra] + 0.15 * con.noise[rc] + rng.normal(0, 0.8, n)
        lat = lat + QUARTER_END_IMPL_PENALTY * qe[ra]
        if name == "impl_on_time":
            lat = lat - 0.01 * (slip_r - QUARTER_END_SLIP_DAYS * qe[ra])
        items[name] = to_items(lat)
    ltr_lat = 8.3 + sum(B2B_EFFECTS[k] * (items[k] - 3.5) for k in B2B_EFFECTS) + 0.5 * acc.u_acc[ra] \
        + lookup_map(con.role, ROLE_LTR, 0.0)[rc] + wave_shift[rw] + rng.normal(0, 1.1, n)
    ltr = np.clip(np.rint(ltr_lat), 0, 10)
    ces = np.clip(np.rint(4.9 + 0.5 * (items["impl_onboarding"] - 3.5) + 0.4 * (items["sales_responsiveness"] - 3.5)
                          + rng.normal(0, 1.0, n)), 1, 7)
    csat = np.clip(np.rint(3.7 + 0.3 * (ltr - 7.5) + rng.normal(0, 0.6, n)), 1, 5)
    return {"ltr": ltr, "ces": ces, "csat": csat, **items}


def _pressure(rng: np.random.Generator, acc: _Accounts, ra: np.ndarray, cols: dict[str, Any]
              ) -> dict[str, Any]:
    """Gaming reps: pressured 10s that contradict the experience ratings, right after a rep touch,
    some typed in from the rep's own office IP. Returns the columns it changes."""
    n = len(ra)
    submitted, ltr = cols["submitted_at"], cols["ltr"]
    by_gamer = np.isin(acc.rep[ra], acc.gaming_reps)
    pressured = by_gamer & (rng.random(n) < 0.55) & (ltr < 10)
    touch = pd.DatetimeIndex(np.where(pressured, submitted - pd.to_timedelta(rng.uniform(0.1, 1.8, n), unit="D"),
                                      cols["last_rep_touch_at"]))
    office_ip = {r: random_ips(rng, 1)[0] for r in acc.gaming_reps}
    typed_in = pressured & (rng.random(n) < 0.25)
    return {"ip": np.where(typed_in, lookup_map(acc.rep, office_ip, "")[ra], cols["ip"]),
            "ltr": np.where(pressured, 10.0, ltr), "last_rep_touch_at": touch, "pressured": pressured}


def _b2b_outcomes(rng: np.random.Generator, acc: _Accounts, con: _Contacts, last_wave: str
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The CRM accounts table with next-period renewal and expansion, which depend on the
    accounts' true experience (latent satisfaction); and the planted outcome model."""
    n_acc = len(acc.ids)
    sat = (B2B_EFFECTS["impl_time_to_value"] * acc.f_impl + B2B_EFFECTS["sales_expectations"] * acc.f_sales
           + 0.6 * acc.f_all + 0.5 * acc.u_acc + QUARTER_END_IMPL_PENALTY * acc.quarter_end)
    z = (sat - sat.mean()) / sat.std()
    p_renew = 1 / (1 + np.exp(-(1.9 + 1.0 * z - 0.6 * acc.silent)))
    renewed = rng.random(n_acc) < p_renew
    exp_rate = np.maximum(0, rng.normal(0.05 + 0.06 * z, 0.06))
    expansion = np.where(renewed, acc.arr * exp_rate, 0.0)
    renewal_date = pd.Period(last_wave, freq="Q").end_time.normalize() + \
        pd.to_timedelta(rng.integers(1, 365, n_acc), unit="D")
    accounts = pd.DataFrame({
        "account_id": acc.ids, "account_name": [f"Customer {i} Ltd" for i in range(1, n_acc + 1)],
        "industry": acc.industry, "tier": acc.tier, "region": acc.region, "arr": np.round(acc.arr, 2),
        "rep_id": acc.rep, "n_contacts": con.n_per_account,
        "deal_close_date": acc.close.strftime("%Y-%m-%d"), "go_live_planned": acc.go_live_planned.strftime("%Y-%m-%d"),
        "go_live_date": acc.go_live.strftime("%Y-%m-%d"), "renewal_date": renewal_date.strftime("%Y-%m-%d"),
        "renewed": renewed, "churned": ~renewed, "expansion_arr": np.round(expansion, 2),
    })
    q = np.quantile(z, [0.25, 0.75])
    return accounts, {
        "renewal_logit_per_sd_experience": 1.0,
        "expansion_rate_per_sd_experience": 0.06,
        "expected_renewal_top_quartile": round(float(p_renew[z >= q[1]].mean()), 4),
        "expected_renewal_bottom_quartile": round(float(p_renew[z <= q[0]].mean()), 4),
        "direction": "accounts with better experience renew and expand more",
    }
