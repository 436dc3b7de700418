"""Two-stage draws: stage columns, exact sizes, Monte-Carlo inclusion frequencies, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sampling
from sampling import SamplingError

ALPHA = 1e-6


@pytest.fixture
def cohort() -> pd.DataFrame:
    # 3 provinces (strata) x institutions (PSUs) of unequal size x graduates
    sizes = {"p1": [12, 3, 7, 20], "p2": [5, 5, 9], "p3": [30, 2, 4, 6, 8]}
    rows = []
    for province, institutions in sizes.items():
        for number, count in enumerate(institutions):
            for pupil in range(count):
                rows.append((province, f"{province}-i{number}", f"{province}-i{number}-g{pupil}"))
    return pd.DataFrame(rows, columns=["province", "institution", "graduate"])


def test_columns_and_products(cohort):
    s = sampling.draw_two_stage(
        cohort,
        psu="institution",
        strata="province",
        n_psu={"p1": 2, "p2": 1, "p3": 2},
        n_units=4,
        rng=1,
    )
    for column in sampling.multistage.STAGE_COLUMNS:
        assert column in s.columns
    assert np.allclose(
        s["inclusion_probability"],
        s["stage1_inclusion_probability"] * s["stage2_inclusion_probability"],
    )
    assert np.allclose(s["design_weight"], 1 / s["inclusion_probability"])
    psu_counts = cohort.groupby("province")["institution"].nunique()
    assert (s["stage1_population"] == s["province"].map(psu_counts)).all()
    units = cohort.groupby("institution").size()
    assert (s["stage2_population"] == s["institution"].map(units)).all()
    per_psu = s.groupby("institution").size()
    assert (per_psu == np.minimum(4, units.reindex(per_psu.index))).all()
    assert s.groupby("province")["institution"].nunique().to_dict() == {"p1": 2, "p2": 1, "p3": 2}
    assert (
        s["stage2_inclusion_probability"]
        == np.minimum(4, s["stage2_population"]) / s["stage2_population"]
    ).all()


def test_pps_first_stage_self_weighting(cohort):
    big = cohort[cohort["province"] == "p1"]
    s = sampling.draw_two_stage(
        big, psu="institution", n_psu=2, n_units=2, psu_method="pps_systematic", rng=4
    )
    # PSU pi = 2 M_I / 42 (no certainty: max M_I = 20 < 21), unit pi = 2 / M_I -> 4/42 for every unit
    assert np.allclose(s["inclusion_probability"], 4 / 42)


@pytest.mark.parametrize(
    ("psu_method", "unit_method"), [("srswor", "srswor"), ("pps_systematic", "systematic")]
)
def test_monte_carlo_unit_inclusion(cohort, psu_method, unit_method):
    replicates = 1500
    units = len(cohort)
    frame = pd.concat([cohort.assign(rep=r) for r in range(replicates)], ignore_index=True)
    frame["cell"] = frame["rep"].astype(str) + "|" + frame["province"]
    frame["psu"] = frame["rep"].astype(str) + "|" + frame["institution"]
    frame["unit"] = np.tile(np.arange(units), replicates)
    n_psu = {
        cell: {"p1": 2, "p2": 1, "p3": 2}[cell.split("|")[1]] for cell in frame["cell"].unique()
    }
    s = sampling.draw_two_stage(
        frame,
        psu="psu",
        strata="cell",
        n_psu=n_psu,
        n_units=3,
        psu_method=psu_method,
        unit_method=unit_method,
        rng=99,
    )
    counts = np.bincount(s["unit"].to_numpy(), minlength=units)
    pi = s.groupby("unit")["inclusion_probability"].first().reindex(range(units)).to_numpy()
    assert not np.isnan(pi).any()
    z = stats.norm.isf(ALPHA / (2 * units))
    interior = pi < 1
    bound = z * np.sqrt(replicates * pi * (1 - pi))
    assert np.all(np.abs(counts - replicates * pi)[interior] <= bound[interior])
    # per replicate, the estimated population size sum(w) averages to N
    totals = s.groupby("rep")["design_weight"].sum()
    assert abs(totals.mean() - units) <= stats.norm.isf(ALPHA / 2) * totals.std(ddof=1) / np.sqrt(
        replicates
    )


def test_n_units_mapping_and_manifest(cohort):
    first = sampling.draw_two_stage(cohort, psu="institution", n_psu=3, n_units=1, rng=6)
    chosen = sorted(first["institution"].unique())
    wanted = dict.fromkeys(chosen, 2)
    sample = sampling.draw_two_stage_sample(
        cohort, psu="institution", n_psu=3, n_units=wanted, rng=6
    )
    assert sample.units.groupby("institution").size().to_dict() == dict.fromkeys(chosen, 2)
    assert sample.manifest.input_hashes["frame"] == sampling.frame_hash(cohort)
    assert sample.manifest.parameters["n_units"] == wanted
    # sizes for every PSU: only the selected PSUs' entries are used
    per_psu = {psu: 1 + len(psu) % 3 for psu in cohort["institution"].unique()}
    full = sampling.draw_two_stage(cohort, psu="institution", n_psu=3, n_units=per_psu, rng=6)
    sizes = cohort.groupby("institution").size()
    expected = {psu: min(per_psu[psu], sizes[psu]) for psu in chosen}
    assert full.groupby("institution").size().to_dict() == expected
    again = sampling.draw_two_stage(
        cohort, psu="institution", n_psu=3, n_units=wanted, rng=sample.manifest.generator()
    )
    pd.testing.assert_frame_equal(again, sample.units)


def test_errors(cohort):
    with pytest.raises(SamplingError, match="spans several strata"):
        mixed = cohort.copy()
        mixed.loc[0, "province"] = "p2"
        sampling.draw_two_stage(mixed, psu="institution", strata="province", n_psu=2, n_units=1)
    with pytest.raises(SamplingError, match="psu='school' is not a column"):
        sampling.draw_two_stage(cohort, psu="school", n_psu=2, n_units=1)
    with pytest.raises(SamplingError, match=r"first stage \(PSUs, n_psu=99\)"):
        sampling.draw_two_stage(cohort, psu="institution", n_psu=99, n_units=1)
    with pytest.raises(SamplingError, match="unit_method"):
        sampling.draw_two_stage(
            cohort, psu="institution", n_psu=2, n_units=1, unit_method="pps_systematic"
        )
    with pytest.raises(
        SamplingError, match=r"n_units names PSUs that are not in the frame: \['nowhere'\]"
    ):
        sampling.draw_two_stage(cohort, psu="institution", n_psu=2, n_units={"nowhere": 1})
    with pytest.raises(SamplingError, match=r"n_units has no size for the selected PSUs \['p1-i1'"):
        sampling.draw_two_stage(cohort, psu="institution", n_psu=12, n_units={"p1-i0": 1})
    with pytest.raises(SamplingError, match="n_units must be"):
        sampling.draw_two_stage(cohort, psu="institution", n_psu=2, n_units=-1)
    with pytest.raises(SamplingError, match="psu_size='w'"):
        sampling.draw_two_stage(
            cohort.assign(w=-1.0),
            psu="institution",
            n_psu=2,
            n_units=1,
            psu_size="w",
            psu_method="pps_systematic",
        )


@pytest.mark.parametrize("strata", [None, "province"])
@pytest.mark.parametrize("n_units", [3, "mapping"])
def test_replay_two_stage_from_json(cohort, strata, n_units):
    import json

    sizes = dict.fromkeys(cohort["institution"].unique(), 2) if n_units == "mapping" else n_units
    first = sampling.draw_two_stage_sample(
        cohort,
        psu="institution",
        strata=strata,
        n_psu=6,
        n_units=sizes,
        psu_method="pps_systematic",
    )
    reloaded = sampling.Manifest(**json.loads(first.manifest.to_json()))
    replay = sampling.replay_two_stage(reloaded, cohort)
    pd.testing.assert_frame_equal(replay.units, first.units)
    with pytest.raises(SamplingError, match="frame differs"):
        sampling.replay_two_stage(reloaded, cohort.iloc[1:])
    with pytest.raises(SamplingError, match="not a two-stage draw"):
        sampling.replay_two_stage(sampling.draw_sample(cohort, 3, rng=1).manifest, cohort)
