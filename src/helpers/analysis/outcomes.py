"""Does better experience pay inside our own book? CX leaders vs laggards among B2B accounts.

Accounts are ranked by their NPS in the latest wave (shrunk towards the mean before ranking, so one
enthusiastic contact does not make a leader), split into leaders (top quartile), middle and
laggards (bottom quartile), and compared on their next-period outcomes: renewal, churn, net revenue
retention and expansion, with confidence intervals and effect sizes. Revenue at risk prices the
detractor accounts with a churn model; the gap value says what lifting the laggards would be worth.

Every figure is an association in observational data, not an experiment: accounts with a better
experience may differ in other ways (size, product fit), so gaps are upper bounds on what fixing
experience alone would return.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers.analysis.market_backtest import BacktestResult
from helpers.errors import ArgumentError, DataError, ThinData, require_columns
from helpers.measures import Measure
from helpers.stats import compare, estimators
from helpers.stats.arrays import norm_ppf, norm_sf, t_ppf, t_sf

GROUPS = ("leader", "middle", "laggard")
BINARY = {"renewed": "Renewal rate", "churned": "Churn rate"}
CONTINUOUS = {"nrr": "Net revenue retention", "expansion_rate": "Expansion (% of ARR)"}
DEFAULT_OUTCOMES = ("renewed", "nrr", "expansion_rate", "churned")
#: Columns of a compared outcome (:func:`compare_groups`), empty when a group is too small.
GAP_COLUMNS = ("a", "a_ci_low", "a_ci_high", "b", "b_ci_low", "b_ci_high", "estimate", "se",
               "ci_low", "ci_high", "ratio", "ratio_ci_low", "ratio_ci_high", "p_value",
               "effect_size", "effect_size_name", "n_a", "n_b")



def latest_wave_b2b(responses: pd.DataFrame, market: str = "B2B",
                    wave: str | None = None) -> pd.DataFrame:
    """Included responses of `market` in `wave` (default: the latest wave present)."""
    require_columns(responses, ["include", "market", "wave", "account_id", "ltr"], "responses")
    sub = responses[responses["include"].astype(bool) & (responses["market"] == market)]
    if sub.empty:
        raise DataError(f"no included {market} responses", file="responses", column="market",
                        expected=f"rows with market == {market!r} and include == True")
    wave = wave or str(sorted(sub["wave"].astype(str).unique())[-1])
    out = sub[sub["wave"].astype(str) == wave]
    if out.empty:
        raise DataError(f"wave {wave!r} has no rows", file="responses", column="wave",
                        expected=f"one of {sorted(sub['wave'].astype(str).unique())}")
    return out


def rank_accounts(responses: pd.DataFrame, min_n: int = 2, account: str = "account_id",
                score: str = "ltr") -> pd.DataFrame:
    """Per-account NPS with CI, shrunk NPS, rank and leader / middle / laggard group.

    Parameters
    ----------
    responses : one row per response (already filtered: market, wave, include).
    min_n : accounts with fewer rated responses get no rank and no group (``eligible`` False).

    Returns
    -------
    One row per account: account_id, n, nps, se, ci_low, ci_high (adjusted Wald, Rocks 2016, via
    :func:`helpers.stats.estimators.nps_table`), pct_promoter, pct_detractor, nps_shrunk, eligible, rank
    (1 = best, by shrunk NPS, ties broken by larger n, then account id), group ("leader" top quartile, "laggard"
    bottom quartile, "middle", or "" when not eligible).

    The shrinkage is normal-normal empirical Bayes: between-account variance tau^2 by the method of
    moments, within-account variance pooled over accounts, so an account with one promoter is pulled
    towards the mean more than one with six.
    """
    require_columns(responses, [account, score], "responses")
    rated = responses[responses[score].notna() & responses[account].notna()]
    if rated.empty:
        raise ThinData("no rated responses with an account", file="responses", column=score,
                       expected="0-10 scores for B2B accounts")
    table = estimators.nps_table(rated, by=account, score=score)
    y = estimators.nps_score(rated[score], score)
    table = _shrink_and_rank(table, "nps", y, rated[account], min_n, account)
    cols = [account, "n", "nps", "se", "ci_low", "ci_high", "pct_promoter", "pct_detractor",
            "nps_shrunk", "eligible", "rank", "group"]
    return table[cols].sort_values(["eligible", "rank"], ascending=[False, True],
                                   na_position="last").reset_index(drop=True)


def _shrink_and_rank(table: pd.DataFrame, est: str, y: np.ndarray, accounts: pd.Series,
                     min_n: int, account: str, higher_is_better: bool = True) -> pd.DataFrame:
    """`table` (one row per account: `est`, n) with ``<est>_shrunk`` (normal-normal empirical
    Bayes towards the n-weighted mean), eligible, rank (1 = best) and group."""
    resid = y - table.set_index(account)[est].reindex(accounts).to_numpy()
    dof = len(y) - len(table)
    sigma2 = float(np.sum(resid**2) / dof) if dof > 0 else float(np.var(y))
    elig = table["n"] >= min_n
    if elig.sum() < 4:
        raise ThinData(f"{int(elig.sum())} accounts with at least {min_n} rated responses",
                        file="responses", column=account,
                        expected="at least 4 accounts to form quartiles (lower min_n?)")
    e = table[elig]
    grand = float(np.average(e[est], weights=e["n"]))
    se2 = sigma2 / table["n"].to_numpy(float)
    tau2 = max(float(np.var(e[est], ddof=1) - np.mean(se2[elig.to_numpy()])), 0.0)
    weight = tau2 / (tau2 + se2) if tau2 > 0 else np.zeros(len(table))
    table = table.assign(**{f"{est}_shrunk": grand + weight * (table[est] - grand)}, eligible=elig)
    order = table[elig].sort_values([f"{est}_shrunk", "n", account],
                                    ascending=[not higher_is_better, False, True])
    k = len(order) // 4
    rank = pd.Series(np.arange(1, len(order) + 1), index=order.index)
    group = pd.Series("middle", index=order.index)
    group.iloc[:k] = "leader"
    group.iloc[len(order) - k:] = "laggard"
    table["rank"] = rank.reindex(table.index).astype("Int64")
    table["group"] = group.reindex(table.index).fillna("")
    table.attrs.update(tau2=tau2, sigma2=sigma2, grand_mean=grand, min_n=min_n)
    return table


def rank_accounts_on(responses: pd.DataFrame, measure: Measure, min_n: int = 2,
                     account: str = "account_id") -> pd.DataFrame:
    """Accounts ranked by `measure`'s headline statistic: :func:`rank_accounts` for NPS; for
    any other statistic (CSAT % top-2 box, CES mean ...) the same shrinkage and quartiles on its
    per-response values (:meth:`helpers.measures.Measure.values`), ranked in the measure's good
    direction. Columns: account_id, n, estimate, se, ci_low, ci_high (Wilson for a share, t for
    a mean), estimate_shrunk, eligible, rank, group; ``attrs["statistic"]`` names the
    statistic."""
    stat = measure.headline
    if stat.kind == "nps":
        return rank_accounts(responses, min_n=min_n, account=account, score=measure.key)
    require_columns(responses, [account, measure.key], "responses")
    values = measure.values(responses[measure.key], stat)
    keep = ~np.isnan(values) & responses[account].notna().to_numpy()
    rated = responses.loc[keep, [account]].assign(value=values[keep])
    if rated.empty:
        raise ThinData("no rated responses with an account", file="responses",
                       column=measure.key, expected=f"{measure.name} answers for accounts")
    table = estimators.survey_by(rated, "value", by=account)
    if stat.kind == "share":  # a share of a handful of contacts: Wilson, inside 0-100
        from statsmodels.stats.proportion import proportion_confint

        lo, hi = proportion_confint(np.round(table["estimate"] * table["n"] / 100), table["n"],
                                    method="wilson")
        table = table.assign(ci_low=100 * np.asarray(lo), ci_high=100 * np.asarray(hi))
    better_high = stat.kind != "mean" or measure.higher_is_better
    table = _shrink_and_rank(table, "estimate", rated["value"].to_numpy(float), rated[account],
                             min_n, account, higher_is_better=better_high)
    cols = [account, "n", "estimate", "se", "ci_low", "ci_high", "estimate_shrunk", "eligible",
            "rank", "group"]
    out = table[cols].sort_values(["eligible", "rank"], ascending=[False, True],
                                  na_position="last").reset_index(drop=True)
    out.attrs.update(table.attrs, statistic=stat.key)
    return out


def prepare_accounts(accounts: pd.DataFrame, ranked: pd.DataFrame,
                     account: str = "account_id") -> pd.DataFrame:
    """Join account outcomes to the NPS ranking; derive churned, nrr and expansion_rate.

    Needs ``arr`` and ``renewed``; ``churned`` defaults to not renewed; with ``expansion_arr``
    (or ``nrr``) the revenue outcomes are added: nrr = (arr + expansion_arr - churned * arr) / arr.
    Accounts without a rating in the wave keep group "not rated" (they are not dropped: silent
    accounts are a risk of their own). Rated accounts absent from `accounts` are left out
    (listed in ``attrs["rated_without_outcomes"]``); ThinData when none of them is in it.
    """
    require_columns(accounts, [account, "arr", "renewed"], "accounts", "the leaders-vs-laggards view")
    acc = accounts.copy()
    arr = pd.to_numeric(acc["arr"], errors="coerce")
    bad = ~(arr > 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"arr {acc['arr'].iloc[i]!r}", file="accounts", column="arr", row=i,
                        expected="annual recurring revenue > 0")
    acc["renewed"] = acc["renewed"].astype("boolean").astype(float)
    acc["churned"] = (acc["churned"].astype("boolean").astype(float) if "churned" in acc
                      else 1.0 - acc["renewed"])
    if "expansion_arr" in acc:
        exp_arr = pd.to_numeric(acc["expansion_arr"], errors="coerce").fillna(0.0)
        if "nrr" not in acc.columns or acc["nrr"].isna().all():
            acc["nrr"] = (arr + exp_arr - acc["churned"] * arr) / arr
        acc["expansion_rate"] = exp_arr / arr
    acc["arr"] = arr.astype(float)
    cols = [c for c in (account, "n", "nps", "estimate", "ci_low", "ci_high", "pct_detractor",
                        "nps_shrunk", "estimate_shrunk", "rank", "group") if c in ranked]
    out = acc.merge(ranked[cols], on=account, how="left")
    orphans = sorted(set(ranked[account]) - set(acc[account]))
    if len(ranked) and len(orphans) == ranked[account].nunique():
        raise ThinData(f"none of the {len(orphans)} rated accounts is in the account master",
                       file="accounts", column=account,
                       expected=f"account ids as in the survey, e.g. {orphans[0]!r}")
    out.attrs["rated_without_outcomes"] = orphans  # left out of the comparison: views say so
    out["group"] = out["group"].fillna("").replace("", "not rated")
    out.loc[out["n"].notna() & ~out["group"].isin(GROUPS), "group"] = "below min n"
    return out


def _binary_compare(a: pd.Series, b: pd.Series, level: float) -> dict:
    """a - b for two proportions: Newcombe hybrid-score CI, Katz log ratio CI, z-test, Cohen's h."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
    a, b = a.dropna(), b.dropna()
    x1, n1, x2, n2 = float(a.sum()), len(a), float(b.sum()), len(b)
    p1, p2 = x1 / n1, x2 / n2
    alpha = 1 - level
    lo, hi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff",
                                        alpha=alpha)
    rlo, rhi = (confint_proportions_2indep(x1, n1, x2, n2, method="log", compare="ratio",
                                           alpha=alpha) if min(x1, x2) > 0 else (np.nan, np.nan))
    pooled = (x1 + x2) / (n1 + n2)
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p = float(2 * norm_sf(abs(p1 - p2) / se0)) if se0 > 0 else np.nan
    se = float(np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2))
    h = 2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p2))
    ci1 = proportion_confint(x1, n1, alpha=alpha, method="wilson")
    ci2 = proportion_confint(x2, n2, alpha=alpha, method="wilson")
    return {"a": p1, "a_ci_low": ci1[0], "a_ci_high": ci1[1], "b": p2, "b_ci_low": ci2[0],
            "b_ci_high": ci2[1], "estimate": p1 - p2, "se": se, "ci_low": float(lo),
            "ci_high": float(hi), "ratio": p1 / p2 if p2 > 0 else np.nan,
            "ratio_ci_low": float(rlo), "ratio_ci_high": float(rhi), "p_value": p,
            "effect_size": float(h), "effect_size_name": "Cohen's h", "n_a": n1, "n_b": n2}


def _mean_compare(a: pd.Series, b: pd.Series, level: float) -> dict:
    """a - b for two means: Welch t CI, delta-method CI of the ratio on the log scale, Cohen's d."""
    a, b = a.dropna().to_numpy(float), b.dropna().to_numpy(float)
    n1, n2 = len(a), len(b)
    m1, m2 = a.mean(), b.mean()
    v1, v2 = a.var(ddof=1) / n1, b.var(ddof=1) / n2
    se = float(np.sqrt(v1 + v2))
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1)) if se > 0 else np.inf
    q = t_ppf(0.5 + level / 2, df)
    p = float(2 * t_sf(abs(m1 - m2) / se, df)) if se > 0 else np.nan
    sd = np.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    zq = norm_ppf(0.5 + level / 2)
    if m1 > 0 and m2 > 0:
        se_log = np.sqrt(v1 / m1**2 + v2 / m2**2)
        ratio, rlo, rhi = m1 / m2, m1 / m2 * np.exp(-zq * se_log), m1 / m2 * np.exp(zq * se_log)
    else:
        ratio = rlo = rhi = np.nan
    t1, t2 = t_ppf(0.5 + level / 2, n1 - 1), t_ppf(0.5 + level / 2, n2 - 1)
    return {"a": m1, "a_ci_low": m1 - t1 * np.sqrt(v1), "a_ci_high": m1 + t1 * np.sqrt(v1),
            "b": m2, "b_ci_low": m2 - t2 * np.sqrt(v2), "b_ci_high": m2 + t2 * np.sqrt(v2),
            "estimate": m1 - m2, "se": se, "ci_low": m1 - m2 - q * se, "ci_high": m1 - m2 + q * se,
            "ratio": ratio, "ratio_ci_low": rlo, "ratio_ci_high": rhi, "p_value": p,
            "effect_size": float((m1 - m2) / sd) if sd > 0 else np.nan,
            "effect_size_name": "Cohen's d", "n_a": n1, "n_b": n2}


def compare_groups(acc: pd.DataFrame, a: str = "leader", b: str = "laggard",
                   outcomes: Sequence[str] = DEFAULT_OUTCOMES, level: float = 0.95,
                   min_accounts: int = 5) -> pd.DataFrame:
    """Outcome gaps between two account groups (default leaders minus laggards).

    Binary outcomes (renewed, churned): difference of rates with Newcombe's hybrid-score interval
    (Newcombe 1998, method 10), rate ratio with the Katz log interval, two-proportion z-test and
    Cohen's h. Continuous outcomes (nrr, expansion_rate): Welch difference of means, ratio with a
    delta-method log interval, Welch t-test and Cohen's d. Accounts are the unit (each counts once).

    Returns one row per outcome: outcome, label, kind, a/b (group values with CIs), estimate
    (= a - b), se, ci_low, ci_high, n (accounts in both groups), ratio (+ CI), p_value,
    effect_size, effect_size_name. Fewer than `min_accounts` in a group gives NaN and a reason.
    """
    require_columns(acc, ["group", *outcomes], "accounts")
    rows = []
    for out in outcomes:
        if out not in BINARY and out not in CONTINUOUS:
            raise ArgumentError(f"unknown outcome {out!r}", argument="outcomes",
                                expected=f"one of {[*BINARY, *CONTINUOUS]}")
        xa, xb = acc.loc[acc["group"] == a, out], acc.loc[acc["group"] == b, out]
        kind = "rate" if out in BINARY else "mean"
        base = {"outcome": out, "label": {**BINARY, **CONTINUOUS}[out], "kind": kind,
                "group_a": a, "group_b": b}
        if min(xa.notna().sum(), xb.notna().sum()) < min_accounts:
            rows.append({**base, "n": int(xa.notna().sum() + xb.notna().sum()),
                         "reason": f"fewer than {min_accounts} accounts in a group"})
            continue
        res = _binary_compare(xa, xb, level) if kind == "rate" else _mean_compare(xa, xb, level)
        rows.append({**base, **res, "n": res["n_a"] + res["n_b"], "reason": ""})
    out = pd.DataFrame(rows)
    return out if "estimate" in out else out.reindex(columns=[*out.columns[:-2], *GAP_COLUMNS,
                                                              "n", "reason"])


def compare_by_segment(acc: pd.DataFrame, by: str, outcomes: Sequence[str] = DEFAULT_OUTCOMES,
                       level: float = 0.95, min_accounts: int = 5, q: float = 0.05) -> pd.DataFrame:
    """Leader - laggard gaps within each level of `by` (groups from the overall ranking).

    Benjamini-Hochberg across all segment x outcome tests (:func:`helpers.stats.compare.bh_adjust`):
    ``p_adjusted`` and ``significant`` (FDR `q`). Segments too small are kept with a reason.
    """
    require_columns(acc, [by], "accounts")
    parts = [compare_groups(g, outcomes=outcomes, level=level, min_accounts=min_accounts)
             .assign(**{by: name}) for name, g in acc.groupby(by, sort=True)]
    out = pd.concat(parts, ignore_index=True)
    if "p_value" not in out.columns:
        out["p_value"] = np.nan
    out = compare.with_fdr(out, q)
    return out[[by, *[c for c in out.columns if c != by]]]


def outcomes_present(acc: pd.DataFrame) -> list[str]:
    """The outcomes an account table supports, in :data:`DEFAULT_OUTCOMES` order."""
    return [o for o in DEFAULT_OUTCOMES if o in acc and acc[o].notna().any()]


def group_summary(acc: pd.DataFrame, outcomes: Sequence[str] = DEFAULT_OUTCOMES,
                  level: float = 0.95) -> pd.DataFrame:
    """Per group (leader, middle, laggard, below min n, not rated): accounts, ARR, outcome levels.

    Long: group, outcome, estimate, ci_low, ci_high, n, arr (sum of the group's ARR).
    """
    from statsmodels.stats.proportion import proportion_confint

    rows = []
    order = [*GROUPS, "below min n", "not rated"]
    for g in [g for g in order if (acc["group"] == g).any()]:
        sub = acc[acc["group"] == g]
        for out in outcomes:
            x = sub[out].dropna()
            if out in BINARY:
                lo, hi = proportion_confint(x.sum(), len(x), alpha=1 - level, method="wilson")
                est, se = x.mean(), np.sqrt(x.mean() * (1 - x.mean()) / len(x))
            else:
                est = x.mean()
                se = x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else np.nan
                t = t_ppf(0.5 + level / 2, max(len(x) - 1, 1))
                lo, hi = est - t * se, est + t * se
            rows.append({"group": g, "outcome": out, "estimate": float(est), "se": float(se),
                         "ci_low": float(lo), "ci_high": float(hi), "n": len(x),
                         "arr": float(sub["arr"].sum())})
    return pd.DataFrame(rows)


def _churn_model(acc: pd.DataFrame, n_draws: int, seed: int, score: str = "nps"
                 ) -> tuple[Any, np.ndarray]:
    """Logistic churn ~ account `score` / 100 (NPS, or a headline share) on rated accounts (the
    statsmodels result); coefficient draws for uncertainty."""
    fit_df = acc[acc[score].notna() & acc["churned"].notna()]
    if len(fit_df) < 10 or fit_df["churned"].nunique() < 2:
        raise ThinData(f"{len(fit_df)} rated accounts, churn values {sorted(fit_df['churned'].unique())}",
                        file="accounts", column="churned",
                        expected="at least 10 rated accounts with both churned and retained")
    from statsmodels.discrete.discrete_model import Logit

    x = fit_df[score].to_numpy(float) / 100
    X = np.column_stack([np.ones_like(x), x])
    model = Logit(fit_df["churned"].to_numpy(float), X).fit(disp=0)
    draws = np.random.default_rng(seed).multivariate_normal(
        model.params, model.cov_params(), size=n_draws)
    return model, draws


def at_risk_words(measure: Measure) -> str:
    """The accounts whose revenue is at risk, in the measure's words: "detractor accounts" (NPS
    below 0), else "low-CSAT accounts" (:func:`low_accounts`)."""
    return ("detractor accounts" if measure.headline.kind == "nps"
            else f"low-{measure.headline.name} accounts")


def low_accounts(acc: pd.DataFrame, measure: Measure) -> pd.Series:
    """Accounts on the bad side of the headline: NPS below 0 (more detractors than promoters);
    a share (CSAT % top-2 box, CES % agree) below 50 (most contacts outside the good answers);
    a mean on the bad side of the scale's midpoint."""
    stat = measure.headline
    if stat.kind == "nps":
        return acc["nps"] < 0
    if stat.kind == "share":
        return acc["estimate"] < 50
    mid = sum(measure.scale) / 2
    return acc["estimate"] < mid if measure.higher_is_better else acc["estimate"] > mid


def revenue_at_risk(acc: pd.DataFrame, rule: str = "negative_nps", by: str | None = None,
                    n_draws: int = 4000, seed: int = 0, level: float = 0.95,
                    measure: Measure | None = None) -> pd.DataFrame:
    """ARR in detractor accounts (or the low accounts of a programme without the LTR) and the ARR
    expected to churn there, with a CI from a churn model.

    Parameters
    ----------
    acc : output of :func:`prepare_accounts`.
    rule : "negative_nps" (more detractors than promoters) or "majority_detractors" (> 50 %).
    by : optional segment column: one row per level plus a "Total" row.
    n_draws, seed : draws of the logistic coefficients (churned ~ NPS / 100, fitted on all rated
        accounts) from their asymptotic normal distribution; the CI is their percentile interval.
    measure : the headline of a programme without the LTR: accounts at risk are
        :func:`low_accounts`, the churn model reads the account's headline figure (``estimate``,
        a share / 100 or a mean), `rule` is not used and each row's ``accounts`` names them.

    Returns
    -------
    segment, n (detractor accounts), arr_at_risk (their total ARR), share_of_arr (of all rated
    ARR), estimate (expected churned ARR = sum of ARR x predicted churn probability), se, ci_low,
    ci_high, observed_churned_arr (what churned last period, for comparison), odds_ratio_per_10pts.
    """
    headline = measure is not None and measure.headline.kind != "nps"
    score = "estimate" if headline else "nps"
    require_columns(acc, [score, "arr", "churned"] + ([] if headline else ["pct_detractor"]),
                    "accounts")
    if measure is not None and headline:
        det, rule = low_accounts(acc, measure), f"low {measure.headline.key}"
    elif rule == "negative_nps":
        det = acc["nps"] < 0
    elif rule == "majority_detractors":
        det = acc["pct_detractor"] > 50
    else:
        raise ArgumentError(f"unknown rule {rule!r}", argument="rule",
                            expected="'negative_nps' or 'majority_detractors'")
    model, draws = _churn_model(acc, n_draws, seed, score)
    segments = [("Total", acc.index)]
    if by:
        segments = [(str(k), g.index) for k, g in acc.groupby(by, sort=True)] + segments
    out = _at_risk_rows(acc, det, segments, (model, draws), score, level)
    out.insert(1, "rule", rule)
    return out.assign(accounts=at_risk_words(measure)) if measure is not None and headline else out


def _at_risk_rows(acc: pd.DataFrame, det: pd.Series, segments: list, fitted: tuple,
                  score: str, level: float) -> pd.DataFrame:
    """One row per segment of :func:`revenue_at_risk`."""
    model, draws = fitted
    rated = acc[score].notna()
    tail = (1 - level) / 2
    rows = []
    for name, idx in segments:
        sub = acc.loc[idx]
        d = sub[det.loc[idx].fillna(False).to_numpy(bool)]
        x = d[score].to_numpy(float) / 100
        arr = d["arr"].to_numpy(float)
        p_hat = 1 / (1 + np.exp(-(model.params[0] + model.params[1] * x)))
        xs, at = np.unique(x, return_inverse=True)   # accounts with one NPS share a probability
        arr_x = np.bincount(at.ravel(), weights=arr, minlength=len(xs))
        loss = (1 / (1 + np.exp(-(draws[:, [0]] + draws[:, [1]] * xs[None, :])))) @ arr_x
        rows.append({
            "segment": name, "n": len(d), "arr_at_risk": float(arr.sum()),
            "share_of_arr": float(arr.sum() / sub.loc[rated.loc[idx], "arr"].sum())
            if rated.loc[idx].any() else np.nan,
            "estimate": float(arr @ p_hat), "se": float(loss.std(ddof=1)),
            "ci_low": float(np.quantile(loss, tail)), "ci_high": float(np.quantile(loss, 1 - tail)),
            "observed_churned_arr": float((d["churned"] * d["arr"]).sum()),
            "odds_ratio_per_10pts": float(np.exp(model.params[1] / 10)),
        })
    return pd.DataFrame(rows)


def gap_value(acc: pd.DataFrame, target: str = "middle", level: float = 0.95) -> pd.DataFrame:
    """What lifting the laggards to the `target` group's outcomes would be worth in ARR per year.

    Renewal: (renewal rate of target - of laggards) x laggards' ARR. NRR: (NRR target - NRR
    laggards) x laggards' ARR. The CI is the CI of the difference (Newcombe / Welch) times that ARR
    (ARR treated as known). An association, not a guaranteed return: an upper bound on what the
    experience gap alone explains.
    """
    cmp = compare_groups(acc, a=target, b="laggard", level=level,
                         outcomes=[o for o in ("renewed", "nrr") if o in acc])
    arr_lag = float(acc.loc[acc["group"] == "laggard", "arr"].sum())
    rows = []
    for r in cmp.itertuples(index=False):
        rows.append({"basis": f"{r.label}: laggards to {target}", "gap": r.estimate,
                     "gap_ci_low": r.ci_low, "gap_ci_high": r.ci_high,
                     "arr_laggards": arr_lag, "estimate": r.estimate * arr_lag,
                     "se": r.se * arr_lag, "ci_low": r.ci_low * arr_lag,
                     "ci_high": r.ci_high * arr_lag, "n": r.n})
    return pd.DataFrame(rows)


def gap_value_by_segment(acc: pd.DataFrame, by: str, target: str = "middle",
                         level: float = 0.95, min_accounts: int = 5) -> pd.DataFrame:
    """:func:`gap_value` within each level of `by` (groups from the overall ranking).

    Segments with fewer than `min_accounts` laggard or target accounts get NaN and a reason.
    """
    require_columns(acc, [by, "group", "arr", "renewed"], "accounts")
    rows = []
    for name, g in acc.groupby(by, sort=True):
        cmp = compare_groups(g, a=target, b="laggard", level=level, min_accounts=min_accounts,
                             outcomes=[o for o in ("renewed", "nrr") if o in acc])
        arr_lag = float(g.loc[g["group"] == "laggard", "arr"].sum())
        for r in cmp.to_dict("records"):
            est, se = r.get("estimate", np.nan), r.get("se", np.nan)
            lo, hi = r.get("ci_low", np.nan), r.get("ci_high", np.nan)
            rows.append({by: name, "basis": f"{r['label']}: laggards to {target}", "gap": est,
                         "arr_laggards": arr_lag, "estimate": est * arr_lag, "se": se * arr_lag,
                         "ci_low": lo * arr_lag, "ci_high": hi * arr_lag, "n": r["n"],
                         "reason": r.get("reason", "")})
    return pd.DataFrame(rows)


def metric_dict(row: pd.Series | dict, scale: float = 1.0) -> dict[str, float]:
    """{estimate, se, ci_low, ci_high, n} of a result row (times `scale`) for save_metrics."""
    r = dict(row)
    return {k: (float(r[k]) * scale if k != "n" else int(r[k]))
            for k in ("estimate", "se", "ci_low", "ci_high", "n") if k in r}


def headline_metrics(gaps: pd.DataFrame | None = None, risk: pd.DataFrame | None = None,
                     value: pd.DataFrame | None = None, competitor_gaps: pd.DataFrame | None = None,
                     backtest: BacktestResult | None = None, synthetic_market: bool = False
                     ) -> dict[str, object]:
    """The notebook's headline figures as ``{key: {estimate, se, ci_low, ci_high, n}}``.

    Rates, NRR and NPS gaps in points (percentage points), money in ARR currency units, returns in
    percent. `gaps` from :func:`compare_groups`, `risk` from :func:`revenue_at_risk` (its "Total"
    row), `value` from :func:`gap_value`, `competitor_gaps` from
    :func:`helpers.analysis.competitors.paired_gaps` (overall, one row per competitor), `backtest` a
    :class:`helpers.analysis.market_backtest.BacktestResult`; any may be None (section not
    available in this run).
    """
    out: dict[str, object] = {}
    for r in (gaps.itertuples(index=False) if gaps is not None else ()):
        if pd.notna(getattr(r, "estimate", np.nan)):
            out[f"leader_laggard_gap_{r.outcome}_pts"] = metric_dict(r._asdict(), scale=100.0)
    if risk is not None and (risk["segment"] == "Total").any():
        total = risk[risk["segment"] == "Total"].iloc[0]
        out["revenue_at_risk_expected_churn_arr"] = {
            **metric_dict(total), **({"accounts": str(total["accounts"])} if "accounts" in total else {})}
        out["arr_in_detractor_accounts"] = {"estimate": float(total["arr_at_risk"]), "n": int(total["n"])}
    for r in (value.itertuples(index=False) if value is not None else ()):
        key = "renewal" if r.basis.startswith(BINARY["renewed"]) else "nrr"
        out[f"gap_value_{key}_arr"] = metric_dict(r._asdict())
    for r in (competitor_gaps.itertuples(index=False) if competitor_gaps is not None else ()):
        out[f"nps_gap_vs_{r.competitor}"] = {**metric_dict(r._asdict()), "verdict": r.verdict}
    if backtest is not None:
        out.update(_backtest_metrics(backtest, synthetic_market))
    return out


def _backtest_metrics(backtest: BacktestResult, synthetic_market: bool) -> dict[str, object]:
    s = backtest.summary.set_index("portfolio")
    tag = "_synthetic" if synthetic_market else ""
    out: dict[str, object] = {}
    for label, key in zip(s.index, ("leaders", "laggards", "benchmark"), strict=True):
        out[f"backtest{tag}_{key}_cumulative_return_pct"] = {
            "estimate": 100 * float(s.loc[label, "cumulative_return"]), "n": int(s.loc[label, "years"])}
    ex = backtest.excess.iloc[0]
    out[f"backtest{tag}_leader_laggard_excess_yearly_pct"] = metric_dict(ex, scale=100.0)
    out["backtest_price_only"] = bool(backtest.price_only)
    return out
