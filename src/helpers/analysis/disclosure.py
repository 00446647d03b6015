"""Per-person figures for leadership pages, without re-identifying anyone.

The rule (docs/data-contract.md, "Privacy"): a leadership page never shows a rep id. A team
(rep) appears only under a label that is not its id (``Team 1`` by rank in the drivers report,
``Rep A`` in the integrity report); its response count is shown as a band of ten
(``220-229``), never exactly, and counts of events (promoters, 10s) are not shown at all, only
rates rounded to whole percent; a team with fewer than :data:`MIN_CELL` responses is not shown
(the page says how many were left out). So the same person cannot be matched across pages, or to
the CRM, by a unique count, and no small cell singles out a customer.

One rule for every shared table, chart, alt text and sheet (issue 26):

- a group below ``min_n`` (``config/params.yaml`` ``shared.min_n``: :func:`settings_min_n`) is
  not shown (:func:`too_few`); per-account rows below it stay in the analyst's access-restricted
  files (mode 0600) and never reach the workbook (:func:`shared_rows`);
- a part shown beside its whole ("all responses" vs "without the flagged teams") is shown only
  when the part and the rest both reach ``min_n`` (complementary suppression:
  :func:`complement_ok`), and the part's count as a band (:func:`shown_count`), so the difference
  of two shown counts is never exact (:func:`shared_parts`).
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import pandas as pd

from helpers import config
from helpers.errors import ConfigError, require_columns

MIN_CELL = 10   # teams (reps) with fewer responses are not shown on a leadership page
BAND = 10       # response counts are shown in bands of this width
RULE = (f"teams are shown by rank, not by id; response counts in bands of {BAND}; "
        f"teams with fewer than {MIN_CELL} responses are not shown")


def count_band(n: float, width: int = BAND, floor: int = MIN_CELL) -> str:
    """'220-229' for 226; '<10' below `floor` (a small count is not shown at all)."""
    if n is None or pd.isna(n):
        return ""
    n = int(n)
    if n < floor:
        return f"<{floor}"
    low = width * (n // width)
    return f"{low:,}-{low + width - 1:,}"


def settings_min_n(path: str | os.PathLike[str] | None = None) -> int:
    """The one minimum group size: ``shared.min_n`` of the params file (`path`, else
    ``$CX_PARAMS``, else config/params.yaml), a whole number >= 1."""
    path = path or os.environ.get(config.PARAMS_ENV) or "config/params.yaml"
    value = config.load_params(path).shared.get("min_n", MIN_CELL)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"shared.min_n is {value!r}", file=path, expected="a whole number >= 1")
    return value


def too_few(n: Any, min_n: int) -> bool:
    """True when a group of `n` responses must not be shown on a shared page (a missing n too)."""
    return n is None or bool(pd.isna(n)) or float(n) < min_n


def shown_count(n: Any, min_n: int) -> str:
    """A part's response count as shared output shows it: '<10' below `min_n`, else its band of
    ten ('560-569'), never exact."""
    return count_band(n, floor=min_n)


def complement_ok(n_whole: Any, n_part: Any, min_n: int) -> bool:
    """True when `part` may be shown beside `whole`: the part and the rest both reach `min_n`
    (or nothing is left out: the part is the whole)."""
    if too_few(n_part, min_n):
        return False
    rest = int(n_whole) - int(n_part)
    return rest == 0 or not too_few(rest, min_n)


def shared_parts(table: pd.DataFrame, min_n: int, whole: str = "all responses",
                 label: str = "label") -> pd.DataFrame:
    """A table of a whole and parts of it (row `whole` and others, column ``n``) as it may be
    shared: parts failing :func:`complement_ok` are dropped, the others' n becomes
    :func:`shown_count` (text); the whole keeps its exact n. ``attrs['suppressed']`` counts the
    parts left out."""
    require_columns(table, [label, "n"], "table of a whole and its parts")
    is_whole = table[label].astype(str) == whole
    n_whole = table.loc[is_whole, "n"]
    if n_whole.empty:
        return table.iloc[0:0].copy()
    total = int(n_whole.iloc[0])
    keep = is_whole | table["n"].map(lambda n: complement_ok(total, n, min_n))
    out = table.loc[keep].astype({"n": object}).reset_index(drop=True)
    parts = out[label].astype(str) != whole
    out.loc[parts, "n"] = out.loc[parts, "n"].map(lambda n: shown_count(n, min_n))
    out.loc[~parts, "n"] = out.loc[~parts, "n"].map(int)
    out.attrs.update({**table.attrs, "suppressed": int((~keep).sum())})
    return out


def shared_rows(table: pd.DataFrame, min_n: int, n: str = "n",
                keep_empty: bool = False) -> pd.DataFrame:
    """Rows of a per-group table (accounts) that reach `min_n` on column `n`: what a shared
    sheet or page may list by name (`keep_empty`: groups of 0, which show no answer, stay).
    ``attrs['suppressed']`` counts the rows left out."""
    require_columns(table, [n], "per-group table")
    counts = table[n]
    if pd.api.types.is_numeric_dtype(counts) and not pd.api.types.is_bool_dtype(counts):
        # :func:`too_few` on the whole column at once (missing counts are too few)
        keep = pd.Series(counts.to_numpy(float, na_value=np.nan) >= min_n, index=table.index)
    else:
        keep = ~counts.map(lambda v: too_few(v, min_n)).astype(bool)
    if keep_empty:
        keep |= table[n].fillna(-1).eq(0)
    out = table.loc[keep].reset_index(drop=True)
    out.attrs.update({**table.attrs, "suppressed": int((~keep).sum())})
    return out


#: Per-account result tables and the column that counts each account's group: on a shared sheet
#: only accounts reaching min_n; all of them only in the analyst's restricted workbook.
PER_ACCOUNT = {"account_nps_ranking": "n", "b2b_response_rates_by_account": "invited",
               "programme_response_rates": "invited"}


_K_OF_N = re.compile(r"\b(\d+) of (\d+)\b")
_N_EQ = re.compile(r"\bn\s*=\s*(\d+)\b")
_K_THINGS = re.compile(r"(?<![\d.-])\b(\d+) (responses?|scores?|comments?|contacts?)\b")


def coarsen_counts(text: str) -> str:
    """Exact person-level counts in a sentence replaced by bands.

    '81% ... (163 of 226, q=0.01)' -> '81% ... (of 220-229 responses, q=0.01)';
    'n=226' -> 'n 220-229'; '7 responses with a repeated device' -> '<10 responses ...'.
    """
    out = _K_THINGS.sub(lambda m: f"{count_band(int(m.group(1)))} {m.group(2)}", str(text))
    out = _K_OF_N.sub(lambda m: f"of {count_band(int(m.group(2)))} responses", out)
    return _N_EQ.sub(lambda m: f"n {count_band(int(m.group(1)))}", out)


def team_table(teams: pd.DataFrame, team: str = "rep_id", min_n: int = MIN_CELL) -> pd.DataFrame:
    """The team comparison (journey.team_comparison) as leadership may see it.

    Teams with at least `min_n` responses, ranked by shrunk promoter rate and labelled
    ``Team 1``, ``Team 2``, ...; columns team, responses (band), shrunk_rate, ci_low, ci_high
    (percent, one decimal) and flag. ``attrs['suppressed']`` counts the teams left out and
    ``attrs['rule']`` states the rule. No id, no exact count, no raw rate.
    """
    require_columns(teams, [team, "n", "shrunk_rate", "ci_low", "ci_high"], "team comparison")
    kept = teams[teams["n"] >= max(min_n, MIN_CELL)].sort_values("shrunk_rate", ascending=False)
    out = pd.DataFrame({
        "team": [f"Team {i}" for i in range(1, len(kept) + 1)],
        "responses": [count_band(n) for n in kept["n"]],
        "shrunk_rate": kept["shrunk_rate"].to_numpy(float).round(1),
        "ci_low": kept["ci_low"].to_numpy(float).round(1),
        "ci_high": kept["ci_high"].to_numpy(float).round(1),
        "flag": kept["flag"].to_numpy() if "flag" in kept else np.full(len(kept), ""),
    })
    out.attrs.update({**teams.attrs, "suppressed": int(len(teams) - len(kept)), "rule": RULE})
    return out
