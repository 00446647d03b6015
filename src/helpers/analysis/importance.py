"""Key-driver importance: which experiences move likelihood to recommend, and how sure we are.

The reference method is the LMG / Shapley decomposition of R² (general dominance, Grömping 2006):
each driver's importance is its average gain in R² over all orders of entry, so the importances
sum to the model's R². Every R² of a subset follows from the correlation matrix, so after one pass
over the rows the cost depends only on the number of drivers (2^p subsets), never on the rows.
Bootstrap resamples re-weight per-cluster sufficient statistics (sums of z and zz') instead of
copying rows: B2B resamples whole accounts, B2C contacts. Above 20 drivers Johnson's relative
weights (an approximation, labelled so) replace the exact split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.analysis.lmg import (
    lmg_batch,
    lmg_from_corr,
    relative_weights_from_corr,
)
from helpers.analysis.modelling import (
    NO_BOOTSTRAP,
    Bootstrap,
    cluster_codes,
    numeric_matrix,
    resample_counts,
    row_weights,
    single_thread,
)
from helpers.errors import ArgumentError, DataError, ThinData
from helpers.measures import Measure

MAX_EXACT_DRIVERS = 20
RW_LABEL = "johnson_relative_weights (approximation)"
LMG_LABEL = "lmg_shapley (exact)"


# --- moments ----------------------------------------------------------------------------------
def _corr_from_totals(w: float, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    mean = s1 / w
    cov = s2 / w - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    return corr


def _pairwise_corr(z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted pairwise-complete Pearson correlations and the weighted n of each pair."""
    present = ~np.isnan(z)
    m = present.astype(float)
    x = np.where(present, z, 0.0)
    x = x - np.where(present, np.nansum(z * w[:, None], 0) / (m * w[:, None]).sum(0), 0.0)
    mw = m * w[:, None]
    wij = mw.T @ m
    sx = (x * w[:, None]).T @ m            # sum of x_i over rows where j present
    sxx = (x * x * w[:, None]).T @ m       # sum of x_i^2 over rows where j present
    sxy = (x * w[:, None]).T @ x           # sum of x_i x_j (both present: zeros elsewhere)
    with np.errstate(invalid="ignore", divide="ignore"):
        mi, mj = sx / wij, sx.T / wij
        cov = sxy / wij - mi * mj
        vi, vj = sxx / wij - mi**2, sxx.T / wij - mj**2
        corr = cov / np.sqrt(vi * vj)
    np.fill_diagonal(corr, 1.0)
    return corr, (m.T @ m)


def _nearest_psd_corr(corr: np.ndarray) -> tuple[np.ndarray, bool]:
    """Clip negative eigenvalues (pairwise matrices need not be positive semi-definite)."""
    evals, evecs = np.linalg.eigh(corr)
    if evals.min() > 1e-10:
        return corr, False
    fixed = evecs @ np.diag(np.clip(evals, 1e-8, None)) @ evecs.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d), True


def _decompose(corr: np.ndarray, exact: bool) -> np.ndarray:
    return lmg_from_corr(corr) if exact else relative_weights_from_corr(corr)


def _check_corr(corr: np.ndarray, names: Sequence[str]) -> None:
    """ThinData when the rows leave an item constant or the items collinear (typical of a small
    segment; an exact copy of a column in the whole data reads the same)."""
    sd_bad = [names[i] for i in range(len(names)) if not np.isfinite(corr[i]).all()]
    if sd_bad:
        raise ThinData("no variation (constant or too few answers)", column=sd_bad[0],
                       expected="a driver and outcome that vary across respondents")
    evals = np.linalg.eigvalsh(corr[1:, 1:])
    if evals.min() < 1e-10:
        raise ThinData("drivers are perfectly collinear", column=str(list(names[1:])),
                       expected="no driver that is an exact linear combination of others")


# --- public API ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportanceOptions:
    """How R² is split. ``method``: "auto" (exact LMG up to 20 drivers, else relative
    weights), "lmg" or "relweights". ``missing``: "complete" (rows with every item answered)
    or "pairwise" (each correlation on the rows answering both; the matrix is made positive
    semi-definite if needed)."""

    method: str = "auto"
    missing: str = "complete"


DEFAULT_OPTIONS = ImportanceOptions()


@single_thread
def shapley_importance(
    df: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    *,
    weights: str | None = None,
    cluster: str | None = None,
    options: ImportanceOptions = DEFAULT_OPTIONS,
    bootstrap: Bootstrap = NO_BOOTSTRAP,
) -> pd.DataFrame:
    """Relative importance of each driver for `outcome`: exact LMG/Shapley decomposition of R².

    Parameters
    ----------
    df, outcome : one row per response; the outcome column, e.g. "ltr".
    drivers : item columns (numeric); up to 20 for the exact method.
    weights : optional column of survey weights (weighted covariance, as R's ``cov.wt``).
    cluster : resampling unit column (B2B: "account_id"); None resamples rows (B2C contacts).
    options : the method and the missing-data rule (:class:`ImportanceOptions`).
    bootstrap : resamples for percentile CIs and rank stability, seed and level
        (:class:`~helpers.analysis.modelling.Bootstrap`; the default: none).

    Returns
    -------
    DataFrame indexed by driver, sorted by importance, with ``importance`` (sums to R²),
    ``share`` (importance / R²), ``rank`` (1 = most important), ``method`` and ``n``; with
    resamples also ``se``, ``ci_low``, ``ci_high`` (importance), ``share_ci_low``,
    ``share_ci_high`` and ``top3_share`` (share of resamples with the driver in the top 3).
    ``attrs`` holds method, missing (a sentence stating the rule and rows used), n, r2, n_boot,
    cluster and n_clusters.
    """
    drivers = list(drivers)
    exact = _use_exact(drivers, outcome, options)
    label = LMG_LABEL if exact else RW_LABEL
    names = [outcome, *drivers]
    z_all, w_all = numeric_matrix(df, names), row_weights(df, weights)
    keep, note = _analysed_rows(z_all, w_all, options.missing, outcome, len(drivers))
    z, w, n_used = z_all[keep], w_all[keep], int(keep.sum())
    codes = cluster_codes(df, cluster, keep)
    n_clusters = int(codes.max()) + 1 if len(codes) else 0
    if options.missing == "complete":
        corr = _complete_corr(z, w, weighted=weights is not None)
        _check_corr(corr, names)
    else:
        corr, note = _pairwise_psd_corr(z, w, names, n_used)
    imp = _decompose(corr, exact)
    boot = (_bootstrap(z, w, codes, n_clusters, bootstrap, exact, options.missing)
            if bootstrap.n > 0 else None)
    out = _importance_table(imp, drivers, label, n_used, boot, bootstrap.level)
    out.attrs.update({"method": label, "missing": note, "n": n_used, "r2": float(imp.sum()),
                      "n_boot": int(bootstrap.n), "cluster": cluster or "row",
                      "n_clusters": n_clusters, "level": bootstrap.level, "outcome": outcome,
                      "weights": weights or "none"})
    return out


def _use_exact(drivers: list[str], outcome: str, options: ImportanceOptions) -> bool:
    """Check the arguments; True for the exact LMG split, False for relative weights."""
    if not drivers:
        raise ArgumentError("no drivers given", argument="drivers",
                            expected="at least one driver column")
    if len(set(drivers)) != len(drivers) or outcome in drivers:
        raise ArgumentError("duplicate driver or outcome among drivers", argument="drivers",
                            expected="distinct columns")
    if options.missing not in {"complete", "pairwise"}:
        raise ArgumentError(f"missing={options.missing!r}", argument="missing",
                            expected="'complete' or 'pairwise'")
    p = len(drivers)
    if options.method == "auto":
        return p <= MAX_EXACT_DRIVERS
    if options.method not in {"lmg", "relweights"}:
        raise ArgumentError(f"method={options.method!r}", argument="method",
                            expected="'auto', 'lmg' or 'relweights'")
    if options.method == "lmg" and p > MAX_EXACT_DRIVERS:
        raise ArgumentError(f"{p} drivers for the exact method", argument="method",
                            expected=f"at most {MAX_EXACT_DRIVERS} (or method='relweights')")
    return options.method == "lmg"


def _analysed_rows(z_all: np.ndarray, w_all: np.ndarray, missing: str, outcome: str, p: int
                   ) -> tuple[np.ndarray, str]:
    """Rows to analyse (outcome present, positive weight; every item for "complete", any item
    for "pairwise") and, for complete cases, the sentence stating the rule ("" for pairwise:
    :func:`_pairwise_psd_corr` states it)."""
    has_y = ~np.isnan(z_all[:, 0]) & (w_all > 0)
    if missing == "complete":
        keep = has_y & ~np.isnan(z_all).any(axis=1)
        n_used = int(keep.sum())
        if n_used < p + 2:
            raise ThinData(f"only {n_used} complete rows for {p} drivers", column=outcome,
                            expected=f"at least {p + 2} rows with every item answered")
        return keep, (f"complete case: {n_used} of {int(has_y.sum())} rows with {outcome} used "
                      f"({int(has_y.sum()) - n_used} with a missing item dropped)")
    keep = has_y & ~np.isnan(z_all[:, 1:]).all(axis=1)
    n_used = int(keep.sum())
    if n_used < p + 2:
        raise ThinData(f"only {n_used} rows with {outcome} and any item", column=outcome,
                        expected=f"at least {p + 2}")
    return keep, ""


def _complete_corr(z: np.ndarray, w: np.ndarray, weighted: bool) -> np.ndarray:
    """Correlation matrix of complete rows (weighted covariance when `weighted`)."""
    if not weighted:
        zc = z - z.mean(axis=0)
        return _corr_from_totals(float(len(zc)), zc.sum(0), zc.T @ zc)
    zc = z - np.average(z, axis=0, weights=w)
    zw = zc * w[:, None]
    return _corr_from_totals(w.sum(), zw.sum(0), zw.T @ zc)


def _pairwise_psd_corr(z: np.ndarray, w: np.ndarray, names: Sequence[str], n_used: int
                       ) -> tuple[np.ndarray, str]:
    """Pairwise-complete correlations made positive semi-definite, and the sentence stating the
    rule and the rows per pair."""
    p = len(names) - 1
    corr, pair_n = _pairwise_corr(z, w)
    _check_corr(np.where(np.isfinite(corr), corr, np.nan), names)
    corr, psd_fixed = _nearest_psd_corr(corr)
    note = (f"pairwise: each correlation on the rows answering both ({int(pair_n.min())} to "
            f"{int(pair_n[np.triu_indices(p + 1, 1)].max())} rows per pair, {n_used} rows with "
            f"{names[0]} and at least one item)"
            + ("; matrix adjusted to be positive semi-definite" if psd_fixed else ""))
    return corr, note


def _importance_table(imp: np.ndarray, drivers: list[str], label: str, n_used: int,
                      boot: np.ndarray | None, level: float) -> pd.DataFrame:
    """Importances and shares of R² by driver, ranked, with bootstrap intervals when `boot`."""
    r2 = float(imp.sum())
    out = pd.DataFrame({"importance": imp, "share": imp / r2 if r2 > 0 else np.nan},
                       index=pd.Index(drivers, name="driver"))
    out["method"] = label
    out["n"] = n_used
    if boot is not None:
        _add_intervals(out, boot, level)
    out = out.sort_values("importance", ascending=False)
    out.insert(2, "rank", np.arange(1, len(drivers) + 1))
    return out


def _add_intervals(out: pd.DataFrame, boot: np.ndarray, level: float) -> None:
    """Add bootstrap SE, percentile CIs of importance and share, and top-3 frequency to `out`."""
    alpha = (1 - level) / 2
    out["se"] = boot.std(axis=0, ddof=1)
    out["ci_low"], out["ci_high"] = np.nanquantile(boot, [alpha, 1 - alpha], axis=0)
    shares = boot / boot.sum(axis=1, keepdims=True)
    out["share_ci_low"], out["share_ci_high"] = np.nanquantile(shares, [alpha, 1 - alpha], 0)
    ranks = (-boot).argsort(axis=1).argsort(axis=1) + 1
    out["top3_share"] = (ranks <= min(3, boot.shape[1])).mean(axis=0)


def _cluster_totals(z: np.ndarray, w: np.ndarray, codes: np.ndarray, n_clusters: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-cluster weighted sums: W_c, sum z, and the upper triangle of sum z z' (centred z).

    One bincount per column (each cluster's rows added in row order, as a sort by cluster
    followed by a segmented sum would add them), never a rows x pairs matrix. The centred
    columns are stored column by column, so each product reads two contiguous columns.
    """
    q = z.shape[1]
    zc = np.subtract(z, np.average(z, axis=0, weights=w), out=np.empty(z.shape, order="F"))
    iu = np.triu_indices(q)
    wc = np.bincount(codes, weights=w, minlength=n_clusters)
    zw = zc * w[:, None]
    if n_clusters == len(codes) and (codes == np.arange(len(codes))).all():
        s1 = zw                   # every row its own cluster, in order
        s2 = np.column_stack([zw[:, i] * zc[:, j] for i, j in zip(*iu, strict=True)])
        return wc, s1, s2, np.asarray(iu)
    s1 = np.column_stack([np.bincount(codes, weights=zw[:, i], minlength=n_clusters)
                          for i in range(q)])
    s2 = np.column_stack([np.bincount(codes, weights=zw[:, i] * zc[:, j], minlength=n_clusters)
                          for i, j in zip(*iu, strict=True)])
    return wc, s1, s2, np.asarray(iu)


def _corr_batch(tw: np.ndarray, t1: np.ndarray, t2u: np.ndarray, iu: np.ndarray) -> np.ndarray:
    """:func:`_corr_from_totals` of a stack of resamples: totals of weight (B,), z (B, q) and
    the upper triangle of zz' (B, pairs) give (B, q, q) correlation matrices."""
    q = t1.shape[1]
    t2 = np.zeros((len(tw), q, q))
    t2[:, iu[0], iu[1]] = t2u
    t2 = t2 + np.triu(t2, 1).transpose(0, 2, 1)
    mean = t1 / tw[:, None]
    cov = t2 / tw[:, None, None] - mean[:, :, None] * mean[:, None, :]
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / (sd[:, :, None] * sd[:, None, :])
    corr[:, np.arange(q), np.arange(q)] = 1.0
    return corr


def _bootstrap(z: np.ndarray, w: np.ndarray, codes: np.ndarray, n_clusters: int,
               boot: Bootstrap, exact: bool, missing: str) -> np.ndarray:
    """(boot.n, p) importances from cluster resamples of the per-cluster sufficient statistics.

    Every resample's correlation matrix first (a chunk of resamples is one matrix product of
    their cluster multiplicities with the per-cluster totals), then all of them split at once
    (:func:`~helpers.analysis.lmg.lmg_batch`). Degenerate resamples (a constant item, collinear
    items) are left out of the intervals.
    """
    rng = np.random.default_rng(boot.seed)
    n_boot, q = boot.n, z.shape[1]
    chunk = max(1, min(n_boot, 4_000_000 // max(n_clusters, 1)))
    if missing == "complete":
        wc, s1, s2, iu = _cluster_totals(z, w, codes, n_clusters)
        totals = np.column_stack([wc, s1, s2])   # one product per chunk reads k once
    corrs = np.empty((n_boot, q, q))
    for start in range(0, n_boot, chunk):
        k = resample_counts(rng, n_clusters, min(chunk, n_boot - start), float)
        part = slice(start, start + len(k))
        if missing == "complete":
            t = k @ totals
            corrs[part] = _corr_batch(t[:, 0], t[:, 1:q + 1], t[:, q + 1:], iu)
        else:
            corrs[part] = [_nearest_psd_corr(_pairwise_corr(z, w * ki[codes])[0])[0] for ki in k]
    ok = np.asarray(np.isfinite(corrs).all(axis=(1, 2)))
    ok[ok] = np.linalg.eigvalsh(corrs[ok][:, 1:, 1:]).min(axis=1) >= 1e-10
    corrs = corrs[ok]
    out = (lmg_batch(corrs) if exact else
           np.array([relative_weights_from_corr(c) for c in corrs]).reshape(len(corrs), q - 1))
    return out[~np.isnan(out).any(axis=1)]


# --- segments -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SegmentImportance:
    """Driver importance per segment: `table` (long, one row per segment and driver) and
    `skipped` (segment, n, reason) for segments too small to model."""

    table: pd.DataFrame
    skipped: pd.DataFrame


@dataclass(frozen=True)
class Segments:
    """Which segments :func:`segment_importance` models: the levels of the ``field`` column
    whose complete rows reach ``min_n`` (the small-n rule of the segment reports) and
    ``per_driver`` rows per driver (a regression rule of thumb), and, when bootstrapping by
    cluster, at least ``min_clusters`` clusters."""

    field: str
    min_n: int = 10
    per_driver: int = 10
    min_clusters: int = 20


def segment_importance(
    df: pd.DataFrame,
    outcome: str,
    drivers: Sequence[str],
    segments: Segments,
    *,
    weights: str | None = None,
    cluster: str | None = None,
    bootstrap: Bootstrap = NO_BOOTSTRAP,
) -> SegmentImportance:
    """:func:`shapley_importance` for each level of ``segments.field`` where n allows
    (:class:`Segments`). Skipped segments, too small or too thin for the model (ThinData), are
    listed with the reason rather than dropped silently.
    """
    segment = segments.field
    if segment not in df.columns:
        raise DataError("segment column not found", column=segment, expected="a column of df")
    need = max(segments.min_n, segments.per_driver * len(drivers))
    tables, skipped = [], []
    used = [c for c in dict.fromkeys([segment, outcome, *drivers, weights, cluster])
            if c in df.columns]   # the modelled columns only: each segment's rows are copied
    for level_value, g in df[used].groupby(segment, sort=True, dropna=True, observed=True):
        complete = g[[outcome, *drivers]].notna().all(axis=1)
        n = int(complete.sum())
        n_cl = int(g.loc[complete, cluster].nunique()) if cluster else n
        if n < need:
            why = f"n={n} < min_n={segments.min_n}" if n < segments.min_n else \
                f"n={n} < {segments.per_driver} per driver x {len(drivers)} drivers = {need}"
            skipped.append({"segment": level_value, "n": n, "reason": why})
            continue
        if cluster and bootstrap.n and n_cl < segments.min_clusters:
            skipped.append({"segment": level_value, "n": n,
                            "reason": f"{n_cl} {cluster} clusters < {segments.min_clusters}"})
            continue
        try:
            imp = shapley_importance(g, outcome, drivers, weights=weights, cluster=cluster,
                                     bootstrap=bootstrap)
        except ThinData as exc:
            skipped.append({"segment": level_value, "n": n, "reason": str(exc)})
            continue
        imp = imp.reset_index()
        imp.insert(0, "segment", level_value)
        imp["r2"] = imp.attrs.get("r2", np.nan)
        tables.append(imp)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    table.attrs.update({"segment": segment, "min_n": segments.min_n, "rule": f"n >= {need}"})
    return SegmentImportance(table, pd.DataFrame(skipped, columns=["segment", "n", "reason"]))


def ranked_table(imps: dict[str, pd.DataFrame], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Importance results of several markets as one tidy table (market, driver, label, share with
    CI, rank, rank stability, n, R², method, missing-data rule), for save_result and the summary.
    `labels` are the items' labels from the survey schema (the name in words when absent)."""
    parts = []
    for market, imp in imps.items():
        t = imp.reset_index()
        t.insert(0, "market", market)
        t.insert(2, "label", [(labels or {}).get(str(d)) or str(d).replace("_", " ")
                              for d in t.iloc[:, 1]])
        t["r2"] = imp.attrs.get("r2")
        t["missing_rule"] = imp.attrs.get("missing")
        t["resampling"] = imp.attrs.get("cluster")
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def share_text(imp: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
    """Printable ranked drivers: share of R² in % with its 95% CI and rank stability."""
    t = imp.head(k) if k else imp
    out = pd.DataFrame({"rank": t["rank"], "share %": (100 * t["share"]).round(1)})
    if "share_ci_low" in t:
        out["95% CI"] = [f"[{100 * lo:.1f}, {100 * hi:.1f}]"
                         for lo, hi in zip(t["share_ci_low"], t["share_ci_high"], strict=True)]
        out["top-3 in % of resamples"] = (100 * t["top3_share"]).round(0).astype(int)
    return out


def methods_text(imp: pd.DataFrame, measure: Measure | None = None) -> str:
    """One-paragraph methods note for an importance chart (method, R², n, CI, missing data);
    `measure` the outcome's measure (default: the LTR, 0-10)."""
    a = imp.attrs
    unit = {"account_id": "accounts", "row": "responses"}.get(a["cluster"], "contacts")
    boot = (f"95% percentile bootstrap CIs from {a['n_boot']} resamples of "
            f"{a['n_clusters']:,} {unit}" if a.get("n_boot") else "no bootstrap")
    weights = "" if a.get("weights", "none") == "none" else f"; weighted by '{a['weights']}'"
    scale = "0-10" if measure is None or measure.key == "ltr" else measure.range_text
    return (f"{a['method']} of R² = {a['r2']:.2f} for {a['outcome']} ({scale}) on n = {a['n']:,} "
            f"responses; {boot}{weights}. Missing answers: {a['missing']}.")


def segment_pivot(res: SegmentImportance) -> pd.DataFrame:
    """Driver x segment table of 'share % [CI]' (skipped segments as a column with the reason)."""
    t = res.table
    if t.empty:
        table = pd.DataFrame()
    else:
        ci = "share_ci_low" in t
        cell = [f"{100 * r.share:.0f}%" + (f" [{100 * r.share_ci_low:.0f}, "
                                            f"{100 * r.share_ci_high:.0f}]" if ci else "")
                for r in t.itertuples()]
        table = t.assign(cell=cell).pivot(index="driver", columns="segment", values="cell")
        order = t.groupby("driver")["share"].mean().sort_values(ascending=False).index
        table = table.loc[order]
        n = t.groupby("segment")["n"].first()
        table.columns = [f"{c} (n={n[c]:,})" for c in table.columns]
    for r in res.skipped.itertuples():
        table[f"{r.segment}: skipped"] = r.reason
    return table
