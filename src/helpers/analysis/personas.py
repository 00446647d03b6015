"""Experience personas: respondents clustered on their standardised experience ratings, each
persona described by its most distinctive items and its NPS with a design-based interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from helpers.analysis import headline
from helpers.analysis.segments import nps_points, result_row
from helpers.analysis.subsample import subsample
from helpers.errors import ArgumentError, ThinData, require_columns
from helpers.measures import Measure
from helpers.stats import estimators
from helpers.stats.design import Design


@dataclass(frozen=True)
class Personas:
    """Experience personas: KMeans on standardised ratings, k chosen by `criterion`.

    `selection`: one row per k with the criterion value; `stability`: adjusted Rand index between
    each pair of seeds at the chosen k; `labels`: persona per row of the input (NaN when a rating
    is missing); `profile`: persona x item z-scores (persona mean minus overall mean, in overall
    SDs); `table`: per persona n, share, distinctive items, NPS with SE/CI.
    """

    k: int
    criterion: str
    selection: pd.DataFrame
    stability: pd.DataFrame
    labels: pd.Series
    profile: pd.DataFrame
    table: pd.DataFrame
    sample_note: str = ""

    @property
    def ari_mean(self) -> float:
        """Mean adjusted Rand index between seeds (1 = identical partitions)."""
        return float(self.stability["ari"].mean()) if len(self.stability) else float("nan")

    @property
    def structure(self) -> str:
        """Kaufman & Rousseeuw (1990) reading of the chosen k's mean silhouette (silhouette
        criterion only): > 0.70 strong, > 0.50 reasonable, > 0.25 weak, else no substantial
        structure (personas are then slices of a continuum, not distinct groups)."""
        if "silhouette" not in self.selection:
            return "n/a (BIC criterion)"
        s = float(self.selection.loc[self.selection["chosen"], "silhouette"].iloc[0])
        label = ("strong" if s > 0.70 else "reasonable" if s > 0.50 else "weak" if s > 0.25
                 else "no substantial structure")
        return f"silhouette {s:.2f}: {label}"

    @property
    def ari_min(self) -> float:
        """Worst pairwise adjusted Rand index between seeds."""
        return float(self.stability["ari"].min()) if len(self.stability) else float("nan")


@dataclass(frozen=True)
class PersonaOptions:
    """How personas are found: candidate k, the criterion choosing it, the seeds whose agreement
    measures stability, distinctive items shown, the silhouette's sample and the fitting
    subsample (None: every complete row)."""

    k_min: int = 2
    k_max: int = 6
    criterion: str = "silhouette"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    top_items: int = 3
    silhouette_sample: int = 4000
    sample: int | None = None

    def __post_init__(self) -> None:
        if self.criterion not in ("silhouette", "bic"):
            raise ArgumentError(f"criterion={self.criterion!r}: expected silhouette or bic")
        if not 2 <= self.k_min <= self.k_max:
            raise ArgumentError(f"k_min={self.k_min}, k_max={self.k_max}: expected 2 <= k_min <= k_max")

    @classmethod
    def from_settings(cls, settings: Any, sample: int | None = None) -> PersonaOptions:
        """Options from the analysis settings (config.SegmentsConfig: k_min, k_max, criterion,
        seeds) and the notebook's subsample size."""
        return cls(k_min=settings.k_min, k_max=settings.k_max, criterion=settings.criterion,
                   seeds=tuple(settings.seeds), sample=sample)


def find_personas(df: pd.DataFrame, items: Sequence[str], *, cluster: str | None = None,
                  options: PersonaOptions | None = None, measure: Measure | None = None) -> Personas:
    """Cluster respondents on their standardised experience ratings (complete cases).

    k in k_min..k_max maximises the mean silhouette (``criterion="silhouette"``, KMeans) or
    minimises the BIC of a Gaussian mixture (``"bic"``; labels then still come from KMeans so
    that seeds are comparable). Persona numbers are ordered by NPS (persona 1 = lowest).
    `cluster` names a column (e.g. account_id) for clustered SEs of persona NPS.

    ``options.sample``: with more complete rows than this, k, the seeds' stability and the
    persona centres come from a stratified subsample of that size (subsample.subsample: by
    wave, whole clusters); every complete row is then assigned to its nearest centre, so
    shares, profiles and persona NPS describe all respondents. ``sample_note`` says which was
    done. `measure`: the headline measure whose statistic each persona is described (and
    ordered) by, when it is not the LTR (a satisfaction or effort programme); the table's
    ``estimate`` column then holds it instead of ``nps``.
    """
    import sklearn.cluster  # noqa: F401  load the OpenMP runtime first: limits only reach loaded libraries
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small problems: BLAS/OpenMP threads only oversubscribe the CPU
        return _find_personas(df, list(items), cluster, options or PersonaOptions(), measure)


def _find_personas(df: pd.DataFrame, items: list[str], cluster: str | None,
                   o: PersonaOptions, measure: Measure | None) -> Personas:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    key = measure.key if measure is not None else "ltr"
    require_columns(df, [*items, key], "responses")
    df = df[[*dict.fromkeys([*items, key, *[c for c in ("wave", cluster) if c and c in df]])]]
    if cluster and cluster in df:  # clusters as numbers (same codes), their texts hashed once
        codes = pd.factorize(df[cluster])[0]
        df = df.assign(**{cluster: np.where(codes >= 0, codes, np.nan)})
    data = df[list(items)].apply(pd.to_numeric, errors="coerce").astype(float)
    ok = data.notna().all(axis=1)
    x = data[ok].to_numpy()
    if len(x) < 5 * o.k_max:
        raise ThinData(f"{len(x)} complete rows for {len(items)} items", column=", ".join(items),
                       expected=f"at least {5 * o.k_max} rows to cluster k up to {o.k_max}")
    mu, sd = x.mean(axis=0), x.std(axis=0, ddof=1)
    sd[sd == 0] = 1.0
    z = (x - mu) / sd
    seed = int(o.seeds[0]) if len(o.seeds) else 0
    fit = subsample(df.loc[ok.to_numpy(), [c for c in ("wave", cluster) if c and c in df]],
                    o.sample or len(z), strata=("wave",), cluster=cluster, seed=seed)
    zf = z[fit.positions] if fit.sampled else z
    selection, fitted = _choose_k(zf, o, seed)
    k = int(selection.loc[selection["chosen"], "k"].iloc[0])
    runs = {int(s): fitted[k] if int(s) == seed and k in fitted else
            KMeans(k, n_init=4, random_state=int(s)).fit(zf) for s in o.seeds}
    stability = pd.DataFrame(
        [{"seed_a": a, "seed_b": b, "ari": adjusted_rand_score(runs[a].labels_, runs[b].labels_)}
         for a, b in combinations(runs, 2)])
    first = runs[seed]
    raw = first.predict(z) if fit.sampled else first.labels_
    score = (nps_points(df.loc[ok, "ltr"]).to_numpy() if measure is None else
             measure.values(df.loc[ok, key], measure.headline))
    order = pd.Series(score).groupby(raw).mean().sort_values(kind="stable").index
    relabel = np.zeros(int(raw.max()) + 1, dtype=np.int64)
    relabel[order.to_numpy()] = np.arange(1, len(order) + 1)
    lab = relabel[raw]
    labels = pd.Series(np.nan, index=df.index, name="persona")
    labels[ok] = lab
    profile = pd.DataFrame(z, columns=list(items)).groupby(lab).mean()
    profile.index.name = "persona"
    table = _persona_nps(df, labels, profile, cluster, o.top_items, measure)
    note = ("k-means fitted on " + fit.note("complete responses")
            + ("; every complete response assigned to its nearest persona" if fit.sampled else ""))
    return Personas(k=k, criterion=o.criterion, selection=selection, stability=stability,
                    labels=labels, profile=profile, table=table, sample_note=note)


def _choose_k(z: np.ndarray, o: PersonaOptions, seed: int) -> tuple[pd.DataFrame, dict[int, Any]]:
    """k and its criterion for each candidate k (mean silhouette of KMeans, or GMM BIC), with
    ``chosen`` marking the best (highest silhouette, lowest BIC); and the KMeans fitted with
    `seed` per k (silhouette), the very fit of that seed at the chosen k."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    ks = list(range(o.k_min, o.k_max + 1))
    criterion = o.criterion
    fitted: dict[int, Any] = {}
    if criterion == "silhouette":
        fitted = {k: KMeans(k, n_init=4, random_state=seed).fit(z) for k in ks}
        values = _silhouettes(z, [fitted[k].labels_ for k in ks], o.silhouette_sample, seed)
    else:
        values = [GaussianMixture(k, random_state=seed, n_init=2).fit(z).bic(z) for k in ks]
    selection = pd.DataFrame([{"k": k, criterion: float(v)} for k, v in zip(ks, values, strict=True)])
    best = selection[criterion].idxmax() if criterion == "silhouette" else selection[criterion].idxmin()
    selection["chosen"] = selection.index == best
    return selection, fitted


def _silhouettes(z: np.ndarray, labelings: list[np.ndarray], sample: int, seed: int) -> list[float]:
    """``silhouette_score(z, labels, sample_size=sample, random_state=seed)`` of each labeling,
    from one pass over the sampled rows' distances in the chunks silhouette_score computes, the
    distances to each cluster summed in the same order (a bincount per block of rows, not per
    row), and no distance matrix kept."""
    from sklearn.metrics import pairwise_distances_chunked

    picked = np.random.RandomState(seed).permutation(len(z))[:min(sample, len(z))]
    n = len(picked)
    coded = [np.unique(lab[picked], return_inverse=True)[1] for lab in labelings]
    freqs = [np.bincount(c) for c in coded]
    if any(not 1 < len(f) < n for f in freqs):
        raise ValueError(f"Number of labels is invalid: {[len(f) for f in freqs]}. Valid values "
                         f"are 2 to n_samples - 1 (inclusive) = {n - 1}")
    intra, inter = np.empty((len(coded), n)), np.empty((len(coded), n))
    start = 0
    for chunk in pairwise_distances_chunked(z[picked]):
        for row in range(0, len(chunk), 256):
            block = chunk[row:row + 256]
            at = slice(start + row, start + row + len(block))
            for j, (labels, f) in enumerate(zip(coded, freqs, strict=True)):
                intra[j, at], inter[j, at] = _cluster_distances(block, labels, f, labels[at])
        start += len(chunk)
    out = []
    for a, b, labels, f in zip(intra, inter, coded, freqs, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            a = a / (f - 1).take(labels, mode="clip")
            s = (b - a) / np.maximum(a, b)
        out.append(float(np.mean(np.nan_to_num(s))))  # NaN: clusters of one, silhouette 0
    return out


def _cluster_distances(block: np.ndarray, labels: np.ndarray, freqs: np.ndarray,
                       own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's summed distance to its own cluster and mean distance to the nearest other one
    (sklearn's ``_silhouette_reduce``; rows of `block` with cluster labels `own`)."""
    k = len(freqs)
    bins = (np.arange(len(block))[:, None] * k + labels[None, :]).ravel()
    sums: np.ndarray = np.bincount(bins, weights=block.ravel(), minlength=len(block) * k).reshape(-1, k)
    mine = (np.arange(len(block)), own)
    within = sums[mine]
    sums[mine] = np.inf
    sums /= freqs
    return within, sums.min(axis=1)


def _persona_nps(df: pd.DataFrame, labels: pd.Series, profile: pd.DataFrame, cluster: str | None,
                 top_items: int, measure: Measure | None = None) -> pd.DataFrame:
    """One row per persona: share of respondents, most distinctive items (z), NPS with CI (each
    persona a domain of the design of all respondents)."""
    design = Design.from_frame(df, cluster=cluster) if cluster else None
    recs = []
    for p in profile.index:
        inside = (labels == p).to_numpy()
        res = (estimators.nps(df["ltr"], design=design, domain=inside) if measure is None else
               headline.estimate(measure, measure.headline, df[measure.key], design=design,
                                 domain=inside))
        zs = profile.loc[p].sort_values(key=np.abs, ascending=False).head(top_items)
        recs.append({"persona": int(p), "share": float((labels == p).sum() / labels.notna().sum()),
                     "distinctive": ", ".join(f"{i} {v:+.1f}" for i, v in zs.items()),
                     **result_row(res)})
    return pd.DataFrame(recs).rename(columns={"estimate": "nps"} if measure is None else {})


def persona_table(personas: Mapping[str, Personas]) -> pd.DataFrame:
    """Persona tables of several markets stacked, with a chart `label` "B2B persona 1 (items)"
    and each market's k, criterion and seed-stability ARI repeated per row."""
    parts = [p.table.assign(market=m, k=p.k, criterion=p.criterion, ari_mean=p.ari_mean,
                            ari_min=p.ari_min) for m, p in personas.items()]
    out = pd.concat(parts, ignore_index=True)
    out["label"] = (out["market"] + " persona " + out["persona"].astype(str) + " ("
                    + (100 * out["share"]).round(0).astype(int).astype(str) + "%): "
                    + out["distinctive"])
    return out[["market", "persona", "label", *[c for c in out if c not in
                                                ("market", "persona", "label")]]]
