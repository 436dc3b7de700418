"""Every estimate of the R ``survey`` reference fixtures, recomputed with :class:`weighting.Design`.

Each case of ``tests/reference/weighting/reference.json`` is rebuilt from its ``design`` and
``steps`` and every result row is compared with R to ``R_RTOL`` (1e-8 relative) on estimate, SE,
CI bounds, df, n and deff. Rows marked ``degenerate`` (p = 0 or 1, where R's numbers are
floating-point artefacts) are compared on estimate and SE with an absolute tolerance and their
interval is checked for sense. Every interval of these fixtures was computed with ``df=degf(design)`` (the full design's
degrees of freedom), so proportions are asked for with ``df=design.df`` (without it, domains
use their own degrees of freedom as R's ``svyby(..., svyciprop)``; see
``test_reference_inference.py``). R's profile-likelihood interval is compared as
``ci="likelihood"``; ``xlogit``, the logit interval by another route, is compared as ``logit``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

import weighting
from tests.weighting.conftest import R_RTOL, _load_reference

CASES = sorted(_load_reference()["cases"])
METHODS = {"logit": "logit", "xlogit": "logit", "beta": "beta", "mean": "wald",
           "wilson_kish": "wilson", "asin": "asin", "likelihood": "likelihood"}


def _design(case: dict[str, Any], data: pd.DataFrame) -> weighting.Design:
    spec = case["design"]
    ids = [] if spec["ids"] == ["1"] else spec["ids"]
    return weighting.Design(
        data,
        weights=spec["weights"],
        strata=spec["strata"],
        psu=ids or None,
        fpc=spec["fpc"],
        lonely_psu=spec["lonely_psu"],
    )


def _population_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def _calibration_totals(step: dict[str, Any], data: pd.DataFrame) -> dict[str, Any]:
    terms = [t.strip() for t in step["formula"].lstrip("~").split("+")]
    pop = step["population"]
    totals: dict[str, Any] = {}
    for term in terms:
        if pd.api.types.is_numeric_dtype(data[term].dtype):
            totals[term] = pop[term]
            continue
        levels = sorted(data[term].dropna().unique())
        counts = {lv: pop[f"{term}{lv}"] for lv in levels[1:]}
        counts = {levels[0]: pop["(Intercept)"] - sum(counts.values()), **counts}
        totals[term] = counts
    return totals


def _apply(design: weighting.Design, step: dict[str, Any], data: pd.DataFrame) -> weighting.Design:
    kind = step["kind"]
    if kind == "poststratify":
        return design.poststratify(_population_frame(step["population"]))
    if kind == "rake":
        margins = {
            m["variables"][0]: {row[m["variables"][0]]: row["count"] for row in m["population"]}
            for m in step["margins"]
        }
        eps = step["control"]["epsilon"]
        tol = eps if eps < 1 else eps / float(design.weights.sum())
        return design.rake(margins, max_iter=step["control"]["maxit"], tol=tol)
    if kind == "calibrate":
        bounds = step["bounds"]
        lo = -math.inf if bounds[0] is None else bounds[0]
        hi = math.inf if bounds[1] is None else bounds[1]
        return design.calibrate(
            _calibration_totals(step, data), method=step["calfun"],
            bounds=None if (math.isinf(lo) and math.isinf(hi)) else (lo, hi),
            max_iter=step["maxit"], tol=step["epsilon"],
        )
    if kind == "trim":
        return design.trim(lower=step["lower"], upper=step["upper"], strict=step["strict"])
    if kind == "replicate":
        method = {"JK1": "jk1", "JKn": "jkn", "BRR": "brr", "Fay": "fay"}[step["type"]]
        return design.replicate(method, fay=step["fay_rho"] if method == "fay" else None)
    raise AssertionError(f"unknown step {kind}")


def _estimate(design: weighting.Design, case_id: str, res: dict[str, Any], data: pd.DataFrame) -> pd.Series:
    stat = res["statistic"]
    by = list(res.get("by", {}))
    if res.get("source") == "subset":
        col, level = next(iter(res["by"].items()))
        design = design.subset((data[col] == level).to_numpy(dtype=bool))
        by = []
    by_arg = by or None
    missing = "complete" if "complete_cases" in case_id else "domain"
    var = res["variable"]
    if stat in ("mean", "total") and "category" not in res:
        variables = [var]
        if missing == "complete":  # R's svymean(~q1+q2+q3+q4, na.rm=TRUE): all in one call
            variables = sorted({r["variable"] for r in _load_reference()["cases"][case_id]["results"]})
        table = getattr(design, stat)(variables, by=by_arg, missing=missing)
        table = table[table["variable"] == var]
    elif stat == "ratio":
        num, den = var.split("/")
        table = design.ratio(num, den, by=by_arg)
    elif stat == "quantile":
        table = design.quantile(var, res["quantile"], by=by_arg)
    else:
        match = re.fullmatch(r"(.+)==(.+)", var)
        method = METHODS[res.get("method", "mean")]
        if match:
            col, value = match.groups()
            values = data[col].astype(str) if not pd.api.types.is_numeric_dtype(data[col]) else data[col]
            flag = values == (value if isinstance(values.iloc[0], str) else type(values.iloc[0])(value))
            design = _with_column(design, var, flag.to_numpy(dtype=bool))
            table = design.proportion(var, by=by_arg, ci=method, df=design.df)
            table = table[table["category"] == True]  # noqa: E712 - category values are numpy bools
        else:
            table = design.proportion(var, by=by_arg, ci=method, df=design.df)
            table = table[table["category"].astype(str) == str(res["category"])]
    for col, level in (res.get("by", {}) if by else {}).items():
        table = table[table[col].astype(str) == str(level)]
    assert len(table) == 1, f"{case_id}: expected one row for {res}, got\n{table}"
    return table.iloc[0]


def _with_column(design: weighting.Design, name: str, values: np.ndarray) -> weighting.Design:
    """The same design over data with one more column (keeps the adjustment history)."""
    data = design.data.assign(**{name: values})
    return design._evolve(data=data)


def _close(ours: float, theirs: float, scale: float) -> bool:
    """Relative agreement; quantities that are 0 in exact arithmetic (the SE of a calibration
    variable, of a stratum share in a design stratified by it) are compared on the scale of
    the estimate, where both R and we leave rounding noise of ~1e-9 relative."""
    if theirs is None:
        return ours is None or (isinstance(ours, float) and math.isnan(ours))
    return math.isclose(float(ours), float(theirs), rel_tol=R_RTOL, abs_tol=R_RTOL * scale)


@pytest.mark.parametrize("case_id", CASES)
def test_reference_case(case_id: str, reference_case) -> None:
    case, data = reference_case(case_id)
    if case.get("error"):
        with pytest.raises(weighting.WeightingError, match=re.escape(case["error"])):
            _design(case, data)
        return
    design = _design(case, data)
    for step in case["steps"]:
        design = _apply(design, step, data)
    if "weights" in case:
        np.testing.assert_allclose(design.weights, case["weights"], rtol=1e-9)
    if "degf" in case.get("extra", {}):
        assert design.df == case["extra"]["degf"]
    problems = []
    for res in case["results"]:
        if "error" in res:
            continue
        row = _estimate(design, case_id, res, data)
        if res.get("degenerate"):
            for key in ("estimate", "se"):
                if res.get(key) is not None and abs(row[key] - res[key]) > 1e-9:
                    problems.append((res, key, row[key], res[key]))
            p = row["estimate"]
            if not (0 <= row["ci_low"] <= p <= row["ci_high"] <= 1):
                problems.append((res, "interval", row["ci_low"], row["ci_high"]))
            continue
        for key in ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff"):
            scale = abs(res["estimate"]) if key in ("se", "ci_low", "ci_high") else float(key == "deff")
            if key in res and not _close(row[key], res[key], scale):
                problems.append((res.get("variable"), res.get("by"), res.get("method"), key, row[key], res[key]))
    assert not problems, f"{case_id}: {len(problems)} mismatches, e.g. {problems[:4]}"
