"""svyvar, svyby(covmat=TRUE) / svycontrast / svyttest and svychisq / svytable / svytotal of a
factor, compared with R ``survey`` (``reference_inference.json``, see
``tests/reference/weighting/make_reference_inference.R``), on a stratified design with FPC,
one- and two-stage cluster designs with FPC, post-stratified, raked, calibrated (linear) and
calibrated-then-trimmed designs and a JK1 replicate design, with domains; plus identities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import weighting
from tests.weighting.test_reference_inference import CASES, close, data, designs

DESIGNS = ["strat", "clus1", "clus2", "post", "rake", "jk1", "cal", "trim"]


@pytest.fixture(scope="module")
def all_designs() -> dict[str, weighting.Design]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", weighting.ConvergenceWarning)
        return designs()


# ------------------------------------------------------------------ svyvar
@pytest.mark.parametrize("name", DESIGNS)
def test_variance_matches_svyvar(name: str, all_designs: dict[str, weighting.Design]) -> None:
    case = CASES["svyvar"]["results"][name]
    d = all_designs[name]
    row = d.variance("api00").iloc[0]
    close([row.estimate, row.se], [case["estimate"], case["se"]])
    assert row.df == d.df and np.isnan(row.deff)
    by = d.variance("api00", by="stype")
    assert by["stype"].tolist() == case["by"]
    close(by["estimate"], case["by_estimate"])
    close(by["se"], case["by_se"])


def test_variance_of_several_variables_is_the_diagonal_of_svyvar(all_designs: dict[str, weighting.Design]) -> None:
    case = CASES["svyvar"]["results"]["strat_matrix"]
    t = all_designs["strat"].variance(["api00", "api99"])
    close(t["estimate"], [case["estimate"][0], case["estimate"][3]])
    close(t["se"], [case["se"][0], case["se"][3]])


def test_variance_identities() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"y": rng.normal(size=30), "g": rng.choice(["a", "b"], 30)})
    d = weighting.Design(frame, weights=None)
    close(d.variance("y")["estimate"], [frame["y"].var(ddof=1)], rtol=1e-12)
    by = d.variance("y", by="g")
    close(by["estimate"], frame.groupby("g")["y"].var(ddof=1).to_numpy(), rtol=1e-12)
    # weights scaled by a constant give the same variance
    scaled = weighting.Design(frame, weights=np.full(30, 7.5))
    close(scaled.variance("y")["estimate"], d.variance("y")["estimate"], rtol=1e-12)
    with pytest.raises(weighting.WeightingError, match="missing must be"):
        d.variance("y", missing="drop")


# ------------------------------------------------------------------ covmat, svycontrast, svyttest
@pytest.mark.parametrize("name", DESIGNS)
def test_contrasts_match_svycontrast(name: str, all_designs: dict[str, weighting.Design]) -> None:
    case = CASES["contrasts"]["results"][name]
    d = all_designs[name]
    cov = d.covariance("api00", by="stype").to_numpy().ravel(order="F")
    np.testing.assert_allclose(cov, case["vcov"], rtol=1e-8, atol=1e-8 * max(case["vcov"]))
    diff = d.contrast("api00", {"E - M": {"E": 1, "M": -1}}, by="stype").iloc[0]
    close([diff.estimate, diff.se], [case["diff_em"]["estimate"], case["diff_em"]["se"]])
    assert diff.contrast == "E - M" and diff.df == d.df
    lin = d.contrast("api00", {"avg": {"E": 1 / 3, "H": 1 / 3, "M": 1 / 3}, "hm": {"H": 1, "M": -1}}, by="stype")
    close(lin["estimate"], case["lin"]["estimate"])
    close(lin["se"], case["lin"]["se"])
    ratio = d.compare("api00", "stype", pairs=[("E", "M")], kind="ratio").iloc[0]
    close([ratio.estimate, ratio.se], [case["ratio_em"]["estimate"], case["ratio_em"]["se"]])
    same = d.compare("api00", "stype", pairs=[("E", "M")]).iloc[0]
    close([same.estimate, same.se], [diff.estimate, diff.se], rtol=1e-12)
    tcov = d.covariance("api99", statistic="total", by="stype").to_numpy().ravel(order="F")
    np.testing.assert_allclose(tcov, case["total_vcov"], rtol=1e-8, atol=1e-8 * max(case["total_vcov"]))
    tdiff = d.contrast("api99", {"E - H": {"E": 1, "H": -1}}, statistic="total", by="stype").iloc[0]
    close([tdiff.estimate, tdiff.se], [case["total_diff"]["estimate"], case["total_diff"]["se"]])


@pytest.mark.parametrize("name", DESIGNS)
def test_ttest_matches_svyttest(name: str, all_designs: dict[str, weighting.Design]) -> None:
    case = CASES["contrasts"]["results"][name]
    d = all_designs[name]
    two = d.ttest("api00", "comp.imp").iloc[0]
    r = case["ttest"]
    close([two.estimate, two.statistic, two.df, two.p_value], [r["estimate"], r["statistic"], r["df"], r["p_value"]])
    close([two.ci_low, two.ci_high], r["ci"])
    assert two.df == d.df - 1
    # identity: the t test is the contrast of the two group means
    as_contrast = d.contrast("api00", {"d": {"Yes": 1, "No": -1}}, by="comp.imp").iloc[0]
    close([two.estimate, two.se], [as_contrast.estimate, as_contrast.se], rtol=1e-12)
    one = d.ttest("api00", mu=650).iloc[0]
    r = case["ttest_one"]
    close([one.estimate, one.statistic, one.df, one.p_value], [r["estimate"], r["statistic"], r["df"], r["p_value"]])
    mean = d.mean("api00").iloc[0]
    close([one.estimate + 650, one.se], [mean.estimate, mean.se], rtol=1e-12)


def test_ttest_by_domain_is_the_test_on_each_subset(all_designs: dict[str, weighting.Design]) -> None:
    d = all_designs["clus1"]
    by = d.ttest("api00", "comp.imp", by="stype")
    assert by.columns.tolist() == ["stype", "variable", "estimate", "se", "ci_low", "ci_high", "df", "n",
                                   "deff", "cv", "statistic", "p_value"]
    for row in by.itertuples():
        inside = (d.data["stype"] == row.stype).to_numpy()
        sub = d.subset(inside, df="domain")
        diff = sub.contrast("api00", {"d": {"Yes": 1, "No": -1}}, by="comp.imp").iloc[0]
        close([row.estimate, row.se], [diff.estimate, diff.se], rtol=1e-12)
        assert row.df == sub.df - 1
    with pytest.raises(weighting.WeightingError, match="exactly two values"):
        d.ttest("api00", "stype")


def test_two_surveys_stacked_compare_years() -> None:
    """This year vs last year: strata kept apart, so the years' covariance is 0."""
    a, b = data("apistrat"), data("apistrat")
    b["api00"] = b["api99"]
    stacked = pd.concat([a.assign(year=2000), b.assign(year=1999)], ignore_index=True)
    stacked["stratum"] = stacked["year"].astype(str) + stacked["stype"].astype(str)
    d = weighting.Design(stacked, weights="pw", strata="stratum", fpc="fpc")
    years = d.compare("api00", "year", pairs=[(2000, 1999)]).iloc[0]
    single = weighting.Design(a, weights="pw", strata="stype", fpc="fpc")
    m00, m99 = single.mean("api00").iloc[0], single.mean("api99").iloc[0]
    close(years.estimate, m00.estimate - m99.estimate, rtol=1e-12)
    close(years.se**2, m00.se**2 + m99.se**2, rtol=1e-10)
    assert years.contrast == "2000 - 1999"
    with pytest.raises(weighting.WeightingError, match="no estimate 'Z'"):
        d.contrast("api00", {"bad": {"Z": 1}}, by="year")


# ------------------------------------------------------------------ svychisq, svytable, svytotal(~factor)
def _near(ours: object, theirs: object) -> None:
    theirs_arr = np.asarray(theirs, dtype=float)
    np.testing.assert_allclose(np.asarray(ours, dtype=float), theirs_arr, rtol=1e-8, atol=1e-8 * np.nanmax(np.abs(theirs_arr)))


@pytest.mark.parametrize("name", DESIGNS)
@pytest.mark.parametrize("test", ["F", "Chisq", "Wald", "adjWald"])
def test_chisq_matches_svychisq(name: str, test: str, all_designs: dict[str, weighting.Design]) -> None:
    r = CASES["chisq"]["results"][name][test]
    row = all_designs[name].chisq_test("sch.wide", "stype", test=test).iloc[0]
    assert row.test == test
    if test == "Chisq":  # R reports Pearson's X^2 and the p value of X^2 / mean(delta)
        close([row.pearson, row.p_value, row.ndf], [r["statistic"], r["p_value"], r["parameter"]])
        assert row.ddf == np.inf
    else:
        close([row.statistic, row.p_value, row.ndf, row.ddf], [r["statistic"], r["p_value"], *r["parameter"]])


@pytest.mark.parametrize("test", ["F", "Chisq", "Wald", "adjWald"])
def test_chisq_three_by_three(test: str) -> None:
    r = CASES["chisq"]["results"]["clus1_3x3"][test]
    frame = data("apiclus1")
    frame["both3"] = np.where(frame["awards"] == "Yes", np.where(frame["yr.rnd"] == "Yes", "AY", "A"), "N")
    row = weighting.Design(frame, weights="pw", psu="dnum", fpc="fpc").chisq_test("stype", "both3", test=test).iloc[0]
    stat = row.pearson if test == "Chisq" else row.statistic
    close([stat, row.p_value], [r["statistic"], r["p_value"]])
    close(np.atleast_1d(r["parameter"]), [row.ndf] if test == "Chisq" else [row.ndf, row.ddf])


@pytest.mark.parametrize("name", DESIGNS)
def test_crosstab_matches_svytable_and_svytotal(name: str, all_designs: dict[str, weighting.Design]) -> None:
    case = CASES["chisq"]["results"][name]
    d = all_designs[name]
    counts = d.crosstab("sch.wide", "stype")
    assert counts.columns.tolist() == ["sch.wide", "stype", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "cv"]
    close(counts["estimate"], case["table"])
    _near(counts["se"], case["cells"]["se"])
    shares = d.crosstab("sch.wide", "stype", statistic="proportion")
    close(shares["estimate"], case["props"]["estimate"])
    _near(shares["se"], case["props"]["se"])
    close(shares["estimate"].sum(), 1.0, rtol=1e-12)
    by = d.crosstab("sch.wide", by="stype")
    assert by["stype"].tolist() == [s for s in case["total_by"]["by"] for _ in range(2)]
    close(by[by["sch.wide"] == "No"]["estimate"], case["total_by"]["no"])
    close(by[by["sch.wide"] == "Yes"]["estimate"], case["total_by"]["yes"])
    se = np.reshape(case["total_by"]["se"], (2, -1))  # R: SE(svyby) column-major, No then Yes
    _near(by[by["sch.wide"] == "No"]["se"], se[0])
    _near(by[by["sch.wide"] == "Yes"]["se"], se[1])


def test_chisq_by_domain_is_the_test_on_each_subset(all_designs: dict[str, weighting.Design]) -> None:
    d = all_designs["clus1"]
    by = d.chisq_test("sch.wide", "awards", by="stype")
    assert by.columns.tolist() == ["stype", "test", "statistic", "ndf", "ddf", "p_value", "pearson"]
    for row in by.itertuples():
        inside = (d.data["stype"] == row.stype).to_numpy()
        one = d.subset(inside, df="domain").chisq_test("sch.wide", "awards").iloc[0]
        close([row.statistic, row.ndf, row.ddf, row.p_value], [one.statistic, one.ndf, one.ddf, one.p_value], rtol=1e-12)
    with pytest.raises(weighting.WeightingError, match="test must be one of"):
        d.chisq_test("sch.wide", "awards", test="lincom")


def test_new_statistics_after_nonresponse_adjustment() -> None:
    """Nonresponse adjustment has no variance residual (as documented): every new statistic
    equals the one of the same design built on the adjusted weights; a replicate design
    re-applies the adjustment."""
    frame = data("apiclus1")
    rng = np.random.default_rng(19)
    frame["disp"] = np.where(rng.uniform(size=len(frame)) < 0.85, "respondent", "nonrespondent")
    base = weighting.Design(frame, weights="pw", psu="dnum", fpc="fpc")
    adjusted = base.adjust_nonresponse("disp", "stype")
    same = weighting.Design(frame, weights=adjusted.weights, psu="dnum", fpc="fpc")
    pairs = [
        (lambda d: d.variance("api00", by="stype")),
        (lambda d: d.contrast("api00", {"E - M": {"E": 1, "M": -1}}, by="stype")),
        (lambda d: d.compare("api00", "stype", kind="ratio")),
        (lambda d: d.ttest("api00", "comp.imp")),
        (lambda d: d.crosstab("sch.wide", "stype")),
        (lambda d: d.chisq_test("sch.wide", "stype")),
        (lambda d: d.proportion("sch.wide", by="stype", ci="likelihood")),
    ]
    for stat in pairs:
        ours, theirs = stat(adjusted), stat(same)
        numeric = ours.select_dtypes("number").columns
        np.testing.assert_allclose(ours[numeric].to_numpy(float), theirs[numeric].to_numpy(float), rtol=1e-12)
    rep = adjusted.replicate("jk1")
    for stat in pairs:
        table = stat(rep)
        assert table.select_dtypes("number").notna().any().any()
