"""Quality rules of cleaning: each rule sets a flag, `include` is True when none fired.

Rows are never deleted; :data:`RULES` lists the flags in funnel order with the reason the
cleaning log gives for each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.errors import DataError
from helpers.ingest.schema import Schema

RULES: list[tuple[str, str]] = [  # flag column, plain-language reason (in funnel order)
    ("flag_test", "preview, test or spam response"),
    ("flag_duplicate", "duplicate submission (same contact and wave, same response id or identical row; latest complete kept)"),
    ("flag_speeder", "speeder (much faster than the median)"),
    ("flag_straightliner", "straightliner (same answer across a whole grid)"),
    ("flag_out_of_range", "value outside its scale"),
    ("flag_incomplete", "incomplete (no likelihood-to-recommend answer)"),
]


def flag(out: pd.DataFrame, sch: Schema, oor: np.ndarray, speeder_fraction: float | None,
          min_grid_items: int | None) -> None:
    """Set every quality flag, ``include`` and ``exclusion_reason`` (first rule that fired)."""
    q = sch.quality
    out["flag_test"] = _test_rows(out, q)
    out["flag_duplicate"] = _duplicate_rows(out, _duplicate_key(out, sch), oor, sch.headline)
    frac = float(speeder_fraction if speeder_fraction is not None else q["speeder_fraction"])
    if "duration_s" in out:
        med = out.loc[~out["flag_test"], "duration_s"].median()
        out["flag_speeder"] = (out["duration_s"] < frac * med).fillna(False).to_numpy(bool)
    else:
        out["flag_speeder"] = False
    k = int(min_grid_items if min_grid_items is not None else q["straightliner_min_items"])
    out["flag_straightliner"] = _straightliners(out, sch, k)
    out["flag_out_of_range"] = oor
    # No usable headline answer (the LTR): left blank or answered "not applicable"
    # (out-of-range is its own rule).
    out["flag_incomplete"] = out[sch.headline].isna().to_numpy() & ~oor
    set_verdict(out, rules(sch))


def rules(sch: Schema) -> list[tuple[str, str]]:
    """:data:`RULES` with the programme's headline question named in the incomplete rule."""
    if sch.has_ltr and sch.headline == "ltr":
        return RULES
    said = f"incomplete (no {sch.headline_measure.label.lower()} answer)"
    return [(f, said if f == "flag_incomplete" else why) for f, why in RULES]


def set_verdict(out: pd.DataFrame, reasons: list[tuple[str, str]] = RULES) -> None:
    """``include`` (no rule fired) and ``exclusion_reason`` (the first rule that fired)."""
    flags = [f for f, _ in reasons]
    out["include"] = ~out[flags].any(axis=1)
    reason = np.zeros(len(out), np.int8)
    for i, (f, _) in reversed(list(enumerate(reasons, 1))):
        reason = np.where(out[f].to_numpy(bool), i, reason)
    out["exclusion_reason"] = labels(["", *(why for _, why in reasons)], reason, out.index)


#: What each rule needs of a response, and the schema's setting behind it (for "no response kept").
NEEDS: dict[str, str] = {
    "test": "responses that are not previews or tests (quality.test_status and test_channels of "
            "the schema)",
    "duplicate": "distinct submissions (quality.duplicate_key of the schema)",
    "speeder": "durations of at least speeder_fraction x the median (quality.speeder_fraction of "
               "the schema, or --speeder-fraction)",
    "straightliner": "varied answers across a grid (quality.straightliner_min_items of the schema)",
    "out_of_range": "answers within each field's `scale` in the schema",
}


def require_kept(log: dict[str, Any], sch: Schema) -> None:
    """A one-line :class:`DataError` when the cleaning (its `log`) kept no response: the rule
    that removed most of them, or the headline answers the schema could not read as numbers."""
    if log["included"] > 0:
        return
    rows, file = int(log["input"]["rows"]), log["input"]["file"]
    rule, hit = max(log["rules"].items(), key=lambda kv: kv[1]["rows"])  # ties: funnel order
    answers = log.get("answers", {}).get(sch.headline, {})
    column = log.get("mapped_columns", {}).get(sch.headline)
    unread = int(answers.get("unreadable", 0))
    if rule == "incomplete" and unread:
        seen = ", ".join(repr(e) for e in answers.get("examples", []))
        raise DataError(f"no response kept: {unread:,} of {rows:,} answers to the headline "
                        f"question ({sch.headline}) could not be read as numbers, e.g. {seen}, "
                        f"so {hit['rows']:,} responses are {hit['reason']}", file=file,
                        column=column, expected=f"these answers in a label set under "
                        f"answers.label_sets of the schema, named in `labels:` of fields.{sch.headline}")
    needs = NEEDS.get(rule, f"an answer to the headline question ({sch.headline}"
                            + (f", column {column!r})" if column else ")"))
    raise DataError(f"no response kept: {hit['rows']:,} of {rows:,} responses removed as "
                    f"{hit['reason']}", file=file, expected=f"at least one response with {needs}")


def _test_rows(out: pd.DataFrame, q: dict[str, Any]) -> np.ndarray:
    """Preview, test or spam responses (by status or distribution channel)."""
    status = out.get("status", pd.Series(pd.NA, index=out.index, dtype="string")).astype("string")
    chan = out.get("distribution_channel", pd.Series(pd.NA, index=out.index, dtype="string")).astype("string")
    test = status.isin([str(v) for v in q["test_status"]]).fillna(False) | \
        chan.str.lower().isin([str(v).lower() for v in q["test_channels"]]).fillna(False)
    return test.to_numpy(bool)


def _duplicate_key(out: pd.DataFrame, sch: Schema) -> list[str]:
    """Columns that identify one respondent's submission: the schema's key when the export has it
    (contact and wave), else the export's response id, else every column (identical rows)."""
    key = [k for k in sch.quality["duplicate_key"]]
    if all(k in out for k in key):
        return key
    if "response_id" in sch.fields:
        return ["response_id"]
    return [c for c in out.columns if c != "response_id"]


def _duplicate_rows(out: pd.DataFrame, key: list[str], oor: np.ndarray,
                    headline: str = "ltr") -> np.ndarray:
    """Every submission of a contact and wave but one: the latest complete one is kept."""
    dup = np.zeros(len(out), bool)
    keys = [k for k in key if k in out]
    if not keys or len(keys) != len(key):
        return dup
    if len(keys) > 3:  # identical rows: one hash per row stands for all its columns
        out = out.assign(_row=pd.util.hash_pandas_object(out[keys], index=False))
        keys = ["_row"]
    complete = out[headline].notna().to_numpy() & ~oor
    if "finished" in out:
        complete &= out["finished"].fillna(1).to_numpy(float) == 1
    cand = np.flatnonzero(out[keys].notna().all(axis=1).to_numpy() & ~out["flag_test"].to_numpy())
    # Complete first, then latest first (no time last), ties in file order: a stable lexsort
    # on integer keys; within each contact-and-wave group every row after the first is a duplicate.
    group = np.zeros(len(cand), np.int64)
    for k in keys:
        codes, uniq = pd.factorize(out[k].iloc[cand])
        group = group * (len(uniq) + 1) + codes
    if "submitted_at" in out:
        t = out["submitted_at"].to_numpy("datetime64[us]")[cand]
        newest_first = np.where(np.isnat(t), np.iinfo(np.int64).max, -t.astype(np.int64))
    else:
        newest_first = np.zeros(len(cand), np.int64)
    sorted_rows = np.lexsort((newest_first, ~complete[cand]))
    later = pd.Series(group[sorted_rows]).duplicated().to_numpy()   # hashed, not sorted
    dup[cand[sorted_rows[later]]] = True
    return dup


def _straightliners(out: pd.DataFrame, sch: Schema, k: int) -> np.ndarray:
    """Rows giving one answer across a whole grid (a driver group) of at least `k` answered items
    (the same point of each item's scale, so a grid mixing 1-5 and 0-10 items is judged fairly)."""
    flat = np.zeros(len(out), bool)
    by_group: dict[str, list[str]] = {}
    for name, spec in sch.drivers.items():
        if name in out:
            by_group.setdefault(spec.group or "", []).append(name)
    for items in by_group.values():
        if len(items) < k:
            continue
        # item by item, on a common 0-1 footing (no rows-by-items copies at a million rows)
        answered = np.zeros(len(out), np.int64)
        top, bottom = np.full(len(out), np.nan), np.full(len(out), np.nan)
        for item in items:
            lo, hi = sch.scale(item)
            vals = (out[item].to_numpy(float) - lo) / (hi - lo)
            finite = np.isfinite(vals)
            answered += finite
            vals[~finite] = np.nan
            np.fmax(top, vals, out=top)   # fmax/fmin skip the unanswered items (NaN)
            np.fmin(bottom, vals, out=bottom)
        with np.errstate(invalid="ignore"):
            flat |= (answered >= k) & (top - bottom == 0)
    return flat


def labels(names: list[str | None], codes: np.ndarray, index: pd.Index) -> pd.Series:
    """A "string" column from integer codes into `names` (one Arrow take, no per-row strings)."""
    return pd.Series(pa.array(names, pa.string()).take(pa.array(codes)), index=index, dtype="string")
