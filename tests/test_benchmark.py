"""Tests for helpers.analysis.market_backtest, helpers.analysis.competitors and helpers.sample.market_data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import catalog, paths
from helpers.analysis import competitors, market_backtest
from helpers.errors import ArgumentError, DataError
from helpers.reporting import charts
from helpers.sample import market_data

# S&P 500 calendar-year total returns 2007-2013, tests/data/README.md (Watermark study).
SP500_TR = [5.49, -37.00, 26.46, 15.06, 2.11, 16.00, 32.39]
# S&P 500 year-end closing levels 2006-2013 (S&P Dow Jones Indices, price index, no dividends):
# the README's price-only figures (+0.6% to 2012, +30.3% to 2013) follow from these.
SP500_CLOSE = [1418.30, 1468.36, 903.25, 1115.10, 1257.64, 1257.60, 1426.19, 1848.36]
YEAR_ENDS = pd.to_datetime([f"{y}-12-31" for y in range(2006, 2014)])


def _index(tickers: list[str], years=range(2007, 2014)) -> pd.DataFrame:
    """A CX index listing `tickers` best first every year."""
    return pd.DataFrame([{"year": y, "company": f"Co {t}", "ticker": t, "rank": r + 1}
                         for y in years for r, t in enumerate(tickers)])


def _tr_prices(tickers: list[str]) -> pd.DataFrame:
    level = 100 * np.cumprod([1.0] + [1 + r / 100 for r in SP500_TR])
    return pd.concat([pd.DataFrame({"date": YEAR_ENDS, "ticker": t, "total_return": level})
                      for t in tickers], ignore_index=True)


def _cum(res: market_backtest.BacktestResult, which: str) -> float:
    s = res.summary.set_index("portfolio")["cumulative_return"]
    return float(s[[p for p in s.index if p.startswith(which)][0]])


@pytest.mark.parametrize(("end", "published"), [(2012, 0.145), (2013, 0.515)])
def test_benchmark_matches_watermark_published_sp500(end: int, published: float) -> None:
    """Watermark: S&P 500 +14.5% (2007-2012) and +51.5% (2007-2013; 51.6% compounded)."""
    res = market_backtest.backtest(_index(["A", "B"]), _tr_prices(["SPX", "A", "B"]), top_n=1,
                             benchmark="SPX", years=(2007, end))
    assert _cum(res, "Benchmark") == pytest.approx(published, abs=0.0015)
    assert not res.price_only
    assert res.summary["years"].iloc[0] == end - 2006


def test_price_plus_dividends_reinvested_equals_total_return() -> None:
    """Year-end price levels plus the dividend implied by TR - price return give the TR figure."""
    close = np.array(SP500_CLOSE)
    tr = np.array(SP500_TR) / 100
    div = np.r_[0.0, (1 + tr) * close[:-1] - close[1:]]
    prices = pd.concat([pd.DataFrame({"date": YEAR_ENDS, "ticker": t, "price": close,
                                      "dividend": div}) for t in ["SPX", "A"]])
    res = market_backtest.backtest(_index(["A"]), prices, top_n=1, benchmark="SPX")
    assert _cum(res, "Benchmark") == pytest.approx(0.516, abs=0.001)


def test_price_only_series_warns_and_gives_lower_figure() -> None:
    """README: a price-only S&P 500 series gives about +0.6% (2007-2012) and +30.3% (2007-2013)."""
    prices = pd.concat([pd.DataFrame({"date": YEAR_ENDS, "ticker": t, "price": SP500_CLOSE})
                        for t in ["SPX", "A"]])
    with pytest.warns(market_backtest.PriceOnlyWarning, match="understates"):
        res12 = market_backtest.backtest(_index(["A"]), prices, top_n=1, benchmark="SPX", years=(None, 2012))
    with pytest.warns(market_backtest.PriceOnlyWarning):
        res13 = market_backtest.backtest(_index(["A"]), prices, top_n=1, benchmark="SPX")
    assert _cum(res12, "Benchmark") == pytest.approx(0.006, abs=0.001)
    assert _cum(res13, "Benchmark") == pytest.approx(0.303, abs=0.001)
    assert res13.price_only and any("understates" in n for n in res13.notes)
    zero = prices.assign(dividend=0.0)
    with pytest.warns(market_backtest.PriceOnlyWarning, match="No company"):
        assert market_backtest.backtest(_index(["A"]), zero, top_n=1, benchmark="SPX").price_only


def test_equal_weights_buy_and_hold_and_rank_or_score() -> None:
    """Top-2 of 4, one year: equal start weights, so the year return is the mean of the two."""
    d = pd.to_datetime(["2019-12-31", "2020-06-30", "2020-12-31"])
    levels = {"A": [100, 150, 120], "B": [50, 40, 60], "C": [10, 10, 11], "D": [20, 10, 30],
              "X": [1, 1, 1.1]}
    prices = pd.concat([pd.DataFrame({"date": d, "ticker": t, "total_return": v})
                        for t, v in levels.items()])
    by_score = pd.DataFrame({"year": 2020, "ticker": list("ABCD"), "score": [90, 80, 20, 10]})
    res = market_backtest.backtest(by_score, prices, top_n=2, benchmark="X")
    y = res.yearly.set_index("portfolio")["return"]
    assert y["Leaders (top 2)"] == pytest.approx((0.2 + 0.2) / 2)
    assert y["Laggards (bottom 2)"] == pytest.approx((0.1 + 0.5) / 2)
    lead = res.series[res.series["portfolio"] == "Leaders (top 2)"]["value"].to_numpy()
    np.testing.assert_allclose(lead, [1.0, (1.5 + 0.8) / 2, 1.2])
    lag = res.series[res.series["portfolio"] == "Laggards (bottom 2)"]["value"].to_numpy()
    np.testing.assert_allclose(lag, [1.0, (1.0 + 0.5) / 2, (1.1 + 1.5) / 2])
    dd = res.summary.set_index("portfolio")["max_drawdown"]
    assert dd["Laggards (bottom 2)"] == pytest.approx(-0.25)
    assert dd["Leaders (top 2)"] == 0.0
    by_rank = by_score.assign(rank=[4, 3, 2, 1])
    flipped = market_backtest.backtest(by_rank, prices, top_n=2, benchmark="X")
    assert flipped.yearly.set_index("portfolio")["return"]["Leaders (top 2)"] == pytest.approx(0.3)


def test_delisted_held_as_cash_and_late_listing_reported() -> None:
    d = pd.bdate_range("2019-12-02", "2020-12-31")
    flat = pd.DataFrame({"date": d, "ticker": "X", "total_return": 100.0})
    dead = pd.DataFrame({"date": d[d <= "2020-03-31"], "ticker": "A",
                         "total_return": np.linspace(100, 80, (d <= "2020-03-31").sum())})
    late = pd.DataFrame({"date": d[d >= "2020-05-01"], "ticker": "B", "total_return": 10.0})
    ok = pd.DataFrame({"date": d, "ticker": "C", "total_return": np.linspace(50, 60, len(d))})
    cx = pd.DataFrame({"year": 2020, "company": ["Aco", "Bco", "Cco"], "ticker": ["A", "B", "C"],
                       "rank": [1, 2, 3]})
    res = market_backtest.backtest(cx, pd.concat([flat, dead, late, ok]), top_n=3, benchmark="X")
    ev = res.events[res.events["portfolio"] == "Leaders (top 3)"].set_index("ticker")
    assert set(ev.index) == {"A", "B"}
    assert ev.loc["A", "event"] == market_backtest.CASH_RULE
    assert ev.loc["A", "date"] == pd.Timestamp("2020-03-31")
    assert ev.loc["B", "event"] == market_backtest.NO_START_RULE
    lead = res.yearly.set_index("portfolio").loc["Leaders (top 3)"]
    assert lead["n_holdings"] == 2
    a0 = dead["total_return"][dead["date"] <= "2019-12-31"].iloc[-1]
    assert lead["return"] == pytest.approx((80 / a0 - 1 + 60 / ok["total_return"][ok["date"] <= "2019-12-31"].iloc[-1] - 1) / 2)


def test_lag_one_holds_previous_years_list() -> None:
    d = pd.to_datetime(["2019-12-31", "2020-12-31", "2021-12-31"])
    prices = pd.concat([pd.DataFrame({"date": d, "ticker": t, "total_return": v})
                        for t, v in {"A": [1, 2, 2], "B": [1, 1, 3], "X": [1, 1, 1]}.items()])
    cx = pd.DataFrame({"year": [2020, 2020, 2021, 2021], "ticker": ["A", "B", "B", "A"],
                       "rank": [1, 2, 1, 2]})
    same = market_backtest.backtest(cx, prices, top_n=1, benchmark="X")
    assert same.yearly.query("portfolio == 'Leaders (top 1)'")["return"].tolist() == [1.0, 2.0]
    lagged = market_backtest.backtest(cx, prices, top_n=1, benchmark="X", lag=1)
    assert lagged.yearly.query("portfolio == 'Leaders (top 1)'")["return"].tolist() == [0.0]
    assert (lagged.first_year, lagged.last_year) == (2021, 2021)
    short = prices[prices["date"] < "2021-07-01"]
    part = market_backtest.backtest(cx, pd.concat([short, prices.iloc[[0]].assign(
        date=pd.Timestamp("2021-06-30"))]).drop_duplicates(["ticker", "date"]), top_n=1,
        benchmark="X")
    assert any("partial holding year" in n for n in part.notes)


def test_bad_inputs_raise_dataerror() -> None:
    prices = _tr_prices(["SPX", "A"])
    with pytest.raises(DataError, match="benchmark"):
        market_backtest.backtest(_index(["A"]), prices, top_n=1, benchmark="NOPE")
    with pytest.raises(DataError, match="rank"):
        market_backtest.backtest(_index(["A"]).drop(columns="rank"), prices, top_n=1, benchmark="SPX")
    with pytest.raises(DataError, match="top_n"):
        market_backtest.backtest(_index(["A"]), prices, top_n=2, benchmark="SPX")
    with pytest.raises(DataError, match="listed twice"):
        market_backtest.backtest(pd.concat([_index(["A"]), _index(["A"])]), prices, top_n=1,
                           benchmark="SPX")
    with pytest.raises(DataError, match="total_return"):
        market_backtest.backtest(_index(["A"]), prices.assign(total_return=-1.0), top_n=1,
                           benchmark="SPX")
    with pytest.raises(ArgumentError, match="top_n"):   # bad calls, not bad data
        market_backtest.backtest(_index(["A"]), prices, top_n=0, benchmark="SPX")
    with pytest.raises(ArgumentError, match="price_type"):
        market_backtest.backtest(_index(["A"]), prices, top_n=1, benchmark="SPX",
                                 price_type="close")


@pytest.fixture(scope="module")
def market():
    cx, prices, truth = market_data.make_market_sample(7)
    return cx, prices, truth, market_backtest.backtest(cx, prices, top_n=truth["top_n"],
                                                 benchmark=truth["benchmark"])


def test_synthetic_market_shape_and_determinism(market) -> None:
    cx, prices, truth, _ = market
    assert truth["synthetic"] is True
    assert list(cx.columns) == ["year", "company", "ticker", "score", "rank"]
    assert list(prices.columns) == ["date", "ticker", "price", "dividend"]
    assert cx.groupby("year").size().eq(truth["n_companies_per_year"]).all()
    assert (cx.groupby("year")["rank"].apply(lambda r: sorted(r) == list(range(1, 41)))).all()
    assert set(cx["year"]) == set(range(2007, 2025))
    paid = prices[(prices["dividend"] > 0) & (prices["date"].dt.year == 2020)]
    assert paid.groupby("ticker").size().eq(4).all() and "BENCH-TR" not in set(paid["ticker"])
    assert prices["date"].dt.day_of_week.max() <= 4
    cx2, prices2, _ = market_data.make_market_sample(7)
    pd.testing.assert_frame_equal(cx, cx2)
    pd.testing.assert_frame_equal(prices, prices2)


def test_backtest_recovers_planted_leader_premium(market) -> None:
    """Planted: leaders drift LEADER_PREMIUM per year above laggards; the CI must cover it."""
    _, _, truth, res = market
    ex = res.excess.set_index("comparison").iloc[0]
    assert ex["ci_low"] > 0
    assert ex["ci_low"] < truth["leader_premium_annual"] < ex["ci_high"]
    assert _cum(res, "Leaders") > _cum(res, "Benchmark") > _cum(res, "Laggards")


def test_synthetic_delisting_and_entrant_are_reported(market) -> None:
    _, _, truth, res = market
    gone = truth["delisted"][0]
    ev = res.events[res.events["ticker"] == gone["ticker"]]
    assert len(ev) == 1 and ev["event"].iloc[0] == market_backtest.CASH_RULE
    assert ev["date"].iloc[0] == pd.Timestamp(gone["last_date"])
    new = truth["entered"][0]
    held = res.holdings[res.holdings["ticker"] == new["ticker"]]
    assert held.empty or held["year"].min() >= new["first_index_year"]
    assert not res.holdings["return"].isna().any()


def test_plot_cumulative_labels() -> None:
    import matplotlib.pyplot as plt

    res = market_backtest.backtest(_index(["A", "B"]), _tr_prices(["SPX", "A", "B"]), top_n=1,
                             benchmark="SPX")
    ax = charts.backtest_cumulative(res)
    assert len(ax.get_lines()) == 4  # three portfolios and the zero line
    note = ax.figure.texts[-1].get_text()
    assert "total returns" in note and "n=7 years" in note
    assert ax.get_title().endswith("2007-2013")
    assert "+52%" in [t.get_text() for t in ax.texts]
    plt.close(ax.figure)


def test_no_warning_with_dividends(market) -> None:
    cx, prices, truth, _ = market
    with warnings.catch_warnings():
        warnings.simplefilter("error", market_backtest.PriceOnlyWarning)
        small = cx[cx["year"] <= 2008]
        market_backtest.backtest(small, prices[prices["date"] < "2009-01-01"], top_n=10)


# --------------------------------------------------------------------------- competitor benchmark
# R datasets::sleep (Student 1908); R `t.test(extra[1:10], extra[11:20], paired = TRUE)`:
# mean difference -1.58, t = -4.0621, df = 9, p = 0.002833, 95% CI -2.4598858 to -0.7001142.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_paired_difference_matches_r_paired_t_test() -> None:
    res = competitors.paired_mean_difference(np.subtract(SLEEP_1, SLEEP_2))
    assert res["estimate"] == pytest.approx(-1.58)
    assert res["t"] == pytest.approx(-4.0621, abs=1e-4)
    assert res["p_value"] == pytest.approx(0.002833, abs=1e-6)
    assert res["ci_low"] == pytest.approx(-2.4598858, abs=1e-6)
    assert res["ci_high"] == pytest.approx(-0.7001142, abs=1e-6)


def _ratings(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Respondents in 40 accounts rate us and two rivals; rival ratings follow ours (same raters)."""
    rng = np.random.default_rng(seed)
    ltr = np.clip(np.rint(rng.normal(8, 2, n)), 0, 10)
    resp = pd.DataFrame({"response_id": [f"r{i}" for i in range(n)], "include": True,
                         "market": "B2B", "wave": "2026Q3", "ltr": ltr,
                         "account_id": [f"A{i % 40}" for i in range(n)],
                         "region": np.where(np.arange(n) % 2 == 0, "NA", "EMEA")})
    comp = pd.concat([
        pd.DataFrame({"response_id": resp["response_id"], "vendor": "Better",
                      "ltr": np.clip(ltr + 1, 0, 10)}),
        pd.DataFrame({"response_id": resp["response_id"], "vendor": "Same", "ltr": ltr}),
    ])
    return resp, comp


def test_paired_gaps_verdicts_and_chart() -> None:
    import matplotlib.pyplot as plt

    resp, comp = _ratings()
    rat = competitors.vendor_ratings(resp, comp, us="Us")
    assert set(rat["vendor"]) == {"Us", "Better", "Same"} and (rat["cluster"].str[0] == "A").all()
    gaps = competitors.paired_gaps(rat, us="Us").set_index("competitor")
    assert gaps.loc["Better", "verdict"] == "lag" and gaps.loc["Better", "ci_high"] < 0
    assert gaps.loc["Same", "estimate"] == 0 and gaps.loc["Same", "verdict"] == "no clear difference"
    assert gaps.loc["Better", "n_clusters"] == 40
    by = competitors.paired_gaps(rat, us="Us", by="region")
    assert len(by) == 4 and set(by["region"]) == {"NA", "EMEA"}
    pairs = competitors.all_pairs(rat).set_index(["vendor_a", "vendor_b"])
    assert len(pairs) == 3
    assert pairs.loc[("Better", "Us"), "estimate"] == pytest.approx(-gaps.loc["Better", "estimate"])
    assert pairs.loc[("Better", "Us"), "se"] == pytest.approx(gaps.loc["Better", "se"])
    assert pairs.loc[("Better", "Same"), "significant"]
    nps = competitors.vendor_nps(rat, us="Us")
    assert nps["vendor"].iloc[0] == "Us" and {"ci_low", "ci_high", "n"} <= set(nps.columns)
    ax = charts.competitor_gaps(gaps.reset_index(), us="Us")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["vs Same", "vs Better"]
    plt.close(ax.figure)
    with pytest.raises(DataError, match="Them"):
        competitors.paired_gaps(rat, us="Them")



def _joined_gaps(rat: pd.DataFrame, us: str, by: str | None) -> pd.DataFrame:
    """paired_gaps' rows as a join on response ids and a groupby (the reference for the fast path)."""
    from helpers.stats import estimators
    r = rat.assign(score=estimators.nps_score(rat["ltr"], "ltr"))
    ours = r[r["vendor"] == us][["response_id", "score"]].rename(columns={"score": "s_us"})
    pairs = r[r["vendor"] != us].merge(ours, on="response_id", how="inner")
    groups = ["vendor", *([by] if by else [])]
    return pd.DataFrame([
        {**dict(zip(groups, k if isinstance(k, tuple) else (k,), strict=True)),
         "nps_us": g["s_us"].mean(), "nps_competitor": g["score"].mean(),
         **competitors.paired_mean_difference((g["s_us"] - g["score"]).to_numpy(), g["cluster"].to_numpy())}
        for k, g in pairs.groupby(groups, sort=True)]).rename(columns={"vendor": "competitor"})


@pytest.mark.parametrize("twice", [False, True])
def test_paired_gaps_and_all_pairs_equal_the_join_and_the_pivot(twice) -> None:
    from helpers.stats import estimators
    resp, comp = _ratings(n=300, seed=3)
    comp = comp.iloc[np.random.default_rng(3).permutation(len(comp))[:450]]  # not everyone rates both
    rat = competitors.vendor_ratings(resp, comp, us="Us")
    if twice:  # a respondent rating us twice pairs both ratings, as a join does
        rat = pd.concat([rat, rat[rat["vendor"] == "Us"].head(5)], ignore_index=True)
    for by in (None, "region"):
        fast = competitors.paired_gaps(rat, us="Us", by=by, min_n=5)
        pd.testing.assert_frame_equal(fast[_joined_gaps(rat, "Us", by).columns], _joined_gaps(rat, "Us", by),
                                      check_exact=False, rtol=1e-12)
    wide = (rat.assign(score=estimators.nps_score(rat["ltr"], "ltr"))
            .pivot_table(index=["response_id", "cluster"], columns="vendor", values="score", aggfunc="first")
            .reset_index())
    pairs = competitors.all_pairs(rat, min_n=5).set_index(["vendor_a", "vendor_b"])
    for (a, b), row in pairs.iterrows():
        both = wide[wide[a].notna() & wide[b].notna()]
        ref = competitors.paired_mean_difference((both[a] - both[b]).to_numpy(), both["cluster"].to_numpy())
        assert row["nps_a"] == pytest.approx(both[a].mean()) and row["nps_b"] == pytest.approx(both[b].mean())
        assert [row[k] for k in ("estimate", "se", "p_value", "n", "n_clusters")] == pytest.approx(
            [ref[k] for k in ("estimate", "se", "p_value", "n", "n_clusters")], rel=1e-12, nan_ok=True)

SAMPLE = paths.PROCESSED_DIR / "competitor_ratings.parquet"
TRUTH = paths.RAW_DIR / "truth.json"


@pytest.mark.skipif(not (SAMPLE.exists() and TRUTH.exists()), reason="run `cx sample` + `cx clean`")
def test_sample_competitor_nps_matches_planted_truth() -> None:
    truth = catalog.load_json("truth")
    resp = catalog.load("responses")
    rat = competitors.vendor_ratings(resp[resp["include"]], catalog.load("competitor_ratings"),
                                     us=truth["company"])
    nps = competitors.vendor_nps(rat, us=truth["company"]).set_index("vendor")
    for vendor, planted in truth["competitor_nps"].items():
        assert nps.loc[vendor, "ci_low"] - 1 < planted < nps.loc[vendor, "ci_high"] + 1, vendor
    gaps = competitors.paired_gaps(rat, us=truth["company"]).set_index("competitor")
    for vendor, shift in truth["competitor_ltr_shift"].items():
        if abs(shift) >= 0.5:  # planted LTR shift vs us: positive = they are better
            assert gaps.loc[vendor, "verdict"] == ("lag" if shift > 0 else "lead"), vendor


@settings(max_examples=10, deadline=None)
@given(st.lists(st.lists(st.floats(-0.6, 1.5), min_size=5, max_size=5), min_size=1, max_size=4),
       st.permutations(list(range(4))))
def test_yearly_returns_are_equal_weight_means_of_planted_returns(rets, order) -> None:
    """Planted yearly returns per ticker: each portfolio year = mean of its names' returns."""
    years = list(range(2001, 2001 + len(rets)))
    tickers = ["A", "B", "C", "D", "X"]
    levels = np.vstack([np.ones(5), np.cumprod(1 + np.array(rets), axis=0)])
    dates = pd.to_datetime([f"{y}-12-31" for y in [2000, *years]])
    prices = pd.DataFrame([{"date": d, "ticker": t, "total_return": levels[i, j]}
                           for i, d in enumerate(dates) for j, t in enumerate(tickers)])
    cx = pd.DataFrame([{"year": y, "ticker": tickers[k], "rank": r + 1}
                       for y in years for r, k in enumerate(order)])
    res = market_backtest.backtest(cx, prices, top_n=2, benchmark="X")
    got = res.yearly.pivot(index="year", columns="portfolio", values="return")
    r = np.array(rets)
    np.testing.assert_allclose(got["Leaders (top 2)"], r[:, order[:2]].mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(got["Laggards (bottom 2)"], r[:, order[2:]].mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(got["Benchmark (X)"], r[:, 4], atol=1e-12)
    cum = res.summary.set_index("portfolio")["cumulative_return"]
    assert cum["Benchmark (X)"] == pytest.approx(np.prod(1 + r[:, 4]) - 1)
