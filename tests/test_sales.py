"""The sales briefing's analyses (helpers.analysis.sales) and the executive summary's scorecard
and headline changes, against hand computations and the truth planted by the sample."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from helpers import catalog, config
from helpers.analysis import competitors, headline, sales, segments, selection
from helpers.errors import ThinData
from helpers.ingest import schema as schema_mod
from helpers.measures import find_statistic
from helpers.reporting import scorecard, summary
from helpers.stats import compare


@pytest.fixture(scope="module")
def study(cleaned):
    out = cleaned.out
    return selection.study(pd.read_parquet(out / "responses.parquet"),
                           schema_mod.load(out / "survey.yaml"), config.load_segments(),
                           tables={n: pd.read_parquet(out / f"{n}.parquet")
                                   for n in ("accounts", "invitations", "competitor_ratings")
                                   if (out / f"{n}.parquet").is_file()})


def test_separators_difference_is_promoters_minus_detractors_hand_computed() -> None:
    rng = np.random.default_rng(4)
    ltr = rng.integers(0, 11, 400)
    item = np.clip(np.round(1 + ltr * 0.3 + rng.normal(0, 0.8, 400)), 1, 5)
    rows = pd.DataFrame({"ltr": ltr, "x": item})
    sep = sales.separators(rows, {"x": "sales"})
    pro, det = item[ltr >= 9], item[ltr <= 6]
    assert sep.loc[0, "mean_promoter"] == pytest.approx(pro.mean())
    assert sep.loc[0, "mean_detractor"] == pytest.approx(det.mean())
    assert sep.loc[0, "estimate"] == pytest.approx(pro.mean() - det.mean())
    # independent rows: the contrast's SE is the two-sample SE of the means (n-1 denominators)
    se = np.sqrt(pro.var(ddof=1) / len(pro) + det.var(ddof=1) / len(det))
    assert sep.loc[0, "se"] == pytest.approx(se, rel=0.02)
    assert (sep.loc[0, "n_promoter"], sep.loc[0, "n_detractor"]) == (len(pro), len(det))


def test_separators_find_the_planted_drivers(study, truth) -> None:
    chosen = study.market("B2B")
    sep = sales.separators(chosen.rows, sales.stage_items(study.schema, "B2B"), **chosen.columns)
    assert set(sep["stage"]) == {"sales", "implementation"}
    assert len(set(sep["item"].head(3)) & set(truth["top3"]["B2B"])) >= 2
    assert sep["significant"].all() and (sep["ci_low"] > 0).all()


def test_competitor_gaps_by_fields_match_paired_gaps_per_field(study) -> None:
    rows = study.market("B2B").rows
    ratings = competitors.vendor_ratings(rows, study.tables["competitor_ratings"], us="Us",
                                         segments=["tier", "region"])
    stacked = sales.competitor_gaps_by_fields(ratings, "Us", ["tier", "region"], min_n=10)
    assert set(stacked["field"]) == {"tier", "region"}
    direct = competitors.paired_gaps(ratings, us="Us", by="tier", min_n=10)
    mine = stacked[stacked["field"] == "tier"].reset_index(drop=True)
    assert list(mine["estimate"]) == pytest.approx(list(direct["estimate"]))
    assert list(mine["p_adjusted"]) == pytest.approx(list(direct["p_adjusted"]), nan_ok=True)


def test_competitor_ratings_of_no_selected_respondent_are_thin_data_not_a_crash(study) -> None:
    rows = study.market("B2B").rows
    others = study.tables["competitor_ratings"].assign(response_id=lambda d: "other-" + d["response_id"])
    with pytest.raises(ThinData, match="none of the .* competitor ratings is by a selected respondent"):
        competitors.vendor_ratings(rows, others, us="Us")
    ratings = competitors.vendor_ratings(rows, study.tables["competitor_ratings"], us="Us",
                                         segments=["tier"])
    with pytest.raises(ThinData, match="no respondent rated both 'Us' and a competitor"):
        competitors.paired_gaps(ratings[ratings["vendor"] == "Us"], us="Us")
    no_tier = ratings.assign(tier=ratings["tier"].where(ratings["vendor"] == "Us"))  # never paired
    stacked = sales.competitor_gaps_by_fields(no_tier, "Us", ["tier"], min_n=10)
    assert stacked.empty and "estimate" in stacked


def test_decision_maker_coverage_by_tier_hand_computed(study) -> None:
    now = study.now(study.b2b)
    invited = study.now(study.invitations)
    dm = sales.dm_coverage_by(now, study.accounts, "tier", invited)
    ids = set(invited["account_id"]) if len(invited) else set(now["account_id"])
    assert set(dm["base"]) == {"invited accounts" if len(invited) else "responding accounts"}
    with_dm = set(now.loc[now["role"] == "decision_maker", "account_id"])
    acc = study.accounts[study.accounts["account_id"].isin(ids)]
    for r in dm.itertuples():
        g = acc[acc["tier"].astype(str) == r.group]
        assert r.accounts == len(g)
        assert r.share == pytest.approx(100 * g["account_id"].isin(with_dm).mean())
        assert r.ci_low < r.share < r.ci_high


def test_headline_changes_use_the_same_tests_as_the_wave_changes(study) -> None:
    changes = segments.market_changes(study)
    head = headline.headline_changes(study, changes)
    prev = study.waves[study.waves.index(study.wave) - 1]
    nps = head[head["metric"] == "nps"].set_index("market")
    overall = changes[(changes["dimension"] == "all") & (changes["wave_to"] == study.wave)]
    assert nps.loc["B2B", "change"] == pytest.approx(
        overall.loc[overall["market"] == "B2B", "change"].iloc[0])
    b2b = study.market("B2B", [prev, study.wave]).rows
    direct = compare.compare_paired(b2b, "ces", compare.Panel("account_id", "wave",
                                                              (prev, study.wave)), metric="mean")
    ces = head[(head["market"] == "B2B") & (head["metric"] == "ces_mean")].iloc[0]
    assert ces["change"] == pytest.approx(direct.estimate) and ces["p_value"] == pytest.approx(direct.p)
    assert set(head["metric"]) == {"nps", "ces_mean", "ces_agree", "csat_top2"}
    first = selection.study(study.included, study.schema, study.settings, tables=study.tables,
                            wave=study.waves[0])
    assert headline.headline_changes(first, changes).empty  # no wave before the first


def _described(table: pd.DataFrame) -> pd.DataFrame:
    """Headline rows as notebook 02 writes them: each with its statistic's description."""
    measures = schema_mod.load().measures
    desc = pd.DataFrame([find_statistic(measures, k)[1].describe() for k in table["metric"]])
    return pd.concat([table.reset_index(drop=True), desc[headline.STATISTIC_COLUMNS]], axis=1)


def test_scorecard_tiles_only_for_what_the_run_has(tmp_path) -> None:
    catalog.save_result(_described(pd.DataFrame({
        "market": ["B2C", "B2C"], "metric": ["nps", "csat_top2"], "label": ["NPS", "CSAT"],
        "estimate": [12.2, 71.7], "ci_low": [3.4, 66.9], "ci_high": [20.7, 76.1],
        "n": [460, 455]})), "market_headline", tmp_path)
    catalog.save_result(pd.DataFrame({
        "market": ["B2C"], "metric": ["nps"], "wave_from": ["2026Q2"], "wave_to": ["2026Q3"],
        "change": [-9.0], "ci_low": [-15.0], "ci_high": [-3.0], "p_adjusted": [0.01],
        "significant": [True]}), "headline_changes", tmp_path)
    card = scorecard.build(summary.load_artefacts(tmp_path))
    assert [(t.market, t.name) for t in card.tiles] == [("B2C", "NPS"), ("B2C", "CSAT")]
    text = repr(card)
    assert "B2C NPS +12.2 [+3.4, +20.7] n=460; ▼ -9.0 pts since 2026Q2, significant" in text
    assert "B2C CSAT 71.7% [66.9, 76.1] n=455; no earlier wave to compare" in text
    html = card.to_html()
    assert "B2B" not in html and "CES" not in html and "cx-change-down" in html
    assert "What to fix first" not in html  # no priority matrix in this run


def test_a_tile_without_an_interval_says_why(tmp_path) -> None:
    """Every response from one account (design df 0): no CI, and the tile says so instead of '–'."""
    catalog.save_result(_described(pd.DataFrame({
        "market": ["B2B"], "metric": ["nps"], "label": ["NPS"], "estimate": [-2.5],
        "ci_low": [float("nan")], "ci_high": [float("nan")], "df": [0.0], "n": [40],
        "design": ["clustered by account"]})), "market_headline", tmp_path)
    card = scorecard.build(summary.load_artefacts(tmp_path))
    assert "every response is from one account" in card.to_html()
    assert "B2B NPS -2.5 no CI: every response is from one account" in repr(card)


def test_fix_first_takes_the_largest_what_if_gains(tmp_path) -> None:
    catalog.save_result(pd.DataFrame({
        "market": ["B2B", "B2B", "B2C", "B2B"], "driver": ["a", "b", "c", "d"],
        "share": [0.3, 0.2, 0.25, 0.1], "performance": [3.0] * 4,
        "quadrant": ["fix first", "fix first", "fix first", "maintain"]}), "drivers_priority", tmp_path)
    catalog.save_result(pd.DataFrame({
        "market": ["B2B", "B2B", "B2C", "B2B"], "driver": ["a", "b", "c", "d"],
        "estimate": [4.0, 9.0, 20.0, 30.0], "ci_low": [3.0, 8.0, 18.0, 1.0],
        "ci_high": [5.0, 10.0, 22.0, 40.0], "n": [100] * 4}), "drivers_what_if", tmp_path)
    catalog.save_result(pd.DataFrame({"market": ["B2B"], "driver": ["b"], "label": ["Set expectations"],
                                      "share": [0.2]}), "drivers_ranked", tmp_path)
    fix = scorecard.fix_first(summary.load_artefacts(tmp_path), k=2)
    assert list(fix["driver"]) == ["c", "b"]  # 'd' has the largest gain but is not 'fix first'
    assert list(fix["label"]) == ["c", "Set expectations"]


def test_absent_market_sections_are_one_line(tmp_path) -> None:
    sections = {"notebook": "02_segments", "sections": [
        {"section": "segments.account_nps", "title": "B2B NPS by account", "market": None,
         "available": False, "missing": ["B2B responses (the export has none)"]},
        {"section": "segments.trends", "title": "NPS per wave", "market": None, "available": False,
         "missing": ["at least 2 waves (this run has one)"]}]}
    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "02_segments.json").write_text(json.dumps(sections))
    finding = summary.availability_finding(summary.load_artefacts(tmp_path))
    # the summary: one line in a leader's words, linking to the analyst notes
    assert finding.text == "1 more analysis becomes available with a second survey wave"
    assert finding._repr_markdown_().endswith("; see the [analyst notes](analyst_notes.html).")
    assert "\n" not in repr(finding) and "B2B" not in repr(finding)
    # the analyst notes: the full list in schema terms, absent markets in one sentence
    from helpers.reporting import analyst_notes

    page = analyst_notes.write(tmp_path).read_text()
    assert "NPS per wave" in page and "at least 2 waves (this run has one)" in page
    assert "B2B NPS by account" not in page
    assert "This programme has no B2B responses, so its 1 B2B section(s) are left out." in page


def test_the_summary_line_names_the_commonest_needs_in_leadership_words() -> None:
    from helpers import contract
    from helpers.reporting import analyst_notes

    facts = contract.Facts(rows={"B2B": 422}, fields={"B2B": frozenset()}, drivers={"B2B": 0},
                           stages={}, segments={"B2B": 1}, waves={"B2B": 1}, tables={})
    rows = [{"section": s, "title": s, "missing": contract.missing(s, facts)}
            for s in ("segments.account_nps", "outcomes.leaders", "segments.trends",
                      "drivers.importance", "segments.revenue_coverage")]
    line = analyst_notes.summary_line(rows)
    assert line == ("5 more analyses become available with account data, a second survey wave "
                    "and experience rating questions")
    assert "`" not in line and "schema" not in line and "_" not in line
    rows.append({"section": "drivers.journey", "title": "Journey",
                 "missing": contract.missing("drivers.journey", facts)})
    assert analyst_notes.summary_line(rows).endswith(
        "account data, a second survey wave, experience rating questions and other data")


# --- one minimum-n rule and honest changes (issue 22, point 4) ---------------------------------


def test_a_headline_below_min_n_is_words_not_a_figure(tmp_path) -> None:
    """A market with 7 responses: no large-type figure on the scorecard or in the summary text,
    while a market with enough responses keeps its figure; the run's min_n (02's metrics) rules."""
    catalog.save_result(_described(pd.DataFrame({
        "market": ["B2B", "B2C"], "metric": ["nps", "nps"], "label": ["NPS", "NPS"],
        "estimate": [14.3, 12.2], "ci_low": [-33.0, 3.4], "ci_high": [60.0, 20.7],
        "n": [7, 460]})), "market_headline", tmp_path)
    catalog.save_metrics({"wave": "2026Q3", "min_n": 10, **{
        f"nps_{m.lower()}": {"estimate": e, "ci_low": lo, "ci_high": hi, "n": n,
                             **find_statistic(schema_mod.load().measures, "nps")[1].describe()}
        for m, e, lo, hi, n in (("B2B", 14.3, -33.0, 60.0, 7), ("B2C", 12.2, 3.4, 20.7, 460))}},
        "02_segments", tmp_path)
    art = summary.load_artefacts(tmp_path)
    card = scorecard.build(art)
    b2b, b2c = card.tiles
    assert b2b.too_few and not b2c.too_few
    html = card.to_html()
    assert "too few responses for a headline (n = 7)" in html and "+14.3" not in html
    assert '<p class="cx-tile-value">+12.2</p>' in html
    assert "B2B NPS too few responses for a headline (n = 7) 95% CI in the segments report" in repr(card)
    finding = summary.headline_finding(art)
    assert "NPS: too few responses for a headline (n = 7)" in finding.text
    assert "+14.3" not in finding.text and list(finding.table["label"]) == ["B2C NPS"]
    # the same rule at another setting: 460 responses are too few under min_n = 500
    assert all(t.too_few for t in scorecard.build(art, min_n=500).tiles)


def test_the_analysis_page_keeps_the_interval_of_a_small_headline() -> None:
    from helpers.reporting import views

    head = _described(pd.DataFrame({
        "market": ["B2B", "B2C"], "metric": ["nps", "nps"], "label": ["NPS", "NPS"],
        "estimate": [14.3, 12.2], "ci_low": [-33.0, 3.4], "ci_high": [60.0, 20.7], "n": [7, 460]}))
    table = views.headline(head, min_n=10).to_frame().set_index("Market")
    assert table.loc["Business (B2B)", "Estimate"] == "too few responses for a headline (n = 7)"
    assert table.loc["Business (B2B)", "95% CI"] == "[-33.0, +60.0]"
    assert table.loc["Consumer (B2C)", "Estimate"] == "+12.2"


def test_a_change_tile_says_what_it_compares(tmp_path) -> None:
    """Paired (B2B): the tile names the accounts in both waves; joint design (B2C): the two
    waves' own figures, nothing added; a wave below min_n: no change figure."""
    catalog.save_result(_described(pd.DataFrame({
        "market": ["B2B", "B2B", "B2C"], "metric": ["nps", "csat_top2", "nps"],
        "label": ["NPS", "CSAT", "NPS"], "estimate": [6.2, 61.0, 12.2],
        "ci_low": [-2.0, 55.0, 3.4], "ci_high": [14.0, 67.0, 20.7], "n": [300, 300, 460]})),
        "market_headline", tmp_path)
    catalog.save_result(pd.DataFrame({
        "market": ["B2B", "B2B", "B2C"], "metric": ["nps", "csat_top2", "nps"],
        "wave_from": ["2012Q3"] * 3, "wave_to": ["2012Q4"] * 3, "change": [-0.8, 2.0, -4.7],
        "ci_low": [-9.0, -3.0, -12.0], "ci_high": [7.4, 7.0, 2.6], "p_adjusted": [0.9, 0.5, 0.4],
        "significant": [False] * 3, "n_from": [280, 6, 470], "n_to": [300, 300, 460],
        "n_units": [38, 5, None],
        "test": ["paired (same units in both waves)", "paired (same accounts in both waves)",
                 "joint design (domains, covariance included)"]}), "headline_changes", tmp_path)
    nps_b2b, csat_b2b, nps_b2c = scorecard.build(summary.load_artefacts(tmp_path)).tiles
    assert nps_b2b.change_text() == ("▼ -0.8 pts since 2012Q3 (38 accounts that answered both "
                                     "waves), not significant")
    assert nps_b2c.change_text() == "▼ -4.7 pts since 2012Q3, not significant"
    assert csat_b2b.change_text() == "no change shown: too few responses in 2012Q3"


def test_headline_changes_match_the_trend_or_name_the_accounts(study, tmp_path) -> None:
    """On the sample: the B2C change tile is the difference of the trend chart's two points
    (same estimator); the B2B tile, paired, says on how many accounts."""
    changes = segments.market_changes(study)
    head = headline.headline_changes(study, changes)
    trend = segments.market_trends(study).set_index(["market", "wave"])
    prev = study.waves[study.waves.index(study.wave) - 1]
    nps = head[head["metric"] == "nps"].set_index("market")
    assert nps.loc["B2C", "change"] == pytest.approx(
        trend.loc[("B2C", study.wave), "nps"] - trend.loc[("B2C", prev), "nps"])
    catalog.save_result(headline.market_headline(study), "market_headline", tmp_path)
    catalog.save_result(head, "headline_changes", tmp_path)
    tile = next(t for t in scorecard.build(summary.load_artefacts(tmp_path)).tiles
                if (t.market, t.metric) == ("B2B", "nps"))
    assert f"({int(nps.loc['B2B', 'n_units'])} accounts that answered both waves)" in tile.change_text()


def test_no_driver_analysis_names_its_cause_not_responses() -> None:
    """422 responses without driver items: the drivers page says it lacks driver items (the
    gate's cause), not that no market has enough responses."""
    from helpers import contract
    from helpers.reporting import cards, views

    facts = contract.Facts(rows={"B2B": 422}, fields={"B2B": frozenset()}, drivers={"B2B": 0},
                           stages={}, segments={"B2B": 1}, waves={"B2B": 1}, tables={})
    gate = cards.Gate("03_promoter_drivers", facts)
    assert not gate.open("drivers.importance", "B2B", show=False)
    text = views.selection_sentence({}, {}, {}, gate.lacking("drivers.importance"))
    assert text.startswith("No driver analysis in this run: it needs at least 2 driver items")
    assert "enough responses" not in text


def test_a_small_market_gets_words_on_every_tile_and_dashes_in_its_segments(study, tmp_path) -> None:
    """The sample with only 7 B2B responses in the reported wave: the segment tables suppress
    every B2B cell (n < min_n), and the 02 headline table, the scorecard and the summary say
    'too few responses for a headline (n = 7)' instead of a figure: one rule."""
    resp = study.included
    now_b2b = resp[(resp["market"] == "B2B") & (resp["wave"].astype(str) == study.wave)]
    keep = resp.drop(index=now_b2b.index[7:])
    small = selection.study(keep, study.schema, study.settings, tables=study.tables, wave=study.wave)
    head = headline.market_headline(small)
    assert set(head.loc[head["market"] == "B2B", "n"]) == {7}
    seg = segments.market_segments(small, min_n=10)
    assert seg.loc[seg["market"] == "B2B", "suppressed"].all()
    from helpers.reporting import views

    shown = views.headline(head, min_n=10).to_frame()
    assert (shown.loc[shown["Market"] == "Business (B2B)", "Estimate"]
            == "too few responses for a headline (n = 7)").all()
    catalog.save_result(head, "market_headline", tmp_path)
    catalog.save_metrics({"wave": small.wave, "min_n": 10, **headline.headline_metrics(head)},
                         "02_segments", tmp_path)
    art = summary.load_artefacts(tmp_path)
    card = scorecard.build(art)
    assert all(t.too_few == (t.market == "B2B") for t in card.tiles)
    assert "**B2B**: NPS: too few responses for a headline (n = 7)" in summary.headline_finding(art).text


def test_a_card_on_a_leadership_page_speaks_a_leaders_words() -> None:
    from helpers import contract
    from helpers.reporting import cards

    facts = contract.Facts(rows={"B2B": 422}, fields={"B2B": frozenset()}, drivers={"B2B": 0},
                           stages={}, segments={"B2B": 1}, waves={"B2B": 1}, tables={})
    lacking = contract.missing("drivers.journey", facts)
    analyst = cards.card_html("Quarter-end deals", lacking)
    leader = cards.card_html("Quarter-end deals", lacking, leadership=True)
    assert "stages: {implementation: &lt;group&gt;}" in analyst      # schema terms for analysts
    assert "It needs account data, deal dates, go-live dates and journey-stage questions" in leader
    assert "schema" not in leader and "`" not in leader and 'href="analyst_notes.html"' in leader


def test_text_ids_found_by_arrow_as_get_indexer_finds_them():
    ids = pd.Index(pd.array(["r3", "r1", "r2"], dtype="string"))
    values = pd.Series(["r2", None, "r9", "r3", "r3"], dtype="string")
    assert list(competitors._positions(ids, values)) == list(ids.get_indexer(values)) == [2, -1, -1, 0, 0]
    assert list(competitors._positions(pd.Index(["a", "b"]), pd.Series(["b", "x"]))) == [1, -1]


def test_summary_reads_only_what_it_declares(tmp_path) -> None:
    """A notebook the summary does not wait for (07, 09) may or may not have finished when it
    runs: what it wrote must not reach the summary, its sources table included."""
    catalog.save_metrics({"wave": "2026Q3"}, "02_segments", tmp_path)
    catalog.save_metrics({"separators": 3}, "07_sales_briefing", tmp_path)
    catalog.save_result(pd.DataFrame({"x": [1]}), "nps_trend", tmp_path)
    catalog.save_result(pd.DataFrame({"x": [1]}), "follow_up_effect", tmp_path)
    catalog.save_result(pd.DataFrame({"x": [1]}), "sales_coverage", tmp_path)
    art = summary.load_artefacts(tmp_path)
    assert set(art.metrics) == {"02_segments"} and set(art.tables) == {"nps_trend"}
    assert "02_segments" in repr(summary.sources(art)) and "07_sales" not in repr(summary.sources(art))
