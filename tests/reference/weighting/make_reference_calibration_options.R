#!/usr/bin/env Rscript
# Reference values for the production options of weighting.calibration (Design.calibrate):
# trim= (R calibrate's trim), aggregate (R aggregate.stage / aggregate.index: integrated
# weighting, one g-weight per cluster), the sinh distance (cal.sinh) and a user distance
# (make.calfun), on linearisation and replicate designs.
#
# Produced with R 4.2.2 Patched (2022-11-10 r83330), survey 4.1.1, jsonlite 1.8.4 (Debian 12
# packages); the versions used are written into the JSON.
# Run: Rscript tests/reference/weighting/make_reference_calibration_options.R  (a few seconds)
# Writes reference_calibration_options.json next to this script:
# {"r_version", "survey_version", "jsonlite_version", "generated_by", "notes",
#  "cases": {id: {"data", "description", "r_call",
#     "design": {...}, "replicate": "JK1"?,
#     "calibrate": {"totals": {column: total or {level: count}}, "method": "linear"|"raking"|
#                   "logit"|"sinh"|"hellinger", "bounds": [lo, hi]?, "trim": [lo, hi]?,
#                   "aggregate": stage?, "epsilon", "maxit"},
#     "weights": [final weights in row order], "g_per_cluster": true?,
#     "results": [{"statistic": "mean"|"total", "variable", "by"?, "estimate", "se"}]}}}
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
options(survey.lonely.psu = "fail", survey.replicates.mse = FALSE)
rd <- function(f) read.csv(file.path(here, f), stringsAsFactors = TRUE, na.strings = "")
tree <- function(x) {
  if (is.list(x)) { nm <- names(x); y <- lapply(x, tree); names(y) <- nm; return(y) }
  if (is.factor(x)) x <- as.character(x)
  if (is.numeric(x)) {
    v <- ifelse(is.finite(x), sprintf("%.17g", as.double(x)), "null")
    if (length(x) == 1 && !inherits(x, "AsIs")) return(structure(v, class = "json"))
    return(structure(paste0("[", paste(v, collapse = ","), "]"), class = "json"))
  }
  if (is.character(x) && (length(x) != 1 || inherits(x, "AsIs"))) return(I(unclass(x)))
  x
}
arr <- function(x) I(x)
EPS <- 1e-12; MAXIT <- 100

apiclus1 <- rd("apiclus1.csv"); apiclus2 <- rd("apiclus2.csv")
clus1 <- svydesign(ids = ~dnum, fpc = ~fpc, weights = ~pw, data = apiclus1)
clus1_spec <- list(ids = arr("dnum"), strata = NA, fpc = arr("fpc"), weights = "pw", lonely_psu = "fail")
clus2 <- svydesign(ids = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
clus2_spec <- list(ids = arr(c("dnum", "snum")), strata = NA, fpc = arr(c("fpc1", "fpc2")), weights = NA, lonely_psu = "fail")
pop1 <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 3914069)
tot1 <- list(stype = list(E = 6194 - 755 - 1018, H = 755, M = 1018), api99 = 3914069)
hellinger <- make.calfun(Fm1 = function(u, bounds) (1 - u / 2)^-2 - 1, dF = function(u, bounds) (1 - u / 2)^-3,
                         name = "hellinger")

results <- function(des) {
  out <- list()
  m <- svymean(~api00, des); out[[1]] <- list(statistic = "mean", variable = "api00", estimate = unname(coef(m)), se = unname(SE(m)))
  t <- svytotal(~api00, des); out[[2]] <- list(statistic = "total", variable = "api00", estimate = unname(coef(t)), se = unname(SE(t)))
  b <- svyby(~api00, ~sch.wide, des, svymean)
  for (i in seq_len(nrow(b))) out[[length(out) + 1]] <- list(statistic = "mean", variable = "api00",
    by = list(sch.wide = as.character(b$sch.wide[i])), estimate = b$api00[i], se = b$se[i])
  out
}
cases <- list()
case <- function(id, data_name, description, des, dsp, cal, r_call, replicate = NA) {
  w <- weights(des)
  if (is.matrix(w)) w <- w[, 1]
  cases[[id]] <<- list(data = data_name, description = description, r_call = r_call, design = dsp,
                       replicate = replicate, calibrate = cal, weights = arr(unname(as.numeric(weights(des, "sampling")))),
                       results = results(des))
}
spec <- function(method, trim = NULL, bounds = NULL, aggregate = NULL, totals = tot1)
  list(totals = totals, method = method, bounds = if (is.null(bounds)) NA else arr(bounds),
       trim = if (is.null(trim)) NA else arr(trim), aggregate = if (is.null(aggregate)) NA else aggregate,
       epsilon = EPS, maxit = MAXIT)

# trim: bounds inside the range of the g-weights so that some are trimmed
g_lin <- weights(calibrate(clus1, ~stype + api99, pop1)) / weights(clus1)
TRIM <- round(c(quantile(g_lin, 0.1), quantile(g_lin, 0.9)), 3); names(TRIM) <- NULL
d <- calibrate(clus1, ~stype + api99, pop1, calfun = cal.linear, trim = TRIM, epsilon = EPS, maxit = MAXIT)
case("trim_linear", "apiclus1.csv", "linear calibration (cal.linear, the grake path) with trim=", d, clus1_spec,
     spec("linear", trim = TRIM), sprintf("calibrate(clus1, ~stype+api99, pop, calfun=cal.linear, trim=c(%s), epsilon=1e-12, maxit=100)", paste(TRIM, collapse = ",")))
d0 <- suppressMessages(calibrate(clus1, ~stype + api99, pop1, calfun = "linear", trim = TRIM))
stopifnot(isTRUE(all.equal(weights(d0), weights(calibrate(clus1, ~stype + api99, pop1)))))  # R ignores trim there
g_rak <- weights(calibrate(clus1, ~stype + api99, pop1, calfun = "raking", epsilon = EPS, maxit = MAXIT)) / weights(clus1)
TRIM_R <- round(c(quantile(g_rak, 0.15), quantile(g_rak, 0.85)), 3); names(TRIM_R) <- NULL
d <- suppressMessages(calibrate(clus1, ~stype + api99, pop1, calfun = "raking", trim = TRIM_R, epsilon = EPS, maxit = MAXIT))
case("trim_raking", "apiclus1.csv", "raking calibration with trim=", d, clus1_spec, spec("raking", trim = TRIM_R),
     "calibrate(clus1, ~stype+api99, pop, calfun='raking', trim=, epsilon=1e-12, maxit=100)")
d <- calibrate(clus1, ~stype + api99, pop1, calfun = cal.sinh, bounds = c(0.5, 2.5), epsilon = EPS, maxit = MAXIT)
case("sinh", "apiclus1.csv", "sinh distance (cal.sinh) with bounds (0.5, 2.5)", d, clus1_spec, spec("sinh", bounds = c(0.5, 2.5)),
     "calibrate(clus1, ~stype+api99, pop, calfun=cal.sinh, bounds=c(0.5, 2.5), epsilon=1e-12, maxit=100)")
d <- calibrate(clus1, ~stype + api99, pop1, calfun = hellinger, epsilon = EPS, maxit = MAXIT)
case("user_hellinger", "apiclus1.csv", "user distance (make.calfun): Hellinger, F(u) = (1 - u/2)^-2", d, clus1_spec,
     spec("hellinger"), "calibrate(clus1, ~stype+api99, pop, calfun=make.calfun(function(u,b) (1-u/2)^-2-1, function(u,b) (1-u/2)^-3, 'hellinger'), epsilon=1e-12)")
d <- suppressMessages(calibrate(clus1, ~stype + api99, pop1, calfun = cal.sinh, bounds = c(0.5, 2.5), trim = TRIM, epsilon = EPS, maxit = MAXIT))
case("sinh_trim", "apiclus1.csv", "sinh distance with bounds and trim=", d, clus1_spec, spec("sinh", bounds = c(0.5, 2.5), trim = TRIM),
     "calibrate(clus1, ~stype+api99, pop, calfun=cal.sinh, bounds=c(0.5,2.5), trim=, epsilon=1e-12)")

# a stratified design with FPC
apistrat <- rd("apistrat.csv")
strat <- svydesign(ids = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat)
strat_spec <- list(ids = arr("1"), strata = "stype", fpc = arr("fpc"), weights = "pw", lonely_psu = "fail")
pop_s <- c(`(Intercept)` = 6194, sch.wideYes = 5000, api99 = round(6194 * 1.01 * unname(coef(svymean(~api99, strat)))))
tot_s <- list(sch.wide = list(No = 1194, Yes = 5000), api99 = unname(pop_s["api99"]))
g_s <- weights(calibrate(strat, ~sch.wide + api99, pop_s)) / weights(strat)
TRIM_S <- round(c(quantile(g_s, 0.1), quantile(g_s, 0.9)), 3); names(TRIM_S) <- NULL
d <- suppressMessages(calibrate(strat, ~sch.wide + api99, pop_s, calfun = cal.linear, trim = TRIM_S, epsilon = EPS, maxit = MAXIT))
case("strat_trim_linear", "apistrat.csv", "stratified SRS with FPC, linear calibration with trim=", d, strat_spec,
     spec("linear", trim = TRIM_S, totals = tot_s), "calibrate(strat, ~sch.wide+api99, pop, calfun=cal.linear, trim=, epsilon=1e-12)")
d <- calibrate(strat, ~sch.wide + api99, pop_s, calfun = cal.sinh, bounds = c(0.5, 2), epsilon = EPS, maxit = MAXIT)
case("strat_sinh", "apistrat.csv", "stratified SRS with FPC, sinh distance with bounds (0.5, 2)", d, strat_spec,
     spec("sinh", bounds = c(0.5, 2), totals = tot_s), "calibrate(strat, ~sch.wide+api99, pop, calfun=cal.sinh, bounds=c(0.5,2), epsilon=1e-12)")

# integrated weighting: one g per cluster (aggregate.stage)
pop2 <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = round(6194 * 1.01 * unname(coef(svymean(~api99, clus2)))))
tot2 <- list(stype = list(E = 6194 - 755 - 1018, H = 755, M = 1018), api99 = unname(pop2["api99"]))
d <- calibrate(clus2, ~stype + api99, pop2, aggregate.stage = 1)
case("aggregate_linear", "apiclus2.csv", "two-stage apiclus2, linear calibration with aggregate.stage=1 (one g per district)",
     d, clus2_spec, spec("linear", aggregate = 1, totals = tot2), "calibrate(clus2, ~stype+api99, pop, aggregate.stage=1)")
d <- calibrate(clus2, ~stype + api99, pop2, aggregate.stage = 2, calfun = "raking", epsilon = EPS, maxit = MAXIT)
case("aggregate_stage2_raking", "apiclus2.csv", "raking with aggregate.stage=2 (the schools: every row its own cluster)",
     d, clus2_spec, spec("raking", aggregate = 2, totals = tot2), "calibrate(clus2, ~stype+api99, pop, aggregate.stage=2, calfun='raking')")
d <- calibrate(clus2, ~stype + api99, pop2, aggregate.stage = 1, calfun = "logit", bounds = c(0.5, 2), epsilon = EPS, maxit = MAXIT)
case("aggregate_logit", "apiclus2.csv", "logit calibration (0.5, 2) with aggregate.stage=1",
     d, clus2_spec, spec("logit", aggregate = 1, bounds = c(0.5, 2), totals = tot2),
     "calibrate(clus2, ~stype+api99, pop, aggregate.stage=1, calfun='logit', bounds=c(0.5,2))")

# replicate designs
jk1 <- as.svrepdesign(clus1, type = "JK1")
d <- suppressMessages(calibrate(jk1, ~stype + api99, pop1, calfun = cal.linear, trim = TRIM, epsilon = EPS, maxit = MAXIT))
case("jk1_trim_linear", "apiclus1.csv", "JK1 replicates, linear calibration with trim= (every replicate trimmed)", d, clus1_spec,
     spec("linear", trim = TRIM), "calibrate(as.svrepdesign(clus1, 'JK1'), ~stype+api99, pop, calfun=cal.linear, trim=)", replicate = "JK1")
d <- calibrate(jk1, ~stype + api99, pop1, calfun = "raking", aggregate.index = ~dnum, epsilon = EPS, maxit = MAXIT)
case("jk1_aggregate_raking", "apiclus1.csv", "JK1 replicates, raking with aggregate.index=~dnum", d, clus1_spec,
     spec("raking", aggregate = 1), "calibrate(jk1, ~stype+api99, pop, calfun='raking', aggregate.index=~dnum)", replicate = "JK1")
d <- calibrate(jk1, ~stype + api99, pop1, calfun = cal.sinh, bounds = c(0.2, 5), epsilon = EPS, maxit = MAXIT)
case("jk1_sinh", "apiclus1.csv", "JK1 replicates, sinh distance with bounds (0.2, 5)", d, clus1_spec, spec("sinh", bounds = c(0.2, 5)),
     "calibrate(jk1, ~stype+api99, pop, calfun=cal.sinh, bounds=c(0.2,5))", replicate = "JK1")

ref <- list(r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/weighting/make_reference_calibration_options.R",
  notes = list(
    trim = "R applies trim= only on its grake path: calibrate(calfun='linear') without bounds goes to regcalibrate, which ignores trim (checked here with stopifnot); the cases use calfun=cal.linear, the same distance through grake.",
    aggregate = "aggregate.stage = k averages the model matrix and the weights within the stage-k clusters of the design (stage 1: PSUs); replicate designs take aggregate.index (a column).",
    weights = "weights are weights(design, 'sampling'), i.e. the full-sample (calibrated) weights in row order."),
  cases = cases)
json <- toJSON(tree(ref), auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null", digits = NA)
writeLines(json, file.path(here, "reference_calibration_options.json"))
cat(sprintf("wrote %d cases\n", length(cases)))
