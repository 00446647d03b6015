"""Sample CX program with planted truth (`cx sample`).

Generates a B2B relationship survey (accounts with several contacts, quarterly waves, invitations,
sales and implementation items, deal dates with a quarter-end rush, gaming reps) and a B2C
transactional survey (a biased sample of a population with known margins), competitor ratings,
comments consistent with the scores, next-period account outcomes, and a synthetic public CX index
with prices. The survey is written as a Qualtrics-style export with planted data-quality defects.
Everything planted is written to ``truth.json`` so later analyses can be checked against it.
:func:`generate` builds the programme in memory from its parts (:mod:`~helpers.sample.b2b`,
:mod:`~helpers.sample.b2c`, :mod:`~helpers.sample.comments`,
:mod:`~helpers.sample.qualtrics_export`); :mod:`helpers.sample.writers` writes it.
Deterministic for a seed; fully vectorised (1,000,000 responses in well under a minute).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from helpers.sample import market_data as market_sample
from helpers.sample.b2b import b2b_program
from helpers.sample.b2b_plants import PLANT_STREAM, plant
from helpers.sample.b2c import b2c_responses
from helpers.sample.comments import draw_comments
from helpers.sample.draws import nps_of
from helpers.sample.planted_model import (
    B2B_EFFECTS,
    B2C_EFFECTS,
    COMPANY,
    COMPETITORS,
    LAST_WAVE,
    QUARTER_END_IMPL_PENALTY,
    QUARTER_END_SLIP_DAYS,
)
from helpers.sample.qualtrics_export import to_export


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
    exclusions: pd.DataFrame | None = None   # accounts removed from the invitation list
    follow_ups: pd.DataFrame | None = None   # account teams' follow-ups (account, date, outcome)
    concessions: pd.DataFrame | None = None  # concessions (account, rep, date, type, value)


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
    part : a part of a larger programme (:func:`helpers.sample.writers.write_parts`): accounts and
        reps get ids of their own (``A003-000001``, ``R003-01``), so parts never share an account
        or a contact.
    """
    if rows < 200:
        raise ValueError(f"rows={rows}: the sample needs at least 200 rows")
    rng = np.random.default_rng(seed)
    wave_labels = [str(LAST_WAVE - (waves - 1 - i)) for i in range(waves)]
    defects = _defect_counts(rows)
    n_survey = rows - defects["duplicates"]

    b2b = b2b_program(rng, int(round(n_survey * b2b_share)), wave_labels, gaming, part)
    b2c, b2c_truth = b2c_responses(rng, n_survey - len(b2b.responses), wave_labels, seed)
    resp = pd.concat([b2b.responses, b2c], ignore_index=True)
    plants = plant(np.random.default_rng([seed, PLANT_STREAM]), b2b.responses, b2b.accounts,
                   b2b.invitations, b2b.truth["gaming_reps"])
    accounts, invitations, b2b_truth = plants.accounts, plants.invitations, b2b.truth
    del b2b, b2c  # (memory: only the combined frame from here on)
    resp = resp.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # mixed order like a real export
    comp, comp_truth = _competitors(rng, resp, seed)
    resp = pd.concat([resp, comp], axis=1)
    del comp
    resp["comment"], pii_truth = draw_comments(rng, resp)
    n_market = resp["market"].value_counts()

    # Handed over without keeping a reference here, so to_export can release it early (memory).
    holder = [resp]
    del resp
    export = to_export(rng, holder.pop(), defects)
    truth = {
        "seed": seed, "rows": int(len(export.frame)), "waves": wave_labels, **_planted_model(),
        "gaming": gaming, **b2b_truth, "programme": plants.truth, **b2c_truth, **comp_truth, "defects": export.truth,
        "pii": pii_truth, "b2b_responses": int(n_market.get("B2B", 0)),
        "b2c_responses": int(n_market.get("B2C", 0)),
    }
    cx_index = prices = None
    if market_data:
        cx_index, prices, market_truth = market_sample.make_market_sample(seed)
        truth["market"] = market_truth
    return Sample(export.frame, export.questions, export.import_ids, accounts, invitations, cx_index,
                  prices, truth, plants.exclusions, plants.follow_ups, plants.concessions)


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


def _competitors(rng: np.random.Generator, resp: pd.DataFrame, seed: int
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
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
        truth[name] = round(nps_of(sim), 2)
    return pd.DataFrame(cols, index=resp.index), {"competitor_nps": truth, "competitor_ltr_shift": COMPETITORS}
