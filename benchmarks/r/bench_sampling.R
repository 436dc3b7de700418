# Benchmark of R sampling::strata (stratified srswor), called by benchmarks/bench_sampling.py.
# Usage: Rscript benchmarks/r/bench_sampling.R <units> <strata> <fraction> <seed>
# Prints one line: seconds=<elapsed time of the strata() call> cpu=<user + system time> selected=<rows>
# Ran on R 4.2.2 Patched (2022-11-10 r83330) with r-cran-sampling 2.9.
suppressPackageStartupMessages(library(sampling))
args <- commandArgs(trailingOnly = TRUE)
units <- as.integer(args[1]); n_strata <- as.integer(args[2])
fraction <- as.numeric(args[3]); set.seed(as.integer(args[4]))
weights <- exp(rnorm(n_strata))
frame <- data.frame(id = seq_len(units),
                    stratum = sample.int(n_strata, units, replace = TRUE, prob = weights),
                    size = rlnorm(units))
frame <- frame[order(frame$stratum), ]  # strata() wants sizes in order of appearance
counts <- as.vector(table(factor(frame$stratum, levels = unique(frame$stratum))))
size <- pmin(pmax(1L, round(fraction * counts)), counts)
elapsed <- system.time(s <- sampling::strata(frame, "stratum", size = size, method = "srswor"))
cat(sprintf("seconds=%.3f cpu=%.3f selected=%d\n", elapsed[["elapsed"]],
            elapsed[["user.self"]] + elapsed[["sys.self"]], nrow(s)))
