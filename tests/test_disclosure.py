"""Issue 17, item 6: a pseudonym cannot be undone.

The probe read "R04, n = 226, 163 promoters" in notebook 03 and "Rep A: 163 of 226" in report 05,
so Rep A was R04. Now neither leadership view holds a rep id or an exact per-rep count, and teams
with fewer than 10 responses are not shown.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from helpers import config
from helpers.analysis import disclosure, integrity, journey, selection
from helpers.ingest import schema
from helpers.reporting.manifest import RunManifest, Status


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


# --- issue 26: one rule for every shared figure; a reader who subtracts learns no small group ----

MIN_N = 10
#: Programmes by the response counts of their flagged reps: 1, 2 and 3 flagged reps, the issue's
#: 117-response rep, and flagged totals below min_n (one single respondent; 2 + 3 + 1).
PROGRAMMES = {"one rep (117)": [117], "two reps": [40, 35], "three reps": [30, 20, 13],
              "one respondent": [1], "three small reps": [2, 3, 1]}


def _programme(flagged_sizes: list[int], seed: int = 5) -> tuple[pd.DataFrame, list[str]]:
    """B2B responses: 12 unflagged reps of 47 responses, then the flagged reps; 3 accounts a rep."""
    import numpy as np

    rng = np.random.default_rng(seed)
    sizes = [47] * 12 + flagged_sizes
    reps = [f"R{i:02d}" for i in range(len(sizes))]
    rows = [{"rep_id": r, "account_id": f"{r}-A{j % 3}", "ltr": int(rng.integers(0, 11))}
            for r, size in zip(reps, sizes, strict=True) for j in range(size)]
    return pd.DataFrame(rows), reps[12:]


def _shared_text(nps_table: pd.DataFrame, flagged: list[str], tmp: Path) -> str:
    """Everything a reader gets about the pair: summary sentence, chart labels and alt text,
    notebook 05's printed lines and the workbook's integrity sheet."""
    import matplotlib.pyplot as plt
    import openpyxl

    from helpers import catalog
    from helpers.reporting import chart_text, charts, integrity_charts, summary, workbook

    audit = pd.DataFrame({"rep_id": flagged, "flagged": True, "score": 1.0, "reasons": ""})
    metrics = integrity.headline_metrics(audit, nps_table)
    art = summary.Artefacts(run_dir=tmp, metrics={"05_score_integrity": metrics}, tables={})
    texts = [summary.integrity_finding(art, min_n=MIN_N).text]
    ax = integrity_charts.with_without(nps_table, min_n=MIN_N)
    fig = ax.figure
    texts += [chart_text.alt_text(fig)] + [t.get_text() for a in fig.axes for t in a.texts]
    texts += [f"{r.label} {r.estimate:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}] {charts.n_text(r.n)}"
              for r in disclosure.shared_parts(nps_table, MIN_N).itertuples()]
    plt.close(fig)
    catalog.save_result(nps_table, "integrity_nps", tmp)
    wb = openpyxl.load_workbook(workbook.write_workbook(tmp, RunManifest(
        run_id=tmp.name, status=Status.SUCCEEDED, parameters={"02_segments": {"min_n": MIN_N}})))
    texts += [str(v) for row in wb["integrity_nps"].iter_rows(values_only=True) for v in row]
    return "\n".join(texts)


def _exact_numbers(text: str) -> set[int]:
    """Whole numbers a reader sees as exact (bands such as '2,530-2,539' and '<10' are ranges)."""
    text = re.sub(r"\d[\d,]*-\d[\d,]*|<\d+|[+-]?\d+\.\d+", " ", text)
    return {int(x.replace(",", "")) for x in re.findall(r"(?<![\w.])\d[\d,]*(?![\w.])", text)}


@pytest.mark.parametrize("programme", list(PROGRAMMES))
def test_no_shared_figure_gives_the_flagged_teams_count_or_score(programme: str,
                                                                 tmp_path: Path) -> None:
    """'all responses (n=681)' beside 'without the flagged teams (n=564)' gave the flagged rep's
    exact 117; with a flagged total below min_n the two NPS gave that group's score."""
    sizes = PROGRAMMES[programme]
    df, flagged = _programme(sizes)
    nps_table = integrity.with_without(df, flagged)
    n_all, n_without = (int(n) for n in nps_table["n"])
    text = _shared_text(nps_table, flagged, tmp_path)
    numbers = _exact_numbers(text)
    assert n_all in numbers                    # the whole is shown exactly
    assert n_without not in numbers            # the part is not
    assert not [(a, b) for a in numbers for b in numbers if a - b == sum(sizes) and a >= MIN_N]
    without = nps_table.iloc[1]
    if sum(sizes) < MIN_N:                     # the rest is a small group: the part is not shown
        assert "without flagged" not in text  # no row of the chart, sheet or printed lines
        assert "without the flagged teams' responses: not shown" in text
        assert not re.search(r"[\d,]+-[\d,]+", text.replace(f"{n_all:,}", ""))
    else:
        assert f"{without['estimate']:+.1f}" in text and disclosure.count_band(n_without) in text


def test_complementary_suppression_rule() -> None:
    assert disclosure.complement_ok(681, 564, 10) and disclosure.complement_ok(681, 681, 10)
    assert not disclosure.complement_ok(681, 680, 10)      # the rest: one response
    assert not disclosure.complement_ok(681, 5, 10)        # the part itself is small
    assert disclosure.shown_count(564, 10) == "560-569" and disclosure.shown_count(7, 10) == "<10"
    assert disclosure.too_few(float("nan"), 10) and not disclosure.too_few(10, 10)
    assert disclosure.settings_min_n() == 10


@pytest.fixture()
def accounts_run(tmp_path: Path) -> Path:
    """A run whose per-account tables hold single-respondent accounts."""
    from helpers import catalog

    ranking = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4"], "n": [1, 12, 1, 30],
                            "nps": [-100.0, 25.0, 100.0, 10.0], "eligible": [False, True, False,
                                                                             True]})
    rates = pd.DataFrame({"account_id": ["A1", "A2", "A5"], "invited": [1, 14, 3],
                          "responded": [1, 12, 0], "rate": [100.0, 85.7, 0.0]})
    catalog.save_result(ranking, "account_nps_ranking", tmp_path)
    catalog.save_result(rates, "b2b_response_rates_by_account", tmp_path)
    programme = pd.DataFrame({"wave": ["2025Q1", "2025Q1"], "account_id": ["A2", "A6"],
                              "invited": [14, 4], "responded": [12, 1], "rate": [85.7, 25.0]})
    catalog.save_result(programme, "programme_response_rates", tmp_path)
    return tmp_path


def test_single_respondent_accounts_stay_in_the_analysts_restricted_workbook(
        accounts_run: Path) -> None:
    import openpyxl

    from helpers.reporting import workbook

    shared = openpyxl.load_workbook(workbook.write_workbook(accounts_run, RunManifest(
        run_id="r", status=Status.SUCCEEDED, parameters={"02_segments": {"min_n": MIN_N}})))
    ids = {v for ws in shared.worksheets for row in ws.iter_rows(values_only=True) for v in row}
    assert {"A2", "A4"} <= ids and not {"A1", "A3", "A5", "A6"} & ids
    assert -100.0 not in {v for v in ids if isinstance(v, float)}
    restricted = accounts_run / workbook.ANALYST_FILE
    assert (restricted.stat().st_mode & 0o777) == 0o600
    assert (accounts_run / workbook.FILE).stat().st_mode & 0o004   # the shared one is readable
    full = openpyxl.load_workbook(restricted)
    every = {v for ws in full.worksheets for row in ws.iter_rows(values_only=True) for v in row}
    assert {"A1", "A3", "A5", "A6"} <= every


def test_the_accounts_at_risk_table_lists_no_small_account() -> None:
    from helpers.reporting import views

    arch = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "archetype_label": ["DM detractor",
                         "All detractors", "Silent"], "arr": [5e6, 1e6, 2e6],
                         "n_responses": [1, 11, 0], "dm_score": [-100.0, -50.0, None],
                         "others_score": [None, -60.0, None]})
    shown = views.accounts_at_risk(arch, None, None, min_n=MIN_N)
    html = shown._repr_html_() if hasattr(shown, "_repr_html_") else str(shown)
    assert "A2" in html and "A3" in html and "A1" not in html and "1 left out" in html
