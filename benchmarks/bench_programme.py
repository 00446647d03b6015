"""Speed of the B2B account programme's sections (issue 24). Run:
.venv/bin/python benchmarks/bench_programme.py [--rows 1000000]

Prints one line per section: "<name>: <seconds> s (target < X s), peak <MB> MB" on the processed
sample (target 10 s each) and on a synthetic programme of `--rows` B2B responses (target 60 s).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from harness import measure

from helpers import catalog
from helpers.analysis import concessions, coverage_audit, follow_up, programme
from helpers.analysis import response_programme as rp
from helpers.errors import DataError
from helpers.ingest import schema

SCHEMA = schema.load("config/survey.yaml")
ITEMS = SCHEMA.driver_items("B2B")
ROLES = np.array(["decision_maker", "influencer", "user"])


def make_b2b(rows: int, reps: int, accounts: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic B2B responses shaped like data/processed/responses (4 waves, 10 driver items)."""
    rng = np.random.default_rng(seed)
    acc = rng.integers(0, accounts, rows)
    acc_rep = rng.integers(0, reps, accounts)
    latent = rng.normal(0, 1, accounts)[acc] + rng.normal(0, 0.8, rows)
    items = np.clip(np.rint(3.5 + 0.9 * (latent[:, None] + rng.normal(0, 0.6, (rows, len(ITEMS))))), 1, 5)
    ltr = np.clip(np.rint(7.5 + 1.2 * (items.mean(axis=1) - 3.5) + rng.normal(0, 1.2, rows)), 0, 10)
    sub = pd.Timestamp("2025-10-01") + pd.to_timedelta(rng.uniform(0, 360, rows), unit="D")
    comments = np.array(["Onboarding was a mess.", "Great team.", "Hidden costs.", ""], dtype=object)
    return pd.DataFrame({
        "market": "B2B", "wave": sub.to_period("Q").astype(str), "include": True,
        "rep_id": np.char.add("R", acc_rep[acc].astype(str)),
        "account_id": np.char.add("A", acc.astype(str)), "ltr": ltr,
        **{c: items[:, j] for j, c in enumerate(ITEMS)},
        "comment": comments[rng.integers(0, len(comments), rows)], "submitted_at": sub})


def make_programme(rows: int, accounts: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Responses (:func:`make_b2b`), their invitations (twice as many, half
    answered), the account master with a tenth never invited, follow-ups and concessions."""
    rng = np.random.default_rng(seed)
    resp = make_b2b(rows, max(8, accounts // 18), accounts, seed)
    n_inv = 2 * rows
    acc = rng.integers(0, accounts, n_inv)
    waves = np.array(sorted(resp["wave"].unique()))
    inv = pd.DataFrame({
        "wave": waves[rng.integers(0, len(waves), n_inv)], "account_id": np.char.add("A", acc.astype(str)),
        "contact_key": np.char.add("c", rng.integers(0, n_inv // 3, n_inv).astype(str)),
        "role": ROLES[rng.integers(0, 3, n_inv)], "responded": rng.random(n_inv) < 0.5,
        "reminders": rng.integers(0, 3, n_inv), "days_since_touch": rng.exponential(25, n_inv),
        "invited_at": pd.Timestamp("2026-07-10")})
    n_acc = int(accounts * 1.1)
    master = pd.DataFrame({
        "account_id": np.char.add("A", np.arange(n_acc).astype(str)),
        "tier": np.array(["Enterprise", "Mid-market", "SMB"])[rng.integers(0, 3, n_acc)],
        "arr": rng.lognormal(11, 1, n_acc), "deal_stage": np.array(["none", "open"])[rng.integers(0, 2, n_acc)],
        "renewal_date": pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.integers(0, 365, n_acc), unit="D"),
        "deal_close_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 600, n_acc), unit="D"),
        "renewed": rng.random(n_acc) < 0.85, "expansion_arr": rng.lognormal(8, 1, n_acc)})
    pick = rng.integers(0, rows, rows // 20)
    events = pd.DataFrame({"account_id": resp["account_id"].to_numpy()[pick],
                           "date": (resp["submitted_at"].to_numpy()[pick]
                                    + pd.to_timedelta(rng.uniform(-40, 20, len(pick)), unit="D")),
                           "rep_id": resp["rep_id"].to_numpy()[pick],
                           "value": rng.lognormal(8, 1, len(pick)), "outcome": "call held"})
    return {"responses": resp, "invitations": inv, "accounts": master, "follow_ups": events,
            "concessions": events}


def sections(t: dict[str, pd.DataFrame]) -> list[tuple[str, Callable[[], Any]]]:
    """One callable per section, as the notebooks call them."""
    b2b, measures = t["responses"], SCHEMA.measures
    waves = sorted(b2b["wave"].astype(str).unique())
    year = programme.year_waves(waves)
    excl = t.get("exclusions")

    def response() -> Any:
        rp.rates_against_target(t["invitations"])
        trend = rp.tier_trend(t["invitations"], t["accounts"])
        rp.coverage_gaps(t["invitations"], year)
        feats = rp.propensity_features(t["invitations"], t["accounts"])
        model = rp.fit_propensity(feats)
        return rp.chase_list(model, feats, t["accounts"], year), trend

    def audit() -> Any:
        status = coverage_audit.account_status(t["accounts"], t["invitations"], excl)
        coverage_audit.compare_not_surveyed(status)
        return coverage_audit.headline_bias(b2b[b2b["wave"].astype(str) == waves[-1]], status, measures)

    def follow() -> Any:
        follow_up.follow_up_list(b2b, measures, waves[-1], ITEMS, SCHEMA.driver_labels())
        return follow_up.follow_up_effect(follow_up.follow_up_timing(b2b, measures, t["follow_ups"]))

    def conc() -> Any:
        waves_ = concessions.conceded_waves(b2b, measures, t["concessions"])
        return concessions.lift_table(waves_, concessions.rep_lifts(waves_))
    return [("1 response programme", response), ("3 coverage audit", audit),
            ("2 follow-up list and effect", follow), ("4 concessions", conc)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    import sklearn.linear_model  # noqa: F401  (imported once per kernel: not part of a section)
    import statsmodels.api  # noqa: F401
    try:
        resp = catalog.load("responses")
        tables = {n: catalog.load(n) for n in ("accounts", "invitations", "exclusions", "follow_ups",
                                                "concessions")}
        tables["responses"] = resp[(resp["market"] == "B2B") & resp["include"].astype(bool)]
        for name, fn in sections(tables):
            measure(f"{name} on the processed sample", 10.0, fn)
    except DataError:
        print("processed sample missing: run `cx sample` and `cx clean` (sample targets skipped)")
    big = make_programme(args.rows, max(1000, args.rows // 20))
    for name, fn in sections(big):
        measure(f"{name}, {args.rows:,} B2B responses", 60.0, fn)


if __name__ == "__main__":
    main()
