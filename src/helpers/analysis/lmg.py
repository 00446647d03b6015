"""R² of every subset of drivers from a correlation matrix, and the LMG / Shapley split of R².

Every R² of a subset follows from the correlation matrix, so the cost depends only on the number
of drivers (2^p subsets), never on the rows. :func:`lmg_batch` splits a whole stack of matrices
(the bootstrap resamples of :mod:`helpers.analysis.importance`) with one batched solve per subset
size and one matrix product, instead of a Python loop over resamples.
"""

from __future__ import annotations

from functools import cache
from math import factorial

import numpy as np


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
    """Reference for :func:`all_subset_r2` (same argument and result): one batched linear solve
    per subset. Subsets of one size are solved together (batched ``np.linalg.solve``), so the
    Python loop runs over sizes and chunks only."""
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


@cache
def lmg_weights(p: int) -> np.ndarray:
    """(2^p, p) matrix M with LMG = R² of every subset @ M (subsets indexed by bit mask).

    Driver j's share is the sum over subsets S without j of w(|S|) (R²(S + j) - R²(S)), with
    w(s) = s! (p - s - 1)! / p!: a subset T holding j enters with +w(|T| - 1), one without j
    with -w(|S|).
    """
    masks = np.arange(1 << p, dtype=np.int64)
    sizes = _popcount(masks)
    wsize = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) for s in range(p)]
                     + [0.0])
    out = np.empty((1 << p, p))
    for j in range(p):
        has = (masks >> j) & 1 == 1
        out[:, j] = np.where(has, wsize[np.maximum(sizes - 1, 0)], -wsize[sizes])
    out.setflags(write=False)
    return out


def subset_r2_batch(corrs: np.ndarray, chunk: int = 40_000) -> np.ndarray:
    """:func:`all_subset_r2_solve` for a stack of (p+1, p+1) correlation matrices, outcome first.

    Returns a (B, 2^p) array. Subsets of one size are solved together for all matrices (at most
    `chunk` systems per batched ``np.linalg.solve``), the same solves the single-matrix version
    makes one matrix at a time.
    """
    n_mat, p = corrs.shape[0], corrs.shape[1] - 1
    rxx, rxy = corrs[:, 1:, 1:], corrs[:, 1:, 0]
    masks = np.arange(1 << p, dtype=np.int64)
    sizes = _popcount(masks)
    bits = ((masks[:, None] >> np.arange(p)) & 1).astype(bool)
    r2 = np.zeros((n_mat, 1 << p))
    for k in range(1, p + 1):
        sel = masks[sizes == k]
        idx = np.nonzero(bits[sel])[1].reshape(len(sel), k)
        step = max(1, chunk // len(sel))
        for start in range(0, n_mat, step):
            part = slice(start, start + step)
            a = rxx[part][:, idx[:, :, None], idx[:, None, :]]
            b = rxy[part][:, idx]
            try:
                sol = np.linalg.solve(a, b[..., None])[..., 0]
            except np.linalg.LinAlgError:
                sol = np.einsum("bmij,bmj->bmi", np.linalg.pinv(a, hermitian=True), b)
            r2[part, sel] = np.einsum("bmi,bmi->bm", sol, b)
    return r2


def lmg_batch(corrs: np.ndarray) -> np.ndarray:
    """Exact LMG / Shapley share of R² of each driver for a stack of correlation matrices
    (outcome first): (B, p), each row what :func:`lmg_from_corr` gives for that matrix."""
    p = corrs.shape[1] - 1
    if p >= 15:   # the Cholesky tree, one matrix at a time, bounds memory
        return np.array([lmg_from_corr(c) for c in corrs]).reshape(len(corrs), p)
    return subset_r2_batch(corrs) @ lmg_weights(p)
