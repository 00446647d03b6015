"""Replicate-weight designs (R ``svrepdesign`` / ``as.svrepdesign``) and the generic hook that
gives any estimator written as "estimate from a weight vector" its replicate variance.

A :class:`ReplicateDesign` holds the full-sample weights and R replicate weight columns, either
given (a vendor file's ``repw1..repwR``: JK1, JKn, bootstrap, BRR, Fay or other, with R's
``scale``, ``rscales`` and ``mse``) or created from a linearisation :class:`Design` by
:func:`as_replicate_design` (R ``as.svrepdesign``: JK1, JKn, BRR, bootstrap). Replicate weights
are stored as R stores them compressed: row i of replicate r weighs ``base[i] * factors[unit[i], r]``
(given columns: ``base = 1``, one unit per row).

The variance is R's ``svrVar``: ``scale * sum_r rscales_r (theta_r - centre)^2`` with the centre
the replicates' mean (or the full-sample estimate when ``mse``); replicates whose estimate is
undefined (a domain with no weight in it) are dropped, as R drops NA replicates. The design df
is R's ``degf``: the rank of the replicate weights (of the domain's rows) minus one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, require_columns
from helpers.stats.arrays import ArrayLike, as_float
from helpers.stats.design import Design

if TYPE_CHECKING:
    from helpers.stats.estimators import Groups

REPLICATE_TYPES = ("JK1", "JKn", "bootstrap", "BRR", "Fay", "other")
CREATE_TYPES = ("auto", "JK1", "JKn", "bootstrap", "BRR")


class Compressed(NamedTuple):
    """Replicate weights as R's ``repweights_compressed``: ``factors`` (units x replicates),
    the ``unit`` of each row (0..units-1) and the rows' ``base`` weights; row i of replicate r
    weighs base[i] x factors[unit[i], r]."""

    factors: np.ndarray
    unit: np.ndarray
    base: np.ndarray


def _default_scales(kind: str, n_rep: int, scale: float | None,
                    rscales: ArrayLike | None, rho: float | None) -> tuple[float, np.ndarray]:
    """R ``svrepdesign``'s scale and rscales for combined weights of type ``kind``."""
    if kind == "Fay" and rho is None:
        raise ArgumentError("type='Fay' without rho", argument="rho", expected="Fay's rho")
    if kind == "JKn" and rscales is None:
        raise ArgumentError("type='JKn' without rscales", argument="rscales",
                            expected="(n_h - 1) / n_h for each replicate (R requires them)")
    defaults = {"BRR": 1 / n_rep, "Fay": 1 / (n_rep * (1 - (rho or 0.0)) ** 2),
                "bootstrap": 1 / (n_rep - 1) if n_rep > 1 else np.nan,
                "JK1": (n_rep - 1) / n_rep}
    s = defaults.get(kind, 1.0) if scale is None or kind in ("BRR", "Fay") else float(scale)
    r = np.ones(n_rep) if rscales is None else np.broadcast_to(
        np.asarray(as_float(rscales, "rscales"), float), (n_rep,)).copy()
    return float(s), r


class ReplicateDesign(Design):
    """A design whose variance comes from replicate weights (R ``svrepdesign``, combined weights).

    Parameters
    ----------
    weights : full-sample weights (R ``weights=``).
    repweights : (rows x replicates) replicate weights, or :class:`Compressed`.
    type : "JK1", "JKn", "bootstrap", "BRR", "Fay" or "other" (R ``type=``).
    scale, rscales : R's; defaults as R for each type (JKn requires ``rscales``).
    mse : centre the replicates on the full-sample estimate (R ``mse=TRUE``) instead of their mean.
    rho : Fay's coefficient (type "Fay").
    """

    def __init__(self, weights: ArrayLike, repweights: ArrayLike | Compressed, *,
                 type: str = "JK1", scale: float | None = None,   # noqa: A002  R's name
                 rscales: ArrayLike | None = None, mse: bool = False,
                 rho: float | None = None) -> None:
        if type not in REPLICATE_TYPES:
            raise ArgumentError(f"replicate type {type!r}", argument="type",
                                expected=", ".join(REPLICATE_TYPES))
        w = as_float(weights, "weights")
        super().__init__(len(w), weights=w)
        if isinstance(repweights, Compressed):
            factors, unit = np.asarray(repweights.factors, float), np.asarray(repweights.unit)
            self.base = np.asarray(repweights.base, float)
        else:
            factors = np.asarray(repweights, float)
            unit, self.base = np.arange(self.n), np.ones(self.n)
        if factors.ndim != 2 or len(unit) != self.n or factors.shape[1] < 2:
            raise ArgumentError(f"replicate weights of shape {factors.shape}",
                                argument="repweights",
                                expected=f"{self.n} rows and two or more replicates")
        if not np.isfinite(factors).all() or (factors < 0).any():
            raise DataError("replicate weights must be finite and non-negative",
                            column="replicate weights", expected="finite weights >= 0")
        self.factors, self.unit, self.type, self.mse = factors, unit.astype(np.int64), type, mse
        self.scale, self.rscales = _default_scales(type, factors.shape[1], scale, rscales, rho)
        self.weighted = True
        self._rank_cache: dict[bytes, int] = {}

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, weights: str | None,   # type: ignore[override]
                   replicate_weights: str | Sequence[str], **options: Any) -> ReplicateDesign:
        """R ``svrepdesign(data = df, weights = ~w, repweights = "repw[0-9]+", ...)``:
        ``replicate_weights`` is a list of columns or a glob pattern (``"repw*"``); ``options``
        are ``type``, ``scale``, ``rscales``, ``mse`` and ``rho`` as for the class."""
        cols = replicate_columns(df, replicate_weights)
        require_columns(df, [c for c in (weights,) if c] + cols, "responses")
        rep = np.column_stack([as_float(df[c], c) for c in cols])
        if not np.isfinite(rep).all():
            r, c = np.argwhere(~np.isfinite(rep))[0]
            raise DataError("missing replicate weight", column=cols[int(c)], row=int(r),
                            expected="a weight for every row (R: missing values not allowed)")
        w = np.ones(len(df)) if weights is None else df[weights]
        return cls(w, rep, **options)

    @property
    def n_replicates(self) -> int:
        return int(self.factors.shape[1])

    def replicate_weights(self, r: int) -> np.ndarray:
        """The weights of replicate ``r`` (rows)."""
        return self.base * self.factors[self.unit, r]

    def unit_sums(self, values: np.ndarray, group: np.ndarray, n_groups: int) -> Any:
        """(groups x units) sums of base * values over rows of each group (-1: none): dense
        when small enough, else sparse."""
        from scipy import sparse
        inside = group >= 0
        n_units = self.factors.shape[0]
        if n_units * n_groups <= 4 * self.n + 1_000_000:
            key = group[inside] * n_units + self.unit[inside]
            return np.bincount(key, weights=(self.base * values)[inside],
                               minlength=n_groups * n_units).reshape(n_groups, n_units)
        return sparse.csr_matrix(
            ((self.base * values)[inside], (group[inside], self.unit[inside])),
            shape=(n_groups, n_units))

    def variance_of(self, thetas: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """R ``svrVar``: (p x p) variance of replicate estimates ``thetas`` (R x p) around their
        mean (or ``theta`` when ``mse``); replicates with a NaN estimate are dropped."""
        ok = np.isfinite(thetas).all(axis=1)
        th, rs = thetas[ok], self.rscales[ok]
        if not len(th):
            return np.full((thetas.shape[1],) * 2, np.nan)
        centre = theta if self.mse else th[rs > 0].mean(axis=0)
        d = (th - centre) * np.sqrt(rs)[:, None]
        return self.scale * (d.T @ d)

    def rank_df(self, rows: np.ndarray | None = None) -> float:
        """R ``degf``: rank of the replicate weights of ``rows`` (bool mask; None: all) - 1."""
        keep = self.base > 0 if rows is None else rows & (self.base > 0)
        present = np.bincount(self.unit[keep], minlength=self.factors.shape[0]) > 0
        return self.units_df(np.flatnonzero(present))

    def units_df(self, units: np.ndarray) -> float:
        """Rank of the replicate factors of ``units`` - 1. A sample of 4 R of them at full
        rank R settles it (a subset's rank bounds the set's); else the whole set's rank."""
        key = units.tobytes()
        if key not in self._rank_cache:
            r = self.n_replicates
            probe = units[np.linspace(0, len(units) - 1, min(len(units), 4 * r)).astype(int)] \
                if len(units) else units
            rank = int(np.linalg.matrix_rank(self.factors[probe])) if len(probe) else 0
            if rank < r and len(units) > len(probe):
                rank = int(np.linalg.matrix_rank(self.factors[units]))
            self._rank_cache[key] = rank
        return float(self._rank_cache[key] - 1)

    @property
    def degf(self) -> float:
        return self.rank_df()

    def variance(self, z: np.ndarray, group: np.ndarray | None = None, n_groups: int = 1,
                 covmat: bool = False) -> Any:
        raise ArgumentError("linearised values on a replicate design", argument="design",
                            expected="replicate_vcov(design, estimate) or the estimators")

    def total_vcov(self, z: np.ndarray) -> np.ndarray:
        return self.variance(z)


def replicate_columns(df: pd.DataFrame, spec: str | Sequence[str]) -> list[str]:
    """Columns named by a list, or matching a glob pattern such as ``"repw*"`` (in file order)."""
    if not isinstance(spec, str):
        return list(spec)
    pattern = re.compile("^" + re.escape(spec).replace(r"\*", ".*").replace(r"\?", ".") + "$")
    cols = [c for c in df.columns if pattern.match(str(c))]
    if not cols:
        raise DataError(f"no column matches the replicate weights {spec!r}",
                        column=spec, expected="replicate weight columns such as repw1..repwR")
    return cols


def is_replicate(design: Any) -> TypeGuard[ReplicateDesign]:
    return isinstance(design, ReplicateDesign)


def replicate_vcov(design: ReplicateDesign, estimate: Callable[[np.ndarray], np.ndarray] | None
                   = None, *, estimate_many: Callable[[np.ndarray], np.ndarray] | None = None,
                   theta: np.ndarray | None = None) -> np.ndarray:
    """The generic hook: (p x p) replicate variance of any estimator of a weight vector.

    ``estimate(w)`` returns the p estimates from row weights ``w`` (zero a domain's outside rows
    inside it); or ``estimate_many(W)`` maps (rows x k) weights to (k x p) estimates at once.
    ``theta``: the full-sample estimate (computed when needed for ``mse``).
    """
    if not is_replicate(design):
        raise ArgumentError("not a replicate design", argument="design",
                            expected="a ReplicateDesign (use design.total_vcov for Design)")
    if estimate_many is not None:
        thetas = np.vstack([np.atleast_2d(estimate_many(
            design.base[:, None] * design.factors[design.unit][:, i:i + 16]))
            for i in range(0, design.n_replicates, 16)])
        full = estimate_many(design.w[:, None])[0] if theta is None else theta
    else:
        assert estimate is not None
        thetas = np.vstack([np.atleast_1d(estimate(design.replicate_weights(r)))
                            for r in range(design.n_replicates)])
        full = estimate(design.w) if theta is None else theta
    return design.variance_of(thetas, np.atleast_1d(np.asarray(full, float)))


def replicate_group_means(design: ReplicateDesign, y: np.ndarray, groups: Groups | None, *,
                          total: bool, covmat: bool, deff: str) -> dict[str, Any]:
    """The fields of :class:`~helpers.stats.estimators.GroupMeans` on a replicate design:
    R ``svymean`` / ``svytotal`` / ``svyby`` of ``y`` with replicate variances."""
    n_groups = 1 if groups is None else groups.n
    nan = np.isnan(y)
    if groups is None and not nan.any():   # the whole sample: no masks
        g = gv = np.zeros(design.n, np.int64)
        valid, yv, w = np.ones(design.n, bool), y, design.w
    else:
        g = np.zeros(design.n, np.int64) if groups is None else groups.codes
        valid = (g >= 0) & ~nan
        gv, yv, w = np.where(valid, g, -1), np.where(valid, y, 0.0), np.where(valid, design.w, 0.0)
    gg = np.where(valid, g, 0)
    wsum = np.bincount(gg, weights=w, minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(gg, weights=w * yv, minlength=n_groups) / wsum
        t1 = design.unit_sums(yv, gv, n_groups) @ design.factors
        t0 = design.unit_sums(valid.astype(float), gv, n_groups) @ design.factors
        reps = (t1 if total else t1 / t0).T                       # replicates x groups
        est = wsum * mean if total else mean
        var = np.array([design.variance_of(reps[:, [k]], est[[k]])[0, 0]
                        for k in range(n_groups)])
        se_logit = None if total else np.sqrt([design.variance_of(
            np.log(reps[:, [k]] / (1 - reps[:, [k]])),
            np.log(est[[k]] / (1 - est[[k]])))[0, 0] for k in range(n_groups)])
        vcov = design.variance_of(reps, est) if covmat else None
    n = np.bincount(gg, weights=(valid & (w > 0)).astype(float), minlength=n_groups)
    units = _group_units(design, gv, n_groups)
    df = np.array([design.units_df(u) for u in units])
    df_union = None if not covmat else np.array(
        [[design.units_df(np.union1d(a, b)) for b in units] for a in units])
    n_psu = np.array([len(u) for u in units])
    return {"est": est, "var": np.where(n >= 2, var, np.nan),
            "var_srs": _var_srs(_spread(yv, w, gg, mean), wsum, n, total, deff),
            "n": n.astype(np.int64), "wsum": wsum, "df": df, "n_psu": n_psu,
            "lonely": np.zeros(n_groups, np.int64), "vcov": vcov, "df_union": df_union,
            "se_logit": se_logit}


def _group_units(design: ReplicateDesign, gv: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """The units holding positive-weight rows of each group (sorted)."""
    keep = (gv >= 0) & (design.base > 0)
    n_units = design.factors.shape[0]
    if n_units * n_groups <= 4 * design.n + 1_000_000:   # a presence table, no sort
        present = np.bincount(gv[keep] * n_units + design.unit[keep],
                              minlength=n_groups * n_units).reshape(n_groups, n_units) > 0
        return [np.flatnonzero(row) for row in present]
    key = np.unique(design.unit[keep] * n_groups + gv[keep])
    grp, unit = key % n_groups, key // n_groups
    order = np.argsort(grp, kind="stable")
    bounds = np.searchsorted(grp[order], np.arange(n_groups + 1))
    return [unit[order][bounds[k]:bounds[k + 1]] for k in range(n_groups)]


def _spread(yv: np.ndarray, w: np.ndarray, gg: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Weighted sum of squared deviations from the group mean, per group."""
    with np.errstate(invalid="ignore"):
        resid = yv - mean[gg]
        return np.bincount(gg, weights=w * resid * resid, minlength=len(mean))


def _var_srs(ssq: np.ndarray, wsum: np.ndarray, n: np.ndarray, total: bool,
             deff: str) -> np.ndarray:
    """R's deff denominator (as :func:`~helpers.stats.estimators.group_means`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = ssq / wsum * n / (n - 1)
        var_srs = s2 / n * (wsum**2 if total else 1.0)
        if deff == "srswor":
            var_srs = np.where(wsum >= n, var_srs * (1 - n / wsum), np.nan)
    return np.asarray(var_srs, float)


# --------------------------------------------------------------------------- as.svrepdesign
def as_replicate_design(design: Design, type: str = "auto",   # noqa: A002  R's name
                        replicates: int = 50, seed: int | None = None,
                        mse: bool = False) -> ReplicateDesign:
    """R ``as.svrepdesign(design, type=...)``: replicate weights from a linearisation design's
    first-stage PSUs and strata (``"auto"``: JK1 unstratified, JKn stratified). JK1 and JKn are
    deterministic and equal R's (fpc as R: a fully sampled stratum gets no replicate); BRR
    needs exactly two PSUs per stratum and uses the Sylvester Hadamard matrix (R's own choice
    for 1, 3, 7, 15, ... strata; any other full-orthogonal-balance matrix gives the same
    variance of a total); bootstrap is R's (n_h PSUs drawn with replacement per stratum, R's
    scale) with draws from ``numpy`` seeded by ``seed``."""
    if type not in CREATE_TYPES:
        raise ArgumentError(f"replicate type {type!r}", argument="type",
                            expected=", ".join(CREATE_TYPES))
    if design.calibration is not None or is_replicate(design):
        raise ArgumentError("a calibrated or replicate design", argument="design",
                            expected="an uncalibrated linearisation Design (calibrate after)")
    kind = ("JKn" if design.stratified else "JK1") if type == "auto" else type
    if kind == "JK1" and design.stratified:
        raise ArgumentError("JK1 for a stratified design", argument="type",
                            expected="'JKn', 'BRR' or 'bootstrap' (R: can't use JK1)")
    if kind in ("JKn", "BRR") and not design.stratified:
        raise ArgumentError(f"{kind} for an unstratified design", argument="type",
                            expected="'JK1' or 'bootstrap'")
    unit = np.arange(design.n) if design.psu is None else design.psu
    stratum = design.psu_stratum
    if kind == "bootstrap":
        factors, scale, rscales = _bootstrap(design, stratum, replicates, seed)
    else:
        factors, scale, rscales = {"JK1": _jk1, "JKn": _jkn, "BRR": _brr}[kind](design, stratum)
    return ReplicateDesign(design.w, Compressed(factors, unit, design.w), type=kind,
                           scale=scale, rscales=rscales, mse=mse)


def _jk1(design: Design, stratum: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    n = len(stratum)
    f = np.full((n, n), n / (n - 1))
    np.fill_diagonal(f, 0.0)
    return f, float(design.f_h[0] * (n - 1) / n), np.ones(n)


def _jkn(design: Design, stratum: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    n_psu, n_str = len(stratum), design.n_strata
    cols, rscales = [], []
    for h in range(n_str):
        members = np.flatnonzero(stratum == h)
        n_h = len(members)
        if design.has_fpc and design.f_h[h] <= 0:   # fully sampled: R drops its replicates
            continue
        if n_h == 1:
            if design.lonely_psu == "fail":
                raise DataError(f"stratum {h} has only one PSU", column="strata",
                                expected="two or more PSUs per stratum, or lonely_psu")
            if design.lonely_psu == "adjust":
                cols.append(np.where(stratum == h, 0.0, n_str / (n_str - 1)))
                rscales.append((n_str - 1) / n_str)
            continue
        for j in members:
            col = np.ones(n_psu)
            col[members] = n_h / (n_h - 1)
            col[j] = 0.0
            cols.append(col)
            rscales.append(design.f_h[h] * (n_h - 1) / n_h)
    if not cols:
        raise DataError("every stratum was sampled exhaustively", column="fpc",
                        expected="a stratum with a sampling fraction below 1")
    return np.column_stack(cols), 1.0, np.array(rscales)


def sylvester(size: int) -> np.ndarray:
    """Sylvester Hadamard matrix of order ``size`` (a power of 2) in R's 0/1 coding."""
    i = np.arange(size)
    bits = np.bitwise_and(i[:, None], i[None, :])
    parity = np.array([bin(int(b)).count("1") % 2 for b in bits.ravel()]).reshape(bits.shape)
    return 1 - parity


def _brr(design: Design, stratum: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    n_h = np.bincount(stratum, minlength=design.n_strata)
    if (n_h != 2).any():
        raise DataError("BRR needs exactly two PSUs in every stratum", column="strata",
                        expected=f"2 PSUs per stratum (found {int(n_h[n_h != 2][0])}); "
                                 "use JKn or bootstrap")
    size = 1 << int(np.ceil(np.log2(design.n_strata + 1)))
    hmat = sylvester(size)
    first_of = np.full(design.n_strata, -1)
    for j, h in enumerate(stratum):
        if first_of[h] < 0:
            first_of[h] = j
    first = np.arange(len(stratum)) == first_of[stratum]
    take_first = hmat[1 + stratum, :] == 1                     # units x replicates
    factors = 2.0 * np.where(first[:, None], take_first, ~take_first)
    return factors, 1.0 / size, np.ones(size)


def _bootstrap(design: Design, stratum: np.ndarray, replicates: int,
               seed: int | None) -> tuple[np.ndarray, float, np.ndarray]:
    rng = np.random.default_rng(seed)
    factors = np.zeros((len(stratum), replicates))
    n_h = np.bincount(stratum, minlength=design.n_strata)
    for h in range(design.n_strata):
        members = np.flatnonzero(stratum == h)
        k = len(members)
        pop = k / (1 - design.f_h[h]) if design.has_fpc and design.f_h[h] < 1 else None
        for r in range(replicates):
            draw = (rng.integers(0, k, k) if pop is None else
                    rng.choice(int(round(pop)), k, replace=False) % k)
            factors[members, r] = np.bincount(draw, minlength=k)
    psu_per_stratum = 1 / np.mean(1 / n_h[n_h > 0])
    scale = psu_per_stratum / ((psu_per_stratum - 1) * (replicates - 1))
    return factors, float(scale), np.ones(replicates)
