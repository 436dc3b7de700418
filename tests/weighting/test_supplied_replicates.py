"""replicate_design: validation, defaults and equivalence with the design's own replicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import weighting
from weighting.errors import WeightingError


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 40
    frame = pd.DataFrame({
        "h": np.repeat(np.arange(10), 4), "psu": np.repeat(np.arange(20), 2),
        "w": rng.uniform(5, 15, n), "y": rng.normal(10, 2, n), "g": rng.choice(["a", "b"], n),
        "half": np.arange(n) % 2, "q": rng.integers(1, 4, n),
        "disposition": np.where(rng.random(n) < 0.8, "respondent", "nonrespondent"),
    })
    return frame


def own_and_supplied(data: pd.DataFrame, method: str, type_: str) -> tuple[weighting.Design, weighting.Design]:
    own = weighting.Design(data, weights="w", strata="h", psu="psu").replicate(method)
    reps = own.replicate_weights
    supplied = weighting.replicate_design(
        pd.concat([data, reps], axis=1), weights="w", replicate_weights=list(reps.columns), type=type_,
        rscales=own.replicates.rscales if type_ == "JKn" else None,
    )
    return own, supplied


@pytest.mark.parametrize(("method", "type_"), [("jkn", "JKn"), ("brr", "BRR")])
def test_supplied_copies_of_our_replicates_give_the_same_estimates(data, method, type_):
    own, supplied = own_and_supplied(data, method, type_)
    assert supplied.df == own.df
    pd.testing.assert_frame_equal(own.mean("y", by="g"), supplied.mean("y", by="g"))
    pd.testing.assert_frame_equal(own.ratio("y", "w", by="g"), supplied.ratio("y", "w", by="g"))
    pd.testing.assert_frame_equal(own.proportion("g"), supplied.proportion("g"))
    pd.testing.assert_frame_equal(own.quantile("y", [0.25, 0.5], by="g"), supplied.quantile("y", [0.25, 0.5], by="g"))
    pd.testing.assert_frame_equal(own.covariance(["y", "w"], by="g"), supplied.covariance(["y", "w"], by="g"))
    pd.testing.assert_frame_equal(own.ordinal_logit("q ~ y").coefficients, supplied.ordinal_logit("q ~ y").coefficients)
    a = own.glm("y ~ g").coefficients
    b = supplied.glm("y ~ g").coefficients
    pd.testing.assert_frame_equal(a, b)
    pop = pd.DataFrame({"g": ["a", "b"], "count": [250.0, 150.0]})
    pd.testing.assert_frame_equal(own.poststratify(pop).total("y"), supplied.poststratify(pop).total("y"))
    margins = {"g": {"a": 250.0, "b": 150.0}, "half": {0: 200.0, 1: 200.0}}
    for a, b in (
        (own.rake(margins), supplied.rake(margins)),
        (own.poststratify(pop).trim(upper=12.0), supplied.poststratify(pop).trim(upper=12.0)),
        (own.adjust_nonresponse("disposition", "g"), supplied.adjust_nonresponse("disposition", "g")),
    ):
        pd.testing.assert_frame_equal(a.mean("y", by="g"), b.mean("y", by="g"))
        pd.testing.assert_frame_equal(a.glm("y ~ g").coefficients, b.glm("y ~ g").coefficients)


def test_mse_centres_on_the_full_sample_estimate(data):
    own, _ = own_and_supplied(data, "brr", "BRR")
    reps = pd.concat([data, own.replicate_weights], axis=1)
    plain = weighting.replicate_design(reps, weights="w", replicate_weights="^rep_", type="BRR")
    mse = weighting.replicate_design(reps, weights="w", replicate_weights="^rep_", type="BRR", mse=True)
    thetas = (own.replicate_weights.to_numpy() * data[["y"]].to_numpy()).sum(axis=0) / own.replicate_weights.sum().to_numpy()
    full = float(np.average(data["y"], weights=data["w"]))
    assert mse.mean("y")["se"].iloc[0] ** 2 == pytest.approx(np.mean((thetas - full) ** 2), rel=1e-10)
    assert plain.mean("y")["se"].iloc[0] ** 2 == pytest.approx(np.mean((thetas - thetas.mean()) ** 2), rel=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "XYZ"}, "type must be one of"),
        ({"type": "BRR", "replicate_weights": "^zz"}, "no column name matches '\\^zz'"),
        ({"type": "BRR", "replicate_weights": ["r1", "nope"]}, "replicate_weights: column 'nope' is not in the data"),
        ({"type": "BRR", "scale": 0.5}, "type='BRR' fixes scale and rscales"),
        ({"type": "JKn"}, "type='JKn' with combined weights needs rscales"),
        ({"type": "Fay"}, "type='Fay' needs rho strictly between 0 and 1"),
        ({"type": "JK1", "scale": 0.5, "rho": 0.3}, "rho applies to type='Fay' only"),
        ({"type": "other", "scale": 1.0, "rscales": [1.0, 1.0, 1.0]}, "rscales has 3 values; give 1 or one per replicate \\(2\\)"),
        ({"type": "JK1", "scale": 0.5, "fpc": [0.1]}, "fpc has 1 values; give one per replicate \\(2\\)"),
        ({"type": "BRR", "fpc": [0.1, 0.1]}, "fpc is not available for type='BRR'"),
        ({"type": "bootstrap", "replicate_weights": ["r1", "bad"]}, "missing values are not allowed"),
    ],
)
def test_errors_name_the_argument(kwargs, message):
    frame = pd.DataFrame({"w": [1.0, 2.0, 3.0], "r1": [2.0, 0.0, 3.0], "r2": [0.0, 4.0, 3.0], "bad": [1.0, np.nan, 1.0]})
    args = {"weights": "w", "replicate_weights": ["r1", "r2"], **kwargs}
    with pytest.raises(WeightingError, match=message):
        weighting.replicate_design(frame, **args)


def test_guessed_constants_warn_as_r():
    frame = pd.DataFrame({"w": [1.0, 2.0, 3.0], "r1": [0.0, 1.5, 1.5], "r2": [1.5, 0.0, 1.5]})
    with pytest.warns(UserWarning, match="scale \\(n-1\\)/n not given for type='JK1': taken from the weights"):
        d = weighting.replicate_design(frame, weights="w", replicate_weights=["r1", "r2"], type="JK1", combined_weights=False)
    assert d.replicates.scale == pytest.approx(1 / 1.5)
    with pytest.warns(UserWarning, match="rscales not given for type='JKn'"):
        d = weighting.replicate_design(frame, weights="w", replicate_weights=["r1", "r2"], type="JKn", combined_weights=False)
    np.testing.assert_allclose(d.replicates.rscales, [1 / 1.5, 1 / 1.5])
    with pytest.warns(UserWarning, match="set to 1, as R"):
        weighting.replicate_design(frame, weights="w", replicate_weights=["r1", "r2"], type="other")
