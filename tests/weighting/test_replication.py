"""Replicate weights: structure as R's, exact identities with the linearisation variance."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weighting.errors import WeightingError
from weighting.hadamard import hadamard, uses_substitute
from weighting.replication import replicate_variance, replicate_weights


def taylor_variance_of_total(y, w, strata, psu):
    """Stratified with-replacement variance of a weighted total (textbook loop, for tests)."""
    v = 0.0
    for h in np.unique(strata):
        m = strata == h
        ids = np.unique(psu[m])
        totals = np.array([np.sum((w * y)[m & (psu == j)]) for j in ids])
        v += len(ids) / (len(ids) - 1) * np.sum((totals - totals.mean()) ** 2)
    return v


def paired_design(n_strata, seed=0, units=3):
    rng = np.random.default_rng(seed)
    strata = np.repeat(np.arange(n_strata), 2 * units)
    psu = np.repeat(np.arange(2 * n_strata), units)
    order = rng.permutation(strata.size)  # rows in no particular order
    return strata[order], psu[order], rng.uniform(1, 4, strata.size), rng.normal(5, 2, strata.size)


def test_jkn_factors_and_constants():
    rep = replicate_weights("jkn", np.full(5, 2.0), [1, 1, 0, 0, 0], [7, 8, 7, 8, 9])
    # strata and PSUs in order of first appearance, columns grouped by stratum
    expected = np.array(
        [
            [0.0, 2.0, 1.0, 1.0, 1.0],
            [2.0, 0.0, 1.0, 1.0, 1.0],
            [1.0, 1.0, 0.0, 1.5, 1.5],
            [1.0, 1.0, 1.5, 0.0, 1.5],
            [1.0, 1.0, 1.5, 1.5, 0.0],
        ]
    )
    np.testing.assert_allclose(rep.factors, expected)
    np.testing.assert_allclose(rep.weights, 2.0 * expected)
    np.testing.assert_allclose(rep.rscales, [0.5, 0.5, 2 / 3, 2 / 3, 2 / 3])
    assert rep.scale == 1.0 and rep.mse is False and rep.method == "jkn"


def test_jk1_factors_and_scale():
    rep = replicate_weights("jk1", np.ones(4), None, [3, 3, 1, 2])
    np.testing.assert_allclose(
        rep.factors, [[0, 1.5, 1.5], [0, 1.5, 1.5], [1.5, 0, 1.5], [1.5, 1.5, 0]]
    )
    assert rep.scale == pytest.approx(2 / 3)
    np.testing.assert_array_equal(rep.rscales, np.ones(3))


@pytest.mark.parametrize("method", ["jkn", "brr", "fay"])
def test_replicate_variance_of_a_total_equals_linearisation(method):
    strata, psu, w, y = paired_design(5)
    rep = replicate_weights(method, w, strata, psu, fay=0.3 if method == "fay" else None)
    theta = rep.weights.T @ y
    v = rep.variance(np.sum(w * y), theta)
    assert v == pytest.approx(taylor_variance_of_total(y, w, strata, psu), rel=1e-10)


def test_jk1_variance_of_a_total_equals_linearisation():
    rng = np.random.default_rng(2)
    psu = rng.integers(0, 9, 60)
    w, y = rng.uniform(1, 3, 60), rng.normal(size=60)
    rep = replicate_weights("jk1", w, None, psu)
    v = rep.variance(np.sum(w * y), rep.weights.T @ y)
    assert v == pytest.approx(taylor_variance_of_total(y, w, np.zeros(60), psu), rel=1e-10)


@pytest.mark.parametrize("n_strata", [3, 5, 9, 13, 24, 33])
def test_brr_is_balanced_and_uses_r_orders(n_strata):
    strata, psu, w, y = paired_design(n_strata, seed=n_strata, units=1)
    rep = replicate_weights("brr", w, strata, psu)
    assert rep.factors.shape[1] == hadamard(n_strata).shape[0] > n_strata
    pair_sum = np.zeros((n_strata, rep.factors.shape[1]))
    np.add.at(pair_sum, strata, rep.factors)
    np.testing.assert_allclose(pair_sum, 2.0)  # one PSU of each pair doubled, the other dropped
    v = rep.variance(np.sum(w * y), rep.weights.T @ y)
    assert v == pytest.approx(taylor_variance_of_total(y, w, strata, psu), rel=1e-10)
    assert rep.scale == pytest.approx(1 / rep.factors.shape[1])


def test_hadamard_matrices_are_hadamard_with_a_row_of_ones():
    for n in range(1, 80):
        H = 2 * hadamard(n).astype(np.int64) - 1
        k = H.shape[0]
        assert k > n and k % 4 == 0
        np.testing.assert_array_equal(H @ H.T, k * np.eye(k))
        assert (H[0] == 1).all() and (H[:, 0] == 1).all()
    assert uses_substitute(25) and not uses_substitute(10)


def test_fay_factors_and_scale():
    strata, psu, w, _ = paired_design(3, units=1)
    rep = replicate_weights("fay", w, strata, psu, fay=0.25)
    assert set(np.unique(rep.factors)) == {0.25, 1.75}
    assert rep.scale == pytest.approx(1 / (4 * 0.75**2))


def test_bootstrap_rao_wu_structure_and_seed():
    rng = np.random.default_rng(5)
    strata = np.repeat([0, 1, 2], [12, 20, 8])
    psu = np.concatenate(
        [np.repeat(np.arange(4), 3), np.repeat(np.arange(4, 14), 2), np.arange(14, 22)]
    )
    w = rng.uniform(1, 2, strata.size)
    rep = replicate_weights("bootstrap", w, strata, psu, replicates=400, rng=42)
    again = replicate_weights("bootstrap", w, strata, psu, replicates=400, rng=42)
    np.testing.assert_array_equal(rep.factors, again.factors)
    assert rep.factors.shape == (strata.size, 400)
    assert rep.scale == pytest.approx(1 / 399)
    # factors are constant within a PSU and sum to n_h over the PSUs of each stratum
    first = np.unique(psu, return_index=True)[1]
    n_h = np.bincount(strata[first])
    per_stratum = np.zeros((3, 400))
    np.add.at(per_stratum, strata[first], rep.factors[first])
    np.testing.assert_allclose(per_stratum, np.repeat(n_h[:, None], 400, axis=1).astype(float))
    np.testing.assert_allclose(rep.factors[psu == 0], np.broadcast_to(rep.factors[0], (3, 400)))
    assert rep.factors.mean() == pytest.approx(1.0, abs=0.03)


def test_bootstrap_variance_of_total_is_unbiased_for_linearisation():
    # Rao-Wu with m_h = n_h - 1 reproduces the linearisation variance of a total in expectation
    strata, psu, w, y = paired_design(4, seed=3, units=2)
    rep = replicate_weights("bootstrap", w, strata, psu, replicates=4000, rng=1)
    v = rep.variance(np.sum(w * y), rep.weights.T @ y)
    assert v == pytest.approx(taylor_variance_of_total(y, w, strata, psu), rel=0.1)


@pytest.mark.parametrize(
    ("method", "strata", "psu", "kwargs", "message"),
    [
        ("jk1", [0, 0, 1, 1, 1], [0, 1, 2, 3, 4], {}, "unstratified.*jkn"),
        ("jkn", [0, 0, 1, 1, 2], [0, 1, 2, 3, 4], {}, r"strata_codes \[2\] have one"),
        (
            "brr",
            [0, 0, 0, 1, 1],
            [0, 1, 2, 3, 4],
            {},
            r"exactly 2 PSUs.*strata_codes \[0\] have \[3\]",
        ),
        ("brr", None, [0, 1, 2, 3, 4], {}, "exactly 2 PSUs|stratified"),
        ("fay", [0, 0, 1, 1, 1], [0, 1, 2, 3, 3], {"fay": 1.5}, "between 0 and 1"),
        ("bootstrap", [0, 0, 1, 1, 2], [0, 1, 2, 3, 4], {}, r"strata_codes \[2\] have one"),
        ("bootstrap", None, None, {"replicates": 1}, "at least 2"),
        ("jkn", [0, 0, 1, 1, 1], None, {"replicates": 5}, "only applies"),
        ("sdr", None, None, {}, "method must be one of"),
    ],
)
def test_errors(method, strata, psu, kwargs, message):
    with pytest.raises(WeightingError, match=message):
        replicate_weights(method, np.ones(5), strata, psu, **kwargs)


def test_replicate_variance_vectorised_mse_and_missing():
    reps = np.array([[1.0, 10.0], [3.0, 14.0], [2.0, 12.0]])
    v = replicate_variance([2.5, 12.0], reps, 0.5, [1.0, 1.0, 1.0], mse=False)
    np.testing.assert_allclose(v, [0.5 * 2.0, 0.5 * 8.0])
    v_mse = replicate_variance([2.5, 12.0], reps, 0.5, [1.0, 1.0, 1.0], mse=True)
    np.testing.assert_allclose(v_mse, [0.5 * (2.25 + 0.25 + 0.25), 0.5 * 8.0])
    with pytest.warns(RuntimeWarning, match="1 replicate"):
        v_na = replicate_variance(
            [2.5, 12.0], np.vstack([reps, [np.nan, 12.0]]), 0.5, np.ones(4), mse=False
        )
    np.testing.assert_allclose(v_na, [1.0, 4.0])
    with pytest.raises(WeightingError, match="shape"):
        replicate_variance([1.0], reps, 1.0, np.ones(3), mse=False)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_strata=st.integers(1, 6))
def test_property_jkn_variance_of_total_is_linearisation(seed, n_strata):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 6, n_strata)
    strata = np.repeat(np.arange(n_strata), sizes * 2)
    psu = np.repeat(np.arange(sizes.sum()), 2)
    w, y = rng.uniform(1, 5, strata.size), rng.normal(size=strata.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = replicate_weights("jkn", w, strata, psu)
        v = rep.variance(np.sum(w * y), rep.weights.T @ y)
    assert v == pytest.approx(taylor_variance_of_total(y, w, strata, psu), rel=1e-9)
