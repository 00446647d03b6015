"""The B2B response programme: who to hear from next.

Response rates per account and wave against the programme's target (``response_target``, 70 %
by default for B2B) with confidence intervals; the roles (decision maker, influencer) an account
has not been heard from this year; a response-propensity model fitted on the invitations and
validated on the latest wave it did not see (AUC, calibration slope); and the chase list for the
next wave: contacts (by hashed contact key and role, never a name) ranked by the expected lift in
the coverage of revenue and of decision makers. The trend towards the target is shown per tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.analysis import accounts as account_views
from helpers.analysis.modelling import logit_newton
from helpers.analysis.programme import RESPONSE_TARGET
from helpers.errors import ArgumentError, ThinData, require_columns
from helpers.stats.arrays import norm_ppf, one_blas_thread

#: Roles an account programme wants to hear from every year.
KEY_ROLES = ("decision_maker", "influencer")
#: Invitation columns the propensity model uses when present (besides role, tier and tenure).
OPTIONAL_FEATURES = ("reminders", "days_since_touch")
#: A rate's status against the target: CI above it, CI below it, else.
STATUS_WORDS = pd.array(["at target", "below target", "not yet clear"], dtype="str")


def _check_target(target: float) -> float:
    if not 0 < target <= 1:
        raise ArgumentError(f"response_target {target!r}", argument="response_target",
                            expected="a share between 0 and 1 (0.7 = 70 %)")
    return float(target)


def rates_against_target(invitations: pd.DataFrame, target: float = RESPONSE_TARGET,
                         by: str = "account_id") -> pd.DataFrame:
    """Response rate (%) per wave and `by` (account, tier, role) with its 95 % CI, against the
    target: ``status`` is "at target" when the CI lies above it, "below target" when below,
    else "not yet clear"."""
    _check_target(target)
    require_columns(invitations, ["wave", "account_id", "responded"], "invitations")
    if by not in invitations:  # the error response_rates gives
        account_views.response_rates(invitations.head(0), by)
    inv = invitations[invitations["account_id"].notna().to_numpy()]
    group, labels = pd.factorize(inv[by], sort=True)
    account = group if by == "account_id" else pd.factorize(inv["account_id"])[0]
    return _rates_by_wave(inv["wave"], account, inv["responded"].to_numpy(), group, labels, by,
                          target)


def _rates_by_wave(wave: pd.Series, account: np.ndarray, responded: np.ndarray,
                   group: np.ndarray, labels: pd.Index, by: str, target: float) -> pd.DataFrame:
    """:func:`rates_against_target` of invitations given as codes: the accounts' in the order
    they first appear (the clusters), `by`'s into its sorted `labels` (-1: missing). Each wave is
    a frame of numbers, not of texts; the figures are those of the labelled invitations."""
    goal = 100 * _check_target(target)
    codes, waves = pd.factorize(wave, sort=True)
    slim = pd.DataFrame({"account_id": account, "responded": responded,
                         by: np.where(group >= 0, group, np.nan)})
    parts = []
    for k, name in enumerate(waves):
        part = account_views.response_rates(slim.iloc[np.flatnonzero(codes == k)], by)
        parts.append(part.assign(wave=str(name)))
    out = pd.concat(parts, ignore_index=True)
    out[by] = labels.take(out[by].to_numpy(np.int64)).array
    out["target"] = goal
    out["gap"] = out["rate"] - goal
    # each row's word taken from the three (not a text array converted row by row)
    out["status"] = STATUS_WORDS.take(np.select([out["ci_low"] >= goal, out["ci_high"] < goal],
                                                [0, 1], 2))
    return out[["wave", by, "invited", "responded", "rate", "ci_low", "ci_high", "target", "gap",
                "status", "n"]]


def tier_trend(invitations: pd.DataFrame, accounts: pd.DataFrame, target: float = RESPONSE_TARGET,
               tier: str = "tier") -> pd.DataFrame:
    """Response rate per tier and wave against the target (clustered by account), with each
    tier's change per wave (least-squares slope over the waves, points per wave)."""
    if tier in invitations:
        out = rates_against_target(invitations, target, by=tier)
    else:
        if tier not in accounts:
            raise ThinData(f"no column {tier!r} in the invitations or the account master",
                           file="accounts", column=tier, expected="the accounts' tier")
        _check_target(target)
        require_columns(invitations, ["wave", "account_id", "responded"], "invitations")
        inv = invitations[invitations["account_id"].notna().to_numpy()]
        account, ids = pd.factorize(inv["account_id"])
        # each distinct account's tier looked up once (as account_id.map(tier) would)
        per_account, labels = pd.factorize(accounts.set_index("account_id")[tier].reindex(ids),
                                           sort=True)
        if len(ids) and not len(labels):
            raise ThinData(f"none of the {len(ids)} invited accounts has a {tier} in the account "
                           "master", file="accounts", column=tier,
                           expected="the invited accounts' ids in the account master")
        out = _rates_by_wave(inv["wave"], account, inv["responded"].to_numpy(),
                             per_account[account], labels, tier, target)
    order = {w: i for i, w in enumerate(sorted(out["wave"].unique()))}
    slopes = {t: (np.polyfit(g["wave"].map(order), g["rate"], 1)[0] if len(g) > 1 else np.nan)
              for t, g in out.groupby(tier)}
    out["points_per_wave"] = out[tier].map(slopes)
    return out


def coverage_gaps(invitations: pd.DataFrame, waves: Sequence[str],
                  roles: Sequence[str] = KEY_ROLES) -> pd.DataFrame:
    """Per account: the key roles invited in `waves` (this year) but never heard from.

    Columns: account_id, one True/False column per role (``no_<role>``: invited, never answered),
    ``gaps`` (the roles missing, in words) and ``invited_contacts``. Only accounts with a gap."""
    require_columns(invitations, ["wave", "account_id", "responded", "role"], "invitations")
    # accounts and roles as codes (accounts sorted, as grouping by them would; each distinct
    # role's text looked up once)
    role, found = pd.factorize(invitations["role"])
    role = np.r_[pd.Index(roles).get_indexer(pd.Index(found).astype(str)), -1][role]
    keep = (invitations["wave"].astype(str).isin([str(w) for w in waves]).to_numpy()
            & (role >= 0) & invitations["account_id"].notna().to_numpy())
    inv, role = invitations[keep], role[keep]
    account, ids = pd.factorize(inv["account_id"], sort=True)
    cell = account * len(roles) + role
    answered = inv["responded"].fillna(False).to_numpy(bool).astype(float)
    size = len(ids) * len(roles)
    invited = np.bincount(cell, minlength=size).reshape(-1, len(roles)) > 0
    heard = np.bincount(cell, weights=answered, minlength=size).reshape(-1, len(roles)) > 0
    flags = invited & ~heard  # invited in the role, never answered
    out = pd.DataFrame(flags, index=pd.Index(ids, name="account_id"), columns=[f"no_{r}" for r in roles])
    # the words of each combination of missing roles, looked up by its bit pattern (not a
    # string built per account)
    words = np.array([", ".join(r.replace("_", " ") for i, r in enumerate(roles) if combo >> i & 1)
                      for combo in range(2 ** len(roles))], dtype=object)
    out["gaps"] = words[flags.astype(np.int64) @ (1 << np.arange(len(roles), dtype=np.int64))]
    out["invited_contacts"] = (_distinct_per_account(account, inv["contact_key"], len(ids))
                               if "contact_key" in inv else np.bincount(account, minlength=len(ids)))
    out = out[flags.any(axis=1)].reset_index()
    out["account_id"] = out["account_id"].astype(str)
    return out.sort_values("account_id", ignore_index=True)


def _distinct_per_account(account: np.ndarray, keys: pd.Series, n: int) -> np.ndarray:
    """Distinct non-missing `keys` of each of the `n` accounts (codes in `account`)."""
    key = pd.factorize(keys)[0]
    known = key >= 0
    base = int(key[known].max()) + 1 if known.any() else 1
    pairs = pd.unique(account[known].astype(np.int64) * base + key[known])  # hashed, not sorted
    return np.bincount(pairs // base, minlength=n)


def propensity_features(invitations: pd.DataFrame, accounts: pd.DataFrame | None = None
                        ) -> pd.DataFrame:
    """One row per invitation: responded, wave, account, contact, and the model's features:
    role and tier dummies, tenure (years since the deal closed, when known), the contact's
    answer to the previous wave (``past_response``; ``first_invite`` where there was none) and,
    where the invitations carry them, reminders and days since the last touchpoint."""
    require_columns(invitations, ["wave", "account_id", "responded"], "invitations")
    inv = invitations.reset_index(drop=True)
    x = pd.DataFrame({"responded": inv["responded"].astype(bool).astype(float),
                      "wave": inv["wave"].astype(str), "account_id": inv["account_id"].astype(str)})
    x["contact_key"] = inv["contact_key"].astype(str) if "contact_key" in inv else x.index.astype(str)
    x["role"] = inv["role"].astype(str) if "role" in inv else "unknown"
    acc = accounts.set_index("account_id") if accounts is not None and len(accounts) else None
    # account columns looked up once per distinct account, then taken per invitation
    codes, ids = pd.factorize(x["account_id"])
    x["tier"] = (_per_account(acc["tier"], ids, codes, x.index).fillna("unknown").astype(str)
                 if acc is not None and "tier" in acc else "unknown")  # absent from the master: unknown
    if acc is not None and "deal_close_date" in acc and "invited_at" in inv:
        close = pd.to_datetime(_per_account(acc["deal_close_date"], ids, codes, x.index),
                               errors="coerce")
        x["tenure_years"] = (pd.to_datetime(inv["invited_at"]) - close).dt.days / 365.25
    contact = pd.factorize(x["contact_key"])[0]
    order = np.lexsort((pd.factorize(x["wave"], sort=True)[0], contact))
    same = np.r_[False, contact[order][1:] == contact[order][:-1]]
    past = np.full(len(x), np.nan)
    past[order[1:]] = np.where(same[1:], x["responded"].to_numpy()[order[:-1]], np.nan)
    x["first_invite"] = np.isnan(past).astype(float)
    x["past_response"] = np.nan_to_num(past)
    for c in OPTIONAL_FEATURES:
        if c in inv:
            x[c] = pd.to_numeric(inv[c], errors="coerce")
    return x


def _per_account(column: pd.Series, ids: pd.Index, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """``account_id.map(column)`` from the factorised ids: each distinct account looked up once."""
    return pd.Series(column.reindex(ids).array.take(codes, allow_fill=True), index=index,
                     name=column.name)


#: Numeric features of the model, in the order of its columns (after the dummies).
NUMERIC_FEATURES = ("tenure_years", "past_response", "first_invite", *OPTIONAL_FEATURES)


def _design(x: pd.DataFrame, levels: dict[str, list[str]] | None = None
            ) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """Model matrix: intercept, dummies (reference: the first level seen in fitting) and
    numeric features with values."""
    m, names, levels = _unfilled_design(x, levels)
    return _fill_missing(m, names, _gappy(x)), names, levels


def _unfilled_design(x: pd.DataFrame, levels: dict[str, list[str]] | None = None
                     ) -> tuple[np.ndarray, list[str], dict[str, list[str]]]:
    """:func:`_design` with the numeric features' missing values left NaN."""
    levels = levels or {c: sorted(x[c].unique()) for c in ("role", "tier")}
    cols, names = [np.ones(len(x))], ["intercept"]
    for c, lv in levels.items():
        ref = "influencer" if c == "role" and "influencer" in lv else lv[0]
        for v in lv:
            if v != ref:
                cols.append((x[c] == v).to_numpy(float))
                names.append(f"{c}: {v}")
    for c in NUMERIC_FEATURES:
        if c in x:
            cols.append(x[c].to_numpy(float, na_value=np.nan))
            names.append(c)
    return np.column_stack(cols), names, levels


def _gappy(x: pd.DataFrame) -> list[str]:
    """The numeric features with missing values in `x`."""
    return [c for c in NUMERIC_FEATURES if c in x and x[c].isna().any()]


def _fill_missing(m: np.ndarray, names: list[str], gappy: list[str]) -> np.ndarray:
    """The missing values of the `gappy` features' columns in `m` (in place): the column's
    median, 0 when it has no values."""
    for j, name in enumerate(names):
        if name in gappy:
            missing = np.isnan(m[:, j])
            if missing.any():  # the median only where there is something to fill
                m[missing, j] = 0 if missing.all() else pd.Series(m[:, j]).median()
    return m


@dataclass(frozen=True)
class PropensityModel:
    """A response-propensity model and how well it predicts a wave it did not see.

    `coefficients`: log-odds per feature with account-clustered 95 % CIs; `auc` and
    `calibration_slope` (1 = well calibrated, below 1 = over-confident) on `holdout_wave`."""

    coefficients: pd.DataFrame
    auc: float
    calibration_slope: float
    calibration_ci: tuple[float, float]
    holdout_wave: str
    n_train: int
    n_test: int
    levels: dict[str, list[str]]
    beta: np.ndarray

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        """Probability of answering for feature rows `x` (:func:`propensity_features`)."""
        m, _, _ = _design(x.assign(**{c: x[c].where(x[c].isin(lv), lv[0])
                                      for c, lv in self.levels.items()}), self.levels)
        return 1 / (1 + np.exp(-m @ self.beta))


def _logit_fit(m: np.ndarray, y: np.ndarray, groups: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression (Newton-Raphson) with an account-clustered CR1 covariance: (beta, se)
    (as statsmodels ``Logit(...).fit(cov_type="cluster")``)."""
    y = np.asarray(y, float)
    beta = logit_newton(m, y, np.ones(len(y)))
    p = 1 / (1 + np.exp(-np.clip(m @ beta, -30, 30)))
    with one_blas_thread():   # a tall-and-thin product: a second BLAS thread mostly spins
        bread = np.linalg.pinv((m * (p * (1 - p))[:, None]).T @ m)
    codes, uniq = pd.factorize(groups, use_na_sentinel=False)
    residual = y - p  # each column's scores summed per account, no n x k matrix of them
    scores = np.column_stack([np.bincount(codes, weights=m[:, j] * residual, minlength=len(uniq))
                              for j in range(m.shape[1])])
    g, n, k = len(uniq), len(y), m.shape[1]
    adj = g / max(g - 1, 1) * (n - 1) / max(n - k, 1)
    cov = adj * bread @ (scores.T @ scores) @ bread
    return beta, np.sqrt(np.clip(np.diag(cov), 0, None))


def _holdout_designs(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The model matrices of the training and the held-out rows, built from the rows (the
    held-out levels not seen in training as the reference)."""
    m_train, _, seen = _design(train)
    m_test, _, _ = _design(test.assign(**{c: test[c].where(test[c].isin(lv), lv[0])
                                         for c, lv in seen.items()}), seen)
    return m_train, m_test


def fit_propensity(features: pd.DataFrame, holdout_wave: str | None = None) -> PropensityModel:
    """Fit the response-propensity model on every wave before `holdout_wave` (the latest by
    default) and validate it there: AUC and calibration slope (logistic regression of the
    held-out answers on the model's log-odds). The coefficients reported are those of the
    model refitted on every wave."""
    from sklearn.metrics import roc_auc_score

    # accounts as integer codes (the clusters of the fits), role and tier as categories and no
    # contact keys: the waves' row selections and the dummies below read codes, not texts
    features = features.drop(columns=["contact_key"], errors="ignore").assign(
        account_id=pd.factorize(features["account_id"])[0],
        **{c: pd.Categorical(features[c]) for c in ("role", "tier")})
    waves = sorted(features["wave"].unique())
    hold = holdout_wave or waves[-1]
    is_train, is_test = (features["wave"] < hold).to_numpy(), (features["wave"] == hold).to_numpy()
    train, test = features[is_train], features[is_test]
    if len(waves) < 2 or train["responded"].nunique() < 2 or test["responded"].nunique() < 2:
        raise ThinData(f"{len(waves)} wave(s) of invitations", file="invitations",
                       expected="two waves or more, with answers and non-answers in each")
    m_all, names, levels_all = _unfilled_design(features)
    gappy = _gappy(features)
    if all(sorted(train[c].unique()) == lv for c, lv in levels_all.items()):
        # training sees every level: its and the held-out rows' matrices are rows of all waves'
        # (each filled with its own medians)
        m_train, m_test = (_fill_missing(m_all[rows], names, gappy) for rows in (is_train, is_test))
    else:
        m_train, m_test = _holdout_designs(train, test)
    beta, _ = _logit_fit(m_train, train["responded"].to_numpy(), train["account_id"])
    eta = m_test @ beta
    y_test = test["responded"].to_numpy()
    slope, slope_se = _logit_fit(np.column_stack([np.ones(len(eta)), eta]), y_test,
                                 test["account_id"])
    m_all = _fill_missing(m_all, names, gappy)
    beta_all, se_all = _logit_fit(m_all, features["responded"].to_numpy(),
                                  features["account_id"])
    z = norm_ppf(0.975)
    coef = pd.DataFrame({"feature": names, "estimate": beta_all, "se": se_all,
                         "ci_low": beta_all - z * se_all, "ci_high": beta_all + z * se_all})
    return PropensityModel(coef, float(roc_auc_score(y_test, eta)), float(slope[1]),
                           (float(slope[1] - z * slope_se[1]), float(slope[1] + z * slope_se[1])),
                           str(hold), len(train), len(test), levels_all, beta_all)


def chase_list(model: PropensityModel, features: pd.DataFrame, accounts: pd.DataFrame,
               waves: Sequence[str], top: int = 50) -> pd.DataFrame:
    """The contacts to chase in the next wave, best first: by hashed contact key and role.

    A contact's expected lift is their predicted chance of answering (the latest wave's answer
    as their past response) times what their answer would add this year: the account's share of
    ARR when nobody at the account has answered (revenue coverage, percentage points) plus one
    account's share of decision-maker coverage when they are the decision maker of an account
    whose decision maker has not answered (percentage points of accounts)."""
    year = features[features["wave"].isin([str(w) for w in waves])]
    is_latest = (year["wave"] == year["wave"].max()).to_numpy()
    latest = year[is_latest].copy()
    latest["past_response"], latest["first_invite"] = latest["responded"], 0.0
    p = model.predict(latest)
    # per account (factorised once, not a lookup of texts per contact): anyone heard this
    # year, the decision maker heard, the share of ARR (a missing account: the last slot, none)
    account, ids = pd.factorize(year["account_id"])
    account = np.where(account >= 0, account, len(ids))
    answered = (year["responded"].to_numpy() != 0).astype(float)
    is_dm = year["role"].eq("decision_maker").to_numpy(bool)
    heard = np.bincount(account, weights=answered, minlength=len(ids) + 1) > 0
    dm_heard = np.bincount(account, weights=answered * is_dm, minlength=len(ids) + 1) > 0
    arr = accounts.set_index("account_id")["arr"] if "arr" in accounts else pd.Series(dtype=float)
    share = np.r_[(arr / arr.sum()).reindex(ids).fillna(0.0).to_numpy(float), 0.0]
    now = account[is_latest]
    heard[-1] = dm_heard[-1] = False
    share, no_answer, dm_gap = share[now], ~heard[now], is_dm[is_latest] & ~dm_heard[now]
    revenue, dm = 100 * p * share * no_answer, 100 * p * dm_gap / max(len(ids), 1)
    rows = _chase_candidates(revenue + dm, top)
    out = pd.DataFrame({c: latest[c].iloc[rows].to_numpy()
                        for c in ("contact_key", "account_id", "role", "tier")})
    out["p_answer"], out["revenue_lift_pts"], out["dm_lift_pts"] = p[rows], revenue[rows], dm[rows]
    out["expected_lift_pts"] = out["revenue_lift_pts"] + out["dm_lift_pts"]
    out = out[out["expected_lift_pts"] > 0].sort_values(
        ["expected_lift_pts", "contact_key"], ascending=[False, True], ignore_index=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.head(top)


def _chase_candidates(lift: np.ndarray, top: int) -> np.ndarray:
    """Positions of the contacts with a positive expected `lift` that can be among the `top`
    (those reaching the top-th largest lift), in their order; every contact when none has one
    (the empty list then has the columns' types of the full one)."""
    keep = lift > 0
    if not keep.any():
        return np.arange(len(lift))
    if 0 < top < keep.sum():
        keep &= lift >= np.partition(lift[keep], -top)[-top]
    return np.flatnonzero(keep)


def headline_metrics(rates_by_tier: pd.DataFrame, model: PropensityModel | None,
                     invitations: pd.DataFrame, target: float = RESPONSE_TARGET
                     ) -> dict[str, dict[str, float]]:
    """Metrics for the run folder: the latest wave's B2B response rate (clustered CI) against
    the target, tiers at target, and the propensity model's out-of-sample AUC and slope."""
    latest = invitations[invitations["wave"] == invitations["wave"].max()]
    overall = account_views.response_rates(latest.assign(all="all"), "all").iloc[0]
    last = rates_by_tier[rates_by_tier["wave"] == rates_by_tier["wave"].max()]
    out: dict[str, dict[str, float]] = {
        "response_rate_b2b": {"estimate": round(float(overall["rate"]), 2),
                              "ci_low": round(float(overall["ci_low"]), 2),
                              "ci_high": round(float(overall["ci_high"]), 2),
                              "n": int(overall["n"]), "target": 100 * target},
        "tiers_at_target": {"estimate": int((last["status"] == "at target").sum()), "n": len(last)},
    }
    if model is not None:
        out["propensity_auc"] = {"estimate": round(model.auc, 3), "n": model.n_test}
        out["propensity_calibration_slope"] = {"estimate": round(model.calibration_slope, 3),
                                               "ci_low": round(model.calibration_ci[0], 3),
                                               "ci_high": round(model.calibration_ci[1], 3)}
    return out
