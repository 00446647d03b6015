# R survey on the rows of bench_models.py (called by it): prints one "<call>=<seconds>" per
# estimator, in bench_models.calls() order (elapsed, one run each; reading the CSV and building
# the design are not timed).
suppressMessages(library(survey))
d <- read.csv(commandArgs(TRUE)[1])
des <- svydesign(id = ~account_id, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
time <- function(f) system.time(f())[["elapsed"]]
t <- c(
  glm = time(function() svyglm(ltr ~ item1 + item2 + item3, des)),
  logit = time(function() svyglm(promoter ~ item1 + item2 + item3, des,
                                 family = quasibinomial())),
  quantile = time(function() svyquantile(~ltr, des, 0.5)),
  ratio = time(function() svyratio(~spend, ~orders, des)),
  chisq = time(function() svychisq(~category + segment, des)),
  ttest = time(function() svyttest(ltr ~ group, des)))
cat(sprintf("%s=%.3f\n", names(t), t))
