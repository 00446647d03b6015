# Reference values for tests/test_survey_models.py, from R's survey package (Lumley):
# svyglm (gaussian, quasibinomial), svyquantile (every qrule and interval type we support),
# svyratio, svychisq (F and Chisq) and svyttest, on the api designs and on a generated B2B
# programme (contacts clustered in accounts) and a raked B2C sample, both written here.
# Run from the project root:  Rscript tests/reference/models_reference.R
# Needs r-base-core, r-cran-survey (4.1.1), r-cran-jsonlite; the test suite does not need R.
suppressMessages({library(survey); library(jsonlite)})
out_dir <- "tests/data"
ref <- list(meta = list(survey = as.character(packageVersion("survey")),
                        r = R.version.string, script = "tests/reference/models_reference.R"))
read <- function(name) read.csv(file.path(out_dir, "reference", paste0(name, ".csv")))[, -1]
apistrat <- read("apistrat"); apiclus1 <- read("apiclus1")
apiclus1$api00_na <- ifelse(seq_len(nrow(apiclus1)) %% 7 == 0, NA, apiclus1$api00)

# --- generated programme data (written for the Python side) -------------------------------
set.seed(20261207)
n_acc <- 120
acc <- data.frame(account_id = sprintf("A%03d", 1:n_acc),
                  tier = sample(c("gold", "silver", "bronze"), n_acc, TRUE, c(.2, .3, .5)),
                  quarter_end_deal = rbinom(n_acc, 1, 0.3), u = rnorm(n_acc, 0, 0.8))
acc$go_live_slip_days <- round(pmax(0, rnorm(n_acc, 20 + 25 * acc$quarter_end_deal, 15)))
size <- 1 + rpois(n_acc, 3)
b2b <- acc[rep(seq_len(n_acc), size), ]
n <- nrow(b2b)
for (k in 1:4) b2b[[paste0("item", k)]] <- pmin(5, pmax(1, round(3.4 + 0.6 * b2b$u +
                                                                   rnorm(n, 0, 0.9))))
eta <- -4 + 0.55 * b2b$item1 + 0.35 * b2b$item2 + 0.15 * b2b$item3 + 0.5 * b2b$u -
  0.01 * b2b$go_live_slip_days
b2b$ltr <- pmin(10, pmax(0, round(5 + 2.2 * eta / 2 + rnorm(n, 0, 1.4))))
b2b$ltr[seq(5, n, by = 37)] <- NA
b2b$effort <- round(rgamma(n, 2, 0.5), 1)
b2b$u <- NULL
b2b$promoter <- as.numeric(b2b$ltr >= 9)
b2b$detractor <- as.numeric(b2b$ltr <= 6)
b2b$nps_category <- ifelse(b2b$ltr >= 9, "promoter", ifelse(b2b$ltr <= 6, "detractor", "passive"))
impl_len <- round(runif(n_acc, 30, 200))
b2b$impl_length_days <- impl_len[match(b2b$account_id, acc$account_id)]
b2b$impl_onboarding <- pmin(5, pmax(1, round(4 - 0.02 * b2b$go_live_slip_days - 0.4 *
                                             b2b$quarter_end_deal + rnorm(n, 0, 0.8))))
write.csv(b2b, file.path(out_dir, "models_b2b.csv"), row.names = FALSE)

m <- 900
b2c <- data.frame(wave = sample(c("2026-Q1", "2026-Q2"), m, TRUE),
                  region = sample(c("north", "south", "east", "west"), m, TRUE, c(.4, .3, .2, .1)),
                  age = sample(c("18-34", "35-54", "55+"), m, TRUE, c(.5, .3, .2)),
                  gender = sample(c("f", "m"), m, TRUE))
b2c$item1 <- sample(1:5, m, TRUE, c(.05, .1, .25, .35, .25))
b2c$item2 <- sample(1:5, m, TRUE, c(.1, .1, .3, .3, .2))
b2c$ltr <- pmin(10, pmax(0, round(1 + 1.1 * b2c$item1 + 0.6 * b2c$item2 +
                                  0.8 * (b2c$age == "55+") + rnorm(m, 0, 1.6))))
b2c$response_hours <- round(rexp(m, 1 / 30) * ifelse(b2c$region == "north", 1, 1.6), 2)
b2c$orders <- 1 + rpois(m, 2)
b2c$spend <- round(b2c$orders * rgamma(m, 4, 0.1), 2)
b2c$promoter <- as.numeric(b2c$ltr >= 9)
b2c$nps_category <- ifelse(b2c$ltr >= 9, "promoter", ifelse(b2c$ltr <= 6, "detractor", "passive"))
b2c$ltr[seq(7, m, by = 41)] <- NA
b2c$base <- 1
pop_region <- c(north = .25, south = .25, east = .3, west = .2)
pop_age <- c("18-34" = .35, "35-54" = .4, "55+" = .25)
b2c$wave_region <- interaction(b2c$wave, b2c$region, sep = ":")
b2c$wave_age <- interaction(b2c$wave, b2c$age, sep = ":")
margin <- function(var, shares) {
  lv <- levels(b2c[[var]])
  wave_n <- table(b2c$wave)
  data.frame(lv, Freq = sapply(lv, function(l) {
    parts <- strsplit(l, ":")[[1]]; wave_n[[parts[1]]] * shares[[parts[2]]] }),
    stringsAsFactors = FALSE, row.names = NULL, check.names = FALSE)
}
pr <- margin("wave_region", pop_region); names(pr)[1] <- "wave_region"
pa <- margin("wave_age", pop_age); names(pa)[1] <- "wave_age"
d0 <- svydesign(id = ~1, strata = ~wave, weights = ~base, data = b2c)
draked <- rake(d0, list(~wave_region, ~wave_age), list(pr, pa),
               control = list(maxit = 100, epsilon = 1e-12))
b2c$weight <- weights(draked)
write.csv(b2c[, setdiff(names(b2c), c("base", "wave_region", "wave_age"))],
          file.path(out_dir, "models_b2c.csv"), row.names = FALSE)

# --- designs --------------------------------------------------------------------------------
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
db2b <- svydesign(id = ~account_id, weights = ~rep(1, nrow(b2b)), data = b2b)
designs <- list(strat = dstrat, clus1 = dclus1, b2b = db2b, b2c = draked)
ctl <- glm.control(epsilon = 1e-14, maxit = 100)

glm_ref <- function(formula, design, family) {
  fit <- suppressWarnings(svyglm(formula, design, family = family, control = ctl))
  s <- summary(fit)$coefficients
  ci <- confint(fit)
  list(term = rownames(s), estimate = unname(s[, 1]), se = unname(s[, 2]),
       t = unname(s[, 3]), p_value = unname(s[, 4]), ci_low = unname(ci[, 1]),
       ci_high = unname(ci[, 2]), df = fit$df.residual, vcov = unname(vcov(fit)))
}
ref$glm <- list(
  strat_gaussian = glm_ref(api00 ~ ell + meals + enroll, dstrat, gaussian()),
  strat_logit = glm_ref(I(sch.wide == "Yes") ~ ell + meals, dstrat, quasibinomial()),
  clus1_gaussian_na = glm_ref(api00_na ~ ell + meals + mobility, dclus1, gaussian()),
  clus1_logit = glm_ref(I(comp.imp == "Yes") ~ api99 + enroll, dclus1, quasibinomial()),
  b2b_promoter = glm_ref(promoter ~ item1 + item2 + item3 + item4, db2b, quasibinomial()),
  b2b_detractor = glm_ref(detractor ~ item1 + item2 + item3 + item4, db2b, quasibinomial()),
  b2b_slip = glm_ref(ltr ~ go_live_slip_days + quarter_end_deal, db2b, gaussian()),
  journey_ltr_slip = glm_ref(ltr ~ I(go_live_slip_days / 30) + quarter_end_deal +
                               impl_length_days, db2b, gaussian()),
  journey_promoter_slip = glm_ref(promoter ~ I(go_live_slip_days / 30) + quarter_end_deal +
                                    impl_length_days, db2b, quasibinomial()),
  journey_qe_onboarding = glm_ref(impl_onboarding ~ quarter_end_deal, db2b, gaussian()),
  b2c_promoter = glm_ref(promoter ~ item1 + item2, draked, quasibinomial()),
  b2c_ltr = glm_ref(ltr ~ item1 + item2, draked, gaussian()),
  b2c_domain = glm_ref(ltr ~ item1 + item2, subset(draked, region != "west"), gaussian()))

# --- quantiles --------------------------------------------------------------------------------
q_ref <- function(formula, design, probs, qrule = "math", interval = "mean") {
  q <- svyquantile(formula, design, probs, qrule = qrule, interval.type = interval,
                   na.rm = TRUE)[[1]]
  list(p = probs, estimate = unname(q[, 1]), ci_low = unname(q[, 2]),
       ci_high = unname(q[, 3]), se = unname(q[, 4]),
       df = degf(design[!is.na(model.frame(design)[[all.vars(formula)]]), ]))
}
rules <- c("math", "school", "shahvaish", paste0("hf", 1:9))
cases <- list(clus1_api00 = list(~api00, dclus1), strat_enroll = list(~enroll, dstrat),
              b2b_ltr = list(~ltr, db2b), b2b_effort = list(~effort, db2b),
              b2c_hours = list(~response_hours, draked), b2c_ltr = list(~ltr, draked))
ref$quantile <- list()
for (case in names(cases)) for (rule in rules) {
  ref$quantile[[paste(case, rule, "mean", sep = "/")]] <-
    q_ref(cases[[case]][[1]], cases[[case]][[2]], c(0.1, 0.25, 0.5, 0.9), rule)
}
for (case in names(cases)) for (it in c("beta", "xlogit", "asin")) {
  ref$quantile[[paste(case, "math", it, sep = "/")]] <-
    q_ref(cases[[case]][[1]], cases[[case]][[2]], c(0.25, 0.5, 0.75), "math", it)
}
ref$quantile[["b2c_ltr_north/math/mean"]] <- q_ref(~ltr, subset(draked, region == "north"),
                                                   c(0.5, 0.75))

# --- ratios -----------------------------------------------------------------------------------
r_ref <- function(num, den, design) {
  r <- svyratio(num, den, design, na.rm = TRUE)
  ci <- confint(r, df = degf(design))
  list(estimate = unname(coef(r))[1], se = unname(SE(r))[1], df = degf(design),
       ci_low = ci[1, 1], ci_high = ci[1, 2])
}
ref$ratio <- list(
  strat = r_ref(~api00, ~api99, dstrat), clus1 = r_ref(~api00_na, ~api.stu, dclus1),
  clus1_domain = r_ref(~api00, ~api99, subset(dclus1, stype == "E")),
  b2b = r_ref(~effort, ~item1, db2b), b2c = r_ref(~spend, ~orders, draked),
  b2c_domain = r_ref(~spend, ~orders, subset(draked, region == "south")))

# --- chi-square -------------------------------------------------------------------------------
c_ref <- function(formula, design) {
  f <- svychisq(formula, design, statistic = "F")
  ch <- svychisq(formula, design, statistic = "Chisq")
  list(statistic = unname(f$statistic), ndf = unname(f$parameter[1]),
       ddf = unname(f$parameter[2]), p_value = f$p.value,
       chisq = unname(ch$statistic), chisq_df = unname(ch$parameter), chisq_p = ch$p.value)
}
ref$chisq <- list(clus1 = c_ref(~sch.wide + stype, dclus1),
                  strat = c_ref(~comp.imp + stype, dstrat),
                  b2b = c_ref(~nps_category + tier, db2b),
                  b2c = c_ref(~nps_category + region, draked))

# --- t tests ----------------------------------------------------------------------------------
t_ref <- function(formula, design) {
  t <- svyttest(formula, design)
  list(estimate = unname(t$estimate), statistic = unname(t$statistic),
       df = unname(t$parameter), p_value = t$p.value, ci_low = t$conf.int[1],
       ci_high = t$conf.int[2])
}
ref$ttest <- list(clus1_two = t_ref(api00 ~ sch.wide, dclus1),
                  strat_one = t_ref(I(api00 - 650) ~ 0, dstrat),
                  b2b_two = t_ref(ltr ~ quarter_end_deal, db2b),
                  b2c_two = t_ref(ltr ~ gender, draked))

write(toJSON(ref, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
      file.path(out_dir, "r_models_reference.json"))
