"""Estimates compared with R ``survey`` in situations the shared fixtures do not cover.

Reference values: ``tests/reference/estimation/extra_reference.json``, produced by
``make_extra_reference.R`` next to it from the shared data sets (R 4.2.2, survey 4.1.1):
quantiles by domain, ``lonely_psu`` options with domains and missing values, a two-stage
design with a lonely second-stage unit, a certainty stratum, FPCs given as sampling fractions,
R's ``degf`` of a subset, ratios by two crossed ``by`` columns, and a JK1 replicate design
(logit interval from replicate logits, deff, quantiles), and two stages with certainty strata
at stage 1 (their second-stage variance is still counted). Agreement: 1e-8 relative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import weighting
from tests.weighting.conftest import R_RTOL, _load_dataset

EXTRA = Path(__file__).resolve().parents[1] / "reference" / "estimation" / "extra_reference.json"
CASES = json.loads(EXTRA.read_text(encoding="utf-8"))["cases"]


def _data(name: str) -> pd.DataFrame:
    return _load_dataset(name).copy()


def _table(case_id: str, case: dict) -> pd.DataFrame:
    if case_id == "quantile_by_apistrat":
        d = weighting.Design(_data("apistrat"), weights="pw", strata="stype", fpc="fpc")
        # R: svyquantile(..., subset(d, sch.wide == lv), df=degf(d)): the full design's df
        return d.quantile("api00", [0.25, 0.5, 0.9], by="sch.wide", df=d.df).assign(statistic="quantile")
    if case_id.startswith("lonely_"):
        d = weighting.Design(_data("synth_small"), weights="w", strata="stratum", psu="psu",
                             lonely_psu=case["lonely_psu"])
        return pd.concat([d.mean("y", by="dom").assign(statistic="mean"),
                          d.total("x", by="dom").assign(statistic="total")])
    if case_id.startswith("two_stage_lonely_"):
        data = _data("apiclus2")
        one = data.groupby("dnum")["snum"].transform("size") == 1
        data["fpc2b"] = np.where(one, 2, data["fpc2"])
        d = weighting.Design(data, weights=None, psu=["dnum", "snum"], fpc=["fpc1", "fpc2b"],
                             lonely_psu=case["lonely_psu"])
        return pd.concat([d.mean(["api00", "api99"]).assign(statistic="mean"),
                          d.total("enroll").assign(statistic="total"),
                          d.mean("api00", by="stype").assign(statistic="mean")])
    if case_id == "certainty_stratum":
        data = _data("apistrat")
        data["fpc_cert"] = np.where(data["stype"] == "H", 50, data["fpc"])
        d = weighting.Design(data, weights="pw", strata="stype", fpc="fpc_cert")
        return pd.concat([d.mean("api00"), d.mean("api00", by="sch.wide")]).assign(statistic="mean")
    if case_id == "fpc_fraction":
        data = _data("apistrat")
        data["frac"] = 1 / data["pw"]
        d = weighting.Design(data, weights=None, strata="stype", fpc="frac")
        return pd.concat([d.mean("api00").assign(statistic="mean"),
                          d.ratio("api00", "api99").assign(statistic="ratio")])
    if case_id == "subset_degf_and_ratio_by2":
        data = _data("apiclus2")
        d = weighting.Design(data, weights=None, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
        sub = d.subset((data["stype"] == "H").to_numpy(), df="domain")
        return pd.concat([sub.mean("api00").assign(statistic="mean", stype="H"),
                          d.ratio("api00", "api99", by=["stype", "sch.wide"]).assign(statistic="ratio")])
    if case_id == "replicate_jk1_ciprop_deff_quantile":
        data = _data("apiclus1")
        data["sch.wide==Yes"] = data["sch.wide"] == "Yes"
        d = weighting.Design(data, weights="pw", psu="dnum", fpc="fpc").replicate("jk1")
        prop = d.proportion("sch.wide==Yes")
        return pd.concat([prop[prop["category"] == True].assign(statistic="proportion"),  # noqa: E712
                          d.mean("api00").assign(statistic="mean"),
                          d.quantile("api00", [0.25, 0.5]).assign(statistic="quantile")])
    if case_id == "two_stage_certainty_strata":
        data = _data("synth_small")
        npsu = data.groupby("stratum")["psu"].transform("nunique")
        data["fpc1"] = np.where(data["stratum"].isin(["S1", "S7"]), npsu, data["fpc_psu"])
        data["fpc2"] = 2 * data.groupby(["stratum", "psu"])["unit"].transform("size")
        d = weighting.Design(data, weights="w", strata="stratum", psu=["psu", "unit"], fpc=["fpc1", "fpc2"])
        return pd.concat([d.mean("x").assign(statistic="mean"), d.total("x").assign(statistic="total"),
                          d.mean("x", by="dom").assign(statistic="mean")])
    raise AssertionError(case_id)


def _close(ours: float, theirs: float | None, scale: float) -> bool:
    if theirs is None:
        return math.isnan(ours)
    return math.isclose(ours, theirs, rel_tol=R_RTOL, abs_tol=R_RTOL * scale)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_extra_reference(case_id: str) -> None:
    case = CASES[case_id]
    table = _table(case_id, case)
    problems = []
    by_columns = {col for res in case["results"] for col in res.get("by", {})}
    for res in case["results"]:
        rows = table[(table["statistic"] == res["statistic"]) & (table["variable"] == res["variable"])]
        for col in by_columns:
            if col in res.get("by", {}):
                rows = rows[rows[col].astype(str) == res["by"][col]]
            else:
                rows = rows[rows[col].isna()]
        if "quantile" in res:
            rows = rows[rows["quantile"] == res["quantile"]]
        assert len(rows) == 1, f"{case_id}: no unique row for {res}"
        row = rows.iloc[0]
        for key in ("estimate", "se", "ci_low", "ci_high", "df", "deff"):
            if key in res and not _close(float(row[key]), res[key], abs(res["estimate"])):
                problems.append((res.get("by"), res["variable"], key, row[key], res[key]))
    assert not problems, f"{case_id}: {problems[:5]}"
