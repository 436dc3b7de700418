"""Allocation: hand-derived cases, capping, minimums, exact totals and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling import SamplingError, allocate


def test_proportional_exact():
    out = allocate({"a": 500, "b": 300, "c": 200}, 100)
    assert out.to_dict() == {"a": 50, "b": 30, "c": 20}
    assert out.dtype == np.int64
    assert out.name == "n"


def test_proportional_largest_remainder_keeps_total():
    # exact shares 3.33, 3.33, 3.34: floors 3, 3, 3 and the one left goes to the largest remainder
    assert allocate({"a": 333, "b": 333, "c": 334}, 10).tolist() == [3, 3, 4]


def test_remainder_ties_broken_by_stratum_order():
    assert allocate({"x": 1, "y": 1, "z": 1}, 2).tolist() == [1, 1, 0]


def test_equal_allocation_skips_empty_strata():
    assert allocate({"a": 100, "b": 0, "c": 100}, 10, method="equal").tolist() == [5, 0, 5]


def test_neyman_hand_derived():
    # N_h S_h = 10000, 40000, 15000 (sum 65000); n = 130 -> 20, 80, 30
    out = allocate({1: 1000, 2: 2000, 3: 3000}, 130, method="neyman", sd={1: 10, 2: 20, 3: 5})
    assert out.tolist() == [20, 80, 30]


def test_optimal_divides_by_root_cost():
    # N_h S_h / sqrt(c_h) = 1000, 500 -> n = 90 gives 60, 30
    out = allocate(
        {"cheap": 1000, "dear": 1000},
        90,
        method="optimal",
        sd={"cheap": 1, "dear": 1},
        cost={"cheap": 1, "dear": 4},
    )
    assert out.tolist() == [60, 30]


def test_power_allocation_square_root():
    # N_h^0.5 = 10, 100 -> 10, 100
    assert allocate({"s": 100, "l": 10000}, 110, method="power", power=0.5).tolist() == [10, 100]
    # power 1 is proportional, power 0 is equal
    pop = {"s": 100, "l": 900}
    assert allocate(pop, 50, method="power", power=1.0).tolist() == [5, 45]
    assert allocate(pop, 50, method="power", power=0.0).tolist() == [25, 25]


def test_power_uses_cv_when_given():
    # C_h N_h^0.5 = 2*10, 1*10 -> 2:1
    out = allocate({"a": 100, "b": 100}, 30, method="power", sd={"a": 2.0, "b": 1.0})
    assert out.tolist() == [20, 10]


def test_neyman_over_allocation_is_capped_and_redistributed():
    # N_h S_h all 1000 -> 100 each, but N_1 = 10: 10 + 145 + 145
    out = allocate(
        {"a": 10, "b": 1000, "c": 1000}, 300, method="neyman", sd={"a": 100, "b": 1, "c": 1}
    )
    assert out.tolist() == [10, 145, 145]


def test_max_n_caps_and_redistributes():
    # proportional 142.9, 142.9, 14.3; cap 120 -> the 60 left go to the small stratum
    out = allocate({"a": 1000, "b": 1000, "c": 100}, 300, max_n=120)
    assert out.tolist() == [120, 120, 60]


def test_max_n_per_stratum_mapping():
    out = allocate({"a": 1000, "b": 1000}, 100, max_n={"a": 10, "b": 1000})
    assert out.tolist() == [10, 90]


def test_min_n_raises_small_strata():
    out = allocate({"a": 20, "b": 980}, 50, min_n=5)
    assert out.tolist() == [5, 45]


def test_min_n_above_stratum_size_takes_census():
    out = allocate({"tiny": 3, "big": 997}, 50, min_n=10)
    assert out.tolist() == [3, 47]


def test_zero_share_strata_absorb_only_what_others_cannot_take():
    pop = {"a": 100, "b": 100, "c": 300}
    sd = {"a": 1.0, "b": 0.0, "c": 0.0}
    assert allocate(pop, 50, method="neyman", sd=sd).tolist() == [50, 0, 0]
    # a is exhausted at 100; the 60 left go to b and c in proportion to N_h (1:3)
    assert allocate(pop, 160, method="neyman", sd=sd).tolist() == [100, 15, 45]


def test_full_census():
    pop = pd.Series({"a": 7, "b": 9})
    assert allocate(pop, 16, method="neyman", sd={"a": 0.0, "b": 1.0}).tolist() == [7, 9]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n": 1001}, "n=1001 exceeds the population size"),
        ({"n": 10, "min_n": 4}, "min_n=4"),
        ({"n": 10, "method": "neyman"}, "needs sd"),
        ({"n": 10, "method": "optimal", "sd": {"a": 1, "b": 1, "c": 1}}, "needs cost"),
        ({"n": 10, "method": "cube"}, "'cube'"),
        ({"n": 10, "method": "neyman", "sd": {"a": 1, "b": 1}}, "sd has no value for strata ['c']"),
        ({"n": 10, "method": "neyman", "sd": {"a": -1, "b": 1, "c": 1}}, "sd must be non-negative"),
        (
            {
                "n": 10,
                "method": "optimal",
                "sd": {"a": 1, "b": 1, "c": 1},
                "cost": {"a": 0, "b": 1, "c": 1},
            },
            "cost must be positive",
        ),
        ({"n": 100, "max_n": 20}, "max_n caps the total at 60"),
        ({"n": -1}, "n must be a non-negative integer"),
        ({"n": 2.5}, "n must be a non-negative integer"),
    ],
)
def test_impossible_requests_raise(kwargs, fragment):
    with pytest.raises(SamplingError) as info:
        allocate({"a": 500, "b": 300, "c": 200}, **kwargs)
    assert fragment in str(info.value)


def test_bad_population_rejected():
    with pytest.raises(SamplingError, match="non-negative integers"):
        allocate({"a": -3, "b": 10}, 2)
    with pytest.raises(SamplingError, match="mapping or a pandas Series"):
        allocate([1, 2, 3], 2)  # type: ignore[arg-type]


populations = st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(pop=populations, data=st.data())
def test_properties_bounds_and_total(pop, data):
    total = sum(pop)
    n = data.draw(st.integers(min_value=0, max_value=total))
    min_n = data.draw(st.integers(min_value=0, max_value=20))
    lower = np.minimum(min_n, pop)
    max_n = data.draw(st.one_of(st.none(), st.integers(min_value=min_n, max_value=6000)))
    upper = np.array(pop) if max_n is None else np.minimum(max_n, pop)
    method = data.draw(st.sampled_from(["proportional", "equal", "neyman", "power"]))
    sd = {h: float(h % 4 + 1) for h in range(len(pop))}
    population = dict(enumerate(pop))
    feasible = lower.sum() <= n <= upper.sum()
    if not feasible:
        with pytest.raises(SamplingError):
            allocate(population, n, method=method, sd=sd, min_n=min_n, max_n=max_n)
        return
    out = allocate(population, n, method=method, sd=sd, min_n=min_n, max_n=max_n).to_numpy()
    assert out.sum() == n
    assert np.all(out >= lower)
    assert np.all(out <= upper)


@settings(max_examples=100, deadline=None)
@given(
    pop=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=40), data=st.data()
)
def test_unbounded_proportional_is_within_one_of_exact_share(pop, data):
    n = data.draw(st.integers(min_value=0, max_value=sum(pop)))
    out = allocate(dict(enumerate(pop)), n).to_numpy()
    exact = n * np.array(pop, dtype=float) / sum(pop)
    # Hamilton rounding: every stratum is the floor or the ceiling of its exact share
    assert np.all(np.abs(out - exact) < 1.0 + 1e-9)
    assert out.sum() == n
