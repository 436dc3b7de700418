"""replicate_design (supplied replicate weights) against R ``survey``'s svrepdesign.

Each case of ``tests/reference/weighting/reference_svrep.json`` (``make_reference_svrep.R``)
ships its replicate weights; they are appended to the CSV as ``rep1..repR`` and the design is
built with :func:`weighting.replicate_design`. Means, totals, ratios, domain means,
proportions with logit intervals and a regression are compared with R to 1e-7 relative, and
the first three again after a post-stratification or calibration of the replicate design.

After an adjustment R recomputes ``degf`` as the rank of the adjusted replicate weights minus
1, which the nonlinear adjustment raises (8 -> 15 for JKn with 8 strata of 2 PSUs): a
numerical artefact, not more independent PSU contrasts. A design keeps its degrees of freedom
through adjustments, so the intervals of adjusted estimates are compared with our t quantile.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy import stats

import weighting
from tests.weighting.test_regression_reference import close, r_name

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "weighting" / "reference_svrep.json"
CASES = json.loads(REFERENCE.read_text(encoding="utf-8"))["cases"]


def supplied_design(case: dict[str, Any], reference_data) -> weighting.Design:
    data = reference_data(case["data"])
    reps = pd.DataFrame({f"rep{j + 1}": col for j, col in enumerate(case["replicate_weights"])})
    data = pd.concat([data, reps], axis=1).assign(one=1.0)
    args = dict(case["svrep"])
    kwargs = {
        "weights": args.pop("weights"), "type": args.pop("type"),
        "combined_weights": args.pop("combined_weights"), "mse": args.pop("mse"),
    }
    kwargs.update(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        design = weighting.replicate_design(data, replicate_weights=r"^rep[0-9]+$", **kwargs)
    if kwargs["type"] == "JK1" and "scale" not in kwargs:
        assert any("scale (n-1)/n not given" in str(w.message) for w in caught)
    return design


def adjusted(design: weighting.Design, spec: dict[str, Any]) -> weighting.Design:
    if spec["kind"] == "poststratify":
        population = pd.DataFrame({spec["column"]: list(spec["population"]), "count": list(spec["population"].values())})
        return design.poststratify(population)
    return design.calibrate(spec["totals"])


def ours(design: weighting.Design, res: dict[str, Any], v: dict[str, str]) -> pd.Series:
    stat = res["statistic"]
    if stat == "mean":
        table = design.mean(v["y"], by=v["dom"] if "by" in res else None)
        if "by" in res:
            table = table[table[v["dom"]] == res["by"][v["dom"]]]
    elif stat == "total":
        table = design.total(v["x"])
    elif stat == "ratio":
        table = design.ratio(v["y"], v["x"])
    elif stat == "proportion":
        table = design.proportion(v["dom"], ci="logit")
        table = table[table["category"] == res["category"]]
    else:
        fit = design.glm(f"{v['y']} ~ {v['x']} + {v['dom']}")
        table = fit.coefficients[[r_name(t) == res["term"] for t in fit.coefficients["term"]]]
    assert len(table) == 1, (res, table)
    return table.iloc[0]


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_supplied_replicate_weights_match_r(case_id: str, reference_data) -> None:
    case = CASES[case_id]
    design = supplied_design(case, reference_data)
    assert design.df == case["degf"]
    assert design.replicates.scale == pytest.approx(case["scale"], rel=1e-12)
    assert list(design.replicates.rscales) == pytest.approx(case["rscales"], rel=1e-12)
    adjusted_design = adjusted(design, case["adjust"]) if case["adjust"] else None
    if adjusted_design is not None:
        assert adjusted_design.df == design.df != case["degf_adjusted"]
    problems = []
    for res in case["results"]:
        target = adjusted_design if res.get("adjusted") else design
        row = ours(target, res, case["variables"])
        if res.get("adjusted"):
            half = stats.t.ppf(0.975, design.df) * row["se"]
            assert row["ci_low"] == pytest.approx(row["estimate"] - half, rel=1e-12)
        for key in ("estimate", "se") if res.get("adjusted") else ("estimate", "se", "ci_low", "ci_high"):
            # the SE of a calibration variable's total is 0 up to rounding (R: 1e-11)
            tiny = key == "se" and res["se"] < 1e-9 * abs(res["estimate"])
            scale = abs(res["estimate"]) if key != "se" or tiny else 0.0
            if key in res and not close(row[key], res[key], scale):
                problems.append((res["statistic"], res.get("term") or res.get("category") or res.get("by"), key, row[key], res[key]))
    assert not problems, f"{case_id}: {len(problems)} mismatches, e.g. {problems[:4]}"


def test_supplied_design_cannot_be_replicated_again(reference_data) -> None:
    design = supplied_design(CASES["brr_factors"], reference_data)
    with pytest.raises(weighting.WeightingError, match="supplied replicate weights \\(type 'BRR'\\)"):
        design.replicate("jk1")
    assert not math.isnan(design.mean("y")["se"].iloc[0])
