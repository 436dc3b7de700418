"""Estimator identities, vectorised domains vs explicit subsets, cell path vs dense path,
missing-value handling, covariance, replicate designs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weighting import Design, WeightingError
from weighting.adjustment import Adjustment

COLS = ["estimate", "se", "ci_low", "ci_high", "df", "n", "deff"]


def _frame(seed: int, n: int = 120, strata: int = 4, psus: int = 4, missing: float = 0.1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, strata, n)
    data = pd.DataFrame({
        "stratum": stratum,
        "psu": rng.integers(0, psus, n),
        "ssu": rng.integers(0, 3, n),
        "w": rng.uniform(1, 10, n),
        "y": rng.normal(50, 10, n),
        "x": rng.uniform(1, 5, n),
        "g": rng.choice(["p", "q", "r"], n),
        "h": rng.choice(["s", "t"], n),
        "cat": rng.choice(["lo", "mid", "hi"], n),
    })
    data.loc[rng.random(n) < missing, "y"] = np.nan
    data["N"] = 20 + 5 * data["stratum"]
    data["N2"] = 30.0
    return data


def _identity_adjustment(d: Design) -> Design:
    """Same weights, but flagged as calibrated: forces the dense influence-value path."""
    adj = Adjustment(kind="calibrate", weights=d.weights.copy(), reapply=lambda w: w, residualize=lambda z: z)
    return d._adjusted(adj)


@pytest.mark.parametrize("lonely", ["remove", "certainty", "adjust", "average"])
@pytest.mark.parametrize("statistic", ["mean", "total"])
def test_cell_path_equals_dense_path(lonely, statistic):
    data = _frame(1, psus=3)
    data.loc[data["stratum"] == 2, "psu"] = 0  # a lonely stratum
    for kwargs in ({"psu": "psu", "fpc": None}, {"psu": ["psu", "ssu"], "fpc": ["N", "N2"]}):
        d = Design(data, weights="w", strata="stratum", lonely_psu=lonely, **kwargs)
        fast = getattr(d, statistic)(["y", "x"], by=["g", "h"])
        dense = getattr(_identity_adjustment(d), statistic)(["y", "x"], by=["g", "h"])
        pd.testing.assert_frame_equal(fast, dense, rtol=1e-10, atol=1e-12)


def test_ratio_cell_path_equals_dense_path():
    d = Design(_frame(2), weights="w", strata="stratum", psu="psu")
    pd.testing.assert_frame_equal(d.ratio("y", "x", by="g"), _identity_adjustment(d).ratio("y", "x", by="g"),
                                  rtol=1e-10)


def test_by_equals_subsets():
    data = _frame(4)
    d = Design(data, weights="w", strata="stratum", psu="psu", fpc="N")
    table = d.mean(["y", "x"], by="g")
    for level in ("p", "q", "r"):
        sub = d.subset((data["g"] == level).to_numpy()).mean(["y", "x"])
        rows = table[table["g"] == level].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows[COLS], sub[COLS], rtol=1e-12)


def test_domain_mean_is_ratio_with_domain_indicator():
    data = _frame(5, missing=0.0)
    data["in_q"] = (data["g"] == "q").astype(float)
    data["y_q"] = data["y"] * data["in_q"]
    d = Design(data, weights="w", strata="stratum", psu="psu")
    dom = d.mean("y", by="g").set_index("g").loc["q"]
    ratio = d.ratio("y_q", "in_q").iloc[0]
    # deff differs by definition (R: the domain's SRS vs the whole sample's), not compared.
    for col in ("estimate", "se", "ci_low", "ci_high"):
        assert dom[col] == pytest.approx(ratio[col], rel=1e-12)


def test_total_of_one_is_sum_of_weights():
    data = _frame(6).assign(one=1.0)
    d = Design(data, weights="w", strata="stratum", psu="psu")
    assert d.total("one")["estimate"].iloc[0] == pytest.approx(data["w"].sum(), rel=1e-14)
    equal = Design(data.assign(w=3.0), weights="w")  # SRS with equal weights: N-hat is exact
    assert equal.total("one")["se"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert equal.mean("one")["se"].iloc[0] == pytest.approx(0.0, abs=1e-12)


def test_missing_values_options():
    data = _frame(7, missing=0.2)
    d = Design(data, weights="w", strata="stratum", psu="psu")
    both = d.mean(["y", "x"])
    alone = d.mean("x")
    assert both["n"].tolist() == [int(data["y"].notna().sum()), len(data)]
    assert both["estimate"].iloc[1] == alone["estimate"].iloc[0]
    complete = d.mean(["y", "x"], missing="complete")
    assert complete["n"].tolist() == [int(data["y"].notna().sum())] * 2
    manual = data.loc[data["y"].notna(), "x"]
    weights = data.loc[data["y"].notna(), "w"]
    assert complete["estimate"].iloc[1] == pytest.approx(np.average(manual, weights=weights), rel=1e-12)
    # "drop" rebuilds the design: a PSU whose rows all lack y disappears from df.
    data.loc[(data["stratum"] == 0) & (data["psu"] == 0), "y"] = np.nan
    d = Design(data, weights="w", strata="stratum", psu="psu")
    dropped = d.mean("y", missing="drop")
    domain = d.mean("y")
    assert dropped["df"].iloc[0] == domain["df"].iloc[0] - 1
    assert dropped["estimate"].iloc[0] == pytest.approx(domain["estimate"].iloc[0], rel=1e-12)
    with pytest.raises(WeightingError, match="missing must be one of"):
        d.mean("y", missing="omit")


def test_estimate_argument_errors():
    d = Design(_frame(8), weights="w", strata="stratum", psu="psu")
    with pytest.raises(WeightingError, match="variables: column 'nope'"):
        d.mean("nope")
    with pytest.raises(WeightingError, match="column 'g' is not numeric"):
        d.total("g")
    with pytest.raises(WeightingError, match="by: column 'nope'"):
        d.mean("y", by="nope")
    with pytest.raises(WeightingError, match="level must be between 0 and 1"):
        d.mean("y", level=95)
    with pytest.raises(WeightingError, match="ci must be one of"):
        d.proportion("cat", ci="exact")
    with pytest.raises(WeightingError, match="q must be probabilities"):
        d.quantile("y", 1.5)
    with pytest.raises(WeightingError, match="denominator: column 'nope'"):
        d.ratio("y", "nope")


def test_table_columns_and_order():
    d = Design(_frame(9), weights="w", strata="stratum", psu="psu")
    t = d.proportion("cat", by=["g", "h"])
    assert t.columns.tolist() == ["g", "h", "variable", "category", *COLS, "cv"]
    assert t[["g", "h"]].drop_duplicates().equals(t[["g", "h"]].drop_duplicates().sort_values(["g", "h"]))
    sums = t.groupby(["g", "h"])["estimate"].sum()
    np.testing.assert_allclose(sums, 1.0)
    q = d.quantile(["y", "x"], [0.1, 0.5], by="g")
    assert q.columns.tolist() == ["g", "variable", "quantile", *COLS, "cv"]
    assert q["deff"].isna().all() and len(q) == 3 * 2 * 2


def test_proportion_equals_mean_of_indicator():
    data = _frame(10)
    data["is_hi"] = (data["cat"] == "hi").astype(float)
    d = Design(data, weights="w", strata="stratum", psu="psu")
    p = d.proportion("cat", ci="wald").set_index("category").loc["hi"]
    m = d.mean("is_hi").iloc[0]
    for col in ("estimate", "se", "ci_low", "ci_high", "deff"):
        assert p[col] == pytest.approx(m[col], rel=1e-12)


def test_covariance_matches_variances_and_composites():
    data = _frame(11, missing=0.0)
    data["composite"] = 0.3 * data["y"] + 0.7 * data["x"]
    d = Design(data, weights="w", strata="stratum", psu="psu", fpc="N")
    cov = d.covariance(["y", "x"], by="g")
    means = d.mean(["y", "x"], by="g")
    np.testing.assert_allclose(np.sqrt(np.diag(cov.to_numpy())), means["se"], rtol=1e-12)
    plain = d.covariance(["y", "x"]).to_numpy()
    a = np.array([0.3, 0.7])
    assert np.sqrt(a @ plain @ a) == pytest.approx(d.mean("composite")["se"].iloc[0], rel=1e-12)


def test_quantile_by_equals_subsets():
    data = _frame(12)
    d = Design(data, weights="w", strata="stratum", psu="psu")
    table = d.quantile("y", [0.25, 0.5], by="h")
    for level in ("s", "t"):
        sub = d.subset((data["h"] == level).to_numpy()).quantile("y", [0.25, 0.5])
        rows = table[table["h"] == level].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows[COLS], sub[COLS])


def test_replicate_design_reapplies_adjustments_in_either_order():
    data = _frame(13, psus=5)
    d = Design(data, weights="w", strata="stratum", psu="psu")
    pop = pd.DataFrame({"g": ["p", "q", "r"], "count": [300.0, 200.0, 100.0]})
    a = d.replicate("jkn").poststratify(pop)
    b = d.poststratify(pop).replicate("jkn")
    np.testing.assert_allclose(a.replicate_weights.to_numpy(), b.replicate_weights.to_numpy(), rtol=1e-12)
    pd.testing.assert_frame_equal(a.mean(["y", "x"], by="h"), b.mean(["y", "x"], by="h"))
    # rank of the JKn weights minus 1: each stratum's columns sum to n_h * w, so PSUs - strata.
    assert a.df == d.df
    sums = a.replicate_weights.groupby(data["g"].to_numpy()).sum()
    np.testing.assert_allclose(sums.to_numpy(), np.repeat(pop["count"].to_numpy()[:, None], sums.shape[1], 1))


def test_jackknife_linear_statistic_matches_linearisation():
    """For a total, the stratified jackknife variance equals the linearisation variance."""
    data = _frame(14, psus=5, missing=0.0)
    d = Design(data, weights="w", strata="stratum", psu="psu")
    lin = d.total("x", by="g")
    rep = d.replicate("jkn").total("x", by="g")
    np.testing.assert_allclose(rep["se"], lin["se"], rtol=1e-10)
    cov = d.replicate("jkn").covariance(["x"], statistic="total", by="g")
    np.testing.assert_allclose(np.sqrt(np.diag(cov.to_numpy())), lin["se"], rtol=1e-10)
    with pytest.raises(WeightingError, match="not a replicate design"):
        _ = d.replicate_weights


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), strata=st.integers(1, 4), psus=st.integers(2, 5))
def test_property_vectorised_domains_match_dense_influence(seed, strata, psus):
    data = _frame(seed, n=60, strata=strata, psus=psus)
    d = Design(data, weights="w", strata="stratum", psu="psu", lonely_psu="adjust")
    fast = d.mean(["y", "x"], by="g")
    dense = _identity_adjustment(d).mean(["y", "x"], by="g")
    pd.testing.assert_frame_equal(fast, dense, rtol=1e-9, atol=1e-12)


def test_too_many_by_combinations_is_an_error():
    n = 70_000
    ids = np.arange(n)
    data = pd.DataFrame({"a": ids, "b": ids, "c": ids, "d": ids, "y": np.ones(n)})
    d = Design(data, weights=None)
    with pytest.raises(WeightingError, match="too many combinations"):
        d.mean("y", by=["a", "b", "c", "d"])


def test_covariance_with_missing_values_matches_means():
    data = _frame(15, missing=0.2)
    d = Design(data, weights="w", strata="stratum", psu="psu")
    cov = d.covariance(["y", "x"], by="h")
    np.testing.assert_allclose(np.sqrt(np.diag(cov.to_numpy())), d.mean(["y", "x"], by="h")["se"], rtol=1e-12)
