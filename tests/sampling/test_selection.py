"""Selection kernels on arrays: exact sizes, stratum order, systematic positions."""

from __future__ import annotations

import numpy as np
import pytest

from sampling import selection


@pytest.mark.parametrize("sort_first", [True, False])
def test_stratum_order_is_stable_grouping(sort_first):
    codes = np.random.default_rng(1).integers(0, 7, size=500)
    if sort_first:
        codes = np.sort(codes)
    order = selection._stratum_order(codes, 7)
    np.testing.assert_array_equal(order, np.argsort(codes, kind="stable"))


def test_systematic_positions_follow_the_interval():
    # one stratum, N = 10, n = 4: interval 2.5; ranks floor((t + 10 j) / 4) for t = u * 10
    codes = np.zeros(10, dtype=np.intp)
    rng = np.random.default_rng(3)
    u = np.random.default_rng(3).random(1)[0]
    chosen = selection.systematic(codes, np.array([10]), np.array([4]), rng)
    expected = np.floor((u * 10 + 10 * np.arange(4)) / 4).astype(int)
    np.testing.assert_array_equal(chosen, expected)
    assert np.all(np.diff(chosen) >= 2)


def test_srswor_threshold_fallback_gives_smallest_keys():
    # n_h = N_h - 1 in a large stratum forces the fallback path; result: the n_h smallest keys
    codes = np.repeat(np.arange(3), [50, 1000, 7]).astype(np.intp)
    N_h = np.array([50, 1000, 7])
    n_h = np.array([3, 999, 7])
    chosen = selection.srswor(codes, N_h, n_h, np.random.default_rng(8))
    keys = np.random.default_rng(8).random(len(codes))
    expected = np.concatenate(
        [np.flatnonzero(codes == h)[np.argsort(keys[codes == h])[: n_h[h]]] for h in range(3)]
    )
    np.testing.assert_array_equal(chosen, np.sort(expected))


def test_pps_systematic_exact_size_with_certainty_units():
    rng = np.random.default_rng(5)
    codes = np.repeat(np.arange(4), 25).astype(np.intp)
    size = rng.lognormal(sigma=2.0, size=100)
    n_h = np.array([5, 8, 1, 25])
    pi = selection.pps_probabilities(size, codes, n_h)
    assert np.allclose(np.bincount(codes, weights=pi), n_h)
    for seed in range(50):
        chosen = selection.pps_systematic(codes, pi, n_h, np.random.default_rng(seed))
        assert len(np.unique(chosen)) == len(chosen)
        np.testing.assert_array_equal(np.bincount(codes[chosen], minlength=4), n_h)
        assert np.isin(np.flatnonzero(pi >= 1), chosen).all()
