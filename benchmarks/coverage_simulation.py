"""Coverage of Strata's 95% confidence intervals under repeated stratified two-stage sampling.

A finite population of clusters (PSUs) within strata is simulated once. Then, many times over,
a stratified two-stage sample is drawn with :func:`sampling.draw_two_stage` (SRSWOR of 8 PSUs per
stratum, then SRSWOR of 10 units per selected PSU), a :class:`weighting.Design` is built from
it, and the 95% intervals of three statistics are checked against the population values:

* ``mean``: mean of a continuous ``y`` (Taylor linearisation of the ratio mean);
* ``poststratified mean``: mean of ``y`` after post-stratifying to the known population counts
  of a 4-level unit characteristic ``g`` that ``y`` depends on;
* ``proportion (logit)``: proportion of a binary ``b``, logit interval.

The variance is the with-replacement ("ultimate cluster") approximation: no finite population
correction is passed, so the first-stage sampling fractions (2.7%-6.7% here) make the intervals
slightly conservative; the expected coverage is about 95% (the t quantile with design df
``48 PSUs - 6 strata = 42`` is used by the library).

A statistic passes when its coverage is in [93.5%, 96.5%]. With the default 2,000 replicates
the Monte-Carlo standard error of a coverage near 95% is ``sqrt(0.95 * 0.05 / 2000) = 0.49``
percentage points, so the band is about +-3 Monte-Carlo SE around 95%.

Run::

    .venv/bin/python benchmarks/coverage_simulation.py --replicates 2000 --seed 20261122

The exit status is 1 when a statistic falls outside the band.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

import sampling
import weighting

LEVEL = 0.95
BAND = (0.935, 0.965)
STATISTICS = ("mean", "poststratified mean", "proportion (logit)")

# Population layout: PSUs per stratum (first-stage sampling fraction m / M_h is 2.7%-6.7%).
PSUS_PER_STRATUM = (120, 150, 180, 200, 240, 300)
PSUS_SAMPLED = 8  # per stratum: 48 PSUs, 42 design degrees of freedom
UNITS_SAMPLED = 10  # per selected PSU: 480 units per sample


@dataclass(frozen=True)
class Population:
    """The finite population: its units, strata, post-stratum counts and true values."""

    units: pd.DataFrame  # stratum, psu, g, y, b (one row per unit)
    strata: tuple[str, ...]
    poststrata: pd.DataFrame  # g, count
    truth: dict[str, float]


def make_population(rng: np.random.Generator) -> Population:
    """Simulate the finite population (about 48,000 units in 1,190 PSUs, 6 strata).

    ``y = 50 + 3 h + u_psu + 5 g + e`` with ``u_psu ~ N(0, 6^2)`` and ``e ~ N(0, 15^2)``
    (intra-cluster correlation about 0.13), ``g`` in {0, 1, 2, 3} with stratum-dependent
    probabilities, and ``b ~ Bernoulli(expit(-1.3 + 0.08 u_psu + 0.4 [g = 3]))`` (about 25%).
    """
    strata = np.repeat(np.arange(len(PSUS_PER_STRATUM)), PSUS_PER_STRATUM)
    n_psu = strata.size
    size = 20 + rng.poisson(20, n_psu)  # PSU sizes 20..~45
    u = rng.normal(0.0, 6.0, n_psu)
    psu_of_unit = np.repeat(np.arange(n_psu), size)
    h = strata[psu_of_unit]
    n_units = psu_of_unit.size
    # g depends on the stratum: P(g = 3) rises from 0.15 to 0.40 across strata
    p3 = 0.15 + 0.05 * h
    draw = rng.random(n_units)
    g = np.select([draw < 0.3, draw < 0.6, draw < 1.0 - p3], [0, 1, 2], default=3)
    y = 50.0 + 3.0 * h + u[psu_of_unit] + 5.0 * g + rng.normal(0.0, 15.0, n_units)
    eta = -1.3 + 0.08 * u[psu_of_unit] + 0.4 * (g == 3)
    b = (rng.random(n_units) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    stratum_label = np.array([f"S{k}" for k in range(len(PSUS_PER_STRATUM))])
    units = pd.DataFrame(
        {
            "stratum": stratum_label[h],
            "psu": psu_of_unit,
            "g": np.array(["g0", "g1", "g2", "g3"])[g],
            "y": y,
            "b": b,
        }
    )
    counts = units["g"].value_counts().sort_index()
    poststrata = pd.DataFrame({"g": counts.index.to_numpy(), "count": counts.to_numpy(dtype=float)})
    truth = {
        "mean": float(y.mean()),
        "poststratified mean": float(y.mean()),
        "proportion (logit)": float(b.mean()),
    }
    return Population(units, tuple(stratum_label), poststrata, truth)


def draw_sample(population: Population, rng: np.random.Generator) -> pd.DataFrame:
    """Stratified two-stage sample with :func:`sampling.draw_two_stage` (SRSWOR at both stages)."""
    return sampling.draw_two_stage(
        population.units,
        psu="psu",
        n_psu=dict.fromkeys(population.strata, PSUS_SAMPLED),
        n_units=UNITS_SAMPLED,
        strata="stratum",
        rng=rng,
    )


def _row(result: pd.DataFrame, variable: str, category: object = None) -> pd.Series:
    """The one result row of ``variable`` (and ``category`` for proportions)."""
    rows = result
    if "variable" in rows.columns:
        rows = rows[rows["variable"].astype(str) == variable]
    if category is not None and len(rows) > 1:
        for column in ("category", "level"):
            if column in rows.columns:
                rows = rows[rows[column].astype(str) == str(category)]
                break
    if len(rows) != 1:
        raise RuntimeError(f"expected one result row for {variable!r}, got:\n{result}")
    return rows.iloc[0]


def estimate_intervals(
    sample: pd.DataFrame, poststrata: pd.DataFrame
) -> dict[str, tuple[float, float, float]]:
    """``statistic -> (estimate, ci_low, ci_high)`` from :class:`weighting.Design`."""
    design = weighting.Design(sample, weights="design_weight", strata="stratum", psu="psu")
    out: dict[str, tuple[float, float, float]] = {}
    mean = _row(design.mean(["y"]), "y")
    out["mean"] = (float(mean["estimate"]), float(mean["ci_low"]), float(mean["ci_high"]))
    ps = _row(design.poststratify(poststrata).mean(["y"]), "y")
    out["poststratified mean"] = (float(ps["estimate"]), float(ps["ci_low"]), float(ps["ci_high"]))
    prop = _row(design.proportion("b", ci="logit"), "b", category=1)
    out["proportion (logit)"] = (
        float(prop["estimate"]),
        float(prop["ci_low"]),
        float(prop["ci_high"]),
    )
    return out


def run_simulation(replicates: int, seed: int) -> pd.DataFrame:
    """Coverage table: one row per statistic.

    Columns: statistic, replicates, coverage, mc_se (``sqrt(c (1 - c) / R)``), mean_ci_width,
    mean_bias (average estimate minus the true value), true_value, in_band.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, got {replicates}")
    population_seed, sample_seed = np.random.SeedSequence(seed).spawn(2)
    population = make_population(np.random.default_rng(population_seed))
    rng = np.random.default_rng(sample_seed)
    covered = {s: np.zeros(replicates, dtype=bool) for s in STATISTICS}
    width = {s: np.zeros(replicates) for s in STATISTICS}
    error = {s: np.zeros(replicates) for s in STATISTICS}
    for r in range(replicates):
        sample = draw_sample(population, rng)
        for stat, (est, low, high) in estimate_intervals(sample, population.poststrata).items():
            truth = population.truth[stat]
            covered[stat][r] = low <= truth <= high
            width[stat][r] = high - low
            error[stat][r] = est - truth
    rows = []
    for stat in STATISTICS:
        c = float(covered[stat].mean())
        rows.append(
            {
                "statistic": stat,
                "replicates": replicates,
                "coverage": c,
                "mc_se": float(np.sqrt(c * (1.0 - c) / replicates)),
                "mean_ci_width": float(width[stat].mean()),
                "mean_bias": float(error[stat].mean()),
                "true_value": population.truth[stat],
                "in_band": BAND[0] <= c <= BAND[1],
            }
        )
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    header = (
        f"{'statistic':<22}{'replicates':>11}{'coverage':>10}{'MC SE':>8}"
        f"{'mean CI width':>15}{'mean bias':>11}{'true value':>12}  result"
    )
    lines = [header, "-" * len(header)]
    for row in table.to_dict("records"):
        coverage, mc_se = float(row["coverage"]), float(row["mc_se"])
        lines.append(
            f"{row['statistic']!s:<22}{int(row['replicates']):>11d}{100 * coverage:>9.2f}%"
            f"{100 * mc_se:>7.2f}%{float(row['mean_ci_width']):>15.4f}"
            f"{float(row['mean_bias']):>11.4f}{float(row['true_value']):>12.4f}  "
            f"{'ok' if row['in_band'] else 'OUT OF BAND'}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=2000, help="samples drawn (default 2000)")
    parser.add_argument("--seed", type=int, default=20261122, help="seed of population and samples")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    table = run_simulation(args.replicates, args.seed)
    elapsed = time.perf_counter() - start
    print(
        f"Coverage of nominal {100 * LEVEL:.0f}% intervals; stratified two-stage samples of "
        f"{len(PSUS_PER_STRATUM) * PSUS_SAMPLED} PSUs x {UNITS_SAMPLED} units; "
        f"band {100 * BAND[0]:.1f}%-{100 * BAND[1]:.1f}%"
    )
    print(format_table(table))
    print(
        f"{args.replicates} replicates in {elapsed:.1f} s ({1e3 * elapsed / args.replicates:.1f} ms each)"
    )
    return 0 if bool(table["in_band"].all()) else 1


if __name__ == "__main__":
    sys.exit(main())
