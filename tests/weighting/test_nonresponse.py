"""Nonresponse adjustment by weighting classes with unknown eligibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weighting.errors import WeightingError
from weighting.nonresponse import adjust_for_nonresponse


@pytest.fixture
def sample() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(21)
    n = 200
    data = pd.DataFrame(
        {
            "region": rng.choice(["n", "s"], n),
            "urban": rng.choice(["yes", "no"], n),
            "status": rng.choice(
                ["respondent", "nonrespondent", "ineligible", "unknown"], n, p=[0.5, 0.3, 0.1, 0.1]
            ),
        }
    )
    return data, rng.uniform(1, 5, n)


def test_hand_example_two_steps():
    data = pd.DataFrame(
        {
            "c": ["a"] * 5 + ["b"] * 2,
            "d": ["respondent", "respondent", "nonrespondent", "ineligible", "unknown"]
            + ["respondent", "nonrespondent"],
        }
    )
    w = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 5.0, 5.0])
    adj = adjust_for_nonresponse(data, w, "d", "c")
    f1 = 20.0 / 10.0  # class a: all / known
    f2 = (3.0 * f1 + 3.0 * f1) / (3.0 * f1)  # eligible / respondents after step 1
    np.testing.assert_allclose(adj.weights, [f1 * f2, 2 * f1 * f2, 0, 4 * f1, 0, 10.0, 0])
    assert adj.residualize is None
    assert adj.details["n_respondents"] == 3


def test_class_totals_kept_and_respondents_carry_eligible_total(sample):
    data, w = sample
    adj = adjust_for_nonresponse(data, w, "status", ["region", "urban"])
    cls = data["region"] + data["urban"]
    before = pd.Series(w).groupby(cls.to_numpy()).sum()
    after = pd.Series(adj.weights).groupby(cls.to_numpy()).sum()
    np.testing.assert_allclose(after[before.index], before, rtol=1e-12)
    status = data["status"].to_numpy()
    known = status != "unknown"
    eligible = np.isin(status, ["respondent", "nonrespondent"])
    for c in before.index:
        m = (cls == c).to_numpy()
        f1 = w[m].sum() / w[m & known].sum()
        assert adj.weights[m & (status == "respondent")].sum() == pytest.approx(
            f1 * w[m & eligible].sum(), rel=1e-12
        )
    assert (adj.weights[np.isin(status, ["nonrespondent", "unknown"])] == 0).all()


def test_reapply_on_replicates(sample):
    data, w = sample
    adj = adjust_for_nonresponse(data, w, "status", "region")
    W = w[:, None] * np.random.default_rng(3).uniform(0.5, 1.5, (len(w), 4))
    out = adj.reapply(W)
    for r in range(4):
        single = adjust_for_nonresponse(data, W[:, r], "status", "region").weights
        np.testing.assert_allclose(out[:, r], single, rtol=1e-12)


def test_error_unknown_disposition_is_named(sample):
    data, w = sample
    bad = data.assign(status=data["status"].replace("ineligible", "refused"))
    with pytest.raises(WeightingError, match=r"\['refused'\]"):
        adjust_for_nonresponse(bad, w, "status", "region")


def test_error_class_without_respondents_is_named():
    data = pd.DataFrame(
        {
            "c": ["a", "a", "b", "b"],
            "d": ["respondent", "nonrespondent", "nonrespondent", "unknown"],
        }
    )
    with pytest.raises(WeightingError, match=r"\['b'\].*no respondents"):
        adjust_for_nonresponse(data, np.ones(4), "d", "c")


def test_error_class_with_only_unknowns():
    data = pd.DataFrame({"c": ["a", "b"], "d": ["respondent", "unknown"]})
    with pytest.raises(WeightingError, match=r"\['b'\].*none of known eligibility"):
        adjust_for_nonresponse(data, np.ones(2), "d", "c")


def test_error_missing_class_or_column(sample):
    data, w = sample
    with pytest.raises(WeightingError, match="missing value"):
        adjust_for_nonresponse(data.assign(region=None), w, "status", "region")
    with pytest.raises(WeightingError, match="agegroup"):
        adjust_for_nonresponse(data, w, "status", "agegroup")


def test_only_ineligibles_keep_weight_without_respondents():
    data = pd.DataFrame({"c": ["a", "a", "b"], "d": ["respondent", "nonrespondent", "ineligible"]})
    adj = adjust_for_nonresponse(data, np.array([1.0, 1.0, 3.0]), "d", "c")
    np.testing.assert_allclose(adj.weights, [2.0, 0.0, 3.0])
