"""Score integrity: which reps (account teams) to look at, and why.

The checks of :mod:`helpers.analysis.integrity_checks` each compare one rep with their peers and
return per-rep evidence with the same columns. :func:`integrity_index` combines them: a rep is
flagged when checks from at least ``min_families`` independent families fail after FDR control;
``score`` is a weighted sum of the one-sided z-scores and ranks the audit list; ``reasons`` says
why in plain words. A flag is a reason to look, not proof.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import catalog, paths
from helpers.analysis import disclosure, headline
from helpers.analysis.integrity_checks import (
    headline_scores,
    keys_evidence,
    ltr_residual_evidence,
    score_share_evidence,
    timing_evidence,
    tone_evidence,
    top_share_evidence,
)
from helpers.errors import ThinData, require_columns
from helpers.measures import Measure
from helpers.stats import compare, estimators
from helpers.stats.arrays import chi2_sf
from helpers.stats.design import Design

#: Default weight of each family in the integrity score.
DEFAULT_WEIGHTS: dict[str, float] = {
    "distribution": 1.0, "ratings": 1.5, "tone": 1.0, "timing": 0.75, "keys": 0.75,
    "concessions": 1.0,
}


@dataclass(frozen=True)
class Thresholds:
    """When a response counts as suspicious in the timing and tone checks: within `touch_days`
    of a rep touchpoint, within `close_days` of the deal close, in the last `quarter_end_days`
    of a calendar quarter; a 9-10 whose comment tone is below `negative_tone` (-1..1)."""

    touch_days: float = 2.0
    close_days: float = 30.0
    quarter_end_days: int = 14
    negative_tone: float = -0.2


DEFAULT_THRESHOLDS = Thresholds()


def evidence(
    responses: pd.DataFrame,
    items: Sequence[str],
    alpha: float = 0.05,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    leave_rep_out: bool = True,
    measure: Measure | None = None,
) -> pd.DataFrame:
    """All checks on one market's responses, stacked (one row per rep and check).

    `measure`: the headline of a programme without the LTR (its schema's ``headline:``); the
    checks that use the score run on its answers (:func:`_headline_checks`) and the NPS-only
    "share of 10s" is left out.

    `responses` are every row of the market, excluded ones too
    (``selection.Study.market(m, included=False).rows``): score, ratings, tone and timing checks
    use the analysis rows (``include``); the repeated-key check uses every row except
    test/preview responses, because duplicate submissions that cleaning removed are themselves
    evidence.
    """
    require_columns(responses, ["rep_id"], "responses", "the integrity check")
    has_rep = responses["rep_id"].notna().to_numpy()  # rows are picked once: no copy of them all
    if not has_rep.any():
        raise ThinData("no responses with a rep_id", file="responses", column="rep_id",
                       expected="B2B responses owned by an account team")
    read = [c for c in dict.fromkeys(["rep_id", "account_id", "ltr", *items, "comment", "submitted_at",
                                      "last_rep_touch_at", "deal_close_date",
                                      *([measure.key] if measure is not None else [])])
            if c in responses]
    inc = responses.loc[has_rep & responses["include"].astype(bool).to_numpy()
                        if "include" in responses else has_rep, read]  # the columns the checks read
    # reps as categories: the checks look a rep up by its code, not its text (one pass here
    # instead of one per check); a cluster is only compared with others: its code will do
    inc = inc.assign(rep_id=pd.Categorical(inc["rep_id"]))
    if "account_id" in inc:
        inc = inc.assign(account_id=pd.factorize(inc["account_id"], use_na_sentinel=False)[0])
    top = None
    if measure is None or measure.headline.kind == "nps":
        parts = [
            score_share_evidence(inc, 10, alpha=alpha),
            score_share_evidence(inc, 9, alpha=alpha),
            ltr_residual_evidence(inc, items, leave_rep_out=leave_rep_out, alpha=alpha),
        ]
    else:
        inc, parts, top = _headline_checks(inc, items, measure, alpha, leave_rep_out)
    if "comment" in inc and inc["comment"].notna().any():
        parts.append(tone_evidence(inc, negative=thresholds.negative_tone, alpha=alpha, top=top))
    if "submitted_at" in inc and inc["submitted_at"].notna().any():
        parts.append(timing_evidence(inc, touch_days=thresholds.touch_days,
                                     close_days=thresholds.close_days,
                                     quarter_end_days=thresholds.quarter_end_days, alpha=alpha))
    if {"ip_key", "contact_key", "wave"} <= set(responses.columns):
        rows = has_rep & ~responses["flag_test"].astype(bool).to_numpy() if "flag_test" in responses else has_rep
        read = [c for c in ("rep_id", "ip_key", "contact_key", "wave", "account_id") if c in responses]
        keyed = responses.loc[rows, read]  # the columns it reads
        parts.append(keys_evidence(keyed.assign(rep_id=pd.Categorical(keyed["rep_id"])), alpha=alpha))
    return pd.concat(parts, ignore_index=True)


def _headline_checks(inc: pd.DataFrame, items: Sequence[str], measure: Measure, alpha: float,
                     leave_rep_out: bool) -> tuple[pd.DataFrame, list[pd.DataFrame], pd.Series]:
    """The score checks of a programme without the LTR: top-box share and the residual on the
    headline's answers (higher is better); the top answers for the tone check."""
    scored = headline_scores(inc, measure)
    answers = pd.to_numeric(inc[measure.key], errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore"):
        top = (measure.in_share(answers) if measure.cut is not None
               else answers == (measure.scale[1] if measure.higher_is_better else measure.scale[0]))
    parts = [top_share_evidence(inc, measure, alpha=alpha)] if measure.cut is not None else []
    parts.append(ltr_residual_evidence(scored, items, leave_rep_out=leave_rep_out, alpha=alpha))
    return scored, parts, pd.Series(top & ~np.isnan(answers), index=inc.index)


# --- index, audit list, outputs -----------------------------------------------------------------

def integrity_index(
    ev: pd.DataFrame,
    min_families: int = 2,
    weights: Mapping[str, float] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Combine the evidence into one ranked row per rep.

    Evidence is counted per family (checks of one family, e.g. share of 10s and of 9-10s, use
    the same data and count once). A rep is flagged when at least `min_families` families agree,
    in either of two ways:

    - *strong*: a check of each family fails on its own (BH q-value below `alpha`);
    - *consistent*: each family points the same way at the nominal level (family p-value, the
      smallest check p-value times the checks in the family (Bonferroni), below `alpha`) and the
      families together are significant: Fisher's combination -2 Σ ln p_family ~ χ²(2F),
      BH-adjusted across reps (``q_combined``) below `alpha`. This catches a small rep whose
      every kind of evidence is moderately off, while a rep whose customers are simply happy
      (one very strong family, nothing else) is not flagged.

    ``score`` = Σ_family w · max(0, z) with z the largest one-sided z-score of the family (weights
    :data:`DEFAULT_WEIGHTS`); it ranks the list.

    Returns
    -------
    Frame sorted flagged first then by score: rep_id, rank, flagged, score, families_failed,
    families_nominal, q_combined, checks_failed, n (responses in the score checks), reasons, and
    one q-value column per check.
    """
    require_columns(ev, ["rep_id", "check", "family", "p", "z", "q", "fail", "reason"], "evidence table", "the integrity index")
    fam = _family_evidence(ev, {**DEFAULT_WEIGHTS, **(weights or {})}, alpha)
    per = _rep_evidence(ev, fam)
    strong = per["families_failed"] >= min_families
    consistent = (per["q_combined"] < alpha) & (per["families_nominal"] >= min_families)
    per["flagged"] = strong | consistent
    per["reasons"] = _reasons(ev, fam, per, strong, consistent, alpha)
    qs = ev.pivot_table(index="rep_id", columns="check", values="q", aggfunc="first")
    qs.columns = [f"q_{c}" for c in qs.columns]
    per = per.drop(columns=["lnp", "n_families", "p_combined"]).join(qs).reset_index()
    per["score"] = per["score"].round(3)
    per["q_combined"] = per["q_combined"].round(6)
    per = per.sort_values(["flagged", "score", "rep_id"], ascending=[False, False, True],
                          ignore_index=True)
    per.insert(1, "rank", np.arange(1, len(per) + 1))
    first = ["rep_id", "rank", "flagged", "score", "families_failed", "families_nominal",
             "q_combined", "checks_failed", "n", "reasons"]
    return per[first + [c for c in per.columns if c not in first]]


def _family_evidence(ev: pd.DataFrame, w: Mapping[str, float], alpha: float) -> pd.DataFrame:
    """One row per rep and family: largest z, any failure, Bonferroni family p-value, weighted z."""
    fam = (ev.assign(zpos=ev["z"].clip(lower=0))
           .groupby(["rep_id", "family"])
           .agg(z=("zpos", "max"), fail=("fail", "any"), p=("p", "min"), m=("p", "size"))
           .reset_index())
    fam["p_family"] = (fam["p"] * fam["m"]).clip(upper=1.0)
    fam["wz"] = fam["z"] * fam["family"].map(w).fillna(1.0)
    fam["nominal"] = fam["p_family"] < alpha
    fam["lnp"] = np.log(fam["p_family"].clip(lower=1e-300))
    return fam


def _rep_evidence(ev: pd.DataFrame, fam: pd.DataFrame) -> pd.DataFrame:
    """One row per rep: score, families failed and nominal, Fisher's combination across the
    families (p_combined, BH ``q_combined``), checks failed and n."""
    per = fam.groupby("rep_id").agg(score=("wz", "sum"), families_failed=("fail", "sum"),
                                    families_nominal=("nominal", "sum"), lnp=("lnp", "sum"),
                                    n_families=("family", "size"))
    per["p_combined"] = chi2_sf(-2 * per["lnp"], 2 * per["n_families"])
    per["q_combined"] = compare.bh_adjust(per["p_combined"].to_numpy(float))[
        "p_adjusted"].to_numpy(float)
    per["checks_failed"] = ev.groupby("rep_id")["fail"].sum()
    n_col = ev.loc[ev["check"] == "share_9_10"].set_index("rep_id")["n"]
    per["n"] = n_col.reindex(per.index).fillna(ev.groupby("rep_id")["n"].max()).astype(int)
    return per


def _reasons(ev: pd.DataFrame, fam: pd.DataFrame, per: pd.DataFrame, strong: pd.Series,
             consistent: pd.Series, alpha: float) -> pd.Series:
    """Plain-words reasons per rep: the failing checks, or the consistent nominal evidence."""
    ordered = ev.sort_values(["rep_id", "z"], ascending=[True, False])
    failing = ordered.loc[ordered["fail"]].groupby("rep_id")["reason"].agg("; ".join)
    nominal_fams = fam.loc[fam["nominal"], ["rep_id", "family"]]
    best = (ordered.merge(nominal_fams, on=["rep_id", "family"])
            .drop_duplicates(["rep_id", "family"]).groupby("rep_id")["reason"].agg("; ".join))
    out = failing.reindex(per.index).fillna("no check failed after FDR control")
    only_consistent = consistent & ~strong
    out[only_consistent] = [
        f"{int(per.loc[r, 'families_nominal'])} kinds of evidence point the same way (each "
        f"p<{alpha:g}, together q={per.loc[r, 'q_combined']:.3f}): " + best.get(r, "")
        for r in per.index[only_consistent]
    ]
    single = ~(strong | consistent) & (per["families_failed"] > 0)
    out[single] = "only one kind of evidence (not flagged): " + out[single]
    return out


def pseudonyms(rep_ids: Sequence[str]) -> dict[str, str]:
    """Map rep ids, in the order given, to "Rep A", "Rep B", ..., "Rep Z", "Rep AA", ...

    Given the ranked audit list the names are stable within a run; leadership never sees an id.
    """
    letters = string.ascii_uppercase

    def name(i: int) -> str:
        s = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            s = letters[r] + s
        return f"Rep {s}"

    out: dict[str, str] = {}
    for r in rep_ids:
        if r not in out:
            out[r] = name(len(out))
    return out


def write_flags(audit: pd.DataFrame, run_dir: str | os.PathLike[str]) -> Path:
    """Write the analyst's audit list (with rep ids) to ``<run_dir>/integrity_flags.csv``."""
    require_columns(audit, ["rep_id", "flagged", "score", "reasons"], "audit list")
    target = paths.resolve(run_dir) / "integrity_flags.csv"
    catalog.atomic_write_table(audit.drop(columns=["pseudonym"], errors="ignore"), target)
    return target


def with_without(
    df: pd.DataFrame, flagged: Iterable[str], measure: Measure | None = None,
    rep: str = "rep_id", cluster: str = "account_id",
) -> pd.DataFrame:
    """The headline statistic with and without the flagged reps' responses, account-clustered
    CIs: NPS of the LTR, or `measure`'s headline statistic in a programme without the LTR (CSAT
    % top-2 box, CES % agree, a mean), each as :func:`helpers.analysis.headline.estimate` makes it.

    Design-based SE clustered by account, R's interval on the design df; "without flagged reps"
    is a domain of the design of all responses (R ``subset(design, ...)``), so accounts served by
    a flagged rep stay PSUs. Leadership sees how much the flagged responses move the number.

    Returns
    -------
    Frame with rows "all responses" and "without flagged reps" and columns label, estimate, se,
    ci_low, ci_high, df, n, reps; ``attrs["statistic"]`` describes the statistic.
    """
    nps = measure is None or measure.headline.kind == "nps"
    key = "ltr" if measure is None else measure.key
    require_columns(df, [key, rep, cluster], "responses",
                    "the headline with and without flagged reps")
    flagged = set(flagged)
    d = df.loc[df[key].notna()]
    design = Design.from_frame(d, cluster=cluster)   # a response without an account: own PSU
    rows, method = [], ""
    for label, keep in (("all responses", np.ones(len(d), dtype=bool)),
                        ("without flagged reps", ~d[rep].isin(flagged).to_numpy())):
        if not keep.any():
            raise ThinData("no responses left after removing the flagged reps", column=rep)
        res = (estimators.nps(d[key], design=design, domain=keep) if nps or measure is None else
               headline.estimate(measure, measure.headline, d[key], design=design, domain=keep))
        method = res.ci_method
        rows.append({"label": label, "estimate": float(res.estimate), "se": float(res.se),
                     "ci_low": float(res.ci[0]), "ci_high": float(res.ci[1]), "df": res.df,
                     "n": int(res.n), "reps": int(d.loc[keep, rep].nunique())})
    out = pd.DataFrame(rows)
    if not nps and measure is not None:
        out.attrs.update(statistic=measure.headline.describe(), ci_method=method)
    return out


def leadership_table(audit: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """The ranked audit list as leadership sees it: pseudonyms instead of rep ids.

    Columns: Rep, Flagged, Score, Kinds of evidence, Responses, Reasons (plain words). Counts
    follow :mod:`helpers.analysis.disclosure`: responses in bands of ten, no exact "k of n" in the
    reasons, and reps with fewer than ``min_n`` responses (the settings') left out
    (``attrs['suppressed']``), so a pseudonym cannot be matched to a rep id by a unique count on
    another page.
    """
    require_columns(audit, ["rep_id", "flagged", "score", "families_failed", "n", "reasons"], "audit list")
    min_n = disclosure.settings_min_n()
    shown = audit[~audit["n"].map(lambda n: disclosure.too_few(n, min_n))]
    out = pd.DataFrame({
        "Rep": shown["rep_id"].map(names), "Flagged": shown["flagged"].map({True: "yes",
                                                                             False: "no"}),
        "Score": shown["score"].round(1), "Kinds of evidence": shown["families_failed"],
        "Responses": shown["n"].map(disclosure.count_band),
        "Reasons": shown["reasons"].map(disclosure.coarsen_counts),
    }).reset_index(drop=True)
    out.attrs.update(suppressed=int(len(audit) - len(shown)), rule=disclosure.RULE)
    return out


def check_table(ev: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """q-value of every check (columns) per rep (rows, by pseudonym, in the order of `names`)."""
    require_columns(ev, ["rep_id", "check", "q"], "evidence table")
    table = ev.pivot_table(index="rep_id", columns="check", values="q", aggfunc="first").round(3)
    table = table.reindex([r for r in names if r in table.index])
    table.index = [names[r] for r in table.index]
    table.index.name = "Rep"
    table.columns.name = None
    return table


def headline_metrics(audit: pd.DataFrame, table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Metrics for the run folder: reps flagged, the headline with and without their responses
    (``nps_all`` / ``nps_without_flagged``, or ``<statistic>_all`` ... in a programme without
    the LTR, each naming its statistic)."""
    out: dict[str, dict[str, float]] = {
        "reps_flagged": {"estimate": int(audit["flagged"].sum()), "n": int(len(audit))},
    }
    stat = table.attrs.get("statistic")
    key = stat["key"] if stat else "nps"
    named = {"name": stat["name"], "unit": stat["unit"]} if stat else {}
    keys = {"all responses": f"{key}_all", "without flagged reps": f"{key}_without_flagged"}
    for r in table.itertuples():
        out[keys.get(r.label, r.label)] = {"estimate": round(r.estimate, 2), "se": round(r.se, 2),
                                           "ci_low": round(r.ci_low, 2),
                                           "ci_high": round(r.ci_high, 2), "n": int(r.n),
                                           **named}
    return out
