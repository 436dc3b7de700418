"""Issue #19 fixes compared with R ``survey``: jackknife with lonely and census strata, domain
degrees of freedom, degenerate proportions, ``survey.adjust.domain.lonely`` and ``rake()``'s
defaults.

Reference values: ``tests/reference/weighting/reference_inference.json``, written by
``make_reference_inference.R`` next to it (R 4.2.2, survey 4.1.1; the versions are in the
fixture). Agreement: ``R_RTOL`` relative.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import weighting
from tests.weighting.conftest import R_RTOL, _load_dataset

FIXTURE = Path(__file__).resolve().parents[1] / "reference" / "weighting" / "reference_inference.json"
REF: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
CASES: dict[str, Any] = REF["cases"]
POP_STYPE = pd.DataFrame({"stype": ["E", "H", "M"], "count": [4421.0, 755.0, 1018.0]})
MARGINS = {"stype": {"E": 4421.0, "H": 755.0, "M": 1018.0}, "sch.wide": {"No": 1072.0, "Yes": 5122.0}}


def data(name: str) -> pd.DataFrame:
    return _load_dataset(name).copy()


def close(ours: Any, theirs: Any, rtol: float = R_RTOL) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float), rtol=rtol, atol=0)


def designs() -> dict[str, weighting.Design]:
    """The designs of the R script, by the names it uses."""
    strat = weighting.Design(data("apistrat"), weights="pw", strata="stype", fpc="fpc")
    clus1 = weighting.Design(data("apiclus1"), weights="pw", psu="dnum", fpc="fpc")
    clus2 = weighting.Design(data("apiclus2"), weights=None, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    return {
        "strat": strat,
        "clus1": clus1,
        "clus2": clus2,
        "post": clus1.poststratify(POP_STYPE),
        "rake": clus1.rake(MARGINS, max_iter=100, tol=1e-12 / 6194.0),
        "jk1": clus1.replicate("jk1"),
    }


def synth(lonely_psu: str = "fail", **columns: Any) -> weighting.Design:
    frame = data("synth_small").assign(**columns)
    fpc = next(iter(columns), None)
    return weighting.Design(frame, weights="w", strata="stratum", psu="psu", fpc=fpc, lonely_psu=lonely_psu)


# ------------------------------------------------------------------ 1-2. jackknife (JKn)
def test_jkn_census_stratum_has_no_replicates_and_r_df() -> None:
    case = CASES["jkn_census_apistrat"]
    frame = data("apistrat")
    frame["fpc_c"] = np.where(frame["stype"] == "H", 50, frame["fpc"])
    linear = weighting.Design(frame, weights="pw", strata="stype", fpc="fpc_c")
    d = linear.replicate("jkn")
    assert d.replicates.weights.shape[1] == case["n_replicates"] == 150
    assert d.df == case["degf"] == 148  # was 197: the 50 census replicates counted
    close(d.replicates.rscales, case["rscales"])
    m = d.mean("api00").iloc[0]
    close([m.estimate, m.se, m.ci_low, m.ci_high], [case["mean"]["estimate"], case["mean"]["se"], *case["ci"]])
    t = d.total("enroll").iloc[0]
    close([t.estimate, t.se], [case["total"]["estimate"], case["total"]["se"]])
    by = d.mean("api00", by="sch.wide")
    close(by["se"], case["mean_by"]["se"])
    close(linear.mean("api00")["se"], [case["linear_mean"]["se"]])


@pytest.mark.parametrize("lonely", ["remove", "certainty", "adjust", "average"])
def test_jkn_lonely_stratum_follows_lonely_psu(lonely: str) -> None:
    case = CASES[f"jkn_lonely_{lonely}"]
    d = synth(lonely).replicate("jkn")
    assert d.replicates.weights.shape[1] == case["n_replicates"]
    assert d.df == case["degf"]
    close(d.replicates.scale, case["scale"])
    close(d.replicates.rscales, case["rscales"])
    m = d.mean("y").iloc[0]
    close([m.estimate, m.se], [case["mean_y"]["estimate"], case["mean_y"]["se"]])
    close(d.total("x")["se"], [case["total_x"]["se"]])
    by = d.mean("x", by="dom")
    assert by["dom"].tolist() == case["mean_x_by"]["by"]
    close(by["estimate"], case["mean_x_by"]["estimate"])
    close(by["se"], case["mean_x_by"]["se"])


def test_jkn_lonely_fail_names_the_stratum() -> None:
    with pytest.raises(weighting.WeightingError, match=r"Stratum \(S7\) has only one PSU"):
        synth("fail")
    frame = data("synth_small")
    with pytest.raises(weighting.WeightingError, match=r"strata_codes \[6\] have one"):
        weighting.replication.replicate_weights(
            "jkn", frame["w"], pd.factorize(frame["stratum"])[0], frame["psu"]
        )


def test_jkn_census_single_psu_stratum_needs_no_lonely_option() -> None:
    case = CASES["jkn_census_single_psu"]
    frame = data("synth_small")
    linear = synth("fail", fpc_cert=np.where(frame["stratum"] == "S7", 1, frame["fpc_psu"]))
    d = linear.replicate("jkn")
    assert d.replicates.weights.shape[1] == case["n_replicates"]
    assert d.df == case["degf"]
    close(d.replicates.rscales, case["rscales"])
    close(d.mean("x")["se"], [case["mean_x"]["se"]])
    close(d.total("x")["se"], [case["total_x"]["se"]])
    close(linear.mean("x")["se"], [case["linear_mean_x"]["se"]])


def test_jkn_average_with_census_stratum_leaves_census_psus_out_of_the_scale() -> None:
    """R scales by all PSUs / columns (15/12); census PSUs are not lonely: 13/12 here."""
    case = CASES["jkn_average_census"]
    frame = data("synth_small")
    d = synth("average", fpc_s1=np.where(frame["stratum"] == "S1", 2, 1000)).replicate("jkn")
    assert d.replicates.weights.shape[1] == case["n_replicates"] == 12
    assert d.df == case["degf"]
    close(case["scale"], 15 / 12)
    close(d.replicates.scale, 13 / 12)
    close(d.total("x")["se"] ** 2, [case["total_x"]["se"] ** 2 * 13 / 15])
