# R survey on the rows of bench_designs.py (called by it): prints svyciprop=, twostage=,
# calibrate=, bootmean= seconds (elapsed; design construction included where ours includes it).
suppressMessages(library(survey))
options(survey.lonely.psu = "adjust")   # as ours
d <- read.csv(commandArgs(TRUE)[1])
t <- function(f) system.time(f())[["elapsed"]]
one <- svydesign(id = ~account_id, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
t_ciprop <- t(function() svyciprop(~promoter, one)); cat(sprintf("svyciprop=%.3f\n", t_ciprop))
two <- svydesign(id = ~account_id + site, strata = ~stratum, fpc = ~fpc1 + fpc2,
                 weights = ~weight, nest = TRUE, data = d)
t_two <- t(function() svymean(~ltr, two)); cat(sprintf("twostage=%.3f\n", t_two))
d$tier <- factor(d$tier, levels = c("Enterprise", "SMB")); d$stratum <- factor(d$stratum)
one <- svydesign(id = ~account_id, strata = ~stratum, weights = ~weight, nest = TRUE, data = d)
pop <- c(`(Intercept)` = 1200000, tierSMB = 800000, stratum1 = 3e5, stratum2 = 3e5, stratum3 = 3e5)
t_cal <- t(function() calibrate(one, ~tier + stratum, pop)); cat(sprintf("calibrate=%.3f\n", t_cal))
t_boot <- t(function() svymean(~ltr, as.svrepdesign(svydesign(id = ~account_id, weights = ~weight,
                                                              data = d), type = "bootstrap",
                                                    replicates = 50)))
cat(sprintf("bootmean=%.3f\n", t_boot))
