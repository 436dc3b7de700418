"""Weight diagnostics: Kish effective size, design effect of weighting, summaries by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weighting.diagnostics import kish_effective_size, weight_summary, weighting_design_effect
from weighting.errors import WeightingError


def test_kish_and_design_effect_definitions():
    w = np.array([2.0, 2.0, 4.0, 8.0, 0.0])
    n_eff = kish_effective_size(w)
    assert n_eff == pytest.approx(16.0**2 / 88.0)
    positive = w[w > 0]
    cv = positive.std() / positive.mean()
    assert weighting_design_effect(w) == pytest.approx(1 + cv**2)
    assert weighting_design_effect(w) == pytest.approx(4 / n_eff)
    assert kish_effective_size(np.full(7, 3.0)) == pytest.approx(7.0)


def test_summary_columns_and_values():
    w = np.array([1.0, 2.0, 3.0, 0.0, 6.0])
    base = np.array([1.0, 1.0, 2.0, 1.0, 2.0])
    s = weight_summary(w, base_weights=base)
    assert list(s.columns) == [
        "n",
        "n_zero",
        "sum",
        "min",
        "max",
        "mean",
        "cv",
        "n_eff",
        "deff_weighting",
        "ratio_min",
        "ratio_q25",
        "ratio_median",
        "ratio_q75",
        "ratio_max",
    ]
    row = s.iloc[0]
    assert row["n"] == 4 and row["n_zero"] == 1
    assert row["sum"] == 12.0 and row["min"] == 1.0 and row["max"] == 6.0
    assert row["n_eff"] == pytest.approx(kish_effective_size(w))
    ratio = w / base
    np.testing.assert_allclose(
        row[["ratio_min", "ratio_q25", "ratio_median", "ratio_q75", "ratio_max"]].to_numpy(float),
        np.quantile(ratio, [0, 0.25, 0.5, 0.75, 1]),
    )


def test_summary_by_group_equals_separate_summaries():
    rng = np.random.default_rng(3)
    n = 300
    w = rng.lognormal(1, 0.5, n)
    base = rng.uniform(1, 3, n)
    groups = rng.choice(["b", "a", "c"], n)
    by = weight_summary(w, base_weights=base, by=groups)
    assert by["group"].tolist() == ["a", "b", "c"]
    for _, row in by.iterrows():
        m = groups == row["group"]
        one = weight_summary(w[m], base_weights=base[m]).iloc[0]
        pd.testing.assert_series_equal(row.drop("group"), one, check_names=False, check_dtype=False)


def test_errors():
    with pytest.raises(WeightingError, match="all zero"):
        kish_effective_size([0.0, 0.0])
    with pytest.raises(WeightingError, match="non-negative"):
        weight_summary([1.0, -1.0])
    with pytest.raises(WeightingError, match="by has length 1"):
        weight_summary([1.0, 2.0], by=["a"])
    with pytest.raises(WeightingError, match="base_weights has length 1"):
        weight_summary([1.0, 2.0], base_weights=[1.0])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.01, 1e4), min_size=1, max_size=50))
def test_property_effective_size_between_one_and_n(values):
    w = np.array(values)
    n_eff = kish_effective_size(w)
    assert 1 - 1e-9 <= n_eff <= len(w) * (1 + 1e-9)
    assert weighting_design_effect(w) >= 1 - 1e-9
