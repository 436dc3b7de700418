#!/usr/bin/env Rscript
# Reference values for weighting.regression (Design.glm): R survey's svyglm, regTermTest and
# predict(..., se.fit=TRUE) on the data sets of this directory (data(api) and synthetic CSVs).
#
# Produced with R 4.2.2 Patched (2022-11-10 r83330), survey 4.1.1, jsonlite 1.8.4 (Debian 12
# packages r-base-core, r-cran-survey); the versions used are written into the JSON.
# Run: Rscript tests/reference/weighting/make_reference_regression.R   (a few seconds)
# Writes reference_regression.json next to this script:
# {"r_version", "survey_version", "jsonlite_version", "generated_by", "notes": {...},
#  "cases": {id: {"data": "apistrat.csv", "description", "r_call",
#     "design": {"ids": [..] ("1" = each row its own PSU), "strata", "fpc": [..], "weights",
#                "lonely_psu"},
#     "steps": [{"kind": "poststratify"|"rake"|"calibrate"|"trim"|"replicate"|"subset", ...}],
#     "model": {"formula": R formula, "python": the same in formulaic syntax, "family",
#               "reference": {column: level} (relevel), "by": column (svyglm on each subset)},
#     "fits": [{"by": {col: level}?, "coefficients": [{"term" (R name), "estimate", "se", "t",
#               "p"}], "df": df.residual, "dispersion", "dispersion_svyvar"?, "n": rows used
#               with a positive weight,
#               "degf": degf of the design the fit used,
#               "wald": [{"terms": [..], "method": "F"|"chisq", "statistic", "chisq", "df",
#                         "ddf", "p"}],
#               "predict": [{"scale": "link"|"response", "rows": [1-based rows of the CSV],
#                            "estimate": [..], "se": [..]}]}]}}}
# Numbers have 17 significant digits; NA/NaN/Inf are null.
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
options(survey.lonely.psu = "fail", survey.replicates.mse = FALSE, survey.adjust.domain.lonely = FALSE)
rd <- function(f) read.csv(file.path(here, f), stringsAsFactors = TRUE, na.strings = "")

# --- JSON with full precision ------------------------------------------------------------------
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
CONTROL <- glm.control(epsilon = 1e-14, maxit = 100)

apistrat <- rd("apistrat.csv"); apiclus1 <- rd("apiclus1.csv"); apiclus2 <- rd("apiclus2.csv")
synth_brr <- rd("synth_brr.csv"); synth_small <- rd("synth_small.csv")
for (nm in c("apistrat", "apiclus1", "apiclus2")) {
  df <- get(nm); df$hi <- as.numeric(df$api00 > 700); assign(nm, df)
}

# --- one fit -----------------------------------------------------------------------------------
fit_rows <- function(m, design, by = NULL, wald = list(), pred_rows = 1:5, svyvar_disp = FALSE) {
  s <- summary(m)
  cf <- s$coefficients
  coefs <- lapply(seq_len(nrow(cf)), function(i) list(term = rownames(cf)[i], estimate = cf[i, 1],
    se = cf[i, 2], t = cf[i, 3], p = cf[i, 4]))
  out <- list(coefficients = coefs, df = m$df.residual, dispersion = unname(s$dispersion[1]),
              n = sum(m$prior.weights > 0), degf = degf(m$survey.design))
  if (svyvar_disp) {
    # the linearisation-style dispersion on a replicate design: svyvar of the Pearson residuals
    # without residuals.svrepglm's weight-sum scaling (see notes)
    des <- m$survey.design
    r <- resid(m, "pearson") / sqrt(sum(des$pweights) / mean(des$pweights))
    out$dispersion_svyvar <- unname(coef(svyvar(r, des)))[1]
  }
  if (!is.null(by)) out$by <- by
  out$wald <- lapply(wald, function(w) {
    if (w$method == "F") {
      r <- regTermTest(m, w$terms)
      list(terms = arr(w$terms), method = "F", statistic = unname(r$Ftest[1]), chisq = unname(r$Ftest[1]) * r$df,
           df = r$df, ddf = r$ddf, p = unname(r$p[1]))
    } else {
      r <- regTermTest(m, w$terms, df = Inf)
      list(terms = arr(w$terms), method = "chisq", statistic = unname(r$chisq[1]), chisq = unname(r$chisq[1]),
           df = r$df, ddf = NA, p = unname(r$p[1]))
    }
  })
  nd <- model.frame(design)[pred_rows, ]
  out$predict <- lapply(c("link", "response"), function(type) {
    p <- predict(m, newdata = nd, type = type)
    list(scale = type, rows = arr(as.integer(rownames(nd))), estimate = arr(unname(coef(p))),
         se = arr(unname(sqrt(attr(p, "var")))))
  })
  out
}

cases <- list()
add_case <- function(id, data, description, design, steps, model, r_call, fits) {
  cases[[id]] <<- list(data = data, description = description, design = design, steps = steps,
                       model = model, r_call = r_call, fits = fits)
}
dspec <- function(ids = "1", strata = NA, fpc = NULL, weights = NA, lonely = "fail")
  list(ids = arr(ids), strata = strata, fpc = if (is.null(fpc)) NA else arr(fpc), weights = weights,
       lonely_psu = lonely)
modl <- function(formula, python, family = "gaussian", reference = NULL, by = NA)
  list(formula = formula, python = python, family = family,
       reference = if (is.null(reference)) structure(list(), names = character(0)) else reference, by = by)
fam <- function(name) switch(name, gaussian = gaussian(), quasibinomial = quasibinomial(), quasipoisson = quasipoisson())
run <- function(id, data_name, description, design, dsp, steps, model, wald, svyvar_disp = FALSE) {
  f <- as.formula(model$formula)
  FAMILY <<- fam(model$family)  # global: svyglm evaluates its call in the data's environment
  fits <- list(); calls <- character()
  if (is.na(model$by)) {
    m <- svyglm(f, design = design, family = FAMILY, control = CONTROL)
    fits[[1]] <- fit_rows(m, design, wald = wald, svyvar_disp = svyvar_disp)
    calls <- sprintf("svyglm(%s, design, family=%s, control=glm.control(epsilon=1e-14, maxit=100))",
                     model$formula, model$family)
  } else {
    v <- design$variables[[model$by]]
    for (lv in sort(unique(as.character(v)))) {
      sub <- design[!is.na(v) & as.character(v) == lv, ]
      m <- svyglm(f, design = sub, family = FAMILY, control = CONTROL)
      fits[[length(fits) + 1]] <- fit_rows(m, sub, by = setNames(list(lv), model$by), wald = wald,
                                           pred_rows = 1:3, svyvar_disp = svyvar_disp)
    }
    calls <- sprintf("for each level lv of %s: svyglm(%s, design[%s == lv, ], family=%s, control=...)",
                     model$by, model$formula, model$by, model$family)
  }
  add_case(id, data_name, description, dsp, steps, model, calls, fits)
}

# --- linearisation designs ----------------------------------------------------------------------
strat <- svydesign(ids = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat)
strat_spec <- dspec(strata = "stype", fpc = "fpc", weights = "pw")
W2 <- list(list(terms = "stype", method = "F"), list(terms = c("stype", "ell"), method = "chisq"),
           list(terms = "meals", method = "F"))
run("strat_gaussian", "apistrat.csv", "stratified SRS with FPC, linear model with a 3-level factor",
    strat, strat_spec, list(), modl("api00 ~ ell + meals + mobility + stype",
    "api00 ~ ell + meals + mobility + stype"), W2)
run("strat_logistic", "apistrat.csv", "stratified SRS with FPC, logistic model (quasibinomial)",
    strat, strat_spec, list(), modl("hi ~ ell + meals + stype", "hi ~ ell + meals + stype", "quasibinomial"), W2)
run("strat_poisson", "apistrat.csv", "stratified SRS with FPC, log-linear model (quasipoisson)",
    strat, strat_spec, list(), modl("enroll ~ meals + stype", "enroll ~ meals + stype", "quasipoisson"),
    list(list(terms = "stype", method = "F"), list(terms = "meals", method = "chisq")))
apistrat_rel <- apistrat; apistrat_rel$stype <- relevel(apistrat_rel$stype, ref = "M")
strat_rel <- svydesign(ids = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat_rel)
run("strat_reference_level", "apistrat.csv", "reference level M for stype (relevel), interaction",
    strat_rel, strat_spec, list(), modl("api00 ~ ell * stype + meals", "api00 ~ ell * stype + meals",
    reference = list(stype = "M")), list(list(terms = "ell:stype", method = "F"), list(terms = "stype", method = "chisq")))
run("strat_missing", "apistrat.csv", "a predictor with missing values (acs.k3): rows dropped, degf recomputed",
    strat, strat_spec, list(), modl("api00 ~ ell + acs.k3", "api00 ~ ell + `acs.k3`"), list(list(terms = "acs.k3", method = "F")))

clus1 <- svydesign(ids = ~dnum, fpc = ~fpc, weights = ~pw, data = apiclus1)
clus1_spec <- dspec(ids = "dnum", fpc = "fpc", weights = "pw")
W1 <- list(list(terms = "stype", method = "F"), list(terms = "stype", method = "chisq"))
run("clus1_gaussian", "apiclus1.csv", "one-stage cluster sample with FPC", clus1, clus1_spec, list(),
    modl("api00 ~ ell + meals + stype", "api00 ~ ell + meals + stype"), W1)
run("clus1_logistic", "apiclus1.csv", "one-stage cluster sample with FPC, logistic", clus1, clus1_spec, list(),
    modl("hi ~ meals + stype", "hi ~ meals + stype", "quasibinomial"), W1)
clus2 <- svydesign(ids = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
run("clus2_poisson", "apiclus2.csv", "two-stage cluster sample with FPC at both stages, quasipoisson",
    clus2, dspec(ids = c("dnum", "snum"), fpc = c("fpc1", "fpc2")), list(),
    modl("enroll ~ meals + stype", "enroll ~ meals + stype", "quasipoisson"), W1)

# domains: subset() (domain degf) and by
sub_yes <- subset(strat, sch.wide == "Yes")
run("strat_subset", "apistrat.csv", "subset(sch.wide == 'Yes'): full design kept in the variance, degf of the subset",
    sub_yes, strat_spec, list(list(kind = "subset", column = "sch.wide", level = "Yes")),
    modl("api00 ~ ell + meals + stype", "api00 ~ ell + meals + stype"), W2)
run("clus1_by", "apiclus1.csv", "svyglm in every level of sch.wide (svyby-style)", clus1, clus1_spec, list(),
    modl("api00 ~ ell + meals", "api00 ~ ell + meals", by = "sch.wide"), list(list(terms = "meals", method = "F")))

# --- calibrated designs -------------------------------------------------------------------------
pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
ps <- postStratify(clus1, ~stype, pop_stype)
ps_step <- list(kind = "poststratify", variables = arr("stype"),
                population = lapply(1:3, function(i) list(stype = pop_stype$stype[i], count = pop_stype$Freq[i])))
run("clus1_poststratified", "apiclus1.csv", "apiclus1 post-stratified on stype", ps, clus1_spec, list(ps_step),
    modl("api00 ~ ell + meals", "api00 ~ ell + meals"), list(list(terms = "ell", method = "F")))
pop_cal <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 3914069)
cal <- calibrate(clus1, ~stype + api99, pop_cal)
cal_step <- list(kind = "calibrate", totals = list(stype = list(E = 6194 - 755 - 1018, H = 755, M = 1018), api99 = 3914069),
                 calfun = "linear", bounds = NA)
run("clus1_calibrated_logistic", "apiclus1.csv", "apiclus1 calibrated (linear) to stype counts and the api99 total, logistic",
    cal, clus1_spec, list(cal_step), modl("hi ~ meals + ell", "hi ~ meals + ell", "quasibinomial"),
    list(list(terms = c("meals", "ell"), method = "F")))
run("clus1_calibrated_subset", "apiclus1.csv", "calibrated design, subset(sch.wide == 'Yes') (weights 0 outside, R keeps the rows)",
    subset(cal, sch.wide == "Yes"), clus1_spec, list(cal_step, list(kind = "subset", column = "sch.wide", level = "Yes")),
    modl("api00 ~ meals + stype", "api00 ~ meals + stype"), list(list(terms = "stype", method = "F")))
rk <- rake(strat, list(~sch.wide, ~comp.imp), list(data.frame(sch.wide = c("No", "Yes"), Freq = c(1000, 5194)),
           data.frame(comp.imp = c("No", "Yes"), Freq = c(2500, 3694))), control = list(maxit = 100, epsilon = 1e-12))
rk_step <- list(kind = "rake", margins = list(
  list(column = "sch.wide", population = list(No = 1000, Yes = 5194)),
  list(column = "comp.imp", population = list(No = 2500, Yes = 3694))), maxit = 100, epsilon = 1e-12)
run("strat_raked_poisson", "apistrat.csv", "apistrat raked on sch.wide and comp.imp, quasipoisson", rk, strat_spec,
    list(rk_step), modl("enroll ~ meals + ell", "enroll ~ meals + ell", "quasipoisson"), list(list(terms = "meals", method = "F")))
tr <- trimWeights(ps, upper = 40, lower = 20)
run("clus1_poststratified_trimmed", "apiclus1.csv", "post-stratified then trimWeights(lower=20, upper=40)", tr, clus1_spec,
    list(ps_step, list(kind = "trim", lower = 20, upper = 40, strict = FALSE)),
    modl("api00 ~ ell + meals", "api00 ~ ell + meals"), list(list(terms = "ell", method = "F")))

# --- replicate designs --------------------------------------------------------------------------
jk1 <- as.svrepdesign(clus1, type = "JK1")
run("clus1_jk1", "apiclus1.csv", "JK1 replicates of apiclus1 (with FPC)", jk1, clus1_spec,
    list(list(kind = "replicate", type = "JK1")), modl("api00 ~ ell + meals + stype", "api00 ~ ell + meals + stype"), W1,
    svyvar_disp = TRUE)
jkn <- as.svrepdesign(strat, type = "JKn")
run("strat_jkn_logistic", "apistrat.csv", "JKn replicates of apistrat, logistic", jkn, strat_spec,
    list(list(kind = "replicate", type = "JKn")), modl("hi ~ ell + meals + stype", "hi ~ ell + meals + stype", "quasibinomial"),
    W2, svyvar_disp = TRUE)
brr_d <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = synth_brr)
brr <- as.svrepdesign(brr_d, type = "BRR")
brr_spec <- dspec(ids = "psu", strata = "stratum", weights = "w")
run("brr_poisson", "synth_brr.csv", "BRR replicates (8 strata x 2 PSUs), quasipoisson", brr, brr_spec,
    list(list(kind = "replicate", type = "BRR")), modl("y ~ x + dom", "y ~ x + dom", "quasipoisson"),
    list(list(terms = "dom", method = "F")), svyvar_disp = TRUE)
fay <- as.svrepdesign(brr_d, type = "Fay", fay.rho = 0.3)
run("fay_by", "synth_brr.csv", "Fay (rho 0.3) replicates, gaussian in each dom", fay, brr_spec,
    list(list(kind = "replicate", type = "Fay", fay_rho = 0.3)), modl("y ~ x", "y ~ x", by = "dom"),
    list(list(terms = "x", method = "F")), svyvar_disp = TRUE)
jk1ps <- postStratify(jk1, ~stype, pop_stype)
run("clus1_jk1_poststratified", "apiclus1.csv", "JK1 replicates, then post-stratified (every replicate re-weighted)",
    jk1ps, clus1_spec, list(list(kind = "replicate", type = "JK1"), ps_step),
    modl("api00 ~ ell + meals", "api00 ~ ell + meals"), list(list(terms = "ell", method = "F")), svyvar_disp = TRUE)
jkn_sub <- subset(jkn, sch.wide == "Yes")
run("strat_jkn_subset", "apistrat.csv", "JKn replicates, subset(sch.wide == 'Yes') (degf: rank of the subset's replicate weights - 1)",
    jkn_sub, strat_spec, list(list(kind = "replicate", type = "JKn"), list(kind = "subset", column = "sch.wide", level = "Yes")),
    modl("api00 ~ ell + meals", "api00 ~ ell + meals"), list(list(terms = "meals", method = "F")), svyvar_disp = TRUE)

ref <- list(
  r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/weighting/make_reference_regression.R",
  notes = list(
    control = "every svyglm call uses control=glm.control(epsilon=1e-14, maxit=100), so that R's IRLS (and the replicate refits, which reuse the control) converge to rounding; R's default epsilon 1e-8 leaves errors of about 1e-9 relative in the coefficients.",
    df = "df is model$df.residual = degf(design) + 1 - p, where the design is the one after subset() and, for linearisation designs, after rows with missing values are dropped (design[-nas, ]); for replicate designs degf before dropping them.",
    dispersion = "summary(m)$dispersion. Linearisation designs: svyvar(resid(m, 'pearson'), m$survey.design). Replicate designs: summary.svrepglm's sum(pw * presid^2)/sum(pw) with residuals.svrepglm, which scales the Pearson residuals by sqrt(sum(pw)/mean(pw)); dispersion_svyvar is svyvar of the residuals without that scaling.",
    predict = "predict(m, newdata = model.frame(design)[rows, ], type = scale): estimate and SE (delta method on the response scale).",
    by = "model$by: a fit on design[column == level, ] for every level (uncalibrated designs drop the other rows, so degf is the domain's)."),
  cases = cases)
json <- toJSON(tree(ref), auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null", digits = NA)
writeLines(json, file.path(here, "reference_regression.json"))
cat(sprintf("wrote %d cases\n", length(cases)))
