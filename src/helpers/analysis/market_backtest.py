"""Market backtest: did the CX leaders beat the market? (the Watermark Consulting CX ROI method)

Each year's CX index gives an equally weighted portfolio of the top-N and one of the bottom-N
public companies, held one calendar year with dividends reinvested, rebalanced annually, and
compared with a benchmark total-return index. :func:`backtest` runs the steps in order:
total-return index per ticker, the yearly holdings, the portfolio paths, the summary statistics
and the events (delistings held as cash, late entrants not bought).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.errors import ArgumentError, DataError, require_columns
from helpers.stats.arrays import t_ppf

PRICE_ONLY_TEXT = (
    "Prices without dividends were given: every return here is a price return and understates "
    "the total return (dividends reinvested) that the Watermark method uses."
)
CASH_RULE = "stopped trading mid-year: held as cash at its last value until year end"
NO_START_RULE = "no price at the start of the holding year: not bought, weight spread over the rest"
MISSING_RULE = "no prices at all for this ticker: not bought, weight spread over the rest"


class PriceOnlyWarning(UserWarning):
    """Returns computed from prices without dividends (they understate total returns)."""


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`backtest`.

    Attributes
    ----------
    summary : one row per portfolio: cumulative_return, annualised_return, volatility (annualised),
        max_drawdown, years, start, end.
    yearly : year, portfolio, return, n_holdings, cumulative.
    series : date, portfolio, value (1.0 at the start): the cumulative-return path.
    holdings : year, portfolio, company, ticker, rank, return (each name's holding-year return).
    events : companies that could not be held for the full year and how they were handled.
    excess : mean yearly return difference (leaders - laggards, leaders - benchmark) with a t CI.
    price_only : True when dividends were missing (returns understated).
    notes : text for the report (price-only warning, ranking rule, event handling).
    """

    summary: pd.DataFrame
    yearly: pd.DataFrame
    series: pd.DataFrame
    holdings: pd.DataFrame
    events: pd.DataFrame
    excess: pd.DataFrame
    price_only: bool
    top_n: int
    benchmark: str
    lag: int
    first_year: int = 0
    last_year: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)



PRICE_TYPES = ("auto", "total_return", "dividend", "price")


def total_return_index(prices: pd.DataFrame, price_type: str = "auto") -> tuple[pd.DataFrame, bool]:
    """Wide total-return levels (dates x tickers) and whether they are price-only.

    `prices` is long: date, ticker and either `total_return` (an index level), or `price` plus
    `dividend` (cash per share, on its ex-date: reinvested at that day's close, so the day's
    factor is (price + dividend) / previous price), or `price` alone (price-only: understated).
    `price_type` forces "total_return", "dividend" or "price"; "auto" picks by columns.
    """
    if price_type not in PRICE_TYPES:
        raise ArgumentError(f"price_type={price_type!r}", argument="price_type",
                            expected=", ".join(PRICE_TYPES))
    require_columns(prices, ["date", "ticker"], "prices")
    if price_type == "auto":
        price_type = ("total_return" if "total_return" in prices.columns
                      else "dividend" if {"price", "dividend"} <= set(prices.columns) else "price")
    value_col = "total_return" if price_type == "total_return" else "price"
    require_columns(prices, [value_col], "prices")
    df = prices.assign(date=pd.to_datetime(prices["date"]), ticker=prices["ticker"].astype(str))
    level = pd.to_numeric(df[value_col], errors="coerce")
    bad = ~(level > 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"non-positive or missing value {df[value_col].iloc[i]!r}", file="prices",
                        column=value_col, row=i, expected="prices > 0")
    df = df.assign(level=level.astype(float))
    if df.duplicated(["ticker", "date"]).any():
        i = int(np.flatnonzero(df.duplicated(["ticker", "date"]).to_numpy())[0])
        raise DataError("duplicate (ticker, date)", file="prices", row=i,
                        expected="one price per ticker and day")
    df = df.sort_values(["ticker", "date"])
    if price_type == "dividend":
        div = pd.to_numeric(df["dividend"], errors="coerce").fillna(0.0).astype(float)
        prev = df.groupby("ticker")["level"].shift(1)
        factor = ((df["level"] + div) / prev).fillna(1.0)
        df = df.assign(level=factor.groupby(df["ticker"]).cumprod())
    wide = df.pivot(index="date", columns="ticker", values="level").sort_index()
    return wide, price_type == "price"


def _ranked(cx_index: pd.DataFrame, year: int) -> pd.DataFrame:
    """That year's index rows ordered best first (by `rank` if given, else by `score` descending)."""
    rows = cx_index[cx_index["year"] == year]
    if "rank" in rows.columns and rows["rank"].notna().all():
        order = rows.sort_values(["rank", "ticker"])
    else:
        order = rows.sort_values(["score", "ticker"], ascending=[False, True])
    return order


@dataclass(frozen=True)
class _Panel:
    """Total-return levels as arrays: forward-filled values and the last valid row per cell."""

    dates: pd.DatetimeIndex
    filled: np.ndarray
    last_valid: np.ndarray
    column: dict[str, int]

    @classmethod
    def of(cls, wide: pd.DataFrame) -> _Panel:
        valid = wide.notna().to_numpy()
        rows = np.where(valid, np.arange(len(wide))[:, None], -1)
        return cls(wide.index, wide.ffill().to_numpy(float), np.maximum.accumulate(rows, axis=0),
                   {str(c): i for i, c in enumerate(wide.columns)})


def _hold_year(
    panel: _Panel, tickers: list[str], year: int, grace_days: int = 7
) -> tuple[pd.Series, dict[str, float], list[dict]]:
    """Equal-weight buy-and-hold path over one calendar year, plus per-name returns and events."""
    dates = panel.dates
    i0 = int(dates.searchsorted(pd.Timestamp(year - 1, 12, 31), side="right")) - 1
    if i0 < 0:
        raise DataError(f"no prices on or before {year - 1}-12-31", file="prices", column="date",
                        expected=f"prices that start before the {year} holding year")
    i1 = int(dates.searchsorted(pd.Timestamp(year, 12, 31), side="right")) - 1
    t0, t1 = dates[i0], dates[i1]
    grace = pd.Timedelta(days=grace_days)
    events: list[dict] = []
    cols: list[int] = []
    held: list[str] = []
    for tk in tickers:
        j = panel.column.get(tk)
        if j is None:
            events.append({"ticker": tk, "event": MISSING_RULE, "date": pd.NaT})
            continue
        lv0 = panel.last_valid[i0, j]
        if lv0 < 0 or dates[lv0] < t0 - grace:
            events.append({"ticker": tk, "event": NO_START_RULE, "date": t0})
            continue
        lv1 = panel.last_valid[i1, j]
        if dates[lv1] < t1 - grace:
            events.append({"ticker": tk, "event": CASH_RULE, "date": dates[lv1]})
        cols.append(j)
        held.append(tk)
    if not cols:
        return pd.Series(dtype=float), {}, events
    window = panel.filled[i0:i1 + 1, cols]
    rel = window / window[0]
    rets = dict(zip(held, (rel[-1] - 1.0).tolist(), strict=True))
    return pd.Series(rel.mean(axis=1), index=dates[i0:i1 + 1]), rets, events


def _max_drawdown(values: np.ndarray) -> float:
    peak = np.maximum.accumulate(values)
    return float(np.min(values / peak - 1.0))


def _mean_ci(diff: np.ndarray, label: str, level: float = 0.95) -> dict:
    n = len(diff)
    est = float(np.mean(diff)) if n else np.nan
    se = float(np.std(diff, ddof=1) / np.sqrt(n)) if n > 1 else np.nan
    t = t_ppf(0.5 + level / 2, n - 1) if n > 1 else np.nan
    return {"comparison": label, "estimate": est, "se": se, "ci_low": est - t * se,
            "ci_high": est + t * se, "n": n}


def is_synthetic(cx_index: pd.DataFrame) -> bool:
    """True when the index says it is generated (a ``source`` column mentioning "synthetic")."""
    return "source" in cx_index and cx_index["source"].astype(str).str.contains(
        "synthetic", case=False).any()


def find_benchmark(cx_index: pd.DataFrame, prices: pd.DataFrame, given: str = "") -> str:
    """The benchmark ticker: `given`, else the one ticker of the prices that is not in the index."""
    if given:
        return given
    require_columns(prices, ["ticker"], "prices")
    extra = sorted(set(prices["ticker"].astype(str)) - set(cx_index["ticker"].astype(str)))
    if len(extra) != 1:
        raise DataError(f"{len(extra)} tickers of the prices are not in the CX index "
                        f"({', '.join(extra[:5]) or 'none'})", file="prices", column="ticker",
                        expected="exactly one (the benchmark total-return index), or set "
                                 "benchmark_ticker in the parameters")
    return extra[0]


def backtest(
    cx_index: pd.DataFrame,
    prices: pd.DataFrame,
    top_n: int = 10,
    benchmark: str = "BENCH-TR",
    *,
    years: tuple[int | None, int | None] = (None, None),
    lag: int = 0,
    price_type: str = "auto",
) -> BacktestResult:
    """Watermark CX ROI backtest: top-N vs bottom-N of each year's CX index vs a benchmark.

    Parameters
    ----------
    cx_index : year, ticker, and `rank` (1 = best) or `score` (higher = better); `company` optional.
    prices : long date, ticker and either price + dividend, a `total_return` level, or price only
        (then a :class:`PriceOnlyWarning` is raised, ``price_only`` is set and the notes say the
        returns are understated). Must contain the `benchmark` ticker.
    top_n : names per portfolio (Watermark: 10), equally weighted at the start of each year.
    benchmark : ticker of the benchmark total-return index.
    years : (first, last) holding year, inclusive; None: as far as the index and prices cover.
    lag : 0 (Watermark) holds year Y's list during calendar year Y (the index published for Y);
        1 holds the previous year's list (no look-ahead when the index is published late).
    price_type : "auto" (by columns), "total_return", "dividend" or "price".

    Each holding year runs from the last trading day on or before 31 Dec of Y-1 to the last on or
    before 31 Dec of Y, buy-and-hold (weights drift within the year). A name that stops trading
    mid-year is held as cash at its last value until year end; a name with no price at the start of
    the year is not bought and its weight is spread over the rest. Both appear in ``events``.
    """
    idx = _checked_index(cx_index, top_n)
    wide, price_only, notes = _total_return_panel(prices, price_type, benchmark)
    first_year, last_year = _holding_years(idx, wide, years, lag)
    labels = {"leaders": f"Leaders (top {top_n})", "laggards": f"Laggards (bottom {top_n})",
              "benchmark": f"Benchmark ({benchmark})"}
    ledger = _Ledger({k: [] for k in labels})
    panel = _Panel.of(wide)
    for year in range(first_year, last_year + 1):
        for key, rows in _yearly_holdings(idx, year - lag, top_n, notes).items():
            _hold_portfolio(ledger, panel, rows, year, key, labels[key])
        _hold_benchmark(ledger, panel, benchmark, year, labels["benchmark"])

    summary, series = _summarise(ledger.paths, labels, last_year - first_year + 1)
    yearly = _yearly_table(ledger.yearly)
    events = pd.DataFrame(ledger.events, columns=["year", "portfolio", "company", "ticker", "event",
                                                  "date", "return_to_exit"])
    notes += _closing_notes(wide, last_year, lag, len(events))
    return BacktestResult(
        summary=summary, yearly=yearly, series=series, holdings=pd.DataFrame(ledger.holdings),
        events=events, excess=_excess(yearly, labels), price_only=price_only, top_n=top_n,
        benchmark=benchmark, lag=lag, first_year=first_year, last_year=last_year, notes=tuple(notes),
    )


def _checked_index(cx_index: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """The CX index with integer years, text tickers and a company name, or a DataError."""
    require_columns(cx_index, ["year", "ticker"], "cx_index")
    if "rank" not in cx_index.columns and "score" not in cx_index.columns:
        raise DataError("neither 'rank' nor 'score' present", file="cx_index", column="rank",
                        expected="a rank (1 = best) or a score (higher = better) per company")
    if top_n < 1:
        raise ArgumentError(f"top_n={top_n}", argument="top_n",
                            expected="at least 1 company per portfolio")
    idx = cx_index.assign(year=pd.to_numeric(cx_index["year"], errors="coerce"),
                          ticker=cx_index["ticker"].astype(str))
    if idx["year"].isna().any():
        raise DataError("non-numeric year", file="cx_index", column="year",
                        row=int(np.flatnonzero(idx["year"].isna().to_numpy())[0]),
                        expected="calendar years like 2012")
    idx = idx.assign(year=idx["year"].astype(int))
    if "company" not in idx.columns:
        idx = idx.assign(company=idx["ticker"])
    dup = idx.duplicated(["year", "ticker"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"ticker {idx['ticker'].iloc[i]!r} listed twice in {idx['year'].iloc[i]}",
                        file="cx_index", column="ticker", row=i,
                        expected="one row per company and year")
    return idx


def _total_return_panel(prices: pd.DataFrame, price_type: str, benchmark: str
                        ) -> tuple[pd.DataFrame, bool, list[str]]:
    """Wide total-return levels, whether they are price-only, and the price-only note if so.

    Dividend prices in which no company pays a dividend count as price-only too. Warns with
    :class:`PriceOnlyWarning` at the caller of :func:`backtest`.
    """
    wide, price_only = total_return_index(prices, price_type)
    if benchmark not in wide.columns:
        raise DataError(f"benchmark ticker {benchmark!r} not found", file="prices", column="ticker",
                        expected="the benchmark total-return series among the tickers")
    notes: list[str] = []
    if price_only:
        warnings.warn(PRICE_ONLY_TEXT, PriceOnlyWarning, stacklevel=3)
        notes.append(PRICE_ONLY_TEXT)
    elif "total_return" not in prices.columns and price_type in ("auto", "dividend"):
        div = pd.to_numeric(prices["dividend"], errors="coerce").fillna(0.0)
        if not (div[prices["ticker"].astype(str) != benchmark] > 0).any():
            price_only = True
            text = "No company in the prices has a dividend. " + PRICE_ONLY_TEXT
            warnings.warn(text, PriceOnlyWarning, stacklevel=3)
            notes.append(text)
    return wide, price_only, notes


def _holding_years(idx: pd.DataFrame, wide: pd.DataFrame, years: tuple[int | None, int | None],
                   lag: int) -> tuple[int, int]:
    """First and last holding year: as given, else every year the index (lagged) and prices cover."""
    start_year, end_year = years
    first_year = int(idx["year"].min()) + lag if start_year is None else int(start_year)
    last_year = (min(int(idx["year"].max()) + lag, wide.index.max().year) if end_year is None
                 else int(end_year))
    if last_year < first_year:
        raise DataError(f"start_year {first_year} is after end_year {last_year}", file="cx_index",
                        column="year", expected="start_year <= end_year")
    return first_year, last_year


def _yearly_holdings(idx: pd.DataFrame, index_year: int, top_n: int, notes: list[str]
                     ) -> dict[str, pd.DataFrame]:
    """The index rows bought for one holding year: leaders best first, laggards worst first.

    Notes a year whose index is too short for the top and bottom N not to overlap.
    """
    ranked = _ranked(idx, index_year)
    if len(ranked) < top_n:
        raise DataError(f"{len(ranked)} companies in the {index_year} index", file="cx_index",
                        column="year", expected=f"at least top_n={top_n}")
    if len(ranked) < 2 * top_n:
        notes.append(f"{index_year}: only {len(ranked)} companies, top and bottom overlap.")
    return {"leaders": ranked.head(top_n), "laggards": ranked.tail(top_n).iloc[::-1]}


@dataclass
class _Ledger:
    """What the holding years produced: each portfolio's yearly paths and the table rows."""

    paths: dict[str, list[pd.Series]]
    yearly: list[dict] = field(default_factory=list)
    holdings: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)


def _hold_portfolio(ledger: _Ledger, panel: _Panel, rows: pd.DataFrame, year: int, key: str,
                    label: str) -> None:
    """Hold one portfolio (`rows` of the index) for one year; record path, return, names, events."""
    path, rets, evs = _hold_year(panel, rows["ticker"].tolist(), year)
    if path.empty:
        raise DataError(f"no {key} company has prices for {year}", file="prices",
                        column="ticker", expected="prices for the index companies")
    ledger.paths[key].append(path)
    ledger.yearly.append({"year": year, "portfolio": label,
                          "return": float(path.iloc[-1] - 1.0), "n_holdings": len(rets)})
    for r in rows.itertuples(index=False):
        ledger.holdings.append({"year": year, "portfolio": label, "company": r.company,
                                "ticker": r.ticker, "rank": getattr(r, "rank", np.nan),
                                "return": rets.get(r.ticker, np.nan)})
    comp = dict(zip(rows["ticker"], rows["company"], strict=False))
    for e in evs:
        ledger.events.append({"year": year, "portfolio": label, "company": comp.get(e["ticker"]),
                              **e, "return_to_exit": rets.get(e["ticker"], np.nan)})


def _hold_benchmark(ledger: _Ledger, panel: _Panel, benchmark: str, year: int, label: str) -> None:
    """Hold the benchmark for one year; it must have a price at the start of the year."""
    path, _, _ = _hold_year(panel, [benchmark], year)
    if path.empty:
        raise DataError(f"benchmark {benchmark!r} has no price at the start of {year}",
                        file="prices", column="ticker", expected="a complete benchmark series")
    ledger.paths["benchmark"].append(path)
    ledger.yearly.append({"year": year, "portfolio": label,
                          "return": float(path.iloc[-1] - 1.0), "n_holdings": 1})


def _chain(paths: list[pd.Series]) -> pd.Series:
    """Yearly paths (each 1.0 at its start) chained into one cumulative path."""
    chained, level = [], 1.0
    for i, p in enumerate(paths):
        seg = p * level if i == 0 else (p * level).iloc[1:]
        chained.append(seg)
        level = float(p.iloc[-1] * level)
    return pd.concat(chained)


def _summarise(paths: dict[str, list[pd.Series]], labels: dict[str, str], n_years: int
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary statistics per portfolio, and the long frame of cumulative paths."""
    series_parts, summary = [], []
    for key, label in labels.items():
        s = _chain(paths[key])
        series_parts.append(pd.DataFrame({"date": s.index, "portfolio": label, "value": s.to_numpy()}))
        per = s.to_numpy()[1:] / s.to_numpy()[:-1] - 1.0
        per_year = len(per) / n_years
        cum = float(s.iloc[-1] - 1.0)
        summary.append({
            "portfolio": label, "cumulative_return": cum,
            "annualised_return": (1.0 + cum) ** (1.0 / n_years) - 1.0,
            "volatility": float(np.std(per, ddof=1) * np.sqrt(per_year)) if len(per) > 1 else np.nan,
            "max_drawdown": _max_drawdown(s.to_numpy()), "years": n_years,
            "start": s.index[0], "end": s.index[-1],
        })
    return pd.DataFrame(summary), pd.concat(series_parts, ignore_index=True)


def _yearly_table(rows: list[dict]) -> pd.DataFrame:
    """Yearly returns per portfolio with the cumulative return to date."""
    yearly = pd.DataFrame(rows)
    yearly["cumulative"] = yearly.groupby("portfolio")["return"].transform(
        lambda r: (1.0 + r).cumprod() - 1.0)
    return yearly


def _excess(yearly: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Mean yearly return differences between the portfolios, with t intervals."""
    by = yearly.pivot(index="year", columns="portfolio", values="return")
    return pd.DataFrame([
        _mean_ci((by[labels["leaders"]] - by[labels["laggards"]]).to_numpy(),
                 "leaders - laggards (mean yearly return difference)"),
        _mean_ci((by[labels["leaders"]] - by[labels["benchmark"]]).to_numpy(),
                 "leaders - benchmark (mean yearly return difference)"),
        _mean_ci((by[labels["laggards"]] - by[labels["benchmark"]]).to_numpy(),
                 "laggards - benchmark (mean yearly return difference)"),
    ])


def _closing_notes(wide: pd.DataFrame, last_year: int, lag: int, n_events: int) -> list[str]:
    """Report notes on a partial last year, the ranking rule and the events table."""
    notes = []
    final = wide.index[wide.index <= pd.Timestamp(last_year, 12, 31)][-1]
    if final < pd.Timestamp(last_year, 12, 24):
        notes.append(f"{last_year} is a partial holding year: prices end on {final:%Y-%m-%d}.")
    rule = ("each year's index list is held during that same calendar year (Watermark)" if lag == 0
            else f"each year's holdings come from the index {lag} year(s) earlier")
    notes.append(f"Ranking: {rule}; equal weights at the start of each year, buy-and-hold, "
                 "rebalanced annually.")
    if n_events:
        notes.append(f"{n_events} holding(s) could not run the full year; see the events table "
                     "(delisted names held as cash at their last value; names without a start price "
                     "not bought).")
    return notes


VERDICT_COLORS = {"lead": "#009E73", "lag": "#D55E00", "no clear difference": "#999999",
                  "too few": "#DDDDDD"}
