# R survey on the rows of bench_metrics.py (called by it with --r): prints design=, svymean=,
# svyby= seconds (elapsed, best of 3 for svymean; reading the CSV is not timed).
suppressMessages(library(survey))
d <- read.csv(commandArgs(TRUE)[1])
best <- function(f, k = 3) min(sapply(seq_len(k), function(i) system.time(f())[["elapsed"]]))
t_design <- best(function() svydesign(id = ~account_id, strata = ~stratum, weights = ~weight, nest = TRUE,
                                       data = d))
des <- svydesign(id = ~account_id, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
t_mean <- best(function() svymean(~ltr, des))
t_by <- best(function() svyby(~nps, ~segment, des, svymean), k = 1)
cat(sprintf("design=%.3f svymean=%.3f svyby=%.3f\n", t_design, t_mean, t_by))
