"""calibrate(trim=, aggregate=, method="sinh" | CalibrationFunction): identities and errors.

The R comparisons are in ``test_calibration_options_reference.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import weighting
from weighting.calfun import CalibrationFunction
from weighting.calibration import calibrate
from weighting.errors import WeightingError

TOTALS = {"sex": {"f": 520.0, "m": 480.0}, "income": 41_000.0}


@pytest.fixture
def households() -> tuple[pd.DataFrame, np.ndarray]:
    """Persons in households; the design weight is the household's."""
    rng = np.random.default_rng(8)
    size = rng.integers(1, 5, 60)
    hh = np.repeat(np.arange(60), size)
    data = pd.DataFrame({
        "hh": hh, "sex": rng.choice(["f", "m"], hh.size), "income": rng.gamma(4.0, 10.0, hh.size),
    })
    return data, rng.uniform(4, 12, 60)[hh]


def test_trim_caps_the_g_weights_and_keeps_the_total_weight(households):
    data, w = households
    plain = calibrate(data, w, TOTALS)
    g = plain.weights / w
    lo, hi = np.quantile(g, [0.1, 0.9])
    trimmed = calibrate(data, w, TOTALS, trim=(lo, hi))
    gt = trimmed.weights / w
    outside = (g < lo) | (g > hi)
    assert trimmed.details["n_trimmed"] == int(outside.sum()) > 0
    np.testing.assert_allclose(gt[g < lo], lo)
    np.testing.assert_allclose(gt[g > hi], hi)
    assert trimmed.weights.sum() == pytest.approx(plain.weights.sum(), rel=1e-12)
    shift = gt[~outside] - g[~outside]
    np.testing.assert_allclose(shift, shift[0])  # the same amount of g to every untrimmed unit


def test_aggregate_gives_one_g_per_household_and_meets_the_totals(households):
    data, w = households
    adj = calibrate(data, w, TOTALS, method="raking", aggregate=data["hh"].to_numpy())
    g = adj.weights / w
    assert adj.details["clusters"] == 60
    spread = pd.Series(g).groupby(data["hh"].to_numpy()).agg(lambda s: s.max() - s.min())
    assert spread.max() < 1e-12
    assert (adj.weights * data["income"]).sum() == pytest.approx(41_000.0, rel=1e-9)
    assert adj.weights[data["sex"].to_numpy() == "f"].sum() == pytest.approx(520.0, rel=1e-9)


def test_aggregate_by_stage_equals_aggregate_by_column(households):
    data, w = households
    design = weighting.Design(data.assign(w=w), weights="w", psu="hh")
    by_stage = design.calibrate(TOTALS, aggregate=1)
    by_column = design.calibrate(TOTALS, aggregate="hh")
    np.testing.assert_array_equal(by_stage.weights, by_column.weights)
    pd.testing.assert_frame_equal(by_stage.mean("income", by="sex"), by_column.mean("income", by="sex"))
    with pytest.raises(WeightingError, match="aggregate: stage 2 does not exist"):
        design.calibrate(TOTALS, aggregate=2)


def test_a_user_function_equal_to_the_linear_distance_gives_the_linear_weights(households):
    data, w = households
    linear = CalibrationFunction(
        lambda u, lower, upper: np.clip(1 + u, lower, upper),
        lambda u, lower, upper: ((1 + u > lower) & (1 + u < upper)).astype(float),
        "my linear",
    )
    ours = calibrate(data, w, TOTALS, method=linear, bounds=(0.6, 1.6))
    theirs = calibrate(data, w, TOTALS, method="linear", bounds=(0.6, 1.6))
    np.testing.assert_allclose(ours.weights, theirs.weights, rtol=1e-10)
    assert ours.details["method"] == "my linear"


def test_sinh_calibration_meets_the_totals(households):
    """The sinh g-function F(u) = (p + sqrt(p^2 + 4))/2, p = asinh(2u), has F(0) = 1 and
    F'(0) = 1 like the linear and raking distances."""
    data, w = households
    adj = calibrate(data, w, TOTALS, method="sinh", bounds=(0.2, 5.0))
    assert adj.details["converged"]
    assert (adj.weights * data["income"]).sum() == pytest.approx(41_000.0, rel=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "sinh"}, "method='sinh' needs finite bounds"),
        ({"method": "sinh", "bounds": (0.5, np.inf)}, "method='sinh' needs finite bounds"),
        ({"method": CalibrationFunction(lambda u, lo, hi: 2 + u, lambda u, lo, hi: np.ones_like(u))}, "must give g = 1 at u = 0"),
        ({"trim": (1.2, 0.8)}, "trim must satisfy lower < upper"),
        ({"trim": "wide"}, "trim must be a pair"),
        ({"aggregate": np.arange(3)}, "aggregate must give one cluster per row"),
        ({"method": "cubic"}, "method must be one of"),
    ],
)
def test_errors_name_the_argument(households, kwargs, message):
    data, w = households
    with pytest.raises(WeightingError, match=message):
        calibrate(data, w, TOTALS, **kwargs)
