"""Design.ordinal_logit: identities, ordered categories, domains and errors (R-free checks).

The R comparisons are in ``test_ordinal_reference.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import weighting
from weighting.errors import WeightingError


@pytest.fixture
def api(reference_data) -> pd.DataFrame:
    data = reference_data("apistrat")
    data["grp"] = 1 + (data["api00"] > 600).astype(int) + (data["api00"] > 700) + (data["api00"] > 800)
    return data


@pytest.fixture
def design(api) -> weighting.Design:
    return weighting.Design(api, weights="pw", strata="stype", fpc="fpc")


@pytest.mark.parametrize("kind", ["taylor", "calibrated", "jkn"])
def test_cut_points_without_predictors_are_the_logits_of_cumulative_shares(design, api, kind):
    if kind == "calibrated":
        design = design.calibrate({"stype": {"E": 4421.0, "H": 755.0, "M": 1018.0}, "api99": 3914069.0})
    elif kind == "jkn":
        design = design.replicate("jkn")
    fit = design.ordinal_logit("grp ~ 1")
    table = fit.coefficients.set_index("term")
    assert list(table.index) == ["1|2", "2|3", "3|4"]
    for k in (1, 2, 3):
        share = design.data.assign(le=(api["grp"] <= k).astype(float))
        mean = design._evolve(data=share).mean("le")
        p, se = mean["estimate"].iloc[0], mean["se"].iloc[0]
        assert table.loc[f"{k}|{k + 1}", "estimate"] == pytest.approx(special.logit(p), rel=1e-9)
        if kind != "jkn":  # replicate SEs of the logit are not the delta method's
            assert table.loc[f"{k}|{k + 1}", "se"] == pytest.approx(se / (p * (1 - p)), rel=1e-7)


def test_reversed_category_order_mirrors_the_model(design, api):
    forward = design.ordinal_logit("grp ~ meals + ell").coefficients.set_index("term")
    cats = pd.Categorical(api["grp"], categories=[4, 3, 2, 1], ordered=True)
    backward = design._evolve(data=api.assign(grp=cats)).ordinal_logit("grp ~ meals + ell").coefficients.set_index("term")
    for term in ("meals", "ell"):
        assert backward.loc[term, "estimate"] == pytest.approx(-forward.loc[term, "estimate"], rel=1e-8)
        assert backward.loc[term, "se"] == pytest.approx(forward.loc[term, "se"], rel=1e-7)
    assert backward.loc["4|3", "estimate"] == pytest.approx(-forward.loc["3|4", "estimate"], rel=1e-8)


def test_weights_scale_does_not_change_the_estimates(api):
    a = weighting.Design(api, weights="pw", strata="stype").ordinal_logit("grp ~ meals").coefficients
    b = weighting.Design(api, weights=api["pw"] * 1000.0, strata="stype").ordinal_logit("grp ~ meals").coefficients
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-9)
    np.testing.assert_allclose(a["se"], b["se"], rtol=1e-7)


@pytest.mark.parametrize("kind", ["taylor", "jkn"])
def test_by_equals_a_fit_on_each_subset(design, api, kind):
    if kind == "jkn":
        design = design.replicate("jkn")
    fit = design.ordinal_logit("grp ~ meals", by="comp.imp")
    for level in ("No", "Yes"):
        sub = design.subset((api["comp.imp"] == level).to_numpy()).ordinal_logit("grp ~ meals")
        ours = fit.coefficients[fit.coefficients["comp.imp"] == level]
        np.testing.assert_allclose(ours["estimate"], sub.coefficients["estimate"], rtol=1e-9)
        np.testing.assert_allclose(ours["se"], sub.coefficients["se"], rtol=1e-7)
    assert list(fit.model.columns) == ["comp.imp", "n", "df"]
    with pytest.raises(WeightingError, match="fitted by domain"):
        _ = fit.df


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("hi ~ meals", "has 2 level\\(s\\); an ordinal model needs 3 or more"),
        ("stype ~ meals", "string levels have no order"),
        ("grp ~ 0 + meals", "needs the intercept"),
    ],
)
def test_errors(design, api, formula, message):
    data = api.assign(hi=(api["api00"] > 700).astype(int))
    with pytest.raises(WeightingError, match=message):
        design._evolve(data=data).ordinal_logit(formula)


def test_an_empty_level_in_a_domain_is_named(design, api):
    grp = np.where((api["stype"] == "E") & (api["grp"] == 1), 2, api["grp"])
    with pytest.raises(WeightingError, match=r"response level 1 has no weight in domain \{'stype': 'E'\}"):
        design._evolve(data=api.assign(grp=grp)).ordinal_logit("grp ~ meals", by="stype")


def test_nonresponse_adjusted_design_treats_the_weights_as_fixed(api):
    rng = np.random.default_rng(2)
    data = api.assign(disposition=np.where(rng.random(len(api)) < 0.85, "respondent", "nonrespondent"))
    design = weighting.Design(data, weights="pw", strata="stype", fpc="fpc").adjust_nonresponse("disposition", "stype")
    fixed = weighting.Design(data, weights=design.weights, strata="stype", fpc="fpc")
    pd.testing.assert_frame_equal(
        design.ordinal_logit("grp ~ meals").coefficients, fixed.ordinal_logit("grp ~ meals").coefficients
    )
