"""Weight trimming: R's one-pass formula, strict rounds, totals and bounds, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weighting.errors import WeightingError
from weighting.trimming import trim


def test_one_pass_matches_r_formula():
    w = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 0.5])
    adj = trim(w, lower=1.0, upper=8.0)
    clipped = np.clip(w, 1.0, 8.0)
    inside = (w >= 1.0) & (w <= 8.0)
    expected = clipped.copy()
    expected[inside] += (w - clipped).sum() / inside.sum()  # equal shares, as trimWeights
    np.testing.assert_allclose(adj.weights, expected)
    assert adj.weights.sum() == pytest.approx(w.sum())
    assert adj.details["n_trimmed_upper"] == 2
    assert adj.details["n_trimmed_lower"] == 1
    assert adj.details["rounds"] == 1
    assert adj.residualize is None


def test_strict_repeats_until_within_bounds():
    w = np.array([1.0, 1.0, 1.0, 4.0, 4.0, 14.0])
    one = trim(w, upper=5.0)
    assert one.weights.max() > 5.0  # a single pass pushes the 4s above the cap
    adj = trim(w, upper=5.0, strict=True)
    assert adj.weights.max() <= 5.0 + 1e-12
    assert adj.weights.sum() == pytest.approx(w.sum(), rel=1e-12)
    assert adj.details["rounds"] > 1
    assert adj.details["amount_moved"] > 0


def test_zero_weights_are_left_alone():
    w = np.array([0.0, 1.0, 1.0, 10.0])
    adj = trim(w, lower=2.0, upper=6.0, strict=True)
    assert adj.weights[0] == 0.0
    assert adj.weights.sum() == pytest.approx(12.0)


def test_nothing_outside_returns_the_weights():
    w = np.array([1.0, 2.0, 3.0])
    adj = trim(w, lower=0.5, upper=5.0)
    np.testing.assert_array_equal(adj.weights, w)
    assert adj.details["n_changed"] == 0


def test_reapply_trims_each_replicate_column():
    rng = np.random.default_rng(4)
    w = rng.uniform(1, 10, 50)
    adj = trim(w, upper=7.0, strict=True)
    W = w[:, None] * rng.uniform(0.5, 1.5, (50, 3))
    out = adj.reapply(W)
    for r in range(3):
        np.testing.assert_allclose(out[:, r], trim(W[:, r], upper=7.0, strict=True).weights)
    np.testing.assert_allclose(out.sum(axis=0), W.sum(axis=0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "lower=, upper="),
        ({"lower": 5.0, "upper": 2.0}, "lower < upper"),
        ({"upper": 1.0, "strict": True}, "cannot keep the total"),
        ({"lower": 100.0, "strict": True}, "cannot keep the total"),
    ],
)
def test_errors(kwargs, message):
    with pytest.raises(WeightingError, match=message):
        trim(np.array([1.0, 2.0, 9.0]), **kwargs)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 60), cap=st.floats(1.2, 4.0))
def test_property_strict_keeps_total_and_bounds(seed, n, cap):
    rng = np.random.default_rng(seed)
    w = rng.lognormal(0.0, 1.0, n)
    upper = cap * w.mean()
    lower = w.mean() / cap
    adj = trim(w, lower=lower, upper=upper, strict=True)
    assert adj.weights.sum() == pytest.approx(w.sum(), rel=1e-10)
    assert adj.weights.max() <= upper * (1 + 1e-9)
    assert adj.weights.min() >= lower * (1 - 1e-9)
