"""Issue 17, item 6: a pseudonym cannot be undone.

The probe read "R04, n = 226, 163 promoters" in notebook 03 and "Rep A: 163 of 226" in report 05,
so Rep A was R04. Now neither leadership view holds a rep id or an exact per-rep count, and teams
with fewer than 10 responses are not shown.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from helpers import config
from helpers.analysis import disclosure, integrity, journey, selection
from helpers.ingest import schema


def test_count_bands_and_small_cells() -> None:
    assert disclosure.count_band(226) == "220-229"
    assert disclosure.count_band(10) == "10-19"
    assert disclosure.count_band(9) == "<10"
    assert disclosure.count_band(0) == "<10"


def test_exact_counts_leave_the_reasons() -> None:
    text = ("81% of scores are 10 vs 35% for peers (shrunk 79%, 163 of 226, q=0.001); "
            "scores 2.1 points above what their customers' experience ratings predict "
            "(95% CI +1.2 to +3.0, n=226, q=0.01); 7 responses with a repeated device")
    out = disclosure.coarsen_counts(text)
    assert "163" not in out and "226" not in out and "7 responses" not in out
    assert "of 220-229 responses" in out and "n 220-229" in out and "<10 responses" in out
    assert "81%" in out and "q=0.001" in out and "+1.2 to +3.0" in out  # rates and tests stay


@pytest.fixture(scope="module")
def views(cleaned) -> dict:
    data = selection.study(cleaned.responses, schema.load(), config.load_segments())
    ev = integrity.evidence(data.market("B2B", included=False).rows, schema.load().driver_items("B2B"))
    audit = integrity.integrity_index(ev)
    names = integrity.pseudonyms(audit["rep_id"])
    teams = journey.team_comparison(data.market("B2B", "").rows)
    return {"audit": audit, "names": names, "teams": teams, "ev": ev,
            "leadership": integrity.leadership_table(audit, names),
            "team_view": disclosure.team_table(teams)}


def _text(df: pd.DataFrame) -> str:
    return df.to_string() + "\n" + df.to_html()


def test_no_rep_id_on_either_leadership_view(views: dict) -> None:
    ids = set(views["audit"]["rep_id"]) | set(views["teams"]["rep_id"].astype(str))
    for name in ("leadership", "team_view"):
        text = _text(views[name])
        assert not [i for i in ids if re.search(rf"\b{re.escape(i)}\b", text)], name


def test_no_exact_per_rep_count_links_a_pseudonym_to_a_team(views: dict) -> None:
    """The join the probe made: an exact response or promoter count shown on both pages."""
    teams, audit = views["teams"], views["audit"]
    promoters = (teams["n"] * teams["raw_rate"] / 100).round().astype(int)
    counts = set(teams["n"].astype(int)) | set(audit["n"].astype(int)) | set(promoters)
    counts |= {int(k) for k in views["ev"]["k"].dropna()} if "k" in views["ev"] else set()
    for name in ("leadership", "team_view"):
        shown = views[name].drop(columns=["team", "Rep"], errors="ignore").astype(str)  # labels
        numbers = {int(x) for col in shown.columns for v in shown[col]
                   for x in re.findall(r"(?<![\d.+-])\d+(?![\d.%-])",
                                       re.sub(r"\b\d+0-\d+9\b|<10", " ", v))}  # bands aside
        leaked = sorted(numbers & {c for c in counts if c >= 10})
        assert not leaked, (name, leaked)


def test_small_teams_are_not_shown(views: dict) -> None:
    teams = views["teams"].copy()
    teams.loc[teams.index[-1], "n"] = 6  # a team with six responses
    view = disclosure.team_table(teams)
    assert len(view) == len(teams) - 1 and view.attrs["suppressed"] == 1
    audit = views["audit"].copy()
    audit.loc[audit.index[-1], "n"] = 4
    table = integrity.leadership_table(audit, views["names"])
    assert len(table) == len(audit) - 1 and table.attrs["suppressed"] == 1
    assert "<10" not in _text(table)


def test_team_view_is_ranked_and_labelled_by_rank(views: dict) -> None:
    view = views["team_view"]
    assert view["team"].tolist()[:3] == ["Team 1", "Team 2", "Team 3"]
    assert view["shrunk_rate"].is_monotonic_decreasing
    assert set(view.columns) == {"team", "responses", "shrunk_rate", "ci_low", "ci_high", "flag"}
