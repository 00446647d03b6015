"""Stats: survey estimators with honest uncertainty, weighting and tests of differences.

Design-based estimation (weights, strata, clusters, fpc; Taylor linearisation as R's survey
package), NPS / CES / CSAT, comparisons and false-discovery control, empirical-Bayes shrinkage,
raking and trimming. Pure functions over arrays and tidy frames. Modules here may import only
the core (errors); never analysis, reporting or matplotlib.
"""

#: Modules of the stats layer's functions imported on their first call, not with the module:
#: notebooks that compute with the stats layer load them as their kernel boots
#: (:mod:`helpers.reporting.preload`), those that only read or clean never do.
ON_FIRST_USE = ("scipy.special", "scipy.sparse")
