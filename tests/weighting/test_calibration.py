"""Calibration and raking: identities between them and with post-stratification, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weighting.calibration import calibrate, rake
from weighting.errors import ConvergenceWarning, WeightingError
from weighting.poststratification import poststratify

SEX = {"f": 520.0, "m": 480.0}
AGE = {"young": 300.0, "mid": 450.0, "old": 250.0}


@pytest.fixture
def sample() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(11)
    n = 150
    data = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n, p=[0.4, 0.6]),
            "age": rng.choice(["young", "mid", "old"], n, p=[0.2, 0.5, 0.3]),
            "income": rng.gamma(4.0, 10.0, n),
            "y": rng.normal(10, 3, n),
        }
    )
    return data, rng.uniform(4, 10, n)


def weighted_totals(data: pd.DataFrame, w: np.ndarray, column: str) -> dict:
    return pd.Series(w).groupby(data[column].to_numpy()).sum().to_dict()


TOTALS = {"sex": SEX, "age": AGE, "income": 41_000.0}


@pytest.mark.parametrize(
    ("method", "bounds"),
    [("linear", None), ("raking", None), ("logit", (0.3, 3.0)), ("linear", (0.5, 2.5))],
)
def test_calibration_hits_its_totals(sample, method, bounds):
    data, w = sample
    adj = calibrate(data, w, TOTALS, method=method, bounds=bounds)
    assert adj.details["converged"]
    for column, target in (("sex", SEX), ("age", AGE)):
        got = weighted_totals(data, adj.weights, column)
        for level, count in target.items():
            assert got[level] == pytest.approx(count, rel=1e-8)
    assert (adj.weights * data["income"]).sum() == pytest.approx(41_000.0, rel=1e-8)
    if bounds is not None:
        g = adj.weights / w
        assert g.min() >= bounds[0] - 1e-12 and g.max() <= bounds[1] + 1e-12


def test_bounded_linear_truncates_and_still_calibrates(sample):
    data, w = sample
    free = calibrate(data, w, TOTALS)
    g_free = free.weights / w
    lower, upper = 1.05 * g_free.min(), 0.95 * g_free.max()
    adj = calibrate(data, w, TOTALS, bounds=(lower, upper))
    g = adj.weights / w
    assert np.isclose(g, upper).any() or np.isclose(g, lower).any()
    assert g.min() >= lower - 1e-12 and g.max() <= upper + 1e-12
    assert adj.details["iterations"] > 1


def test_linear_calibration_on_cell_indicators_is_poststratification(sample):
    data, w = sample
    ps = poststratify(data, w, pd.DataFrame({"age": list(AGE), "count": list(AGE.values())}))
    cal = calibrate(data, w, {"age": AGE})
    np.testing.assert_allclose(cal.weights, ps.weights, rtol=1e-12)
    z = np.random.default_rng(2).normal(size=(len(w), 3)) * ps.weights[:, None]
    np.testing.assert_allclose(cal.residualize(z), ps.residualize(z), rtol=1e-9, atol=1e-9)


def test_raking_calibration_equals_rake(sample):
    data, w = sample
    raked = rake(data, w, {"sex": SEX, "age": AGE}, tol=1e-14, max_iter=500)
    cal = calibrate(data, w, {"sex": SEX, "age": AGE}, method="raking", tol=1e-13)
    np.testing.assert_allclose(cal.weights, raked.weights, rtol=1e-8)
    assert raked.details["converged"]


def test_one_margin_rake_is_poststratify(sample):
    data, w = sample
    ps = poststratify(data, w, pd.DataFrame({"sex": list(SEX), "count": list(SEX.values())}))
    raked = rake(data, w, {"sex": SEX})
    np.testing.assert_allclose(raked.weights, ps.weights, rtol=1e-12)
    # With weights constant within the cells R's rake and postStratify residuals coincide.
    w_const = np.where(data["sex"] == "f", 3.0, 5.0)
    ps_c = poststratify(
        data, w_const, pd.DataFrame({"sex": list(SEX), "count": list(SEX.values())})
    )
    rk_c = rake(data, w_const, {"sex": SEX})
    z = ps_c.weights * (data["y"].to_numpy() - 10.0)
    np.testing.assert_allclose(
        rk_c.residualize(z[:, None]), ps_c.residualize(z[:, None]), rtol=1e-10
    )


def test_rake_residual_is_orthogonal_to_margins_after_rounds(sample):
    data, w = sample
    raked = rake(data, w, {"sex": SEX, "age": AGE})
    z = raked.weights * data["y"].to_numpy()
    e = raked.residualize(z[:, None])[:, 0]
    # each round leaves the last margin's level means of e / w exactly zero
    last = pd.Series(e / raked.weights).groupby(data["age"].to_numpy()).mean()
    np.testing.assert_allclose(last.to_numpy(), 0.0, atol=1e-10)
    assert np.abs(e).sum() < np.abs(z).sum()


def test_calibration_residual_formula(sample):
    data, w = sample
    adj = calibrate(data, w, TOTALS, method="raking")
    g = adj.weights / w
    X = np.column_stack(
        [
            (data["sex"] == "f"),
            (data["sex"] == "m"),
            (data["age"] == "mid"),
            (data["age"] == "old"),
            data["income"],
        ]
    ).astype(float)
    whalf = np.sqrt(w)
    v = g * whalf
    z = np.random.default_rng(5).normal(size=(len(w), 2))
    beta, *_ = np.linalg.lstsq(X * whalf[:, None], z / v[:, None], rcond=None)
    expected = (z / v[:, None] - (X * whalf[:, None]) @ beta) * v[:, None]
    np.testing.assert_allclose(adj.residualize(z), expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    ("method", "bounds"), [("linear", None), ("raking", None), ("logit", (0.2, 4.0))]
)
def test_reapply_calibrates_every_replicate(sample, method, bounds):
    data, w = sample
    adj = calibrate(data, w, TOTALS, method=method, bounds=bounds)
    np.testing.assert_allclose(adj.reapply(w), adj.weights, rtol=1e-9)
    W = w[:, None] * np.random.default_rng(8).uniform(0.6, 1.4, (len(w), 3))
    out = adj.reapply(W)
    for r in range(3):
        single = calibrate(data, W[:, r], TOTALS, method=method, bounds=bounds).weights
        np.testing.assert_allclose(out[:, r], single, rtol=1e-8)
        assert (out[:, r] * data["income"]).sum() == pytest.approx(41_000.0, rel=1e-8)


def test_rake_reapply_rakes_every_replicate(sample):
    data, w = sample
    margins = {"sex": SEX, "age": AGE}
    adj = rake(data, w, margins)
    W = w[:, None] * np.random.default_rng(9).uniform(0.6, 1.4, (len(w), 3))
    out = adj.reapply(W)
    for r in range(3):
        np.testing.assert_allclose(out[:, r], rake(data, W[:, r], margins).weights, rtol=1e-9)


def test_logit_rescales_tiny_weights_as_r_grake(sample):
    data, _ = sample
    w = np.ones(len(data))  # population / sample totals > 20 for every auxiliary
    sex = {k: 10 * v for k, v in SEX.items()}
    age = {k: 10 * v for k, v in AGE.items()}
    adj = calibrate(data, w, {"sex": sex, "age": age}, method="logit", bounds=(0.5, 2.0))
    assert adj.details["converged"]
    got = weighted_totals(data, adj.weights, "sex")
    assert got["f"] == pytest.approx(sex["f"], rel=1e-8)
    # R's grake scales the weights by the mean ratio of its columns (intercept, sex=m,
    # age=old, age=young) and applies the bounds to g after that scaling
    scale = np.mean(
        [10_000 / len(data)]
        + [
            t / np.sum(data[c] == k)
            for c, k, t in (
                ("sex", "m", sex["m"]),
                ("age", "old", age["old"]),
                ("age", "young", age["young"]),
            )
        ]
    )
    g = adj.weights / scale
    assert g.min() >= 0.5 - 1e-12 and g.max() <= 2.0 + 1e-12
    assert g.max() > 1.2


def test_infeasible_bounds_warn(sample):
    data, w = sample
    with pytest.warns(ConvergenceWarning, match=r"did not converge.*bounds may be infeasible"):
        adj = calibrate(data, w, TOTALS, method="logit", bounds=(0.9, 1.1), max_iter=30)
    assert not adj.details["converged"]
    with pytest.warns(ConvergenceWarning):
        calibrate(data, w, TOTALS, bounds=(0.95, 1.05), max_iter=20)


def test_error_level_without_units(sample):
    data, w = sample
    with pytest.raises(WeightingError, match=r"totals\['age'\].*\['ancient'\].*no units"):
        calibrate(data, w, {"age": {**AGE, "ancient": 5.0}})
    with pytest.raises(WeightingError, match=r"totals\['age'\].*\['ancient'\].*no units"):
        calibrate(data, w, {"sex": SEX, "age": {"ancient": 5.0, **AGE}})
    # a level with population 0 and no units is dropped, as R drops it, wherever it is listed
    adj = calibrate(data, w, {"age": {**AGE, "ancient": 0.0}})
    assert "age=ancient" not in adj.details["names"]
    first = calibrate(data, w, {"sex": SEX, "age": {"ancient": 0.0, **AGE}})
    np.testing.assert_allclose(first.weights, calibrate(data, w, {"sex": SEX, "age": AGE}).weights)


def test_error_unknown_level_names_it(sample):
    data, w = sample
    with pytest.raises(WeightingError, match=r"totals\['age'\].*\['old'\]"):
        calibrate(data, w, {"age": {"young": 1.0, "mid": 2.0}})


def test_error_singular_model_matrix(sample):
    data, w = sample
    doubled = data.assign(income2=2 * data["income"])
    with pytest.raises(WeightingError, match="singular.*income"):
        calibrate(doubled, w, {"sex": SEX, "income": 41_000.0, "income2": 82_000.0})


def test_error_grand_totals_disagree(sample):
    data, w = sample
    with pytest.raises(WeightingError, match=r"totals\['sex'\] sums to 1000.0.*totals\['age'\]"):
        calibrate(data, w, {"sex": SEX, "age": {**AGE, "old": 999.0}})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "logit"}, "needs finite bounds"),
        ({"method": "probit"}, "method must be one of"),
        ({"bounds": (1.2, 3.0)}, "lower < 1 < upper"),
        ({"method": "logit", "bounds": (0.5, np.inf)}, "finite bounds"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": 0.0}, "tol must be positive"),
    ],
)
def test_error_bad_settings(sample, kwargs, message):
    data, w = sample
    with pytest.raises(WeightingError, match=message):
        calibrate(data, w, TOTALS, **kwargs)


def test_error_scalar_total_for_text_column(sample):
    data, w = sample
    with pytest.raises(WeightingError, match=r"'sex' must be numeric"):
        calibrate(data, w, {"sex": 10.0})


def test_rake_errors(sample):
    data, w = sample
    with pytest.raises(WeightingError, match=r"margins\['age'\].*\['ancient'\].*no respondents"):
        rake(data, w, {"sex": SEX, "age": {**AGE, "ancient": 10.0}})
    with pytest.raises(WeightingError, match=r"margins\['sex'\] sums to 1000.0.*margins\['age'\]"):
        rake(data, w, {"sex": SEX, "age": {**AGE, "old": 100.0}})
    with pytest.raises(WeightingError, match=r"margins\['sex'\].*\['m'\]"):
        rake(data, w, {"sex": {"f": 1000.0}})
    with pytest.raises(WeightingError, match="positive"):
        rake(data, w, {"sex": {"f": 1000.0, "m": 0.0}})


def test_rake_warns_when_not_converged(sample):
    data, w = sample
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        adj = rake(data, w, {"sex": SEX, "age": AGE}, max_iter=1)
    assert not adj.details["converged"]
    # the last margin is met after every sweep
    got = weighted_totals(data, adj.weights, "age")
    assert got["old"] == pytest.approx(AGE["old"], rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(30, 120))
def test_property_linear_and_raking_hit_totals(seed, n):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "a": np.concatenate([["p", "q", "r"], rng.choice(["p", "q", "r"], n - 3)]),
            "x": rng.uniform(1, 5, n),
        }
    )
    w = rng.uniform(1, 3, n)
    totals = {"a": {"p": 100.0, "q": 120.0, "r": 80.0}, "x": float(300 * rng.uniform(2.5, 3.5))}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for method in ("linear", "raking"):
            try:
                adj = calibrate(data, w, totals, method=method)
            except ConvergenceWarning:
                assert method == "raking"  # raking has no solution for some draws
                continue
            got = weighted_totals(data, adj.weights, "a")
            for level, count in totals["a"].items():
                assert got[level] == pytest.approx(count, rel=1e-8)
            assert (adj.weights * data["x"]).sum() == pytest.approx(totals["x"], rel=1e-8)


def test_rake_on_a_crossed_margin(sample):
    data, w = sample
    cells = data.groupby(["sex", "age"]).size()
    crossed = {
        key: 1000.0 * count / cells.sum() * (1.2 if key[0] == "f" else 0.9)
        for key, count in cells.items()
    }
    # one crossed margin is post-stratification on the crossed cells
    alone = rake(data, w, {("sex", "age"): crossed})
    population = pd.DataFrame([{"sex": s, "age": a, "count": c} for (s, a), c in crossed.items()])
    np.testing.assert_allclose(alone.weights, poststratify(data, w, population).weights, rtol=1e-12)
    # with a second margin both are met
    income = pd.cut(data["income"], [0, 30, 50, np.inf], labels=["lo", "mid", "hi"]).astype(str)
    data2 = data.assign(band=income)
    total = sum(crossed.values())
    band = {"lo": 0.3 * total, "mid": 0.4 * total, "hi": 0.3 * total}
    both = rake(data2, w, {("sex", "age"): crossed, "band": band}, tol=1e-13, max_iter=500)
    got = pd.Series(both.weights).groupby([data2["sex"].to_numpy(), data2["age"].to_numpy()]).sum()
    for key, count in crossed.items():
        assert got[key] == pytest.approx(count, rel=1e-8)
    assert weighted_totals(data2, both.weights, "band")["lo"] == pytest.approx(band["lo"], rel=1e-8)
    with pytest.raises(WeightingError, match=r"\('sex', 'age'\).*\('m', 'old'\)"):
        rake(data, w, {("sex", "age"): {k: v for k, v in crossed.items() if k != ("m", "old")}})


def test_negative_greg_weights_keep_the_residual_formula(sample):
    data, w = sample
    adj = calibrate(data, w, {"sex": SEX, "income": 5_000.0})  # far below the sample total
    assert adj.details["n_negative"] > 0
    g = adj.weights / w
    X = np.column_stack([data["sex"] == "f", data["sex"] == "m", data["income"]]).astype(float)
    whalf = np.sqrt(w)
    v = g * whalf
    z = np.random.default_rng(6).normal(size=(len(w), 1))
    beta, *_ = np.linalg.lstsq(X * whalf[:, None], z / v[:, None], rcond=None)
    expected = (z / v[:, None] - (X * whalf[:, None]) @ beta) * v[:, None]
    np.testing.assert_allclose(adj.residualize(z), expected, rtol=1e-8, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 100))
def test_property_rake_meets_every_margin_and_equals_raking_calibration(seed, n):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            # every combination present: the margins are always jointly attainable
            "a": np.concatenate([list("pppqqq"), rng.choice(["p", "q"], n - 6)]),
            "b": np.concatenate([list("uvxuvx"), rng.choice(["u", "v", "x"], n - 6)]),
        }
    )
    w = rng.uniform(1, 3, n)
    share = rng.uniform(0.2, 0.8)
    margins = {
        "a": {"p": 100 * share, "q": 100 * (1 - share)},
        "b": {"u": 30.0, "v": 30.0, "x": 40.0},
    }
    adj = rake(data, w, margins, tol=1e-13, max_iter=2000)
    for column, target in margins.items():
        got = weighted_totals(data, adj.weights, column)
        for level, count in target.items():
            assert got[level] == pytest.approx(count, rel=1e-8)
    cal = calibrate(data, w, margins, method="raking", tol=1e-12)
    np.testing.assert_allclose(cal.weights, adj.weights, rtol=1e-7)


@pytest.mark.parametrize("adjust", ["rake", "calibrate", "poststratify"])
def test_zero_weight_rows_change_nothing(sample, adjust):
    data, w = sample
    extra = data.iloc[:10]
    padded = pd.concat([data, extra], ignore_index=True)
    w_padded = np.concatenate([w, np.zeros(10)])

    def run(frame, weights):
        if adjust == "rake":
            return rake(frame, weights, {"sex": SEX, "age": AGE}, tol=1e-13, max_iter=500)
        if adjust == "calibrate":
            return calibrate(frame, weights, TOTALS, method="raking")
        population = pd.DataFrame({"age": list(AGE), "count": list(AGE.values())})
        return poststratify(frame, weights, population)

    plain, zeros = run(data, w), run(padded, w_padded)
    np.testing.assert_allclose(zeros.weights[: len(w)], plain.weights, rtol=1e-10)
    assert (zeros.weights[len(w) :] == 0).all()
    z = plain.weights * data["y"].to_numpy()
    z_padded = np.concatenate([z, np.zeros(10)])[:, None]
    np.testing.assert_allclose(
        zeros.residualize(z_padded)[: len(w), 0],
        plain.residualize(z[:, None])[:, 0],
        rtol=1e-8,
        atol=1e-8,
    )
