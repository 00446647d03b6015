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
from math import factorial

import numpy as np
import pandas as pd

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


# --- R² of every subset from a correlation matrix ------------------------------------------------
def _popcount(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.int64)
    c = np.zeros_like(a)
    while a.any():
        c += a & 1
        a >>= 1
    return c


def all_subset_r2(corr: np.ndarray) -> np.ndarray:
    """R² of the regression of variable 0 on every subset of variables 1..p.

    Parameters
    ----------
    corr : (p+1, p+1) correlation matrix, outcome first.

    Returns
    -------
    Array of length 2^p indexed by bit mask (bit j set = driver j in the model); entry 0 is 0.

    Notes
    -----
    Subsets are grown one driver at a time (a child adds a driver larger than all of its
    parent's), extending the parent's inverse Cholesky factor Linv (C_S = L L') by one row:
    with l = Linv c_{S,j} and d = sqrt(1 - l'l), the new coordinate of the outcome is
    (r_jy - l'z_S) / d and R²(S + j) = R²(S) + that squared. Each subset costs O(k²) instead
    of a k x k solve; one tree per smallest driver keeps memory bounded.
    """
    p = corr.shape[0] - 1
    rxx, rxy = corr[1:, 1:], corr[1:, 0]
    r2 = np.zeros(1 << p)
    for root in range(p):
        idx = np.array([[root]])
        mask = np.array([1 << root], dtype=np.int64)
        linv = np.ones((1, 1, 1))
        z = rxy[idx]
        r2[mask] = z[:, 0] ** 2
        while True:
            last = idx[:, -1]
            n_child = p - 1 - last
            if n_child.sum() == 0:
                break
            pi = np.repeat(np.arange(len(idx)), n_child)
            starts = np.repeat(np.cumsum(n_child) - n_child, n_child)
            j = last[pi] + 1 + (np.arange(len(pi)) - starts)
            lp, zp = linv[pi], z[pi]
            c = rxx[idx[pi], j[:, None]]
            lvec = np.einsum("mij,mj->mi", lp, c)
            d = np.sqrt(np.clip(1.0 - np.einsum("mi,mi->m", lvec, lvec), 1e-15, None))
            znew = (rxy[j] - np.einsum("mi,mi->m", lvec, zp)) / d
            mask = mask[pi] | (np.int64(1) << j)
            r2[mask] = r2[mask & ~(np.int64(1) << j)] + znew**2
            k = idx.shape[1]
            new = np.zeros((len(pi), k + 1, k + 1))
            new[:, :k, :k] = lp
            new[:, k, :k] = -np.einsum("mji,mj->mi", lp, lvec) / d[:, None]
            new[:, k, k] = 1.0 / d
            linv, z = new, np.column_stack([zp, znew])
            idx = np.column_stack([idx[pi], j])
    return r2


def all_subset_r2_solve(corr: np.ndarray, chunk: int = 40_000) -> np.ndarray:
    """Reference for :func:`all_subset_r2`: one batched linear solve per subset.

    Parameters
    ----------
    corr : (p+1, p+1) correlation matrix, outcome first.

    Returns
    -------
    Array of length 2^p indexed by bit mask (bit j set = driver j in the model); entry 0 is 0.
    Subsets of one size are solved together (batched ``np.linalg.solve``), so the Python loop runs
    over sizes and chunks only.
    """
    p = corr.shape[0] - 1
    rxx, rxy = corr[1:, 1:], corr[1:, 0]
    masks = np.arange(1 << p, dtype=np.int64)
    sizes = _popcount(masks)
    r2 = np.zeros(1 << p)
    bits = ((masks[:, None] >> np.arange(p)) & 1).astype(bool)
    for k in range(1, p + 1):
        sel = masks[sizes == k]
        for start in range(0, len(sel), chunk):
            m = sel[start:start + chunk]
            idx = np.nonzero(bits[m])[1].reshape(len(m), k)
            a = rxx[idx[:, :, None], idx[:, None, :]]
            b = rxy[idx]
            try:
                sol = np.linalg.solve(a, b[..., None])[..., 0]
            except np.linalg.LinAlgError:
                sol = np.einsum("mij,mj->mi", np.linalg.pinv(a, hermitian=True), b)
            r2[m] = np.einsum("mi,mi->m", sol, b)
    return r2


def lmg_from_corr(corr: np.ndarray) -> np.ndarray:
    """Exact LMG / Shapley share of R² for each driver (outcome first in `corr`)."""
    p = corr.shape[0] - 1
    # batched solves win for small p (bootstrap loops); the Cholesky tree from ~15 drivers
    r2 = all_subset_r2(corr) if p >= 15 else all_subset_r2_solve(corr)
    masks = np.arange(1 << p, dtype=np.int64)
    sizes = _popcount(masks)
    wsize = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)])
    out = np.empty(p)
    for j in range(p):
        bit = np.int64(1) << j
        without = masks[(masks & bit) == 0]
        out[j] = np.sum(wsize[sizes[without]] * (r2[without | bit] - r2[without]))
    return out


def relative_weights_from_corr(corr: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights: an approximation of LMG for many drivers.

    Regress the outcome on the orthogonal counterparts Z = Rxx^{1/2} of the drivers and map the
    squared coefficients back with the squared loadings. Sums to R². Thomas et al. (2014) show it
    can misorder drivers; use only when 2^p subsets are out of reach.
    """
    rxx, rxy = corr[1:, 1:], corr[1:, 0]
    evals, evecs = np.linalg.eigh(rxx)
    evals = np.clip(evals, 1e-12, None)
    lam = evecs @ np.diag(np.sqrt(evals)) @ evecs.T
    beta = np.linalg.solve(lam, rxy)
    return (lam**2) @ (beta**2)


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
    followed by a segmented sum would add them), never a rows x pairs matrix.
    """
    q = z.shape[1]
    zc = z - np.average(z, axis=0, weights=w)
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


def _bootstrap(z: np.ndarray, w: np.ndarray, codes: np.ndarray, n_clusters: int,
               boot: Bootstrap, exact: bool, missing: str) -> np.ndarray:
    """(boot.n, p) importances from cluster resamples of the per-cluster sufficient statistics."""
    rng = np.random.default_rng(boot.seed)
    n_boot = boot.n
    q = z.shape[1]
    out = np.full((n_boot, q - 1), np.nan)
    chunk = max(1, min(n_boot, 4_000_000 // max(n_clusters, 1)))
    if missing == "complete":
        wc, s1, s2, iu = _cluster_totals(z, w, codes, n_clusters)
    for start in range(0, n_boot, chunk):
        k = resample_counts(rng, n_clusters, min(chunk, n_boot - start)).astype(float)
        if missing == "complete":
            tw, t1, t2u = k @ wc, k @ s1, k @ s2
        for i in range(k.shape[0]):
            if missing == "complete":
                t2 = np.zeros((q, q))
                t2[iu[0], iu[1]] = t2u[i]
                t2 = t2 + np.triu(t2, 1).T
                corr = _corr_from_totals(tw[i], t1[i], t2)
            else:
                corr, _ = _pairwise_corr(z, w * k[i][codes])
                corr, _ = _nearest_psd_corr(corr)
            if not np.isfinite(corr).all() or np.linalg.eigvalsh(corr[1:, 1:]).min() < 1e-10:
                continue  # degenerate resample (a constant item): left out of the intervals
            out[start + i] = _decompose(corr, exact)
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
    for level_value, g in df.groupby(segment, sort=True, dropna=True, observed=True):
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
