"""Fast, seeded coverage check of the 95% intervals of ``weighting`` (see benchmarks/coverage_simulation.py).

The simulation draws stratified two-stage samples (6 strata x 8 PSUs x 10 units) from one simulated
finite population with :func:`sampling.draw` and checks how often the intervals of a mean, a
post-stratified mean and a logit proportion cover the population value.

Tolerance. With ``R`` independent replicates, the observed coverage of a correct 95% interval is
Binomial(R, 0.95) / R, with Monte-Carlo standard error ``sqrt(0.95 * 0.05 / R)``; for ``R = 300``
that is 1.26 percentage points. The test accepts ``|coverage - 0.95| <= 3.29 * 1.26 = 4.1`` points,
i.e. [90.9%, 99.1%]: a correct implementation falls outside with probability 0.001 per statistic
(<= 0.003 for the three; the draw is seeded, so the result is also reproducible). The band still
rejects gross errors: ignoring the clustering (design effect about 2 here) gives coverage near
82%, ignoring the weights biases the mean by several standard errors. The full benchmark
(2,000 replicates, band 93.5%-96.5%, about +-3 Monte-Carlo SE) is tighter; small departures such
as a normal instead of a t quantile (94.5% instead of 95% at 42 df) are left to the R reference
tests, no coverage simulation of practical size can see them.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

REPLICATES = 300
SEED = 20261122
NOMINAL = 0.95
Z = 3.29  # two-sided 0.1% normal quantile
TOLERANCE = Z * math.sqrt(NOMINAL * (1 - NOMINAL) / REPLICATES)

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "coverage_simulation.py"


def _load_simulation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coverage_simulation", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("coverage_simulation", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def coverage_table() -> pd.DataFrame:
    return _load_simulation().run_simulation(REPLICATES, SEED)


def test_tolerance_is_what_the_docstring_says() -> None:
    assert math.isclose(TOLERANCE, 0.0414, abs_tol=5e-4)


@pytest.mark.parametrize("statistic", ["mean", "poststratified mean", "proportion (logit)"])
def test_95_percent_intervals_cover(coverage_table: pd.DataFrame, statistic: str) -> None:
    row = coverage_table.set_index("statistic").loc[statistic]
    assert row["replicates"] == REPLICATES
    assert abs(row["coverage"] - NOMINAL) <= TOLERANCE, (
        f"{statistic}: coverage {row['coverage']:.3f} outside {NOMINAL} +- {TOLERANCE:.3f}"
    )
    assert row["mean_ci_width"] > 0


def test_simulation_is_reproducible() -> None:
    simulation = _load_simulation()
    first = simulation.run_simulation(20, 7)
    second = simulation.run_simulation(20, 7)
    assert first.equals(second)
