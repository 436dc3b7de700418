"""Satisfaction indices: rescaling, composite index with a linearised CI, rank intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import weighting
from weighting import indices
from weighting.errors import WeightingError


def test_rescale_and_satisfied_treat_dont_know_as_missing():
    raw = pd.DataFrame({"q1": ["1", "2", "5", "dk", None], "q2": [4, 3, 0, 5, 2]})
    scaled = indices.rescale(raw, ["q1", "q2"])
    assert scaled["q1"].tolist()[:3] == [0.0, 25.0, 100.0]
    assert scaled["q1"].isna().tolist() == [False, False, False, True, True]
    assert scaled["q2"].tolist()[:2] == [75.0, 50.0] and np.isnan(scaled["q2"].iloc[2])  # 0 is out of range
    share = indices.satisfied(raw, ["q1", "q2"])
    assert share["q1"].tolist()[:3] == [0.0, 0.0, 1.0] and share["q1"].isna().sum() == 2
    assert share["q2"].tolist()[:2] == [1.0, 0.0]


def test_composite_matches_hand_calculation():
    # Two items, four respondents, one domain, each unit its own PSU, no strata.
    w = np.array([1.0, 2.0, 1.0, 4.0])
    y1 = np.array([0.0, 50.0, 100.0, 75.0])
    y2 = np.array([25.0, 25.0, 100.0, 50.0])
    a = np.array([0.6, 0.4])
    data = pd.DataFrame({"w": w, "y1": y1, "y2": y2})
    design = weighting.Design(data, weights="w")
    out = indices.composite_index(design, ["y1", "y2"], weights={"y1": 3, "y2": 2})

    W = w.sum()
    m1, m2 = (w * y1).sum() / W, (w * y2).sum() / W
    z1, z2 = w * (y1 - m1) / W, w * (y2 - m2) / W
    n = len(w)
    def cov(u, v):
        return n / (n - 1) * ((u - u.mean()) * (v - v.mean())).sum()
    V = np.array([[cov(z1, z1), cov(z1, z2)], [cov(z2, z1), cov(z2, z2)]])
    est = a @ [m1, m2]
    se = np.sqrt(a @ V @ a)
    q = stats.t.ppf(0.975, n - 1)
    row = out.iloc[0]
    assert row["estimate"] == pytest.approx(est, rel=1e-12)
    assert row["se"] == pytest.approx(se, rel=1e-12)
    assert row["ci_low"] == pytest.approx(est - q * se, rel=1e-12)
    assert row["ci_high"] == pytest.approx(est + q * se, rel=1e-12)
    assert row["n"] == 4 and row["df"] == 3
    # Not a sum of variances: the items are positively correlated here.
    naive = np.sqrt(a**2 @ np.diag(V))
    assert V[0, 1] > 0 and se > naive


@pytest.fixture
def survey() -> pd.DataFrame:
    rng = np.random.default_rng(20260901)
    n = 600
    county = rng.choice(["c1", "c2", "c3", "c4"], n)
    level = pd.Series(county).map({"c1": 3.8, "c2": 3.5, "c3": 3.4, "c4": 2.9}).to_numpy()
    person = rng.normal(0, 0.8, n)
    frame = pd.DataFrame({"county": county, "stratum": rng.choice(["u", "r"], n),
                          "w": rng.uniform(0.5, 3.0, n)})
    for k in range(1, 6):
        frame[f"i{k}"] = np.clip(np.rint(level + person + rng.normal(0, 0.6, n)), 1, 5)
    return frame


def test_composite_of_means_equals_mean_of_composite_without_missing(survey):
    items = [f"i{k}" for k in range(1, 6)]
    scaled = pd.concat([survey[["county", "stratum", "w"]], indices.rescale(survey, items)], axis=1)
    expert = {"i1": 0.3, "i2": 0.25, "i3": 0.2, "i4": 0.15, "i5": 0.1}
    a = indices.item_weights(items, expert)
    scaled["composite"] = scaled[items].to_numpy() @ a
    design = weighting.Design(scaled, weights="w", strata="stratum")
    ours = indices.composite_index(design, items, weights=expert, by="county").set_index("county")
    reference = design.mean("composite", by="county").set_index("county")
    for column in ("estimate", "se", "ci_low", "ci_high", "df", "n"):
        np.testing.assert_allclose(ours[column], reference.loc[ours.index, column], rtol=1e-10)
    overall = indices.composite_index(design, items, weights=expert)
    np.testing.assert_allclose(overall[["estimate", "se"]].to_numpy()[0],
                               design.mean("composite")[["estimate", "se"]].to_numpy()[0], rtol=1e-10)


def test_composite_with_missing_items_uses_each_item_mean(survey):
    items = ["i1", "i2"]
    raw = survey.copy()
    raw.loc[raw.index[::7], "i1"] = np.nan  # "don't know"
    design = weighting.Design(raw, weights="w")
    out = indices.composite_index(design, items, by="county").set_index("county")
    means = design.mean(items, by="county").pivot(index="county", columns="variable", values="estimate")
    np.testing.assert_allclose(out["estimate"], means.loc[out.index, items].mean(axis=1), rtol=1e-12)
    counts = design.mean(items, by="county").pivot(index="county", columns="variable", values="n")
    assert (out["n"] == counts.loc[out.index].min(axis=1)).all()


def test_composite_covariance_diagonal_matches_composite_se(survey):
    items = ["i1", "i2", "i3"]
    design = weighting.Design(survey, weights="w", strata="stratum")
    cov = indices.composite_covariance(design, items, by="county")
    table = indices.composite_index(design, items, by="county").set_index("county")
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), table.loc[cov.index, "se"], rtol=1e-12)
    # Stratum centring makes domain means of an unadjusted design only weakly correlated.
    off = cov.to_numpy() - np.diag(np.diag(cov))
    assert np.abs(off).max() < 1e-2 * np.diag(cov).min()


def test_composite_on_replicate_design_uses_replicate_covariance(survey):
    items = ["i1", "i2"]
    design = weighting.Design(survey, weights="w").replicate("bootstrap", replicates=50, rng=3)
    table = indices.composite_index(design, items, by="county").set_index("county")
    survey = survey.assign(composite=survey[items].mean(axis=1))
    reference = weighting.Design(survey, weights="w").replicate("bootstrap", replicates=50, rng=3)
    expected = reference.mean("composite", by="county").set_index("county")
    np.testing.assert_allclose(table["se"], expected.loc[table.index, "se"], rtol=1e-10)


def test_rank_intervals_separate_clear_differences_and_overlap_close_ones():
    estimates = pd.Series([80.0, 70.0, 69.5, 50.0], index=["a", "b", "c", "d"])
    cov = np.diag([0.5, 1.0, 1.0, 0.5])
    out = indices.rank_intervals(estimates, cov, rng=7, draws=4000)
    assert out["rank"].tolist() == [1, 2, 3, 4]
    assert (out.loc["a", "rank_low"], out.loc["a", "rank_high"]) == (1, 1)
    assert (out.loc["d", "rank_low"], out.loc["d", "rank_high"]) == (4, 4)
    assert out.loc["b", "rank_low"] == 2 and out.loc["b", "rank_high"] == 3
    assert out.loc["c", "rank_low"] == 2 and out.loc["c", "rank_high"] == 3
    # Seeded: the same seed gives the same intervals.
    again = indices.rank_intervals(estimates, cov, rng=7, draws=4000)
    pd.testing.assert_frame_equal(out, again)
    ascending = indices.rank_intervals(estimates, cov, rng=7, descending=False)
    assert ascending["rank"].tolist() == [4, 3, 2, 1]


def test_rank_interval_coverage_of_the_true_rank():
    # With the true covariance, the interval should contain the true rank in most replications.
    rng = np.random.default_rng(11)
    truth = np.array([60.0, 61.0, 63.0, 66.0, 70.0])
    sd = 1.5
    hits = np.zeros(5)
    reps = 200
    true_rank = pd.Series(-truth).rank().to_numpy()
    for _ in range(reps):
        est = pd.Series(truth + rng.normal(0, sd, 5))
        out = indices.rank_intervals(est, np.eye(5) * sd**2, draws=500, rng=rng)
        hits += (out["rank_low"].to_numpy() <= true_rank) & (true_rank <= out["rank_high"].to_numpy())
    assert (hits / reps).min() > 0.85


def test_errors_name_the_argument(survey):
    design = weighting.Design(survey, weights="w")
    with pytest.raises(WeightingError, match="weights"):
        indices.composite_index(design, ["i1", "i2"], weights=[1.0])
    with pytest.raises(WeightingError, match="not in items"):
        indices.composite_index(design, ["i1", "i2"], weights={"i9": 1.0})
    with pytest.raises(WeightingError, match="non-negative"):
        indices.item_weights(["a"], [-1.0])
    with pytest.raises(WeightingError, match="covariance"):
        indices.rank_intervals(pd.Series([1.0, 2.0]), np.eye(3))
    with pytest.raises(WeightingError, match="items"):
        indices.rescale(survey, ["nope"])


def test_ranked_composite_equals_rank_intervals_on_composite_covariance(survey):
    items = ["i1", "i2", "i3"]
    design = weighting.Design(survey, weights="w", strata="stratum")
    ranked = indices.ranked_composite(design, items, by="county", rng=5, draws=1000).set_index("county")
    table = indices.composite_index(design, items, by="county").set_index("county")
    cov = indices.composite_covariance(design, items, by="county")
    ranks = indices.rank_intervals(table.loc[cov.index, "estimate"], cov, rng=5, draws=1000)
    pd.testing.assert_frame_equal(ranked[table.columns], table)
    pd.testing.assert_frame_equal(ranked.loc[cov.index, ["rank", "rank_low", "rank_high", "rank_mean"]],
                                  ranks[["rank", "rank_low", "rank_high", "rank_mean"]], check_names=False)
    # County c1 (highest level) is first; c4 (lowest) last, with no overlap.
    assert ranked.loc["c1", "rank_high"] < ranked.loc["c4", "rank_low"]


def test_bootstrap_rank_intervals_agree_with_the_simulation(survey):
    items = ["i1", "i2", "i3", "i4"]
    base = weighting.Design(survey, weights="w", strata="stratum")
    design = base.replicate("bootstrap", replicates=200, rng=9)
    boot = indices.bootstrap_rank_intervals(design, items, by="county")
    table = indices.composite_index(base, items, by="county").set_index("county")
    np.testing.assert_allclose(boot["estimate"], table.loc[boot.index, "estimate"], rtol=1e-12)
    simulated = indices.ranked_composite(design, items, by="county", rng=9).set_index("county")
    assert boot["rank"].tolist() == simulated.loc[boot.index, "rank"].tolist()
    # Same conclusions: which counties cannot be told apart.
    for county in boot.index:
        assert abs(boot.loc[county, "rank_low"] - simulated.loc[county, "rank_low"]) <= 1
        assert abs(boot.loc[county, "rank_high"] - simulated.loc[county, "rank_high"]) <= 1
    assert boot.loc["c1", "rank_high"] < boot.loc["c4", "rank_low"]
    again = indices.bootstrap_rank_intervals(design, items, by="county")
    pd.testing.assert_frame_equal(boot, again)
    with pytest.raises(WeightingError, match="bootstrap"):
        indices.bootstrap_rank_intervals(base.replicate("jkn"), items, by="county")
    with pytest.raises(WeightingError, match="bootstrap"):
        indices.bootstrap_rank_intervals(base, items, by="county")


def test_loading_weights_match_the_first_principal_component(survey):
    items = ["i1", "i2", "i3", "i4", "i5"]
    w = indices.loading_weights(survey, items)
    values, vectors = np.linalg.eigh(np.corrcoef(survey[items].to_numpy(), rowvar=False))
    np.testing.assert_allclose(w.to_numpy(), vectors[:, -1] ** 2, rtol=1e-10)
    assert w.sum() == pytest.approx(1.0) and (w > 0).all()
    # Integer weights act as frequency weights.
    freq = np.where(np.arange(len(survey)) % 3 == 0, 2.0, 1.0)
    repeated = survey.loc[survey.index.repeat(freq.astype(int))]
    np.testing.assert_allclose(indices.loading_weights(survey, items, weights=freq), indices.loading_weights(repeated, items),
                               rtol=1e-10)
    np.testing.assert_allclose(indices.loading_weights(survey.assign(f=freq), items, weights="f"),
                               indices.loading_weights(repeated, items), rtol=1e-10)
    with pytest.raises(WeightingError, match="two items"):
        indices.loading_weights(survey, ["i1"])
    with pytest.raises(WeightingError, match="without variation"):
        indices.loading_weights(survey.assign(k=3.0), ["i1", "k"])
