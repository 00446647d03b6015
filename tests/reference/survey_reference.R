# Reference values for tests/test_survey_reference.py, from R's survey package (Lumley).
# Run from the project root:  Rscript tests/reference/survey_reference.R
# Needs: r-base-core, r-cran-survey (4.1.1 on Debian 12), r-cran-jsonlite. The test suite does
# not need R: it reads the CSVs and tests/data/r_survey_reference.json that this script writes.
suppressMessages({library(survey); library(jsonlite)})
data(api)
out_dir <- "tests/data"
ref <- list(meta = list(survey = as.character(packageVersion("survey")),
                        r = R.version.string, script = "tests/reference/survey_reference.R"))

# --- data shared with Python (GPL-3, see tests/data/README.md) -----------------------------
# A 0-10 "likelihood to recommend" derived from api00 so that NPS is a design-based mean here.
ltr_of <- function(api00) pmin(10, pmax(0, floor((api00 - 300) / 45)))
nps_of <- function(ltr) ifelse(ltr >= 9, 100, ifelse(ltr <= 6, -100, 0))
add_cols <- function(d) { d$ltr <- ltr_of(d$api00); d$nps <- nps_of(d$ltr); d }
apistrat <- add_cols(apistrat); apiclus1 <- add_cols(apiclus1)
apiclus2 <- add_cols(apiclus2); apisrs <- add_cols(apisrs)
apiclus1$api00_na <- ifelse(seq_len(nrow(apiclus1)) %% 7 == 0, NA, apiclus1$api00)
keep <- c("cds", "stype", "name", "dnum", "cname", "snum", "pw", "fpc", "api00", "api99",
          "enroll", "sch.wide", "comp.imp", "both", "ltr", "nps")
write.csv(apistrat[, keep], file.path(out_dir, "apistrat.csv"), row.names = FALSE)
write.csv(apiclus1[, c(keep, "api00_na")], file.path(out_dir, "apiclus1.csv"), row.names = FALSE)
write.csv(apiclus2[, setdiff(keep, "fpc")], file.path(out_dir, "apiclus2.csv"), row.names = FALSE)
write.csv(apisrs[, keep], file.path(out_dir, "apisrs.csv"), row.names = FALSE)
pop <- rbind(data.frame(variable = "stype", as.data.frame(table(level = apipop$stype))),
             data.frame(variable = "sch.wide", as.data.frame(table(level = apipop$sch.wide))))
write.csv(pop, file.path(out_dir, "apipop_margins.csv"), row.names = FALSE)

# --- helpers ------------------------------------------------------------------------------
stat <- function(est, design, level = 0.95) {
  # estimate, SE, t interval with degf(design), both deffs, n (positive weights), PSUs
  d <- degf(design)
  ci <- confint(est, df = d, level = level)
  list(estimate = unname(coef(est))[1], se = unname(SE(est))[1], df = d,
       ci_low = ci[1, 1], ci_high = ci[1, 2],
       n = sum(weights(design, "sampling") != 0),
       n_psu = length(unique(design$cluster[weights(design, "sampling") != 0, 1])))
}
with_deff <- function(f, formula, design, ...) {
  r <- stat(f(formula, design, deff = "replace", ...), design)
  r$deff <- unname(deff(f(formula, design, deff = "replace", ...)))[1]
  r$deff_srswor <- suppressWarnings(unname(deff(f(formula, design, deff = TRUE, ...)))[1])
  r
}
by_table <- function(formula, by, design, FUN = svymean) {
  tab <- svyby(formula, by, design, FUN, deff = "replace")
  srs <- suppressWarnings(svyby(formula, by, design, FUN, deff = TRUE))
  levels <- as.character(tab[[1]])
  rows <- lapply(levels, function(k) {
    sub <- design[as.character(model.frame(by, design$variables)[[1]]) == k & TRUE, ]
    s <- stat(FUN(formula, sub), sub)
    s$group <- k
    s
  })
  list(group = levels, estimate = unname(coef(tab)), se = unname(SE(tab)),
       deff = unname(tab[[ncol(tab)]]), deff_srswor = unname(srs[[ncol(srs)]]),
       df = sapply(rows, `[[`, "df"), ci_low = sapply(rows, `[[`, "ci_low"),
       ci_high = sapply(rows, `[[`, "ci_high"), n = sapply(rows, `[[`, "n"),
       n_psu = sapply(rows, `[[`, "n_psu"))
}
domain_contrast <- function(var, group, a, b, design) {
  # svycontrast of two domain means with their covariance from the joint design: svyratio
  # with covmat=TRUE (survey 4.1.1's svyby(covmat=TRUE) is block-diagonal for linearisation
  # designs; 4.2+ gives this same matrix from influence functions)
  d <- design$variables
  design <- update(design, .na = d[[var]] * (d[[group]] == a), .nb = d[[var]] * (d[[group]] == b),
                   .da = as.numeric(d[[group]] == a), .db = as.numeric(d[[group]] == b))
  r <- svyratio(~.na + .nb, ~.da + .db, design, covmat = TRUE)
  k <- c(-1, 0, 0, 1)   # coef order: na/da, nb/da, na/db, nb/db
  ctr <- svycontrast(r, k)
  sub <- design[d[[group]] %in% c(a, b), ]
  df <- degf(sub)
  est <- as.numeric(coef(ctr)); se <- as.numeric(SE(ctr))
  v <- vcov(r)
  list(estimate = est, se = se, df = df, p = 2 * pt(-abs(est / se), df),
       ci_low = est - qt(0.975, df) * se, ci_high = est + qt(0.975, df) * se,
       se_independent = sqrt(v[1, 1] + v[4, 4]), cov = v[1, 4])
}

# --- full designs -------------------------------------------------------------------------
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
dclus2 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus2)  # PSUs only (ultimate cluster)
dsrs <- svydesign(id = ~1, weights = ~pw, data = apisrs)
ref$strat_mean_api00 <- with_deff(svymean, ~api00, dstrat)
ref$strat_total_enroll <- with_deff(svytotal, ~enroll, dstrat)
ref$clus1_mean_api00 <- with_deff(svymean, ~api00, dclus1)
ref$clus1_total_enroll <- with_deff(svytotal, ~enroll, dclus1)
ref$clus1_mean_nps <- with_deff(svymean, ~nps, dclus1)
ref$clus2_mean_nps <- with_deff(svymean, ~nps, dclus2)
ref$srs_mean_api00 <- with_deff(svymean, ~api00, dsrs)

# --- domains within the full design -------------------------------------------------------
top <- subset(dstrat, api00 > 850)     # leaves a single school in stratum H
ref$strat_domain_api00_gt850 <- with_deff(svymean, ~api99, top)
ref$strat_domain_api00_gt850$n_by_stratum <- as.list(table(apistrat$stype[apistrat$api00 > 850]))
ref$strat_domain_total_enroll_gt850 <- with_deff(svytotal, ~enroll, top)
high <- subset(dclus1, stype == "H")
ref$clus1_domain_H_api00 <- with_deff(svymean, ~api00, high)
ref$clus1_domain_H_total_enroll <- with_deff(svytotal, ~enroll, high)
ref$clus1_domain_H_nps <- with_deff(svymean, ~nps, high)
ref$clus1_missing_api00 <- with_deff(svymean, ~api00_na, dclus1, na.rm = TRUE)

# --- group tables (svyby) -----------------------------------------------------------------
ref$by_clus1_nps_stype <- by_table(~nps, ~stype, dclus1)
ref$by_clus1_nps_cname <- by_table(~nps, ~cname, dclus1)
ref$by_strat_nps_schwide <- by_table(~nps, ~sch.wide, dstrat)
ref$by_strat_total_enroll_stype <- by_table(~enroll, ~stype, dstrat, svytotal)
ref$by_clus2_api00_stype <- by_table(~api00, ~stype, dclus2)

# --- contrasts from the joint design (svycontrast) ----------------------------------------
ref$contrast_clus1_nps_E_M <- domain_contrast("nps", "stype", "E", "M", dclus1)
ref$contrast_clus1_api00_schwide <- domain_contrast("api00", "sch.wide", "No", "Yes", dclus1)
ref$contrast_strat_nps_compimp <- domain_contrast("nps", "comp.imp", "No", "Yes", dstrat)

# --- calibration --------------------------------------------------------------------------
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
tight <- list(maxit = 200, epsilon = 1e-12)
rsrs <- rake(dsrs, list(~stype, ~sch.wide), list(pop.types, pop.schwide), control = tight)
ref$rake_srs_api00 <- with_deff(svymean, ~api00, rsrs)
ref$rake_srs_api00$weights <- unname(weights(rsrs))
ref$rake_srs_api00_default_control <- stat(svymean(~api00, rake(dsrs, list(~stype, ~sch.wide),
                                             list(pop.types, pop.schwide))), dsrs)
ref$rake_srs_uncalibrated_same_weights <- stat(
  svymean(~api00, svydesign(id = ~1, weights = ~w, data = transform(apisrs, w = weights(rsrs)))),
  dsrs)
rclus1 <- rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide), control = tight)
ref$rake_clus1_api00 <- with_deff(svymean, ~api00, rclus1)
ref$rake_clus1_total_enroll <- stat(svytotal(~enroll, rclus1), rclus1)
ref$rake_clus1_weights <- unname(weights(rclus1))
ref$rake_clus1_by_compimp <- by_table(~nps, ~comp.imp, rclus1)
ref$rake_clus1_domain_contrast <- domain_contrast("nps", "comp.imp", "No", "Yes", rclus1)
pclus1 <- postStratify(dclus1, ~stype, pop.types)
ref$post_clus1_api00 <- with_deff(svymean, ~api00, pclus1)
ref$post_clus1_total_enroll <- stat(svytotal(~enroll, pclus1), pclus1)
ref$post_clus1_weights <- unname(weights(pclus1))
# unequal base weights: post-stratification and a one-margin rake differ (weighted vs
# unweighted level means in svyrecvar)
pstrat <- postStratify(dstrat, ~sch.wide, pop.schwide)
ref$post_strat_api00 <- stat(svymean(~api00, pstrat), pstrat)
r1strat <- rake(dstrat, list(~sch.wide), list(pop.schwide), control = tight)
ref$rake1_strat_api00 <- stat(svymean(~api00, r1strat), r1strat)
trimmed <- trimWeights(rclus1, upper = 45, lower = 25, strict = TRUE)
ref$trim_rclus1 <- list(upper = 45, lower = 25, weights = unname(weights(trimmed)),
                        mean_api00 = stat(svymean(~api00, trimmed), trimmed))

# --- lonely PSUs --------------------------------------------------------------------------
lonely <- apistrat
lonely$stratum <- as.character(lonely$stype)
lonely$stratum[which(lonely$stype == "E")[1]] <- "X"   # stratum X holds a single school
dlonely <- svydesign(id = ~1, strata = ~stratum, weights = ~pw, data = lonely)
ref$lonely <- list()
for (opt in c("certainty", "remove", "adjust", "average")) {
  options(survey.lonely.psu = opt)
  ref$lonely[[opt]] <- list(full = stat(svymean(~api00, dlonely), dlonely),
                            domain = stat(svymean(~api00, subset(dlonely, sch.wide == "Yes")),
                                          subset(dlonely, sch.wide == "Yes")))
}
options(survey.lonely.psu = "fail")
ref$lonely$fail <- list(error = tryCatch({svymean(~api00, dlonely); ""},
                                         error = function(e) conditionMessage(e)))

# --- deff and zero weights ----------------------------------------------------------------
sleep1 <- data.frame(x = c(0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0), w = 1)
dsleep <- svydesign(id = ~1, weights = ~w, data = sleep1)
ref$equal_weights_n10 <- with_deff(svymean, ~x, dsleep)
zero <- apistrat
zero$pw[1:10] <- 0
dzero <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = zero, fpc = ~fpc)
ref$zero_weights_strat_api00 <- with_deff(svymean, ~api00, dzero)

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(out_dir, "r_survey_reference.json"))
cat("wrote", file.path(out_dir, "r_survey_reference.json"), "\n")
