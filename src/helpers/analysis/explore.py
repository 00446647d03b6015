"""Ask your own questions of a study in one line each, with the reports' own designs (R survey's
``svymean`` / ``svyby`` / ``svycontrast`` for this programme).

>>> study = explore.open_study()                       # what config/params.yaml points at
>>> b2b = study.market("B2B", "reported")              # rows and Design of one market
>>> explore.estimate(b2b, "nps", by="region")          # = the report's segment rows
>>> explore.estimate(study.market("B2C", "latest"), "csat_top2", domain="age_band == '18-34'")
>>> explore.change(study, "B2B", "nps")                # previous -> reported wave, as reported
>>> explore.contrast(b2b, "nps", "role", "decision_maker", "all")
>>> explore.drivers(study, "B2C", k=3)                 # = the drivers report's ranking
>>> explore.quantile(b2b, "ltr", 0.5, by="region")     # median LTR (R svyquantile), or
>>> b2b.estimate("median ltr")                         # the same as a statistic
>>> explore.association(b2b, "region")                 # NPS category x region (R svychisq)

Every table has the same columns: the `by` fields, ``statistic``, ``label``, ``estimate``,
``se``, ``ci_low``, ``ci_high``, ``df``, ``n``, ``deff``, ``n_eff``, ``ci_method`` and
``design``. A statistic is named by its key in the survey's measures (``nps``, ``ces_agree``,
``csat_top2``, ``ces_mean``...: :attr:`helpers.ingest.schema.Schema.measures`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from helpers import config, inputs
from helpers.analysis import headline, importance, segments, selection
from helpers.analysis.modelling import Bootstrap
from helpers.analysis.selection import MarketData, Study
from helpers.errors import ArgumentError, ThinData
from helpers.measures import Measure, Statistic, find_statistic
from helpers.stats import compare, estimators, quantiles, tests
from helpers.stats.arrays import t_sf, t_value
from helpers.stats.intervals import method_note
from helpers.stats.replicates import is_replicate, replicate_vcov

#: How each kind of statistic's 95% interval is made by default (named in every table).
CI_METHODS = {"nps": method_note("t"), "share": method_note("logit"), "mean": method_note("t"),
              "quantile": "Woodruff, t with the design df (R svyquantile, qrule 'math')"}
COLUMNS = ["statistic", "label", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff",
           "n_eff", "ci_method", "design"]


def open_study(params: str | os.PathLike[str] | None = None, *, wave: str | None = None) -> Study:
    """The study the reports analyse, opened as notebook 02 opens it: the responses, schema,
    analysis settings, optional inputs and reported wave of `params` (default
    config/params.yaml, or ``$CX_PARAMS``); `wave` chooses another reported wave."""
    p = config.notebook_params("02_segments", params or os.environ.get(config.PARAMS_ENV)
                               or "config/params.yaml")
    return selection.load(p["responses_path"], p["schema_path"], p["segments_config"],
                          wave=p.get("wave", "") if wave is None else wave,
                          inputs=inputs.from_parameters(p))


def drivers(study: Study, market: str, k: int = 3,
            params: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The `k` experiences that move the headline measure (likelihood to recommend) most in
    `market`, ranked exactly as the drivers report ranks them: Shapley / LMG shares of R² on
    the waves, bootstrap resamples and seed of notebook 03's parameters (`params`, default
    config/params.yaml)."""
    p = config.notebook_params("03_promoter_drivers", params or os.environ.get(config.PARAMS_ENV)
                               or "config/params.yaml")
    sel = study.market(market, p.get("waves", ""))
    items = [i for i in study.schema.driver_items(market) if sel.rows[i].notna().any()]
    imp = importance.shapley_importance(sel.rows, study.headline.key, items, bootstrap=Bootstrap(
        int(p["n_boot"]), seed=int(p["seed"])), **sel.columns)
    return importance.ranked_table({market: imp}, study.schema.driver_labels()).head(k)


def _statistic(market: MarketData, key: str) -> tuple[Measure, Statistic]:
    return find_statistic(market.measures, key)


def _domain_mask(rows: pd.DataFrame, domain: str | np.ndarray | pd.Series | None) -> np.ndarray | None:
    """A domain as a boolean mask over `rows`: a pandas query expression or a mask."""
    if domain is None:
        return None
    if isinstance(domain, str):
        try:
            mask = rows.eval(domain)
        except Exception as exc:  # noqa: BLE001  any pandas parse/name error is a wrong call
            raise ArgumentError(f"domain {domain!r} is not an expression over the columns: {exc}") from None
    else:
        mask = domain
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (len(rows),):
        raise ArgumentError(f"domain has {mask.size} values for {len(rows)} rows")
    return mask


def _row(stat: Statistic, res: Any, design: str) -> dict[str, Any]:
    return {"statistic": stat.key, "label": stat.label, **segments.result_row(res),
            "ci_method": method_note(res.ci_method), "design": design}


def estimate(market: MarketData, statistic: str = "nps", by: str | Sequence[str] | None = None,
             *, domain: str | np.ndarray | pd.Series | None = None) -> pd.DataFrame:
    """`statistic` of `market`'s rows, overall or for every group of `by`, within `domain` (a
    query expression such as ``"role == 'decision_maker'"`` or a mask); every group and the
    domain are domains of the market's design (R ``svyby(~y, ~by, subset(design, domain))``),
    never row subsets. NPS by a field is the reports' own segment table
    (:func:`helpers.analysis.segments.nps_by`). ``"median <column>"`` is :func:`quantile`."""
    if statistic.startswith("median "):
        return quantile(market, statistic.removeprefix("median ").strip(), 0.5, by, domain=domain)
    measure, stat = _statistic(market, statistic)
    rows, mask = market.rows, _domain_mask(market.rows, domain)
    note = market.design_note
    if by is None:
        res = headline.estimate(measure, stat, rows[measure.key], design=market.design, domain=mask)
        return pd.DataFrame([_row(stat, res, note)], columns=COLUMNS)
    by_cols = [by] if isinstance(by, str) else list(by)
    if stat.kind == "nps":
        d = rows if mask is None else rows.assign(**{c: rows[c].where(mask) for c in by_cols})
        t = segments.nps_by(d, by_cols, design=market.design, min_n=0, max_halfwidth=np.inf)
        t = t.rename(columns={"nps": "estimate"}).assign(
            statistic=stat.key, label=stat.label, ci_method=CI_METHODS["nps"], design=note)
        return t[[*by_cols, *COLUMNS, "pct_promoter", "pct_passive", "pct_detractor", "note"]]
    groups = rows[by_cols].astype("string").agg(" | ".join, axis=1) if len(by_cols) > 1 else rows[by_cols[0]]
    out = []
    for key in sorted(groups.dropna().unique(), key=str):
        inside = (groups == key).fillna(False).to_numpy(bool) & (True if mask is None else mask)
        try:
            res = headline.estimate(measure, stat, rows[measure.key], design=market.design,
                                    domain=inside)
        except ThinData:
            continue
        first = rows.loc[inside, by_cols].iloc[0]
        out.append({**first.to_dict(), **_row(stat, res, note)})
    return pd.DataFrame(out, columns=[*by_cols, *COLUMNS])


def change(study: Study, market: str, statistic: str = "nps",
           waves: tuple[str, str] = ("previous", "reported")) -> pd.DataFrame:
    """The change of `statistic` between two waves as the reports measure it: B2B on the
    accounts that answered in both waves (paired), B2C as two domains of the weighted design of
    both waves. Not the difference of the two waves' headline values when paired (other
    accounts answered in each wave); ``note`` gives both so the difference is explained."""
    pair = tuple(w for name in waves for w in (study.named_waves().get(name) or [name]))
    if len(pair) != 2:
        raise ArgumentError(f"waves {waves!r}: expected two waves")
    sel = study.market(market, list(pair))
    measure, stat = _statistic(sel, statistic)
    values = measure.values(sel.rows[measure.key], stat)
    r, test = headline.change_of(study, market, sel.rows, values, (pair[0], pair[1]))
    levels = [estimate(study.market(market, [w]), statistic).iloc[0] for w in pair]
    plain = levels[1]["estimate"] - levels[0]["estimate"]
    note = (f"the two waves' own figures are {levels[0]['estimate']:.1f} and "
            f"{levels[1]['estimate']:.1f} (difference {plain:+.1f})"
            + ("; the change is measured on the units that answered in both" if "paired" in test
               else ""))
    return pd.DataFrame([{"market": market, "statistic": stat.key, "label": stat.label,
                          "wave_from": pair[0], "wave_to": pair[1], "change": r.estimate,
                          "se": r.se, "ci_low": r.ci[0], "ci_high": r.ci[1], "df": r.df,
                          "p_value": r.p, "n_from": r.n_a, "n_to": r.n_b, "test": test,
                          "note": note}])


def contrast(market: MarketData, statistic: str, field: str, a: str, b: str = "rest"
             ) -> pd.DataFrame:
    """`statistic` of group `a` of `field` minus that of `b`: another group (R
    ``svycontrast`` on ``svyby(covmat = TRUE)``), ``"rest"`` (every other row) or ``"all"``
    (the whole market, which contains `a`: the covariance of the overlap is included)."""
    measure, stat = _statistic(market, statistic)
    rows = market.rows
    labels = rows[field].astype("string")
    if not (labels == a).any():
        raise ArgumentError(f"{field} has no group {a!r}; found {sorted(labels.dropna().unique())}")
    y = pd.Series(measure.values(rows[measure.key], stat), index=rows.index)
    if b == "all":
        r = _against_total(market.design, y.to_numpy(float), (labels == a).fillna(False).to_numpy(bool))
        return _contrast_table(stat, field, (a, b), r, market.design_note)
    group = labels.where(labels == a, "rest" if b == "rest" else labels.where(labels == b))
    t = estimators.survey_by(rows.assign(_y=y, _g=group), "_y", "_g", design=market.design,
                             covmat=True)
    pos = {str(k): i for i, k in enumerate(t["_g"])}
    if b not in pos:
        raise ArgumentError(f"{field} has no group {b!r} with answers")
    r = compare.contrast(t, pos[b], pos[a], metric="mean")
    return _contrast_table(stat, field, (a, b), r, market.design_note)


def _against_total(design: Any, v: np.ndarray, inside: np.ndarray) -> compare.DiffResult:
    """Mean of the domain `inside` minus the mean of all rows, linearised jointly (the domain
    is part of the total): influence z = z_domain - z_total, its variance from the design. On
    a replicate design the difference is recomputed with each replicate's weights (R
    ``withReplicates``), on the design's df (R ``degf``)."""
    ok = ~np.isnan(v)
    y = np.nan_to_num(v)
    if is_replicate(design):
        def differences(weights: np.ndarray) -> np.ndarray:
            wo, wd = weights * ok[:, None], weights * (ok & inside)[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                return (y @ wd / wd.sum(axis=0) - y @ wo / wo.sum(axis=0))[:, None]

        diff = float(differences(design.w[:, None])[0, 0])
        var = replicate_vcov(design, estimate_many=differences, theta=np.array([diff]))[0, 0]
        se, df = float(np.sqrt(var)), design.degf
    else:
        w = np.where(ok, design.w, 0.0)
        wd = np.where(inside, w, 0.0)
        mu, mu_d = (w * y).sum() / w.sum(), (wd * y).sum() / wd.sum()
        z = wd * (y - mu_d) / wd.sum() - w * (y - mu) / w.sum()
        lin = design.variance(z)
        se, df, diff = float(np.sqrt(lin.var[0])), float(lin.df[0]), float(mu_d - mu)
    q = float(t_value(0.95, df))
    t_stat = diff / se if se > 0 else float("nan")
    p = float(2 * t_sf(abs(t_stat), df)) if df >= 1 and np.isfinite(t_stat) else np.nan
    return compare.DiffResult(diff, se, (diff - q * se, diff + q * se), t_stat, p,
                              int(ok.sum()), int((ok & inside).sum()), "mean", 0.95, None, df)


def _contrast_table(stat: Statistic, field: str, pair: tuple[str, str], r: compare.DiffResult,
                    design: str) -> pd.DataFrame:
    return pd.DataFrame([{"statistic": stat.key, "label": stat.label, "field": field,
                          "group": pair[0], "versus": pair[1], "difference": r.estimate,
                          "se": r.se, "ci_low": r.ci[0], "ci_high": r.ci[1], "df": r.df,
                          "p_value": r.p, "design": design}])


def _groups(rows: pd.DataFrame, by: str | Sequence[str] | None) -> tuple[list[str], pd.Series]:
    """The `by` columns and each row's group label (one group, "all", without `by`)."""
    if by is None:
        return [], pd.Series("all", index=rows.index, dtype="string")
    by_cols = [by] if isinstance(by, str) else list(by)
    if len(by_cols) > 1:
        return by_cols, rows[by_cols].astype("string").agg(" | ".join, axis=1)
    return by_cols, rows[by_cols[0]]


def quantile(market: MarketData, column: str, p: float = 0.5,
             by: str | Sequence[str] | None = None, *,
             domain: str | np.ndarray | pd.Series | None = None) -> pd.DataFrame:
    """The `p` quantile (default the median) of any numeric `column` (LTR, effort, response
    time...) of `market`, overall or for every group of `by`, within `domain`: R
    ``svyquantile(~column, design, p)`` with its default rule and Woodruff interval, every
    group a domain of the market's design. Same columns as :func:`estimate` (``deff`` and
    ``n_eff`` NaN)."""
    rows, mask = market.rows, _domain_mask(market.rows, domain)
    if column not in rows:
        raise ArgumentError(f"no column {column!r} in the {market.market} rows")
    values = pd.to_numeric(rows[column], errors="coerce")
    label = next((m.name for m in market.measures if m.key == column), column)
    name = "median" if p == 0.5 else f"p{100 * p:g}"
    by_cols, groups = _groups(rows, by)
    out = []
    for key in sorted(groups.dropna().unique(), key=str):
        inside = (groups == key).fillna(False).to_numpy(bool) & (True if mask is None else mask)
        try:
            r = quantiles.survey_quantile(values, market.design, [p], domain=inside)[0]
        except ThinData:
            continue
        first = rows.loc[inside, by_cols].iloc[0].to_dict() if by_cols else {}
        out.append({**first, "statistic": f"{name} {column}", "label": f"{label} ({name})",
                    "estimate": r.estimate, "se": r.se, "ci_low": r.ci[0], "ci_high": r.ci[1],
                    "df": r.df, "n": r.n, "deff": np.nan, "n_eff": np.nan,
                    "ci_method": CI_METHODS["quantile"], "design": market.design_note})
    return pd.DataFrame(out, columns=[*by_cols, *COLUMNS])


def association(market: MarketData, by: str, statistic: str = "nps") -> pd.DataFrame:
    """Do the answer categories of `statistic` (NPS: detractor / passive / promoter; a share:
    in or out of its cut) differ between the groups of `by`? The Rao-Scott test on the
    market's design (R ``svychisq(~category + by, design)``, F with second-order df): one row
    with the F statistic, its df, p-value, Pearson's X^2 of the weighted table and the mean
    design effect."""
    measure, stat = _statistic(market, statistic)
    if stat.kind == "mean":
        raise ArgumentError(f"{statistic} is a mean: association needs categories (NPS or a share)")
    rows = market.rows
    if by not in rows:
        raise ArgumentError(f"no column {by!r} in the {market.market} rows")
    v = measure.values(rows[measure.key], stat)
    names = {100.0: "promoter", 0.0: "passive", -100.0: "detractor"} if stat.kind == "nps" \
        else {100.0: "in", 0.0: "out"}
    category = pd.Series(v, index=rows.index).map(names)
    r = tests.survey_chisq(category, rows[by], market.design)
    return pd.DataFrame([{"statistic": stat.key, "label": stat.label, "field": by,
                          "groups": len(r.cols), "f": r.statistic, "ndf": r.ndf, "ddf": r.ddf,
                          "p_value": r.p_value, "pearson_x2": r.pearson, "deff": r.deff,
                          "method": "Rao-Scott F (R svychisq)", "design": market.design_note}])
