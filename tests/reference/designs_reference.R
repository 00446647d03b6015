# Reference values for tests/test_designs_reference.py (issue 23: intervals, multistage designs,
# calibration to totals, replicate weights), from R's survey package (Lumley; 4.1.1).
# Run from the project root:  Rscript tests/reference/designs_reference.R
# Writes tests/data/r_designs_reference.json and the data it used (tests/data/designs_*.csv);
# the test suite reads those and never needs R. Needs r-cran-survey and r-cran-jsonlite.
suppressMessages({library(survey); library(jsonlite)})
data(api)
out_dir <- "tests/data"
ref <- list(meta = list(survey = as.character(packageVersion("survey")),
                        r = R.version.string, script = "tests/reference/designs_reference.R"))
options(survey.lonely.psu = "adjust")

# --- data ---------------------------------------------------------------------------------
# A generated B2B programme: 4 regions (strata), accounts sampled from each region's accounts
# (fpc1), sites sampled within each account (fpc2), every contact at a sampled site answers.
# Account ids restart in every region (R needs nest = TRUE).
set.seed(2026)
regions <- data.frame(region = c("north", "south", "east", "west"), N = c(120, 80, 60, 40),
                      n = c(12, 10, 8, 6))
rows <- list()
for (r in seq_len(nrow(regions))) {
  for (a in seq_len(regions$n[r])) {
    sites_pop <- sample(3:8, 1); sites <- sample(2:3, 1)
    effect <- rnorm(1, 0, 1.2)
    for (s in seq_len(sites)) {
      k <- sample(1:4, 1)
      ltr <- pmin(10, pmax(0, round(7.2 + effect + rnorm(k, 0, 1.8))))
      rows[[length(rows) + 1]] <- data.frame(
        region = regions$region[r], account = sprintf("A%02d", a), site = sprintf("S%d", s),
        fpc1 = regions$N[r], fpc2 = sites_pop, ltr = ltr,
        w = (regions$N[r] / regions$n[r]) * (sites_pop / sites),
        seats = round(exp(rnorm(k, 3, 0.8))),
        tier = sample(c("Enterprise", "Mid", "SMB"), 1, prob = c(0.3, 0.3, 0.4)))
    }
  }
}
b2b <- do.call(rbind, rows)
b2b$nps <- ifelse(b2b$ltr >= 9, 100, ifelse(b2b$ltr <= 6, -100, 0))
b2b$promoter <- as.numeric(b2b$ltr >= 9)
b2b$detractor <- as.numeric(b2b$ltr <= 6)
write.csv(b2b, file.path(out_dir, "designs_b2b.csv"), row.names = FALSE)
clus2 <- apiclus2[, c("dnum", "snum", "fpc1", "fpc2", "pw", "api00", "enroll", "stype",
                      "sch.wide")]
clus2$yes <- as.numeric(clus2$sch.wide == "Yes")
write.csv(clus2, file.path(out_dir, "designs_apiclus2.csv"), row.names = FALSE)

# --- helpers ------------------------------------------------------------------------------
stat <- function(est, design, df = degf(design)) {
  ci <- confint(est, df = df)
  list(estimate = unname(coef(est))[1], se = unname(SE(est))[1], df = df,
       ci_low = ci[1, 1], ci_high = ci[1, 2])
}
ciprop <- function(formula, design) {
  out <- list()
  for (m in c("logit", "likelihood", "beta", "mean", "xlogit", "asin")) {
    r <- svyciprop(formula, design, method = m)
    out[[m]] <- list(estimate = as.numeric(r)[1], ci_low = unname(attr(r, "ci")[1]),
                     ci_high = unname(attr(r, "ci")[2]), se = unname(sqrt(attr(r, "var")))[1],
                     df = degf(design))
  }
  out
}

# --- 1. intervals -------------------------------------------------------------------------
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
db2b1 <- svydesign(id = ~account, strata = ~region, weights = ~w, fpc = ~fpc1, data = b2b,
                   nest = TRUE)
ref$ciprop_clus1_schwide <- ciprop(~I(sch.wide == "Yes"), dclus1)
ref$ciprop_clus1_domain_H <- ciprop(~I(sch.wide == "Yes"), subset(dclus1, stype == "H"))
ref$ciprop_b2b_promoter <- ciprop(~promoter, db2b1)
ref$ciprop_b2b_domain_smb <- ciprop(~promoter, subset(db2b1, tier == "SMB"))
ref$nps_b2b_t <- stat(svymean(~nps, db2b1), db2b1)
ref$nps_b2b_domain_smb_t <- stat(svymean(~nps, subset(db2b1, tier == "SMB")),
                                 subset(db2b1, tier == "SMB"))

# --- 2. multistage, nest, calibration, trimming, edge cases -------------------------------
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, weights = ~pw, data = clus2)
ref$clus2_mean_api00 <- stat(svymean(~api00, dclus2), dclus2)
ref$clus2_total_enroll <- stat(svytotal(~enroll, dclus2, na.rm = TRUE), dclus2)
ref$clus2_domain_E_api00 <- stat(svymean(~api00, subset(dclus2, stype == "E")),
                                 subset(dclus2, stype == "E"))
ref$clus2_domain_H_api00 <- stat(svymean(~api00, subset(dclus2, stype == "H")),
                                 subset(dclus2, stype == "H"))
ref$clus2_one_stage_api00 <- stat(svymean(~api00, svydesign(id = ~dnum, fpc = ~fpc1,
                                                            weights = ~pw, data = clus2)), dclus2)
db2b2 <- svydesign(id = ~account + site, strata = ~region, fpc = ~fpc1 + fpc2, weights = ~w,
                   data = b2b, nest = TRUE)
ref$b2b2_mean_nps <- stat(svymean(~nps, db2b2), db2b2)
ref$b2b2_total_seats <- stat(svytotal(~seats, db2b2), db2b2)
ref$b2b2_domain_smb_nps <- stat(svymean(~nps, subset(db2b2, tier == "SMB")),
                                subset(db2b2, tier == "SMB"))
ref$b2b1_mean_nps <- stat(svymean(~nps, db2b1), db2b1)
ref$nest_error <- tryCatch({svydesign(id = ~account, strata = ~region, data = b2b,
                                      weights = ~w); ""}, error = function(e) conditionMessage(e))
# a PSU with a single SSU (lonely at the second stage)
lone <- b2b
first <- which(lone$region == "north" & lone$account == "A01")
lone <- lone[-first[lone$site[first] != "S1"], ]
ref$lonely_ssu <- list()
for (opt in c("adjust", "certainty", "remove", "average")) {
  options(survey.lonely.psu = opt)
  d <- svydesign(id = ~account + site, strata = ~region, fpc = ~fpc1 + fpc2, weights = ~w,
                 data = lone, nest = TRUE)
  ref$lonely_ssu[[opt]] <- stat(svymean(~nps, d), d)
}
options(survey.lonely.psu = "adjust")
ref$lonely_ssu_rows <- nrow(lone)
# adjust.domain.lonely: a domain with one account in a region of several
dom_acc <- b2b$region == "west" & b2b$account == "A01" | b2b$region != "west" & b2b$tier == "SMB"
b2b$dom <- dom_acc
db2b1 <- svydesign(id = ~account, strata = ~region, weights = ~w, fpc = ~fpc1, data = b2b,
                   nest = TRUE)
ref$domain_lonely <- list()
for (opt in c("adjust", "average", "certainty")) {
  for (flag in c(FALSE, TRUE)) {
    options(survey.lonely.psu = opt, survey.adjust.domain.lonely = flag)
    s <- suppressWarnings(svymean(~nps, subset(db2b1, dom)))
    ref$domain_lonely[[paste(opt, flag, sep = "_")]] <- list(estimate = unname(coef(s)),
                                                             se = unname(SE(s))[1])
  }
}
options(survey.lonely.psu = "adjust", survey.adjust.domain.lonely = FALSE)
write.csv(b2b, file.path(out_dir, "designs_b2b.csv"), row.names = FALSE)
# n = 1 domain total
one <- subset(dclus1, snum == apiclus1$snum[5])
ref$n1_domain_total <- list(estimate = unname(coef(svytotal(~enroll, one))),
                            se = unname(SE(svytotal(~enroll, one)))[1], snum = apiclus1$snum[5])
# calibration to population totals
dsrs0 <- svydesign(id = ~1, data = apisrs)         # unweighted sample
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
tight <- list(maxit = 200, epsilon = 1e-12)
rk <- rake(dsrs0, list(~stype, ~sch.wide), list(pop.types, pop.schwide), control = tight)
ref$rake_totals_srs <- list(total_enroll = stat(svytotal(~enroll, rk), rk),
                            mean_api00 = stat(svymean(~api00, rk), rk),
                            weights = unname(weights(rk)))
pop <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 5122,
         api99 = sum(apipop$api99))
cal <- list()
for (spec in list(list("linear", c(-Inf, Inf)), list("linear", c(0.5, 1.6)),
                  list("raking", c(-Inf, Inf)), list("logit", c(0.5, 1.6)))) {
  d <- calibrate(dclus1, ~stype + sch.wide + api99, pop, calfun = spec[[1]],
                 bounds = spec[[2]], epsilon = 1e-12, maxit = 200)
  key <- paste(spec[[1]], if (is.finite(spec[[2]][1])) "bounded" else "", sep = "")
  cal[[key]] <- list(weights = unname(weights(d)), mean_api00 = stat(svymean(~api00, d), d),
                     total_enroll = stat(svytotal(~enroll, d), d),
                     domain_E = stat(svymean(~api00, subset(d, stype == "E")),
                                     subset(d, stype == "E")),
                     bounds = spec[[2]])
}
ref$calibrate_clus1 <- cal
dgreg <- calibrate(dclus1, ~stype + sch.wide + api99, pop, epsilon = 1e-12, maxit = 200)
tg <- trimWeights(dgreg, upper = 60, lower = 20, strict = TRUE)
ref$calibrate_trim <- list(weights = unname(weights(tg)), mean_api00 = stat(svymean(~api00, tg), tg))

# --- 5. replicate weights -----------------------------------------------------------------
rep_stats <- function(d, data) {
  list(mean_api00 = stat(svymean(~api00, d), d), total_api99 = stat(svytotal(~api99, d), d),
       domain_E = stat(svymean(~api00, subset(d, stype == "E")), subset(d, stype == "E")),
       by_stype = list(estimate = unname(coef(svyby(~api00, ~stype, d, svymean))),
                       se = unname(SE(svyby(~api00, ~stype, d, svymean)))),
       ciprop_logit = {r <- svyciprop(~I(sch.wide == "Yes"), d, method = "logit")
                       list(estimate = as.numeric(r)[1], ci_low = unname(attr(r, "ci")[1]),
                            ci_high = unname(attr(r, "ci")[2]))},
       degf = degf(d))
}
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
jk1 <- as.svrepdesign(dclus1, type = "JK1", compress = FALSE)
jkn <- as.svrepdesign(dstrat, type = "JKn", compress = FALSE)
set.seed(42)
boot <- as.svrepdesign(dclus1, type = "bootstrap", replicates = 40, compress = FALSE)
# BRR: 7 strata (R's Hadamard is Sylvester's of order 8), two PSUs each
brrdat <- do.call(rbind, lapply(split(apiclus2, apiclus2$dnum), function(g) g))
pairs <- unique(apiclus2$dnum)[1:14]
brrdat <- apiclus2[apiclus2$dnum %in% pairs, ]
brrdat$stratum <- match(brrdat$dnum, pairs) %/% 2 + (match(brrdat$dnum, pairs) %% 2)
brrdat$stratum <- (match(brrdat$dnum, pairs) + 1) %/% 2
dbrr <- svydesign(id = ~dnum, strata = ~stratum, weights = ~pw, data = brrdat)
brr <- as.svrepdesign(dbrr, type = "BRR", compress = FALSE)
ref$rep_created <- list(JK1 = rep_stats(jk1), JKn = rep_stats(jkn), BRR = rep_stats(brr))
ref$rep_created$JKn_rscales <- unname(jkn$rscales)
ref$rep_created$BRR_repweights <- unname(matrix(as.numeric(unclass(brr$repweights)), nrow = nrow(brrdat)))
write.csv(brrdat[, c("dnum", "snum", "stratum", "pw", "api00", "api99", "stype", "sch.wide")],
          file.path(out_dir, "designs_brr.csv"), row.names = FALSE)
# given replicate columns (a vendor file): the same weights as columns, several types/options
given <- function(rw, pw) {
  m <- unclass(rw)[, , drop = FALSE] * pw
  m <- matrix(as.numeric(m), nrow = nrow(m))
  colnames(m) <- paste0("repw", seq_len(ncol(m)))
  as.data.frame(m)
}
vend <- cbind(apiclus1[, c("dnum", "snum", "pw", "api00", "api99", "stype", "sch.wide")],
              given(jk1$repweights, jk1$pweights), given(boot$repweights, boot$pweights))
names(vend)[8 + seq_len(ncol(boot$repweights))] <- paste0("boot", seq_len(ncol(boot$repweights)))
write.csv(vend, file.path(out_dir, "designs_replicates.csv"), row.names = FALSE)
jk1cols <- grep("^repw", names(vend)); bootcols <- grep("^boot", names(vend))
v_jk1 <- svrepdesign(data = vend, repweights = vend[, jk1cols], weights = ~pw, type = "JK1",
                     scale = (15 - 1) / 15)
v_jk1_mse <- svrepdesign(data = vend, repweights = vend[, jk1cols], weights = ~pw, type = "JK1",
                         scale = (15 - 1) / 15, mse = TRUE)
v_boot <- svrepdesign(data = vend, repweights = vend[, bootcols], weights = ~pw,
                      type = "bootstrap")
v_other <- svrepdesign(data = vend, repweights = vend[, bootcols], weights = ~pw, type = "other",
                       scale = 0.03, rscales = rep(c(1, 0.5), 20))
v_jkn <- svrepdesign(data = vend, repweights = vend[, jk1cols], weights = ~pw, type = "JKn",
                     rscales = rep(14 / 15, 15))
ref$rep_given <- list(JK1 = rep_stats(v_jk1), JK1_mse = rep_stats(v_jk1_mse),
                      bootstrap = rep_stats(v_boot), other = rep_stats(v_other),
                      JKn = rep_stats(v_jkn))
ref$rep_given$bootstrap_scale <- v_boot$scale
nps_rep <- svrepdesign(data = b2b, repweights = given(as.svrepdesign(db2b1, type = "JKn",
                       compress = FALSE)$repweights, b2b$w), weights = ~w, type = "JKn",
                       rscales = as.svrepdesign(db2b1, type = "JKn")$rscales)
ref$rep_b2b_nps <- stat(svymean(~nps, nps_rep), nps_rep)
ref$rep_b2b_created_nps <- stat(svymean(~nps, as.svrepdesign(db2b1, type = "JKn")),
                                as.svrepdesign(db2b1, type = "JKn"))

writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(out_dir, "r_designs_reference.json"))
cat("wrote", file.path(out_dir, "r_designs_reference.json"), "\n")
