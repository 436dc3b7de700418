#!/usr/bin/env Rscript
# Extra R `survey` reference values for Strata's estimation code (weighting/design.py,
# estimation.py, quantiles.py): situations the shared fixtures in tests/reference/weighting/
# do not cover. Reads the data sets of tests/reference/weighting/ (so no new data here) and
# writes extra_reference.json next to this script.
#
# Produced with R 4.2.2 Patched (2022-11-10 r83330), survey 4.1.1, jsonlite 1.8.4 (Debian
# packages r-base-core, r-cran-survey); the versions used are written into the JSON.
# Run: Rscript tests/reference/estimation/make_extra_reference.R
#
# Shape: {"r_version", "survey_version", "cases": {id: {"description", "r_call", "results":
#   [{"statistic", "variable", "by": {...}?, "quantile"?, "estimate", "se", "ci_low",
#     "ci_high", "df", "deff"?}]}}}. CIs are confint(x, df=) with the df written in "df".
suppressPackageStartupMessages({ library(survey); library(jsonlite) })
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
src <- file.path(here, "..", "weighting")
rd <- function(f) read.csv(file.path(src, f), stringsAsFactors = FALSE, na.strings = "")
apistrat <- rd("apistrat.csv"); apiclus2 <- rd("apiclus2.csv"); synth <- rd("synth_small.csv")
cases <- list()
num <- function(x) { x <- as.numeric(x); if (length(x) == 0 || is.na(x)) NULL else x }
row <- function(stat, var, est, se, df, lo = NULL, hi = NULL, by = NULL, deff = NULL, q = NULL) {
  t <- qt(0.975, df)
  r <- list(statistic = stat, variable = var, estimate = num(est), se = num(se),
            ci_low = if (is.null(lo)) num(est - t * se) else num(lo),
            ci_high = if (is.null(hi)) num(est + t * se) else num(hi), df = df)
  if (!is.null(by)) r$by <- by
  if (!is.null(deff)) r$deff <- num(deff)
  if (!is.null(q)) r$quantile <- q
  r
}
byrows <- function(b, stat, vars, byname, df, deff = FALSE) {
  out <- list()
  for (v in vars) for (i in seq_len(nrow(b))) {
    se_col <- if ("se" %in% names(b)) "se" else paste0("se.", v)
    out[[length(out) + 1]] <- row(stat, v, b[i, v], b[i, se_col], df,
      by = setNames(list(as.character(b[i, byname])), byname),
      deff = if (deff) b[i, paste0("DEff.", v)] else NULL)
  }
  out
}

# 1. Quantiles by domain (svyby + svyquantile, df = degf of the full design).
d <- svydesign(ids = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat)
res <- list()
for (lv in c("No", "Yes")) {
  q <- svyquantile(~api00, subset(d, sch.wide == lv), c(0.25, 0.5, 0.9), ci = TRUE, df = degf(d))$api00
  for (i in 1:3) res[[length(res) + 1]] <- row("quantile", "api00", q[i, 1], q[i, 4], degf(d),
    lo = q[i, 2], hi = q[i, 3], by = list(sch.wide = lv), q = c(0.25, 0.5, 0.9)[i])
}
cases$quantile_by_apistrat <- list(description = "svyquantile in each sch.wide domain, df = degf(d)",
  r_call = "svyquantile(~api00, subset(d, sch.wide==lv), c(.25,.5,.9), ci=TRUE, df=degf(d))", results = res)

# 2. lonely.psu = 'average' and 'adjust' with domains and NA (synth_small).
for (opt in c("average", "adjust", "remove")) {
  options(survey.lonely.psu = opt)
  d <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = synth)
  b <- svyby(~y, ~dom, d, svymean, na.rm = TRUE, deff = TRUE)
  res <- byrows(b, "mean", "y", "dom", degf(d), deff = TRUE)
  b <- svyby(~x, ~dom, d, svytotal)
  res <- c(res, byrows(b, "total", "x", "dom", degf(d)))
  cases[[paste0("lonely_", opt, "_domains")]] <- list(
    description = paste("svyby means (na.rm) and totals under lonely.psu =", opt),
    r_call = "svyby(~y, ~dom, d, svymean, na.rm=TRUE, deff=TRUE); svyby(~x, ~dom, d, svytotal)",
    lonely_psu = opt, results = res)
}
options(survey.lonely.psu = "fail")

# 3. Two-stage design with a lonely second-stage unit (fpc2 = 2 where one school was sampled).
c2 <- apiclus2; one <- ave(c2$snum, c2$dnum, FUN = length) == 1; c2$fpc2b <- ifelse(one, 2, c2$fpc2)
for (opt in c("adjust", "average", "remove")) {
  options(survey.lonely.psu = opt)
  d <- svydesign(ids = ~dnum + snum, fpc = ~fpc1 + fpc2b, data = c2)
  m <- svymean(~api00 + api99, d, deff = TRUE); tt <- svytotal(~enroll, d, na.rm = TRUE)
  res <- list(row("mean", "api00", coef(m)[1], SE(m)[1], degf(d), deff = deff(m)[1]),
              row("mean", "api99", coef(m)[2], SE(m)[2], degf(d), deff = deff(m)[2]),
              row("total", "enroll", coef(tt), SE(tt), degf(d)))
  b <- svyby(~api00, ~stype, d, svymean)
  res <- c(res, byrows(b, "mean", "api00", "stype", degf(d)))
  cases[[paste0("two_stage_lonely_", opt)]] <- list(
    description = paste("apiclus2 with fpc2 = 2 for districts with one sampled school; lonely.psu =", opt),
    r_call = "svydesign(ids=~dnum+snum, fpc=~fpc1+fpc2b, data); svymean(~api00+api99, deff=TRUE); svytotal(~enroll, na.rm=TRUE); svyby(~api00, ~stype, svymean)",
    lonely_psu = opt, fpc_column = "fpc2b", results = res)
}
options(survey.lonely.psu = "fail")

# 4. Certainty stratum (fpc = n_h) and FPC as sampling fractions.
s2 <- apistrat; s2$fpc_cert <- ifelse(s2$stype == "H", 50, s2$fpc); s2$frac <- 1 / s2$pw
d <- svydesign(ids = ~1, strata = ~stype, fpc = ~fpc_cert, weights = ~pw, data = s2)
m <- svymean(~api00, d, deff = TRUE); b <- svyby(~api00, ~sch.wide, d, svymean)
res <- c(list(row("mean", "api00", coef(m), SE(m), degf(d), deff = deff(m))),
         byrows(b, "mean", "api00", "sch.wide", degf(d)))
cases$certainty_stratum <- list(description = "stratum H sampled completely (fpc = n_h = 50)",
  r_call = "svydesign(ids=~1, strata=~stype, fpc=~fpc_cert, weights=~pw); svymean; svyby", fpc_column = "fpc_cert",
  results = res)
d <- svydesign(ids = ~1, strata = ~stype, fpc = ~frac, data = s2)
m <- svymean(~api00, d, deff = TRUE); r <- svyratio(~api00, ~api99, d)
cases$fpc_fraction <- list(description = "fpc given as sampling fractions 1/pw, weights derived from them",
  r_call = "svydesign(ids=~1, strata=~stype, fpc=~frac); svymean(~api00, deff=TRUE); svyratio(~api00, ~api99)",
  fpc_column = "frac",
  results = list(row("mean", "api00", coef(m), SE(m), degf(d), deff = deff(m)),
                 row("ratio", "api00/api99", coef(r), SE(r), degf(d))))

# 5. degf of a subset (R's own definition) and svyby ratio with two by columns.
d <- svydesign(ids = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
sub <- subset(d, stype == "H")
m <- svymean(~api00, sub)
b <- svyby(~api00, ~stype + sch.wide, d, svyratio, denominator = ~api99)
res <- list(row("mean", "api00", coef(m), SE(m), degf(sub), by = list(stype = "H")))
for (i in seq_len(nrow(b))) res[[length(res) + 1]] <- row("ratio", "api00/api99", b[i, 3], b[i, 4], degf(d),
  by = list(stype = as.character(b$stype[i]), sch.wide = as.character(b$sch.wide[i])))
cases$subset_degf_and_ratio_by2 <- list(
  description = "first row: svymean in subset(d, stype=='H') with df = degf(subset) (R's domain df); then svyby ratio by stype x sch.wide",
  r_call = "svymean(~api00, subset(d, stype=='H')); degf(subset(...)); svyby(~api00, ~stype+sch.wide, d, svyratio, denominator=~api99)",
  results = res)

# 6. Replicate design (JK1 on apiclus1): logit interval from the replicate logits (svyglm),
#    deff of svymean on a replicate design, Woodruff quantiles with replicate variances.
apiclus1 <- rd("apiclus1.csv")
d <- svydesign(ids = ~dnum, fpc = ~fpc, weights = ~pw, data = apiclus1); r <- as.svrepdesign(d, type = "JK1")
p <- svyciprop(~I(sch.wide == "Yes"), r, method = "logit")
m <- svymean(~api00, r, deff = TRUE)
q <- svyquantile(~api00, r, c(0.25, 0.5), ci = TRUE)$api00
res <- list(row("proportion", "sch.wide==Yes", coef(p), SE(p), degf(r), lo = attr(p, "ci")[1], hi = attr(p, "ci")[2]),
            row("mean", "api00", coef(m), SE(m), degf(r), deff = deff(m)))
for (i in 1:2) res[[length(res) + 1]] <- row("quantile", "api00", q[i, 1], q[i, 4], degf(r), lo = q[i, 2], hi = q[i, 3],
                                             q = c(0.25, 0.5)[i])
cases$replicate_jk1_ciprop_deff_quantile <- list(
  description = "as.svrepdesign(type='JK1'): svyciprop logit (replicate variance of the logits), svymean deff, svyquantile",
  r_call = "svyciprop(~I(sch.wide=='Yes'), r, method='logit'); svymean(~api00, r, deff=TRUE); svyquantile(~api00, r, c(.25,.5), ci=TRUE)",
  results = res)

# 7. Two stages with certainty strata at stage 1 (S1 and the single-PSU S7 taken whole):
#    they add nothing at stage 1 but their second-stage variance is still counted.
sy <- synth
npsu <- ave(sy$psu, sy$stratum, FUN = function(v) length(unique(v)))
sy$fpc1 <- ifelse(sy$stratum %in% c("S1", "S7"), npsu, sy$fpc_psu)
sy$fpc2 <- 2 * ave(sy$unit, sy$stratum, sy$psu, FUN = length)
d <- svydesign(ids = ~psu + unit, strata = ~stratum, fpc = ~fpc1 + fpc2, weights = ~w, data = sy)
m <- svymean(~x, d, deff = TRUE); tt <- svytotal(~x, d)
res <- list(row("mean", "x", coef(m), SE(m), degf(d), deff = deff(m)), row("total", "x", coef(tt), SE(tt), degf(d)))
res <- c(res, byrows(svyby(~x, ~dom, d, svymean), "mean", "x", "dom", degf(d)))
cases$two_stage_certainty_strata <- list(
  description = "synth_small, ids=~psu+unit, strata S1 and S7 taken whole at stage 1 (fpc1 = n_h), fpc2 = 2 x units sampled",
  r_call = "svydesign(ids=~psu+unit, strata=~stratum, fpc=~fpc1+fpc2, weights=~w); svymean(~x, deff=TRUE); svytotal(~x); svyby(~x, ~dom, svymean)",
  results = res)

out <- list(r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
            jsonlite_version = as.character(packageVersion("jsonlite")), cases = cases)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE),
           file.path(here, "extra_reference.json"))
