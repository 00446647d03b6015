"""Per-person figures for leadership pages, without re-identifying anyone.

The rule (docs/data-contract.md, "Privacy"): a leadership page never shows a rep id. A team
(rep) appears only under a label that is not its id (``Team 1`` by rank in the drivers report,
``Rep A`` in the integrity report); its response count is shown as a band of ten
(``220-229``), never exactly, and counts of events (promoters, 10s) are not shown at all, only
rates rounded to whole percent; a team with fewer than :data:`MIN_CELL` responses is not shown
(the page says how many were left out). So the same person cannot be matched across pages, or to
the CRM, by a unique count, and no small cell singles out a customer.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from helpers.errors import require_columns

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
    return f"{low}-{low + width - 1}"


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


# --- one minimum-n rule (config/params.yaml shared.min_n) for tables, tiles and headlines ------


def settings_min_n(path: str = "config/params.yaml") -> int:
    """The run parameter ``shared.min_n`` of the params file (the one min_n setting)."""
    from helpers import config

    value = config.load_params(path).shared.get("min_n", MIN_CELL)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{path}: shared.min_n is {value!r}, expected an integer >= 1")
    return value


def too_few(n: float | None, min_n: int) -> bool:
    """True when a group of `n` responses is below `min_n` (a missing n counts as too few)."""
    return n is None or bool(pd.isna(n)) or float(n) < min_n
