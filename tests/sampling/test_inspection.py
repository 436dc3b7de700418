"""Random inspection draws: shares, oversampling, conflicts, balance, manifest and replay."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sampling
from sampling import SamplingError


@pytest.fixture
def registers() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(12)
    n_units = 1200
    units = pd.DataFrame(
        {
            "unit_code": [f"U{i:05d}" for i in range(n_units)],
            "district": rng.choice(["east", "west", "north", "south"], size=n_units),
            "industry": rng.choice(["food", "drugs", "schools"], size=n_units, p=[0.6, 0.3, 0.1]),
            "complaint": rng.random(n_units) < 0.04,
        }
    )
    inspectors = pd.DataFrame(
        {
            "staff_no": [f"S{i:03d}" for i in range(40)],
            "district": np.tile(["east", "west", "north", "south"], 10),
            "employer": ["U00003", "U00010"] + [None] * 38,
        }
    )
    return units, inspectors


def _draw(units, inspectors, **kwargs):
    options = {
        "unit_id": "unit_code",
        "inspector_id": "staff_no",
        "share": 0.05,
        "strata": "industry",
        "flagged": "complaint",
        "flagged_share": 0.5,
        "k": 2,
        "conflict_attributes": ["district", ("unit_code", "employer")],
        "rng": 2026,
    }
    options.update(kwargs)
    return sampling.draw_inspection(units, inspectors, **options)


def test_minimum_share_and_oversampling(registers):
    units, inspectors = registers
    result = _draw(units, inspectors)
    drawn = result.units
    for (industry, flag), group in units.groupby(["industry", "complaint"]):
        got = ((drawn["industry"] == industry) & (drawn["complaint"] == flag)).sum()
        share = 0.5 if flag else 0.05
        assert got == max(int(np.ceil(share * len(group))), 1)
        assert got / len(group) >= share
    # each stratum as a whole reaches the minimum share
    per_stratum = drawn.groupby("industry").size() / units.groupby("industry").size()
    assert (per_stratum >= 0.05).all()
    assert np.allclose(
        drawn["design_weight"],
        drawn["stratum_population"]
        / drawn.groupby(["industry", "complaint"])["unit_code"].transform("size"),
    )


def test_k_distinct_conflict_free_inspectors(registers):
    units, inspectors = registers
    result = _draw(units, inspectors, k=3)
    a = result.assignments
    assert list(a.columns) == ["unit_code", "staff_no", "slot"]
    assert (a.groupby("unit_code")["staff_no"].nunique() == 3).all()
    assert set(a["unit_code"]) == set(result.units["unit_code"])
    merged = a.merge(units, on="unit_code").merge(
        inspectors, on="staff_no", suffixes=("_unit", "_insp")
    )
    assert (merged["district_unit"] != merged["district_insp"]).all()
    assert (merged["unit_code"] != merged["employer"]).all()


def test_declared_conflict_pairs_are_excluded(registers):
    units, inspectors = registers
    first = _draw(units, inspectors)
    conflicts = first.assignments[["unit_code", "staff_no"]]  # forbid every pair used before
    second = _draw(units, inspectors, conflicts=conflicts)
    pairs = set(map(tuple, conflicts.to_numpy()))
    assert (
        pd.Series(list(map(tuple, second.assignments[["unit_code", "staff_no"]].to_numpy())))
        .isin(pairs)
        .sum()
        == 0
    )
    assert "conflicts" in second.manifest.input_hashes


def test_workloads_balanced_without_conflicts(registers):
    units, inspectors = registers
    result = _draw(units, inspectors, conflict_attributes=[], k=2)
    load = result.workload
    assert load.sum() == 2 * len(result.units)
    assert load.max() - load.min() <= 1
    assert list(load.index) == inspectors["staff_no"].tolist()


def test_workloads_balanced_within_eligible_groups(registers):
    units, inspectors = registers
    result = _draw(units, inspectors)
    load = result.workload
    # district conflicts split the inspectors into four groups; greedy least-loaded keeps spread small
    assert load.max() - load.min() <= 3


def test_infeasible_unit_is_named(registers):
    units, inspectors = registers
    few = inspectors[inspectors["district"].isin(["east", "west"])].iloc[:3]
    with pytest.raises(
        SamplingError, match=r"unit 'U\d{5}' has \d eligible inspectors, fewer than k=2"
    ):
        _draw(units, few)


def test_reproducible_and_replayable(registers):
    units, inspectors = registers
    a = _draw(units, inspectors)
    b = _draw(units, inspectors)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    c = _draw(units, inspectors, rng=2027)
    assert not a.assignments.equals(c.assignments)
    record = json.loads(a.manifest.to_json())
    assert record["seed"] == 2026
    assert record["algorithm"] == sampling.ALGORITHM_VERSION
    assert set(record["input_hashes"]) == {"units", "inspectors"}
    replay = sampling.replay_inspection(a.manifest, units, inspectors)
    pd.testing.assert_frame_equal(replay.assignments, a.assignments)
    pd.testing.assert_frame_equal(replay.units, a.units)


def test_replay_detects_changed_register(registers):
    units, inspectors = registers
    a = _draw(units, inspectors)
    changed = inspectors.copy()
    changed.loc[0, "district"] = "west"
    with pytest.raises(SamplingError, match="inspectors register differs"):
        sampling.replay_inspection(a.manifest, units, changed)
    with pytest.raises(SamplingError, match="do not match"):
        sampling.replay_inspection(
            a.manifest, units, inspectors, conflicts=units[["unit_code"]].assign(staff_no="S001")
        )


def test_share_per_stratum_and_min_n(registers):
    units, inspectors = registers
    result = _draw(
        units, inspectors, share={"food": 0.03, "drugs": 0.1, "schools": 0.0}, flagged=None, min_n=2
    )
    got = result.units.groupby("industry").size()
    sizes = units.groupby("industry").size()
    assert got["food"] == int(np.ceil(0.03 * sizes["food"]))
    assert got["drugs"] == int(np.ceil(0.1 * sizes["drugs"]))
    assert got["schools"] == 2


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"k": 41}, "exceeds the 40 inspectors"),
        ({"share": 1.5}, "share must be shares in [0, 1]"),
        ({"share": {"food": 0.1}}, "no share for strata"),
        ({"flagged": "industry"}, "must be a boolean column"),
        ({"flagged_share": 2.0}, "flagged_share"),
        ({"unit_id": "code"}, "unit_id='code' is not a column"),
        ({"conflict_attributes": ["postcode"]}, "conflict_attributes='postcode'"),
    ],
)
def test_bad_parameters(registers, kwargs, fragment):
    units, inspectors = registers
    with pytest.raises(SamplingError) as info:
        _draw(units, inspectors, **kwargs)
    assert fragment in str(info.value)


def test_duplicate_ids_rejected(registers):
    units, inspectors = registers
    doubled = pd.concat([inspectors, inspectors.iloc[:1]])
    with pytest.raises(SamplingError, match="duplicated ids, e.g. 'S000'"):
        _draw(units, doubled)


def test_inspector_choice_is_uniform_among_eligible():
    # one unit, four inspectors, A in conflict: each of B, C, D is picked with probability 2/3
    # (k = 2) by the assignment kernel. Binomial z-bound, Bonferroni over 3, alpha = 1e-6.
    from scipy import stats

    from sampling.inspection import _assign

    eligible = np.array([[False, True, True, True]])
    draws = 3000
    picks = np.zeros(4)
    for seed in range(draws):
        picks[_assign(eligible, 2, np.random.default_rng(seed))[0]] += 1
    assert picks[0] == 0
    z = stats.norm.isf(1e-6 / 6)
    bound = z * np.sqrt(draws * (2 / 3) * (1 / 3))
    assert (np.abs(picks[1:] - draws * 2 / 3) <= bound).all()
