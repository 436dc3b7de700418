#!/usr/bin/env Rscript
# Reference values for weighting.supplied_replicates (replicate_design): R survey's svrepdesign
# with replicate weights as a data provider ships them, and the estimators on it.
#
# Produced with R 4.2.2 Patched (2022-11-10 r83330), survey 4.1.1, jsonlite 1.8.4 (Debian 12
# packages); the versions used are written into the JSON.
# Run: Rscript tests/reference/weighting/make_reference_svrep.R   (a few seconds)
# The replicate weights are made here from the data sets of this directory (as.svrepdesign, a
# seeded bootstrap, successive-difference factors, random factors) and written into the JSON,
# so that R and Python read the same numbers; the Python test appends them to the CSV's
# columns as rep1..repR.
# Writes reference_svrep.json next to this script:
# {"r_version", "survey_version", "jsonlite_version", "generated_by", "notes",
#  "cases": {id: {"data", "description", "r_call",
#     "svrep": {"weights": column, "type", "combined_weights", "scale"?, "rscales"?, "rho"?,
#               "mse", "fpc"?, "fpc_type"?},
#     "replicate_weights": [[column 1], [column 2], ...],
#     "variables": {"y", "x", "dom"}, "adjust": {...}?,
#     "degf", "degf_adjusted", "scale", "rscales": R's final constants,
#     "results": [{"statistic": "mean"|"total"|"ratio"|"proportion"|"glm", "variable",
#                  "by"?, "category"?, "term"?, "estimate", "se", "ci_low"?, "ci_high"?}]}},
#  "replicate_types": {"bootstrap"|"subbootstrap": {"scale", "rscales", "degf", "strata",
#     "factor_sums": per stratum, per replicate sums of the factors, "factor_max": per stratum,
#     "factor_values": distinct factors}}}
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

apistrat <- rd("apistrat.csv"); apiclus1 <- rd("apiclus1.csv"); apisrs <- rd("apisrs.csv")
synth_brr <- rd("synth_brr.csv")

row <- function(stat, variable, est, se, df, extra = list(), ci = TRUE) {
  r <- c(list(statistic = stat, variable = variable), extra, list(estimate = unname(est), se = unname(se)))
  if (ci) { r$ci_low <- unname(est - qt(0.975, df) * se); r$ci_high <- unname(est + qt(0.975, df) * se) }
  r
}
estimates <- function(des, v) {
  df <- degf(des)
  fy <- as.formula(paste0("~", v$y)); fx <- as.formula(paste0("~", v$x)); fd <- as.formula(paste0("~", v$dom))
  out <- list()
  m <- svymean(fy, des); out[[1]] <- row("mean", v$y, coef(m), SE(m), df)
  t <- svytotal(fx, des); out[[2]] <- row("total", v$x, coef(t), SE(t), df)
  r <- svyratio(fy, fx, des); out[[3]] <- row("ratio", paste0(v$y, "/", v$x), coef(r), SE(r), df)
  b <- svyby(fy, fd, des, svymean)
  for (i in seq_len(nrow(b))) out[[length(out) + 1]] <- row("mean", v$y, b[i, v$y], b[i, "se"], df,
    list(by = setNames(list(as.character(b[i, v$dom])), v$dom)))
  levs <- levels(des$variables[[v$dom]])
  p <- svymean(fd, des)
  for (i in seq_along(levs)) {
    lv <- levs[i]
    ind <- as.formula(sprintf("~I(%s == '%s')", v$dom, lv))
    ci <- svyciprop(ind, des, method = "logit")
    r <- row("proportion", v$dom, coef(p)[i], SE(p)[i], df, list(category = lv), ci = FALSE)
    r$ci_low <- unname(confint(ci)[1]); r$ci_high <- unname(confint(ci)[2])
    out[[length(out) + 1]] <- r
  }
  g <- svyglm(as.formula(paste(v$y, "~", v$x, "+", v$dom)), des, control = glm.control(epsilon = 1e-14))
  cf <- summary(g)$coefficients
  for (i in seq_len(nrow(cf))) out[[length(out) + 1]] <- row("glm", v$y, cf[i, 1], cf[i, 2], g$df.residual,
    list(term = rownames(cf)[i]))
  out
}

cases <- list()
case <- function(id, data_name, description, data, repw, args, v, adjust = NULL) {
  repw <- matrix(as.numeric(unclass(repw)), nrow = nrow(data))
  colnames(repw) <- paste0("rep", seq_len(ncol(repw)))
  full <- cbind(data, repw)
  call <- c(list(data = full, repweights = "^rep[0-9]+$", weights = as.formula(paste0("~", args$weights)),
                 type = args$type, combined.weights = args$combined_weights, mse = args$mse),
            args[intersect(names(args), c("scale", "rscales", "rho", "fpc"))])
  if (!is.null(args$fpc)) call$fpctype <- args$fpc_type
  des <- suppressWarnings(do.call(svrepdesign, call))
  res <- estimates(des, v)
  degf_adjusted <- NA
  if (!is.null(adjust)) {
    ad <- adjust$fn(des)
    degf_adjusted <- degf(ad)
    res <- c(res, lapply(estimates(ad, v)[1:3], function(r) { r$adjusted <- TRUE; r }))
  }
  cases[[id]] <<- list(data = data_name, description = description,
    r_call = sprintf("svrepdesign(data, repweights='^rep[0-9]+$', weights=~%s, type='%s', combined.weights=%s, mse=%s, ...)",
                     args$weights, args$type, args$combined_weights, args$mse),
    svrep = args, replicate_weights = lapply(seq_len(ncol(repw)), function(j) arr(unname(repw[, j]))),
    variables = v, adjust = if (is.null(adjust)) NA else adjust$spec,
    degf = degf(des), degf_adjusted = degf_adjusted, scale = des$scale, rscales = arr(des$rscales), results = res)
}

# JKn analysis weights of synth_brr (8 strata x 2 PSUs), with their rscales
brr_d <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = synth_brr)
jkn <- as.svrepdesign(brr_d, type = "JKn", compress = FALSE)
vb <- list(y = "y", x = "x", dom = "dom")
case("jkn_combined", "synth_brr.csv", "JKn analysis weights with rscales", synth_brr, weights(jkn, "analysis"),
     list(weights = "w", type = "JKn", combined_weights = TRUE, mse = FALSE, rscales = arr(jkn$rscales)), vb,
     adjust = list(fn = function(d) postStratify(d, ~dom, data.frame(dom = c("even", "odd"), Freq = c(700, 600))),
                   spec = list(kind = "poststratify", column = "dom", population = list(even = 700, odd = 600))))
case("jkn_factors_fpc", "synth_brr.csv", "JKn replicate factors (combined.weights=FALSE), rscales and a sampling fraction per replicate",
     synth_brr, as.matrix(unclass(jkn$repweights)), list(weights = "w", type = "JKn", combined_weights = FALSE, mse = FALSE,
     rscales = arr(jkn$rscales), fpc = arr(rep(c(0.1, 0.2), 8)), fpc_type = "fraction"), vb)
brr <- as.svrepdesign(brr_d, type = "BRR", compress = FALSE)
case("brr_factors", "synth_brr.csv", "BRR factors 0/2 (combined.weights=FALSE)", synth_brr, as.matrix(unclass(brr$repweights)),
     list(weights = "w", type = "BRR", combined_weights = FALSE, mse = FALSE), vb,
     adjust = list(fn = function(d) calibrate(d, ~x, c(`(Intercept)` = 1300, x = 26000), compress = FALSE),
                   spec = list(kind = "calibrate", totals = list(one = 1300, x = 26000))))
fay <- as.svrepdesign(brr_d, type = "Fay", fay.rho = 0.5, compress = FALSE)
case("fay_combined", "synth_brr.csv", "Fay (rho 0.5) analysis weights, mse=TRUE", synth_brr, weights(fay, "analysis"),
     list(weights = "w", type = "Fay", combined_weights = TRUE, mse = TRUE, rho = 0.5), vb)
clus1 <- svydesign(ids = ~dnum, fpc = ~fpc, weights = ~pw, data = apiclus1)
jk1 <- as.svrepdesign(clus1, type = "JK1", compress = FALSE)
va <- list(y = "api00", x = "api99", dom = "stype")
case("jk1_scale", "apiclus1.csv", "JK1 analysis weights with the scale (n-1)/n (1-f)", apiclus1, weights(jk1, "analysis"),
     list(weights = "pw", type = "JK1", combined_weights = TRUE, mse = FALSE, scale = jk1$scale), va)
case("jk1_guessed_scale", "apiclus1.csv", "JK1 analysis weights without scale: R guesses (R-1)/R", apiclus1,
     weights(jk1, "analysis"), list(weights = "pw", type = "JK1", combined_weights = TRUE, mse = FALSE), va)
set.seed(20261122)
boot <- as.svrepdesign(svydesign(ids = ~dnum, weights = ~pw, data = apiclus1), type = "bootstrap", replicates = 20, compress = FALSE)
case("bootstrap", "apiclus1.csv", "20 Canty-Davison bootstrap replicates (seeded) as analysis weights", apiclus1,
     weights(boot, "analysis"), list(weights = "pw", type = "bootstrap", combined_weights = TRUE, mse = FALSE), va)
# successive-difference factors 1 +- 2^(-3/2) from rows of a Hadamard matrix of order 8
H <- 2 * survey:::hadamard(7) - 1  # +-1 entries
sdr <- t(sapply(seq_len(nrow(apisrs)), function(i) {
  a <- 1 + (i - 1) %% 8; b <- 1 + i %% 8
  1 + 2^(-1.5) * H[a, ] - 2^(-1.5) * H[b, ]
}))
case("successive_difference", "apisrs.csv", "successive-difference factors (8 replicates), mse=TRUE", apisrs, sdr,
     list(weights = "pw", type = "successive-difference", combined_weights = FALSE, mse = TRUE), va)
set.seed(7)
other <- matrix(round(runif(nrow(apistrat) * 10, 0.2, 1.8), 3), ncol = 10)
case("other", "apistrat.csv", "type='other' with scale and rscales, mse=TRUE", apistrat, other,
     list(weights = "pw", type = "other", combined_weights = FALSE, mse = TRUE, scale = 0.35,
          rscales = arr(seq(0.5, 1.4, by = 0.1))), va)

# Replicate types of as.svrepdesign made here with random draws: their constants and structure
# (the draws themselves cannot be compared), for replicate("canty_davison") / ("subbootstrap").
replicate_types <- list()
for (type in c("bootstrap", "subbootstrap")) {
  set.seed(11)
  r <- as.svrepdesign(strat_d <- svydesign(ids = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat),
                      type = type, replicates = 30, compress = FALSE)
  f <- matrix(as.numeric(unclass(r$repweights)), nrow = nrow(apistrat))
  sums <- apply(f, 2, function(col) tapply(col, apistrat$stype, sum))
  maxes <- apply(f, 2, function(col) tapply(col, apistrat$stype, max))
  replicate_types[[type]] <- list(data = "apistrat.csv", r_call = sprintf(
      "as.svrepdesign(svydesign(ids=~1, strata=~stype, fpc=~fpc, weights=~pw, data=apistrat), type='%s', replicates=30)", type),
    scale = r$scale, rscales = arr(r$rscales), degf = degf(r), strata = arr(rownames(sums)),
    factor_sums = lapply(seq_len(nrow(sums)), function(i) arr(unname(sums[i, ]))),
    factor_max = arr(unname(apply(maxes, 1, max))), factor_values = arr(sort(unique(as.vector(f)))))
}

ref <- list(r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/weighting/make_reference_svrep.R",
  notes = list(
    ci = "ci_low/ci_high: estimate +- qt(0.975, degf(design)) * SE (glm: df.residual); proportions: confint(svyciprop(~I(dom == level), design, method='logit')).",
    adjusted = "results with adjusted=TRUE are the first three estimators after the case's adjust step (postStratify or calibrate on the replicate design). Their CIs use degf of the adjusted design, which R recomputes as the rank of the adjusted replicate weights minus 1 (degf_adjusted): the nonlinear adjustment raises the rank (JKn of 8 strata x 2 PSUs: 8 before, 15 after postStratify)."),
  cases = cases, replicate_types = replicate_types)
json <- toJSON(tree(ref), auto_unbox = TRUE, json_verbatim = TRUE, null = "null", na = "null", digits = NA)
writeLines(json, file.path(here, "reference_svrep.json"))
cat(sprintf("wrote %d cases\n", length(cases)))
