"""Design.calibrate(trim=, aggregate=, method="sinh" or a CalibrationFunction) against R.

Each case of ``tests/reference/weighting/reference_calibration_options.json``
(``make_reference_calibration_options.R``) is rebuilt; the final weights (1e-9 relative) and
the means and totals, overall and by domain, with their linearisation or replicate standard
errors (1e-7 relative) are compared with R ``survey``'s ``calibrate``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import weighting
from tests.weighting.test_regression_reference import build_design, close
from weighting.calfun import CalibrationFunction

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "weighting" / "reference_calibration_options.json"
CASES = json.loads(REFERENCE.read_text(encoding="utf-8"))["cases"]

#: R's make.calfun(Fm1 = (1 - u/2)^-2 - 1, dF = (1 - u/2)^-3): the Hellinger distance.
HELLINGER = CalibrationFunction(
    lambda u, lower, upper: (1 - u / 2) ** -2.0, lambda u, lower, upper: (1 - u / 2) ** -3.0, "hellinger"
)


def calibrated(case: dict[str, Any], reference_data) -> weighting.Design:
    data = reference_data(case["data"])
    steps = [{"kind": "replicate", "type": case["replicate"]}] if case["replicate"] else []
    design = build_design({"design": case["design"], "steps": steps}, data)
    spec = case["calibrate"]
    method = HELLINGER if spec["method"] == "hellinger" else spec["method"]
    return design.calibrate(
        spec["totals"], method=method, bounds=spec["bounds"], trim=spec["trim"], aggregate=spec["aggregate"],
        tol=spec["epsilon"], max_iter=spec["maxit"],
    )


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_calibration_options_match_r(case_id: str, reference_data) -> None:
    case = CASES[case_id]
    design = calibrated(case, reference_data)
    np.testing.assert_allclose(design.weights, case["weights"], rtol=1e-9)
    details = design.adjustments[-1].details
    if case["calibrate"]["trim"]:
        assert details["n_trimmed"] > 0
    if case["calibrate"]["aggregate"] == 1:  # one g-weight per district
        base = design.base_weights if design.replicates is None else design.base_weights
        g = design.weights / base
        districts = design.data["dnum"].to_numpy()
        for d in np.unique(districts):
            assert np.ptp(g[districts == d]) < 1e-12
    problems = []
    for res in case["results"]:
        by = list(res.get("by", {}))
        table = getattr(design, res["statistic"])(res["variable"], by=by or None)
        for column, level in res.get("by", {}).items():
            table = table[table[column] == level]
        row = table.iloc[0]
        for key in ("estimate", "se"):
            if not close(row[key], res[key], abs(res["estimate"]) if key == "estimate" else 0.0):
                problems.append((res["statistic"], res.get("by"), key, row[key], res[key]))
    assert not problems, f"{case_id}: {len(problems)} mismatches, e.g. {problems[:4]}"
