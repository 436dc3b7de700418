# Reference fixtures for tests/sampling/test_reference_r.py.
#
# Ran on: R 4.2.2 Patched (2022-11-10 r83330), Debian packages r-cran-sampling 2.9,
#         r-cran-survey 4.1.1, jsonlite 1.8.4.
# Run from the repository root (after `.venv/bin/python tests/reference/sampling/make_inputs.py`):
#     Rscript tests/reference/sampling/make_reference.R
# Writes tests/reference/sampling/reference_sampling.json. R's random generator differs from
# numpy's, so the fixtures hold deterministic results (inclusion probabilities, weights) and
# empirical inclusion frequencies of many seeded R draws, compared statistically in the tests.

suppressPackageStartupMessages({
  library(sampling)
  library(survey)
  library(jsonlite)
})
out_dir <- "tests/reference/sampling"
set.seed(20240601)

# 1. inclusionprobabilities: size vectors with zero sizes and (iterated) certainty units
cases <- list(
  list(size = c(1, 1, 2, 20), n = 2),
  list(size = c(0.5, 1, 1, 2, 3, 5, 8, 13, 40), n = 3),
  list(size = c(100, 50, 30, 5, 4, 3, 2, 1, 1, 0, 7, 9), n = 5),
  list(size = c(10, 9, 8, 1, 1, 1, 1, 1, 1, 1), n = 4),
  list(size = round(exp(seq(-2, 4, length.out = 40)), 6), n = 12)
)
pps <- lapply(cases, function(case) {
  list(size = case$size, n = case$n,
       pik = suppressWarnings(inclusionprobabilities(case$size, case$n)))
})

# 2. UPsystematic: empirical inclusion frequencies over many R draws
sys_size <- c(0.5, 1, 1, 2, 3, 5, 8, 13, 40, 1, 2, 2, 9, 0, 4, 60, 3, 3, 1, 7)
sys_pik <- suppressWarnings(inclusionprobabilities(sys_size, 6))
sys_reps <- 20000
sys_counts <- rowSums(replicate(sys_reps, UPsystematic(sys_pik)))
sys_counts <- round(sys_counts)  # certainty units are reported with pik == 1 by UPsystematic

# 3. sampling::strata() (survival::strata masks it once survey is loaded): stratified srswor and systematic PPS, Prob column and frequencies
frame <- data.frame(
  h = rep(c("a", "b", "c"), times = c(9, 11, 6)),
  x = c(0.5, 1, 1, 2, 3, 5, 8, 13, 40, 1, 2, 2, 9, 0.2, 4, 60, 3, 3, 1, 7, 2, 2, 3, 3, 4, 30)
)
strata_sizes <- c(3, 4, 2)
strata_reps <- 5000
srs_counts <- numeric(nrow(frame))
sys_str_counts <- numeric(nrow(frame))
srs_prob <- NULL
sys_prob <- NULL
for (r in seq_len(strata_reps)) {
  s1 <- sampling::strata(frame, "h", size = strata_sizes, method = "srswor")
  srs_counts[s1$ID_unit] <- srs_counts[s1$ID_unit] + 1
  s2 <- sampling::strata(frame, "h", size = strata_sizes, method = "systematic", pik = frame$x)
  sys_str_counts[s2$ID_unit] <- sys_str_counts[s2$ID_unit] + 1
  if (r == 1) {
    srs_prob <- s1[order(s1$ID_unit), c("ID_unit", "Prob")]
    sys_prob <- s2[order(s2$ID_unit), c("ID_unit", "Prob")]
  }
}
# deterministic per-unit probabilities of the stratified PPS design (as strata() computes them)
sys_pik_all <- unlist(lapply(split(seq_len(nrow(frame)), frame$h), function(idx) {
  inclusionprobabilities(frame$x[idx], strata_sizes[match(frame$h[idx[1]], c("a", "b", "c"))])
}))

# deterministic per-unit probabilities of the stratified srswor design (R has no allocation
# function in sampling or survey; allocation is tested against hand-derived values instead)
srs_pik_all <- inclusionprobastrata(match(frame$h, c("a", "b", "c")), strata_sizes)

# 4. survey: weights of our two-stage sample from its stage-wise FPC columns
two <- read.csv(file.path(out_dir, "two_stage_sample.csv"))
design <- svydesign(id = ~institution + graduate, strata = ~province,
                    fpc = ~stage1_population + stage2_population, data = two)
two_weights <- data.frame(graduate = two$graduate, weight = weights(design))
total <- svytotal(~I(rep(1, nrow(two))), design)

# 5. survey: one-stage stratified design from our stratified srswor sample
one <- read.csv(file.path(out_dir, "stratified_sample.csv"))
design1 <- svydesign(id = ~1, strata = ~province, fpc = ~stratum_population,
                     weights = ~design_weight, data = one)
mean1 <- svymean(~employed, design1)
total1 <- svytotal(~employed, design1)

fixtures <- list(
  versions = list(R = R.version.string, sampling = as.character(packageVersion("sampling")),
                  survey = as.character(packageVersion("survey"))),
  inclusionprobabilities = pps,
  upsystematic = list(size = sys_size, n = 6, pik = sys_pik, replicates = sys_reps,
                      counts = sys_counts),
  strata = list(h = frame$h, x = frame$x, size = strata_sizes, replicates = strata_reps,
                srswor_counts = srs_counts, systematic_counts = sys_str_counts,
                srswor_prob = srs_prob, systematic_prob = sys_prob, systematic_pik = sys_pik_all,
                srswor_pik = srs_pik_all),
  two_stage = list(graduate = two_weights$graduate, weight = two_weights$weight,
                   total = unname(coef(total)), total_se = unname(SE(total))),
  stratified = list(graduate = one$graduate, weight = weights(design1),
                    mean = unname(coef(mean1)), mean_se = unname(SE(mean1)),
                    total = unname(coef(total1)), total_se = unname(SE(total1)))
)
write_json(fixtures, file.path(out_dir, "reference_sampling.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
