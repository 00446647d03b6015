"""Analysis: the questions the reports answer, as tables with uncertainty.

Selection of the responses an analysis uses, segments and accounts, key drivers (importance and
outcome models), the sales-to-implementation journey, comment text, score integrity, leaders vs
laggards, competitors and the market backtest. Modules here return tables; they may import the
core, ingest and stats, never reporting or matplotlib (charts live in helpers.reporting.charts).
"""
