"""Design construction: validation, codes, FPC, degrees of freedom, immutability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import weighting
from weighting import Design, WeightingError


@pytest.fixture
def small() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 40
    return pd.DataFrame({
        "stratum": np.repeat(["a", "b", "c", "d"], 10),
        "psu": np.tile(np.repeat([1, 2, 3, 4, 5], 2), 4),
        "w": rng.uniform(1, 5, n),
        "y": rng.normal(10, 2, n),
        "g": rng.choice(["u", "v"], n),
        "N": np.repeat([50, 60, 70, 80], 10),
    })


def test_degrees_of_freedom_and_structure(small):
    d = Design(small, weights="w", strata="stratum", psu="psu")
    assert d.df == 20 - 4
    assert d.stages[0].n_clusters == 20 and d.stages[0].n_strata == 4
    assert d.weights.dtype == np.float64 and not d.weights.flags.writeable
    assert "psu=20" in repr(d)


def test_psu_ids_are_nested_in_strata(small):
    """The same PSU id in two strata is two PSUs (R's nest=TRUE)."""
    unique_ids = small.assign(psu=small["stratum"] + small["psu"].astype(str))
    a = Design(small, weights="w", strata="stratum", psu="psu").mean("y")
    b = Design(unique_ids, weights="w", strata="stratum", psu="psu").mean("y")
    pd.testing.assert_frame_equal(a, b)


def test_weights_from_fpc_and_default(small):
    d = Design(small, weights=None, strata="stratum", fpc="N")
    expected = small["N"].to_numpy() / 10
    np.testing.assert_allclose(d.weights, expected)
    assert np.all(Design(small, weights=None).weights == 1.0)
    arr = Design(small, weights=small["w"].to_numpy())
    np.testing.assert_array_equal(arr.weights, small["w"].to_numpy())


def test_fpc_fraction_equals_count(small):
    counts = Design(small, weights="w", strata="stratum", psu="psu", fpc="N").mean("y")
    frac = small.assign(f=5 / small["N"])  # 5 PSUs sampled per stratum
    fractions = Design(frac, weights="w", strata="stratum", psu="psu", fpc="f").mean("y")
    np.testing.assert_allclose(counts["se"], fractions["se"], rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights": "nope"}, "weights: column 'nope'"),
        ({"weights": "w", "strata": "nope"}, "strata: column 'nope'"),
        ({"weights": "w", "psu": ["psu", "nope"]}, "psu: column 'nope'"),
        ({"weights": "w", "fpc": "nope"}, "fpc: column 'nope'"),
        ({"weights": "w", "lonely_psu": "drop"}, "lonely_psu must be one of"),
        ({"weights": "g"}, "weights: column 'g' is not numeric"),
        ({"weights": np.ones(3)}, "weights has 3 values but data has 40 rows"),
        ({"weights": "w", "psu": "psu", "fpc": ["N", "N"]}, "fpc has 2 column"),
    ],
)
def test_bad_arguments(small, kwargs, message):
    with pytest.raises(WeightingError, match=message):
        Design(small, **kwargs)


def test_bad_values(small):
    with pytest.raises(WeightingError, match="data must be a pandas DataFrame"):
        Design(small.to_numpy(), weights=None)
    bad = small.assign(w=small["w"].where(small.index != 7))
    with pytest.raises(WeightingError, match=r"row 7 has nan"):
        Design(bad, weights="w")
    with pytest.raises(WeightingError, match="finite and >= 0"):
        Design(small.assign(w=-small["w"]), weights="w")
    with pytest.raises(WeightingError, match="strata: column 'stratum' has 1 missing"):
        Design(small.assign(stratum=small["stratum"].where(small.index != 0)), weights="w", strata="stratum")
    with pytest.raises(WeightingError, match="psu: column 'psu' has 2 missing"):
        Design(small.assign(psu=small["psu"].where(small.index > 1)), weights="w", psu="psu")


def test_fpc_errors(small):
    varies = small.assign(N=small["N"] + np.arange(40) % 2)
    with pytest.raises(WeightingError, match="fpc varies within stratum 'a' at stage 1"):
        Design(varies, weights="w", strata="stratum", fpc="N")
    with pytest.raises(WeightingError, match="more than 100% sampling in stratum 'b'"):
        Design(small.assign(N=np.where(small["stratum"] == "b", 4, small["N"])), weights="w",
               strata="stratum", fpc="N")
    mixed = small.assign(N=np.where(small["stratum"] == "c", 0.5, small["N"]))
    with pytest.raises(WeightingError, match="mixes population counts"):
        Design(mixed, weights="w", strata="stratum", fpc="N")


def test_lonely_psu_fail_names_stratum(small):
    lonely = small.assign(psu=np.where(small["stratum"] == "c", 1, small["psu"]))
    with pytest.raises(WeightingError, match=r"Stratum \(c\) has only one PSU at stage 1"):
        Design(lonely, weights="w", strata="stratum", psu="psu")
    d = Design(lonely, weights="w", strata="stratum", psu="psu", lonely_psu="certainty")
    assert d.df == 16 - 4


def test_certainty_lonely_stratum_does_not_fail(small):
    """A stratum taken completely (fpc = n) contributes 0 before the lonely-PSU check (R)."""
    data = small.assign(psu=np.where(small["stratum"] == "c", 1, small["psu"]),
                        N=np.where(small["stratum"] == "c", 1, small["N"]))
    d = Design(data, weights="w", strata="stratum", psu="psu", fpc="N")
    assert np.isfinite(d.mean("y")["se"].iloc[0])


def test_subset_keeps_design_and_validates_mask(small):
    d = Design(small, weights="w", strata="stratum", psu="psu")
    mask = (small["stratum"] == "a").to_numpy()
    sub = d.subset(mask)
    assert sub.df == d.df
    assert d.subset(mask, df="domain").df == 5 - 1
    assert sub.mean("y")["n"].iloc[0] == 10
    with pytest.raises(WeightingError, match="mask must be a boolean array"):
        d.subset(mask[:5])
    with pytest.raises(WeightingError, match="df must be 'design' or 'domain'"):
        d.subset(mask, df="R")
    twice = sub.subset((small["psu"] == 1).to_numpy())
    assert twice.mean("y")["n"].iloc[0] == 2


def test_adjustments_return_new_designs(small):
    d = Design(small, weights="w", strata="stratum", psu="psu")
    pop = pd.DataFrame({"g": ["u", "v"], "count": [100.0, 150.0]})
    ps = d.poststratify(pop)
    assert d.adjustments == () and [a.kind for a in ps.adjustments] == ["poststratify"]
    assert ps.calibrated and not d.calibrated
    np.testing.assert_allclose(ps.weights.sum(), 250.0)
    np.testing.assert_array_equal(ps.base_weights, d.weights)
    trimmed = ps.trim(upper=float(np.quantile(ps.weights, 0.9)))
    assert [a.kind for a in trimmed.adjustments] == ["poststratify", "trim"]
    raked = d.rake({"g": {"u": 100.0, "v": 150.0}})
    np.testing.assert_allclose(raked.weights, ps.weights, rtol=1e-9)
    cal = d.calibrate({"g": {"u": 100.0, "v": 150.0}})
    np.testing.assert_allclose(cal.weights, ps.weights, rtol=1e-9)


def test_nonresponse_adjustment(small):
    data = small.assign(disp=np.where(np.arange(40) % 5 == 0, "nonrespondent", "respondent"))
    d = Design(data, weights="w", strata="stratum", psu="psu").adjust_nonresponse("disp", "stratum")
    assert d.adjustments[0].kind == "nonresponse"
    np.testing.assert_allclose(d.weights.sum(), small["w"].sum())
    assert np.all(d.weights[np.arange(40) % 5 == 0] == 0)


def test_public_exports():
    for name in ("Design", "WeightingError", "ConvergenceWarning", "quality_flags", "QualityRules"):
        assert hasattr(weighting, name)


def test_lonely_second_stage_unit_is_named_by_row():
    data = pd.DataFrame({"p": [1, 3, 2, 2, 2], "s": [1, 2, 3, 4, 5], "f1": 10, "f2": [5, 5, 9, 9, 9], "w": 1.0})
    with pytest.raises(WeightingError, match=r"Stratum \(the stage-1 cluster of row 0\) has only one PSU at stage 2"):
        Design(data, weights="w", psu=["p", "s"], fpc=["f1", "f2"])
    d = Design(data, weights="w", psu=["p", "s"], fpc=["f1", "f2"], lonely_psu="adjust")
    assert len(d.stages) == 2 and d.df == 2
