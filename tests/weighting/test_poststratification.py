"""Post-stratification: hand-derived cases, R's residual formula, errors, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weighting.errors import WeightingError
from weighting.poststratification import poststratify


@pytest.fixture
def sample() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 60
    data = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n),
            "region": rng.choice(["north", "south", "east"], n),
            "y": rng.normal(50, 10, n),
        }
    )
    weights = rng.uniform(5, 15, n)
    population = pd.DataFrame({"sex": ["f", "m"], "count": [420.0, 380.0]})
    return data, weights, population


def test_hand_example():
    data = pd.DataFrame({"g": ["a", "a", "b"]})
    adj = poststratify(
        data, np.array([1.0, 3.0, 2.0]), pd.DataFrame({"g": ["b", "a"], "count": [10.0, 8.0]})
    )
    np.testing.assert_allclose(adj.weights, [2.0, 6.0, 10.0])
    assert adj.kind == "poststratify"
    assert adj.details["cells"] == 2
    assert adj.details["factor_min"] == pytest.approx(2.0)
    assert adj.details["factor_max"] == pytest.approx(5.0)


def test_cells_hit_population_counts_and_ratios_within_cells_kept(sample):
    data, w, population = sample
    adj = poststratify(data, w, population)
    totals = pd.Series(adj.weights).groupby(data["sex"].to_numpy()).sum()
    np.testing.assert_allclose(totals[["f", "m"]].to_numpy(), [420.0, 380.0], rtol=1e-12)
    ratio = adj.weights / w
    for sex in ("f", "m"):
        cell = ratio[(data["sex"] == sex).to_numpy()]
        np.testing.assert_allclose(cell, cell[0], rtol=1e-12)


def test_crossed_cells(sample):
    data, w, _ = sample
    cells = data.groupby(["sex", "region"]).size().reset_index()[["sex", "region"]]
    population = cells.assign(count=np.arange(1, len(cells) + 1) * 100.0)
    adj = poststratify(data, w, population)
    got = pd.DataFrame({"sex": data["sex"], "region": data["region"], "w": adj.weights})
    merged = got.groupby(["sex", "region"], as_index=False)["w"].sum().merge(population)
    np.testing.assert_allclose(merged["w"], merged["count"], rtol=1e-12)


def test_reapply_vectorised_over_replicates(sample):
    data, w, population = sample
    adj = poststratify(data, w, population)
    np.testing.assert_allclose(adj.reapply(w), adj.weights, rtol=1e-14)
    rng = np.random.default_rng(1)
    W = w[:, None] * rng.uniform(0.5, 1.5, (len(w), 4))
    out = adj.reapply(W)
    assert out.shape == W.shape
    for r in range(W.shape[1]):
        np.testing.assert_allclose(out[:, r], poststratify(data, W[:, r], population).weights)


def test_reapply_gives_nan_for_a_replicate_that_empties_a_cell(sample):
    data, w, population = sample
    adj = poststratify(data, w, population)
    W = np.c_[w, np.where(data["sex"] == "f", 0.0, w)]
    out = adj.reapply(W)
    assert np.isnan(out[(data["sex"] == "f").to_numpy(), 1]).all()
    assert np.isfinite(out[(data["sex"] == "m").to_numpy(), 1]).all()


def test_residualize_matches_r_svyrecvar_formula(sample):
    data, w, population = sample
    adj = poststratify(data, w, population)
    rng = np.random.default_rng(3)
    z = rng.normal(size=(len(w), 2))
    expected = z.copy()
    g = data["sex"].to_numpy()
    for cell in ("f", "m"):  # R: x - psw * rowsum(x * oldw / psw) / sum(oldw)
        m = g == cell
        mean = (z[m] * (w[m] / adj.weights[m])[:, None]).sum(axis=0) / w[m].sum()
        expected[m] = z[m] - adj.weights[m][:, None] * mean
    np.testing.assert_allclose(adj.residualize(z), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(adj.residualize(z[:, 0]), expected[:, 0], rtol=1e-12, atol=1e-14)


def test_residuals_of_a_total_of_the_cell_indicator_vanish(sample):
    data, w, population = sample
    adj = poststratify(data, w, population)
    z = adj.weights * (data["sex"] == "f").to_numpy()
    np.testing.assert_allclose(adj.residualize(z[:, None]), 0.0, atol=1e-10)


def test_error_data_cell_missing_from_population(sample):
    data, w, _ = sample
    with pytest.raises(WeightingError, match=r"\['m'\].*no row in population"):
        poststratify(data, w, pd.DataFrame({"sex": ["f"], "count": [10.0]}))


def test_error_population_cell_without_sample(sample):
    data, w, _ = sample
    population = pd.DataFrame({"sex": ["f", "m", "x"], "count": [1.0, 2.0, 3.0]})
    with pytest.raises(WeightingError, match=r"\['x'\].*no sampled units"):
        poststratify(data, w, population)


def test_error_cell_with_only_zero_weights(sample):
    data, w, population = sample
    with pytest.raises(WeightingError, match=r"\['f'\]"):
        poststratify(data, np.where(data["sex"] == "f", 0.0, w), population)


@pytest.mark.parametrize("count", [0.0, -5.0, np.nan])
def test_error_non_positive_count(sample, count):
    data, w, _ = sample
    with pytest.raises(WeightingError, match="positive"):
        poststratify(data, w, pd.DataFrame({"sex": ["f", "m"], "count": [count, 3.0]}))


def test_error_missing_value_in_post_stratum_column(sample):
    data, w, population = sample
    bad = data.assign(sex=data["sex"].where(np.arange(len(data)) != 4))
    with pytest.raises(WeightingError, match=r"'sex' has 1 missing value.*row 4"):
        poststratify(bad, w, population)


def test_error_population_without_count_or_unknown_column(sample):
    data, w, _ = sample
    with pytest.raises(WeightingError, match="'count'"):
        poststratify(data, w, pd.DataFrame({"sex": ["f", "m"], "n": [1.0, 2.0]}))
    with pytest.raises(WeightingError, match="agegroup"):
        poststratify(data, w, pd.DataFrame({"agegroup": ["a"], "count": [1.0]}))


def test_error_bad_weights(sample):
    data, w, population = sample
    with pytest.raises(WeightingError, match="weights has length 3"):
        poststratify(data, w[:3], population)
    with pytest.raises(WeightingError, match="non-negative"):
        poststratify(data, -w, population)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_cells=st.integers(1, 6),
    n=st.integers(10, 80),
)
def test_property_counts_met_and_total_is_population(seed, n_cells, n):
    rng = np.random.default_rng(seed)
    cells = np.concatenate([np.arange(n_cells), rng.integers(0, n_cells, n - n_cells)])
    data = pd.DataFrame({"c": cells})
    w = rng.uniform(0.1, 20, n)
    counts = rng.uniform(1, 1000, n_cells)
    adj = poststratify(data, w, pd.DataFrame({"c": np.arange(n_cells), "count": counts}))
    np.testing.assert_allclose(np.bincount(cells, adj.weights, n_cells), counts, rtol=1e-10)
    assert adj.weights.sum() == pytest.approx(counts.sum(), rel=1e-10)
