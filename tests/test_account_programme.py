"""The B2B account programme (response programme, follow-ups, coverage audit, concessions)
recovers what the sample planted, on the shared sample and on a held-out seed."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from helpers import contract, inputs
from helpers.analysis import concessions, coverage_audit, follow_up, integrity, programme
from helpers.analysis import response_programme as rp
from helpers.errors import ArgumentError, DataError, ThinData
from helpers.ingest import clean, side_tables
from helpers.ingest import schema as schema_mod

SIDE = ("accounts", "invitations", "exclusions", "follow_ups", "concessions")


def _programme(raw: Path, responses: pd.DataFrame, schema: schema_mod.Schema, truth: dict
               ) -> SimpleNamespace:
    tables = {n: side_tables.read_input(inputs.INPUTS[n], raw / f"{n}.csv", "test-salt-not-secret")
              for n in SIDE}
    b2b = responses[(responses["market"] == "B2B") & responses["include"].astype(bool)]
    return SimpleNamespace(b2b=b2b, schema=schema, measures=schema.measures,
                           truth=truth["programme"], full_truth=truth, **tables)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> SimpleNamespace:
    """A second sample (seed 11) the helpers were not tuned on."""
    import json

    from helpers.sample import program, writers
    raw = tmp_path_factory.mktemp("raw11")
    writers.write(program.generate(rows=3000, seed=11, market_data=False), raw)
    res = clean.run(raw / "survey_export.csv", out_dir=tmp_path_factory.mktemp("processed11"))
    return _programme(raw, res.responses, res.schema, json.loads((raw / "truth.json").read_text()))


@pytest.fixture(scope="module", params=["sample", "held_out"])
def prog(request, sample_dir, cleaned, truth) -> SimpleNamespace:
    if request.param == "held_out":
        return request.getfixturevalue("held_out")
    return _programme(sample_dir, cleaned.responses, cleaned.schema, truth)


# --- 5: the sample plants it -------------------------------------------------------------------

def test_plants_leave_the_survey_alone_and_add_withheld_accounts(prog):
    t = prog.truth["withheld"]
    assert len(t["accounts"]) == t["n"] == t["n_removed"] + t["n_never_invited"]
    assert not set(t["accounts"]) & set(prog.invitations["account_id"])
    assert set(prog.exclusions["account_id"]) <= set(t["accounts"])
    assert {"reminders", "days_since_touch"} <= set(prog.invitations.columns)
    assert set(prog.concessions.columns) >= {"account_id", "rep_id", "date", "type", "value"}


# --- 1: response programme ---------------------------------------------------------------------

def test_rates_against_the_target_count_the_invitations(prog):
    rates = rp.rates_against_target(prog.invitations, 0.7)
    raw = prog.invitations.groupby(["wave", "account_id"])["responded"].agg(["sum", "size"])
    got = rates.set_index(["wave", "account_id"])
    assert (got["responded"] == raw["sum"]).all() and (got["invited"] == raw["size"]).all()
    assert set(rates["status"]) <= {"at target", "below target", "not yet clear"}
    below = rates[rates["status"] == "below target"]
    assert (below["ci_high"] < 70).all() and (rates["target"] == 70).all()
    trend = rp.tier_trend(prog.invitations, prog.accounts, 0.7)
    assert len(trend) == trend["wave"].nunique() * trend["tier"].nunique()
    other_ids = prog.accounts.assign(account_id="CRM-" + prog.accounts["account_id"])  # rev26
    with pytest.raises(ThinData, match="invited accounts has a tier in the account master"):
        rp.tier_trend(prog.invitations.drop(columns="tier", errors="ignore"), other_ids, 0.7)
    with pytest.raises(ArgumentError, match="response_target"):
        rp.rates_against_target(prog.invitations, 70)


def test_coverage_gaps_are_roles_never_heard_this_year(prog):
    waves = programme.year_waves(prog.invitations["wave"].unique())
    gaps = rp.coverage_gaps(prog.invitations, waves)
    dm = prog.invitations[prog.invitations["role"] == "decision_maker"]
    silent_dm = set(dm.groupby("account_id")["responded"].any().loc[lambda s: ~s].index)
    assert set(gaps.loc[gaps["no_decision_maker"], "account_id"]) == silent_dm
    assert gaps["gaps"].str.len().gt(0).all()


def test_propensity_model_recovers_the_planted_response_model(prog):
    t = prog.truth["response_model"]
    model = rp.fit_propensity(rp.propensity_features(prog.invitations, prog.accounts))
    coef = model.coefficients.set_index("feature")
    assert abs(coef.loc["reminders", "estimate"] - t["reminder_logodds"]) < 0.12
    assert abs(coef.loc["days_since_touch", "estimate"] - t["touch_logodds_per_day"]) < 0.006
    assert coef.loc["role: decision_maker", "ci_high"] < 0  # planted -0.35 vs influencers
    assert coef.loc["role: user", "estimate"] > coef.loc["role: decision_maker", "estimate"]
    tiers = coef[coef.index.str.startswith("tier: ")]
    assert len(tiers) == 2 and (tiers["estimate"].abs() < 0.4).all()  # planted: no tier effect
    assert model.auc > 0.65 and 0.7 < model.calibration_slope < 1.3
    assert model.holdout_wave == max(prog.invitations["wave"])


def test_accounts_absent_from_the_master_have_an_unknown_tier_in_the_model(prog):
    # rev26: a CRM extract without some invited accounts stopped the response model
    ids = prog.invitations["account_id"].unique()[:5]
    partial = prog.accounts[~prog.accounts["account_id"].isin(ids)]
    feats = rp.propensity_features(prog.invitations.drop(columns="tier", errors="ignore"), partial)
    assert set(feats.loc[feats["account_id"].isin(ids), "tier"]) == {"unknown"}
    assert rp.fit_propensity(feats).auc > 0.5


def test_chase_list_ranks_contacts_by_expected_coverage_lift_without_names(prog):
    feats = rp.propensity_features(prog.invitations, prog.accounts)
    model = rp.fit_propensity(feats)
    waves = programme.year_waves(prog.invitations["wave"].unique())
    chase = rp.chase_list(model, feats, prog.accounts, waves, top=30)
    assert list(chase["rank"]) == list(range(1, len(chase) + 1)) and len(chase) > 0
    assert chase["expected_lift_pts"].is_monotonic_decreasing
    assert not {"email", "contact_email", "first_name", "last_name"} & set(chase.columns)
    assert chase["contact_key"].str.fullmatch(r"[0-9a-f]{16}").all()
    heard = prog.invitations.groupby("account_id")["responded"].any()
    rev = chase[chase["revenue_lift_pts"] > 0]
    assert not heard.reindex(rev["account_id"]).any()


# --- 3: coverage audit -------------------------------------------------------------------------

def test_coverage_audit_finds_the_withheld_accounts_and_how_they_differ(prog):
    t = prog.truth["withheld"]
    status = coverage_audit.account_status(prog.accounts, prog.invitations, prog.exclusions)
    counts = status["status"].value_counts()
    assert counts[coverage_audit.REMOVED] == t["n_removed"]
    assert counts[coverage_audit.NEVER] == t["n_never_invited"]
    cmp = coverage_audit.compare_not_surveyed(status).set_index("comparison")
    surveyed_ent = 100 * t["surveyed_tier_p"]["Enterprise"]
    ent = cmp.loc["tier: Enterprise (%)"]
    assert ent["ci_low"] <= 100 * t["tier_p"]["Enterprise"] - surveyed_ent <= ent["ci_high"]
    assert ent["ci_low"] > 0 and cmp.loc["arr", "ci_low"] > 0
    stage = cmp.loc["deal_stage: none (%)"]
    planted = 100 * (t["deal_stage_p"]["withheld"]["none"] - t["deal_stage_p"]["surveyed"]["none"])
    assert stage["ci_low"] <= planted <= stage["ci_high"]


def test_coverage_audit_bounds_the_headline_in_one_leadership_line(prog):
    t = prog.truth["withheld"]
    status = coverage_audit.account_status(prog.accounts, prog.invitations, prog.exclusions)
    wave = prog.b2b[prog.b2b["wave"] == prog.b2b["wave"].max()]
    bias = coverage_audit.headline_bias(wave, status, prog.measures)
    assert bias.accounts_not_surveyed == t["n"]
    assert bias.arr_share_not_surveyed == pytest.approx(t["arr_share"], abs=1e-3)
    assert bias.bound < bias.nps and bias.bottom_quartile < bias.nps
    assert bias.nps_ci[0] < bias.nps < bias.nps_ci[1] and np.isfinite(bias.reweighted)
    line = coverage_audit.leadership_line(bias)
    assert line.startswith(f"{t['n']} accounts ({100 * t['arr_share']:.0f} % of ARR) were not surveyed")
    assert not re.search(r"\bA\d{3,}|\bR\d{2}\b", line)


def test_an_excluded_by_column_in_the_master_counts_as_removed(prog):
    removed = set(prog.exclusions["account_id"])
    acc = prog.accounts.assign(excluded_by=np.where(prog.accounts["account_id"].isin(removed), "sales", ""))
    status = coverage_audit.account_status(acc, prog.invitations)
    assert set(status.loc[status["status"] == coverage_audit.REMOVED, "account_id"]) == removed


# --- 2: follow-ups -----------------------------------------------------------------------------

def test_follow_up_list_is_for_account_teams_and_says_what_was_heard(prog):
    wave = max(prog.b2b["wave"])
    items = prog.schema.driver_items("B2B")
    fl = follow_up.follow_up_list(prog.b2b, prog.measures, wave, items, prog.schema.driver_labels())
    assert "account teams" in fl.attrs["audience"] and len(fl) > 0
    assert ((fl["detractors"] > 0) | (fl["change_since_previous"] < 0)).all()
    assert fl["lowest_items"].str.len().gt(0).mean() > 0.8
    said = " ".join(fl["what_they_said"])
    assert "@" not in said and not re.search(r"\d{3}-555-\d{4}", said)



@pytest.mark.parametrize("limit", [1, 3])
def test_what_they_said_is_the_grouped_head_of_the_sorted_comments(prog, limit):
    from helpers.analysis.programme import response_values
    rows = prog.b2b
    d = pd.DataFrame({"account_id": rows["account_id"].astype(str).to_numpy(),
                      "value": response_values(rows, prog.measures),
                      "comment": rows["comment"].astype("string").str.strip().to_numpy()})
    d = d[d["comment"].fillna("").ne("")].sort_values(["account_id", "value"])
    reference = d.groupby("account_id")["comment"].agg(lambda s: " | ".join(s.head(limit)))
    pd.testing.assert_series_equal(follow_up._comments(rows, prog.measures, limit), reference)
    assert follow_up._comments(rows.iloc[:0], prog.measures).empty

def test_followed_up_accounts_move_as_planted(prog):
    t = prog.truth["follow_ups"]
    timing = follow_up.follow_up_timing(prog.b2b, prog.measures, prog.follow_ups)
    effect = follow_up.follow_up_effect(timing).set_index("figure")
    gap = effect.iloc[0]
    assert gap["ci_low"] <= t["realised_gap_nps_points"] <= gap["ci_high"] and gap["ci_low"] > 0
    days = effect.iloc[1]
    assert days["ci_low"] <= t["mean_days"] <= days["ci_high"]
    assert effect["note"].str.contains("Observational").all()


# --- 4: concessions ----------------------------------------------------------------------------

def test_concessions_find_the_reps_who_buy_scores(prog):
    t = prog.truth["concessions"]
    waves = concessions.conceded_waves(prog.b2b, prog.measures, prog.concessions)
    lifts = concessions.rep_lifts(waves)
    assert sorted(lifts.loc[lifts["fail"], "rep_id"]) == t["buying_reps"]
    for rep, lift in t["lift_nps_points"].items():
        row = lifts.set_index("rep_id").loc[rep]
        assert abs(row["estimate"] - lift) < 2.5 * row["se"]
    cost = concessions.cost_per_point(lifts).iloc[0]
    assert cost["reps"] == 2 and 0 < cost["cost_per_point"] < np.inf


def test_concession_evidence_joins_the_integrity_index_as_its_own_family(prog):
    waves = concessions.conceded_waves(prog.b2b, prog.measures, prog.concessions)
    ev = concessions.evidence(concessions.rep_lifts(waves))
    assert set(ev["family"]) == {"concessions"}
    audit = integrity.integrity_index(ev, min_families=1)
    assert sorted(audit.loc[audit["flagged"], "rep_id"]) == prog.truth["concessions"]["buying_reps"]


# --- inputs and cards --------------------------------------------------------------------------

def test_each_new_input_feeds_a_section_and_bad_files_are_one_line(tmp_path):
    for name in ("exclusions", "follow_ups", "concessions"):
        assert contract.fed_by(name), name
    bad = tmp_path / "concessions.csv"
    bad.write_text("account_id,rep_id,date,type,value\nA1,R1,2026-01-01,discount,lots\n")
    with pytest.raises(DataError, match="value"):
        side_tables.read_concessions(bad, "salt")
    bad.write_text("account_id,date,outcome\nA1,someday,call held\n")
    with pytest.raises(DataError, match="date"):
        side_tables.read_follow_ups(bad, "salt")


def test_the_account_teams_workbook_is_marked_keeps_text_as_text_and_drops_rep_ids(tmp_path):
    import openpyxl

    from helpers.reporting import account_teams
    table = pd.DataFrame({"account_id": ["A1"], "rep_id": ["R01"], "what_they_said": ['=HYPERLINK("x")'],
                          "score": [-100.0]})
    path = account_teams.write_follow_up_workbook(table, tmp_path, follow_up.AUDIENCE)
    ws = openpyxl.load_workbook(path).active
    assert ws["A1"].value == follow_up.AUDIENCE
    assert [c.value for c in ws[3]] == ["Account id", "What they said", "Score"]
    assert ws["B4"].value == '=HYPERLINK("x")' and ws["B4"].data_type == "s"



def test_the_account_teams_workbook_holds_every_account_and_the_page_a_bounded_list(tmp_path):
    import openpyxl

    from helpers.reporting import account_teams
    table = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "rep_id": ["R1", "R2", "R3"],
                          "n": [3, 1, 2], "score": [-100.0, np.nan, 12.5],
                          "what_they_said": ["slow", "", "+ fine"]})
    path = account_teams.write_follow_up_workbook(table, tmp_path, follow_up.AUDIENCE)
    ws = openpyxl.load_workbook(path).active
    assert ws.freeze_panes == "A4" and ws["A1"].font.b and ws["A3"].font.b
    assert [[c.value for c in r] for r in ws.iter_rows(min_row=4)] == [
        ["A1", 3, -100.0, "slow"], ["A2", 1, None, ""], ["A3", 2, 12.5, "+ fine"]]
    page = account_teams.follow_up_page(table, rows=2)
    assert len(page) == 2 and "Rep id" not in page.labels and "follow_up_list.xlsx" in page.note
    assert len(account_teams.follow_up_page(table)) == 3 and not account_teams.follow_up_page(table).note

def test_the_leadership_line_reads_back_from_the_metrics():
    bias = coverage_audit.Bias(18.0, (10.0, 26.0), 15.0, (7.0, 23.0), -60.0, 9.4, 36, 0.19, ("arr",))
    line = coverage_audit.leadership_line(bias)
    assert line == ("36 accounts (19 % of ARR) were not surveyed; had they scored like the bottom "
                    "quartile, B2B NPS would be +9 (it is +18).")
    assert coverage_audit.line_from_metrics(coverage_audit.headline_metrics(bias)) == line
    assert coverage_audit.line_from_metrics({}) is None


def test_the_executive_summary_line_names_no_account_or_rep(tmp_path):
    from helpers import catalog
    from helpers.reporting import coverage_line, summary
    bias = coverage_audit.Bias(18.0, (10.0, 26.0), 15.0, (7.0, 23.0), -60.0, 9.4, 36, 0.19, ("arr",))
    art = summary.load_artefacts(tmp_path)
    assert "not available" in coverage_line.coverage_finding(art).text
    catalog.save_metrics(coverage_audit.headline_metrics(bias), "08_account_programme", tmp_path)
    text = coverage_line.coverage_finding(summary.load_artefacts(tmp_path)).text
    assert text.startswith("36 accounts (19 % of ARR) were not surveyed")


def test_without_the_new_inputs_the_cards_say_what_to_provide():
    facts = contract.Facts(rows={"B2B": 500}, fields={"B2B": frozenset({"account_id", "role", "rep_id",
                                                                          "submitted_at"})},
                           drivers={"B2B": 10}, stages={}, segments={"B2B": 2}, waves={"B2B": 4},
                           tables={"accounts": frozenset({"account_id", "arr"})})
    assert contract.missing("integrity.concessions", facts) == [
        f"{inputs.INPUTS['concessions'].what} ({inputs.INPUTS['concessions'].how})"]
    assert "follow-up file" in contract.missing("programme.follow_up_effect", facts)[0]
    assert "invitations" in contract.missing("programme.coverage_audit", facts)[0]
    assert "excluded_by" in contract.missing("programme.exclusions", facts)[0]
    assert contract.missing("programme.follow_up_list", facts) == []


def test_the_clustered_propensity_fit_matches_statsmodels(prog):
    import statsmodels.api as sm
    feats = rp.propensity_features(prog.invitations, prog.accounts)
    coef = rp.fit_propensity(feats).coefficients.set_index("feature")
    cols = {"intercept": np.ones(len(feats))}
    for name in coef.index[1:]:
        field, _, level = name.partition(": ")
        cols[name] = (feats[field] == level).to_numpy(float) if level else feats[field].fillna(
            feats[field].median()).to_numpy(float)
    ref = sm.Logit(feats["responded"].to_numpy(), pd.DataFrame(cols)).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": pd.factorize(feats["account_id"])[0]})
    np.testing.assert_allclose(coef["estimate"].to_numpy(), ref.params.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(coef["se"].to_numpy(), ref.bse.to_numpy(), rtol=1e-5)


def test_the_waves_model_matrices_are_rows_of_one_matrix_filled_per_selection(prog):
    feats = rp.propensity_features(prog.invitations, prog.accounts)
    feats.loc[feats.index[::5], "tenure_years"] = np.nan  # medians differ between selections
    feats = feats.assign(**{c: pd.Categorical(feats[c]) for c in ("role", "tier")})
    whole, names, levels = rp._unfilled_design(feats)
    for rows in ((feats["wave"] < feats["wave"].max()).to_numpy(), np.arange(len(feats)) % 3 == 0):
        m, _, own_levels = rp._design(feats[rows])
        tenure = feats.loc[rows, "tenure_years"]
        assert own_levels == levels and not np.isnan(m).any()
        assert np.array_equal(m[:, names.index("tenure_years")],
                              tenure.fillna(tenure.median()).to_numpy())
        assert np.array_equal(rp._fill_missing(whole[rows], names, rp._gappy(feats)), m)


def test_the_chase_list_is_the_head_of_every_contact_ranked(prog):
    feats = rp.propensity_features(prog.invitations, prog.accounts)
    model = rp.fit_propensity(feats)
    waves = programme.year_waves(prog.invitations["wave"].unique())
    every = rp.chase_list(model, feats, prog.accounts, waves, top=10**9)
    for top in (1, 7, 30):
        assert rp.chase_list(model, feats, prog.accounts, waves, top=top).equals(every.head(top))
    lift = np.array([0.0, 2.0, 1.0, 2.0, 0.5, 2.0])  # ties at the cut are all candidates
    assert list(rp._chase_candidates(lift, 2)) == [1, 3, 5]
    assert list(rp._chase_candidates(np.zeros(3), 2)) == [0, 1, 2]
