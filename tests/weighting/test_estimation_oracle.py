"""Independent oracles: R's formulas written out with plain loops over strata and PSUs.

The library computes every (domain, variable) pair in one vectorised pass; these tests rebuild
single estimates the way R's ``svyrecvar``/``onestrat`` and ``qrule_math`` are written (one
stratum, one PSU, one domain at a time) on random designs and compare.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from weighting import Design


def _random_design(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 90))
    strata = int(rng.integers(1, 4))
    data = pd.DataFrame({
        "h": rng.integers(0, strata, n),
        "psu": rng.integers(0, 4, n),
        "w": rng.uniform(0.5, 4.0, n).round(2),
        "y": rng.integers(0, 20, n).astype(float),
        "g": rng.choice(["a", "b", "c"], n),
    })
    data.loc[rng.random(n) < 0.1, "y"] = np.nan
    # make sure every stratum has at least two PSUs
    for h in range(strata):
        idx = np.flatnonzero(data["h"] == h)
        if idx.size >= 2:
            data.loc[idx[0], "psu"], data.loc[idx[1], "psu"] = 0, 1
        else:
            data.loc[idx, "h"] = 0
    data["N"] = 10 + 3 * data["h"]
    return data


def _oracle_domain_mean(data: pd.DataFrame, level: str, fpc: bool) -> tuple[float, float]:
    """R: svymean(~y, subset(design, g == level), na.rm=TRUE), one stratum at a time."""
    inside = (data["g"] == level) & data["y"].notna()
    w = np.where(inside, data["w"], 0.0)
    y = np.where(inside, data["y"].fillna(0.0), 0.0)
    mean = (w * y).sum() / w.sum()
    z = w * (y - mean) / w.sum()
    var = 0.0
    for rows in data.groupby("h").groups.values():
        psus = data.loc[rows, "psu"].to_numpy()
        totals = np.array([z[rows][psus == p].sum() for p in np.unique(psus)])
        n_h = totals.size
        f = 1 - n_h / data.loc[rows, "N"].iloc[0] if fpc else 1.0
        var += f * n_h / (n_h - 1) * ((totals - totals.mean()) ** 2).sum()
    return mean, float(np.sqrt(var))


def _oracle_quantile(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """R's qrule_math via qs(): last position with cumulative weight <= p * total."""
    keep = w != 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    x, cum = x[order], np.cumsum(w[order].astype(np.longdouble)).astype(float)
    total = float(np.sum(w.astype(np.longdouble)))
    hits = np.flatnonzero(cum <= p * total)
    pos = hits[-1] if hits.size else 0
    nxt = min(pos + 1, x.size - 1)
    return float(x[pos] if p - cum[pos] / total == 0 else x[nxt])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), fpc=st.booleans())
def test_domain_means_match_loop_oracle(seed, fpc):
    data = _random_design(seed)
    d = Design(data, weights="w", strata="h", psu="psu", fpc="N" if fpc else None)
    table = d.mean("y", by="g").set_index("g")
    for level in table.index:
        mean, se = _oracle_domain_mean(data, level, fpc)
        assert table.loc[level, "estimate"] == pytest.approx(mean, rel=1e-12)
        assert table.loc[level, "se"] == pytest.approx(se, rel=1e-9, abs=1e-12)
        t = stats.t.ppf(0.975, d.df)
        assert table.loc[level, "ci_high"] == pytest.approx(mean + t * se, rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), p=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]))
def test_domain_quantiles_match_qrule_math(seed, p):
    data = _random_design(seed)
    d = Design(data, weights="w", strata="h", psu="psu")
    table = d.quantile("y", p, by="g").set_index("g")
    for level in table.index:
        inside = (data["g"] == level) & data["y"].notna()
        expected = _oracle_quantile(data.loc[inside, "y"].to_numpy(), data.loc[inside, "w"].to_numpy(), p)
        assert table.loc[level, "estimate"] == expected
