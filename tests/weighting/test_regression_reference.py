"""Design.glm against R ``survey``'s svyglm, regTermTest and predict (reference_regression.json).

Each case of ``tests/reference/weighting/reference_regression.json`` (written by
``make_reference_regression.R``) is rebuilt from its design spec and steps; every coefficient
(estimate, SE, t, p), the residual df, n, the dispersion, every Wald test and every prediction
(link and response scale, estimate and SE) is compared with R to 1e-7 relative.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import weighting

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "weighting" / "reference_regression.json"
CASES = json.loads(REFERENCE.read_text(encoding="utf-8"))["cases"]
RTOL = 1e-7
METHODS = {"JK1": "jk1", "JKn": "jkn", "BRR": "brr", "Fay": "fay"}


def build_design(case: dict[str, Any], data: pd.DataFrame) -> weighting.Design:
    """The case's design with its steps applied, in order."""
    spec = case["design"]
    design = weighting.Design(
        data,
        weights=spec["weights"],
        strata=spec["strata"],
        psu=None if spec["ids"] == ["1"] else spec["ids"],
        fpc=spec["fpc"],
        lonely_psu=spec["lonely_psu"],
    )
    for step in case["steps"]:
        kind = step["kind"]
        if kind == "poststratify":
            design = design.poststratify(pd.DataFrame(step["population"]))
        elif kind == "calibrate":
            design = design.calibrate(step["totals"], method=step["calfun"], bounds=step["bounds"])
        elif kind == "rake":
            margins = {m["column"]: m["population"] for m in step["margins"]}
            design = design.rake(margins, max_iter=step["maxit"], tol=step["epsilon"])
        elif kind == "trim":
            design = design.trim(lower=step["lower"], upper=step["upper"], strict=step["strict"])
        elif kind == "replicate":
            design = design.replicate(METHODS[step["type"]], fay=step.get("fay_rho"))
        elif kind == "subset":
            mask = (data[step["column"]] == step["level"]).to_numpy(dtype=bool)
            design = design.subset(mask, df="domain")
        else:
            raise AssertionError(f"unknown step {kind!r}")
    return design


def r_name(term: str) -> str:
    """Our coefficient names in R's spelling: ``stype[T.H]`` -> ``stypeH``."""
    if term == "Intercept":
        return "(Intercept)"
    return re.sub(r"\[T\.(.*?)\]", r"\1", term).replace("`", "")


def close(ours: float, theirs: float | None, scale: float = 0.0) -> bool:
    if theirs is None:
        return ours is None or math.isnan(ours) or math.isinf(ours)
    return math.isclose(float(ours), float(theirs), rel_tol=RTOL, abs_tol=RTOL * scale)


def p_matches(ours: float, ours_from_r: float, theirs: float) -> bool:
    """p-values are functions of the statistic: ``ours_from_r`` is our p-value function at R's
    statistic (and our df), which must give R's p; our own p must be that function at our
    statistic (compared on its own, the p-value far in a tail magnifies the 1e-9 relative
    differences of the statistics, e.g. p = 1e-154 at t = 30)."""
    return close(ours_from_r, theirs) and not math.isnan(ours)


def check_fit(fit, ref: dict[str, Any], by: dict[str, str] | None, replicate: bool) -> list:
    """Coefficients, dispersion and n; with ``by`` our df is the design's (R's is the
    domain's), so p is checked against our own t and df instead of R's p."""
    problems: list = []
    table, model = fit.coefficients, fit.model
    for column, level in (by or {}).items():
        table, model = table[table[column] == level], model[model[column] == level]
    by_term = {r_name(t): row for t, row in zip(table["term"], table.to_dict("records"))}
    assert sorted(by_term) == sorted(c["term"] for c in ref["coefficients"])
    for coef in ref["coefficients"]:
        row = by_term[coef["term"]]
        for key in ("estimate", "se", "t"):
            scale = abs(coef["estimate"]) if key == "estimate" else 0.0
            if not close(row[key], coef[key], scale):
                problems.append((coef["term"], key, row[key], coef[key]))
        assert row["p"] == pytest.approx(2 * stats.t.sf(abs(row["t"]), row["df"]), rel=1e-12)
        if not by and not p_matches(row["p"], 2 * stats.t.sf(abs(coef["t"]), row["df"]), coef["p"]):
            problems.append((coef["term"], "p", row["p"], coef["p"]))
        half = stats.t.ppf(0.975, row["df"]) * row["se"]
        assert row["ci_low"] == pytest.approx(row["estimate"] - half, rel=1e-12, abs=1e-12)
        assert row["ci_high"] == pytest.approx(row["estimate"] + half, rel=1e-12, abs=1e-12)
    assert len(model) == 1
    model_row = model.iloc[0]
    dispersion = ref["dispersion_svyvar"] if replicate else ref["dispersion"]
    if not close(model_row["dispersion"], dispersion):
        problems.append(("dispersion", model_row["dispersion"], dispersion))
    if model_row["n"] != ref["n"]:
        problems.append(("n", model_row["n"], ref["n"]))
    return problems


def wald_p(statistic: float, row: pd.Series) -> float:
    """Our p-value function of a Wald statistic (F or chi-square) with the row's df."""
    if row["method"] == "F":
        return float(stats.f.sf(statistic, row["df"], row["ddf"]))
    return float(stats.chi2.sf(statistic, row["df"]))


def check_wald(fit, ref: dict[str, Any], mask: np.ndarray, ddf: float | None = None) -> list:
    """regTermTest; ``ddf``: use this denominator df (``by``: R's is the domain's)."""
    problems = []
    for test in ref["wald"]:
        out = fit.wald_test(test["terms"], method=test["method"], df=ddf if test["method"] == "F" else None)
        row = out[mask].iloc[0] if mask.size else out.iloc[0]
        if not p_matches(row["p"], wald_p(test["statistic"], row), test["p"]):
            problems.append(("wald", test["terms"], test["method"], "p", row["p"], test["p"]))
        assert row["p"] == pytest.approx(wald_p(row["statistic"], row), rel=1e-12)
        for key in ("statistic", "chisq", "df", "ddf"):
            if not close(row[key], test[key]):
                problems.append(("wald", test["terms"], test["method"], key, row[key], test[key]))
    return problems


def check_predict(fit, ref: dict[str, Any], data: pd.DataFrame, by: dict[str, str] | None) -> list:
    problems = []
    for pred in ref["predict"]:
        newdata = data.iloc[[r - 1 for r in pred["rows"]]]
        out = fit.predict(newdata, scale=pred["scale"])
        if by:
            (column, level), = by.items()
            out = out[out[column] == level]
        for key in ("estimate", "se"):
            for ours, theirs in zip(out[key], pred[key]):
                if not close(ours, theirs):
                    problems.append(("predict", pred["scale"], key, ours, theirs))
    return problems


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_glm_matches_r(case_id: str, reference_data) -> None:
    case = CASES[case_id]
    data = reference_data(case["data"])
    if case["data"].startswith("api"):
        data["hi"] = (data["api00"] > 700).astype(float)
    design = build_design(case, data)
    model = case["model"]
    by = model["by"]
    fit = design.glm(model["python"], family=model["family"], reference=model["reference"] or None, by=by)
    replicate = design.replicates is not None
    problems: list = []
    for ref in case["fits"]:
        if by:
            model_mask = (fit.model[by] == ref["by"][by]).to_numpy()
            problems += check_fit(fit, ref, ref["by"], replicate)
            model_row = fit.model[model_mask].iloc[0]
            assert model_row["df"] == design.df + 1 - len(fit.names)  # by= keeps the design's df
            problems += check_wald(fit, ref, model_mask, ddf=ref["df"])
            problems += check_predict(fit, ref, data, ref["by"])
        else:
            problems += check_fit(fit, ref, None, replicate)
            assert fit.df == ref["df"], (fit.df, ref["df"])
            problems += check_wald(fit, ref, np.array([], dtype=bool))
            problems += check_predict(fit, ref, data, None)
    assert not problems, f"{case_id}: {len(problems)} mismatches, e.g. {problems[:4]}"
