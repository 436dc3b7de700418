#!/usr/bin/env Rscript
# Reference values for weighting.ordinal (Design.ordinal_logit): R survey's svyolr (logit link)
# on the data sets of this directory.
#
# Produced with R 4.2.2 Patched (2022-11-10 r83330), survey 4.1.1, MASS 7.3-58.2, jsonlite 1.8.4
# (Debian 12 packages); the versions used are written into the JSON.
# Run: Rscript tests/reference/weighting/make_reference_ordinal.R   (about 20 seconds)
# Writes reference_ordinal.json next to this script:
# {"r_version", "survey_version", "mass_version", "jsonlite_version", "generated_by", "notes",
#  "cases": {id: {"data", "description", "r_call", "derived": {column: R expression}?,
#     "design": {...}, "steps": [...] (as reference_regression.json),
#     "model": {"formula", "python", "reference", "by"},
#     "fits": [{"by"?, "coefficients": [{"term" (R name; cut points "1|2"), "estimate", "se",
#               "t"}], "df", "n", "wald": [{"terms", "method", "statistic", "chisq", "df",
#               "ddf", "p"}],
#               "default_settings": [{"term", "estimate", "se"}]?}]}}}
# Numbers have 17 significant digits.
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
options(survey.lonely.psu = "fail", survey.replicates.mse = FALSE, survey.adjust.domain.lonely = FALSE)
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

# tight optimiser settings (see notes); npar = number of coefficients + cut points
tight <- function(npar) list(reltol = 1e-15, maxit = 5000, ndeps = rep(1e-6, npar))
npar_of <- function(formula, design) {
  mf <- model.frame(formula, model.frame(design))
  ncol(model.matrix(formula, mf)) - 1 + nlevels(model.response(mf)) - 1
}

# svyolr.svyrep.design (survey 4.1.1) with the optimiser control passed to the replicate fits
# too (R passes `...` only to the full-sample polr), and the replicate weights not called `w`:
# R's function passes weights = w to polr, which looks in the data first, so with a data
# column named w (synth_brr) every replicate is fitted with that column and the variance is 0.
svyolr_rep_tight <- function(formula, design, control) {
  environment(formula) <- environment()
  df <- model.frame(design)
  pwt <- weights(design, "sampling")
  rval <- suppressWarnings(MASS::polr(formula, data = df, control = control, Hess = TRUE, model = FALSE, weights = pwt))
  start <- c(rval$coefficients, rval$zeta)
  rw <- weights(design, "analysis")
  betas <- apply(rw, 2, function(.rep_w) {  # R names it w: polr then finds a data column w first
    environment(formula) <- environment()
    m <- suppressWarnings(MASS::polr(formula, data = df, Hess = FALSE, start = start, model = FALSE,
                                     weights = .rep_w, control = control))
    c(m$coefficients, m$zeta)
  })
  rval$var <- svrVar(t(betas), design$scale, design$rscales, mse = design$mse, coef = start)
  rval$df.residual <- degf(design) - length(rval$coefficients)
  class(rval) <- "svyolr"
  rval$call <- quote(svyolr(FORMULA, DESIGN))
  rval
}

fit_rows <- function(m, design, by = NULL, wald = list(), default = NULL) {
  est <- coef(m)  # svyolr: coefficients then cut points
  se <- sqrt(diag(vcov(m)))
  coefs <- lapply(seq_along(est), function(i) list(term = names(est)[i], estimate = unname(est[i]),
    se = unname(se[i]), t = unname(est[i] / se[i])))
  out <- list(coefficients = coefs, df = m$df.residual, n = sum(weights(design, "sampling") > 0 &
    complete.cases(model.frame(m$terms, model.frame(design), na.action = na.pass))))
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
  if (!is.null(default)) {
    e0 <- coef(default); s0 <- sqrt(diag(vcov(default)))
    out$default_settings <- lapply(seq_along(e0), function(i) list(term = names(e0)[i], estimate = unname(e0[i]), se = unname(s0[i])))
  }
  out
}

cases <- list()
dspec <- function(ids = "1", strata = NA, fpc = NULL, weights = NA, lonely = "fail")
  list(ids = arr(ids), strata = strata, fpc = if (is.null(fpc)) NA else arr(fpc), weights = weights, lonely_psu = lonely)
modl <- function(formula, python, reference = NULL, by = NA)
  list(formula = formula, python = python,
       reference = if (is.null(reference)) structure(list(), names = character(0)) else reference, by = by)
# regTermTest re-evaluates the model's call (model.frame.svyolr): FORMULA and DESIGN are global
one_fit <- function(f, design) {
  FORMULA <<- f; DESIGN <<- design; CONTROL <<- tight(npar_of(f, design))
  if (inherits(design, "svyrep.design")) svyolr_rep_tight(FORMULA, DESIGN, CONTROL)
  else svyolr(FORMULA, DESIGN, control = CONTROL)
}
run <- function(id, data_name, description, design, dsp, steps, model, wald, derived, with_default = FALSE) {
  f <- as.formula(model$formula)
  fits <- list()
  if (is.na(model$by)) {
    m <- one_fit(f, design)
    default <- if (with_default) svyolr(FORMULA, DESIGN) else NULL
    fits[[1]] <- fit_rows(m, design, wald = wald, default = default)
    call <- if (inherits(design, "svyrep.design"))
      sprintf("svyolr(%s, design) with control=list(reltol=1e-15, maxit=5000, ndeps=1e-6) in every polr (svyolr_rep_tight)", model$formula)
    else sprintf("svyolr(%s, design, control=list(reltol=1e-15, maxit=5000, ndeps=rep(1e-6, npar)))", model$formula)
  } else {
    v <- design$variables[[model$by]]
    for (lv in sort(unique(as.character(v)))) {
      sub <- design[!is.na(v) & as.character(v) == lv, ]
      fits[[length(fits) + 1]] <- fit_rows(one_fit(f, sub), sub, by = setNames(list(lv), model$by), wald = wald)
    }
    call <- sprintf("svyolr(%s, design[%s == lv, ], control=...) for every level lv", model$formula, model$by)
  }
  cases[[id]] <<- list(data = data_name, description = description, derived = derived, design = dsp,
                       steps = steps, model = model, r_call = call, fits = fits)
}

grp_expr <- "1 + (api00 > 600) + (api00 > 700) + (api00 > 800)"
add_grp <- function(df) { df$grp <- factor(eval(parse(text = grp_expr), df)); df }
apistrat <- add_grp(rd("apistrat.csv")); apiclus1 <- add_grp(rd("apiclus1.csv")); apiclus2 <- add_grp(rd("apiclus2.csv"))
synth_large <- rd("synth_large.csv"); synth_large$q1f <- factor(synth_large$q1)
synth_brr <- rd("synth_brr.csv")
ybrr_expr <- "1 + (y > 30) + (y > 36)"
synth_brr$ygrp <- factor(eval(parse(text = ybrr_expr), synth_brr))
GRP <- list(grp = grp_expr)

strat <- svydesign(ids = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat)
strat_spec <- dspec(strata = "stype", fpc = "fpc", weights = "pw")
run("strat", "apistrat.csv", "stratified SRS with FPC; 4-level outcome from api00; a factor predictor", strat, strat_spec,
    list(), modl("grp ~ ell + meals + stype", "grp ~ ell + meals + stype"),
    list(list(terms = "stype", method = "F"), list(terms = c("ell", "stype"), method = "chisq")), GRP, with_default = TRUE)
apistrat_rel <- apistrat; apistrat_rel$stype <- relevel(apistrat_rel$stype, ref = "H")
run("strat_reference_level", "apistrat.csv", "reference level H for stype", svydesign(ids = ~1, strata = ~stype, fpc = ~fpc,
    weights = ~pw, data = apistrat_rel), strat_spec, list(), modl("grp ~ meals + stype", "grp ~ meals + stype", reference = list(stype = "H")),
    list(list(terms = "stype", method = "F")), GRP)
run("strat_subset", "apistrat.csv", "subset(sch.wide == 'Yes')", subset(strat, sch.wide == "Yes"), strat_spec,
    list(list(kind = "subset", column = "sch.wide", level = "Yes")), modl("grp ~ ell + meals", "grp ~ ell + meals"),
    list(list(terms = "meals", method = "F")), GRP)
clus1 <- svydesign(ids = ~dnum, fpc = ~fpc, weights = ~pw, data = apiclus1)
clus1_spec <- dspec(ids = "dnum", fpc = "fpc", weights = "pw")
run("clus1", "apiclus1.csv", "one-stage cluster sample with FPC", clus1, clus1_spec, list(),
    modl("grp ~ meals + ell", "grp ~ meals + ell"), list(list(terms = "ell", method = "F")), GRP)
clus2 <- svydesign(ids = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
run("clus2", "apiclus2.csv", "two-stage cluster sample with FPC at both stages", clus2,
    dspec(ids = c("dnum", "snum"), fpc = c("fpc1", "fpc2")), list(), modl("grp ~ meals", "grp ~ meals"),
    list(list(terms = "meals", method = "chisq")), GRP)
large <- svydesign(ids = ~psu, strata = ~stratum, fpc = ~fpc_psu, weights = ~w, data = synth_large)
run("large_likert", "synth_large.csv", "5,000 rows, 20 strata, 200 PSUs: Likert q1 on Likert q2 and q3 (rows with NA dropped)",
    large, dspec(ids = "psu", strata = "stratum", fpc = "fpc_psu", weights = "w"), list(),
    modl("q1f ~ q2 + q3", "q1 ~ q2 + q3"), list(list(terms = c("q2", "q3"), method = "F")), list(q1f = "factor(q1)"))
run("strat_by", "apistrat.csv", "svyolr in every level of comp.imp", strat, strat_spec, list(),
    modl("grp ~ meals", "grp ~ meals", by = "comp.imp"), list(list(terms = "meals", method = "F")), GRP)

pop_cal <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 3914069)
cal_step <- list(kind = "calibrate", totals = list(stype = list(E = 6194 - 755 - 1018, H = 755, M = 1018), api99 = 3914069),
                 calfun = "linear", bounds = NA)
run("clus1_calibrated", "apiclus1.csv", "apiclus1 calibrated (linear) to stype counts and the api99 total",
    calibrate(clus1, ~stype + api99, pop_cal), clus1_spec, list(cal_step), modl("grp ~ meals + ell", "grp ~ meals + ell"),
    list(list(terms = "ell", method = "F")), GRP)
rk <- rake(strat, list(~sch.wide, ~comp.imp), list(data.frame(sch.wide = c("No", "Yes"), Freq = c(1000, 5194)),
           data.frame(comp.imp = c("No", "Yes"), Freq = c(2500, 3694))), control = list(maxit = 100, epsilon = 1e-12))
rk_step <- list(kind = "rake", margins = list(
  list(column = "sch.wide", population = list(No = 1000, Yes = 5194)),
  list(column = "comp.imp", population = list(No = 2500, Yes = 3694))), maxit = 100, epsilon = 1e-12)
run("strat_raked", "apistrat.csv", "apistrat raked on sch.wide and comp.imp", rk, strat_spec, list(rk_step),
    modl("grp ~ meals + stype", "grp ~ meals + stype"), list(list(terms = "stype", method = "F")), GRP)

jk1 <- as.svrepdesign(clus1, type = "JK1")
run("clus1_jk1", "apiclus1.csv", "JK1 replicates of apiclus1", jk1, clus1_spec, list(list(kind = "replicate", type = "JK1")),
    modl("grp ~ meals + ell", "grp ~ meals + ell"), list(list(terms = "ell", method = "F")), GRP)
jkn <- as.svrepdesign(strat, type = "JKn")
run("strat_jkn", "apistrat.csv", "JKn replicates of apistrat", jkn, strat_spec, list(list(kind = "replicate", type = "JKn")),
    modl("grp ~ ell + meals", "grp ~ ell + meals"), list(list(terms = "meals", method = "F")), GRP)
brr <- as.svrepdesign(svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = synth_brr), type = "BRR")
run("brr", "synth_brr.csv", "BRR replicates; 3-level outcome from y", brr, dspec(ids = "psu", strata = "stratum", weights = "w"),
    list(list(kind = "replicate", type = "BRR")), modl("ygrp ~ x + dom", "ygrp ~ x + dom"),
    list(list(terms = "dom", method = "F")), list(ygrp = ybrr_expr))
pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
ps_step <- list(kind = "poststratify", variables = arr("stype"),
                population = lapply(1:3, function(i) list(stype = pop_stype$stype[i], count = pop_stype$Freq[i])))
run("clus1_jk1_poststratified", "apiclus1.csv", "JK1 replicates, post-stratified on stype", postStratify(jk1, ~stype, pop_stype),
    clus1_spec, list(list(kind = "replicate", type = "JK1"), ps_step), modl("grp ~ meals", "grp ~ meals"),
    list(list(terms = "meals", method = "F")), GRP)

run("clus1_poststratified_trimmed", "apiclus1.csv", "post-stratified on stype, then trimWeights(lower=20, upper=40)",
    trimWeights(postStratify(clus1, ~stype, pop_stype), upper = 40, lower = 20), clus1_spec,
    list(ps_step, list(kind = "trim", lower = 20, upper = 40, strict = FALSE)), modl("grp ~ meals + ell", "grp ~ meals + ell"),
    list(list(terms = "meals", method = "F")), GRP)

ref <- list(
  r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  mass_version = as.character(packageVersion("MASS")), jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/weighting/make_reference_ordinal.R",
  notes = list(
    optimiser = "svyolr maximises with optim(BFGS), whose default reltol (1e-8) stops early, and takes the Hessian from optim's central differences with ndeps=1e-3; with these defaults the estimates and SEs of the strat case are up to 1.3e-4 and 3e-4 relative from the maximum-likelihood values with the exact Hessian. Every fit here uses control=list(reltol=1e-15, maxit=5000, ndeps=rep(1e-6, npar)) so that R's numbers are accurate to the 1e-7 reference tolerance; default_settings has R's defaults for comparison.",
    replicates = "svyolr.svyrep.design passes `...` only to the full-sample polr; svyolr_rep_tight is the same function with the control in every replicate polr, and its replicate weights renamed (survey 4.1.1 passes weights = w to polr, which takes a data column named w instead when there is one: synth_brr has one, and R's svyolr then reports a zero variance).",
    df = "df.residual = degf(design) - length(coefficients) (cut points not counted); design after subset() and after rows with NA are dropped.",
    derived = "derived columns are computed from the CSV with the given R expression (the tests compute the same), e.g. grp = 1 + (api00 > 600) + (api00 > 700) + (api00 > 800) as a factor."),
  cases = cases)
json <- toJSON(tree(ref), auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null", digits = NA)
writeLines(json, file.path(here, "reference_ordinal.json"))
cat(sprintf("wrote %d cases\n", length(cases)))
