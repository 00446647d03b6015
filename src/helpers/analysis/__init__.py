"""Analysis: the questions the reports answer, as tables with uncertainty.

Selection of the responses an analysis uses, segments and accounts, key drivers (importance and
outcome models), the sales-to-implementation journey, comment text, score integrity, leaders vs
laggards, competitors and the market backtest. Modules here return tables; they may import the
core, ingest and stats, never reporting or matplotlib (charts live in helpers.reporting.charts).
"""

#: Libraries the analyses import where they are first used (scikit-learn's models, statsmodels'
#: tests), never with their modules. A run's kernel zygote imports them once for the kernels it
#: forks after the cleaning's (:mod:`helpers.reporting.kernels`); each kernel imported them on
#: its own before, about 1.2 CPU s and 70 MB apiece. A kernel started on its own still imports
#: each only when it calls it.
LIBRARIES_ON_FIRST_USE = (
    "sklearn.cluster", "sklearn.decomposition", "sklearn.ensemble",
    "sklearn.feature_extraction.text", "sklearn.linear_model", "sklearn.metrics",
    "sklearn.mixture", "sklearn.model_selection",
    "statsmodels.discrete.discrete_model", "statsmodels.stats.proportion",
)
