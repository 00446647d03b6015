"""Illustrative SYNTHETIC market data for the CX ROI backtest (no real company, no real price).

`cx sample` writes these to data/raw/cx_index.csv and data/raw/prices.csv so that notebook 04 runs
by default. Everything here is made up and labelled so (``truth["synthetic"] is True``); the planted
leader premium lets the tests check that :func:`helpers.analysis.market_backtest.backtest` recovers it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FIRST_YEAR, LAST_YEAR = 2007, 2024
N_COMPANIES = 40
TOP_N = 10
LEADER_PREMIUM = 0.06  # yearly log-drift gap, top-10 minus bottom-10 names of that year's index
MARKET_DRIFT, MARKET_VOL, IDIO_VOL = 0.07, 0.16, 0.20
BENCHMARK = "BENCH-TR"
DELIST_DATE = "2015-06-15"  # company C07 stops trading on this day (it is in the 2015 index)
ENTRANT_FIRST_YEAR, ENTRANT_FIRST_PRICE = 2016, "2014-01-02"
_DELISTED, _ENTRANT = 6, N_COMPANIES  # column positions of C07 and C41


def _ex_dates(days: pd.DatetimeIndex) -> np.ndarray:
    """Boolean mask of quarterly ex-dividend days: first business day on/after the 15th of Mar/Jun/Sep/Dec."""
    s = pd.Series(days, index=days)
    eligible = s[(s.dt.month % 3 == 0) & (s.dt.day >= 15)]
    first = eligible.groupby([eligible.dt.year, eligible.dt.month]).min()
    return days.isin(pd.DatetimeIndex(first.to_numpy()))


def make_market_sample(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """A synthetic CX index (40 companies, 2007-2024) and daily prices with quarterly dividends.

    Returns
    -------
    cx_index : year, company, ticker, score, rank (1 = best), 40 companies each year. Company C07
        stops trading mid-2015 (delisted, leaves the index after 2015); C41 replaces it from 2016
        (it trades from 2014).
    prices : date, ticker, price, dividend (cash per share on the ex-date); business days from
        December 2006 to December 2024, plus the benchmark total-return index "BENCH-TR" (dividend 0).
    truth : what was planted: "synthetic": True, leader_premium_annual, delisted, entered, ...
    """
    rng = np.random.default_rng(seed)
    tickers = [f"C{i + 1:02d}" for i in range(N_COMPANIES + 1)]
    companies = [f"Synthetic Co {i + 1:02d}" for i in range(N_COMPANIES + 1)]
    cx_index, alpha = _index_and_premium(rng, tickers, companies)
    prices = _daily_prices(rng, tickers, alpha)
    truth = {
        "synthetic": True,
        "note": "Illustrative synthetic CX index and prices; not real companies or returns.",
        "seed": int(seed),
        "years": [FIRST_YEAR, LAST_YEAR],
        "n_companies_per_year": N_COMPANIES,
        "top_n": TOP_N,
        "benchmark": BENCHMARK,
        "leader_premium_annual": LEADER_PREMIUM,
        "leader_premium_definition": ("yearly log-drift gap between the top-10 and bottom-10 "
                                      "companies of each year's index, during that year"),
        "delisted": [{"ticker": tickers[_DELISTED], "company": companies[_DELISTED],
                      "last_date": DELIST_DATE, "last_index_year": 2015}],
        "entered": [{"ticker": tickers[_ENTRANT], "company": companies[_ENTRANT],
                     "first_index_year": ENTRANT_FIRST_YEAR, "first_price_date": ENTRANT_FIRST_PRICE}],
    }
    return cx_index, prices, truth


def _index_and_premium(rng: np.random.Generator, tickers: list[str], companies: list[str]
                       ) -> tuple[pd.DataFrame, np.ndarray]:
    """The yearly CX index (scores around each company's quality) and the planted premium.

    The premium (years x companies) is the yearly log drift added to that year's top-10 names
    (+half of :data:`LEADER_PREMIUM`) and bottom-10 names (-half).
    """
    n_total = len(tickers)
    years = np.arange(FIRST_YEAR, LAST_YEAR + 1)
    quality = rng.normal(70.0, 6.0, n_total)
    quality[_DELISTED] = quality[:N_COMPANIES].min() - 4.0  # a laggard, so its exit shows up
    scores = quality[None, :] + rng.normal(0.0, 2.5, (len(years), n_total))
    member = np.ones((len(years), n_total), dtype=bool)
    member[years > 2015, _DELISTED] = False
    member[years < ENTRANT_FIRST_YEAR, _ENTRANT] = False
    rows, alpha = [], np.zeros((len(years), n_total))
    for y, year in enumerate(years):
        ids = np.flatnonzero(member[y])
        sc = np.round(scores[y, ids], 1)
        order = ids[np.lexsort((ids, -sc))]
        rank = {c: r + 1 for r, c in enumerate(order)}
        alpha[y, order[:TOP_N]] = LEADER_PREMIUM / 2
        alpha[y, order[-TOP_N:]] = -LEADER_PREMIUM / 2
        rows += [{"year": int(year), "company": companies[c], "ticker": tickers[c],
                  "score": float(np.round(scores[y, c], 1)), "rank": rank[c]} for c in ids]
    return pd.DataFrame(rows), alpha


def _daily_prices(rng: np.random.Generator, tickers: list[str], alpha: np.ndarray) -> pd.DataFrame:
    """Business-day prices and dividends: one market factor times a beta, idiosyncratic noise and
    the premium `alpha` (years x companies); the delisted name stops, the entrant starts late.
    The benchmark is the market factor's total-return index."""
    n_total = len(tickers)
    days = pd.bdate_range("2006-12-01", f"{LAST_YEAR}-12-31")
    n_days = len(days)
    market = rng.normal(MARKET_DRIFT / 252 - MARKET_VOL**2 / 504, MARKET_VOL / np.sqrt(252), n_days)
    market[0] = 0.0
    beta = rng.uniform(0.85, 1.15, n_total)
    year_pos = np.clip(days.year.to_numpy() - FIRST_YEAR, 0, len(alpha) - 1)
    day_alpha = np.where(days.year.to_numpy()[:, None] >= FIRST_YEAR, alpha[year_pos], 0.0) / 252
    idio = rng.normal(-IDIO_VOL**2 / 504, IDIO_VOL / np.sqrt(252), (n_days, n_total))
    log_tr = beta[None, :] * market[:, None] + idio + day_alpha
    log_tr[0] = 0.0
    tr_factor = np.exp(log_tr)
    yield_q = rng.uniform(0.0, 0.04, n_total) / 4
    div_frac = np.where(_ex_dates(days)[:, None], yield_q[None, :], 0.0)
    price = rng.uniform(20.0, 200.0, n_total)[None, :] * np.cumprod(tr_factor - div_frac, axis=0)
    prev = np.vstack([price[:1], price[:-1]])
    dividend = div_frac * prev

    alive = np.ones((n_days, n_total), dtype=bool)
    alive[days > pd.Timestamp(DELIST_DATE), _DELISTED] = False
    alive[days < pd.Timestamp(ENTRANT_FIRST_PRICE), _ENTRANT] = False
    di, ci = np.nonzero(alive)
    prices = pd.DataFrame({
        "date": days[di], "ticker": np.asarray(tickers)[ci],
        "price": np.round(price[di, ci], 4), "dividend": np.round(dividend[di, ci], 4),
    })
    bench = pd.DataFrame({"date": days, "ticker": BENCHMARK,
                          "price": np.round(100.0 * np.exp(np.cumsum(market)), 4), "dividend": 0.0})
    return pd.concat([bench, prices], ignore_index=True)
