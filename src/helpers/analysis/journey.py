"""The sales -> implementation journey as an explanation of ratings and promoters.

Deals rushed in at quarter end, long implementations and go-live slips are account-level facts,
so every effect here is estimated with account-clustered standard errors (contacts of one
account are not independent). Also the "walk back from promoters": what promoter accounts lived
through differently, and account teams compared on promoter rate with empirical-Bayes shrinkage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from helpers.errors import ThinData, require_columns
from helpers.stats import compare, shrinkage
from helpers.stats.arrays import t_value
from helpers.stats.design import Design
from helpers.stats.regression import GLMResult, survey_glm


def _fit(y: np.ndarray, x: np.ndarray, design: Design, domain: np.ndarray, logit: bool
         ) -> GLMResult:
    """R ``svyglm(y ~ x, design)`` (``quasibinomial`` for a logit) on the rows of ``domain``:
    design-based SEs (account clusters) and t on the design df minus the parameters."""
    return survey_glm(y, x, design, family="quasibinomial" if logit else "gaussian",
                      domain=domain)


def _scatter(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Values of the rows in ``rows`` (a mask) placed in a full-length array (NaN elsewhere)."""
    out = np.full((len(rows), *values.shape[1:]), np.nan)
    out[rows] = values
    return out


def _design(df: pd.DataFrame, explanation: str, controls: Sequence[str]) -> np.ndarray:
    x = df[[explanation]].astype(float)
    if controls:
        dummies = pd.get_dummies(df[list(controls)].astype("string"), drop_first=True, dtype=float)
        x = pd.concat([x, dummies], axis=1)
    return x.to_numpy(float, copy=True)


class _Effect(NamedTuple):
    """One estimated effect: coefficient, its SE and p-value, rows and clusters behind it, and
    the degrees of freedom of its t interval."""

    est: float
    se: float
    p: float
    n: int
    n_clusters: int
    df: float

    @classmethod
    def of(cls, fit: GLMResult, column: int = 1, scale: float = 1.0) -> _Effect:
        """The coefficient of a design-based fit's `column` (1: the first predictor), per
        `scale` units of that predictor."""
        return cls(float(fit.coef[column]) * scale, float(fit.se[column]) * scale,
                   float(fit.p_value[column]), fit.n, fit.n_psu, fit.df)


def _row(key: tuple[str, str, str], e: _Effect, level: float, unit: str,
         exp: bool = False) -> dict[str, object]:
    """A result row for (explanation, outcome, effect) `key`, with a t interval on the fit's
    df; `exp`: report exp() of the estimate and bounds (odds ratios), the SE stays on the log
    scale."""
    q = t_value(level, e.df)
    est, lo, hi = e.est, e.est - q * e.se, e.est + q * e.se
    if exp:
        est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
    explanation, outcome, effect = key
    return {"explanation": explanation, "outcome": outcome, "effect": effect, "estimate": est,
            "se": e.se, "ci_low": lo, "ci_high": hi, "p_value": e.p, "n": e.n,
            "n_clusters": e.n_clusters, "unit": unit}


@dataclass(frozen=True)
class JourneyModels:
    """What every journey model shares: the LTR column, the `cluster` of the robust SEs,
    categorical `controls` added to every model (e.g. "tier"), the slope unit `per_days`,
    whether slip and length are adjusted for the other journey variables
    (`adjust_journey`), and the confidence `level`."""

    ltr: str = "ltr"
    cluster: str = "account_id"
    controls: Sequence[str] = ()
    per_days: float = 30.0
    adjust_journey: bool = True
    level: float = 0.95



DEFAULT_MODELS = JourneyModels()


def journey_effects(df: pd.DataFrame, impl_items: Sequence[str],
                    models: JourneyModels = DEFAULT_MODELS, *,
                    design: Design | None = None) -> pd.DataFrame:
    """Effect sizes of quarter-end deals, implementation length and go-live slip.

    Outcomes: the implementation items (each, and their mean ``impl_mean``), promoter (9-10) and
    LTR; for quarter-end deals also the go-live slip itself (the mechanism, one row per account).

    Every model is R's ``svyglm`` on ``design`` (the B2B market's design,
    :attr:`helpers.analysis.selection.MarketData.design`: contacts clustered by account; None:
    ``df`` clustered by ``models.cluster``), the complete rows of each model a domain of it:
    design-based SEs and t intervals on the design df minus the model's parameters.
    ``models.controls`` are categorical columns such as "tier" added to every model
    (:class:`JourneyModels`):

    - quarter_end_deal: ``mean difference`` (quarter-end minus other deals, item points / LTR
      points / days), ``cohen_d`` (difference over the pooled SD; its SE uses the design SE of
      the difference), ``odds_ratio`` of being a promoter (quasibinomial).
    - go_live_slip_days, impl_length_days: ``slope per {per_days} days`` on item ratings and LTR,
      ``odds_ratio per {per_days} days`` of being a promoter. With ``adjust_journey`` each is
      adjusted for the other two journey variables (quarter-end deals slip more, so an
      unadjusted slip slope would carry the quarter-end penalty). The quarter-end effect is not
      adjusted for slip: slip is one of the ways the rush hurts, so it is a total effect.

    Returns a tidy frame: explanation, outcome, effect, estimate, se (log scale for odds ratios),
    ci_low, ci_high, p_value, n, n_clusters, unit.
    """
    m = models
    ltr = m.ltr
    need = ["quarter_end_deal", "go_live_slip_days", "impl_length_days", ltr, m.cluster,
            *impl_items, *m.controls]
    require_columns(df, need, "B2B responses")
    d = df[list(dict.fromkeys(need))].copy()   # only the modelled columns: every fit selects rows
    d["impl_mean"] = d[list(impl_items)].mean(axis=1, skipna=False)
    d["promoter"] = np.where(d[ltr].isna(), np.nan, (d[ltr] >= 9).astype(float))
    d["quarter_end_deal"] = d["quarter_end_deal"].astype("boolean").astype("Float64")
    dz = Design.from_frame(d, cluster=m.cluster) if design is None else design
    outcomes = [*impl_items, "impl_mean", ltr, "promoter"]
    rows: list[dict[str, object]] = []
    journey_vars = ("quarter_end_deal", "go_live_slip_days", "impl_length_days")
    fits: dict[tuple[str, ...], tuple[GLMResult, dict[str, int]]] = {}
    present = {c: d[c].notna().to_numpy() for c in d.columns}   # each column tested once
    for expl in journey_vars:
        binary = expl == "quarter_end_deal"
        adjust = [v for v in journey_vars if v != expl] if (m.adjust_journey and not binary) else []
        for out in outcomes:
            rows += _effect_rows(d, dz, (expl, out, adjust), m, (fits, present))
    rows += _slip_rows(d, m)
    out = pd.DataFrame(rows)
    out.attrs.update({"cluster": m.cluster, "controls": list(m.controls), "level": m.level,
                      "per_days": m.per_days, "adjust_journey": m.adjust_journey,
                      "method": "svyglm"})
    return out


def _effect_rows(d: pd.DataFrame, design: Design, what: tuple[str, str, list[str]],
                 m: JourneyModels,
                 known: tuple[dict[tuple[str, ...], tuple[GLMResult, dict[str, int]]],
                              dict[str, np.ndarray]]) -> list[dict[str, object]]:
    """Effects of one journey variable on one outcome, adjusted for `adjust` (``what`` =
    (explanation, outcome, adjust)).

    Promoter: an odds ratio (logit). Quarter-end deals: mean difference and Cohen's d. Slip and
    length: a slope per ``m.per_days`` days. None with under 20 rows or no variation.
    `known` is (fits, present): `fits` keeps each adjusted model (and its unscaled columns) by
    outcome and variables: slip adjusted for length and length adjusted for slip are one model
    (same rows and columns, reordered and rescaled), fitted once; `present`: each column's
    not-missing mask.
    """
    (expl, out, adjust), (fits, present) = what, known
    binary = expl == "quarter_end_deal"
    scale = 1.0 if binary else m.per_days
    rows = np.logical_and.reduce([present[c] for c in (expl, out, m.cluster, *m.controls, *adjust)]
                                 + [design.w > 0])
    sub = d.loc[rows, [expl, out, *m.controls, *adjust]]
    varied = sub[expl].to_numpy(float)
    if len(sub) < 20 or varied.min() == varied.max():
        return []
    y = sub[out].to_numpy(float)
    if out == "promoter" and y.min() == y.max():
        return []
    key = (out, *sorted([expl, *adjust])) if adjust else ()
    if key in fits:   # the same model, fitted for another of its variables
        fit, columns = fits[key]
        e = _Effect.of(fit, columns[expl], m.per_days)
    else:
        x = _design(sub, expl, m.controls)
        if adjust:
            x = np.column_stack([x, sub[adjust].astype(float).to_numpy()])
        x[:, 0] = x[:, 0] / scale
        fit = _fit(_scatter(y, rows), _scatter(x, rows), design, rows, logit=out == "promoter")
        if key:
            fits[key] = fit, {v: x.shape[1] + 1 - len(adjust) + i for i, v in enumerate(adjust)}
        e = _Effect.of(fit)
    if out == "promoter":
        label = "odds_ratio" if binary else f"odds_ratio per {m.per_days:g} days"
        return [_row((expl, out, label), e, m.level, "odds ratio", exp=True)]
    unit = "LTR points" if out == m.ltr else "item points (on the item's own scale)"
    if not binary:
        return [_row((expl, out, f"slope per {m.per_days:g} days"), e, m.level, unit)]
    g1, g0 = y[x[:, 0] == 1], y[x[:, 0] == 0]
    sd = np.sqrt(((len(g1) - 1) * g1.var(ddof=1) + (len(g0) - 1) * g0.var(ddof=1))
                 / (len(y) - 2))
    dd = e.est / sd
    se_d = np.sqrt((e.se / sd) ** 2 + dd**2 / (2 * len(y)))
    return [_row((expl, out, "mean difference"), e, m.level, unit),
            _row((expl, out, "cohen_d"), e._replace(est=dd, se=se_d), m.level,
                 "standard deviations")]


def _slip_rows(d: pd.DataFrame, m: JourneyModels) -> list[dict[str, object]]:
    """Go-live slip of quarter-end deals minus others, one row per account (R ``svyglm`` on
    ``svydesign(id=~1)`` of the accounts)."""
    acc = d.dropna(subset=["quarter_end_deal", "go_live_slip_days", m.cluster]) \
        .drop_duplicates(m.cluster)
    if len(acc) < 20 or acc["quarter_end_deal"].nunique() != 2:
        return []
    fit = _fit(acc["go_live_slip_days"].to_numpy(float),
               _design(acc, "quarter_end_deal", m.controls), Design(len(acc)),
               np.ones(len(acc), dtype=bool), logit=False)
    return [_row(("quarter_end_deal", "go_live_slip_days", "mean difference"),
                 _Effect.of(fit), m.level, "days (one row per account)")]


@dataclass(frozen=True)
class PromoterUnits:
    """The units :func:`walk_back` compares: ``by`` a column (accounts: their contacts averaged,
    one vote per account), a promoter unit when at least ``share`` of its responding contacts
    gave 9-10 on the ``ltr`` column; ``by=None`` (B2C): each response is its own unit."""

    by: str | None = "account_id"
    share: float = 0.5
    ltr: str = "ltr"


PROMOTER_ACCOUNTS = PromoterUnits()


def walk_back(
    df: pd.DataFrame,
    items: Sequence[str],
    units: PromoterUnits = PROMOTER_ACCOUNTS,
    *,
    q: float = 0.05,
    level: float = 0.95,
    scales: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """What did promoter accounts experience differently? Item by item, with FDR control.

    Each account's contacts are averaged (one vote per account); an account is a promoter account
    when at least ``units.share`` of its responding contacts gave 9-10 (:class:`PromoterUnits`;
    ``by=None``, B2C: each response is its own unit). For every item: mean among promoter accounts, among the
    others, the difference (promoters minus others) with a Wald CI and p-value
    (:func:`helpers.stats.compare.compare_independent`), and the Benjamini-Hochberg adjusted p-value
    across items (:func:`helpers.stats.compare.bh_adjust`). With `scales`, every item is first
    put on a 0-100 "% of its scale" footing, so items asked on different scales compare.
    """
    account, ltr, promoter_share = units.by, units.ltr, units.share
    require_columns(df, [ltr, *items, *([account] if account else [])], "B2B responses")
    d = df.dropna(subset=[ltr])
    if scales:
        d = d.assign(**{it: (d[it] - scales[it][0]) * 100.0 / (scales[it][1] - scales[it][0])
                        for it in items})
    if account is not None:
        d = d.dropna(subset=[account])
        g = d.assign(_pro=(d[ltr] >= 9).astype(float)).groupby(account, observed=True)
        scored = g[list(items)].mean()
        scored["promoter_unit"] = g["_pro"].mean() >= promoter_share
    else:
        scored = d[list(items)].copy()
        scored["promoter_unit"] = d[ltr] >= 9
    pro, rest = scored[scored["promoter_unit"]], scored[~scored["promoter_unit"]]
    if len(pro) < 2 or len(rest) < 2:
        raise ThinData(f"{len(pro)} promoter and {len(rest)} other units", column=ltr,
                        expected="at least 2 of each")
    rows = []
    for it in items:
        r = compare.compare_independent(rest[it].dropna(), pro[it].dropna(), metric="mean",
                                        level=level)
        rows.append({"item": it, "mean_promoter": pro[it].mean(), "mean_other": rest[it].mean(),
                     "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "p_value": r.p, "n_promoter": r.n_b,
                     "n_other": r.n_a})
    out = compare.with_fdr(pd.DataFrame(rows), q)
    out = out.sort_values("estimate", ascending=False, ignore_index=True)
    out.attrs.update({"unit": account or "response", "promoter_share": promoter_share, "q": q,
                      "points": "% of the scale" if scales else "item points",
                      "n_promoter_units": len(pro), "n_other_units": len(rest)})
    return out


def _loo_betabinom_p(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p of each unit's count under the beta-binomial fitted to all other units."""
    from scipy import stats
    out = np.empty(len(k))
    for i in range(len(k)):
        rest = np.arange(len(k)) != i
        a, b = shrinkage.fit_beta_binomial(k[rest], n[rest])
        lo = stats.betabinom.cdf(k[i], n[i], a, b)
        hi = stats.betabinom.sf(k[i] - 1, n[i], a, b)
        out[i] = min(1.0, 2 * min(lo, hi))
    return out


def team_comparison(
    df: pd.DataFrame,
    team: str = "rep_id",
    ltr: str = "ltr",
    q: float = 0.05,
    level: float = 0.95,
) -> pd.DataFrame:
    """Account teams compared on promoter rate, shrunk so small teams do not top the list by luck.

    Promoter counts per team go through :func:`helpers.stats.shrinkage.eb_rates` (beta-binomial
    empirical Bayes): each team's rate is pulled towards the overall rate in proportion to how
    little data it has. Teams are ranked by the shrunk rate. ``p_value_loo`` tests each team
    against the beta-binomial distribution fitted to the *other* teams (leave-one-out, so an
    outlying team does not widen its own yardstick, which makes ``p_value_eb`` very
    conservative); it is BH-adjusted across teams (:func:`helpers.stats.compare.bh_adjust`), so
    ``flag`` marks teams that differ beyond ordinary team-to-team variation at FDR `q`.
    Contacts are counted, so a team with few large accounts looks more certain than it is; a
    team's high rate can also be pressured scores (see the score-integrity notebook).
    """
    require_columns(df, [team, ltr], "B2B responses")
    d = df.dropna(subset=[team, ltr])
    g = d.assign(_pro=(d[ltr] >= 9).astype(float)).groupby(team, observed=True)["_pro"]
    counts = pd.DataFrame({"successes": g.sum(), "trials": g.count()})
    if len(counts) < 3:
        raise ThinData(f"{len(counts)} teams", column=team, expected="at least 3 teams")
    eb = shrinkage.eb_rates(counts["successes"], counts["trials"], labels=counts.index,
                          level=level)
    eb["p_value_loo"] = _loo_betabinom_p(counts["successes"].to_numpy(float),
                                         counts["trials"].to_numpy(float))
    bh = compare.bh_adjust(eb["p_value_loo"], q=q)
    eb["p_adjusted"] = bh["p_adjusted"].to_numpy()
    eb["flag"] = np.where(bh["reject"].to_numpy(),
                          np.where(eb["raw_rate"] > eb.attrs["pooled_rate"], "above", "below"),
                          "")
    eb["rank_raw"] = eb["raw_rate"].rank(ascending=False, method="min").astype(int)
    eb["rank_shrunk"] = eb["shrunk_rate"].rank(ascending=False, method="min").astype(int)
    out = eb.rename(columns={"label": team}).sort_values("shrunk_rate", ascending=False,
                                                          ignore_index=True)
    for c in ("raw_rate", "shrunk_rate", "ci_low", "ci_high"):
        out[c] = 100 * out[c]
    out = out.rename(columns={"trials": "n"})
    out.attrs.update({**eb.attrs, "q": q, "scale": "percent promoters"})
    return out
