"""Shared pieces of the B2B account programme's sections (response programme, follow-ups,
coverage audit, concessions): account-wave scores from the headline measure, the waves of the
last year, and a difference of means between two groups with an account-clustered interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from helpers.errors import ThinData, require_columns
from helpers.measures import Measure, find_statistic
from helpers.stats.arrays import t_ppf, t_sf

#: Default response-rate target of a B2B relationship programme (share of invited contacts).
RESPONSE_TARGET = 0.70
#: Waves that make "this year" (quarterly waves).
WAVES_PER_YEAR = 4


def year_waves(waves: Iterable[str], reported: str | None = None, per_year: int = WAVES_PER_YEAR
               ) -> list[str]:
    """The `per_year` waves up to and including `reported` (the latest by default)."""
    ordered = sorted({str(w) for w in waves})
    if reported is not None and str(reported) in ordered:
        ordered = ordered[: ordered.index(str(reported)) + 1]
    return ordered[-per_year:]


def among(values: pd.Series, ids: Iterable[object] | pd.Index) -> np.ndarray:
    """``values.isin(ids)`` for many ids, through a hash index of the distinct ids (pandas'
    ``isin`` of Arrow strings makes a Python object of every id it is given)."""
    known = ids if isinstance(ids, pd.Index) else pd.Index(ids)
    return np.asarray(known.unique().get_indexer(values) >= 0)


def text_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each value's code into its distinct values as text, sorted (-1 for a missing value):
    grouping by the codes groups and orders like grouping by the texts, without a text copy of
    every row."""
    codes, uniq = pd.factorize(values)
    fine, names = pd.factorize(pd.Index(uniq).astype(str), sort=True)
    return np.where(codes >= 0, fine[codes], -1), np.asarray(names, dtype=object)


def response_values(rows: pd.DataFrame, measures: Sequence[Measure], statistic: str = "nps"
                    ) -> np.ndarray:
    """Per-response values of `statistic` (+100/0/-100 for NPS) as the measure defines them."""
    measure, stat = find_statistic(measures, statistic)
    require_columns(rows, [measure.key], "responses")
    return measure.values(rows[measure.key], stat)


def account_wave_scores(rows: pd.DataFrame, measures: Sequence[Measure], statistic: str = "nps"
                        ) -> pd.DataFrame:
    """One row per account and wave: the statistic's mean (``score``), responses, detractors
    (NPS -100 values), first and last response date, and the account's rep where known."""
    require_columns(rows, ["account_id", "wave"], "responses")
    account, accounts = text_codes(rows["account_id"])
    wave, waves = text_codes(rows["wave"])
    d = pd.DataFrame({"key": np.where((account >= 0) & (wave >= 0), account * len(waves) + wave, -1),
                      "value": response_values(rows, measures, statistic)})
    d["detractor"] = d["value"] <= -100
    has_date = "submitted_at" in rows
    d["at"] = pd.DatetimeIndex(rows["submitted_at"]) if has_date else pd.NaT
    if "rep_id" in rows:
        d["rep_id"] = rows["rep_id"].astype("string").to_numpy()
    d = d[d["value"].notna().to_numpy() & (d["key"] >= 0).to_numpy()]
    agg = {"score": ("value", "mean"), "n": ("value", "size"), "detractors": ("detractor", "sum"),
           "first": ("at", "min"), "last": ("at", "max")}
    if "rep_id" in d:
        agg["rep_id"] = ("rep_id", "first")
    out = d.groupby("key", sort=True).agg(**agg)  # (account, wave) in the order of their texts
    key = out.index.to_numpy()
    out = out.reset_index(drop=True)
    out.insert(0, "account_id", accounts[key // len(waves)])
    out.insert(1, "wave", waves[key % len(waves)])
    out["detractors"] = out["detractors"].astype(int)
    return out


def with_next_wave(scores: pd.DataFrame) -> pd.DataFrame:
    """`scores` (:func:`account_wave_scores`) with each account's previous and next responding
    wave's score (``prev``, ``next``, ``next_wave``, ``next_first``) and the change to the next."""
    s = scores.sort_values(["account_id", "wave"]).reset_index(drop=True)
    g = s.groupby("account_id", sort=False)
    s["prev"] = g["score"].shift(1)
    s["next"] = g["score"].shift(-1)
    s["next_wave"] = g["wave"].shift(-1)
    s["next_first"] = g["first"].shift(-1)
    s["change"] = s["next"] - s["score"]
    return s


def clustered_diff(y: np.ndarray, group: np.ndarray, cluster: np.ndarray, level: float = 0.95
                   ) -> dict[str, float]:
    """Mean of `y` where `group` minus where not, with an account-clustered (CR1) t interval.

    OLS of y on an intercept and the group indicator with a cluster-robust variance, G - 1
    degrees of freedom (the same units appear in several waves)."""
    y = np.asarray(y, float)
    g = np.asarray(group, bool)
    ok = ~np.isnan(y)
    y, g, cl = y[ok], g[ok], pd.factorize(np.asarray(cluster)[ok])[0]
    if g.sum() < 2 or (~g).sum() < 2:
        raise ThinData(f"{int(g.sum())} rows in the group and {int((~g).sum())} outside",
                       expected="at least 2 rows on each side")
    x = np.column_stack([np.ones(len(y)), g.astype(float)])
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    n_cl = int(cl.max()) + 1
    scores = np.zeros((n_cl, 2))
    np.add.at(scores, cl, x * resid[:, None])
    adj = n_cl / max(n_cl - 1, 1) * (len(y) - 1) / max(len(y) - 2, 1)
    se = float(np.sqrt(adj * (xtx_inv @ scores.T @ scores @ xtx_inv)[1, 1]))
    t = t_ppf(0.5 + level / 2, max(n_cl - 1, 1))
    est = float(beta[1])
    p = float(2 * t_sf(abs(est) / se, max(n_cl - 1, 1))) if se > 0 else float("nan")
    return {"estimate": est, "se": se, "ci_low": est - t * se, "ci_high": est + t * se,
            "p_value": p, "n": int(len(y)), "n_group": int(g.sum()), "n_clusters": n_cl}
