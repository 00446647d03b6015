"""Quadratic forms of R's ``svyrecvar`` shared by every stage of a :class:`~helpers.stats.
design.Design`: totals of linearised values per sampling unit, centred within the unit's
stratum, weighted by the stratum's fpc and n/(n-1). The first stage uses PSUs within strata;
the second stage (R's recursion with an fpc at both stages) SSUs within each PSU, each PSU's
term multiplied by the first-stage sampling fraction n_h / N_h.

:func:`total_vcov` is R's ``svyrecvar`` of an n x p matrix of influence values (the variance of
the column totals), for estimators beyond means and totals (regression, ratios, quantiles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers.errors import DataError

if TYPE_CHECKING:
    from helpers.stats.design import Design


def pair_totals(unit: np.ndarray | None, zz: np.ndarray, gg: np.ndarray, inside: np.ndarray,
                n_groups: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit, group, total) of every unit x group pair holding rows of the group (``unit``
    None: every row its own unit)."""
    if unit is None:
        return np.flatnonzero(inside), gg[inside], zz[inside]
    key = unit[inside] * n_groups + gg[inside]
    size = (int(unit.max()) + 1) * n_groups if len(unit) else 0
    if size <= 4 * n + 8_000_000:   # a table of up to 64 MB beats a hash
        tot = np.bincount(key, weights=zz[inside], minlength=size)
        present = np.bincount(key, minlength=size) > 0
        idx = np.flatnonzero(present)
        return idx // n_groups, idx % n_groups, tot[idx]
    codes, uniq = pd.factorize(key)
    tot = np.bincount(codes, weights=zz[inside], minlength=len(uniq))
    return uniq // n_groups, uniq % n_groups, tot


def sparse_quadratic(pairs: tuple[np.ndarray, np.ndarray, np.ndarray], parent: np.ndarray,
                     s_unit: np.ndarray, k_par: np.ndarray, n_groups: int, covmat: bool
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """sum_c s_c t_c^2 - sum_parent k T^2 per group (and the covariance between groups) from
    the unit x group totals ``pairs``; ``parent`` is each unit's stratum, ``s_unit`` each
    unit's s."""
    from scipy import sparse
    c, g, t = pairs
    h = parent[c]
    n_par = len(k_par)
    quad = np.bincount(g, weights=s_unit[c] * t * t, minlength=n_groups)
    t_h = np.bincount(h * n_groups + g, weights=t,
                      minlength=n_par * n_groups).reshape(n_par, n_groups)
    var = quad - (k_par[:, None] * t_h**2).sum(axis=0)
    vcov = None
    if covmat:
        tm = sparse.csr_matrix((t, (c, g)), shape=(len(parent), n_groups))
        vcov = np.asarray((tm.T @ sparse.diags(s_unit) @ tm).todense())
        vcov -= t_h.T @ (k_par[:, None] * t_h)
        vcov = (vcov + vcov.T) / 2
    return var, vcov


def dense_quadratic(unit: np.ndarray | None, parent: np.ndarray, s_par: np.ndarray,
                    k_par: np.ndarray, e: np.ndarray) -> np.ndarray:
    """(p x p) quadratic form of the columns of ``e`` (rows x p) totalled by unit."""
    from scipy import sparse
    t = e if unit is None else sparse.csr_matrix(
        (np.ones(len(unit)), (unit, np.arange(len(unit)))), shape=(len(parent), len(unit))) @ e
    agg = sparse.csr_matrix((np.ones(len(parent)), (parent, np.arange(len(parent)))),
                            shape=(len(s_par), len(parent)))
    t_h = agg @ t
    v = t.T @ (s_par[parent][:, None] * t) - t_h.T @ (k_par[:, None] * t_h)
    return np.asarray((v + v.T) / 2)


def stage_two(design: Design, zz: np.ndarray, gg: np.ndarray, inside: np.ndarray,
              n_groups: int, covmat: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Second-stage term of R's recursive variance: within every PSU, SSU totals centred on
    the PSU, times the fpc and n/(n-1) of the second stage and the PSU's n_h / N_h."""
    st = design.stage2
    assert st is not None
    pairs = pair_totals(st.ssu, zz, gg, inside, n_groups, design.n)
    touched = np.zeros(len(st.s2), bool)
    touched[st.ssu_psu[pairs[0]]] = True
    hit = touched & st.lonely2
    if hit.any() and design.lonely_psu == "fail":
        raise DataError(f"PSU {int(np.flatnonzero(hit)[0])} has only one SSU", column="cluster",
                        expected="two or more SSUs per PSU, or another lonely_psu option")
    var, vcov = sparse_quadratic(pairs, st.ssu_psu, st.s2[st.ssu_psu], st.k2, n_groups, covmat)
    if hit.any() and design.lonely_psu == "average":   # R: the PSU's own stage is NA
        var = np.full(n_groups, np.nan)
    return var, vcov


def domain_lonely(design: Design, pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
                  n_groups: int, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R ``options(survey.adjust.domain.lonely = TRUE)``: a group with one PSU in a stratum of
    several gets that PSU's total uncentred ("adjust"), or the stratum left out ("average":
    returned as the count of strata lost, for the caller's rescaling), as R's ``onestrat``."""
    c, g, t = pairs
    h = design.psu_stratum[c]
    cnt = np.bincount(h * n_groups + g, minlength=design.n_strata * n_groups)
    alone = (cnt[h * n_groups + g] == 1) & (design.n_h[h] > 1)
    lost = np.zeros(n_groups, np.int64)
    if design.lonely_psu == "adjust":
        var = var + np.bincount(g[alone], weights=design.k_h[h[alone]] * t[alone] ** 2,
                                minlength=n_groups)
    elif design.lonely_psu == "average":
        own = (design.s_h[h[alone]] - design.k_h[h[alone]]) * t[alone] ** 2
        var = var - np.bincount(g[alone], weights=own, minlength=n_groups)
        lost = np.bincount(g[alone], minlength=n_groups)
    return var, lost


def total_vcov(design: Design, z: np.ndarray) -> np.ndarray:
    """R ``svyrecvar(z, ...)``: (p x p) variance of the column totals of ``z`` (rows x p
    influence values; zero for rows outside a domain) under every stage, stratum, fpc,
    lonely-PSU option and calibration of ``design``."""
    zm = np.asarray(z, float).reshape(design.n, -1)
    e = design.calibration_residuals(zm)
    if design.lonely_psu == "fail" and design.lonely_h.any():
        raise DataError(f"stratum {int(np.flatnonzero(design.lonely_h)[0])} has only one PSU",
                        column="strata", expected="two or more PSUs per stratum")
    v = dense_quadratic(design.psu, design.psu_stratum, design.s_h, design.k_h, e)
    n_lonely = int(design.lonely_h.sum())
    if design.lonely_psu == "average" and n_lonely:
        ok = design.n_strata - n_lonely
        v = v * design.n_strata / ok if ok else v * np.nan
    st = design.stage2
    if st is not None:
        if design.lonely_psu == "average" and st.lonely2.any():
            return np.full_like(v, np.nan)
        v = v + dense_quadratic(st.ssu, st.ssu_psu, st.s2, st.k2, e)
    if not (design.n_h > 1).any():
        v = v * np.nan
    return v
