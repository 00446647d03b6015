"""helpers.analysis.explore: one-line questions answered with the reports' own designs, equal to
the report tables on the sample; a domain against the total (overlapping groups) checked by
simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import paths
from helpers.analysis import explore, headline, segments
from helpers.errors import ArgumentError
from helpers.stats.design import Design

needs_sample = pytest.mark.skipif(not (paths.PROCESSED_DIR / "responses.parquet").exists(),
                                  reason="needs the cleaned sample (make test-data)")


@pytest.fixture(scope="module")
def study():
    return explore.open_study()


@needs_sample
def test_nps_by_a_field_is_the_reports_segment_table(study) -> None:
    mine = study.market("B2B", "reported").estimate("nps", by="region").set_index("region")
    seg = segments.market_segments(study)
    report = seg[(seg["market"] == "B2B") & (seg["dimension"] == "region")].set_index("segment")
    for col_mine, col_report in (("estimate", "nps"), ("se", "se"), ("ci_low", "ci_low"),
                                 ("ci_high", "ci_high"), ("n", "n"), ("df", "df")):
        np.testing.assert_allclose(mine[col_mine].to_numpy(float),
                                   report.loc[mine.index, col_report].to_numpy(float), rtol=1e-12)
    assert (mine["ci_method"].str.startswith("t interval with the design df")).all()


@needs_sample
def test_every_headline_statistic_is_the_reports_headline(study) -> None:
    head = headline.market_headline(study).set_index(["market", "metric"])
    for market in study.markets:
        sel = study.market(market, "reported")
        for stat in [s for m in sel.measures for s in m.statistics]:
            row = sel.estimate(stat.key).iloc[0]
            want = head.loc[(market, stat.key)]
            assert (row["estimate"], row["se"], row["ci_low"], row["ci_high"], row["n"]) == \
                pytest.approx((want["estimate"], want["se"], want["ci_low"], want["ci_high"],
                               want["n"]), rel=1e-12)
            assert row["label"] == want["label"]


@needs_sample
def test_changes_are_the_reports_changes_and_say_how(study) -> None:
    heads = headline.headline_changes(study, segments.market_changes(study)).set_index(
        ["market", "metric"])
    for market, stat in (("B2B", "nps"), ("B2B", "ces_mean"), ("B2C", "nps"), ("B2C", "ces_agree")):
        got = study.change(market, stat).iloc[0]
        want = heads.loc[(market, stat)]
        assert (got["change"], got["ci_low"], got["ci_high"], got["p_value"]) == pytest.approx(
            (want["change"], want["ci_low"], want["ci_high"], want["p_value"]), rel=1e-9)
        assert got["wave_to"] == study.wave and "own figures are" in got["note"]
    assert "units that answered in both" in study.change("B2B").iloc[0]["note"]


@needs_sample
def test_domains_are_expressions_or_masks_never_row_subsets(study) -> None:
    b2b = study.market("B2B", "reported")
    by_text = b2b.estimate("csat_top2", domain="role == 'decision_maker'")
    by_mask = b2b.estimate("csat_top2", domain=b2b.rows["role"] == "decision_maker")
    assert by_text.equals(by_mask)
    subset = b2b.rows[b2b.rows["role"] == "decision_maker"]
    csat = next(m for m in b2b.measures if m.key == "csat")
    alone = headline.estimate(csat, csat.headline, subset["csat"],
                              design=Design.from_frame(subset, cluster="account_id"))
    assert by_text["estimate"].iloc[0] == pytest.approx(alone.estimate)
    assert by_text["df"].iloc[0] >= alone.df   # the domain keeps the whole design's PSUs
    with pytest.raises(ArgumentError, match="domain"):
        b2b.estimate("nps", domain="no_such_column > 1")
    with pytest.raises(ArgumentError, match="no statistic 'nps_b2b'"):
        b2b.estimate("nps_b2b")


@needs_sample
def test_named_wave_selections(study) -> None:
    assert study.market("B2B", "reported").waves == (study.wave,)
    assert study.market("B2B", "latest").waves == (study.waves[-1],)
    assert study.market("B2B", "previous").waves == (study.waves[study.waves.index(study.wave) - 1],)
    assert study.market("B2B", "all").waves == tuple(study.waves)


@needs_sample
def test_contrasts_by_label(study) -> None:
    b2b = study.market("B2B", "reported")
    dm = b2b.estimate("nps", domain="role == 'decision_maker'").iloc[0]["estimate"]
    rest = b2b.estimate("nps", domain="role != 'decision_maker'").iloc[0]["estimate"]
    total = b2b.estimate("nps").iloc[0]["estimate"]
    assert b2b.contrast("nps", "role", "decision_maker").iloc[0]["difference"] == pytest.approx(dm - rest)
    vs_all = b2b.contrast("nps", "role", "decision_maker", "all").iloc[0]
    assert vs_all["difference"] == pytest.approx(dm - total)
    assert 0 < vs_all["se"] < b2b.contrast("nps", "role", "decision_maker").iloc[0]["se"]


def test_domain_against_the_total_has_the_right_standard_error() -> None:
    """Simulated clustered samples: the linearised SE of (domain mean - total mean) matches the
    spread of that difference across 400 samples (within 10 %), and its 95% interval covers."""
    rng = np.random.default_rng(5)
    diffs, ses, covered = [], [], 0
    for _ in range(400):
        k = np.repeat(np.arange(60), 4)
        effect = rng.normal(0, 1, 60)[k]
        inside = rng.random(k.size) < 0.3
        y = 2.0 * inside + effect + rng.normal(0, 1, k.size)
        rows = pd.DataFrame({"y": y, "g": np.where(inside, "a", "b"), "account_id": k})
        r = explore._against_total(Design.from_frame(rows, cluster="account_id"), y, inside)
        diffs.append(r.estimate)
        ses.append(r.se)
        truth = 2.0 * (1 - 0.3)
        covered += r.ci[0] <= truth <= r.ci[1]
    assert np.mean(ses) == pytest.approx(np.std(diffs, ddof=1), rel=0.10)
    assert 0.92 <= covered / 400 <= 0.98


@needs_sample
def test_top_drivers_are_the_reports_ranking(study) -> None:
    from helpers import config
    from helpers.analysis import importance
    from helpers.analysis.modelling import Bootstrap

    p = config.notebook_params("03_promoter_drivers")
    top = explore.drivers(study, "B2C", k=3)
    rows = study.market("B2C", p["waves"]).rows
    items = [i for i in study.schema.driver_items("B2C") if rows[i].notna().any()]
    report = importance.ranked_table({"B2C": importance.shapley_importance(
        rows, "ltr", items, bootstrap=Bootstrap(p["n_boot"], seed=p["seed"]),
        cluster="contact_unit", weights="weight")}, study.schema.driver_labels())
    assert list(top["driver"]) == list(report["driver"].head(3))
    assert top["share"].to_numpy() == pytest.approx(report["share"].head(3).to_numpy())


@needs_sample
def test_p_adjusted_names_its_family(study) -> None:
    changes = segments.market_changes(study)
    assert changes["fdr_family"].str.startswith("every wave change of the run").all()
    heads = headline.headline_changes(study, changes)
    assert heads.loc[heads["metric"] != "nps", "fdr_family"].str.contains("other than NPS").all()


@needs_sample
def test_an_option_out_of_range_is_one_line_not_a_traceback(capsys) -> None:
    from helpers import cli

    assert cli.main(["drivers", "--market", "B2B", "--boot", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("cx drivers: error: argument 'n': -1 resamples")


@needs_sample
def test_median_and_association_use_the_markets_design(study) -> None:
    """explore.quantile / "median ltr" and explore.association are the R-checked
    stats.quantiles / stats.tests (tests/test_survey_models.py) on the market's design, every
    group a domain of it."""
    from helpers.stats import quantiles, tests

    for market in study.markets:
        sel = study.market(market, "reported")
        by = "region" if "region" in sel.rows else sel.rows.columns[0]
        got = sel.estimate("median ltr", by=by).set_index(by)
        for key, row in got.iterrows():
            inside = (sel.rows[by] == key).to_numpy()
            want = quantiles.survey_quantile(sel.rows["ltr"], sel.design, [0.5],
                                             domain=inside)[0]
            assert (row["estimate"], row["ci_low"], row["ci_high"], row["df"]) == \
                pytest.approx((want.estimate, want.ci[0], want.ci[1], want.df), nan_ok=True)
        assert (got["statistic"] == "median ltr").all()
        assoc = explore.association(sel, by).iloc[0]
        category = pd.cut(sel.rows["ltr"], [-1, 6, 8, 10], labels=["d", "p", "r"])
        want_f = tests.survey_chisq(category, sel.rows[by], sel.design)
        assert (assoc["f"], assoc["ndf"], assoc["p_value"]) == pytest.approx(
            (want_f.statistic, want_f.ndf, want_f.p_value), rel=1e-9)
    with pytest.raises(ArgumentError, match="mean"):
        explore.association(study.market("B2B", "reported"), "region", "ces_mean")
