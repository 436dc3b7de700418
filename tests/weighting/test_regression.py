"""Design.glm: identities with the estimators of the design, domains, errors (R-free checks).

The R comparisons are in ``test_regression_reference.py``.
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
    data = reference_data("apiclus1")
    data["hi"] = (data["api00"] > 700).astype(float)
    return data


@pytest.fixture
def designs(api) -> dict[str, weighting.Design]:
    base = weighting.Design(api, weights="pw", psu="dnum", fpc="fpc")
    pop = pd.DataFrame({"stype": ["E", "H", "M"], "count": [4421.0, 755.0, 1018.0]})
    return {
        "cluster": base,
        "poststratified": base.poststratify(pop),
        "calibrated": base.calibrate({"stype": {"E": 4421.0, "H": 755.0, "M": 1018.0}, "api99": 3914069.0}),
        "raked": base.rake({"stype": {"E": 4421.0, "H": 755.0, "M": 1018.0}, "sch.wide": {"No": 1000.0, "Yes": 5194.0}}),
        "trimmed": base.poststratify(pop).trim(lower=20.0, upper=40.0),
        "jk1": base.replicate("jk1"),
        "jk1_calibrated": base.replicate("jk1").calibrate({"stype": {"E": 4421.0, "H": 755.0, "M": 1018.0}}),
    }


@pytest.mark.parametrize("kind", ["cluster", "poststratified", "calibrated", "raked", "trimmed", "jk1", "jk1_calibrated"])
def test_intercept_only_model_is_the_mean(designs, kind):
    design = designs[kind]
    fit = design.glm("api00 ~ 1")
    mean = design.mean("api00")
    row = fit.coefficients.iloc[0]
    assert row["estimate"] == pytest.approx(mean["estimate"].iloc[0], rel=1e-12)
    assert row["se"] == pytest.approx(mean["se"].iloc[0], rel=1e-9)
    assert fit.df == design.df  # degf + 1 - 1


@pytest.mark.parametrize("kind", ["cluster", "calibrated", "jk1"])
def test_intercept_only_logistic_is_the_logit_of_the_proportion(designs, kind):
    design = designs[kind]
    fit = design.glm("hi ~ 1", family="quasibinomial")
    p = design.mean("hi")
    est, se = p["estimate"].iloc[0], p["se"].iloc[0]
    assert special.expit(fit.coefficients["estimate"].iloc[0]) == pytest.approx(est, rel=1e-10)
    if kind != "jk1":  # the replicate SE of the logit is not the delta method's
        assert fit.coefficients["se"].iloc[0] == pytest.approx(se / (est * (1 - est)), rel=1e-8)
    response = fit.predict(design.data.head(1), scale="response")
    assert response["estimate"].iloc[0] == pytest.approx(est, rel=1e-10)


@pytest.mark.parametrize("kind", ["cluster", "poststratified", "calibrated", "jk1"])
def test_group_indicator_coefficient_is_the_difference_of_domain_means(designs, kind):
    """svyttest(api00 ~ sch.wide) is the regression on the group indicator (R): the slope is
    the difference of the domain means, with the SE of that contrast."""
    design = designs[kind]
    fit = design.glm("api00 ~ `sch.wide`")
    row = fit.coefficients.set_index("term").loc["sch.wide[T.Yes]"]
    means = design.mean("api00", by="sch.wide").set_index("sch.wide")["estimate"]
    cov = design.covariance("api00", by="sch.wide").to_numpy()
    assert row["estimate"] == pytest.approx(means["Yes"] - means["No"], rel=1e-10)
    assert row["se"] == pytest.approx(np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), rel=1e-8)


def test_columns_form_equals_formula_form(designs):
    design = designs["calibrated"]
    by_formula = design.glm("api00 ~ ell + meals + stype", reference={"stype": "H"})
    by_columns = design.glm(response="api00", predictors=["ell", "meals", "stype"], reference={"stype": "H"})
    pd.testing.assert_frame_equal(by_formula.coefficients, by_columns.coefficients)
    no_intercept = design.glm(response="api00", predictors=["stype"], intercept=False)
    assert list(no_intercept.names) == ["stype[E]", "stype[H]", "stype[M]"]
    means = design.mean("api00", by="stype")["estimate"].to_numpy()
    np.testing.assert_allclose(no_intercept.coefficients["estimate"], means, rtol=1e-10)


@pytest.mark.parametrize("kind", ["cluster", "calibrated", "jk1"])
def test_by_equals_a_fit_on_each_subset(designs, api, kind):
    design = designs[kind]
    fit = design.glm("api00 ~ ell + meals", by="sch.wide")
    for level in ("No", "Yes"):
        sub = design.subset((api["sch.wide"] == level).to_numpy()).glm("api00 ~ ell + meals")
        ours = fit.coefficients[fit.coefficients["sch.wide"] == level]
        np.testing.assert_allclose(ours["estimate"], sub.coefficients["estimate"], rtol=1e-10)
        np.testing.assert_allclose(ours["se"], sub.coefficients["se"], rtol=1e-8)
        model = fit.model.set_index("sch.wide").loc[level]
        assert model["dispersion"] == pytest.approx(sub.dispersion, rel=1e-10)
        assert model["df"] == sub.df
    assert list(fit.coefficients.columns) == ["sch.wide", "term", "estimate", "se", "t", "df", "p", "ci_low", "ci_high"]
    with pytest.raises(WeightingError, match="fitted by domain"):
        _ = fit.df


def test_nonresponse_adjusted_design_treats_the_weights_as_fixed(api):
    rng = np.random.default_rng(5)
    data = api.assign(disposition=np.where(rng.random(len(api)) < 0.8, "respondent", "nonrespondent"))
    design = weighting.Design(data, weights="pw", psu="dnum", fpc="fpc").adjust_nonresponse("disposition", "stype")
    fixed = weighting.Design(data, weights=design.weights, psu="dnum", fpc="fpc")
    a = design.glm("api00 ~ ell + meals").coefficients
    b = fixed.glm("api00 ~ ell + meals").coefficients
    pd.testing.assert_frame_equal(a, b)
    assert design.glm("api00 ~ ell").n == int((design.weights > 0).sum())


def test_a_level_missing_in_a_domain_gives_an_aliased_coefficient(api):
    data = api.copy()
    data["g"] = np.where(data["sch.wide"] == "No", "a", np.where(np.arange(len(data)) % 2 == 0, "a", "b"))
    fit = weighting.Design(data, weights="pw", psu="dnum", fpc="fpc").glm("api00 ~ g", by="sch.wide")
    no = fit.coefficients[fit.coefficients["sch.wide"] == "No"].set_index("term")
    assert np.isnan(no.loc["g[T.b]", "estimate"]) and np.isnan(no.loc["g[T.b]", "se"])
    assert np.isfinite(no.loc["Intercept", "se"])
    assert fit.model.set_index("sch.wide").loc["No", "df"] == fit.model.set_index("sch.wide").loc["Yes", "df"] + 1


def test_predict_defaults_to_the_rows_used_and_checks_levels(designs, api):
    fit = designs["cluster"].glm("hi ~ meals + stype", family="quasibinomial")
    default = fit.predict(scale="response")
    assert len(default) == fit.n and list(default.columns) == ["row", "estimate", "se", "ci_low", "ci_high", "df"]
    assert ((default["ci_low"] <= default["estimate"]) & (default["estimate"] <= default["ci_high"])).all()
    assert (default["ci_low"] >= 0).all() and (default["ci_high"] <= 1).all()
    with pytest.raises(WeightingError, match=r"newdata: column 'stype' has value\(s\) \['X'\]"):
        fit.predict(pd.DataFrame({"meals": [10.0], "stype": ["X"]}))
    with pytest.raises(WeightingError, match="newdata: column 'meals' is not in the data"):
        fit.predict(pd.DataFrame({"stype": ["E"]}))


def test_wald_test_of_one_coefficient_is_the_squared_t(designs):
    fit = designs["calibrated"].glm("api00 ~ ell + meals")
    row = fit.coefficients.set_index("term").loc["meals"]
    wald = fit.wald_test("meals")
    assert wald["statistic"].iloc[0] == pytest.approx(row["t"] ** 2, rel=1e-10)
    assert wald["p"].iloc[0] == pytest.approx(row["p"], rel=1e-8)
    shifted = fit.wald_test("meals", null=[row["estimate"]], method="chisq")
    assert shifted["chisq"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(WeightingError, match="terms: 'nope' is not a term"):
        fit.wald_test("nope")
    with pytest.raises(WeightingError, match="method must be one of F, chisq"):
        fit.wald_test("meals", method="lrt")


def test_missing_values_are_dropped_and_counted(api):
    data = api.copy()
    data.loc[data.index[:10], "ell"] = np.nan
    design = weighting.Design(data, weights="pw", psu="dnum", fpc="fpc")
    fit = design.glm("api00 ~ ell")
    assert fit.n == len(data) - 10
    complete = weighting.Design(data, weights="pw", psu="dnum", fpc="fpc").subset(data["ell"].notna().to_numpy(), df="domain")
    pd.testing.assert_frame_equal(fit.coefficients, complete.glm("api00 ~ ell").coefficients)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"formula": "api00 ~ ell", "family": "gamma"}, "family must be one of"),
        ({"formula": "api00 + ell"}, "formula must be a string 'response ~ predictors'"),
        ({"formula": "api00 ~ nope"}, "formula: column 'nope' is not in the data"),
        ({"formula": "stype ~ ell"}, "the response 'stype' is not numeric"),
        ({"formula": "api00 ~ ell", "family": "quasibinomial"}, "a quasibinomial response must be in"),
        ({"formula": "api00 ~ stype", "reference": {"stype": "Q"}}, "reference: level 'Q' of column 'stype'"),
        ({"formula": "api00 ~ ell", "reference": {"ell": 3}}, "reference: column 'ell' is numeric"),
        ({"formula": "api00 ~ ell", "response": "api00"}, "give either formula= or response="),
        ({"formula": "api00 ~ ell + ell2"}, r"the model matrix is singular: column\(s\) \['ell2'\]"),
    ],
)
def test_errors_name_the_argument(api, kwargs, message):
    data = api.assign(ell2=api["ell"] * 2.0)
    design = weighting.Design(data, weights="pw", psu="dnum", fpc="fpc")
    with pytest.raises(WeightingError, match=message):
        design.glm(**kwargs)
