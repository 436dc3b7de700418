"""replicate("canty_davison") and replicate("subbootstrap"): R's constants and structure,
seeded Monte-Carlo checks of the variance they estimate.

R's draws cannot be reproduced, so the comparison with R (reference_svrep.json,
``replicate_types``) is on the constants (scale, rscales, degf) and the structure of the
factors. The Monte-Carlo checks use 20,000 replicates: the bootstrap variance then has a
relative standard deviation of about 1% (seeds 2-7 gave ratios 0.97-1.01), and the band is
4%.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import weighting
from weighting.replication import replicate_weights

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "weighting" / "reference_svrep.json"
TYPES = json.loads(REFERENCE.read_text(encoding="utf-8"))["replicate_types"]


@pytest.mark.parametrize(("method", "r_type"), [("canty_davison", "bootstrap"), ("subbootstrap", "subbootstrap")])
def test_constants_and_structure_are_rs(reference_data, method, r_type):
    ref = TYPES[r_type]
    data = reference_data("apistrat")
    design = weighting.Design(data, weights="pw", strata="stype", fpc="fpc").replicate(method, replicates=30, rng=5)
    rep = design.replicates
    assert rep.scale == pytest.approx(ref["scale"], rel=1e-12)
    np.testing.assert_array_equal(rep.rscales, ref["rscales"])
    assert design.df == ref["degf"]
    factors = rep.weights / design.weights[:, None]
    for stratum, sums, top in zip(ref["strata"], ref["factor_sums"], ref["factor_max"]):
        rows = (data["stype"] == stratum).to_numpy()
        np.testing.assert_allclose(factors[rows].sum(axis=0), sums, rtol=1e-12)
        n_h = int(rows.sum())
        unit = 1.0 if method == "canty_davison" else n_h / (n_h - 1)
        counts = factors[rows] / unit
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # whole numbers of draws
        if method == "canty_davison":  # without replacement from ceil(N/n) copies of each PSU
            population = float(data.loc[rows, "fpc"].iloc[0])
            assert counts.max() <= np.ceil(population / n_h) and top <= np.ceil(population / n_h)


def stratified_sample(n_strata: int, n_h: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    strata = np.repeat(np.arange(n_strata), n_h)
    return strata, rng.uniform(1, 3, strata.size), rng.gamma(2.0, 3.0, strata.size)


def design_variance_of_total(strata, w, y, population=None):
    v = 0.0
    for h in np.unique(strata):
        z = (w * y)[strata == h]
        f = 0.0 if population is None else z.size / population
        v += (1 - f) * z.size / (z.size - 1) * np.sum((z - z.mean()) ** 2)
    return v


def test_canty_davison_is_unbiased_for_the_design_variance_of_a_total():
    """Equal n_h: E[scale * sum (t_r - tbar)^2] = design variance (with replacement)."""
    strata, w, y = stratified_sample(6, 5, 1)
    rep = replicate_weights("canty_davison", w, strata, None, replicates=20_000, rng=2)
    totals = rep.weights.T @ y
    boot = rep.scale * np.sum((totals - totals.mean()) ** 2)
    assert boot == pytest.approx(design_variance_of_total(strata, w, y), rel=0.04)


def test_canty_davison_with_fpc_draws_from_the_pseudo_population():
    """N_h = 8 n_h: E[V] = N/(N-1) times the design variance with FPC (hypergeometric draws)."""
    strata, w, y = stratified_sample(6, 5, 3)
    population = np.full(strata.size, 40.0)
    rep = replicate_weights("canty_davison", w, strata, None, replicates=20_000, rng=4, population=population)
    totals = rep.weights.T @ y
    boot = rep.scale * np.sum((totals - totals.mean()) ** 2)
    expected = design_variance_of_total(strata, w, y, population=40.0) * 40 / 39
    assert boot == pytest.approx(expected, rel=0.04)
    assert rep.weights.max() <= w.max() * 8


def test_seeded_and_lonely_strata_refused():
    strata, w, _ = stratified_sample(3, 4, 6)
    a = replicate_weights("canty_davison", w, strata, None, replicates=10, rng=9)
    b = replicate_weights("canty_davison", w, strata, None, replicates=10, rng=9)
    np.testing.assert_array_equal(a.weights, b.weights)
    with pytest.raises(weighting.WeightingError, match="Canty-Davison bootstrap needs at least 2 PSUs"):
        replicate_weights("canty_davison", np.ones(3), [0, 0, 1], None, replicates=10, rng=1)
    with pytest.raises(weighting.WeightingError, match="replicates= only applies to the bootstraps"):
        replicate_weights("jkn", w, strata, None, replicates=10)
