#!/usr/bin/env Rscript
# Reference values for issue #19 (inference): jackknife with lonely and census strata, domain
# degrees of freedom of proportion intervals and quantiles, survey.adjust.domain.lonely, rake()
# defaults, svyvar, svyby(covmat=TRUE) / svycontrast / svyttest, svychisq / svytable /
# svytotal of a factor, and svyciprop(method="likelihood").
#
# Run from anywhere:   Rscript tests/reference/weighting/make_reference_inference.R
# It reads the CSVs next to it (written by make_reference.R from data(api) and the synthetic
# designs) and writes reference_inference.json next to itself, with the R, survey and jsonlite
# versions it ran on. Runtime: a few seconds.
#
# Shape of reference_inference.json:
# {"r_version", "survey_version", "jsonlite_version", "generated_by",
#  "cases": {case_id: {"r_call": "...", ...values...}}}
# Values are written with 17 significant digits; NA/NaN/Inf as null. Each case documents its
# own keys in "r_call" and in the comments below.

suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})

script_path <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
outdir <- if (length(script_path)) dirname(normalizePath(script_path)) else getwd()

options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE,
        survey.replicates.mse = FALSE, survey.drop.replicates = TRUE)

read <- function(name) {
  df <- read.csv(file.path(outdir, paste0(name, ".csv")), stringsAsFactors = FALSE,
                 na.strings = "")
  for (v in names(df)) if (is.character(df[[v]])) df[[v]] <- factor(df[[v]])
  df
}
apistrat <- read("apistrat")
apiclus1 <- read("apiclus1")
apiclus2 <- read("apiclus2")
synth <- read("synth_small")

# Full-precision numbers: every numeric is written verbatim with 17 significant digits.
num17 <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
as_json_tree <- function(x) {
  if (is.list(x)) {
    y <- lapply(x, as_json_tree)
    names(y) <- names(x)
    return(y)
  }
  if (is.factor(x)) x <- as.character(x)
  if (is.numeric(x) || is.logical(x) && all(is.na(x))) {
    vals <- num17(as.double(x))
    if (length(x) == 1) return(structure(vals, class = "json"))
    return(structure(paste0("[", paste(vals, collapse = ","), "]"), class = "json"))
  }
  if (is.character(x) && length(x) != 1) return(I(x))
  x
}

cases <- list()
add <- function(id, value) cases[[id]] <<- value

# svystat / svrepstat -> list(estimate, se)
stat <- function(s) list(names = names(coef(s)), estimate = unname(coef(s)),
                         se = unname(SE(s)))
# svyby -> list(by = by values, estimate, se[, ci])
byrows <- function(b, byvar, ci = FALSE) {
  out <- list(by = as.character(b[[byvar]]), estimate = unname(coef(b)),
              se = unname(SE(b)))
  if (ci) {
    out$ci_low <- unname(confint(b)[, 1])
    out$ci_high <- unname(confint(b)[, 2])
  }
  out
}

pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_sch <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))

dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
ps1 <- postStratify(dclus1, ~stype, pop_stype)
rk1 <- rake(dclus1, list(~stype, ~sch.wide), list(pop_stype, pop_sch),
            control = list(maxit = 100, epsilon = 1e-12))
jk1 <- as.svrepdesign(dclus1, type = "JK1")
api_env <- new.env()  # apipop (data(api)): the population totals of calibration
data(api, package = "survey", envir = api_env)
apipop <- api_env$apipop
pop_cal <- c(`(Intercept)` = nrow(apipop), stypeH = sum(apipop$stype == "H"),
             stypeM = sum(apipop$stype == "M"), api99 = sum(apipop$api99))
cal1 <- calibrate(dclus1, ~stype + api99, pop_cal)
trim1 <- trimWeights(cal1, upper = 50, lower = 20)
designs <- list(strat = dstrat, clus1 = dclus1, clus2 = dclus2, post = ps1, rake = rk1,
                jk1 = jk1, cal = cal1, trim = trim1)

# ---------------------------------------------------------------------------------------------
# 1. JKn with a census stratum (fpc = n): its replicates are dropped (survey.drop.replicates)
# ---------------------------------------------------------------------------------------------
apistrat$fpc_c <- ifelse(apistrat$stype == "H", 50, apistrat$fpc)
dcen <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc_c)
rcen <- as.svrepdesign(dcen, type = "JKn")
m <- svymean(~api00, rcen)
add("jkn_census_apistrat", list(
  r_call = "as.svrepdesign(svydesign(id=~1, strata=~stype, weights=~pw, fpc=~fpc_c), type='JKn'); fpc_c = 50 (census) in stratum H",
  n_replicates = ncol(rcen$repweights$weights), degf = degf(rcen), scale = rcen$scale,
  rscales = rcen$rscales,
  mean = stat(m), ci = unname(confint(m, df = degf(rcen))[1, ]),
  total = stat(svytotal(~enroll, rcen)),
  mean_by = byrows(svyby(~api00, ~sch.wide, rcen, svymean), "sch.wide"),
  linear_mean = stat(svymean(~api00, dcen))))

# ---------------------------------------------------------------------------------------------
# 2. JKn with a lonely stratum (S7 of synth_small) under every survey.lonely.psu
# ---------------------------------------------------------------------------------------------
for (lonely in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = lonely)
  d <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = synth)
  r <- as.svrepdesign(d, type = "JKn")
  add(paste0("jkn_lonely_", lonely), list(
    r_call = sprintf("options(survey.lonely.psu='%s'); as.svrepdesign(svydesign(id=~psu, strata=~stratum, weights=~w, data=synth_small), type='JKn')", lonely),
    n_replicates = ncol(r$repweights$weights), degf = degf(r), scale = r$scale,
    rscales = r$rscales,
    mean_y = stat(svymean(~y, r, na.rm = TRUE)), total_x = stat(svytotal(~x, r)),
    mean_x_by = byrows(svyby(~x, ~dom, r, svymean), "dom")))
}
# census single-PSU stratum (S7, fpc = 1) with lonely.psu = "fail"; and average + a census stratum
options(survey.lonely.psu = "fail")
synth$fpc_cert <- ifelse(synth$stratum == "S7", 1, synth$fpc_psu)
d <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, fpc = ~fpc_cert, data = synth)
r <- as.svrepdesign(d, type = "JKn")
add("jkn_census_single_psu", list(
  r_call = "svydesign(id=~psu, strata=~stratum, weights=~w, fpc=~fpc_cert) with fpc_cert=1 in S7 (one PSU, census); as.svrepdesign(type='JKn'); lonely.psu='fail'",
  n_replicates = ncol(r$repweights$weights), degf = degf(r), rscales = r$rscales,
  mean_x = stat(svymean(~x, r)), total_x = stat(svytotal(~x, r)),
  linear_mean_x = stat(svymean(~x, d))))
options(survey.lonely.psu = "average")
synth$fpc_s1 <- ifelse(synth$stratum == "S1", 2, 1000)
d <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, fpc = ~fpc_s1, data = synth)
r <- as.svrepdesign(d, type = "JKn")
add("jkn_average_census", list(
  r_call = "options(survey.lonely.psu='average'); svydesign(id=~psu, strata=~stratum, weights=~w, fpc=~fpc_s1), fpc_s1 = 2 (census) in S1, 1000 elsewhere; as.svrepdesign(type='JKn')",
  n_replicates = ncol(r$repweights$weights), scale = r$scale, degf = degf(r),
  total_x = stat(svytotal(~x, r))))
options(survey.lonely.psu = "fail")

# ---------------------------------------------------------------------------------------------
# 3. svyby(..., svyciprop): each domain's own df (degf of the subset)
# ---------------------------------------------------------------------------------------------
ciprop <- list()
for (dn in names(designs)) {
  d <- designs[[dn]]
  for (method in c("logit", "beta", "mean", "asin", "likelihood")) {
    b <- svyby(~I(sch.wide == "Yes"), ~stype, d, svyciprop, vartype = "ci", method = method)
    dfs <- sapply(levels(apistrat$stype), function(s) degf(subset(d, stype == s)))
    ciprop[[paste(dn, method, sep = "_")]] <- list(
      design = dn, method = method, by = as.character(b$stype), estimate = unname(coef(b)),
      ci_low = unname(b[["ci_l"]]), ci_high = unname(b[["ci_u"]]), df = unname(dfs))
  }
  whole <- svyciprop(~I(sch.wide == "Yes"), d, method = "likelihood")
  ciprop[[paste(dn, "likelihood_all", sep = "_")]] <- list(
    design = dn, method = "likelihood", estimate = as.numeric(whole),
    ci_low = unname(attr(whole, "ci")[1]), ci_high = unname(attr(whole, "ci")[2]),
    df = degf(d))
}
add("ciprop_by", list(
  r_call = "svyby(~I(sch.wide=='Yes'), ~stype, design, svyciprop, vartype='ci', method=m); df = degf(subset(design, stype==s)); *_likelihood_all: svyciprop(~I(sch.wide=='Yes'), design, method='likelihood')",
  results = ciprop))

# ---------------------------------------------------------------------------------------------
# 4. Quantiles by domain and with missing values removed: the domain's / complete cases' df
# ---------------------------------------------------------------------------------------------
qs <- list()
for (dn in c("strat", "clus1", "post")) {
  b <- svyby(~api00, ~stype, designs[[dn]], svyquantile, quantiles = c(0.25, 0.5), ci = TRUE,
             vartype = c("se", "ci"))
  qs[[dn]] <- list(by = as.character(b$stype), q25 = unname(b[["api00.0.25"]]),
                   q50 = unname(b[["api00.0.5"]]), se25 = unname(b[["se.api00.0.25"]]),
                   se50 = unname(b[["se.api00.0.5"]]), ci_low50 = unname(b[["ci_l.api00.0.5"]]),
                   ci_high50 = unname(b[["ci_u.api00.0.5"]]))
}
q <- svyquantile(~enroll, dclus2, quantiles = c(0.25, 0.5), ci = TRUE, na.rm = TRUE)
qs[["clus2_na"]] <- list(estimate = unname(q$enroll[, "quantile"]), se = unname(q$enroll[, "se"]),
                         ci_low = unname(q$enroll[, 2]), ci_high = unname(q$enroll[, 3]),
                         df = degf(dclus2[!is.na(apiclus2$enroll), ]))
add("quantile_by", list(
  r_call = "svyby(~api00, ~stype, design, svyquantile, quantiles=c(.25,.5), ci=TRUE); svyquantile(~enroll, dclus2, c(.25,.5), ci=TRUE, na.rm=TRUE)",
  results = qs))

# ---------------------------------------------------------------------------------------------
# 5. Degenerate domains: 0% and 100% with non-integer weights (synth_small: bin by dom)
# ---------------------------------------------------------------------------------------------
options(survey.lonely.psu = "adjust")
d <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = synth)
b <- svyby(~bin, ~dom, d, svymean)
add("degenerate_bin_by_dom", list(
  r_call = "options(survey.lonely.psu='adjust'); d <- svydesign(id=~psu, strata=~stratum, weights=~w, data=synth_small); svyby(~bin, ~dom, d, svymean) and svyby(~I(bin==1), ~dom, d, svyciprop): dom c is 100% bin=1, dom d 0% (svyby(~factor(bin), ~dom, d, svymean) is an error in R there)",
  mean = byrows(b, "dom"),
  ciprop = byrows(svyby(~I(bin == 1), ~dom, d, svyciprop, vartype = "se"), "dom")))

# ---------------------------------------------------------------------------------------------
# 6. survey.adjust.domain.lonely = TRUE (adjust and average), uncalibrated design
# ---------------------------------------------------------------------------------------------
for (lonely in c("adjust", "average", "remove")) {
  options(survey.lonely.psu = lonely, survey.adjust.domain.lonely = TRUE)
  d <- svydesign(id = ~psu, strata = ~stratum, weights = ~w, data = synth)
  bm <- suppressWarnings(svyby(~x, ~dom, d, svymean))
  bt <- suppressWarnings(svyby(~x, ~dom, d, svytotal))
  add(paste0("domain_lonely_", lonely), list(
    r_call = sprintf("options(survey.lonely.psu='%s', survey.adjust.domain.lonely=TRUE); svyby(~x, ~dom, svydesign(id=~psu, strata=~stratum, weights=~w, data=synth_small), svymean / svytotal)", lonely),
    mean = byrows(bm, "dom"), total = byrows(bt, "dom")))
}
options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE)

# ---------------------------------------------------------------------------------------------
# 7. rake() with R's default control (maxit = 10, epsilon = 1) on three margins
# ---------------------------------------------------------------------------------------------
pop_awards <- data.frame(awards = c("No", "Yes"), Freq = c(2500, 3694))
rk_def <- rake(dclus1, list(~stype, ~sch.wide, ~awards), list(pop_stype, pop_sch, pop_awards))
rk_full <- rake(dclus1, list(~stype, ~sch.wide, ~awards), list(pop_stype, pop_sch, pop_awards),
                control = list(maxit = 100, epsilon = 1e-12))
add("rake_default_control", list(
  r_call = "rake(dclus1, list(~stype, ~sch.wide, ~awards), list(pop_stype, pop_sch, pop_awards)) with R's default control and with control=list(maxit=100, epsilon=1e-12)",
  weights_default = unname(weights(rk_def)), mean_default = stat(svymean(~api00, rk_def)),
  weights_full = unname(weights(rk_full)), mean_full = stat(svymean(~api00, rk_full))))

# ---------------------------------------------------------------------------------------------
# 8. svyvar, with by
# ---------------------------------------------------------------------------------------------
vv <- list()
for (dn in names(designs)) {
  d <- designs[[dn]]
  v <- svyvar(~api00, d)
  b <- svyby(~api00, ~stype, d, svyvar)
  vv[[dn]] <- list(estimate = unname(coef(v))[1], se = unname(SE(v))[1],
                   by = as.character(b$stype), by_estimate = unname(coef(b)),
                   by_se = unname(SE(b)))
}
v2 <- svyvar(~api00 + api99, dstrat)
vv[["strat_matrix"]] <- list(estimate = as.vector(unclass(v2)[1:2, 1:2]), se = as.vector(SE(v2)))
add("svyvar", list(
  r_call = "svyvar(~api00, design); svyby(~api00, ~stype, design, svyvar); strat_matrix: svyvar(~api00+api99, dstrat) (column-major 2x2)",
  results = vv))

# ---------------------------------------------------------------------------------------------
# 9. svyby(covmat=TRUE), svycontrast, svyttest
# ---------------------------------------------------------------------------------------------
cc <- list()
for (dn in names(designs)) {
  d <- designs[[dn]]
  if (dn %in% c("post", "rake", "cal", "trim")) {
    # svyby(covmat=TRUE) fails on calibrated designs in survey 4.1.1: the domain means as
    # ratios of totals through svycontrast (the same linearisation)
    du <- update(d, yE = api00 * (stype == "E"), nE = as.numeric(stype == "E"),
                 yH = api00 * (stype == "H"), nH = as.numeric(stype == "H"),
                 yM = api00 * (stype == "M"), nM = as.numeric(stype == "M"),
                 E = api99 * (stype == "E"), H = api99 * (stype == "H"),
                 M = api99 * (stype == "M"))
    tot <- svytotal(~yE + nE + yH + nH + yM + nM, du)
    b <- svycontrast(tot, list(E = quote(yE / nE), H = quote(yH / nH), M = quote(yM / nM)))
    tot99 <- svytotal(~E + H + M, du)
    bt <- tot99
    class(b) <- "svystat"; attr(b, "statistic") <- "mean"
  } else {
    b <- svyby(~api00, ~stype, d, svymean, covmat = TRUE)
    bt <- svyby(~api99, ~stype, d, svytotal, covmat = TRUE)
  }
  diff_em <- svycontrast(b, c(E = 1, H = 0, M = -1))
  avg <- svycontrast(b, list(avg = c(E = 1/3, H = 1/3, M = 1/3), hm = c(E = 0, H = 1, M = -1)))
  ratio <- svycontrast(b, quote(E / M))
  tt <- svyttest(api00 ~ comp.imp, d)
  tt1 <- svyttest(I(api00 - 650) ~ 0, d)
  cc[[dn]] <- list( vcov = as.vector(vcov(b)),
    diff_em = stat(diff_em), lin = stat(avg), ratio_em = stat(ratio),
    total_vcov = as.vector(vcov(bt)), total_diff = stat(svycontrast(bt, c(1, -1, 0))),
    ttest = list(statistic = unname(tt$statistic), df = unname(tt$parameter),
                 estimate = unname(tt$estimate), p_value = tt$p.value,
                 ci = unname(as.vector(tt$conf.int))),
    ttest_one = list(statistic = unname(tt1$statistic), df = unname(tt1$parameter),
                     estimate = unname(tt1$estimate), p_value = tt1$p.value))
}
add("contrasts", list(
  r_call = "b <- svyby(~api00, ~stype, design, svymean, covmat=TRUE); vcov(b) (column-major); svycontrast(b, c(E=1,H=0,M=-1)); svycontrast(b, list(avg=c(1/3,1/3,1/3), hm=c(0,1,-1))); svycontrast(b, quote(E/M)); bt <- svyby(~api99, ~stype, design, svytotal, covmat=TRUE); svycontrast(bt, c(1,-1,0)); svyttest(api00~comp.imp, design); svyttest(I(api00-650)~0, design)",
  results = cc))

# ---------------------------------------------------------------------------------------------
# 10. svychisq (F, Chisq, Wald, adjWald), svytable, svytotal of a factor (with by)
# ---------------------------------------------------------------------------------------------
ch <- list()
for (dn in names(designs)) {
  d <- designs[[dn]]
  out <- list()
  for (st in c("F", "Chisq", "Wald", "adjWald")) {
    t <- svychisq(~sch.wide + stype, d, statistic = st)
    out[[st]] <- list(statistic = unname(t$statistic), parameter = unname(t$parameter),
                      p_value = unname(t$p.value))
  }
  tab <- svytable(~sch.wide + stype, d)
  cells <- svytotal(~interaction(sch.wide, stype), d)
  props <- svymean(~interaction(sch.wide, stype), d)
  tot_by <- svyby(~sch.wide, ~stype, d, svytotal)
  out$table <- as.vector(tab)
  out$cells <- stat(cells)
  out$props <- stat(props)
  out$total_by <- list(by = as.character(tot_by$stype),
                       no = unname(tot_by[["sch.wideNo"]]), yes = unname(tot_by[["sch.wideYes"]]),
                       se = as.vector(as.matrix(SE(tot_by))))
  ch[[dn]] <- out
}
# 3 x 3 table: stype by awards x yr.rnd collapsed
apiclus1$both3 <- factor(ifelse(apiclus1$awards == "Yes", ifelse(apiclus1$yr.rnd == "Yes", "AY", "A"), "N"))
d3 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
out <- list()
for (st in c("F", "Chisq", "Wald", "adjWald")) {
  t <- svychisq(~stype + both3, d3, statistic = st)
  out[[st]] <- list(statistic = unname(t$statistic), parameter = unname(t$parameter),
                    p_value = unname(t$p.value))
}
ch[["clus1_3x3"]] <- out
add("chisq", list(
  r_call = "svychisq(~sch.wide+stype, design, statistic=s); svytable(~sch.wide+stype, design) (column-major: sch.wide fastest); svytotal/svymean(~interaction(sch.wide, stype)); svyby(~sch.wide, ~stype, design, svytotal); clus1_3x3: svychisq(~stype+both3, apiclus1 design)",
  results = ch))

cases$calibration <- list(
  r_call = "cal <- calibrate(dclus1, ~stype + api99, pop); trim <- trimWeights(cal, upper=50, lower=20)",
  population = as.list(pop_cal))

json <- toJSON(as_json_tree(list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/weighting/make_reference_inference.R",
  cases = cases)), auto_unbox = TRUE, json_verbatim = TRUE, na = "null", null = "null",
  pretty = FALSE)
writeLines(json, file.path(outdir, "reference_inference.json"))
