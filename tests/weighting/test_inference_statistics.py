"""svyvar, svyby(covmat=TRUE) / svycontrast / svyttest and svychisq / svytable / svytotal of a
factor, compared with R ``survey`` (``reference_inference.json``, see
``tests/reference/weighting/make_reference_inference.R``), on a stratified design with FPC,
one- and two-stage cluster designs with FPC, post-stratified and raked designs and a JK1
replicate design, with domains; plus identities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import weighting
from tests.weighting.test_reference_inference import CASES, close, designs

DESIGNS = ["strat", "clus1", "clus2", "post", "rake", "jk1"]


@pytest.fixture(scope="module")
def all_designs() -> dict[str, weighting.Design]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", weighting.ConvergenceWarning)
        return designs()


# ------------------------------------------------------------------ svyvar
@pytest.mark.parametrize("name", DESIGNS)
def test_variance_matches_svyvar(name: str, all_designs: dict[str, weighting.Design]) -> None:
    case = CASES["svyvar"]["results"][name]
    d = all_designs[name]
    row = d.variance("api00").iloc[0]
    close([row.estimate, row.se], [case["estimate"], case["se"]])
    assert row.df == d.df and np.isnan(row.deff)
    by = d.variance("api00", by="stype")
    assert by["stype"].tolist() == case["by"]
    close(by["estimate"], case["by_estimate"])
    close(by["se"], case["by_se"])


def test_variance_of_several_variables_is_the_diagonal_of_svyvar(all_designs: dict[str, weighting.Design]) -> None:
    case = CASES["svyvar"]["results"]["strat_matrix"]
    t = all_designs["strat"].variance(["api00", "api99"])
    close(t["estimate"], [case["estimate"][0], case["estimate"][3]])
    close(t["se"], [case["se"][0], case["se"][3]])


def test_variance_identities() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"y": rng.normal(size=30), "g": rng.choice(["a", "b"], 30)})
    d = weighting.Design(frame, weights=None)
    close(d.variance("y")["estimate"], [frame["y"].var(ddof=1)], rtol=1e-12)
    by = d.variance("y", by="g")
    close(by["estimate"], frame.groupby("g")["y"].var(ddof=1).to_numpy(), rtol=1e-12)
    # weights scaled by a constant give the same variance
    scaled = weighting.Design(frame, weights=np.full(30, 7.5))
    close(scaled.variance("y")["estimate"], d.variance("y")["estimate"], rtol=1e-12)
    with pytest.raises(weighting.WeightingError, match="missing must be"):
        d.variance("y", missing="drop")
