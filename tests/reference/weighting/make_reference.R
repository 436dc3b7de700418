#!/usr/bin/env Rscript
# Reference values for Strata's `weighting` package, computed with R's `survey` package.
#
# Produced with: R 4.2.2 Patched (2022-11-10 r83330), survey 4.1.1, jsonlite 1.8.4 (Debian 12
# packages r-base-core, r-cran-survey). The versions actually used are also written into
# reference.json ("r_version", "survey_version", "jsonlite_version").
#
# Run from anywhere:   Rscript tests/reference/weighting/make_reference.R
# It writes, next to this script:
#   apistrat.csv, apiclus1.csv, apiclus2.csv, apisrs.csv   data(api) from `survey`, all columns,
#                                                          factors written as their level strings,
#                                                          NA written as an empty field
#   synth_small.csv   60 rows, 7 strata (S7 has a single PSU), NA in `y`, domains with a 0% and
#                     a 100% proportion of `bin`
#   synth_brr.csv     64 rows, 8 strata with exactly 2 PSUs each (for BRR / Fay)
#   synth_large.csv   5,000 rows, 20 strata, 200 PSUs, 4 Likert items 1-5 with NA, 12-level domain
#   reference.json    every case below
# Runtime: a few seconds.
#
# ---------------------------------------------------------------------------------------------
# Shape of reference.json
# ---------------------------------------------------------------------------------------------
# {
#   "r_version": "R version 4.2.2 ...", "survey_version": "4.1.1", "jsonlite_version": "...",
#   "generated_by": "tests/reference/weighting/make_reference.R",
#   "notes": {topic: text, ...}            # R conventions a Python implementation must follow
#   "datasets": {name: {"file": "apistrat.csv", "n_rows": 200,
#                       "columns": {col: "string" | "integer" | "double"},
#                       "levels": {factor_col: [levels in R order]}}},
#   "cases": {
#     case_id: {
#       "data": "apistrat.csv",
#       "description": "...",
#       "design": {"ids": ["1"] | ["dnum"] | ["dnum", "snum"],      # "1" = each row its own PSU
#                  "strata": "stype" | null,
#                  "fpc": ["fpc"] | ["fpc1", "fpc2"] | null,        # population sizes per stage
#                  "weights": "pw" | null,                         # null: 1/prob from fpc (or 1)
#                  "nest": false,
#                  "lonely_psu": "fail" | "remove" | "certainty" | "adjust" | "average",
#                  "adjust_domain_lonely": false},
#       "steps": [ ... ],          # what was applied to the design, in order, e.g.
#           {"kind": "poststratify", "variables": ["stype"],
#            "population": [{"stype": "E", "count": 4421}, ...]}
#           {"kind": "rake", "margins": [{"variables": ["stype"], "population": [...]}, ...],
#            "control": {"maxit": 100, "epsilon": 1e-12, "verbose": false}}
#           {"kind": "calibrate", "formula": "~stype + api99", "population": {"(Intercept)": ..},
#            "calfun": "linear" | "raking" | "logit", "bounds": [lo, hi], "maxit": .., "epsilon": ..}
#           {"kind": "trim", "lower": .., "upper": .., "strict": false}
#           {"kind": "replicate", "type": "JK1" | "JKn" | "BRR" | "Fay", "fay_rho": ..}
#       "r_call": "<R expressions evaluated, as text>",
#       "results": [
#         {"statistic": "mean" | "total" | "ratio" | "proportion" | "quantile",
#          "variable": "api00",                 # ratio: "api00/api99"
#          "category": "E",                     # factor level, proportions only
#          "by": {"stype": "E"},                # domain results only
#          "method": "logit",                   # svyciprop / wilson only
#          "quantile": 0.5,                     # quantiles only
#          "estimate": .., "se": .., "ci_low": .., "ci_high": ..,
#          "ci_df": ..,                         # df of the t quantile used for ci_low/high (null=normal)
#          "ci_quantile": ..,                   # the quantile multiplying the SE (or null: not Wald)
#          "ci_low_normal": .., "ci_high_normal": ..,   # R's plain confint(x) (normal quantile)
#          "df": degf(design), "deff": .. (when deff=TRUE), "n": unweighted rows used}
#       ],
#       "weights": [w_1, ..., w_n],             # final weights in data row order (adjusted designs)
#       "replicate": {"type":.., "scale":.., "rscales": [..], "mse": false, "n_replicates": R,
#                     "weights": [[w_1..w_n] of replicate 1, ..., of replicate R],  # analysis weights
#                     "hadamard": [[row], ...]}  # BRR/Fay only: the 0/1 matrix R used
#       "error": "R error message"              # only for cases that must fail
#       "extra": {...}                          # anything else (degf, convergence, settings)
#     }
#   }
# }
# Numbers are written with 17 significant digits; NA, NaN and +-Inf are written as null.
# Every CI here is a 95% interval.
# ---------------------------------------------------------------------------------------------

suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})

script_path <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
outdir <- if (length(script_path)) dirname(normalizePath(script_path)) else getwd()

options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE,
        survey.replicates.mse = FALSE, survey.drop.replicates = TRUE)

# ---------------------------------------------------------------------------------------------
# JSON helpers: full precision numbers through json_verbatim
# ---------------------------------------------------------------------------------------------
fmt_num <- function(x) {
  out <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
  out
}
as_json_tree <- function(x) {
  if (is.list(x)) {
    nm <- names(x)
    y <- lapply(x, as_json_tree)
    names(y) <- nm
    return(y)
  }
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x) && all(is.na(x)) && length(x) == 1 && !inherits(x, "AsIs")) {
    return(structure("null", class = "json"))
  }
  if (is.numeric(x)) {
    vals <- fmt_num(as.double(x))
    if (length(x) == 1 && !inherits(x, "AsIs") && is.null(dim(x))) {
      return(structure(vals, class = "json"))
    }
    return(structure(paste0("[", paste(vals, collapse = ","), "]"), class = "json"))
  }
  if (is.character(x) && (length(x) != 1 || inherits(x, "AsIs"))) return(I(unclass(x)))
  x
}
arr <- function(x) I(x)            # force a JSON array even for length 1
nul <- NA                          # JSON null

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
data(api)
datasets <- list()
write_data <- function(df, name) {
  file <- paste0(name, ".csv")
  out <- df
  for (v in names(out)) {
    if (is.factor(out[[v]])) out[[v]] <- as.character(out[[v]])
    if (is.double(out[[v]])) {
      # shortest of 15 / 17 significant digits that reads back exactly (write.csv keeps only 15)
      x <- out[[v]]
      s15 <- sprintf("%.15g", x); s17 <- sprintf("%.17g", x)
      txt <- ifelse(suppressWarnings(as.numeric(s15)) == x, s15, s17)
      txt[is.na(x)] <- NA
      out[[v]] <- txt
    }
  }
  write.csv(out, file.path(outdir, file), row.names = FALSE, na = "", quote = which(!sapply(df, is.numeric)))
  cols <- lapply(df, function(v) {
    if (is.factor(v) || is.character(v)) "string" else if (is.integer(v)) "integer" else "double"
  })
  levs <- list()
  for (v in names(df)) if (is.factor(df[[v]])) levs[[v]] <- arr(levels(df[[v]]))
  datasets[[name]] <<- list(file = file, n_rows = nrow(df), columns = cols,
                            levels = if (length(levs)) levs else structure(list(), names = character(0)))
  file
}
clean_api <- function(df) {
  attr(df, "datalabel") <- NULL; attr(df, "time.stamp") <- NULL; attr(df, "formats") <- NULL
  attr(df, "types") <- NULL; attr(df, "val.labels") <- NULL; attr(df, "var.labels") <- NULL
  attr(df, "version") <- NULL; attr(df, "label.table") <- NULL
  df
}
apistrat <- clean_api(apistrat); apiclus1 <- clean_api(apiclus1)
apiclus2 <- clean_api(apiclus2); apisrs <- clean_api(apisrs)
write_data(apistrat, "apistrat") -> .f; write_data(apiclus1, "apiclus1") -> .f
write_data(apiclus2, "apiclus2") -> .f; write_data(apisrs, "apisrs") -> .f

# Small synthetic data: 7 strata; S1-S6 have 2-3 PSUs, S7 has one PSU (lonely).
set.seed(20261122)
psu_stratum <- c(rep(paste0("S", 1:6), times = c(2, 3, 2, 3, 2, 2)), "S7")
psu_size <- c(4, 5, 3, 4, 4, 5, 4, 3, 4, 5, 4, 4, 4, 3, 4)   # 15 PSUs, 60 units
synth_small <- do.call(rbind, lapply(seq_along(psu_stratum), function(j) {
  data.frame(stratum = psu_stratum[j], psu = 100L + j, unit = seq_len(psu_size[j]))
}))
n_small <- nrow(synth_small)
synth_small$w <- round(runif(n_small, 5, 40), 2)
synth_small$x <- round(rnorm(n_small, 50, 10), 3)
synth_small$y <- round(0.8 * synth_small$x + rnorm(n_small, 0, 6), 3)
synth_small$y[c(3, 11, 12, 25, 40)] <- NA
synth_small$dom <- rep(c("a", "b", "c", "d"), length.out = n_small)
synth_small$dom[synth_small$stratum == "S7"] <- "a"
synth_small$bin <- rbinom(n_small, 1, 0.4)
synth_small$bin[synth_small$dom == "c"] <- 1L     # 100% cell
synth_small$bin[synth_small$dom == "d"] <- 0L     # 0% cell
synth_small$grp <- factor(ifelse(synth_small$dom == "d", "g1",
                                 sample(c("g1", "g2", "g3"), n_small, replace = TRUE)))
synth_small$fpc_psu <- c(S1 = 10, S2 = 12, S3 = 8, S4 = 15, S5 = 6, S6 = 9, S7 = 3)[synth_small$stratum]
synth_small$stratum <- as.character(synth_small$stratum)
synth_small$dom <- as.character(synth_small$dom)
write_data(synth_small, "synth_small") -> .f

# BRR data: 8 strata x 2 PSUs x 4 units
synth_brr <- expand.grid(unit = 1:4, half = 1:2, h = 1:8)
synth_brr$stratum <- sprintf("B%d", synth_brr$h)
synth_brr$psu <- 10L * synth_brr$h + synth_brr$half
synth_brr$w <- round(runif(nrow(synth_brr), 10, 30), 2)
synth_brr$x <- round(rnorm(nrow(synth_brr), 20, 4), 3)
synth_brr$y <- round(2 + 1.5 * synth_brr$x + rnorm(nrow(synth_brr), 0, 3) + synth_brr$h, 3)
synth_brr$dom <- ifelse(synth_brr$unit %% 2 == 0, "even", "odd")
synth_brr$bin <- rbinom(nrow(synth_brr), 1, 0.3)
synth_brr <- synth_brr[, c("stratum", "psu", "unit", "w", "x", "y", "dom", "bin")]
rownames(synth_brr) <- NULL
write_data(synth_brr, "synth_brr") -> .f

# Large synthetic multi-stage data: 20 strata x 10 PSUs x 25 units = 5,000 rows
n_strata <- 20; psu_per <- 10; m_per <- 25
synth_large <- expand.grid(unit = 1:m_per, j = 1:psu_per, h = 1:n_strata)
synth_large$stratum <- sprintf("H%02d", synth_large$h)
synth_large$psu <- sprintf("H%02d-P%02d", synth_large$h, synth_large$j)
synth_large$fpc_psu <- (40 + 5 * synth_large$h)                        # PSUs in the population
synth_large$w <- round(synth_large$fpc_psu / psu_per * (60 + 3 * synth_large$h) / m_per *
                         runif(nrow(synth_large), 0.7, 1.3), 4)
synth_large$domain <- sprintf("D%02d", 1 + (synth_large$unit * 7 + synth_large$j * 3 + synth_large$h) %% 12)
psu_eff <- rnorm(n_strata * psu_per, 0, 0.6)[(synth_large$h - 1) * psu_per + synth_large$j]
for (k in 1:4) {
  latent <- 3 + 0.15 * (synth_large$h %% 5) + psu_eff + 0.05 * k * (as.integer(substr(synth_large$domain, 2, 3)) - 6) +
    rnorm(nrow(synth_large), 0, 1)
  q <- pmin(5L, pmax(1L, as.integer(round(latent))))
  q[runif(nrow(synth_large)) < 0.04 + 0.01 * k] <- NA
  synth_large[[paste0("q", k)]] <- q
}
synth_large <- synth_large[, c("stratum", "psu", "unit", "fpc_psu", "w", "domain", "q1", "q2", "q3", "q4")]
rownames(synth_large) <- NULL
write_data(synth_large, "synth_large") -> .f

# ---------------------------------------------------------------------------------------------
# Design construction from a spec (the same spec goes into the JSON)
# ---------------------------------------------------------------------------------------------
spec <- function(ids, strata = NULL, fpc = NULL, weights = NULL, nest = FALSE, lonely = "fail") {
  list(ids = ids, strata = strata, fpc = fpc, weights = weights, nest = nest, lonely_psu = lonely,
       adjust_domain_lonely = FALSE)
}
spec_json <- function(s) {
  list(ids = arr(s$ids), strata = if (is.null(s$strata)) nul else s$strata,
       fpc = if (is.null(s$fpc)) nul else arr(s$fpc),
       weights = if (is.null(s$weights)) nul else s$weights,
       nest = s$nest, lonely_psu = s$lonely_psu, adjust_domain_lonely = s$adjust_domain_lonely)
}
fml <- function(v) as.formula(paste("~", paste(v, collapse = "+")))
design_call <- function(s, data_name) {
  parts <- c(paste0("ids=", deparse(fml(s$ids))))
  if (!is.null(s$strata)) parts <- c(parts, paste0("strata=", deparse(fml(s$strata))))
  if (!is.null(s$fpc)) parts <- c(parts, paste0("fpc=", deparse(fml(s$fpc))))
  if (!is.null(s$weights)) parts <- c(parts, paste0("weights=", deparse(fml(s$weights))))
  if (s$nest) parts <- c(parts, "nest=TRUE")
  paste0("svydesign(", paste(parts, collapse = ", "), ", data=", data_name, ")")
}
build <- function(s, data) {
  a <- list(ids = fml(s$ids), data = data)
  if (!is.null(s$strata)) a$strata <- fml(s$strata)
  if (!is.null(s$fpc)) a$fpc <- fml(s$fpc)
  if (!is.null(s$weights)) a$weights <- fml(s$weights)
  if (s$nest) a$nest <- TRUE
  do.call(svydesign, a)
}

# ---------------------------------------------------------------------------------------------
# Result extraction
# ---------------------------------------------------------------------------------------------
qcrit <- function(df) if (is.finite(df)) qt(0.975, df) else qnorm(0.975)
dfv <- function(df) if (is.finite(df)) df else nul

# svystat (svymean/svytotal) or svyratio; `design` is the design the statistic was computed on;
# `factors` maps factor variable names to their levels for naming categories.
stat_rows <- function(x, design, statistic, data, by = NULL, factors = list(), nmask = NULL) {
  est <- coef(x); se <- SE(x)
  nm <- names(est)
  df <- degf(design)
  ci <- confint(x, df = df); cin <- confint(x)
  dfx <- if (inherits(x, "svystat") && !is.null(attr(x, "deff"))) deff(x) else NULL
  if (!is.null(dfx) && is.matrix(dfx)) dfx <- diag(dfx)
  rows <- vector("list", length(est))
  for (i in seq_along(est)) {
    variable <- nm[i]; category <- NULL
    for (f in names(factors)) {
      for (lv in factors[[f]]) if (nm[i] == paste0(f, lv)) { variable <- f; category <- lv }
    }
    r <- list(statistic = statistic, variable = variable)
    if (!is.null(category)) r$category <- category
    if (!is.null(by)) r$by <- by
    r$estimate <- unname(est[i]); r$se <- unname(se[i])
    r$ci_low <- unname(ci[i, 1]); r$ci_high <- unname(ci[i, 2])
    r$ci_df <- dfv(df); r$ci_quantile <- qcrit(df)
    r$ci_low_normal <- unname(cin[i, 1]); r$ci_high_normal <- unname(cin[i, 2])
    r$df <- dfv(df)
    if (!is.null(dfx) && !is.null(attr(x, "deff"))) r$deff <- unname(dfx[i])
    if (statistic == "ratio") {
      vv <- strsplit(variable, "/", fixed = TRUE)[[1]]
      ok <- !is.na(data[[vv[1]]]) & !is.na(data[[vv[2]]])
    } else {
      ok <- !is.na(data[[variable]])
    }
    if (!is.null(nmask)) ok <- ok & nmask
    r$n <- sum(ok)
    if (!is.null(category)) r$n_category <- sum(ok & as.character(data[[variable]]) == category)
    rows[[i]] <- r
  }
  rows
}

# svyby of svymean/svytotal/svyratio: uses the names "<domain>:<var>" of coef(); by-variable values
# are read from the svyby data frame.
by_rows <- function(x, design, statistic, data, byvars, vars, na_rm = FALSE) {
  est <- coef(x); se <- SE(x)
  if (is.matrix(se) || is.data.frame(se)) se <- as.vector(as.matrix(se))
  df <- degf(design)
  ci <- confint(x, df = df); cin <- confint(x)
  has_deff <- isTRUE(attr(x, "svyby")$deffs)
  dd <- if (has_deff) as.vector(as.matrix(deff(x))) else NULL
  nd <- nrow(x)
  rows <- list()
  k <- 0
  for (v in seq_along(vars)) for (i in seq_len(nd)) {
    k <- k + 1
    by <- lapply(byvars, function(b) as.character(x[i, b])); names(by) <- byvars
    in_dom <- Reduce(`&`, lapply(byvars, function(b) as.character(data[[b]]) == by[[b]]))
    if (statistic == "ratio") {
      vv <- strsplit(vars[v], "/", fixed = TRUE)[[1]]
      ok <- in_dom & !is.na(data[[vv[1]]]) & !is.na(data[[vv[2]]])
    } else if (na_rm) {
      ok <- in_dom & Reduce(`&`, lapply(vars, function(u) !is.na(data[[u]])))   # complete cases
    } else {
      ok <- in_dom
    }
    r <- list(statistic = statistic, variable = vars[v], by = by,
              estimate = unname(est[k]), se = unname(se[k]),
              ci_low = unname(ci[k, 1]), ci_high = unname(ci[k, 2]),
              ci_df = dfv(df), ci_quantile = qcrit(df),
              ci_low_normal = unname(cin[k, 1]), ci_high_normal = unname(cin[k, 2]),
              df = dfv(df))
    if (has_deff) r$deff <- dd[k]
    r$n <- sum(ok)
    rows[[k]] <- r
  }
  stopifnot(k == length(est))
  rows
}

ciprop_row <- function(p, design, method, variable, by = NULL, df = degf(design), n = NULL) {
  ci <- attr(p, "ci")
  r <- list(statistic = "proportion", variable = variable, method = method)
  if (!is.null(by)) r$by <- by
  r$estimate <- unname(as.numeric(p)); r$se <- unname(sqrt(as.numeric(attr(p, "var"))))
  r$ci_low <- unname(ci[1]); r$ci_high <- unname(ci[2])
  r$ci_df <- dfv(df)
  r$ci_quantile <- if (method %in% c("logit", "mean", "asin", "xlogit")) qcrit(df) else nul
  r$df <- dfv(degf(design))
  if (!is.null(n)) r$n <- n
  r
}

# Survey-adapted Wilson interval (computed here, NOT an R survey method):
#   p = weighted proportion (svymean), V = its linearisation variance,
#   n_eff = p (1 - p) / V (Kish effective sample size), q = qt(0.975, degf(design)),
#   centre = (p + q^2 / (2 n_eff)) / (1 + q^2 / n_eff),
#   half   = q / (1 + q^2 / n_eff) * sqrt(p (1 - p) / n_eff + q^2 / (4 n_eff^2)).
# Undefined (null) when V = 0 (p = 0 or 1).
wilson_row <- function(m, design, variable, by = NULL, n = NULL) {
  p <- unname(coef(m)[1]); V <- unname(vcov(m)[1, 1])
  df <- degf(design); q <- qcrit(df)
  neff <- p * (1 - p) / V
  centre <- (p + q^2 / (2 * neff)) / (1 + q^2 / neff)
  half <- q / (1 + q^2 / neff) * sqrt(p * (1 - p) / neff + q^2 / (4 * neff^2))
  r <- list(statistic = "proportion", variable = variable, method = "wilson_kish")
  if (!is.null(by)) r$by <- by
  r$estimate <- p; r$se <- sqrt(V); r$ci_low <- centre - half; r$ci_high <- centre + half
  r$ci_df <- dfv(df); r$ci_quantile <- q; r$df <- dfv(df); r$n_eff <- neff
  if (!is.null(n)) r$n <- n
  r
}

quantile_rows <- function(q, design, variable, probs) {
  m <- q[[variable]]
  df <- degf(design)
  lapply(seq_along(probs), function(i) {
    list(statistic = "quantile", variable = variable, quantile = probs[i],
         estimate = unname(m[i, "quantile"]), se = unname(m[i, "se"]),
         ci_low = unname(m[i, 2]), ci_high = unname(m[i, 3]),
         ci_df = dfv(df), ci_quantile = nul, df = dfv(df), n = sum(!is.na(design$variables[[variable]])))
  })
}

cases <- list()
add_case <- function(id, data_file, s, r_call, results, description = "", steps = list(),
                     weights = NULL, replicate = NULL, extra = NULL, error = NULL) {
  cs <- list(data = data_file, description = description, design = spec_json(s), steps = steps,
             r_call = paste(r_call, collapse = "; "), results = results)
  if (!is.null(weights)) cs$weights <- arr(unname(as.numeric(weights)))
  if (!is.null(replicate)) cs$replicate <- replicate
  if (!is.null(error)) cs$error <- error
  if (!is.null(extra)) cs$extra <- extra
  if (!is.null(cases[[id]])) stop("duplicate case id ", id)
  cases[[id]] <<- cs
}
lonely <- function(opt) options(survey.lonely.psu = opt)

api_factors <- list(stype = c("E", "H", "M"), awards = c("No", "Yes"), sch.wide = c("No", "Yes"),
                    both = c("No", "Yes"), comp.imp = c("No", "Yes"), yr.rnd = c("No", "Yes"))

# ---------------------------------------------------------------------------------------------
# 1. Basic designs: means and totals with deff, degf, confint(df=degf)
# ---------------------------------------------------------------------------------------------
designs <- list(
  apistrat = list(data = apistrat, file = "apistrat.csv", dname = "apistrat",
                  s = spec("1", strata = "stype", fpc = "fpc", weights = "pw")),
  apiclus1 = list(data = apiclus1, file = "apiclus1.csv", dname = "apiclus1",
                  s = spec("dnum", fpc = "fpc", weights = "pw")),
  apiclus2 = list(data = apiclus2, file = "apiclus2.csv", dname = "apiclus2",
                  s = spec(c("dnum", "snum"), fpc = c("fpc1", "fpc2"))),
  apistrat_nofpc = list(data = apistrat, file = "apistrat.csv", dname = "apistrat",
                        s = spec("1", strata = "stype", weights = "pw")),
  apisrs_unweighted_fpc = list(data = apisrs, file = "apisrs.csv", dname = "apisrs",
                               s = spec("1", fpc = "fpc"))
)
D <- lapply(designs, function(d) build(d$s, d$data))

for (nm in names(designs)) {
  d <- designs[[nm]]; des <- D[[nm]]
  m <- svymean(~api00 + api99, des, deff = TRUE)
  t <- svytotal(~api00 + api99, des, deff = TRUE)
  me <- svymean(~enroll, des, deff = TRUE, na.rm = TRUE)
  te <- svytotal(~enroll, des, deff = TRUE, na.rm = TRUE)
  res <- c(stat_rows(m, des, "mean", d$data), stat_rows(me, des, "mean", d$data),
           stat_rows(t, des, "total", d$data), stat_rows(te, des, "total", d$data))
  add_case(paste0("basic_", nm), d$file, d$s,
           c(paste0("d <- ", design_call(d$s, d$dname)),
             "svymean(~api00+api99, d, deff=TRUE)", "svymean(~enroll, d, deff=TRUE, na.rm=TRUE)",
             "svytotal(~api00+api99, d, deff=TRUE)", "svytotal(~enroll, d, deff=TRUE, na.rm=TRUE)",
             "confint(x, df=degf(d)); confint(x)"),
           res, description = "means and totals, deff, degf, t and normal CIs",
           extra = list(degf = degf(des), n_psu_first_stage = length(unique(des$cluster[, 1])),
                        sum_weights = sum(weights(des)),
                        vcov_mean_api00_api99 = arr(as.vector(vcov(m))),
                        weights_used = arr(unname(weights(des)))))
}

# ---------------------------------------------------------------------------------------------
# 2. Proportions: svymean of factors, svyciprop for each method, survey-adapted Wilson
# ---------------------------------------------------------------------------------------------
for (nm in c("apistrat", "apiclus1", "apiclus2")) {
  d <- designs[[nm]]; des <- D[[nm]]
  pm <- svymean(~stype + awards + sch.wide, des, deff = TRUE)
  res <- stat_rows(pm, des, "mean", d$data, factors = api_factors)
  for (r in seq_along(res)) res[[r]]$statistic <- "proportion"
  add_case(paste0("proportions_factor_", nm), d$file, d$s,
           c(paste0("d <- ", design_call(d$s, d$dname)), "svymean(~stype+awards+sch.wide, d, deff=TRUE)"),
           res, description = "category proportions of factors (Wald CIs with df=degf)")

  res <- list()
  for (meth in c("logit", "likelihood", "asin", "beta", "mean", "xlogit")) {
    p <- svyciprop(~I(sch.wide == "Yes"), des, method = meth, df = degf(des))
    res[[length(res) + 1]] <- ciprop_row(p, des, meth, "sch.wide==Yes", n = nrow(d$data))
  }
  m <- svymean(~I(as.numeric(sch.wide == "Yes")), des)
  res[[length(res) + 1]] <- wilson_row(m, des, "sch.wide==Yes", n = nrow(d$data))
  add_case(paste0("svyciprop_", nm), d$file, d$s,
           c(paste0("d <- ", design_call(d$s, d$dname)),
             "svyciprop(~I(sch.wide==\"Yes\"), d, method=m, df=degf(d)) for m in logit, likelihood, asin, beta, mean, xlogit"),
           res, description = "svyciprop intervals for P(sch.wide == 'Yes'); wilson_kish computed by this script",
           extra = list(
             ci_rules = list(
               logit = "expit(logit(p) +- qt(0.975, df) * SE_logit), SE_logit from svyglm(quasibinomial) = SE(p)/(p(1-p))",
               likelihood = "profile likelihood of svyglm(quasibinomial), alpha scaled by design effect, qt(df)",
               asin = "sin(asin(sqrt(p)) +- qt(0.975, df) * SE(p) / (2 sqrt(p(1-p))))^2",
               beta = "Korn-Graubard: n_eff = p(1-p)/V * (qt(0.025, n-1)/qt(0.025, degf))^2 (n = nrow(design)); [qbeta(0.025, n_eff p, n_eff(1-p)+1), qbeta(0.975, n_eff p + 1, n_eff(1-p))]",
               mean = "p +- qt(0.975, df) * SE(p)",
               xlogit = "expit(logit(p) +- qt(0.975, df) * SE(p)/(p(1-p)))",
               wilson_kish = "NOT an R method. n_eff = p(1-p)/V, q = qt(0.975, degf); centre = (p + q^2/(2 n_eff))/(1 + q^2/n_eff); half = q/(1 + q^2/n_eff) * sqrt(p(1-p)/n_eff + q^2/(4 n_eff^2))"),
             r_has_wilson = FALSE))
}

# ---------------------------------------------------------------------------------------------
# 3. Ratios
# ---------------------------------------------------------------------------------------------
for (nm in c("apistrat", "apiclus1", "apiclus2")) {
  d <- designs[[nm]]; des <- D[[nm]]
  r0 <- svyratio(~api00, ~api99, des)
  rb <- svyby(~api00, ~stype, des, svyratio, denominator = ~api99)
  res <- c(stat_rows(r0, des, "ratio", d$data),
           by_rows(rb, des, "ratio", d$data, "stype", "api00/api99"))
  rs <- svyratio(~api00, ~api99, subset(des, stype == "H"))
  res <- c(res, lapply(stat_rows(rs, des, "ratio", d$data, by = list(stype = "H"),
                                 nmask = d$data$stype == "H"),
                       function(r) { r$source <- "subset"; r }))
  add_case(paste0("ratio_", nm), d$file, d$s,
           c(paste0("d <- ", design_call(d$s, d$dname)), "svyratio(~api00, ~api99, d)",
             "svyby(~api00, ~stype, d, svyratio, denominator=~api99)",
             "svyratio(~api00, ~api99, subset(d, stype==\"H\"))"),
           res, description = "ratio api00/api99 overall, by stype (svyby) and in a subset")
}

# ---------------------------------------------------------------------------------------------
# 4. Domains
# ---------------------------------------------------------------------------------------------
for (nm in c("apistrat", "apiclus1", "apiclus2", "apistrat_nofpc")) {
  d <- designs[[nm]]; des <- D[[nm]]
  bm <- svyby(~api00 + api99, ~stype, des, svymean, deff = TRUE)
  bt <- svyby(~api00 + api99, ~stype, des, svytotal, deff = TRUE)
  b2 <- svyby(~api00 + api99, ~stype + sch.wide, des, svymean, deff = TRUE)
  res <- c(by_rows(bm, des, "mean", d$data, "stype", c("api00", "api99")),
           by_rows(bt, des, "total", d$data, "stype", c("api00", "api99")),
           by_rows(b2, des, "mean", d$data, c("stype", "sch.wide"), c("api00", "api99")))
  for (lv in c("E", "H", "M")) {
    sm <- svymean(~api00 + api99, subset(des, stype == lv), deff = TRUE)
    res <- c(res, lapply(stat_rows(sm, des, "mean", d$data, by = list(stype = lv),
                                   nmask = d$data$stype == lv),
                         function(r) { r$source <- "subset"; r }))
  }
  add_case(paste0("domain_", nm), d$file, d$s,
           c(paste0("d <- ", design_call(d$s, d$dname)),
             "svyby(~api00+api99, ~stype, d, svymean, deff=TRUE)",
             "svyby(~api00+api99, ~stype, d, svytotal, deff=TRUE)",
             "svyby(~api00+api99, ~stype+sch.wide, d, svymean, deff=TRUE)",
             "svymean(~api00+api99, subset(d, stype==lv), deff=TRUE) for lv in E, H, M"),
           res, description = "domain means/totals; rows with source='subset' equal the svyby rows")
}
# Domains with NA in the analysis variable (na.rm=TRUE)
na_cases <- list(
  list(nm = "apiclus1", var = "avg.ed"), list(nm = "apiclus2", var = "enroll"))
for (nc in na_cases) {
  d <- designs[[nc$nm]]; des <- D[[nc$nm]]; v <- nc$var
  f <- fml(v)
  bm <- svyby(f, ~stype, des, svymean, na.rm = TRUE, deff = TRUE)
  bt <- svyby(f, ~stype, des, svytotal, na.rm = TRUE)
  res <- c(by_rows(bm, des, "mean", d$data, "stype", v, na_rm = TRUE),
           by_rows(bt, des, "total", d$data, "stype", v, na_rm = TRUE))
  for (lv in c("E", "H", "M")) {
    sm <- svymean(f, subset(des, stype == lv), na.rm = TRUE)
    res <- c(res, lapply(stat_rows(sm, des, "mean", d$data, by = list(stype = lv),
                                   nmask = d$data$stype == lv),
                         function(r) { r$source <- "subset"; r }))
  }
  om <- svymean(f, des, na.rm = TRUE, deff = TRUE)
  res <- c(res, stat_rows(om, des, "mean", d$data))
  add_case(paste0("domain_na_", nc$nm, "_", v), d$file, d$s,
           c(paste0("d <- ", design_call(d$s, d$dname)),
             sprintf("svyby(~%s, ~stype, d, svymean, na.rm=TRUE, deff=TRUE)", v),
             sprintf("svyby(~%s, ~stype, d, svytotal, na.rm=TRUE)", v),
             sprintf("svymean(~%s, subset(d, stype==lv), na.rm=TRUE)", v),
             sprintf("svymean(~%s, d, na.rm=TRUE, deff=TRUE)", v)),
           res, description = sprintf("domains with NA in %s: NA rows are a domain (PSUs kept)", v),
           extra = list(n_missing = sum(is.na(d$data[[v]]))))
}

# ---------------------------------------------------------------------------------------------
# 5. Quantiles
# ---------------------------------------------------------------------------------------------
probs <- c(0.25, 0.5, 0.9)
for (nm in c("apistrat", "apiclus1")) {
  d <- designs[[nm]]; des <- D[[nm]]
  q <- svyquantile(~api00, des, probs, ci = TRUE)
  add_case(paste0("quantile_", nm), d$file, d$s,
           c(paste0("d <- ", design_call(d$s, d$dname)), "svyquantile(~api00, d, c(0.25, 0.5, 0.9), ci=TRUE)"),
           quantile_rows(q, des, "api00", probs),
           description = "quantiles with the package defaults",
           extra = list(qrule = "math", interval_type = "mean", alpha = 0.05, df = degf(des),
                        rules = list(
                          qrule_math = "drop zero weights; order x (R order(), ties by row order); C = cumsum(w in that order); pos = last i with C_i <= p * sum(w); quantile = x[pos] if p - C_pos / sum(w) == 0 exactly (floating point), else x[pos + 1] (x[pos] when pos is the last). That is the smallest x with F(x) >= p.",
                          interval = "Woodruff: m = svymean(I(x <= qhat)); [pl, pu] = m +- qt(0.975, degf) * SE(m); CI = [qrule(x, w, pl), qrule(x, w, pu)] (NaN if outside [0,1])",
                          se = "(ci_high - ci_low) / (2 * qt(0.975, degf))")))
}

# ---------------------------------------------------------------------------------------------
# 6. Adjustments on apiclus1
# ---------------------------------------------------------------------------------------------
dclus1 <- D$apiclus1; s_c1 <- designs$apiclus1$s
pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_sw <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
pop_json <- function(df, var) lapply(seq_len(nrow(df)), function(i) {
  r <- list(); r[[var]] <- as.character(df[i, var]); r$count <- df$Freq[i]; r })

adj_results <- function(des, data) {
  m <- svymean(~api00, des, deff = TRUE); t <- svytotal(~api00, des, deff = TRUE)
  bm <- svyby(~api00, ~stype, des, svymean); bt <- svyby(~api00, ~stype, des, svytotal)
  c(stat_rows(m, des, "mean", data), stat_rows(t, des, "total", data),
    by_rows(bm, des, "mean", data, "stype", "api00"), by_rows(bt, des, "total", data, "stype", "api00"))
}
adj_calls <- c("svymean(~api00, a, deff=TRUE)", "svytotal(~api00, a, deff=TRUE)",
               "svyby(~api00, ~stype, a, svymean)", "svyby(~api00, ~stype, a, svytotal)")
pre <- paste0("d <- ", design_call(s_c1, "apiclus1"))

ps <- postStratify(dclus1, ~stype, pop_stype)
add_case("adjust_poststratify_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "pop <- data.frame(stype=c('E','H','M'), Freq=c(4421,755,1018))",
           "a <- postStratify(d, ~stype, pop)", adj_calls),
         adj_results(ps, apiclus1),
         steps = list(list(kind = "poststratify", variables = arr("stype"),
                           population = pop_json(pop_stype, "stype"))),
         weights = weights(ps), description = "post-stratification to apipop stype counts")

rk <- rake(dclus1, list(~stype, ~sch.wide), list(pop_stype, pop_sw),
           control = list(maxit = 100, epsilon = 1e-12, verbose = FALSE))
rake_steps <- function(ctrl) list(list(kind = "rake",
  margins = list(list(variables = arr("stype"), population = pop_json(pop_stype, "stype")),
                 list(variables = arr("sch.wide"), population = pop_json(pop_sw, "sch.wide"))),
  control = ctrl))
add_case("adjust_rake_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "a <- rake(d, list(~stype, ~sch.wide), list(pop_stype, pop_sch.wide), control=list(maxit=100, epsilon=1e-12, verbose=FALSE))", adj_calls),
         adj_results(rk, apiclus1),
         steps = rake_steps(list(maxit = 100, epsilon = 1e-12, verbose = FALSE)),
         weights = weights(rk), description = "raking on two margins, converged tightly",
         extra = list(margin_totals_stype = arr(as.vector(svytotal(~stype, rk))),
                      margin_totals_sch.wide = arr(as.vector(svytotal(~sch.wide, rk)))))
rkd <- rake(dclus1, list(~stype, ~sch.wide), list(pop_stype, pop_sw))
add_case("adjust_rake_default_control_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "a <- rake(d, list(~stype, ~sch.wide), list(pop_stype, pop_sch.wide))", adj_calls),
         adj_results(rkd, apiclus1),
         steps = rake_steps(list(maxit = 10, epsilon = 1, verbose = FALSE)),
         weights = weights(rkd),
         description = "raking with R's default control (maxit=10, epsilon=1: stops when margins are within 1 unit of the totals); weights not fully converged")

pop_cal <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = sum(apipop$api99))
cal_step <- function(calfun, bounds = NULL, maxit = 50, epsilon = 1e-7) {
  st <- list(kind = "calibrate", formula = "~stype + api99", population = as.list(pop_cal),
             calfun = calfun, maxit = maxit, epsilon = epsilon)
  st$bounds <- if (is.null(bounds)) arr(c(-Inf, Inf)) else arr(bounds)
  st
}
cal_lin <- calibrate(dclus1, ~stype + api99, pop_cal)
add_case("adjust_calibrate_linear_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "pop <- c(`(Intercept)`=6194, stypeH=755, stypeM=1018, api99=sum(apipop$api99))",
           "a <- calibrate(d, ~stype+api99, pop)", adj_calls),
         adj_results(cal_lin, apiclus1), steps = list(cal_step("linear")),
         weights = weights(cal_lin), description = "GREG (linear) calibration; bounds (-Inf, Inf) written as null",
         extra = list(achieved_totals = arr(as.vector(svytotal(~stype + api99, cal_lin))),
                      api99_population_total = sum(apipop$api99)))
cal_rak <- calibrate(dclus1, ~stype + api99, pop_cal, calfun = "raking", maxit = 100, epsilon = 1e-12)
add_case("adjust_calibrate_raking_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "a <- calibrate(d, ~stype+api99, pop, calfun='raking', maxit=100, epsilon=1e-12)", adj_calls),
         adj_results(cal_rak, apiclus1), steps = list(cal_step("raking", maxit = 100, epsilon = 1e-12)),
         weights = weights(cal_rak), description = "calibration with the raking distance (exp)",
         extra = list(achieved_totals = arr(as.vector(svytotal(~stype + api99, cal_rak)))))
cal_logit <- calibrate(dclus1, ~stype + api99, pop_cal, calfun = "logit", bounds = c(0.5, 2),
                       maxit = 100, epsilon = 1e-12)
add_case("adjust_calibrate_logit_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "a <- calibrate(d, ~stype+api99, pop, calfun='logit', bounds=c(0.5, 2), maxit=100, epsilon=1e-12)", adj_calls),
         adj_results(cal_logit, apiclus1), steps = list(cal_step("logit", c(0.5, 2), 100, 1e-12)),
         weights = weights(cal_logit), description = "logit calibration with g in (0.5, 2)",
         extra = list(achieved_totals = arr(as.vector(svytotal(~stype + api99, cal_logit))),
                      g_range = arr(range(weights(cal_logit) / weights(dclus1)))))
# Trimming: on the linearly calibrated weights (they vary), then on apistrat's stratum weights
trm <- trimWeights(cal_lin, upper = 50, lower = 20)
add_case("adjust_trim_calibrated_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "cal <- calibrate(d, ~stype+api99, pop)", "a <- trimWeights(cal, upper=50, lower=20)", adj_calls),
         adj_results(trm, apiclus1),
         steps = list(cal_step("linear"), list(kind = "trim", lower = 20, upper = 50, strict = FALSE)),
         weights = weights(trm),
         description = "trimWeights (one pass, strict=FALSE): weights outside [lower, upper] set to the bound, the total trimmed amount spread equally (additively) over the untrimmed weights; the calibration residuals still define the variance",
         extra = list(n_trimmed = sum(weights(cal_lin) < 20 | weights(cal_lin) > 50),
                      weights_before = arr(unname(weights(cal_lin)))))
dstrat <- D$apistrat; s_st <- designs$apistrat$s
trs <- trimWeights(dstrat, upper = 40, lower = 16, strict = TRUE)
add_case("adjust_trim_strict_apistrat", "apistrat.csv", s_st,
         c(paste0("d <- ", design_call(s_st, "apistrat")), "a <- trimWeights(d, upper=40, lower=16, strict=TRUE)", adj_calls),
         adj_results(trs, apistrat),
         steps = list(list(kind = "trim", lower = 16, upper = 40, strict = TRUE)),
         weights = weights(trs),
         description = "trimWeights strict=TRUE: repeated until all weights are within bounds")

# ---------------------------------------------------------------------------------------------
# 7. Lonely PSU on synth_small
# ---------------------------------------------------------------------------------------------
s_sm <- spec("psu", strata = "stratum", weights = "w")
for (opt in c("fail", "remove", "certainty", "adjust", "average")) {
  lonely(opt)
  des <- build(s_sm, synth_small)
  s_opt <- s_sm; s_opt$lonely_psu <- opt
  calls <- c(sprintf("options(survey.lonely.psu='%s')", opt), paste0("d <- ", design_call(s_sm, "synth_small")),
             "svymean(~x, d, deff=TRUE)", "svytotal(~x, d)", "svymean(~y, d, na.rm=TRUE)",
             "svytotal(~y, d, na.rm=TRUE)", "svyby(~x, ~dom, d, svymean)")
  out <- tryCatch({
    res <- c(stat_rows(svymean(~x, des, deff = TRUE), des, "mean", synth_small),
             stat_rows(svytotal(~x, des), des, "total", synth_small),
             stat_rows(svymean(~y, des, na.rm = TRUE), des, "mean", synth_small),
             stat_rows(svytotal(~y, des, na.rm = TRUE), des, "total", synth_small),
             by_rows(svyby(~x, ~dom, des, svymean), des, "mean", synth_small, "dom", "x"))
    list(res = res, err = NULL)
  }, error = function(e) list(res = list(), err = conditionMessage(e)))
  add_case(paste0("lonely_psu_", opt), "synth_small.csv", s_opt, calls, out$res, error = out$err,
           description = if (opt == "fail") "must raise an error naming the stratum with one PSU"
                         else sprintf("stratum S7 has one PSU; survey.lonely.psu='%s'", opt),
           extra = list(degf = degf(des), lonely_strata = arr("S7")))
}
lonely("fail")

# 0% / 100% proportion cells, NA in y, unstratified cluster design on synth_small
s_smc <- spec("psu", weights = "w")
dsmc <- build(s_smc, synth_small)
res <- list()
for (lv in c("a", "b", "c", "d")) {
  sub <- subset(dsmc, dom == lv)
  nd <- sum(synth_small$dom == lv)
  for (meth in c("logit", "likelihood", "asin", "beta", "mean", "xlogit")) {
    p <- tryCatch(suppressWarnings(svyciprop(~I(bin == 1), sub, method = meth, df = degf(dsmc))),
                  error = function(e) conditionMessage(e))
    if (!is.character(p)) {
      r <- ciprop_row(p, dsmc, meth, "bin==1", by = list(dom = lv), df = degf(dsmc), n = nd)
    } else {
      r <- list(statistic = "proportion", variable = "bin==1", method = meth, by = list(dom = lv),
                error = p, n = nd)
    }
    if (lv %in% c("c", "d")) r$degenerate <- TRUE
    res[[length(res) + 1]] <- r
  }
  r <- wilson_row(svymean(~bin, sub), dsmc, "bin==1", by = list(dom = lv), n = nd)
  if (lv %in% c("c", "d")) r$degenerate <- TRUE
  res[[length(res) + 1]] <- r
}
bym <- svyby(~y, ~dom, dsmc, svymean, na.rm = TRUE, deff = TRUE)
byb <- svyby(~bin, ~dom, dsmc, svymean, deff = TRUE)
res <- c(res, by_rows(bym, dsmc, "mean", synth_small, "dom", "y", na_rm = TRUE),
         by_rows(byb, dsmc, "mean", synth_small, "dom", "bin"),
         stat_rows(svymean(~grp, subset(dsmc, dom == "d")), dsmc, "mean", synth_small,
                   by = list(dom = "d"), factors = list(grp = c("g1", "g2", "g3")),
                   nmask = synth_small$dom == "d"),
         stat_rows(svymean(~y, dsmc, na.rm = TRUE, deff = TRUE), dsmc, "mean", synth_small))
for (i in seq_along(res)) {
  if (res[[i]]$variable %in% c("bin", "grp") && isTRUE(res[[i]]$by$dom %in% c("c", "d"))) res[[i]]$degenerate <- TRUE
}
add_case("synth_small_proportions_extremes", "synth_small.csv", s_smc,
         c(paste0("d <- ", design_call(s_smc, "synth_small")),
           "svyciprop(~I(bin==1), subset(d, dom==lv), method=m, df=degf(d)) for lv in a..d, every method",
           "svyby(~y, ~dom, d, svymean, na.rm=TRUE, deff=TRUE)", "svyby(~bin, ~dom, d, svymean, deff=TRUE)",
           "svymean(~grp, subset(d, dom=='d'))", "svymean(~y, d, na.rm=TRUE, deff=TRUE)"),
         res, description = "domain c has bin=1 for every row (100%), domain d bin=0 (0%); y has NA; in domain d grp is always g1; CI df = degf of the full design; null = R gave NA/NaN. Rows with degenerate=true have p = 0 or 1: R's values there are floating-point artefacts (se ~1e-17 instead of 0, deff ~1e31, logit estimate 1 - 2e-11 from svyglm's IRLS, NaN intervals, likelihood errors); compare estimate and se only with an absolute tolerance (~1e-9) and test the interval for sense (within [0, 1], containing p), not for equality with R.",
         extra = list(degf = degf(dsmc)))

# ---------------------------------------------------------------------------------------------
# 8. Replicate designs
# ---------------------------------------------------------------------------------------------
rep_info <- function(rd, hadamard = NULL) {
  W <- weights(rd, "analysis")
  r <- list(type = rd$type, scale = rd$scale, rscales = arr(unname(as.numeric(rd$rscales))),
            mse = rd$mse, n_replicates = ncol(W),
            weights = lapply(seq_len(ncol(W)), function(j) arr(unname(W[, j]))))
  if (!is.null(hadamard)) r$hadamard <- lapply(seq_len(nrow(hadamard)), function(i) arr(hadamard[i, ]))
  r
}
rep_results <- function(rd, data, byvar, vars) {
  m <- svymean(fml(vars), rd, na.rm = TRUE); t <- svytotal(fml(vars), rd, na.rm = TRUE)
  res <- c(stat_rows(m, rd, "mean", data), stat_rows(t, rd, "total", data))
  for (v in vars) {
    bm <- svyby(fml(v), fml(byvar), rd, svymean, na.rm = TRUE)
    res <- c(res, by_rows(bm, rd, "mean", data, byvar, v, na_rm = TRUE))
  }
  res
}

jk1 <- as.svrepdesign(dclus1, type = "JK1")
add_case("replicate_jk1_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "r <- as.svrepdesign(d, type='JK1')", "svymean(~api00+api99, r)", "svytotal(~api00+api99, r)",
           "svyby(~api00, ~stype, r, svymean); svyby(~api99, ~stype, r, svymean)", "confint(x, df=degf(r))"),
         rep_results(jk1, apiclus1, "stype", c("api00", "api99")),
         steps = list(list(kind = "replicate", type = "JK1", fay_rho = 0)),
         replicate = rep_info(jk1),
         description = "JK1 on apiclus1; the fpc is kept: scale = (1 - n/N) (n-1)/n",
         extra = list(degf = degf(jk1), fpc_used = TRUE))

jkn <- as.svrepdesign(dstrat, type = "JKn")
add_case("replicate_jkn_apistrat", "apistrat.csv", s_st,
         c(paste0("d <- ", design_call(s_st, "apistrat")), "r <- as.svrepdesign(d, type='JKn')",
           "svymean(~api00+api99, r)", "svytotal(~api00+api99, r)",
           "svyby(~api00, ~stype, r, svymean); svyby(~api99, ~stype, r, svymean)"),
         rep_results(jkn, apistrat, "stype", c("api00", "api99")),
         steps = list(list(kind = "replicate", type = "JKn", fay_rho = 0)),
         replicate = rep_info(jkn),
         description = "JKn on apistrat (one replicate per unit); rscales = (1 - n_h/N_h) (n_h - 1)/n_h, scale = 1",
         extra = list(degf = degf(jkn)))

s_brr <- spec("psu", strata = "stratum", weights = "w")
dbrr <- build(s_brr, synth_brr)
bw <- brrweights(dbrr$strata[, 1], dbrr$cluster[, 1])
H <- hadamard(8)
for (rho in c(0, 0.3)) {
  typ <- if (rho == 0) "BRR" else "Fay"
  rd <- as.svrepdesign(dbrr, type = typ, fay.rho = rho)
  id <- if (rho == 0) "replicate_brr_synth" else "replicate_fay03_synth"
  add_case(id, "synth_brr.csv", s_brr,
           c(paste0("d <- ", design_call(s_brr, "synth_brr")),
             sprintf("r <- as.svrepdesign(d, type='%s'%s)", typ, if (rho > 0) sprintf(", fay.rho=%g", rho) else ""),
             "svymean(~x+y, r)", "svytotal(~x+y, r)", "svyby(~x, ~dom, r, svymean); svyby(~y, ~dom, r, svymean)"),
           rep_results(rd, synth_brr, "dom", c("x", "y")),
           steps = list(list(kind = "replicate", type = typ, fay_rho = rho)),
           replicate = rep_info(rd, hadamard = H),
           description = sprintf("%s with 8 strata x 2 PSUs. R's brrweights: H = hadamard(8) (12 x 12, 0/1, first row all 1); replicate r uses column r; the stratum with the k-th smallest label (sorted as strings) uses row k+1; where H[k+1, r] = 1 the PSU of that stratum appearing first in the data gets multiplier 2-rho and the other rho, where it is 0 the other way round. Replicate weight = w * multiplier.", typ),
           extra = list(degf = degf(rd), fay_rho = rho,
                        psu_order = arr(as.integer(bw$psu)), psu_hadamard_row_minus_1 = arr(as.integer(bw$wstrata)),
                        psu_first_in_stratum = arr(as.integer(bw$psu[bw$weights[, 1] == 0]))))
}

# Replicate design followed by post-stratification and calibration (re-applied per replicate)
jk1_ps <- postStratify(jk1, ~stype, pop_stype)
add_case("replicate_jk1_poststratify_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "r <- as.svrepdesign(d, type='JK1')", "a <- postStratify(r, ~stype, pop)",
           "svymean(~api00+api99, a)", "svytotal(~api00+api99, a)", "svyby(~api00, ~stype, a, svymean); svyby(~api99, ~stype, a, svymean)"),
         rep_results(jk1_ps, apiclus1, "stype", c("api00", "api99")),
         steps = list(list(kind = "replicate", type = "JK1", fay_rho = 0),
                      list(kind = "poststratify", variables = arr("stype"), population = pop_json(pop_stype, "stype"))),
         weights = weights(jk1_ps, "sampling"), replicate = rep_info(jk1_ps),
         description = "JK1 then postStratify: every replicate's weights post-stratified to the same counts")
jk1_cal <- calibrate(jk1, ~stype + api99, pop_cal)
add_case("replicate_jk1_calibrate_apiclus1", "apiclus1.csv", s_c1,
         c(pre, "r <- as.svrepdesign(d, type='JK1')", "a <- calibrate(r, ~stype+api99, pop)",
           "svymean(~api00+api99, a)", "svytotal(~api00+api99, a)", "svyby(~api00, ~stype, a, svymean); svyby(~api99, ~stype, a, svymean)"),
         rep_results(jk1_cal, apiclus1, "stype", c("api00", "api99")),
         steps = list(list(kind = "replicate", type = "JK1", fay_rho = 0), cal_step("linear")),
         weights = weights(jk1_cal, "sampling"), replicate = rep_info(jk1_cal),
         description = "JK1 then linear calibration re-applied to every replicate")

# ---------------------------------------------------------------------------------------------
# 9. Large synthetic: 4 Likert means by a 12-level domain
# ---------------------------------------------------------------------------------------------
s_lg <- spec("psu", strata = "stratum", fpc = "fpc_psu", weights = "w")
dlg <- build(s_lg, synth_large)
items <- paste0("q", 1:4)
t0 <- proc.time()[["elapsed"]]
res <- list()
for (v in items) {
  b <- svyby(fml(v), ~domain, dlg, svymean, na.rm = TRUE, deff = TRUE)
  res <- c(res, by_rows(b, dlg, "mean", synth_large, "domain", v, na_rm = TRUE))
}
res <- c(res, stat_rows(svymean(~q1, dlg, na.rm = TRUE, deff = TRUE), dlg, "mean", synth_large),
         stat_rows(svymean(~q2, dlg, na.rm = TRUE, deff = TRUE), dlg, "mean", synth_large),
         stat_rows(svymean(~q3, dlg, na.rm = TRUE, deff = TRUE), dlg, "mean", synth_large),
         stat_rows(svymean(~q4, dlg, na.rm = TRUE, deff = TRUE), dlg, "mean", synth_large))
t_items <- proc.time()[["elapsed"]] - t0
add_case("large_svyby_item_means", "synth_large.csv", s_lg,
         c(paste0("d <- ", design_call(s_lg, "synth_large")),
           "svyby(~qk, ~domain, d, svymean, na.rm=TRUE, deff=TRUE) for k in 1..4 (each item its own NA handling)",
           "svymean(~qk, d, na.rm=TRUE, deff=TRUE)"),
         res, description = "per-item domain means: each item drops only its own NA rows",
         extra = list(degf = degf(dlg), r_seconds = t_items))
bcc <- svyby(~q1 + q2 + q3 + q4, ~domain, dlg, svymean, na.rm = TRUE, deff = TRUE)
add_case("large_svyby_4means_complete_cases", "synth_large.csv", s_lg,
         c(paste0("d <- ", design_call(s_lg, "synth_large")),
           "svyby(~q1+q2+q3+q4, ~domain, d, svymean, na.rm=TRUE, deff=TRUE)"),
         by_rows(bcc, dlg, "mean", synth_large, "domain", items, na_rm = TRUE),
         description = "R's na.rm=TRUE with several variables drops rows with NA in ANY of them (complete cases); n counts complete cases in the domain",
         extra = list(degf = degf(dlg)))

# ---------------------------------------------------------------------------------------------
# Write
# ---------------------------------------------------------------------------------------------
ref <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  generated_by = "tests/reference/weighting/make_reference.R",
  generated_at = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
  notes = list(
    ci = "ci_low/ci_high: confint(x, df=degf(design)) i.e. estimate +- qt(0.975, degf) * SE; ci_low_normal/ci_high_normal: R's plain confint(x), normal quantile.",
    deff_mean = "deff = V_design / V_srs with V_srs = svyvar(x) * (N - n) / (N n), N = sum of weights in the (NA-removed) design, n = rows with nonzero weight; svyvar uses the n/(n-1) weighted variance. For a domain (svyby / subset) N and n are the domain's.",
    deff_total = "deff = V_design / (svyvar(x) * N^2 * (N - n) / (N n)).",
    na_rm = "na.rm=TRUE sets the weights of rows with NA in ANY of the formula's variables to zero (a domain); PSUs and strata stay in the variance; degf is unchanged.",
    degf = "degf(design) = number of PSUs (first stage) minus number of strata; for replicate designs the rank of the replicate weight matrix minus 1.",
    fpc = "fpc columns are population sizes (counts). With fpc given and no weights, weights are the product over stages of N/n.",
    replicate_variance = "V = scale * sum_r rscales_r (theta_r - mean_r theta_r)^2 (mse = false). replicate.weights are the analysis weights (sampling weight times replicate multiplier), after any adjustment.",
    poststratify_variance = "z_i replaced by z_i - w_i * ebar_g, ebar_g = sum_{i in g} d_i (z_i / w_i) / sum_{i in g} d_i, d = weights before, w = after post-stratification.",
    rake_convergence = "rake(): one iteration post-stratifies on each margin in turn; it stops when the max absolute change, between iterations, of the joint weighted table of all margin variables is < epsilon (epsilon < 1 is first multiplied by the sum of the weights), or after maxit iterations (warning). Defaults maxit=10, epsilon=1.",
    rake_variance = "R's rake() stores the margins and svyrecvar residualises by backfitting: exactly 10 sweeps of z <- z - w * ave_g(z / w) over the margins in order (unweighted within-margin average of z/w). It is NOT the calibration regression residual; match it by doing the same 10 sweeps.",
    calibrate_variance = "z_i replaced by g_i * d_i * e_i where e = residual of the d-weighted least-squares regression of z/w on the calibration model matrix (d = weights before, g = w/d); same for linear, raking and logit calfun.",
    trim_variance = "trimWeights changes only the weights; earlier adjustment residualisation (postStrata) is kept.",
    lonely_psu = "Stage-1 stratum with one PSU. remove and certainty: the stratum contributes 0 (identical in survey 4.1.1 for single-stage designs); adjust: contributes (1 - f_h) * z_hj^2, i.e. the PSU total of the influence values is centred at 0 (= the grand mean, influence values sum to 0) instead of the stratum mean, with no n/(n-1) factor; average: the lonely strata are dropped and the sum over the other strata is multiplied by n_strata / n_strata_not_lonely; fail: error 'Stratum (S7) has only one PSU at stage 1'. survey.adjust.domain.lonely = FALSE throughout.",
    weights = "weights arrays are in data (CSV) row order."
  ),
  datasets = datasets,
  cases = cases
)
json <- toJSON(as_json_tree(ref), auto_unbox = TRUE, json_verbatim = TRUE, pretty = FALSE, null = "null", na = "null")
writeLines(json, file.path(outdir, "reference.json"))
cat(sprintf("wrote %d cases to %s\n", length(cases), file.path(outdir, "reference.json")))
