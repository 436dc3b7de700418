"""Monte-Carlo checks: empirical inclusion frequencies match ``inclusion_probability``.

Replication is vectorised: the small frame is repeated ``R`` times and each copy of each stratum
becomes a stratum of its own, so one call draws ``R`` independent stratified samples (strata are
drawn independently by every method). For each unit the count of selections over the ``R``
replicates is Binomial(R, pi_i) (exactly, since replicates are independent); the test fails when
``|count - R pi_i| > z sqrt(R pi_i (1 - pi_i))`` with ``z`` Bonferroni-corrected over all units of
all methods so that the total false-failure probability (normal approximation) is ``ALPHA = 1e-6``
per test. Units with ``pi_i`` in {0, 1} must be selected never / always.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sampling

ALPHA = 1e-6
R = 4000

SIZES = np.array([0.5, 1, 1, 2, 3, 5, 8, 13, 40, 1, 2, 2, 9, 0, 4, 60, 3, 3, 1, 7], dtype=float)
STRATUM = np.array(list("aaaaaaaaabbbbbbbbbbb"))
N_H = {"a": 3, "b": 4}


def _replicated_frame() -> pd.DataFrame:
    units = len(SIZES)
    rep = np.repeat(np.arange(R), units)
    return pd.DataFrame(
        {
            "unit": np.tile(np.arange(units), R),
            "cell": [f"{r}|{s}" for r, s in zip(rep, np.tile(STRATUM, R))],
            "size": np.tile(SIZES, R),
        }
    )


FRAME = _replicated_frame()
N_MAP = {cell: N_H[cell[-1]] for cell in pd.unique(FRAME["cell"])}


def _check_frequencies(sample: pd.DataFrame, fixed_size: bool) -> None:
    units = len(SIZES)
    counts = np.bincount(sample["unit"].to_numpy(), minlength=units)
    pi = sample.groupby("unit")["inclusion_probability"].first().reindex(range(units))
    pi = pi.fillna(0.0).to_numpy()  # units never selected: pi checked to be 0 below if applicable
    z = stats.norm.isf(ALPHA / (2 * units))
    interior = (pi > 0) & (pi < 1)
    sd = np.sqrt(R * pi * (1 - pi))
    deviation = np.abs(counts - R * pi)
    assert np.all(deviation[interior] <= z * sd[interior]), (counts, R * pi)
    assert np.all(counts[pi == 1] == R)
    if fixed_size:
        per_cell = sample.groupby("cell").size()
        expected = pd.Series(N_MAP).reindex(per_cell.index)
        assert len(per_cell) == R * 2
        assert (per_cell == expected).all()


@pytest.mark.parametrize("method", ["srswor", "systematic", "bernoulli"])
def test_equal_probability_methods(method):
    sample = sampling.draw(FRAME, N_MAP, strata="cell", method=method, rng=20240601)
    stratum = STRATUM[sample["unit"].to_numpy()]
    expected = np.where(stratum == "a", 3 / 9, 4 / 11)
    assert np.allclose(sample["inclusion_probability"], expected)
    _check_frequencies(sample, fixed_size=method != "bernoulli")


@pytest.mark.parametrize("method", ["pps_systematic", "poisson"])
def test_size_proportional_methods(method):
    sample = sampling.draw(FRAME, N_MAP, strata="cell", method=method, size="size", rng=7)
    # unit 15 (size 60) is a certainty unit in stratum b, unit 8 (size 40) in stratum a
    assert (sample.loc[sample["unit"] == 15, "inclusion_probability"] == 1.0).all()
    assert (sample.loc[sample["unit"] == 8, "inclusion_probability"] == 1.0).all()
    assert not (sample["unit"] == 13).any()  # size 0: never selected
    _check_frequencies(sample, fixed_size=method == "pps_systematic")
    if method == "poisson":
        # the expected sample size is n_h: the realised total is within a 1e-6 normal bound
        pi = sampling.inclusion_probabilities(SIZES[:9], 3).tolist()
        pi += sampling.inclusion_probabilities(SIZES[9:], 4).tolist()
        var = R * float(np.sum(np.array(pi) * (1 - np.array(pi))))
        assert abs(len(sample) - R * 7) <= stats.norm.isf(ALPHA / 2) * np.sqrt(var)


def test_unstratified_pps_matches_inclusion_probabilities():
    frame = pd.DataFrame({"unit": np.arange(len(SIZES)), "size": SIZES})
    pi = sampling.inclusion_probabilities(SIZES, 5)
    hits = np.zeros(len(SIZES))
    rng = np.random.default_rng(11)
    replicates = 200
    for _ in range(replicates):  # also exercises the unstratified path and Generator reuse
        s = sampling.draw(frame, 5, method="pps_systematic", size="size", rng=rng)
        assert len(s) == 5
        hits[s["unit"].to_numpy()] += 1
    z = stats.norm.isf(ALPHA / (2 * len(SIZES)))
    interior = (pi > 0) & (pi < 1)
    bound = z * np.sqrt(replicates * pi * (1 - pi))
    assert np.all(np.abs(hits - replicates * pi)[interior] <= bound[interior])
    assert np.all(hits[pi == 1] == replicates)
