"""Sample CX program with planted truth (`cx sample`).

Generates a B2B relationship survey (accounts with several contacts, quarterly waves, invitations,
sales and implementation items, deal dates with a quarter-end rush, gaming reps) and a B2C
transactional survey (a biased sample of a population with known margins), competitor ratings,
comments consistent with the scores, next-period account outcomes, and a synthetic public CX index
with prices. The survey is written as a Qualtrics-style export with planted data-quality defects.
Everything planted is written to ``truth.json`` so later analyses can be checked against it.
Deterministic for a seed; fully vectorised (1,000,000 responses in well under a minute).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.sample import market_data as market_sample

# ---------------------------------------------------------------------------------------------
# The planted model
# ---------------------------------------------------------------------------------------------
SALES_ITEMS = {
    "sales_needs": "Understood our needs",
    "sales_expectations": "Set realistic expectations",
    "sales_pricing": "Pricing was transparent",
    "sales_responsiveness": "Responded quickly to our questions",
    "sales_knowledge": "Knew the product well",
}
IMPL_ITEMS = {
    "impl_on_time": "Delivered on time",
    "impl_on_budget": "Delivered on budget",
    "impl_onboarding": "Onboarding and training",
    "impl_communication": "Project communication",
    "impl_time_to_value": "Time to value",
}
TOUCHPOINT_ITEMS = {
    "tp_purchase": "Ease of purchase",
    "tp_delivery": "Delivery",
    "tp_quality": "Product quality",
    "tp_support": "Customer support",
    "tp_value": "Value for money",
    "tp_app": "App and website",
}
# True effect on LTR (0-10 points) per item point (1-5 scale). Top 3 differ by market.
B2B_EFFECTS = {
    "impl_time_to_value": 0.85, "sales_expectations": 0.75, "impl_onboarding": 0.60,
    "sales_needs": 0.25, "impl_communication": 0.15, "sales_responsiveness": 0.15,
    "impl_on_time": 0.10, "sales_knowledge": 0.10, "sales_pricing": 0.08, "impl_on_budget": 0.05,
}
B2C_EFFECTS = {
    "tp_quality": 0.85, "tp_support": 0.70, "tp_value": 0.55,
    "tp_delivery": 0.20, "tp_purchase": 0.12, "tp_app": 0.08,
}
QUARTER_END_IMPL_PENALTY = -0.8   # item points on every implementation item
QUARTER_END_SLIP_DAYS = 35.0      # extra go-live slip for deals rushed at quarter end
COMPETITORS = {"Northwind": 0.9, "Contoso": -0.6, "Globex": -1.4, "Initech": 0.0}  # LTR shift vs us
POPULATION_MARGINS = {
    "channel": {"Online": 0.50, "Store": 0.30, "Phone": 0.20},
    "age_band": {"18-34": 0.30, "35-54": 0.40, "55+": 0.30},
    "region": {"NA": 0.40, "EMEA": 0.30, "APAC": 0.20, "LATAM": 0.10},
}
# Selection bias of the B2C sample (who answers): online and young over-represented.
B2C_SELECTION = {"channel": {"Online": 1.8, "Store": 0.7, "Phone": 0.5},
                 "age_band": {"18-34": 1.7, "35-54": 0.9, "55+": 0.6},
                 "region": {"NA": 1.0, "EMEA": 1.0, "APAC": 1.0, "LATAM": 1.0}}
B2C_LTR_SHIFT = {"channel": {"Online": -0.4, "Store": 0.6, "Phone": 0.0},
                 "age_band": {"18-34": -0.6, "35-54": 0.0, "55+": 0.7}}
INDUSTRIES = ["Software", "Manufacturing", "Financial services", "Healthcare", "Retail", "Public sector"]
TIERS = {"Enterprise": 0.2, "Mid-market": 0.35, "SMB": 0.45}
TIER_ARR = {"Enterprise": 400_000.0, "Mid-market": 90_000.0, "SMB": 18_000.0}
REGIONS_B2B = {"NA": 0.45, "EMEA": 0.30, "APAC": 0.17, "LATAM": 0.08}
ROLE_LTR = {"decision_maker": -0.3, "influencer": 0.0, "user": 0.25}
LAST_WAVE = pd.Period("2026Q3", freq="Q")
MEDIAN_DURATION_S = 360.0
COMPANY = "Acme Cloud"

FIRST_NAMES = np.array(["Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas",
                        "Kemal", "Lena", "Marco", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tara",
                        "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe"])
LAST_NAMES = np.array(["Schmidt", "Okafor", "Rossi", "Tanaka", "Novak", "Garcia", "Lindqvist", "Dubois",
                       "Kowalski", "Haddad", "Murphy", "Sato", "Jensen", "Silva", "Moreau", "Becker", "Ivanova",
                       "Nguyen", "Fischer", "Costa"])

POSITIVE = {
    "sales_needs": ["The sales team really understood what we needed.", "They took time to learn our business."],
    "sales_expectations": ["Everything promised in the sales cycle was delivered.",
                           "Expectations set during the sale were realistic and met."],
    "sales_pricing": ["Pricing was clear with no surprises.", "Transparent pricing from day one."],
    "sales_responsiveness": ["Our rep always answered quickly.", "Fast answers to every question."],
    "sales_knowledge": ["The rep knew the product inside out.", "Very knowledgeable sales engineers."],
    "impl_on_time": ["Go-live happened on the planned date.", "The project finished on schedule."],
    "impl_on_budget": ["Implementation stayed within budget.", "No cost overruns at all."],
    "impl_onboarding": ["Onboarding and training were excellent.", "Great training, the team was productive fast."],
    "impl_communication": ["Project communication was clear and regular.", "We always knew the project status."],
    "impl_time_to_value": ["We saw value within weeks.", "Quick time to value, it paid off fast."],
    "tp_purchase": ["Buying was quick and easy.", "Checkout took a minute."],
    "tp_delivery": ["Delivery was fast.", "Arrived earlier than promised."],
    "tp_quality": ["The product quality is excellent.", "Great quality, it just works."],
    "tp_support": ["Support solved my problem right away.", "Friendly and helpful support staff."],
    "tp_value": ["Great value for money.", "Worth every cent."],
    "tp_app": ["The app is easy to use.", "Love the website and app."],
}
NEGATIVE = {
    "sales_needs": ["Sales never understood our requirements.", "They pitched features we did not need."],
    "sales_expectations": ["The sales team overpromised and the product did not deliver.",
                           "What we were sold is not what we got."],
    "sales_pricing": ["Hidden costs appeared after signing.", "Pricing was confusing and kept changing."],
    "sales_responsiveness": ["Our rep took weeks to reply.", "Hard to get answers from sales."],
    "sales_knowledge": ["The rep did not know the product.", "Sales could not answer technical questions."],
    "impl_on_time": ["Go-live slipped by months.", "The implementation was badly delayed."],
    "impl_on_budget": ["The project went far over budget.", "Implementation costs doubled."],
    "impl_onboarding": ["Onboarding was a mess and training was poor.", "No proper training for our users."],
    "impl_communication": ["Nobody told us what was happening in the project.", "Poor project communication."],
    "impl_time_to_value": ["Still no value after a year.", "It took far too long to see any benefit."],
    "tp_purchase": ["Checkout kept failing.", "Buying was complicated."],
    "tp_delivery": ["Delivery was late again.", "My order arrived damaged and late."],
    "tp_quality": ["The product broke after a week.", "Poor quality for the price."],
    "tp_support": ["Support never solved my issue.", "Waited an hour to reach support."],
    "tp_value": ["Too expensive for what you get.", "Not worth the money."],
    "tp_app": ["The app keeps crashing.", "The website is confusing."],
}


@dataclass(frozen=True)
class Sample:
    """A generated CX program: raw tables as a platform/CRM would export them, plus the truth."""

    export: pd.DataFrame                 # Qualtrics-style response export (text values, all columns)
    questions: dict[str, str]            # column id -> question text (2nd header row)
    import_ids: dict[str, str]           # column id -> ImportId (3rd header row)
    accounts: pd.DataFrame               # CRM extract, one row per B2B account
    invitations: pd.DataFrame            # distribution list: who was invited, who answered
    cx_index: pd.DataFrame | None = None
    prices: pd.DataFrame | None = None
    truth: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------
def generate(rows: int = 5000, seed: int = 42, gaming: bool = True, waves: int = 4,
             b2b_share: float = 0.6, market_data: bool = True, part: int = 0) -> Sample:
    """Generate the sample program in memory.

    Parameters
    ----------
    rows : number of rows of the survey export (responses incl. planted duplicates and test rows).
    seed : random seed; the same seed gives identical output.
    gaming : plant reps who pressure customers for 10s (False: nobody games).
    waves : quarterly waves ending in 2026Q3.
    b2b_share : share of export rows from the B2B relationship survey.
    market_data : also generate the synthetic public CX index and prices (issue: leaders vs laggards).
    part : a part of a larger programme (:func:`write_parts`): accounts and reps get ids of
        their own (``A003-000001``, ``R003-01``), so parts never share an account or a contact.
    """
    if rows < 200:
        raise ValueError(f"rows={rows}: the sample needs at least 200 rows")
    rng = np.random.default_rng(seed)
    wave_labels = [str(LAST_WAVE - (waves - 1 - i)) for i in range(waves)]
    defects = _defect_counts(rows)
    n_survey = rows - defects["duplicates"]

    b2b = _b2b(rng, int(round(n_survey * b2b_share)), wave_labels, gaming, part)
    b2c, b2c_truth = _b2c(rng, n_survey - len(b2b.responses), wave_labels, seed)
    resp = pd.concat([b2b.responses, b2c], ignore_index=True)
    accounts, invitations, b2b_truth = b2b.accounts, b2b.invitations, b2b.truth
    del b2b, b2c  # (memory: only the combined frame from here on)
    resp = resp.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # mixed order like a real export
    comp, comp_truth = _competitors(rng, resp, seed)
    resp = pd.concat([resp, comp], axis=1)
    del comp
    resp["comment"], pii_truth = _comments(rng, resp)
    n_market = resp["market"].value_counts()

    # Handed over without keeping a reference here, so _to_export can release it early (memory).
    holder = [resp]
    del resp
    export = _to_export(rng, holder.pop(), defects)
    truth = {
        "seed": seed, "rows": int(len(export.frame)), "waves": wave_labels, **_planted_model(),
        "gaming": gaming, **b2b_truth, **b2c_truth, **comp_truth, "defects": export.truth,
        "pii": pii_truth, "b2b_responses": int(n_market.get("B2B", 0)),
        "b2c_responses": int(n_market.get("B2C", 0)),
    }
    cx_index = prices = None
    if market_data:
        cx_index, prices, market_truth = market_sample.make_market_sample(seed)
        truth["market"] = market_truth
    return Sample(export.frame, export.questions, export.import_ids, accounts, invitations, cx_index,
                  prices, truth)


def _planted_model() -> dict[str, Any]:
    """The planted driver model for truth.json: company, driver effects, top 3, quarter-end penalty."""
    return {
        "company": COMPANY,
        "driver_effects": {"B2B": B2B_EFFECTS, "B2C": B2C_EFFECTS},
        "top3": {"B2B": _top(B2B_EFFECTS, 3), "B2C": _top(B2C_EFFECTS, 3)},
        "quarter_end_penalty": {
            "impl_items_points": QUARTER_END_IMPL_PENALTY,
            "go_live_slip_days": QUARTER_END_SLIP_DAYS,
            "ltr_points": round(QUARTER_END_IMPL_PENALTY * sum(v for k, v in B2B_EFFECTS.items()
                                                               if k.startswith("impl_")), 3),
            "sign": "negative",
        },
    }


def _top(effects: dict[str, float], k: int) -> list[str]:
    return [name for name, _ in sorted(effects.items(), key=lambda kv: -kv[1])[:k]]


def _defect_counts(rows: int) -> dict[str, int]:
    def share(p: float, floor: int) -> int:
        return max(floor, int(round(rows * p)))
    return {
        "duplicates": share(0.010, 3), "test_responses": share(0.006, 3), "speeders": share(0.015, 3),
        "straightliners": share(0.010, 3), "out_of_range": share(0.005, 2), "blank_ltr": share(0.012, 3),
        "label_valued": share(0.040, 3),
    }


def _to_items(latent: np.ndarray, center: float = 3.5) -> np.ndarray:
    return np.clip(np.rint(center + latent), 1, 5)


def _quarter_end(dates: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    d = pd.DatetimeIndex(dates)
    q_end = (d.to_period("Q").end_time).normalize()
    return np.asarray((q_end - d.normalize()).days < 14)


def _wave_dates(rng: np.random.Generator, waves: np.ndarray) -> pd.DatetimeIndex:
    """A submission time inside the wave's fielding window (weeks 3-8 of the quarter)."""
    starts = _wave_starts(waves)
    offset = rng.uniform(14, 56, len(waves)) * 86400.0
    return pd.DatetimeIndex(starts + pd.to_timedelta(np.round(offset), unit="s"))


def _wave_starts(waves: np.ndarray) -> pd.DatetimeIndex:
    """Start time of each wave label's quarter (each distinct label parsed once, not per row)."""
    labels, inv = np.unique(np.asarray(waves), return_inverse=True)
    return pd.PeriodIndex(labels, freq="Q").start_time[inv.ravel()]


def _lookup_map(keys: np.ndarray, mapping: dict[Any, Any], default: Any = None) -> np.ndarray:
    """Vectorised ``mapping.get(key, default)`` over an array (replaces np.vectorize(dict.get))."""
    keys = np.asarray(keys)
    vals = np.array([*mapping.values(), default])
    out = np.full(len(keys), vals[-1], dtype=vals.dtype)
    for k, v in zip(mapping, vals[:-1], strict=True):  # few keys: one vectorised comparison each
        out[keys == k] = v
    return out


@dataclass(frozen=True)
class _B2BProgram:
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


def _b2b(rng: np.random.Generator, target: int, wave_labels: list[str], gaming: bool,
         part: int = 0) -> _B2BProgram:
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
    return _B2BProgram(resp, accounts, invitations, truth)


def _b2b_accounts(rng: np.random.Generator, target: int, n_waves: int, gaming: bool,
                  part: int = 0) -> _Accounts:
    """Enough accounts for `target` responses, with reps, deals (a quarter-end rush) and factors."""
    # Expected responses per account per wave ~ 3.8 contacts x 0.5 response rate.
    n_acc = max(30, int(np.ceil(target / (n_waves * 1.9) * 1.15)))
    n_reps = int(np.clip(n_acc // 18, 8, 60))
    prefix = f"{part:03d}-" if part else ""
    acc_ids = np.array([f"A{prefix}{i:05d}" for i in range(1, n_acc + 1)])
    tier = rng.choice(list(TIERS), n_acc, p=list(TIERS.values()))
    arr = _lookup_map(tier, TIER_ARR, 0.0) * rng.lognormal(0, 0.5, n_acc)
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
    qe = _quarter_end(close)
    planned_len = _lookup_map(tier, {"Enterprise": 150, "Mid-market": 90, "SMB": 45}, 0) \
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
    corp_ip = _ips(rng, n_acc)
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
    role_p = {"decision_maker": -0.35, "influencer": 0.0, "user": 0.15}
    logit = 0.05 + _lookup_map(con.role, role_p, 0.0)[inv_c] + acc.propensity[con.account[inv_c]]
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
    submitted = _wave_dates(rng, np.array(wave_labels)[rw])
    touch = submitted - pd.to_timedelta(rng.uniform(3, 60, n), unit="D")
    cols = {
        "market": "B2B", "wave": np.array(wave_labels)[rw], "account_id": acc.ids[ra], "role": con.role[rc],
        "rep_id": acc.rep[ra], "region": acc.region[ra], "industry": acc.industry[ra], "tier": acc.tier[ra],
        "first_name": con.first[rc], "last_name": con.last[rc], "email": con.email[rc],
        "phone": con.phone[rc], "ip": np.where(con.ip_shared[rc], con.corp_ip[ra], _ips(rng, n)),
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
        items[name] = _to_items(0.6 * acc.f_sales[ra] + 0.3 * acc.f_all[ra] + 0.15 * con.noise[rc]
                                + rng.normal(0, 0.8, n))
    slip_r = acc.slip[ra]
    for name in IMPL_ITEMS:
        lat = 0.6 * acc.f_impl[ra] + 0.3 * acc.f_all[ra] + 0.15 * con.noise[rc] + rng.normal(0, 0.8, n)
        lat = lat + QUARTER_END_IMPL_PENALTY * qe[ra]
        if name == "impl_on_time":
            lat = lat - 0.01 * (slip_r - QUARTER_END_SLIP_DAYS * qe[ra])
        items[name] = _to_items(lat)
    ltr_lat = 8.3 + sum(B2B_EFFECTS[k] * (items[k] - 3.5) for k in B2B_EFFECTS) + 0.5 * acc.u_acc[ra] \
        + _lookup_map(con.role, ROLE_LTR, 0.0)[rc] + wave_shift[rw] + rng.normal(0, 1.1, n)
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
    office_ip = {r: _ips(rng, 1)[0] for r in acc.gaming_reps}
    typed_in = pressured & (rng.random(n) < 0.25)
    return {"ip": np.where(typed_in, _lookup_map(acc.rep, office_ip, "")[ra], cols["ip"]),
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


def _ips(rng: np.random.Generator, n: int) -> np.ndarray:
    parts = [pc.cast(pa.array(p), pa.string()) for p in rng.integers(1, 255, (4, n))]
    return pc.binary_join_element_wise(*parts, ".").to_numpy(zero_copy_only=False)


def _b2c_draw(rng: np.random.Generator, n: int, selection: bool) -> dict[str, np.ndarray]:
    """Consumers: attributes from the population margins (x selection factors for the sample).

    Plain arrays (no DataFrame) so that the 400,000-consumer population draw stays cheap.
    """
    cols: dict[str, np.ndarray] = {}
    for var, margin in POPULATION_MARGINS.items():
        levels = list(margin)
        p = np.array([margin[lv] * (B2C_SELECTION[var][lv] if selection else 1.0) for lv in levels])
        cols[var] = rng.choice(levels, n, p=p / p.sum())
    cols["tenure_band"] = rng.choice(["<1y", "1-3y", "3y+"], n, p=[0.3, 0.4, 0.3])
    f = rng.normal(0, 1, n)
    for name in TOUCHPOINT_ITEMS:
        lat = 0.65 * f + rng.normal(0, 0.85, n)
        if name == "tp_support":
            lat = lat + np.where(cols["channel"] == "Store", 0.4, 0.0)
        if name == "tp_app":
            lat = lat + np.where(cols["channel"] == "Online", 0.4, 0.0)
        cols[name] = _to_items(lat, 3.6)
    shift = sum(_lookup_map(cols[var], B2C_LTR_SHIFT[var], np.nan) for var in B2C_LTR_SHIFT)
    ltr_lat = 8.0 + sum(B2C_EFFECTS[k] * (cols[k] - 3.6) for k in B2C_EFFECTS) + shift + rng.normal(0, 1.3, n)
    cols["ltr"] = np.clip(np.rint(ltr_lat), 0, 10)
    return cols


def _nps_of(ltr: np.ndarray) -> float:
    return float(100 * ((ltr >= 9).mean() - (ltr <= 6).mean()))


def _b2c(rng: np.random.Generator, n: int, wave_labels: list[str], seed: int):
    df = pd.DataFrame(_b2c_draw(rng, n, selection=True))
    df["ces"] = np.clip(np.rint(5.2 + 0.5 * (df["tp_support"] - 3.6) + 0.3 * (df["tp_purchase"] - 3.6)
                                + rng.normal(0, 1.0, n)), 1, 7)
    df["csat"] = np.clip(np.rint(3.8 + 0.3 * (df["ltr"] - 7.5) + rng.normal(0, 0.6, n)), 1, 5)
    wave = np.array(wave_labels)[rng.integers(0, len(wave_labels), n)]
    df["market"], df["wave"] = "B2C", wave
    df["submitted_at"] = _wave_dates(rng, wave)
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)]
    df["first_name"], df["last_name"] = first, last
    df["email"] = (pd.Series(first).str.lower() + "_" + pd.Series(last).str.lower()
                   + pd.Series(np.arange(n)).astype(str) + "@mail.example.org").to_numpy()
    df["phone"] = ("+44 7700 " + pd.Series(rng.integers(100000, 999999, n)).astype(str)).to_numpy()
    df["ip"] = _ips(rng, n)
    # The population's true NPS: a large draw of the same model without selection.
    pop = _b2c_draw(np.random.default_rng(seed + 10_007), 400_000, selection=False)
    truth = {
        "b2c_population_margins": POPULATION_MARGINS,
        "b2c_selection_factors": B2C_SELECTION,
        "b2c_population_nps": round(_nps_of(pop["ltr"]), 2),
        "b2c_sample_expected_nps_unweighted": round(_nps_of(df["ltr"].to_numpy()), 2),
    }
    return df, truth


def _competitors(rng: np.random.Generator, resp: pd.DataFrame, seed: int):
    """Each respondent rates the competitors they use (0-10), correlated with their own rating style."""
    n = len(resp)
    ltr = resp["ltr"].to_numpy(float)
    cols, truth = {}, {}
    pop_rng = np.random.default_rng(seed + 20_011)
    for name, shift in COMPETITORS.items():
        uses = rng.random(n) < 0.35
        score = np.clip(np.rint(7.2 + shift + 0.35 * (ltr - 7.5) + rng.normal(0, 1.8, n)), 0, 10)
        cols[f"comp_{name}"] = np.where(uses, score, np.nan)
        # Expected NPS among users: same model over a large draw of our respondents' ltr.
        big = pop_rng.choice(ltr, 200_000)
        sim = np.clip(np.rint(7.2 + shift + 0.35 * (big - 7.5) + pop_rng.normal(0, 1.8, len(big))), 0, 10)
        truth[name] = round(_nps_of(sim), 2)
    return pd.DataFrame(cols, index=resp.index), {"competitor_nps": truth, "competitor_ltr_shift": COMPETITORS}


def _comments(rng: np.random.Generator, resp: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """Comments consistent with the score: praise of the best item, complaint about the worst;
    a known share carries planted personal data (labelled, see :func:`plant_pii`)."""
    n = len(resp)
    is_b2b = (resp["market"] == "B2B").to_numpy()
    b2b_items, b2c_items = list(B2B_EFFECTS), list(B2C_EFFECTS)
    b2b_vals = resp[b2b_items].to_numpy(float)
    b2c_vals = resp[b2c_items].to_numpy(float)
    # Weighted by importance: people talk about what matters to them.
    w_b2b = np.array([B2B_EFFECTS[k] for k in b2b_items]) + 0.2
    w_b2c = np.array([B2C_EFFECTS[k] for k in b2c_items]) + 0.2
    jitter = rng.random((n, max(len(b2b_items), len(b2c_items))))
    best_b2b = np.nanargmax(np.nan_to_num(b2b_vals * w_b2b + jitter[:, :len(b2b_items)] * 0.3, nan=-9), axis=1)
    worst_b2b = np.nanargmax(np.nan_to_num((6 - b2b_vals) * w_b2b + jitter[:, :len(b2b_items)] * 0.3, nan=-9), axis=1)
    best_b2c = np.nanargmax(np.nan_to_num(b2c_vals * w_b2c + jitter[:, :len(b2c_items)] * 0.3, nan=-9), axis=1)
    worst_b2c = np.nanargmax(np.nan_to_num((6 - b2c_vals) * w_b2c + jitter[:, :len(b2c_items)] * 0.3, nan=-9), axis=1)
    best = np.where(is_b2b, np.array(b2b_items)[best_b2b], np.array(b2c_items)[best_b2c])
    worst = np.where(is_b2b, np.array(b2b_items)[worst_b2b], np.array(b2c_items)[worst_b2c])
    variant = rng.integers(0, 2, n)
    # Every possible comment is built once in a small table and rows pick a code (no per-row
    # string building): praise, complaint, "praise But complaint", pressured, blank.
    flat_pos, pos = _lookup_codes(POSITIVE, best, variant)
    flat_neg, neg = _lookup_codes(NEGATIVE, worst, variant)
    n_pos, n_neg = len(flat_pos), len(flat_neg)
    table = np.array([*flat_pos, *flat_neg, *[f"{a} But {b.lower()}" for a in flat_pos for b in flat_neg],
                      *[f"My rep asked me for a 10. {b}" for b in flat_neg], ""], dtype=object)
    ltr = resp["ltr"].to_numpy(float)
    pressured = resp.get("pressured", pd.Series(False, index=resp.index)).fillna(False).to_numpy(bool)
    code = np.where(ltr >= 9, pos, np.where(ltr <= 6, n_pos + neg, n_pos + n_neg + pos * n_neg + neg))
    code = np.where(pressured, n_pos + n_neg + n_pos * n_neg + neg, code)
    blank = (rng.random(n) < 0.3) & ~pressured
    text = table[np.where(blank, len(table) - 1, code)]
    # A few people write their contact details into the comment (must be masked by cleaning).
    pii = (~blank) & (rng.random(n) < 0.02)
    use_email = rng.random(n) < 0.5
    idx = np.flatnonzero(pii)
    email = resp["email"].iloc[idx].astype(str).to_numpy(object)
    phone = resp["phone"].iloc[idx].astype(str).to_numpy(object)
    contact = np.where(use_email[idx], " Contact me at " + email + ".", " Call me on " + phone + ".")
    text[idx] = text[idx] + contact
    # The masking test set: labelled personal data in a known share of the other comments, drawn
    # from a jumped copy of the generator so that every other value of the sample stays the same.
    text, planted = plant_pii(np.random.Generator(rng.bit_generator.jumped()), text, ~blank & ~pii)
    return text, planted


def _lookup_codes(table: dict[str, list[str]], keys: np.ndarray,
                  variant: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The table's phrases flattened, and each row's position in that list (item key, variant)."""
    names = list(table)
    flat = [table[k][v] for k in names for v in range(2)]
    return flat, pd.Index(names).get_indexer(keys) * 2 + variant


# ---------------------------------------------------------------------------------------------
# The Qualtrics-style export, with planted defects
# ---------------------------------------------------------------------------------------------
QUESTION_COLUMNS: dict[str, tuple[str, str]] = {  # canonical -> (column id, question text)
    "ltr": ("Q1", f"How likely are you to recommend {COMPANY} to a friend or colleague?"),
    "ces": ("Q2", f"{COMPANY} made it easy for me to handle my issue."),
    "csat": ("Q3", f"Overall, how satisfied are you with {COMPANY}?"),
    **{k: (f"Q4_{i}", f"Thinking about the sales process, how would you rate us on... - {t}")
       for i, (k, t) in enumerate(SALES_ITEMS.items(), 1)},
    **{k: (f"Q5_{i}", f"Thinking about the implementation, how would you rate us on... - {t}")
       for i, (k, t) in enumerate(IMPL_ITEMS.items(), 1)},
    **{k: (f"Q6_{i}", f"How would you rate your recent experience with... - {t}")
       for i, (k, t) in enumerate(TOUCHPOINT_ITEMS.items(), 1)},
    "comment": ("Q7", "What is the most important reason for your score?"),
    **{f"comp_{v}": (f"Q8_{i}", f"How likely are you to recommend each of these vendors? - {v}")
       for i, v in enumerate(COMPETITORS, 1)},
}
EMBEDDED = {  # canonical -> embedded data field
    "market": "Market", "account_id": "AccountID", "role": "ContactRole", "wave": "Wave", "rep_id": "RepID",
    "region": "Region", "industry": "Industry", "tier": "Tier", "channel": "Channel", "age_band": "AgeBand",
    "tenure_band": "Tenure", "deal_close_date": "DealCloseDate", "go_live_planned": "GoLivePlanned",
    "go_live_date": "GoLiveDate", "last_rep_touch_at": "LastRepTouch", "phone": "Phone",
}
GRIDS = {"Q4": list(SALES_ITEMS), "Q5": list(IMPL_ITEMS), "Q6": list(TOUCHPOINT_ITEMS)}
LTR_LABELS = {0.0: "0 - Not at all likely", 10.0: "10 - Extremely likely"}
NA_CODES = ["N/A", "Don't know", "-99"]


@dataclass(frozen=True)
class _Export:
    """The Qualtrics-style export and what :func:`_to_export` planted in it."""

    frame: pd.DataFrame            # text values, all columns, duplicates included, shuffled
    questions: dict[str, str]      # column id -> question text (2nd header row)
    import_ids: dict[str, str]     # column id -> ImportId (3rd header row)
    truth: dict[str, Any]          # defect counts and the test response ids


@dataclass(frozen=True)
class _DefectRows:
    """Disjoint row positions of each row-level defect (``planted``: all of them)."""

    test: np.ndarray
    speed: np.ndarray
    straight: np.ndarray
    out_of_range: np.ndarray
    blank_ltr: np.ndarray
    duplicate_of: np.ndarray       # rows that get an earlier duplicate submission
    planted: np.ndarray


def _to_export(rng: np.random.Generator, resp: pd.DataFrame, defects: dict[str, int]) -> _Export:
    """The responses as a Qualtrics-style text export with the planted defects.

    Consumes `resp` (pass the only reference: the numbers are dropped before the text export is
    built, so both never sit in memory in full). The steps draw from `rng` in this order;
    reordering them changes the sample for every seed.
    """
    n = len(resp)
    resp = resp.copy()
    _add_platform_fields(rng, resp)
    rows = _defect_rows(rng, n, defects)
    _plant_test_and_speeders(rng, resp, rows)
    _plant_straightliners(rng, resp, rows.straight)
    text = _answer_text(rng, resp, rows)
    n_labels = _plant_labels(rng, resp, text, rows.planted, defects["label_valued"])
    _plant_not_applicable(rng, resp, text, rows.straight)

    pii_comments = resp["comment"].str.contains("@", regex=False) | resp["comment"].str.contains("Call me on")
    test_ids = sorted(resp.loc[rows.test, "response_id"].tolist())[:50]
    dup_resp = resp.iloc[rows.duplicate_of][["submitted_at", "duration"]].copy()
    keep = ["market", "region", "submitted_at", "duration", "status", "ip", "progress", "finished",
            "response_id", "last_name", "first_name", "email", "channel_dist", "comment"]
    resp = resp[[c for c in resp.columns if c in keep or c in EMBEDDED]]  # (memory: drop the numbers)
    columns = _export_frame(resp, text)  # consumes resp and text
    del resp, text
    questions = {c: q for c, q in _header_text().items()}
    export = _with_duplicates(rng, columns, dup_resp, rows.duplicate_of, questions)

    item_cols = [QUESTION_COLUMNS[c][0] for c in [*B2B_EFFECTS, *B2C_EFFECTS]]
    truth = {
        **{k: int(v) for k, v in defects.items()},
        "label_valued": n_labels,
        "not_applicable_answers": int(export[item_cols].isin(NA_CODES).to_numpy().sum()),
        "comments_with_contact_details": int(pii_comments.sum()),
        "test_response_ids": test_ids,
    }
    return _Export(export, questions, _import_ids(), truth)


def _add_platform_fields(rng: np.random.Generator, resp: pd.DataFrame) -> None:
    """Fields the survey platform records: response id, duration, status, progress, channel."""
    n = len(resp)
    resp["response_id"] = "R_" + _ids(rng, n).astype(object)
    dur = MEDIAN_DURATION_S * np.exp(np.clip(rng.normal(0, 0.35, n), -0.75, 1.5))
    resp["duration"] = np.rint(dur)
    resp["status"] = "IP Address"
    resp["progress"], resp["finished"] = 100, 1
    resp["channel_dist"] = "email"


def _defect_rows(rng: np.random.Generator, n: int, defects: dict[str, int]) -> _DefectRows:
    """Draw disjoint rows for each row-level defect, as many as `defects` asks for."""
    order = rng.permutation(n)
    cuts = np.cumsum([defects[k] for k in ("test_responses", "speeders", "straightliners", "out_of_range",
                                           "blank_ltr", "duplicates")])
    return _DefectRows(*np.split(order[:cuts[-1]], cuts[:-1]), planted=order[:cuts[-1]])


def _plant_test_and_speeders(rng: np.random.Generator, resp: pd.DataFrame, rows: _DefectRows
                             ) -> None:
    """Test, preview and spam responses (no contact details unless spam); speeders' durations."""
    test_r, speed_r = rows.test, rows.speed
    test_kind = rng.choice(["Survey Preview", "Survey Test", "Spam"], len(test_r))
    resp.loc[test_r, "status"] = test_kind
    resp.loc[test_r, "channel_dist"] = np.where(test_kind == "Spam", "anonymous", np.where(
        test_kind == "Survey Preview", "preview", "test"))
    for col in ("email", "first_name", "last_name"):
        resp.loc[test_r, col] = np.where(test_kind == "Spam", resp.loc[test_r, col], "")
    resp.loc[speed_r, "duration"] = np.rint(MEDIAN_DURATION_S * rng.uniform(0.05, 0.22, len(speed_r)))


def _plant_straightliners(rng: np.random.Generator, resp: pd.DataFrame, straight_r: np.ndarray
                          ) -> None:
    """Straightliners: one grid answered with a single value throughout; nobody else has one."""
    # (The draws stay in a scalar loop so the random stream is unchanged; the writes are vectorised.)
    market = resp["market"].to_numpy(object)
    s_grid = np.empty(len(straight_r), dtype=object)
    s_val = np.empty(len(straight_r), dtype=float)
    for i, r in enumerate(straight_r):
        s_grid[i] = "Q6" if market[r] == "B2C" else str(rng.choice(["Q4", "Q5"]))
        s_val[i] = float(rng.integers(1, 6))
    for g, grid in GRIDS.items():
        sel = s_grid == g
        for c in grid:
            arr = resp[c].to_numpy(float, copy=True)
            arr[straight_r[sel]] = s_val[sel]
            resp[c] = arr
    # Everyone else: no accidental straightlining (a genuinely flat grid is vanishingly rare).
    others = np.setdiff1d(np.arange(len(resp)), straight_r)
    for grid in GRIDS.values():
        vals = resp[grid].to_numpy(float)[others]
        full = np.isfinite(vals).sum(axis=1) >= 5
        flat = full & (np.nanmax(np.where(full[:, None], vals, 0), axis=1)
                       == np.nanmin(np.where(full[:, None], vals, 0), axis=1))
        rows = others[flat]
        col = rng.integers(0, len(grid), len(rows))
        cur = vals[flat, col]
        bumped = np.where(cur >= 5, cur - 1, cur + 1)
        arr = resp[grid].to_numpy(float, copy=True)
        arr[rows, col] = bumped
        resp[grid] = arr


def _answer_text(rng: np.random.Generator, resp: pd.DataFrame, rows: _DefectRows
                 ) -> dict[str, _TextCodes]:
    """Answers as text the way a platform writes them, with out-of-range values and blank LTRs
    planted (a blank LTR's response is half the time unfinished)."""
    text = {c: _TextCodes.of_numbers(resp[c]) for c in ["ltr", "ces", "csat", *B2B_EFFECTS, *B2C_EFFECTS,
                                                          *[f"comp_{v}" for v in COMPETITORS]]}
    oor_r, blank_r = rows.out_of_range, rows.blank_ltr
    half = len(oor_r) // 2
    text["ltr"][oor_r[:half]] = rng.choice(["11", "12", "15"], half)
    text["ces"][oor_r[half:]] = rng.choice(["8", "9", "0"], len(oor_r) - half)
    text["ltr"][blank_r] = ""
    resp.loc[blank_r, "finished"] = np.where(rng.random(len(blank_r)) < 0.5, 0, 1)
    resp.loc[blank_r, "progress"] = np.where(resp.loc[blank_r, "finished"] == 0, 45, 100)
    return text


def _plant_labels(rng: np.random.Generator, resp: pd.DataFrame, text: dict[str, _TextCodes],
                  planted: np.ndarray, n_labels: int) -> int:
    """Label-valued LTR answers ("10 - Extremely likely") on clean rows whose LTR is 0 or 10;
    returns how many were planted."""
    cand = np.setdiff1d(np.flatnonzero(np.isin(resp["ltr"].to_numpy(), [0.0, 10.0])), planted)
    lab = rng.choice(cand, min(n_labels, len(cand)), replace=False)
    text["ltr"][lab] = _lookup_map(resp["ltr"].to_numpy()[lab], LTR_LABELS, None)
    return int(len(lab))


def _plant_not_applicable(rng: np.random.Generator, resp: pd.DataFrame, text: dict[str, _TextCodes],
                          straight_r: np.ndarray) -> None:
    """Plant "not applicable" codes on driver items (cleaning must make them missing, not 0)."""
    na_hit: dict[str, np.ndarray] = {}
    for c in [*B2B_EFFECTS, *B2C_EFFECTS]:
        col = text[c]
        hit = col.nonblank() & (rng.random(len(resp)) < 0.015)
        hit[straight_r] = False
        col[hit] = rng.choice(NA_CODES, int(hit.sum()))
        na_hit[c] = hit
    # Undo codes that would leave a grid flat (5+ answers, one value): those rows are not planted.
    # A cell reads as its number unless it was given a code above, so the numbers come from resp.
    for grid in GRIDS.values():
        coded = np.column_stack([na_hit[c] for c in grid])
        vals = resp[grid].to_numpy(float, copy=True)
        vals[coded] = np.nan
        n_ans = np.isfinite(vals).sum(axis=1)
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(np.where(n_ans[:, None] > 0, vals, 0), axis=1) - \
                np.nanmin(np.where(n_ans[:, None] > 0, vals, 0), axis=1)
        accidental = (n_ans >= 5) & (spread == 0) & coded.any(axis=1)
        for j, c in enumerate(grid):
            undo = accidental & coded[:, j]
            if undo.any():
                text[c][undo] = _num_text(resp[c][undo])


def _with_duplicates(rng: np.random.Generator, columns: dict[str, Any], dup_resp: pd.DataFrame,
                     dup_src: np.ndarray, questions: dict[str, str]) -> pd.DataFrame:
    """The export frame: every row plus the duplicates, shuffled, in the order of `questions`.

    A duplicate is an earlier complete submission by the same contact in the same wave (a copy
    of row `dup_src` with earlier dates and its own response id). Consumes `columns`.
    """
    dup_take = pa.array(dup_src)
    dups = {c: a.take(dup_take) for c, a in columns.items()}
    earlier = dup_resp["submitted_at"] - pd.to_timedelta(rng.uniform(1, 72, len(dup_src)), unit="h")
    dups["EndDate"] = _fmt_dates(earlier)
    dups["RecordedDate"] = dups["EndDate"]
    dups["StartDate"] = _fmt_dates(earlier - pd.to_timedelta(dup_resp["duration"].to_numpy(), unit="s"))
    dups["ResponseId"] = pa.array([f"R_{x}" for x in _ids(rng, len(dup_src))], pa.string())
    # Rows and duplicates in a shuffled order, taken once per column; the order is exactly the one
    # DataFrame.sample(frac=1.0, random_state=seed) draws (RandomState.choice without replacement).
    total = len(columns["ResponseId"]) + len(dup_src)
    order_all = pa.array(np.random.RandomState(int(rng.integers(0, 2**31))).choice(total, total, replace=False))
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype
    export_cols = {}
    for c in questions:
        whole = pa.chunked_array([columns.pop(c), dups.pop(c)]).take(order_all)
        export_cols[c] = pd.Series(whole, dtype=dtype)
    return pd.DataFrame(export_cols)


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    chars = alphabet[rng.integers(0, len(alphabet), (n, 15))]
    return chars.view(f"<U{15}").ravel() if chars.flags["C_CONTIGUOUS"] else np.array(["".join(r) for r in chars])


class _TextCodes:
    """A text column held as integer codes into a small vocabulary.

    Answer columns have a handful of distinct values; editing codes and turning them into one
    Arrow string array at the end avoids a million Python strings per column.
    """

    def __init__(self, codes: np.ndarray, vocab: list[str]) -> None:
        self.codes, self.vocab = codes, list(vocab)

    @classmethod
    def of_numbers(cls, s: pd.Series) -> _TextCodes:
        """Whole numbers as text, "" when missing."""
        v = s.to_numpy(float)
        ok = np.isfinite(v)
        codes = np.zeros(len(v), np.int16)
        found, uniq = pd.factorize(v[ok].astype(np.int64))
        codes[ok] = found + 1
        return cls(codes, ["", *uniq.astype(str).tolist()])

    def __setitem__(self, rows: np.ndarray, values: str | np.ndarray) -> None:
        if isinstance(values, str):
            values = np.array([values], dtype=object)[np.zeros(len(self.codes[rows]), np.intp)]
        uniq, inv = np.unique(np.asarray(values, dtype=object), return_inverse=True)
        base = len(self.vocab)
        self.vocab.extend(str(u) for u in uniq)
        self.codes[rows] = base + inv.ravel()

    def nonblank(self) -> np.ndarray:
        """True where the text is not empty."""
        blank = [i for i, v in enumerate(self.vocab) if v == ""]
        return ~np.isin(self.codes, blank)

    def to_arrow(self):
        return pc.take(pa.array(self.vocab, pa.string()), pa.array(self.codes))


def _num_text(s: pd.Series) -> np.ndarray:
    """Whole numbers as text ("" when missing); each distinct value is formatted once."""
    v = s.to_numpy(float)
    out = np.full(len(v), "", dtype=object)
    ok = np.isfinite(v)
    if ok.any():
        codes, uniq = pd.factorize(v[ok].astype(int))
        out[ok] = uniq.astype(str).astype(object)[codes]
    return out


def _fmt_dates(s: pd.Series | pd.DatetimeIndex, with_time: bool = True):
    """Datetimes as export text, "%Y-%m-%d %H:%M:%S" (or "%Y-%m-%d"), "" when missing.

    Returns an Arrow string array. Each distinct day and each distinct time of day is formatted
    once and the parts are joined in Arrow (pandas strftime formats row by row).
    """
    a = np.asarray(pd.to_datetime(s), dtype="datetime64[ns]").astype("datetime64[s]")
    nat = np.isnat(a)
    days, tod = np.divmod(a.astype(np.int64), 86400)
    day_u, day_i = np.unique(np.where(nat, 0, days), return_inverse=True)
    text = pc.take(pa.array(np.datetime_as_string(day_u.astype("datetime64[D]")).tolist(), pa.string()),
                   pa.array(day_i.ravel()))
    if with_time:
        tod_u, tod_i = np.unique(np.where(nat, 0, tod), return_inverse=True)
        clock = [f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}" for t in tod_u.tolist()]
        text = pc.binary_join_element_wise(text, pc.take(pa.array(clock, pa.string()),
                                                         pa.array(tod_i.ravel())), " ")
    return pc.if_else(pa.array(nat), "", text)


def _export_frame(resp: pd.DataFrame, text: dict[str, _TextCodes]) -> dict[str, Any]:
    """The export's columns as text, built as Arrow string arrays (no per-row Python strings).

    Consumes `resp` and `text`: each source column is removed once converted, so the response
    frame and the export never both sit in memory in full.
    """
    n = len(resp)
    b2b = pa.array((resp["market"] == "B2B").to_numpy(bool))
    lat, lon = _coords(resp)
    end = resp.pop("submitted_at")
    duration = resp.pop("duration")
    end_text = _fmt_dates(end)

    def strings(name: str) -> pa.Array:
        return pa.array(resp.pop(name).fillna("").astype(str), pa.string())

    def const(value: str) -> pa.Array:
        return pc.take(pa.array([value], pa.string()), pa.array(np.zeros(n, np.int32)))

    cols: dict[str, Any] = {
        "StartDate": _fmt_dates(end - pd.to_timedelta(duration, unit="s")),
        "EndDate": end_text,
        "Status": strings("status"),
        "IPAddress": strings("ip"),
        "Progress": _TextCodes.of_numbers(resp.pop("progress")).to_arrow(),
        "Duration (in seconds)": _TextCodes.of_numbers(duration).to_arrow(),
        "Finished": _TextCodes.of_numbers(resp.pop("finished")).to_arrow(),
        "RecordedDate": end_text,
        "ResponseId": strings("response_id"),
        "RecipientLastName": strings("last_name"),
        "RecipientFirstName": strings("first_name"),
        "RecipientEmail": strings("email"),
        "ExternalReference": const(""),
        "LocationLatitude": lat, "LocationLongitude": lon,
        "DistributionChannel": strings("channel_dist"),
        "UserLanguage": const("EN"),
    }
    del end, duration
    for canon, (col, _) in QUESTION_COLUMNS.items():
        cols[col] = text.pop(canon).to_arrow() if canon in text else strings(canon)
    for canon, col in EMBEDDED.items():
        if canon in ("deal_close_date", "go_live_planned", "go_live_date", "last_rep_touch_at"):
            vals = pc.if_else(b2b, _fmt_dates(resp.pop(canon), with_time=canon == "last_rep_touch_at"), "")
        else:
            vals = strings(canon) if canon in resp else const("")
        cols[col] = vals
    return cols


def _coords(resp: pd.DataFrame):
    """Jittered location per region, as text; each distinct value is formatted once."""
    centre = {"NA": (40.7, -74.0), "EMEA": (50.1, 8.7), "APAC": (1.35, 103.8), "LATAM": (-23.5, -46.6)}
    table = np.array([*centre.values(), (0.0, 0.0)])
    pos = pd.Index(list(centre)).get_indexer(resp["region"].fillna("NA").to_numpy(object))
    c = table[np.where(pos < 0, len(centre), pos)]
    jit = np.random.default_rng(7).normal(0, 0.5, c.shape)
    out = []
    for j in range(2):
        bits = np.round(c[:, j] + jit[:, j], 4).view(np.int64)  # exact: keeps -0.0 apart from 0.0
        codes, uniq = pd.factorize(bits)
        out.append(pc.take(pa.array(uniq.view(np.float64).astype(str).tolist(), pa.string()),
                           pa.array(codes)))
    return out[0], out[1]


def _header_text() -> dict[str, str]:
    base = {
        "StartDate": "Start Date", "EndDate": "End Date", "Status": "Response Type", "IPAddress": "IP Address",
        "Progress": "Progress", "Duration (in seconds)": "Duration (in seconds)", "Finished": "Finished",
        "RecordedDate": "Recorded Date", "ResponseId": "Response ID", "RecipientLastName": "Recipient Last Name",
        "RecipientFirstName": "Recipient First Name", "RecipientEmail": "Recipient Email",
        "ExternalReference": "External Data Reference", "LocationLatitude": "Location Latitude",
        "LocationLongitude": "Location Longitude", "DistributionChannel": "Distribution Channel",
        "UserLanguage": "User Language",
    }
    base.update({col: q for col, q in QUESTION_COLUMNS.values()})
    base.update({col: col for col in EMBEDDED.values()})
    return base


def _import_ids() -> dict[str, str]:
    meta = {"StartDate": '{"ImportId":"startDate","timeZone":"America/Denver"}',
            "EndDate": '{"ImportId":"endDate","timeZone":"America/Denver"}',
            "Status": '{"ImportId":"status"}', "IPAddress": '{"ImportId":"ipAddress"}',
            "Progress": '{"ImportId":"progress"}', "Duration (in seconds)": '{"ImportId":"duration"}',
            "Finished": '{"ImportId":"finished"}',
            "RecordedDate": '{"ImportId":"recordedDate","timeZone":"America/Denver"}',
            "ResponseId": '{"ImportId":"_recordId"}', "RecipientLastName": '{"ImportId":"recipientLastName"}',
            "RecipientFirstName": '{"ImportId":"recipientFirstName"}',
            "RecipientEmail": '{"ImportId":"recipientEmail"}',
            "ExternalReference": '{"ImportId":"externalDataReference"}',
            "LocationLatitude": '{"ImportId":"locationLatitude"}',
            "LocationLongitude": '{"ImportId":"locationLongitude"}',
            "DistributionChannel": '{"ImportId":"distributionChannel"}',
            "UserLanguage": '{"ImportId":"userLanguage"}'}
    for col, _ in QUESTION_COLUMNS.values():
        qid = "QID" + col[1:]
        meta[col] = json.dumps({"ImportId": qid + ("_TEXT" if col == "Q7" else "")}, separators=(",", ":"))
    for col in EMBEDDED.values():
        meta[col] = json.dumps({"ImportId": col}, separators=(",", ":"))
    return meta


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
FORMATS = ("qualtrics", "csv", "xlsx", "sav")


def write(sample: Sample, out_dir: str | Path, fmt: str = "qualtrics") -> dict[str, Path]:
    """Write the sample into `out_dir`: the survey export, side tables and truth.json.

    fmt: "qualtrics" (CSV with 3 header rows, the default), "csv" (one header row),
    "xlsx" (Qualtrics-style XLSX) or "sav" (SPSS with value labels and -99 user-missing).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} unknown; expected one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    ext = {"qualtrics": "csv", "csv": "csv", "xlsx": "xlsx", "sav": "sav"}[fmt]
    survey = out / f"survey_export.{ext}"
    if fmt == "qualtrics":
        _write_qualtrics_csv(sample, survey)
    elif fmt == "csv":
        _atomic(survey, lambda p: sample.export.to_csv(p, index=False))
    elif fmt == "xlsx":
        _atomic(survey, lambda p: _write_xlsx(sample, p))
    else:
        _atomic(survey, lambda p: _write_sav(sample, p))
    written["survey_export"] = survey
    tables = {"accounts": sample.accounts, "invitations": sample.invitations,
              "cx_index": None if sample.cx_index is None else
              sample.cx_index.assign(source="synthetic sample (cx sample): not real companies"),
              "prices": sample.prices}
    for name, df in tables.items():
        if df is not None:
            p = out / f"{name}.csv"
            _atomic(p, lambda tmp, df=df: _fast_csv(df, tmp))
            written[name] = p
    truth_path = out / "truth.json"
    _atomic(truth_path, lambda p: Path(p).write_text(json.dumps(sample.truth, indent=2), encoding="utf-8"))
    written["truth"] = truth_path
    return written


#: Rows per part of a large sample (:func:`write_parts`).
PART_ROWS = 1_000_000


def write_parts(rows: int, out_dir: str | Path, seed: int = 42, gaming: bool = True,
                part_rows: int = PART_ROWS) -> dict[str, Path]:
    """A programme too large to generate in memory, written part by part: several CSV exports.

    Each part is an independent business unit of the same planted model (seed + part number,
    accounts, reps and contacts of its own), generated and written before the next starts, so
    memory stays that of one part. Writes ``survey_export/part-NNN.csv`` (Qualtrics layout, each
    with its header rows) and ``invitations/part-NNN.csv``, one ``accounts.csv``, the market data
    of part 0 and ``truth.json`` (the planted model, counts summed over parts, every part's
    gaming reps). Files already in the two folders are replaced.
    """
    import pyarrow.csv as pacsv

    out = Path(out_dir)
    n_parts = max(1, -(-rows // part_rows))
    sizes = [rows // n_parts + (k < rows % n_parts) for k in range(n_parts)]
    folders = {name: out / name for name in ("survey_export", "invitations")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.csv"):
            old.unlink()
    truth: dict[str, Any] = {}
    acc_tmp = out / ".accounts.csv.tmp"
    try:
        for k, size in enumerate(sizes):
            sample = generate(rows=size, seed=seed + k, gaming=gaming, market_data=k == 0, part=k)
            _write_qualtrics_csv(sample, folders["survey_export"] / f"part-{k:03d}.csv")
            _atomic(folders["invitations"] / f"part-{k:03d}.csv",
                    lambda tmp, df=sample.invitations: _fast_csv(df, tmp))
            with open(acc_tmp, "ab") as fh:
                table = pa.Table.from_pandas(sample.accounts, preserve_index=False)
                pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=k == 0,
                                                              quoting_style="needed"))
            if k == 0 and sample.cx_index is not None and sample.prices is not None:
                index = sample.cx_index.assign(source="synthetic sample (cx sample): not real companies")
                for name, df in (("cx_index", index), ("prices", sample.prices)):
                    _atomic(out / f"{name}.csv", lambda tmp, df=df: _fast_csv(df, tmp))
            truth = _merge_truth(truth, sample.truth, k)
            del sample
        acc_tmp.replace(out / "accounts.csv")
    finally:
        acc_tmp.unlink(missing_ok=True)
    truth.update(rows=rows, parts=n_parts, seed=seed)
    truth_path = out / "truth.json"
    _atomic(truth_path, lambda p: Path(p).write_text(json.dumps(truth, indent=2), encoding="utf-8"))
    return {"survey_export": folders["survey_export"], "invitations": folders["invitations"],
            "accounts": out / "accounts.csv", "cx_index": out / "cx_index.csv",
            "prices": out / "prices.csv", "truth": truth_path}


def _merge_truth(total: dict[str, Any], part: dict[str, Any], k: int) -> dict[str, Any]:
    """The first part's truth (the planted model), counts summed and gaming reps listed over parts."""
    if not total:
        return {**part, "defects": {"per_part": [part.get("defects", {})]}}
    for key in ("b2b_responses", "b2c_responses", "b2b_accounts", "b2b_reps", "silent_accounts",
                "pressured_responses"):
        if isinstance(part.get(key), int):
            total[key] = int(total.get(key, 0)) + part[key]
    total["gaming_reps"] = [*total.get("gaming_reps", []), *part.get("gaming_reps", [])]
    total["defects"]["per_part"].append(part.get("defects", {}))
    total.pop("pii", None)   # labelled PII of the first part only would mislead
    return total


def _atomic(path: Path, writer) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        writer(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _fast_csv(df: pd.DataFrame, path: Path) -> None:
    import pyarrow.csv as pacsv
    table = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(table, str(path), pacsv.WriteOptions(quoting_style="needed"))


def _write_qualtrics_csv(sample: Sample, path: Path) -> None:
    import pyarrow.csv as pacsv

    def writer(tmp: Path) -> None:
        head = io.StringIO()
        w = csv.writer(head, lineterminator="\n")
        cols = list(sample.export.columns)
        w.writerow(cols)
        w.writerow([sample.questions[c] for c in cols])
        w.writerow([sample.import_ids[c] for c in cols])
        table = pa.table({c: pa.array(sample.export[c].astype(str), pa.string()) for c in cols})
        with open(tmp, "wb") as fh:
            fh.write(head.getvalue().encode("utf-8"))
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    _atomic(path, writer)


def _write_xlsx(sample: Sample, path: Path) -> None:
    cols = list(sample.export.columns)
    header = pd.DataFrame([[sample.questions[c] for c in cols], [sample.import_ids[c] for c in cols]], columns=cols)
    pd.concat([header, sample.export], ignore_index=True).to_excel(path, index=False, engine="openpyxl")


def _write_sav(sample: Sample, path: Path) -> None:
    import pyreadstat
    df = sample.export.copy()
    labels: dict[str, dict[float, str]] = {}
    missing: dict[str, list[float]] = {}
    numeric = [col for canon, (col, _) in QUESTION_COLUMNS.items() if canon != "comment"]
    for col in numeric:
        s = df[col].replace({"N/A": "-99", "Don't know": "-99", **{v: str(int(k)) for k, v in LTR_LABELS.items()}})
        df[col] = pd.to_numeric(s, errors="coerce")
        missing[col] = [-99.0]
        labels[col] = {-99.0: "Not applicable"}
    labels["Q1"].update({0.0: "Not at all likely", 10.0: "Extremely likely"})
    safe = {c: "".join(ch if ch.isalnum() else "_" for ch in c) for c in df.columns}
    df = df.rename(columns=safe)
    pyreadstat.write_sav(df, str(path), column_labels=[sample.questions[c] for c in sample.export.columns],
                         variable_value_labels={safe[k]: v for k, v in labels.items()},
                         missing_ranges={safe[k]: v for k, v in missing.items()})


# --- planted personal data: the labelled test set of the free-text masking ------------------

PII_SHARE = 0.06  # share of (non-blank, contact-free) comments that get planted personal data
PII_KINDS = ("name", "address", "postcode", "iban", "card", "id_number", "phone", "email")
# Invented or rarer names on purpose: the masker's bundled name list is not this one.
_GIVEN = ["John", "Priya", "Anna", "Mohammed", "Sofia", "Lukas", "Camille", "Daan", "Lucia",
          "Giulia", "Jakub", "Astrid", "Siobhan", "Oluwaseun", "Mei", "Hiroshi", "Fatima", "Mateo",
          "Ingrid", "Kwame", "Aoife", "Thijs", "Zofia", "Björn", "Élodie", "Nikolai", "Rahul",
          "Chiara", "Emre", "Leilani", "Tomasz", "Greta", "Xiomara", "Dmitri", "Saoirse", "Yusuf",
          "Ewa", "Matthias", "Will", "Grace"]
_SURNAMES = ["Smith", "Patel", "Müller", "Dubois", "de Vries", "García", "Rossi", "Kowalski",
             "Johansson", "O'Brien", "Okafor", "Nakamura", "Haddad", "Jensen", "van der Berg",
             "Novak", "Fernández", "Schmidt", "Bianchi", "Murphy", "Andersson", "Nguyen",
             "Adeyemi", "Lindqvist", "Quendel", "Vasterby", "Oyelaran", "Brennan", "Castellanos"]
_NAME_SENTENCES = ["Ask for {first} {last}.", "{first} from support sorted it.",
                   "Our account manager is {first} {last}.", "Please pass this on to Mr {last}.",
                   "I spoke with {first} twice.", "{first} {last} in onboarding took the call.",
                   "Copy {first} {last} on the reply.", "Please pass this on to Ms {last}."]


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def _pick(rng: np.random.Generator, options: list[Any]) -> Any:
    return options[int(rng.integers(0, len(options)))]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _iban(rng: np.random.Generator) -> str:
    country, bban = _pick(rng, [("DE", lambda: _digits(rng, 18)),
                                ("GB", lambda: _pick(rng, ["NWBK", "BARC", "LOYD"]) + _digits(rng, 14)),
                                ("NL", lambda: _pick(rng, ["ABNA", "RABO", "INGB"]) + _digits(rng, 10)),
                                ("AT", lambda: _digits(rng, 16)),
                                ("IE", lambda: _pick(rng, ["AIBK", "BOFI"]) + _digits(rng, 14))])
    body = bban()
    numeric = "".join(str(int(c, 36)) for c in body + country + "00")
    code = f"{country}{98 - int(numeric) % 97:02d}{body}"
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4)) if rng.random() < 0.6 else code


def _card(rng: np.random.Generator) -> str:
    body = _pick(rng, ["4", "51", "55", "37"])
    length = 15 if body == "37" else 16
    body += _digits(rng, length - 1 - len(body))
    number = body + _luhn_digit(body)
    sep = _pick(rng, [" ", "-", ""])
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def _id_number(rng: np.random.Generator) -> str:
    kind = _pick(rng, ["ssn", "nino", "bsn", "dni"])
    if kind == "ssn":
        return f"{int(rng.integers(100, 665)):03d}-{int(rng.integers(10, 99))}-{int(rng.integers(1000, 9999))}"
    if kind == "nino":
        d = _digits(rng, 6)
        pre = _pick(rng, ["AB", "CE", "JT", "PR", "SW", "WY"])
        return f"{pre} {d[:2]} {d[2:4]} {d[4:]} {_pick(rng, list('ABCD'))}"
    if kind == "bsn":
        while True:
            d = _digits(rng, 8)
            check = sum(int(c) * w for c, w in zip(d, range(9, 1, -1), strict=True)) % 11
            if check < 10 and d[0] != "0":
                return d + str(check)
    n = int(rng.integers(10_000_000, 99_999_999))
    return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


def _phone(rng: np.random.Generator) -> str:
    d = _digits(rng, 10)
    return _pick(rng, [
        f"+44 7700 9{d[:5]}", f"07700 9{d[:5]}", f"020 7946 {d[:4]}", f"({d[0] or 4}15) 555-{d[1:5]}",
        f"+1 415-555-{d[:4]}", f"415.555.{d[:4]}", f"+49 30 {d[:8]}", f"030 {d[:8]}",
        f"0171 {d[:7]}", f"+33 6 {d[:2]} {d[2:4]} {d[4:6]} {d[6:8]}", f"06 {d[:2]} {d[2:4]} {d[4:6]} {d[6:8]}",
        f"+31 6 {d[:8]}", f"06-{d[:8]}", f"+34 612 {d[:3]} {d[3:6]}", f"+39 347 {d[:3]} {d[3:7]}"])


def _uk_postcode(rng: np.random.Generator) -> str:
    return (_pick(rng, ["NW1", "SW1A", "EC2M", "M1", "B33", "LS6", "BS8", "EH1"]) + " "
            + str(int(rng.integers(1, 10))) + "".join(_pick(rng, list("ABDEFGHJLNPQRSTUWXYZ")) for _ in range(2)))


def _postcode(rng: np.random.Generator) -> str:
    return _pick(rng, [_uk_postcode(rng), f"{int(rng.integers(1000, 9999))} {_pick(rng, ['AB', 'CJ', 'KL', 'XT'])}",
                       f"{_pick(rng, ['K1A', 'M5V', 'H2X'])} {int(rng.integers(1, 9))}{_pick(rng, list('ABCEGH'))}{int(rng.integers(1, 9))}",
                       f"{_pick(rng, ['NY', 'CA', 'IL', 'TX'])} {int(rng.integers(10000, 99999))}"])


def _address(rng: np.random.Generator) -> tuple[str, list[str]]:
    n = str(int(rng.integers(1, 250)))
    kind = _pick(rng, ["uk", "us", "de", "fr", "nl", "es", "it"])
    if kind == "uk":
        street, code = f"{n} {_pick(rng, ['Baker', 'Station', 'Church', 'Mill', 'Kings'])} {_pick(rng, ['Street', 'Road', 'Lane', 'Avenue'])}", _uk_postcode(rng)
        return f"{street}, {_pick(rng, ['London', 'Leeds', 'Bristol'])} {code}", [street, code]
    if kind == "us":
        street, code = f"{n} {_pick(rng, ['Elm', 'Oak', 'Maple Grove'])} {_pick(rng, ['Avenue', 'Street', 'Drive'])}", f"IL {int(rng.integers(60000, 62999))}"
        return f"{street}, Springfield, {code}", [street, code]
    if kind == "de":
        street, code = f"{_pick(rng, ['Haupt', 'Bahnhof', 'Garten', 'Schiller'])}straße {n}", str(int(rng.integers(10000, 99999)))
        return f"{street}, {code} {_pick(rng, ['Berlin', 'München', 'Köln'])}", [street, code]
    if kind == "fr":
        street, code = f"{n} rue {_pick(rng, ['de la Paix', 'Victor Hugo', 'du Moulin'])}", str(int(rng.integers(10000, 95999)))
        return f"{street}, {code} {_pick(rng, ['Paris', 'Lyon', 'Lille'])}", [street, code]
    if kind == "nl":
        street, code = f"{_pick(rng, ['Keizers', 'Prinsen', 'Heren'])}gracht {n}", f"{int(rng.integers(1000, 9999))} {_pick(rng, ['CJ', 'AB', 'KL'])}"
        return f"{street}, {code} Amsterdam", [street, code]
    if kind == "es":
        street, code = f"Calle {_pick(rng, ['Mayor', 'Serrano', 'Alcalá'])} {n}", f"28{int(rng.integers(100, 999))}"
        return f"{street}, {code} Madrid", [street, code]
    street, code = f"Via {_pick(rng, ['Roma', 'Garibaldi', 'Mazzini'])} {n}", f"{int(rng.integers(10100, 20199))}"
    return f"{street}, {code} Milano", [street, code]


def _email(rng: np.random.Generator) -> str:
    first = _pick(rng, ["anna", "j.smith", "priya_p", "lukas.m", "mei+cx", "o.okafor"])
    domain = _pick(rng, ["example.co.uk", "mail.example.de", "example.fr", "example.nl", "example.com"])
    return f"{first}@{domain}" if rng.random() < 0.85 else f"{first} (at) {domain.replace('.', ' (dot) ')}"


def _pii_sentence(rng: np.random.Generator, kind: str) -> tuple[str, list[str]]:
    """One sentence carrying one kind of personal data, and the parts that must not survive."""
    if kind == "name":
        first, last = _pick(rng, _GIVEN), _pick(rng, _SURNAMES)
        template = _pick(rng, _NAME_SENTENCES)
        parts = [p for p in (first if "{first}" in template else "", last if "{last}" in template else "") if p]
        return template.format(first=first, last=last), parts
    if kind == "address":
        value, parts = _address(rng)
        return _pick(rng, [f"Send the paperwork to {value}.", f"My address is {value}."]), parts
    if kind == "postcode":
        value = _postcode(rng)
        return _pick(rng, [f"We are based in {value}.", f"Deliver to postcode {value}."]), [value]
    value = {"iban": _iban, "card": _card, "id_number": _id_number, "phone": _phone,
             "email": _email}[kind](rng)
    sentence = {"iban": "Refund to IBAN {v} please.", "card": "Charged twice on card {v}.",
                "id_number": "Reference number {v}.", "phone": "Call me on {v}.",
                "email": "Write to {v} instead."}[kind]
    return sentence.format(v=value), [value]


def plant_pii(rng: np.random.Generator, text: np.ndarray, free: np.ndarray
              ) -> tuple[np.ndarray, dict[str, Any]]:
    """Append one labelled piece of personal data to :data:`PII_SHARE` of the `free` comments.

    Kinds rotate through :data:`PII_KINDS` in several countries' formats. The returned truth lists
    each planted sentence with the parts that must not survive masking (name words, street and
    number, postcode, the number itself), so recall is measured, not assumed.
    """
    rows = np.flatnonzero(free)
    chosen = np.sort(rng.choice(rows, int(round(PII_SHARE * len(rows))), replace=False)) \
        if len(rows) else rows
    planted = []
    for j, row in enumerate(chosen):
        kind = PII_KINDS[j % len(PII_KINDS)]
        sentence, parts = _pii_sentence(rng, kind)
        text[row] = f"{text[row]} {sentence}"
        planted.append({"kind": kind, "sentence": sentence, "parts": parts})
    return text, {"share": PII_SHARE, "eligible_comments": int(len(rows)),
                  "planted_comments": int(len(chosen)), "planted": planted}
