"""Sample sizes for proportions: textbook values, FPC, nonresponse, per-stratum table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sampling import SamplingError, sample_size, sample_size_table


def test_cochran_textbook_values():
    # Cochran (1977) / Lohr (2022) §2.7: e = 0.05 at 95 %, p = 0.5 -> n0 = 384.1 -> 385
    assert sample_size(0.05) == 385
    # e = 0.03 -> 1067.1 -> 1068; 99 % and e = 0.05 -> 663.5 -> 664
    assert sample_size(0.03) == 1068
    assert sample_size(0.05, level=0.99) == 664
    # p = 0.2: 1.96^2 * 0.16 / 0.0025 = 245.9 -> 246
    assert sample_size(0.05, p=0.2) == 246


def test_fpc_and_nonresponse_order():
    # n0 = 384.146; with N = 1000: 384.146 / 1.383146 = 277.7 -> 278; / 0.7 = 397.1 -> 398
    assert sample_size(0.05, population=1000) == 278
    assert sample_size(0.05, population=1000, response_rate=0.7) == 398
    # deff multiplies n0 before the FPC
    n0 = stats.norm.isf(0.025) ** 2 * 0.25 / 0.05**2 * 2.0
    assert sample_size(0.05, deff=2.0, population=5000) == math.ceil(n0 / (1 + (n0 - 1) / 5000))


def test_issued_never_exceeds_population():
    assert sample_size(0.01, population=50, response_rate=0.5) == 50


@settings(max_examples=200, deadline=None)
@given(
    margin=st.floats(0.005, 0.3),
    p=st.floats(0.01, 0.99),
    deff=st.floats(0.5, 4.0),
    rate=st.floats(0.05, 1.0),
    population=st.one_of(st.none(), st.integers(1, 10**7)),
)
def test_formula_property(margin, p, deff, rate, population):
    z = stats.norm.isf(0.025)
    n0 = z**2 * p * (1 - p) / margin**2 * deff
    n = n0 if population is None else n0 / (1 + (n0 - 1) / population)
    n = math.ceil(n - 1e-9)
    issued = math.ceil(n / rate - 1e-9)
    if population is not None:
        issued = min(issued, population)
    assert sample_size(margin, p=p, deff=deff, response_rate=rate, population=population) == issued


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"margin": 0.0}, "margin must lie in (0.0, 1.0)"),
        ({"margin": 0.05, "level": 1.0}, "level"),
        ({"margin": 0.05, "p": 1.0}, "p must lie"),
        ({"margin": 0.05, "deff": 0.0}, "deff"),
        ({"margin": 0.05, "response_rate": 0.0}, "response_rate must lie in (0.0, 1.0]"),
        ({"margin": 0.05, "population": 0}, "population must be positive integers"),
    ],
)
def test_invalid_arguments(kwargs, fragment):
    with pytest.raises(SamplingError) as info:
        sample_size(**kwargs)
    assert fragment in str(info.value)


def test_table_matches_scalar_per_stratum():
    population = pd.Series({"county-a": 12000, "county-b": 800, "county-c": 150000})
    margin = {"county-a": 0.05, "county-b": 0.05, "county-c": 0.04}
    table = sample_size_table(
        population,
        margin,
        p=0.4,
        deff=1.3,
        response_rate={"county-a": 0.5, "county-b": 0.8, "county-c": 0.6},
    )
    assert list(table.columns) == [
        "stratum",
        "population",
        "margin",
        "p",
        "deff",
        "response_rate",
        "n0",
        "n",
        "n_issued",
    ]
    for row in table.itertuples(index=False):
        expected = sample_size(
            row.margin, p=0.4, deff=1.3, response_rate=row.response_rate, population=row.population
        )
        assert row.n_issued == expected
        assert row.n == sample_size(row.margin, p=0.4, deff=1.3, population=row.population)
    assert np.allclose(table["n0"], stats.norm.isf(0.025) ** 2 * 0.24 * 1.3 / table["margin"] ** 2)


def test_table_errors():
    with pytest.raises(SamplingError, match=r"margin has no value for strata \['b'\]"):
        sample_size_table({"a": 10, "b": 20}, {"a": 0.1})
    with pytest.raises(SamplingError, match="mapping or Series"):
        sample_size_table([10, 20], 0.1)  # type: ignore[arg-type]
