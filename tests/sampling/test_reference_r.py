"""Comparison with R ``sampling`` 2.9 and ``survey`` 4.1.1 (fixtures from make_reference.R).

Deterministic parts (inclusion probabilities, two-stage weights) must agree to 1e-12 relative.
R's random generator differs from numpy's, so draws are compared through inclusion frequencies:
for each unit, the difference between R's and our selection counts is tested with a two-sample
z-test (pooled variance), Bonferroni-corrected over units; false-failure probability
``ALPHA = 1e-6`` per test (normal approximation).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sampling

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "sampling"
FIXTURES = json.loads((REFERENCE / "reference_sampling.json").read_text(encoding="utf-8"))
ALPHA = 1e-6


def _load_inputs():
    spec = importlib.util.spec_from_file_location("make_inputs", REFERENCE / "make_inputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replicated_draw(
    frame: pd.DataFrame, n_by_stratum: dict, replicates: int, method: str, seed: int
):
    """``replicates`` independent draws in one call: every (replicate, stratum) is a stratum."""
    units = len(frame)
    big = pd.concat([frame] * replicates, ignore_index=True)
    big["unit"] = np.tile(np.arange(units), replicates)
    rep = np.repeat(np.arange(replicates), units)
    big["cell"] = pd.Categorical(
        rep * len(n_by_stratum) + pd.Categorical(big["h"], categories=list(n_by_stratum)).codes
    )
    n_map = {
        cell: list(n_by_stratum.values())[cell % len(n_by_stratum)]
        for cell in big["cell"].cat.categories
    }
    return sampling.draw(big, n_map, strata="cell", method=method, size="x", rng=seed)


def _same_frequencies(counts_a, reps_a, counts_b, reps_b) -> None:
    counts_a, counts_b = np.asarray(counts_a, float), np.asarray(counts_b, float)
    pooled = (counts_a + counts_b) / (reps_a + reps_b)
    se = np.sqrt(pooled * (1 - pooled) * (1 / reps_a + 1 / reps_b))
    diff = np.abs(counts_a / reps_a - counts_b / reps_b)
    z = stats.norm.isf(ALPHA / (2 * len(counts_a)))
    random = (pooled > 0) & (pooled < 1)
    assert np.all(diff[random] <= z * se[random]), (counts_a, counts_b)
    assert np.array_equal(counts_a[~random] / reps_a, counts_b[~random] / reps_b)


@pytest.mark.parametrize("case", FIXTURES["inclusionprobabilities"], ids=lambda c: f"n={c['n']}")
def test_inclusionprobabilities_match_r(case):
    ours = sampling.inclusion_probabilities(case["size"], case["n"])
    np.testing.assert_allclose(ours, case["pik"], rtol=1e-12, atol=1e-14)


def test_upsystematic_frequencies_match_r_and_pik():
    ref = FIXTURES["upsystematic"]
    pik = np.asarray(ref["pik"])
    np.testing.assert_allclose(
        sampling.inclusion_probabilities(ref["size"], ref["n"]), pik, rtol=1e-12
    )
    replicates = 20000
    frame = pd.DataFrame({"h": "all", "x": ref["size"]})
    sample = _replicated_draw(frame, {"all": ref["n"]}, replicates, "pps_systematic", seed=5)
    ours = np.bincount(sample["unit"], minlength=len(pik))
    _same_frequencies(ours, replicates, ref["counts"], ref["replicates"])


def test_strata_probabilities_match_r():
    ref = FIXTURES["strata"]
    frame = pd.DataFrame({"h": ref["h"], "x": ref["x"]})
    sizes = dict(zip(["a", "b", "c"], ref["size"]))
    # R strata()'s Prob column of its first draw, for srswor and systematic PPS
    srs = _replicated_draw(frame, sizes, 300, "srswor", seed=1)
    srs_pi = srs.groupby("unit")["inclusion_probability"].first()
    np.testing.assert_allclose(srs_pi.reindex(range(len(frame))), ref["srswor_pik"], rtol=1e-12)
    for row in ref["srswor_prob"]:
        assert np.isclose(srs_pi.loc[row["ID_unit"] - 1], row["Prob"], rtol=1e-12)
    sample = _replicated_draw(frame, sizes, 3000, "pps_systematic", seed=9)
    pi = sample.groupby("unit")["inclusion_probability"].first().reindex(range(len(frame)))
    np.testing.assert_allclose(pi.to_numpy(), ref["systematic_pik"], rtol=1e-12)
    for row in ref["systematic_prob"]:
        assert np.isclose(pi.iloc[row["ID_unit"] - 1], row["Prob"], rtol=1e-12)


@pytest.mark.parametrize(
    ("method", "key"), [("srswor", "srswor_counts"), ("pps_systematic", "systematic_counts")]
)
def test_strata_frequencies_match_r(method, key):
    ref = FIXTURES["strata"]
    frame = pd.DataFrame({"h": ref["h"], "x": ref["x"]})
    sizes = dict(zip(["a", "b", "c"], ref["size"]))
    replicates = 5000
    sample = _replicated_draw(frame, sizes, replicates, method, seed=17)
    ours = np.bincount(sample["unit"], minlength=len(frame))
    _same_frequencies(ours, replicates, ref[key], ref["replicates"])


def test_two_stage_sample_reproducible_and_weights_match_survey():
    inputs = _load_inputs()
    committed = pd.read_csv(REFERENCE / "two_stage_sample.csv")
    redrawn = inputs.two_stage_sample().reset_index(drop=True)
    # the committed sample was drawn on another run (possibly another machine) with the same seed
    assert redrawn["graduate"].tolist() == committed["graduate"].tolist()
    np.testing.assert_allclose(redrawn["design_weight"], committed["design_weight"], rtol=1e-14)
    ref = FIXTURES["two_stage"]
    weights = pd.Series(ref["weight"], index=ref["graduate"]).reindex(redrawn["graduate"])
    np.testing.assert_allclose(redrawn["design_weight"].to_numpy(), weights.to_numpy(), rtol=1e-12)
    assert np.isclose(redrawn["design_weight"].sum(), ref["total"], rtol=1e-12)
