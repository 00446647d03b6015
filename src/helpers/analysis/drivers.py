"""Key-driver analysis: which experiences move likelihood to recommend, and how sure we are.

The reference method is the LMG / Shapley decomposition of R² (general dominance, Grömping 2006):
each driver's importance is its average gain in R² over all orders of entry, so the importances
sum to the model's R². Every R² of a subset follows from the correlation matrix, so after one pass
over the rows the cost depends only on the number of drivers (2^p subsets), never on the rows.
Bootstrap resamples re-weight per-cluster sufficient statistics (sums of z and zz') instead of
copying rows: B2B resamples whole accounts, B2C contacts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers.analysis.modelling import (
    cluster_codes,
    numeric_matrix,
    row_weights,
    single_thread,
)
from helpers.analysis.subsample import subsample
from helpers.errors import ArgumentError, DataError, ThinData
from helpers.measures import Measure
from helpers.stats.design import Design
from helpers.stats.regression import GLMResult, survey_glm, survey_glms

# --- promoter and detractor models ---------------------------------------------------------------
TARGETS = {"promoter": (9.0, 10.0), "detractor": (0.0, 6.0)}


def target_flag(ltr: pd.Series | np.ndarray, target: str) -> np.ndarray:
    """1.0 where `ltr` falls in the target band (promoter 9-10, detractor 0-6), NaN if missing."""
    if target not in TARGETS:
        raise ArgumentError(f"target {target!r}", argument="target",
                            expected="'promoter' or 'detractor'")
    lo, hi = TARGETS[target]
    x = np.asarray(ltr, dtype=float)
    return np.where(np.isnan(x), np.nan, ((x >= lo) & (x <= hi)).astype(float))


def model_frame(df: pd.DataFrame, drivers: Sequence[str], ltr: str, cluster: str | None,
                weights: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Complete rows: X (n, p), ltr (n,), weights (n,), cluster codes (n,)."""
    z = numeric_matrix(df, [ltr, *drivers])
    w = row_weights(df, weights)
    keep = ~np.isnan(z).any(axis=1) & (w > 0)
    if cluster is not None:
        keep &= df[cluster].notna().to_numpy()
    codes = cluster_codes(df, cluster, keep)
    return z[keep, 1:], z[keep, 0], w[keep], codes


@single_thread
def outcome_models(
    df: pd.DataFrame,
    drivers: Sequence[str],
    ltr: str = "ltr",
    cluster: str | None = None,
    weights: str | None = None,
    level: float = 0.95,
    design: Design | None = None,
) -> pd.DataFrame:
    """Promoter (9-10 vs rest) and detractor (0-6 vs rest) logistic models, side by side.

    Why two models: what makes a promoter is not simply the absence of what makes a detractor
    (an item can prevent detractors without creating promoters). Odds ratios are per 1-point
    item change, all drivers in the model together, complete cases as a domain of the design.
    Each model is R's ``svyglm(..., family=quasibinomial())`` on ``design`` (the market's
    :class:`~helpers.stats.design.Design`: account clusters for B2B, raked weights for B2C;
    :attr:`helpers.analysis.selection.MarketData.design`): design-based sandwich SEs and t
    intervals on the design df minus the model's parameters. Without ``design``, the design
    of ``df`` clustered by ``cluster`` with ``weights`` (rows without a cluster left out).

    Returns
    -------
    Tidy DataFrame: target, driver, odds_ratio, ci_low, ci_high, log_or, se, p_value, df, n,
    n_clusters (PSUs), auc (in-sample, for reference). ``attrs['cov_type']`` says which SE
    was used.
    """
    x, y_ltr, _, _ = model_frame(df, drivers, ltr, cluster if design is None else None,
                                 weights if design is None else None)
    if len(y_ltr) < len(drivers) + 10:
        raise ThinData(f"{len(y_ltr)} complete rows for {len(drivers)} drivers", column=ltr,
                        expected=f"at least {len(drivers) + 10} rows with every item answered")
    if design is None:
        design = Design.from_frame(df, weights=weights, cluster=cluster)
        domain = df[cluster].notna().to_numpy() if cluster else None
    else:
        domain = None
    rows = []
    items = df[list(drivers)]   # one copy of the predictors and one completeness test for both
    usable = ~items.isna().any(axis=1).to_numpy() & (design.w > 0) & (True if domain is None else domain)
    ys = {target: target_flag(df[ltr], target) for target in TARGETS}
    fits = _design_logits(ys, items, design, domain, (ltr, level))
    for target, y in ys.items():
        fit = fits[target]
        lo, hi = fit.ci()
        used = usable & ~np.isnan(y)
        auc = _auc(y[used], fit.predict(items[used].to_numpy(float)))
        for j, d in enumerate(drivers, start=1):
            b = float(fit.coef[j])
            rows.append({"target": target, "driver": d, "odds_ratio": np.exp(b),
                         "ci_low": np.exp(lo[j]), "ci_high": np.exp(hi[j]), "log_or": b,
                         "se": float(fit.se[j]), "p_value": float(fit.p_value[j]),
                         "df": fit.df, "n": fit.n, "n_clusters": fit.n_psu, "auc": auc})
    out = pd.DataFrame(rows)
    out.attrs.update({"cov_type": "design", "cluster": cluster or "none", "level": level,
                      "weights": weights or "none"})
    return out


def _design_logits(ys: dict[str, np.ndarray], x: pd.DataFrame, design: Design,
                   domain: np.ndarray | None, what: tuple[str, float]) -> dict[str, GLMResult]:
    """R ``svyglm(flag ~ x, design, family=quasibinomial())`` of each target flag (one call
    for all: they share the predictors), or a ThinData / DataError naming the target that
    cannot be fitted."""
    ltr, level = what
    complete = (design.w > 0) & ~x.isna().any(axis=1).to_numpy()
    if domain is not None:
        complete &= domain
    for target, y in ys.items():
        used = complete & ~np.isnan(y)
        if not used.any() or y[used].min() == y[used].max():
            raise ThinData(f"no variation in {target} flag", column=ltr,
                           expected="both promoters/detractors and others")
    try:
        fits = survey_glms(list(ys.values()), x, design, family="quasibinomial", domain=domain,
                           level=level)
    except DataError:
        for target, y in ys.items():   # which target fails, one at a time
            try:
                survey_glm(y, x, design, family="quasibinomial", domain=domain, level=level)
            except DataError as exc:
                raise DataError(f"{target} model failed to fit: {exc}", column=ltr,
                                expected="items that are not perfectly collinear or separating"
                                ) from None
        raise
    return dict(zip(ys, fits, strict=True))


def odds_ratio_table(models: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """Promoter and detractor odds ratios side by side, one row per driver (display table)."""
    def fmt(r: pd.Series) -> str:
        return f"{r.odds_ratio:.{digits}f} [{r.ci_low:.{digits}f}, {r.ci_high:.{digits}f}]"
    t = models.assign(text=models.apply(fmt, axis=1))
    wide = t.pivot(index="driver", columns="target", values="text")
    wide.columns = [f"{c} OR [CI]" for c in wide.columns]
    ors = models.pivot(index="driver", columns="target", values="odds_ratio")
    wide["promoter / detractor gap"] = np.log(ors["promoter"]) + np.log(ors["detractor"])
    return wide.sort_values("promoter / detractor gap", key=np.abs, ascending=False)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties averaged), without scikit-learn's per-call checks.

    Scores repeat (ratings do): the positives' rank sum is counted per distinct score (a hash
    and two bincounts, no sort of the rows); every term is a multiple of 1/2, so the sum is exact.
    """
    pos = np.asarray(y) == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    codes, distinct = pd.factorize(np.asarray(score))
    rank = np.empty(len(distinct), np.int64)
    rank[np.argsort(distinct, kind="mergesort")] = np.arange(len(distinct))
    codes = rank[codes]
    n_all = np.bincount(codes, minlength=len(distinct))
    n_pos = np.bincount(codes[pos], minlength=len(distinct))
    average_rank = (np.cumsum(n_all) - n_all) + (n_all + 1) / 2.0
    return float(((n_pos * average_rank).sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _shuffled_copies(x: np.ndarray, n_repeats: int, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The held-out rows `x`, then copies with one driver's column shuffled (drivers in order,
    `n_repeats` each, drawn from `rng` in that order), as the distinct rows of all copies (ratings
    repeat: each predicted once) and each copy's index into them (copies x n), from the columns'
    ``pd.factorize`` codes shuffled alike: no copy of the values, no factorization of the copies."""
    n, p = x.shape
    coded = [pd.factorize(x[:, j]) for j in range(p)]
    codes = np.repeat(np.column_stack([c for c, _ in coded])[None], 1 + p * n_repeats, axis=0)
    for j in range(p):
        for r in range(n_repeats):
            shuffled = rng.permutation(n)   # the draws of rng.permutation(x[:, j])
            codes[1 + j * n_repeats + r, :, j] = codes[0, shuffled, j]
    flat = codes.reshape(-1, p)
    sizes = [len(values) + 1 for _, values in coded]
    if float(np.prod(np.array(sizes, float))) >= 2.0**62:
        first, inverse = np.arange(len(flat)), np.arange(len(flat))
    else:
        key = np.zeros(len(flat), np.int64)
        for j, size in enumerate(sizes):
            key = key * size + flat[:, j] + 1
        inverse, distinct = pd.factorize(key)   # a hash, no sort of the rows
        first = np.empty(len(distinct), np.int64)
        first[inverse[::-1]] = np.arange(len(key))[::-1]
    rows = np.column_stack([values[flat[first, j]] for j, (_, values) in enumerate(coded)])
    return rows, inverse.reshape(len(codes), n)


def _permutation_drop(model: Any, copies: tuple[np.ndarray, np.ndarray], y: np.ndarray,
                      n_repeats: int) -> np.ndarray:
    """Mean drop in held-out AUC when one driver's column is shuffled (Breiman's permutation
    importance), from the :func:`_shuffled_copies` of the held-out rows, all scored in one
    ``predict_proba`` call (predictions are row by row: the same as a call per copy)."""
    rows, inverse = copies
    scores = np.asarray(model.predict_proba(rows)[:, 1])
    base = _auc(y, scores[inverse[0]])
    p = (len(inverse) - 1) // n_repeats
    drop = np.zeros(p)
    for j in range(p):
        for r in range(n_repeats):
            drop[j] += (base - _auc(y, scores[inverse[1 + j * n_repeats + r]])) / n_repeats
    return drop


@dataclass(frozen=True)
class NonlinearCheck:
    """Gradient boosting vs logistic regression on the same cross-validation folds.

    auc : one row per model (logistic, gradient_boosting): auc (mean over folds), se (sd/sqrt(k)),
        ci_low, ci_high (t interval over folds, approximate: folds share training data), n, folds.
    importance : one row per driver: permutation importance (mean drop in held-out AUC) under both
        models, their ranks, rank_gap (logistic rank - boosting rank), each driver's share of the
        model's total importance and ``verdict``.
    disagreements : rows of `importance` where the shares differ by `min_share_gap` or more,
        with a sentence each.
    """

    target: str
    auc: pd.DataFrame
    importance: pd.DataFrame
    disagreements: pd.DataFrame
    sample_note: str = ""


@dataclass(frozen=True)
class CrossValidation:
    """How :func:`nonlinear_check` compares the models: ``folds`` of cross-validation,
    ``n_repeats`` shuffles per driver for permutation importance, the ``seed``, the ``level`` of
    the AUC intervals, and ``min_share_gap``, the gap in a driver's share of importance at
    which the two views disagree."""

    folds: int = 5
    n_repeats: int = 3
    seed: int = 0
    level: float = 0.95
    min_share_gap: float = 0.10


DEFAULT_CV = CrossValidation()


@single_thread
def nonlinear_check(
    df: pd.DataFrame,
    drivers: Sequence[str],
    target: str = "promoter",
    *,
    ltr: str = "ltr",
    cluster: str | None = None,
    cv: CrossValidation = DEFAULT_CV,
    sample: int | None = None,
) -> NonlinearCheck:
    """Does a non-linear model see something the linear view misses?

    Fits scikit-learn ``HistGradientBoostingClassifier`` and an unpenalised logistic regression on
    the same folds (grouped by `cluster` so an account never sits in both training and test),
    compares held-out AUC, and ranks drivers by held-out permutation importance under each model.
    A driver the boosting model ranks much higher than the logistic model suggests a threshold or
    interaction effect; similar AUCs mean the linear view is adequate. The views disagree on a
    driver when its share of the total (positive) permutation importance differs by at least
    ``cv.min_share_gap`` between the two models (:class:`CrossValidation`). Survey weights are not used (a model-fit comparison,
    not a population estimate); complete cases only.

    `sample`: with more rows than this, both models are compared on a stratified subsample of
    that size (subsample.subsample: by wave, whole clusters); ``sample_note`` says so.
    """
    return nonlinear_checks(df, drivers, (target,), ltr=ltr, cluster=cluster, cv=cv,
                            sample=sample)[target]


@single_thread
def nonlinear_checks(
    df: pd.DataFrame,
    drivers: Sequence[str],
    targets: Sequence[str] = ("promoter", "detractor"),
    *,
    ltr: str = "ltr",
    cluster: str | None = None,
    cv: CrossValidation = DEFAULT_CV,
    sample: int | None = None,
) -> dict[str, NonlinearCheck]:
    """:func:`nonlinear_check` of each of `targets`, all on the one subsample each would draw."""
    used = [c for c in dict.fromkeys([ltr, *drivers, "wave", *([cluster] if cluster else [])])
            if c in df.columns]   # the modelled columns only: subsampling copies the kept rows
    fit = subsample(df[used], sample or len(df), strata=("wave",), cluster=cluster, seed=cv.seed)
    x, y_ltr, _, codes = model_frame(fit.rows, drivers, ltr, cluster, None)
    folds = _Folds(x, codes, cluster is not None, cv)
    return {t: _nonlinear_target(folds, target_flag(y_ltr, t).astype(int), drivers,
                                 (t, ltr, fit.note())) for t in targets}


class _Folds:
    """The model frame's cross-validation folds and each test part's shuffled copies, shared
    by the targets when the folds are grouped (then neither depends on the target)."""

    def __init__(self, x: np.ndarray, codes: np.ndarray, grouped: bool, cv: CrossValidation):
        self.x, self.codes, self.grouped, self.cv = x, codes, grouped, cv
        self._splits: tuple[list[tuple[np.ndarray, np.ndarray]], int] | None = None
        self._copies: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # by fold, when grouped

    def splits(self, y: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
        """The folds (by cluster when grouped, else stratified by `y`) and their count."""
        found = self._splits or _cv_splits(self.x, y, self.codes, self.grouped, self.cv.folds,
                                           self.cv.seed)
        self._splits = found if self.grouped else None
        return found

    def copies(self, fold: int, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_shuffled_copies` of the rows `test` of fold number `fold`, from the seed's
        stream (kept for the next target when the folds are grouped, so the same)."""
        found = self._copies.get(fold)
        if found is None:
            found = _shuffled_copies(self.x[test], self.cv.n_repeats,
                                     np.random.default_rng(self.cv.seed))
            if self.grouped:
                self._copies[fold] = found
        return found


def _nonlinear_target(folds: _Folds, y: np.ndarray, drivers: Sequence[str],
                      how: tuple[str, str, str]) -> NonlinearCheck:
    """One target's check on the folds' model frame: `how` is (target, ltr column, note)."""
    (target, ltr, note), cv = how, folds.cv
    if min(y.sum(), len(y) - y.sum()) < cv.folds * 2:
        raise ThinData(f"too few {target}s or others for {cv.folds}-fold cross-validation",
                       column=ltr, expected=f"at least {cv.folds * 2} of each")
    splits, k = folds.splits(y)
    aucs, perm = _cv_scores(folds, y, splits, len(drivers))
    imp = _importance_views(drivers, perm, cv.min_share_gap)
    dis = imp[imp["verdict"] != "agree"].copy()
    dis["note"] = [f"{r.driver}: {100 * r.share_boosting:.0f}% of the boosting model's "
                   f"importance (rank {r.rank_boosting}) vs {100 * r.share_logistic:.0f}% of the "
                   f"logistic model's (rank {r.rank_logistic})" for r in dis.itertuples()]
    return NonlinearCheck(target, _auc_table(aucs, len(y), k, cv.level),
                          imp.sort_values("rank_boosting"), dis, note)


def _cv_splits(x: np.ndarray, y: np.ndarray, codes: np.ndarray, grouped: bool, folds: int,
               seed: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """Cross-validation folds (by cluster `codes` when `grouped`, else stratified) and their count."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    if grouped:
        k = min(folds, int(codes.max()) + 1)
        return list(GroupKFold(n_splits=k).split(x, y, groups=codes)), k
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y)
    return list(splits), folds


def _cv_scores(folds: _Folds, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]],
               n_drivers: int) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Held-out AUC per fold and mean permutation importance per driver, for each model.

    Folds whose test part holds one class only are skipped.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    x, seed, n_repeats = folds.x, folds.cv.seed, folds.cv.n_repeats
    models = {
        "logistic": lambda: LogisticRegression(C=1e6, max_iter=1000),
        "gradient_boosting": lambda: HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20,
            random_state=seed),
    }
    aucs: dict[str, list[float]] = {m: [] for m in models}
    perm = {m: np.zeros(n_drivers) for m in models}
    for fold, (train, test) in enumerate(splits):
        if len(np.unique(y[test])) < 2:
            continue
        copies = folds.copies(fold, test)   # both models score the same shuffled copies
        for name, make in models.items():
            model = make().fit(x[train], y[train])
            aucs[name].append(_auc(y[test], model.predict_proba(x[test])[:, 1]))
            perm[name] += _permutation_drop(model, copies, y[test], n_repeats) / len(splits)
    return aucs, perm


def _auc_table(aucs: dict[str, list[float]], n: int, k: int, level: float) -> pd.DataFrame:
    """Mean held-out AUC per model with a t interval over the `k` folds."""
    from scipy import stats

    tq = float(stats.t.ppf(0.5 + level / 2, max(k - 1, 1)))
    rows = []
    for name, vals in aucs.items():
        v = np.array(vals)
        se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
        rows.append({"model": name, "auc": v.mean(), "se": se, "ci_low": v.mean() - tq * se,
                     "ci_high": v.mean() + tq * se, "n": n, "folds": len(v)})
    return pd.DataFrame(rows)


def _importance_views(drivers: Sequence[str], perm: dict[str, np.ndarray], min_share_gap: float
                      ) -> pd.DataFrame:
    """Both models' permutation importance per driver: ranks, shares of the total and verdict."""
    imp = pd.DataFrame({"driver": list(drivers), "perm_logistic": perm["logistic"],
                        "perm_boosting": perm["gradient_boosting"]})
    imp["rank_logistic"] = imp["perm_logistic"].rank(ascending=False, method="min").astype(int)
    imp["rank_boosting"] = imp["perm_boosting"].rank(ascending=False, method="min").astype(int)
    imp["rank_gap"] = imp["rank_logistic"] - imp["rank_boosting"]
    for m in ("logistic", "boosting"):
        pos = imp[f"perm_{m}"].clip(lower=0)
        imp[f"share_{m}"] = pos / pos.sum() if pos.sum() > 0 else 0.0
    gap = imp["share_boosting"] - imp["share_logistic"]
    imp["verdict"] = np.select([gap >= min_share_gap, gap <= -min_share_gap],
                               ["boosting sees more (non-linear?)", "boosting sees less"],
                               "agree")
    return imp


# --- report helpers (notebook 03) ---------------------------------------------------------------
def headline_metrics(imps: dict[str, pd.DataFrame], journey: pd.DataFrame | None = None,
                     k: int = 3, *, outcome: Measure) -> dict[str, dict[str, object]]:
    """Headline figures for the run's metrics file: the measure the importances explain
    (`outcome`, stored as ``outcome`` for every label downstream), top-k drivers per market
    (share of R² with CI, n) and, when given, the quarter-end effect on implementation ratings
    and on LTR."""
    out: dict[str, dict[str, object]] = {"outcome": dict(outcome.describe_answer())}
    unit = f"% of explained variance in {outcome.answer_name}"
    for market, imp in imps.items():
        for driver, r in imp.head(k).iterrows():
            out[f"{market.lower()}_driver_{int(r['rank'])}"] = {
                "driver": driver, "estimate": 100 * float(r["share"]),
                "ci_low": 100 * float(r.get("share_ci_low", np.nan)),
                "ci_high": 100 * float(r.get("share_ci_high", np.nan)),
                "n": int(r["n"]), "unit": unit,
                "top3_share": float(r.get("top3_share", np.nan)),
            }
        out[f"{market.lower()}_r2"] = {"estimate": float(imp.attrs["r2"]), "n": imp.attrs["n"],
                                       "method": imp.attrs["method"]}
    if journey is not None and len(journey):
        for effect_on, key in (("impl_mean", "quarter_end_effect_impl"),
                               ("ltr", "quarter_end_effect_ltr")):
            hit = journey[(journey.explanation == "quarter_end_deal")
                          & (journey.outcome == effect_on) & (journey.effect == "mean difference")]
            if len(hit):
                r = hit.iloc[0]
                out[key] = {"estimate": float(r.estimate), "se": float(r.se),
                            "ci_low": float(r.ci_low), "ci_high": float(r.ci_high),
                            "n": int(r.n), "n_clusters": int(r.n_clusters), "unit": r.unit}
    return out


def stack(results: dict[str, pd.DataFrame], key: str = "market") -> pd.DataFrame:
    """Concatenate per-market results (index kept as a column) with a `key` column and a `label`
    column "<market>: <row name>" for charts; attrs are dropped (parquet needs plain JSON).
    Empty results (e.g. every segment skipped) are left out; none at all gives an empty table."""
    parts = []
    for k, t in results.items():
        if t.empty:
            continue
        r = t.reset_index() if t.index.name else t.copy()
        first = r.columns[0]
        r.insert(0, key, k)
        r["label"] = k + ": " + r[first].astype(str)
        parts.append(r)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[key, "label"])
    out.attrs = {}
    return out


def nonlinear_summary(checks: dict[tuple[str, str], NonlinearCheck],
                      labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per (market, target): held-out AUC of both models with CIs, and the drivers on
    which they disagree (named by their `labels` when given)."""
    named = sorted((labels or {}).items(), key=lambda kv: -len(kv[0]))
    rows = []
    for (market, target), c in checks.items():
        a = c.auc.set_index("model")
        row: dict[str, object] = {"market": market, "target": target}
        for m in ("logistic", "gradient_boosting"):
            row[f"AUC {m}"] = f"{a.loc[m, 'auc']:.3f} [{a.loc[m, 'ci_low']:.3f}, " \
                              f"{a.loc[m, 'ci_high']:.3f}]"
        gain = float(a.loc["gradient_boosting", "auc"] - a.loc["logistic", "auc"])
        row["AUC gain of boosting"] = f"{gain:+.3f}"  # text: a table rounding to 0.0 hides it
        notes = "; ".join(c.disagreements["note"]) or "none"
        for code, label in named:
            notes = re.sub(rf"\b{re.escape(code)}\b", label, notes)
        row["disagreements"] = notes
        row["n"] = int(a["n"].iloc[0])
        row["rows"] = c.sample_note
        rows.append(row)
    return pd.DataFrame(rows)
