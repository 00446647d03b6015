"""The B2C transactional survey of the sample programme: a biased sample of a population
with known margins (online and young customers answer more), and the population's true NPS."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.sample.draws import lookup_map, nps_of, random_ips, to_items, wave_dates
from helpers.sample.planted_model import (
    B2C_EFFECTS,
    B2C_LTR_SHIFT,
    B2C_SELECTION,
    FIRST_NAMES,
    LAST_NAMES,
    POPULATION_MARGINS,
    TOUCHPOINT_ITEMS,
)


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
        cols[name] = to_items(lat, 3.6)
    shift = sum(lookup_map(cols[var], B2C_LTR_SHIFT[var], np.nan) for var in B2C_LTR_SHIFT)
    ltr_lat = 8.0 + sum(B2C_EFFECTS[k] * (cols[k] - 3.6) for k in B2C_EFFECTS) + shift + rng.normal(0, 1.3, n)
    cols["ltr"] = np.clip(np.rint(ltr_lat), 0, 10)
    return cols


def b2c_responses(rng: np.random.Generator, n: int, wave_labels: list[str], seed: int):
    df = pd.DataFrame(_b2c_draw(rng, n, selection=True))
    df["ces"] = np.clip(np.rint(5.2 + 0.5 * (df["tp_support"] - 3.6) + 0.3 * (df["tp_purchase"] - 3.6)
                                + rng.normal(0, 1.0, n)), 1, 7)
    df["csat"] = np.clip(np.rint(3.8 + 0.3 * (df["ltr"] - 7.5) + rng.normal(0, 0.6, n)), 1, 5)
    wave = np.array(wave_labels)[rng.integers(0, len(wave_labels), n)]
    df["market"], df["wave"] = "B2C", wave
    df["submitted_at"] = wave_dates(rng, wave)
    first = FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), n)]
    last = LAST_NAMES[rng.integers(0, len(LAST_NAMES), n)]
    df["first_name"], df["last_name"] = first, last
    df["email"] = (pd.Series(first).str.lower() + "_" + pd.Series(last).str.lower()
                   + pd.Series(np.arange(n)).astype(str) + "@mail.example.org").to_numpy()
    df["phone"] = ("+44 7700 " + pd.Series(rng.integers(100000, 999999, n)).astype(str)).to_numpy()
    df["ip"] = random_ips(rng, n)
    # The population's true NPS: a large draw of the same model without selection.
    pop = _b2c_draw(np.random.default_rng(seed + 10_007), 400_000, selection=False)
    truth = {
        "b2c_population_margins": POPULATION_MARGINS,
        "b2c_selection_factors": B2C_SELECTION,
        "b2c_population_nps": round(nps_of(pop["ltr"]), 2),
        "b2c_sample_expected_nps_unweighted": round(nps_of(df["ltr"].to_numpy()), 2),
    }
    return df, truth
