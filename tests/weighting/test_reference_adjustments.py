"""The weighting adjustments and replicate weights, called directly, against R ``survey``.

For every ``adjust_*`` and ``replicate_*`` case of ``tests/reference/weighting/reference.json``
this checks, without going through :class:`weighting.Design`:

* the final weights of ``poststratify`` / ``rake`` / ``calibrate`` / ``trim`` (1e-8 relative);
* the linearisation standard errors of means and totals (overall and by domain) obtained from
  each adjustment's ``residualize`` and the one-stage variance formula written out below;
* the replicate weight matrices of ``replicate_weights`` (JK1, JKn, BRR, Fay) column for column,
  their re-weighting by ``reapply`` (post-stratification and calibration of every replicate),
  and the replicate standard errors from ``replicate_variance``.

The estimator-level comparison through ``Design`` lives in ``test_reference_estimates.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.weighting.conftest import R_RTOL, _load_reference
from weighting.adjustment import Adjustment
from weighting.calibration import calibrate, rake
from weighting.poststratification import poststratify
from weighting.replication import replicate_variance, replicate_weights
from weighting.trimming import trim

CASES = _load_reference()["cases"]
ADJUST = sorted(c for c in CASES if c.startswith("adjust_"))
REPLICATE = sorted(c for c in CASES if c.startswith("replicate_"))
METHOD = {"JK1": "jk1", "JKn": "jkn", "BRR": "brr", "Fay": "fay"}


def calibration_totals(step: dict[str, Any], data: pd.DataFrame) -> dict[str, Any]:
    """R's population vector (intercept + treatment contrasts) as ``{column: {level: N}}``."""
    population = step["population"]
    totals: dict[str, Any] = {}
    for term in (t.strip() for t in step["formula"].lstrip("~").split("+")):
        if pd.api.types.is_numeric_dtype(data[term]):
            totals[term] = float(population[term])
            continue
        levels = sorted(data[term].unique())
        counts = {level: float(population[f"{term}{level}"]) for level in levels[1:]}
        totals[term] = {levels[0]: population["(Intercept)"] - sum(counts.values()), **counts}
    return totals


def apply_step(step: dict[str, Any], data: pd.DataFrame, w: np.ndarray) -> Adjustment:
    kind = step["kind"]
    if kind == "poststratify":
        return poststratify(data, w, pd.DataFrame(step["population"]))
    if kind == "rake":
        margins = {
            m["variables"][0]: {row[m["variables"][0]]: row["count"] for row in m["population"]}
            for m in step["margins"]
        }
        epsilon = step["control"]["epsilon"]  # R: relative to sum(w) when < 1, else absolute
        tol = epsilon if epsilon < 1 else epsilon / w.sum()
        return rake(data, w, margins, max_iter=step["control"]["maxit"], tol=tol)
    if kind == "calibrate":
        lower, upper = (math.inf * s if b is None else b for b, s in zip(step["bounds"], (-1, 1)))
        bounds = None if math.isinf(lower) and math.isinf(upper) else (lower, upper)
        return calibrate(
            data,
            w,
            calibration_totals(step, data),
            method=step["calfun"],
            bounds=bounds,
            max_iter=step["maxit"],
            tol=step["epsilon"],
        )
    if kind == "trim":
        return trim(w, lower=step["lower"], upper=step["upper"], strict=step["strict"])
    raise AssertionError(f"unexpected step {kind!r}")


def one_stage_variance(z: np.ndarray, design: dict[str, Any], data: pd.DataFrame) -> np.ndarray:
    """Stratified one-stage (with FPC) variance of the totals of the columns of ``z``."""
    strata = data[design["strata"]].to_numpy() if design["strata"] else np.zeros(len(data))
    psu = data[design["ids"][0]].to_numpy() if design["ids"] != ["1"] else np.arange(len(data))
    fpc = data[design["fpc"][0]].to_numpy(float) if design["fpc"] else None
    v = np.zeros(z.shape[1])
    for h in pd.unique(strata):
        m = strata == h
        totals = pd.DataFrame(z[m]).groupby(psu[m]).sum().to_numpy()
        n_h = totals.shape[0]
        f = n_h / fpc[m][0] if fpc is not None else 0.0
        v += (1 - f) * n_h / (n_h - 1) * ((totals - totals.mean(axis=0)) ** 2).sum(axis=0)
    return v


def influence(result: dict[str, Any], data: pd.DataFrame, w: np.ndarray) -> np.ndarray:
    y = data[result["variable"]].to_numpy(float)
    inside = np.ones(len(data), dtype=bool)
    for column, level in result.get("by", {}).items():
        inside = (data[column] == level).to_numpy()
    wd = w * inside
    if result["statistic"] == "total":
        return wd * y
    return wd * (y - np.sum(wd * y) / wd.sum()) / wd.sum()


def estimate(result: dict[str, Any], data: pd.DataFrame, W: np.ndarray) -> np.ndarray:
    """Mean or total of ``result`` for each column of weights ``W`` (n, R)."""
    y = data[result["variable"]].to_numpy(float)
    inside = np.ones(len(data), dtype=bool)
    for column, level in result.get("by", {}).items():
        inside = (data[column] == level).to_numpy()
    Wd = W * inside[:, None]
    totals = Wd.T @ y
    return totals if result["statistic"] == "total" else totals / Wd.sum(axis=0)


@pytest.mark.parametrize("case_id", ADJUST)
def test_adjusted_weights_and_linearisation_se(case_id, reference_case):
    case, data = reference_case(case_id)
    w = data[case["design"]["weights"]].to_numpy(float)
    adjustments = []
    for step in case["steps"]:
        adjustments.append(apply_step(step, data, w))
        w = adjustments[-1].weights
    np.testing.assert_allclose(w, case["weights"], rtol=R_RTOL)
    for result in case["results"]:
        z = influence(result, data, w)[:, None]
        for adjustment in adjustments:
            if adjustment.residualize is not None:
                z = adjustment.residualize(z)
        se = math.sqrt(one_stage_variance(z, case["design"], data)[0])
        assert se == pytest.approx(result["se"], rel=R_RTOL), (
            result.get("by"),
            result["statistic"],
        )
        assert estimate(result, data, w[:, None])[0] == pytest.approx(result["estimate"], rel=1e-12)


def test_unconverged_rake_matches_r_default_control(reference_case):
    case, data = reference_case("adjust_rake_default_control_apiclus1")
    w = data["pw"].to_numpy(float)
    adj = apply_step(case["steps"][0], data, w)
    np.testing.assert_allclose(adj.weights, case["weights"], rtol=R_RTOL)
    assert adj.details["converged"]  # R's epsilon = 1 (absolute) was met
    tight = apply_step(CASES["adjust_rake_apiclus1"]["steps"][0], data, w)
    assert np.max(np.abs(adj.weights / tight.weights - 1)) > 1e-9  # and it differs from the limit


def test_calibrated_totals_and_logit_range(reference_case):
    case, data = reference_case("adjust_calibrate_logit_apiclus1")
    w = data["pw"].to_numpy(float)
    adj = apply_step(case["steps"][0], data, w)
    g = adj.weights / w
    np.testing.assert_allclose([g.min(), g.max()], case["extra"]["g_range"], rtol=R_RTOL)
    assert adj.details["converged"]


@pytest.mark.parametrize("case_id", REPLICATE)
def test_replicate_weights_and_se(case_id, reference_case):
    case, data = reference_case(case_id)
    design = case["design"]
    rep_step, *adjust_steps = case["steps"]
    w = data[design["weights"]].to_numpy(float)
    strata = data[design["strata"]].to_numpy() if design["strata"] else None
    psu = data[design["ids"][0]].to_numpy() if design["ids"] != ["1"] else None
    method = METHOD[rep_step["type"]]
    rep = replicate_weights(
        method, w, strata, psu, fay=rep_step["fay_rho"] if method == "fay" else None
    )
    W = rep.weights
    for step in adjust_steps:  # the adjustment of the full sample, re-applied to the replicates
        adjustment = apply_step(step, data, w)
        w, W = adjustment.weights, adjustment.reapply(W)
    expected = case["replicate"]
    np.testing.assert_allclose(W, np.array(expected["weights"]).T, rtol=R_RTOL)
    # R keeps the first-stage FPC in the jackknife constants: (1 - n_h/N_h) per deleted PSU
    scale, rscales = rep.scale, rep.rscales
    if design["fpc"] and method in ("jk1", "jkn"):
        population = data[design["fpc"][0]].to_numpy(float)
        deleted = np.argmax(rep.factors == 0, axis=0)
        labels = strata if strata is not None else np.zeros(len(w))
        n_psu = pd.Series(psu if psu is not None else np.arange(len(w))).groupby(labels).nunique()
        f = n_psu.loc[labels[deleted]].to_numpy() / population[deleted]
        if method == "jk1":
            scale = scale * (1 - f[0])
        else:
            rscales = rscales * (1 - f)
    assert scale == pytest.approx(expected["scale"], rel=1e-12)
    np.testing.assert_allclose(rscales, expected["rscales"], rtol=1e-12)
    for result in case["results"]:
        theta = estimate(result, data, w[:, None])[0]
        theta_reps = estimate(result, data, W)
        se = math.sqrt(replicate_variance(theta, theta_reps, scale, rscales, rep.mse))
        assert se == pytest.approx(result["se"], rel=R_RTOL, abs=R_RTOL * abs(theta))
