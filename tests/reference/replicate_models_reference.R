# Reference values for tests/test_replicate_models.py: svyglm, svyratio, svyquantile, svyttest
# and svychisq on replicate-weight designs (R survey 4.1.1, svyrep.design methods), JK1 from
# apiclus1 and bootstrap from apistrat, with and without a domain (R subset()), and
# withReplicates for explore's domain-minus-total contrast.
# The replicate analysis weights are written to tests/data/replicate_models_<name>.csv so the
# Python side uses R's own weights. Run from the project root:
#   Rscript tests/reference/replicate_models_reference.R
suppressMessages({library(survey); library(jsonlite)})
out_dir <- "tests/data"
read <- function(name) read.csv(file.path(out_dir, "reference", paste0(name, ".csv")))[, -1]
apistrat <- read("apistrat"); apiclus1 <- read("apiclus1")
apiclus1$api00_na <- ifelse(seq_len(nrow(apiclus1)) %% 7 == 0, NA, apiclus1$api00)
apistrat$api00_na <- ifelse(seq_len(nrow(apistrat)) %% 7 == 0, NA, apistrat$api00)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
set.seed(20261207)
designs <- list(jk1 = as.svrepdesign(dclus1, type = "JK1"),
                boot = as.svrepdesign(dstrat, type = "bootstrap", replicates = 30))
cols <- c("stype", "pw", "api00", "api00_na", "api99", "ell", "meals", "enroll", "sch.wide")

glm_ref <- function(f, d, fam) {
  m <- do.call(svyglm, list(f, d, family = fam))   # svyglm.svyrep.design looks `family` up by name
  list(coef = unname(coef(m)), se = unname(SE(m)), df = m$df.residual)
}
q_ref <- function(d, p) {
  q <- svyquantile(~api00_na, d, p, na.rm = TRUE)[[1]]
  list(estimate = unname(q[, 1]), ci_low = unname(q[, 2]), ci_high = unname(q[, 3]),
       se = unname(q[, 4]))
}
t_ref <- function(t) list(estimate = unname(t$estimate), statistic = unname(t$statistic),
                          df = unname(t$parameter), p_value = t$p.value,
                          ci = unname(as.numeric(t$conf.int)))
chi_ref <- function(s) list(statistic = unname(s$statistic), ndf = unname(s$parameter[1]),
                            ddf = unname(s$parameter[2]), p_value = unname(s$p.value))
coef_ref <- function(r, d) list(estimate = unname(coef(r)), se = unname(SE(r)), df = degf(d))
domain_minus_total <- function(w, data) {   # explore.contrast(..., "all"): domain E minus all
  e <- data$stype == "E"
  sum(w[e] * data$api00[e]) / sum(w[e]) - sum(w * data$api00) / sum(w)
}
ref <- list(meta = list(survey = as.character(packageVersion("survey")),
                        r = R.version.string,
                        script = "tests/reference/replicate_models_reference.R"))
for (name in names(designs)) {
  d <- designs[[name]]
  e <- subset(d, stype == "E")
  w <- weights(d, "analysis")
  colnames(w) <- paste0("repw", seq_len(ncol(w)))
  write.csv(cbind(d$variables[, cols], w), file.path(out_dir, paste0("replicate_models_", name, ".csv")),
            row.names = FALSE)
  ref[[name]] <- list(
    scale = d$scale, rscales = d$rscales, degf = degf(d),
    glm = glm_ref(api00 ~ ell + meals, d, gaussian()),
    glm_domain = glm_ref(api00 ~ ell + meals, e, gaussian()),
    glm_na = glm_ref(api00_na ~ ell + meals, d, gaussian()),
    logit = glm_ref(I(sch.wide == "Yes") ~ ell, d, quasibinomial()),
    ratio = coef_ref(svyratio(~api00_na, ~api99, d, na.rm = TRUE), subset(d, !is.na(api00_na))),
    ratio_domain = coef_ref(svyratio(~api00, ~api99, e), e),
    quantile = q_ref(d, c(0.25, 0.5)),
    quantile_domain = q_ref(e, 0.5),
    ttest_group = t_ref(svyttest(api00 ~ sch.wide, d)),
    ttest_one = t_ref(svyttest(I(api00 - 650) ~ 0, d)),
    chisq_f = chi_ref(svychisq(~sch.wide + stype, d)),
    chisq = chi_ref(svychisq(~sch.wide + stype, d, statistic = "Chisq")),
    against_total = coef_ref(withReplicates(d, domain_minus_total), d))
}
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           file.path(out_dir, "r_replicate_models_reference.json"))
