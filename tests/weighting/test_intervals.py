"""Proportion and t intervals: formulas, R conventions, and sense at p = 0 and p = 1."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from weighting import WeightingError
from weighting.intervals import PROPORTION_METHODS, proportion_interval, t_interval, t_quantile


def test_t_quantile_and_interval():
    assert t_quantile(0.95, 10) == pytest.approx(stats.t.ppf(0.975, 10))
    assert t_quantile(0.9, np.inf) == pytest.approx(stats.norm.ppf(0.95))
    assert np.isnan(t_quantile(0.95, 0))
    lo, hi = t_interval([1.0, 2.0], [0.5, 0.0], 10, 0.95)
    assert hi[0] - lo[0] == pytest.approx(2 * 0.5 * stats.t.ppf(0.975, 10))
    assert lo[1] == hi[1] == 2.0


def test_formulas():
    p, v, df = 0.2, 0.0016, 12
    t = stats.t.ppf(0.975, df)
    lo, hi = proportion_interval(p, v, df, 0.95, "logit", n=100, n_rows=100)
    half = t * np.sqrt(v) / (p * (1 - p))
    assert (lo, hi) == pytest.approx((special.expit(special.logit(p) - half), special.expit(special.logit(p) + half)))
    lo, hi = proportion_interval(p, v, df, 0.95, "wald", n=100, n_rows=100)
    assert (lo, hi) == pytest.approx((p - t * 0.04, p + t * 0.04))
    n_eff = p * (1 - p) / v * (stats.t.ppf(0.025, 99) / stats.t.ppf(0.025, df)) ** 2
    lo, hi = proportion_interval(p, v, df, 0.95, "beta", n=100, n_rows=100)
    assert lo == pytest.approx(stats.beta.ppf(0.025, n_eff * p, n_eff * (1 - p) + 1))
    assert hi == pytest.approx(stats.beta.ppf(0.975, n_eff * p + 1, n_eff * (1 - p)))
    n_eff = p * (1 - p) / v
    centre = (p + t**2 / (2 * n_eff)) / (1 + t**2 / n_eff)
    lo, hi = proportion_interval(p, v, df, 0.95, "wilson", n=100, n_rows=100)
    assert (lo + hi) / 2 == pytest.approx(centre)
    lo, hi = proportion_interval(p, v, df, 0.95, "asin", n=100, n_rows=100)
    assert lo == pytest.approx(np.sin(np.arcsin(np.sqrt(p)) - t * 0.04 / (2 * np.sqrt(p * (1 - p)))) ** 2)


@pytest.mark.parametrize("method", PROPORTION_METHODS)
def test_degenerate_proportions_give_sensible_intervals(method):
    lo, hi = proportion_interval(np.array([0.0, 1.0]), np.zeros(2), 14, 0.95, method, n=np.array([20, 20]),
                                 n_rows=np.array([20, 20]))
    assert lo[0] == 0.0 and 0.0 < hi[0] < 0.3
    assert hi[1] == 1.0 and 0.7 < lo[1] < 1.0
    assert not np.isnan(np.concatenate([lo, hi])).any()
    if method != "wilson":
        assert hi[0] == pytest.approx(1 - 0.025 ** (1 / 20))  # Clopper-Pearson with n = 20


def test_unknown_method():
    with pytest.raises(WeightingError, match="ci must be one of"):
        proportion_interval(0.5, 0.01, 10, 0.95, "score", n=10, n_rows=10)
