"""Survey-design machinery shared by the estimators: the :class:`Design` and its
Taylor-linearised variance, equal to R's ``survey`` package (Lumley; checked against 4.1.1).

A :class:`Design` is built once from weights, strata, one-stage clusters (PSUs), ``fpc`` and
calibration margins. Estimators hand it linearised values ``z`` (zero outside a domain) and,
for group tables, a group code per row; it returns the variance of each group's total, the
covariance between groups and the design degrees of freedom. Domains keep every stratum and PSU
of the full design (R ``svymean(~y, subset(design, ...))`` / ``svyby``), so a segment's SE is
never computed as if the segment were its own sample.

Single-PSU strata follow R's ``options(survey.lonely.psu=)``: ``"fail"``, ``"remove"``,
``"certainty"``, ``"adjust"`` (default here, the conservative choice) or ``"average"``;
results report how many such strata a figure touched. Calibration (raking, post-stratification)
enters the variance through the residuals of the calibration, as R's ``svyrecvar`` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, require_columns
from helpers.stats.arrays import (
    ArrayLike,
    as_codes,
    as_float,
    as_weights,
    combine_codes,
)
from helpers.stats.calibration import Calibration, as_calibration, coded, interaction
from helpers.stats.stages import (
    dense_quadratic,
    domain_lonely,
    pair_totals,
    sparse_quadratic,
    stage_two,
    total_vcov,
)

__all__ = ["Calibration", "Clusters", "Design", "Lonely", "resolve_design"]
DeffKind = Literal["replace", "srswor"]
LonelyPSU = Literal["fail", "remove", "certainty", "adjust", "average"]
LONELY_PSU_DEFAULT: LonelyPSU = "adjust"
LONELY_CHOICES = ("fail", "remove", "certainty", "adjust", "average")
#: Sweeps of the raking residualisation; R's svyrecvar uses 10 (kept for equality with R).
RAKE_SWEEPS = 10


# --------------------------------------------------------------------------- result types
class Interval:
    """`ci_low` / `ci_high` for results that hold their confidence interval as ``ci``."""

    ci: tuple[float, float]

    @property
    def ci_low(self) -> float:
        return self.ci[0]

    @property
    def ci_high(self) -> float:
        return self.ci[1]


def stratum_coefficients(f: np.ndarray, n: np.ndarray, lonely_psu: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per stratum s = f n/(n-1) and k = f/(n-1) of R's onestrat (a single unit: s = f under
    "adjust", else 0; k = 0)."""
    lonely = n == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(lonely, f, f * n / (n - 1))
        k = np.where(lonely, 0.0, f / (n - 1))
    if lonely_psu != "adjust":   # certainty, remove, average, fail: no lonely contribution
        s = np.where(lonely, 0.0, s)
    return s, k


def _check_nested(strata: np.ndarray, cluster: np.ndarray) -> None:
    """R ``svydesign(check.strata = TRUE)``: every PSU id in one stratum."""
    pairs = np.unique(cluster.astype(np.int64) * (int(strata.max()) + 1) + strata)
    ids = pairs // (int(strata.max()) + 1)
    if len(np.unique(ids)) < len(ids):
        raise DataError("cluster ids not nested in strata", column="cluster",
                        expected="each PSU id in one stratum, or Clusters(..., nest=True) "
                                 "(R: you may want nest=TRUE)")


def _first_index(codes: np.ndarray, k: int) -> np.ndarray:
    """Row of the first occurrence of each code 0..k-1."""
    first = np.full(k, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class Clusters:
    """Cluster ids of every stage (R ``svydesign(id = ~psu + ssu, fpc = ~fpc1 + fpc2, nest=)``).

    ``psu``: first-stage ids; ``ssu``: second-stage ids (nested in the PSU, as R makes them);
    ``fpc2``: second-stage population size (SSUs in the PSU's population) or sampling
    fraction; the second stage enters the variance only with an fpc at both stages, as R's
    recursive ``svyrecvar``. ``nest``: PSU ids repeat across strata and name different PSUs
    (R ``nest=TRUE``); without it ids found in two strata are an error, as in R. In
    :meth:`Design.from_frame` the fields are column names.
    """

    psu: Any
    ssu: Any = None
    fpc2: Any = None
    nest: bool = False


@dataclass(frozen=True)
class Lonely:
    """Single-PSU strata: R ``options(survey.lonely.psu = psu, survey.adjust.domain.lonely =
    adjust_domain)``; ``adjust_domain``: a domain with one PSU in a stratum of several is
    handled as a lonely PSU too (only its "adjust" and "average" change a figure, as in R)."""

    psu: LonelyPSU = LONELY_PSU_DEFAULT
    adjust_domain: bool = False


# --------------------------------------------------------------------------- the design
@dataclass(frozen=True)
class Variance:
    """Linearised variance of group totals: ``var`` per group, ``vcov`` (or None), the design
    df per group (PSUs - strata holding the group's rows), ``df_union`` (pairs, or None) and
    ``lonely`` (single-PSU strata each group touched), ``n_psu`` (PSUs holding the group)."""

    var: np.ndarray
    vcov: np.ndarray | None
    df: np.ndarray
    df_union: np.ndarray | None
    lonely: np.ndarray
    n_psu: np.ndarray


class Stage2(NamedTuple):
    """Second stage of a design: SSU code per row, the PSU of each SSU, and per PSU the
    coefficients s (fpc n/(n-1)) and k (fpc/(n-1)) times the first-stage fraction n_h/N_h."""

    ssu: np.ndarray
    ssu_psu: np.ndarray
    s2: np.ndarray
    k2: np.ndarray
    lonely2: np.ndarray


class Design:
    """A stratified cluster design with weights, fpc and calibration (R ``svydesign``).

    Parameters
    ----------
    n : number of rows.
    weights : sampling (or calibrated) weights, >= 0 (default 1). Zero-weight rows stay in the
        design (as in R) but count in no n, effective n or df.
    strata : stratum label per row.
    cluster : PSU label per row (default: every row is its own PSU), or :class:`Clusters`
        (two stages with ``ssu`` and ``fpc2``; ``nest``). PSU ids found in two strata are an
        error unless nested (R ``nest=TRUE``).
    fpc : population size per stratum (units, or PSUs when clustered), or sampling fractions
        (all <= 1) as R accepts; omit for sampling with replacement.
    calibrate : margins the weights were raked to (label arrays per margin), or a
        :class:`Calibration` (post-stratification, GREG from ``calibrate()``; moment cells).
    lonely_psu : handling of strata with a single PSU (R's ``survey.lonely.psu``), or
        :class:`Lonely` (with R's ``survey.adjust.domain.lonely``).

    ``Design(n)``: simple random sampling of n rows, what estimators assume without a design.
    """

    def __init__(self, n: int, *, weights: ArrayLike | None = None,
                 strata: ArrayLike | None = None, cluster: ArrayLike | Clusters | None = None,
                 fpc: ArrayLike | None = None,
                 calibrate: Sequence[ArrayLike] | Calibration | None = None,
                 lonely_psu: LonelyPSU | Lonely = LONELY_PSU_DEFAULT) -> None:
        lonely = lonely_psu if isinstance(lonely_psu, Lonely) else Lonely(lonely_psu)
        if lonely.psu not in LONELY_CHOICES:
            raise ArgumentError(f"lonely_psu={lonely.psu!r}", argument="lonely_psu",
                                expected=", ".join(LONELY_CHOICES))
        self.n, self.lonely_psu, self.adjust_domain = int(n), lonely.psu, lonely.adjust_domain
        cal = as_calibration(calibrate)
        self.calibration = None if cal is None else coded(cal, self.n)
        # rows standing for several responses with equal weight and margins (moment cells)
        self.counts = None if self.calibration is None else self.calibration.counts
        self.weighted = weights is not None
        w = as_weights(weights, n)
        self.w = np.ones(n) if w is None else w
        s = as_codes(strata, n, "strata")
        self.stratified = s is not None
        self.strata = np.zeros(n, dtype=np.int64) if s is None else s
        spec = cluster if isinstance(cluster, Clusters) else Clusters(cluster)
        c = as_codes(spec.psu, n, "cluster")
        self.clustered = c is not None
        if c is not None and self.stratified and not spec.nest:
            _check_nested(self.strata, c)
        self.psu = None if c is None else c if s is None else combine_codes(self.strata, c)
        n_psu = n if self.psu is None else int(self.psu.max()) + 1 if n else 0
        first = (None if s is None and fpc is None else   # one stratum: no first rows needed
                 np.arange(n) if self.psu is None else _first_index(self.psu, n_psu))
        self.psu_stratum = np.zeros(n_psu, np.int64) if first is None else self.strata[first]
        self.n_strata = int(self.strata.max()) + 1 if n else 0
        self.n_h = np.bincount(self.psu_stratum, minlength=self.n_strata).astype(float)
        self.f_h = self._fpc_factor(fpc, first)
        self.has_fpc = fpc is not None
        if self.calibration is not None and (self.w <= 0).any():
            raise DataError("calibrated weights must be positive", column="weights",
                            expected="weights > 0 for every calibrated row")
        self.lonely_h = self.n_h == 1
        self.s_h, self.k_h = stratum_coefficients(self.f_h, self.n_h, self.lonely_psu)
        self.stage2 = self._second_stage(spec) if spec.ssu is not None else None

    def _second_stage(self, spec: Clusters) -> Stage2 | None:
        """R's recursion: the second stage counts only with an fpc at both stages."""
        if not self.has_fpc:
            return None
        if spec.fpc2 is None:
            raise ArgumentError("an fpc for the first stage only", argument="fpc2",
                                expected="an fpc for every stage (R: fpc = ~fpc1 + fpc2)")
        ssu_ids = as_codes(spec.ssu, self.n, "ssu")
        assert ssu_ids is not None
        ssu = combine_codes(np.arange(self.n) if self.psu is None else self.psu, ssu_ids)
        n_ssu = int(ssu.max()) + 1 if self.n else 0
        first = _first_index(ssu, n_ssu)
        parent = np.arange(self.n) if self.psu is None else self.psu
        ssu_psu = parent[first]
        n2 = np.bincount(ssu_psu, minlength=len(self.psu_stratum)).astype(float)
        f = as_float(spec.fpc2, "fpc2")
        lo = pd.Series(f).groupby(parent).agg(["min", "max"])
        if (lo["min"] != lo["max"]).any() or not np.isfinite(f).all() or (f <= 0).any():
            raise DataError("fpc2 must be one positive population size per PSU", column="fpc2",
                            expected="the SSUs in each PSU's population, constant in the PSU")
        pop = np.zeros(len(n2))
        pop[parent] = f
        if (pop <= 1).all():
            pop = n2 / pop
        if (pop < n2 - 1e-9).any():
            raise DataError("fpc2 is below the SSUs sampled in a PSU", column="fpc2",
                            expected="fpc2 >= SSUs sampled")
        f2 = np.clip((pop - n2) / pop, 0.0, 1.0)
        s2, k2 = stratum_coefficients(f2, n2, self.lonely_psu)
        frac1 = 1.0 - self.f_h[self.psu_stratum]
        return Stage2(ssu, ssu_psu, s2 * frac1, k2 * frac1, n2 == 1)

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, weights: str | None = None,
                   strata: str | None = None, cluster: str | Clusters | None = None,
                   fpc: str | None = None,
                   calibrate: Sequence[str | Sequence[str]] | Calibration | None = None,
                   lonely_psu: LonelyPSU | Lonely = LONELY_PSU_DEFAULT) -> Design:
        """Design from columns of ``df`` (R ``svydesign(ids=~cluster, weights=~weights, ...)``);
        ``cluster``: a column or :class:`Clusters` of columns; ``calibrate``: margin columns
        or a :class:`Calibration` of them. Rows without a cluster label are PSUs of their own
        (a respondent without an account)."""
        cal = as_calibration(calibrate)
        margins = [[m] if isinstance(m, str) else list(m) for m in (cal.margins if cal else [])]
        spec = cluster if isinstance(cluster, Clusters) else Clusters(cluster)
        cols = [c for c in (weights, strata, spec.psu, spec.ssu, spec.fpc2, fpc) if c]
        require_columns(df, cols + [c for m in margins for c in m], "responses")
        cl = None if not spec.psu else pd.factorize(df[spec.psu])[0]
        if cl is not None:
            own = cl < 0
            cl[own] = cl.max(initial=-1) + 1 + np.arange(int(own.sum()))
        known: dict[str, np.ndarray] = {}   # the wave is in every margin: factorized once
        cal_codes = None if cal is None else dataclasses.replace(
            cal, margins=tuple(interaction(df, m, known) for m in margins))
        clusters = None if cl is None else Clusters(
            cl, None if not spec.ssu else df[spec.ssu],
            None if not spec.fpc2 else df[spec.fpc2], spec.nest)
        return cls(len(df), weights=None if weights is None else df[weights],
                   strata=None if strata is None else df[strata], cluster=clusters,
                   fpc=None if fpc is None else df[fpc], calibrate=cal_codes,
                   lonely_psu=lonely_psu)

    def _fpc_factor(self, fpc: ArrayLike | None, first: np.ndarray | None) -> np.ndarray:
        """(N_h - n_h) / N_h per stratum (1 without fpc), from sizes or sampling fractions."""
        if fpc is None or first is None:
            return np.ones(self.n_strata)
        f = as_float(fpc, "fpc")
        if len(f) != self.n or not np.isfinite(f).all() or (f <= 0).any():
            raise DataError("fpc must be a positive population size for every row",
                            column="fpc", expected=f"{self.n} finite positive entries")
        lo = pd.Series(f).groupby(self.strata).agg(["min", "max"])
        if (lo["min"] != lo["max"]).any():
            raise DataError("fpc varies within a stratum", column="fpc",
                            expected="one population size per stratum")
        pop = np.zeros(self.n_strata)
        pop[self.psu_stratum] = f[first]
        if (pop <= 1).all():   # sampling fractions, as R's svydesign accepts
            pop = self.n_h / pop
        if (pop < self.n_h - 1e-9).any():
            h = int(np.flatnonzero(pop < self.n_h - 1e-9)[0])
            raise DataError(f"population size {pop[h]:g} is below the {int(self.n_h[h])} sampled "
                            f"units of stratum {h}", column="fpc", expected="fpc >= units sampled")
        return np.clip((pop - self.n_h) / pop, 0.0, 1.0)

    @property
    def is_srs(self) -> bool:
        """True when nothing but equal-weight rows sampled with replacement (no design at all)."""
        return not (self.weighted or self.stratified or self.clustered or self.has_fpc
                    or self.calibration is not None)

    @property
    def all_positive(self) -> bool:
        """Every row has a positive weight (checked once)."""
        if not hasattr(self, "_all_positive"):
            self._all_positive = not self.weighted or not self.n or bool(self.w.min() > 0)
        return self._all_positive

    def validate_rows(self, n: int) -> None:
        if n != self.n:
            raise ArgumentError(f"{n} values for a design of {self.n} rows", argument="design",
                                expected="values aligned with the rows the design was built on")

    # ------------------------------------------------------------------ variance
    def variance(self, z: np.ndarray, group: np.ndarray | None = None, n_groups: int = 1,
                 covmat: bool = False) -> Variance:
        """Variance of the totals of ``z`` per group (code per row, -1 = in no group).

        ``z`` holds the linearised values of each row's own group (zero outside every group).
        R: ``svyrecvar`` on the influence functions, with the groups as domains of this design.
        """
        if group is None and self.calibration is None and self.stage2 is None:
            return self._whole(z)
        g = np.zeros(self.n, dtype=np.int64) if group is None else group
        inside = g >= 0
        zz = np.where(inside, z, 0.0)
        gg = np.where(inside, g, 0)
        touched = self._touched(g, n_groups)
        lonely_hit = (touched & self.lonely_h[:, None]).sum(axis=0)
        if self.lonely_psu == "fail" and lonely_hit.any():
            h = int(np.flatnonzero((touched & self.lonely_h[:, None]).any(axis=1))[0])
            raise DataError(f"stratum {h} has only one PSU", column="strata",
                            expected="two or more PSUs per stratum, or lonely_psu="
                                     "'adjust' / 'certainty' / 'remove' / 'average'")
        lost = np.zeros(n_groups, np.int64)
        if self.calibration is None:
            pairs = pair_totals(self.psu, zz, gg, inside, n_groups, self.n)
            var, vcov = sparse_quadratic(pairs, self.psu_stratum, self.unit_s(), self.k_h,
                                         n_groups, covmat)
            var = np.maximum(var, 0.0)
            if self.adjust_domain:
                var, lost = domain_lonely(self, pairs, n_groups, var)
        else:
            var, vcov = self._calibrated(zz, gg, inside, n_groups, covmat)
        if self.lonely_psu == "average" and (self.lonely_h.any() or lost.any()):
            n_str = touched.sum(axis=0)
            ok = n_str - lonely_hit - lost
            var = var * np.where(ok > 0, n_str / np.maximum(ok, 1), np.nan)
            if vcov is not None:
                vcov = vcov * self.n_strata / max(int((~self.lonely_h).sum()), 1)
        if self.stage2 is not None:
            var, vcov = self._add_stage2(zz, gg, inside, n_groups, covmat, (var, vcov))
        df, df_union, n_psu = self._degf(g, n_groups, covmat)
        if not (self.n_h > 1).any():   # no stratum with two PSUs: no variance (not a zero)
            var = np.full(n_groups, np.nan)
            vcov = None if vcov is None else np.full_like(vcov, np.nan)
        return Variance(var, vcov, df, df_union, lonely_hit, n_psu)

    def _add_stage2(self, zz: np.ndarray, gg: np.ndarray, inside: np.ndarray, n_groups: int,
                    covmat: bool, first: tuple[np.ndarray, np.ndarray | None]
                    ) -> tuple[np.ndarray, np.ndarray | None]:
        """First-stage variance plus R's second-stage term (on calibration residuals)."""
        var, vcov = first
        if self.calibration is None:
            v2, c2 = stage_two(self, zz, gg, inside, n_groups, covmat)
        else:
            zg = np.zeros((self.n, n_groups))
            zg[np.flatnonzero(inside), gg[inside]] = zz[inside]
            st = self.stage2
            assert st is not None
            full = dense_quadratic(st.ssu, st.ssu_psu, st.s2, st.k2,
                                   self.calibration_residuals(zg))
            v2, c2 = np.diag(full).copy(), full
        return var + v2, None if vcov is None or c2 is None else vcov + c2

    def total_vcov(self, z: np.ndarray) -> np.ndarray:
        """R ``svyrecvar``: (p x p) variance of the column totals of ``z`` (rows x p influence
        values, zero outside a domain); see :func:`helpers.stats.stages.total_vcov`."""
        return total_vcov(self, z)

    @property
    def degf(self) -> float:
        """R ``degf(design)``: PSUs minus strata holding a positive weight."""
        return self._whole_df()[0]

    def _whole(self, z: np.ndarray) -> Variance:
        """:meth:`variance` of the whole sample (no domain, no calibration): one bincount."""
        return self.psu_total_variance(z if self.psu is None else np.bincount(
            self.psu, weights=z, minlength=len(self.psu_stratum)))

    def psu_total_variance(self, t: np.ndarray) -> Variance:
        """:meth:`variance` of the whole sample from the totals ``t`` of z per PSU."""
        if self.lonely_psu == "fail" and self.lonely_h.any():
            raise DataError(f"stratum {int(np.flatnonzero(self.lonely_h)[0])} has only one PSU",
                            column="strata", expected="two or more PSUs per stratum, or "
                            "lonely_psu='adjust' / 'certainty' / 'remove' / 'average'")
        s_c = self.unit_s()
        t_h = np.bincount(self.psu_stratum, weights=t, minlength=self.n_strata)
        var = float(np.einsum("i,i,i->", s_c, t, t) - self.k_h @ (t_h * t_h))   # no BLAS threads
        n_lonely = int(self.lonely_h.sum())
        if self.lonely_psu == "average" and n_lonely:
            ok = self.n_strata - n_lonely
            var = var * self.n_strata / ok if ok else float("nan")
        if not (self.n_h > 1).any():
            var = float("nan")
        df, n_psu = self._whole_df()
        return Variance(np.array([max(var, 0.0)]), None, np.array([df]), None,
                        np.array([n_lonely]), np.array([n_psu]))

    def _whole_df(self) -> tuple[float, int]:
        """PSUs and strata holding a positive weight (cached: the design does not change)."""
        if not hasattr(self, "_df_cache"):
            if self.all_positive:   # every PSU and every stratum with rows holds weight
                self._df_cache = (float(len(self.psu_stratum) - int((self.n_h > 0).sum())),
                                  len(self.psu_stratum))
                return self._df_cache
            pos = self.w > 0
            if self.psu is None:
                n_p = int(pos.sum())
                n_s = int((np.bincount(self.strata, weights=pos, minlength=self.n_strata) > 0).sum())
            else:
                has = np.bincount(self.psu, weights=pos, minlength=len(self.psu_stratum)) > 0
                n_p = int(has.sum())
                n_s = len(np.unique(self.psu_stratum[has]))
            self._df_cache = (float(n_p - n_s), n_p)
        return self._df_cache

    def unit_s(self) -> np.ndarray:
        """Each PSU's s_h, the weight of its squared total (a PSU standing for several:
        :class:`helpers.stats.cell_tables.UnitCellsDesign`)."""
        return self.s_h[self.psu_stratum]

    def _touched(self, g: np.ndarray, n_groups: int) -> np.ndarray:
        """(strata x groups) bool: the group has rows in the stratum."""
        inside = g >= 0
        key = self.strata[inside] * n_groups + g[inside]
        cnt = np.bincount(key, minlength=self.n_strata * n_groups)
        return (cnt > 0).reshape(self.n_strata, n_groups)

    def _cal_parts(self) -> dict[str, Any]:
        """What the calibrated variance needs from the design alone (computed once): the
        calibration model X (rows x L: level indicators, or R calibrate()'s model matrix),
        the weights saved at calibration ``psw``, X' Omega X, P (PSU x L sums of psw X), S P,
        P'SP and strata x P."""
        from scipy import sparse
        if hasattr(self, "_cal_cache"):
            return self._cal_cache
        cal = self.calibration
        assert cal is not None
        psw = self.w if cal.weights is None else np.asarray(cal.weights, float)
        if cal.method == "greg":
            assert cal.model is not None and cal.base is not None
            x = sparse.csr_matrix(np.asarray(cal.model, float))
            omega = np.asarray(cal.base, float)
            offs = np.array([0, x.shape[1]])
        else:
            ones = np.ones(self.n) if self.counts is None else self.counts
            omega = ones if cal.method == "rake" else self.w
            levels = [int(m.max()) + 1 for m in cal.margins]
            offs = np.concatenate([[0], np.cumsum(levels)]).astype(np.int64)
            x = sparse.csr_matrix((np.ones(self.n * len(levels)), (
                np.tile(np.arange(self.n), len(levels)),
                np.concatenate([m + offs[k] for k, m in enumerate(cal.margins)]))),
                shape=(self.n, int(offs[-1])))
        cross = np.asarray((x.T @ sparse.diags(omega) @ x).todense())
        n_psu = len(self.psu_stratum)
        psu = np.arange(self.n) if self.psu is None else self.psu
        agg = sparse.csr_matrix((np.ones(self.n), (psu, np.arange(self.n))), shape=(n_psu, self.n))
        pm = agg @ sparse.diags(psw) @ x
        spm = sparse.diags(self.unit_s()) @ pm
        hs = sparse.csr_matrix((np.ones(n_psu), (self.psu_stratum, np.arange(n_psu))),
                               shape=(self.n_strata, n_psu))
        self._cal_cache: dict[str, Any] = {
            "x": x, "psw": psw, "mult": omega / psw, "offs": offs, "cross": cross,
            "spm": spm.tocsr(), "psp": np.asarray((pm.T @ spm).todense()),
            "hpm": np.asarray((hs @ pm).todense())}
        return self._cal_cache

    def _coefficients(self, r0: np.ndarray) -> np.ndarray:
        """Calibration coefficients a (L x k) from X' diag(mult) z: R's 10 sweeps of level
        means (rake), one sweep (post-stratification) or the GREG solve."""
        cal = self.calibration
        assert cal is not None
        parts = self._cal_parts()
        cross, offs = parts["cross"], parts["offs"]
        if cal.method == "greg":
            return np.linalg.pinv(cross) @ r0
        a = np.zeros_like(r0)
        for _ in range(RAKE_SWEEPS if cal.method == "rake" else 1):
            for k in range(len(offs) - 1):
                sl = slice(offs[k], offs[k + 1])
                a[sl] += (r0[sl] - cross[sl] @ a) / np.diag(cross)[sl][:, None]
        return a

    def calibration_residuals(self, z: np.ndarray) -> np.ndarray:
        """Rows x p influence values replaced by their calibration residuals (R svyrecvar's
        postStrata step); ``z`` itself without calibration."""
        if self.calibration is None:
            return z
        parts = self._cal_parts()
        a = self._coefficients(np.asarray(parts["x"].T @ (parts["mult"][:, None] * z)))
        return z - parts["psw"][:, None] * np.asarray(parts["x"] @ a)

    def _calibrated(self, zz: np.ndarray, gg: np.ndarray, inside: np.ndarray, n_groups: int,
                    covmat: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Variance after replacing z by its calibration residuals (R svyrecvar postStrata):
        z - psw * X a, with the coefficients a from small matrices only (never a dense rows x
        groups array)."""
        from scipy import sparse
        parts = self._cal_parts()
        rows = np.flatnonzero(inside)
        zg = sparse.csr_matrix(((parts["mult"] * zz)[rows], (rows, gg[rows])),
                               shape=(self.n, n_groups))
        a = self._coefficients(np.asarray((parts["x"].T @ zg).todense()))
        return self._residual_quadratic(zz, gg, inside, n_groups, a, parts, covmat)

    def _residual_quadratic(self, zz: np.ndarray, gg: np.ndarray, inside: np.ndarray,
                            n_groups: int, a: np.ndarray, parts: dict[str, Any], covmat: bool
                            ) -> tuple[np.ndarray, np.ndarray | None]:
        """V = T'ST - T_h' K T_h for T = T0 - P a (T0: PSU x group totals of z; P: PSU x level
        sums of w), expanded so that no dense PSU x group matrix is formed."""
        from scipy import sparse
        c, g, t = pair_totals(self.psu, zz, gg, inside, n_groups, self.n)
        h = self.psu_stratum[c]
        s_c = self.unit_s()[c]
        if self.psu is None:   # one row per PSU: every group's totals sit on distinct PSUs
            t0st0 = np.diag(np.bincount(g, weights=s_c * t * t, minlength=n_groups))
        else:
            t0 = sparse.csr_matrix((t, (c, g)), shape=(len(self.psu_stratum), n_groups))
            t0st0 = np.asarray((t0.T @ sparse.diags(self.unit_s()) @ t0).todense())
        t0 = sparse.csr_matrix((t, (g, c)), shape=(n_groups, len(self.psu_stratum)))
        t0sp = np.asarray((t0 @ parts["spm"]).todense())
        tst = t0st0 - t0sp @ a - (t0sp @ a).T + a.T @ parts["psp"] @ a
        t0_h = np.bincount(h * n_groups + g, weights=t,
                           minlength=self.n_strata * n_groups).reshape(self.n_strata, n_groups)
        t_h = t0_h - parts["hpm"] @ a
        vcov = tst - t_h.T @ (self.k_h[:, None] * t_h)
        vcov = (vcov + vcov.T) / 2
        return np.maximum(np.diag(vcov).copy(), 0.0), vcov if covmat else None

    def _degf(self, g: np.ndarray, n_groups: int, pairs: bool
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """R ``degf(subset(design, group))``: PSUs minus strata holding positive-weight rows."""
        from scipy import sparse
        keep = (g >= 0) & (self.w > 0)
        gk = g[keep]
        n_psu = len(self.psu_stratum)
        if self.psu is None:   # every row its own PSU: the pairs are the rows
            p_psu, p_grp = np.flatnonzero(keep), gk
        else:
            p_psu, p_grp = _pairs(self.psu[keep], gk, n_groups, n_psu)
        s_str, s_grp = _pairs(self.strata[keep], gk, n_groups, self.n_strata)
        n_p = np.bincount(p_grp, minlength=n_groups)
        n_s = np.bincount(s_grp, minlength=n_groups)
        df = (n_p - n_s).astype(float)
        df_union = None
        if pairs:
            def both(a: np.ndarray, grp: np.ndarray, size: int) -> np.ndarray:
                inc = sparse.csr_matrix((np.ones(len(a)), (a, grp)), shape=(size, n_groups))
                return np.asarray((inc.T @ inc).todense())
            df_union = ((n_p[:, None] + n_p[None, :] - both(p_psu, p_grp, n_psu))
                        - (n_s[:, None] + n_s[None, :] - both(s_str, s_grp, self.n_strata))
                        ).astype(float)
        return df, df_union, n_p


def _pairs(a: np.ndarray, b: np.ndarray, n_b: int, n_a: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (a, b) pairs (codes a < n_a, b < n_b): a presence bincount when the table is
    small enough, else a hash (both far cheaper than sorting a million rows)."""
    key = a.astype(np.int64) * n_b + b
    size = n_a * n_b
    if size <= 4 * len(key) + 8_000_000:
        idx = np.flatnonzero(np.bincount(key, minlength=size))
    else:
        idx = pd.unique(key)
    return idx // n_b, idx % n_b


def resolve_design(design: Design | None, n: int) -> Design:
    """The design of ``n`` values: ``design`` (checked to hold n rows), or simple random
    sampling of the rows when None (equal weights, every row its own PSU)."""
    if design is None:
        return Design(n)
    if not isinstance(design, Design):
        raise ArgumentError(f"a {type(design).__name__}", argument="design",
                            expected="a Design (e.g. Design.from_frame(df, weights='w')) or None")
    design.validate_rows(n)
    return design
