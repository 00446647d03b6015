"""Stats: survey estimators with honest uncertainty, weighting and tests of differences.

Design-based estimation (weights, strata, clusters, fpc; Taylor linearisation as R's survey
package), NPS / CES / CSAT, comparisons and false-discovery control, empirical-Bayes shrinkage,
raking and trimming. Pure functions over arrays and tidy frames. Modules here may import only
the core (errors); never analysis, reporting or matplotlib.
"""
