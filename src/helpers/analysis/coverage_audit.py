"""Coverage audit: accounts in the account master that were never surveyed, and what that could
do to the headline.

Sales sometimes keeps big deals out of a survey. Every account in the master gets a status:
``surveyed`` (a contact answered), ``invited, no answer``, ``removed`` (on the exclusions list or
with an ``excluded_by`` value in the master) or ``never invited``. Accounts not surveyed are
compared with surveyed ones on ARR, tier, deal stage, renewal and growth (differences with 95 %
CIs); the B2B NPS is re-weighted by the inverse of an invitation-propensity model (accounts like
the ones left out count more), and bounded: had the accounts not surveyed scored like the bottom
quartile of surveyed accounts, what would B2B NPS be. Leadership sees one line
(:func:`leadership_line`); contacts and reps are never named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.analysis.programme import account_wave_scores, among, response_values
from helpers.errors import ThinData, require_columns
from helpers.measures import Measure
from helpers.stats import estimators
from helpers.stats.arrays import t_ppf
from helpers.stats.design import Design

SURVEYED, SILENT, REMOVED, NEVER = "surveyed", "invited, no answer", "removed", "never invited"
#: Account columns compared between surveyed accounts and those not surveyed, when present.
PROFILE = ("arr", "tier", "deal_stage", "renewal_days", "renewed", "growth")


def account_status(accounts: pd.DataFrame, invitations: pd.DataFrame,
                   exclusions: pd.DataFrame | None = None) -> pd.DataFrame:
    """The account master with ``status`` (surveyed / invited, no answer / removed / never
    invited), ``excluded_by`` where known, and the derived ``renewal_days`` (from the last
    invitation to the renewal date) and ``growth`` (expansion ARR / ARR)."""
    require_columns(accounts, ["account_id"], "accounts")
    require_columns(invitations, ["account_id", "responded"], "invitations")
    acc = accounts.copy()
    acc["account_id"] = acc["account_id"].astype(str)
    by = acc["excluded_by"].astype("string") if "excluded_by" in acc else pd.Series(pd.NA, index=acc.index, dtype="string")
    if exclusions is not None and len(exclusions):
        listed = exclusions.assign(account_id=exclusions["account_id"].astype(str)) \
            .drop_duplicates("account_id").set_index("account_id")["excluded_by"]
        by = by.fillna(acc["account_id"].map(listed).astype("string"))
    by = by.where(by.str.strip().ne(""))
    answered = invitations.groupby(invitations["account_id"].astype(str))["responded"].any()
    invited = pd.Series(among(acc["account_id"], answered.index), index=acc.index)
    acc["status"] = np.select(
        [invited & acc["account_id"].map(answered).fillna(False).astype(bool), invited,
         by.notna()], [SURVEYED, SILENT, REMOVED], NEVER)
    acc["excluded_by"] = by
    if "renewal_date" in acc and "invited_at" in invitations:
        last = pd.to_datetime(invitations["invited_at"]).max()
        acc["renewal_days"] = (pd.to_datetime(acc["renewal_date"]) - last).dt.days
    if {"arr", "expansion_arr"} <= set(acc):
        acc["growth"] = pd.to_numeric(acc["expansion_arr"], errors="coerce") / acc["arr"]
    return acc


def _diff_row(name: str, a: np.ndarray, b: np.ndarray, level: float) -> dict[str, object]:
    """Mean of `a` (not surveyed) minus mean of `b` (surveyed), Welch t interval."""
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    va, vb = (a.var(ddof=1) / len(a) if len(a) > 1 else np.nan), (b.var(ddof=1) / len(b) if len(b) > 1 else np.nan)
    se = float(np.sqrt(va + vb))
    df = (va + vb) ** 2 / (va ** 2 / max(len(a) - 1, 1) + vb ** 2 / max(len(b) - 1, 1)) if se > 0 else np.nan
    t = t_ppf(0.5 + level / 2, df) if np.isfinite(df) else np.nan
    est = float(a.mean() - b.mean()) if len(a) and len(b) else np.nan
    return {"comparison": name, "not_surveyed": float(a.mean()) if len(a) else np.nan,
            "surveyed": float(b.mean()) if len(b) else np.nan, "estimate": est, "se": se,
            "ci_low": est - t * se, "ci_high": est + t * se, "n_not_surveyed": len(a),
            "n_surveyed": len(b)}


def compare_not_surveyed(status: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Accounts not surveyed (removed or never invited) minus surveyed accounts: mean ARR, share
    of each tier and deal stage (percentage points), days to renewal, share renewed and growth,
    each with a Welch 95 % CI. Accounts invited without an answer are in neither group."""
    out_mask = status["status"].isin([REMOVED, NEVER]).to_numpy()
    in_mask = status["status"].eq(SURVEYED).to_numpy()
    if out_mask.sum() < 2 or in_mask.sum() < 2:
        raise ThinData(f"{int(out_mask.sum())} accounts not surveyed, {int(in_mask.sum())} surveyed",
                       file="accounts", expected="at least 2 of each")
    rows = []
    for col in PROFILE:
        if col not in status:
            continue
        s = status[col]
        if s.dtype == bool or str(s.dtype) == "boolean":
            vals = {f"{col} (%)": 100 * s.astype(float).to_numpy()}
        elif pd.api.types.is_numeric_dtype(s):
            vals = {col: s.astype(float).to_numpy()}
        else:
            vals = {f"{col}: {v} (%)": 100 * (s == v).to_numpy(float) for v in sorted(s.dropna().unique())}
        rows += [_diff_row(name, v[out_mask], v[in_mask], level) for name, v in vals.items()]
    return pd.DataFrame(rows)


def _account_weights(status: pd.DataFrame, features: Sequence[str]) -> pd.Series:
    """Inverse of each surveyed account's modelled chance of being surveyed (logistic regression
    over the master on `features`, ridge-stabilised), normalised to mean 1 over surveyed accounts."""
    from sklearn.linear_model import LogisticRegression

    x = pd.get_dummies(status[list(features)].assign(
        **{c: np.log1p(status[c].astype(float)) for c in features if c == "arr"}), dtype=float)
    x = x.fillna(x.median())
    y = status["status"].eq(SURVEYED).to_numpy()
    z = ((x - x.mean()) / x.std(ddof=0).replace(0, 1)).to_numpy(float)
    p = LogisticRegression(C=1.0, max_iter=500).fit(z, y).predict_proba(z)[:, 1]
    w = pd.Series(1 / np.clip(p, 0.02, 1), index=status["account_id"])[y]
    return w / w.mean()


@dataclass(frozen=True)
class Bias:
    """The headline and what the accounts not surveyed could do to it (NPS points)."""

    nps: float
    nps_ci: tuple[float, float]
    reweighted: float
    reweighted_ci: tuple[float, float]
    bottom_quartile: float
    bound: float
    accounts_not_surveyed: int
    arr_share_not_surveyed: float
    features: tuple[str, ...]


def headline_bias(rows: pd.DataFrame, status: pd.DataFrame, measures: Sequence[Measure],
                  features: Sequence[str] = ("arr", "tier", "deal_stage")) -> Bias:
    """B2B NPS of `rows` (one wave's responses, clustered by account), re-weighted by the
    inverse invitation propensity of their accounts, and bounded for the accounts not surveyed.

    The bound gives every account not surveyed the mean responses of a surveyed account, all
    scoring the mean NPS of the bottom quartile of surveyed accounts (by account NPS)."""
    feats = tuple(f for f in features if f in status and status[f].notna().any())
    values = response_values(rows, measures)
    d = pd.DataFrame({"account_id": rows["account_id"].astype(str).to_numpy(), "y": values})
    d = d[d["y"].notna()].reset_index(drop=True)
    if d["account_id"].nunique() < 4:
        raise ThinData(f"{d['account_id'].nunique()} surveyed accounts", expected="at least 4")
    plain = estimators.survey_mean(d["y"], Design.from_frame(d, cluster="account_id"))
    w = _account_weights(status, feats) if feats else pd.Series(1.0, index=d["account_id"].unique())
    d["w"] = d["account_id"].map(w).fillna(1.0)
    rew = estimators.survey_mean(d["y"], Design.from_frame(d, weights="w", cluster="account_id"))
    acc = account_wave_scores(rows, measures).groupby("account_id")["score"].mean()
    bq = float(acc[acc <= acc.quantile(0.25)].mean())
    out = status["status"].isin([REMOVED, NEVER])
    n_out = int(out.sum())
    m_bar = len(d) / d["account_id"].nunique()
    bound = (d["y"].sum() + n_out * m_bar * bq) / (len(d) + n_out * m_bar)
    arr_share = (float(status.loc[out, "arr"].sum() / status["arr"].sum()) if "arr" in status
                 else float("nan"))
    return Bias(plain.estimate, (plain.ci_low, plain.ci_high), rew.estimate,
                (rew.ci_low, rew.ci_high), bq, float(bound), n_out, arr_share, feats)


def leadership_line(bias: Bias, market: str = "B2B") -> str:
    """The one line leadership sees (no account, contact or rep named)."""
    if bias.accounts_not_surveyed == 0:
        return f"Every account in the account master was surveyed; {market} NPS is {bias.nps:+.0f}."
    share = "" if np.isnan(bias.arr_share_not_surveyed) else f" ({100 * bias.arr_share_not_surveyed:.0f} % of ARR)"
    return (f"{bias.accounts_not_surveyed} accounts{share} were not surveyed; had they scored like "
            f"the bottom quartile, {market} NPS would be {bias.bound:+.0f} (it is {bias.nps:+.0f}).")


def bias_table(bias: Bias) -> pd.DataFrame:
    """The headline, re-weighted and bounded NPS as a tidy table (estimate, ci_low, ci_high)."""
    return pd.DataFrame([
        {"figure": "NPS as surveyed", "estimate": bias.nps, "ci_low": bias.nps_ci[0],
         "ci_high": bias.nps_ci[1]},
        {"figure": f"re-weighted by invitation propensity ({', '.join(bias.features) or 'none'})",
         "estimate": bias.reweighted, "ci_low": bias.reweighted_ci[0], "ci_high": bias.reweighted_ci[1]},
        {"figure": "accounts not surveyed scoring like the bottom quartile", "estimate": bias.bound,
         "ci_low": np.nan, "ci_high": np.nan},
    ])


def headline_metrics(bias: Bias) -> dict[str, dict[str, float]]:
    """Metrics for the run folder (the executive summary's one line reads them)."""
    return {
        "accounts_not_surveyed": {"estimate": bias.accounts_not_surveyed},
        "arr_share_not_surveyed": {"estimate": round(100 * bias.arr_share_not_surveyed, 2)},
        "nps_b2b": {"estimate": round(bias.nps, 2), "ci_low": round(bias.nps_ci[0], 2),
                    "ci_high": round(bias.nps_ci[1], 2)},
        "nps_reweighted": {"estimate": round(bias.reweighted, 2), "ci_low": round(bias.reweighted_ci[0], 2),
                           "ci_high": round(bias.reweighted_ci[1], 2)},
        "nps_if_bottom_quartile": {"estimate": round(bias.bound, 2)},
    }


def line_from_metrics(metrics: dict[str, dict[str, float]], market: str = "B2B") -> str | None:
    """:func:`leadership_line` from the metrics :func:`headline_metrics` wrote (None without)."""
    try:
        n = int(metrics["accounts_not_surveyed"]["estimate"])
        share = float(metrics["arr_share_not_surveyed"]["estimate"]) / 100
        nps = float(metrics["nps_b2b"]["estimate"])
        bound = float(metrics["nps_if_bottom_quartile"]["estimate"])
    except (KeyError, TypeError, ValueError):
        return None
    bias = Bias(nps, (np.nan, np.nan), np.nan, (np.nan, np.nan), np.nan, bound, n, share, ())
    return leadership_line(bias, market)
