"""Reporting-quality rules: NCHS proportion standards, CV grades, small-count suppression."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from weighting import Design, QualityRules, WeightingError, quality_flags


def _table(**cols) -> pd.DataFrame:
    base = {"variable": "y", "estimate": 10.0, "se": 1.0, "ci_low": 8.0, "ci_high": 12.0, "df": 30.0,
            "n": 100, "deff": 1.0, "cv": 0.1}
    base.update(cols)
    return pd.DataFrame({k: np.atleast_1d(v) for k, v in base.items()})


def test_cv_grades_and_small_counts():
    t = _table(cv=[0.10, 0.20, 0.40, 0.10], n=[100, 100, 100, 3], estimate=[10.0] * 4, se=[1.0] * 4,
               ci_low=[8.0] * 4, ci_high=[12.0] * 4, df=[30.0] * 4, deff=[1.0] * 4, variable=["y"] * 4)
    out = quality_flags(t)
    assert out["grade"].tolist() == ["publish", "caution", "suppress", "suppress"]
    assert out["flag"].tolist() == ["", "cv>16.5%", "cv>33.3%", "n<5"]
    assert out["suppressed"].tolist() == [False, False, True, True]
    assert out["estimate"].isna().tolist() == [False, False, True, True]
    assert out["n"].tolist() == [100, 100, 100, 3]  # identifiers and counts stay
    assert t["estimate"].notna().all()  # the input is not modified


def test_nchs_proportion_rules():
    rows = pd.DataFrame({
        "variable": "v", "category": ["a", "b", "c", "d", "e"],
        "estimate": [0.5, 0.5, 0.5, 0.05, 0.0],
        "se": [0.02, 0.12, 0.02, 0.02, 0.0],
        "ci_low": [0.46, 0.26, 0.46, 0.01, 0.0],
        "ci_high": [0.54, 0.74, 0.54, 0.12, 0.08],
        "df": [30.0, 30.0, 5.0, 30.0, 30.0],
        "n": [800, 800, 800, 800, 40],
        "deff": 1.0, "cv": [0.04, 0.24, 0.04, 0.4, np.nan],
    })
    out = quality_flags(rows)
    assert out["n_eff"].iloc[0] == pytest.approx(625.0)
    assert out["grade"].tolist() == ["publish", "suppress", "caution", "caution", "caution"]
    assert "ci_width>=0.3" in out["flag"].iloc[1] and "n_eff<30" in out["flag"].iloc[1]
    assert out["flag"].iloc[2] == "df<8"
    assert out["flag"].iloc[3] == "relative_ci_width>130%"
    assert out["n_eff"].iloc[4] == 40  # p = 0: the unweighted n
    assert out["flag"].iloc[4] == "relative_ci_width>130%"  # infinite relative width: review


def test_custom_rules_and_errors():
    strict = dataclasses.replace(QualityRules(), cv_suppress=0.05, min_count=200)
    out = quality_flags(_table(), strict)
    assert out["suppressed"].iloc[0] and out["flag"].iloc[0] == "n<200; cv>5.0%"
    with pytest.raises(dataclasses.FrozenInstanceError):
        strict.min_count = 1  # type: ignore[misc]
    with pytest.raises(WeightingError, match="missing column"):
        quality_flags(pd.DataFrame({"estimate": [1.0]}))
    with pytest.raises(WeightingError, match="rules must be a QualityRules"):
        quality_flags(_table(), {"min_count": 5})  # type: ignore[arg-type]


def test_on_estimate_tables():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"w": rng.uniform(1, 3, 60), "g": rng.choice(["a", "b", "c"], 60),
                         "y": rng.normal(5, 1, 60), "z": rng.choice(["x", "y"], 60)})
    d = Design(data, weights="w")
    props = quality_flags(d.proportion("z", by="g"))
    assert {"n_eff", "grade", "suppressed", "flag"} <= set(props.columns)
    means = quality_flags(d.mean("y", by="g"))
    assert (means["grade"] == "publish").all()


def test_hidden_small_counts_missing_se_and_labels():
    t = _table(n=[3, 100], se=[1.0, np.nan], cv=[0.1, np.nan], estimate=[10.0] * 2, ci_low=[8.0, np.nan],
               ci_high=[12.0, np.nan], df=[30.0] * 2, deff=[1.0] * 2, variable=["y"] * 2)
    kept = quality_flags(t)
    assert kept["n"].tolist() == [3, 100]
    assert kept["flag"].tolist() == ["n<5", "no_se"]
    assert kept["grade"].tolist() == ["suppress", "caution"]
    hidden = quality_flags(t, QualityRules(hide_small_counts=True))
    assert hidden["n"].isna().tolist() == [True, False] and hidden["n"].iloc[1] == 100
    assert hidden["flag"].tolist() == kept["flag"].tolist()
    labels = QualityRules().labels()
    assert labels["count"] == "n<5" and labels["cv_suppress"] == "cv>33.3%" and labels["ci_width"] == "ci_width>=0.3"
    assert labels["relative_ci_width"] == "relative_ci_width>130%" and labels["effective_n"] == "n_eff<30"
