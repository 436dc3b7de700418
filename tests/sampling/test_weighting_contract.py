"""Our design columns feed ``weighting.Design`` and reproduce R ``survey`` standard errors.

The samples were drawn by ``tests/reference/sampling/make_inputs.py`` (seeded) and analysed in
R by ``make_reference.R`` with ``svydesign(..., fpc = ~stratum_population)`` (one stage) and
``svydesign(id = ~institution + graduate, fpc = ~stage1_population + stage2_population)``
(two stages). The library boundary forbids ``sampling`` to import ``weighting``; this test only
checks that the column contract between the two holds.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "sampling"
FIXTURES = json.loads((REFERENCE / "reference_sampling.json").read_text(encoding="utf-8"))


def _inputs():
    spec = importlib.util.spec_from_file_location("make_inputs", REFERENCE / "make_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scalar(value) -> float:
    return float(np.ravel(value)[0])


def test_stratified_sample_design_matches_r():
    import weighting  # imported here so that a broken weighting never blocks collecting sampling tests

    sample = _inputs().stratified_sample().reset_index(drop=True)
    committed = pd.read_csv(REFERENCE / "stratified_sample.csv")
    assert sample["graduate"].tolist() == committed["graduate"].tolist()
    ref = FIXTURES["stratified"]
    np.testing.assert_allclose(sample["design_weight"], ref["weight"], rtol=1e-12)
    design = weighting.Design(
        sample, weights="design_weight", strata="province", fpc="stratum_population"
    )
    mean = design.mean("employed").iloc[0]
    total = design.total("employed").iloc[0]
    np.testing.assert_allclose(mean["estimate"], _scalar(ref["mean"]), rtol=1e-10)
    np.testing.assert_allclose(mean["se"], _scalar(ref["mean_se"]), rtol=1e-8)
    np.testing.assert_allclose(total["estimate"], _scalar(ref["total"]), rtol=1e-10)
    np.testing.assert_allclose(total["se"], _scalar(ref["total_se"]), rtol=1e-8)


def test_two_stage_sample_design_matches_r():
    import weighting

    sample = _inputs().two_stage_sample().reset_index(drop=True).assign(one=1.0)
    ref = FIXTURES["two_stage"]
    design = weighting.Design(
        sample,
        weights="design_weight",
        strata="province",
        psu=["institution", "graduate"],
        fpc=["stage1_population", "stage2_population"],
    )
    total = design.total("one").iloc[0]
    np.testing.assert_allclose(total["estimate"], _scalar(ref["total"]), rtol=1e-10)
    np.testing.assert_allclose(total["se"], _scalar(ref["total_se"]), rtol=1e-8)
