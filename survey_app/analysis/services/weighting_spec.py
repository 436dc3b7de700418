"""Weighting scheme specifications: validation and computation on a DataFrame.

No database here: :func:`compute` takes the analysis frame (one row per sampled unit or
response, see :data:`RESERVED`) and a validated spec and runs :mod:`weighting`, so the same spec
and the same frame always give the same weights. :mod:`survey_app.analysis.services.weighting_schemes`
builds the frame from the database.

Spec (JSON)::

    {"responses": "complete" | "approved",
     "design": {"sample_draw_id": 3 | null, "strata": true, "fpc": true, "psu": null | "school",
                "lonely_psu": "fail",
                "stages": [{"psu": "school", "population": "stage1_population"},
                           {"psu": null, "population": "stage2_population"}]   (optional)},
     "nonresponse": {"classes": ["stratum"]} | null,
     "poststratify": {"population": [{"county": "A", "sex": "f", "count": 1200}, ...]}
                     | {"population_csv": "county,sex,count\nA,f,1200\n..."} | null,
     "rake": {"margins": {"sex": {"f": 510, "m": 490}, ...}, "max_iter": 100} | null,
     "calibrate": {"totals": {"sex": {"f": 510, "m": 490}, "age": 41000.0},
                   "method": "linear" | "raking" | "logit", "bounds": [0.5, 3.0]} | null,
     "trim": {"lower": 0.3, "upper": 5.0} | null,
     "replicates": {"method": "jkn", "replicates": null, "seed": 20260901, "fay": null} | null}

``design.stages`` describes a multi-stage draw (e.g. ``sampling.draw_two_stage_sample``): one
entry per stage, outermost first, with the cluster id of that stage (a frame attribute; null in
the last stage for the sampled unit itself) and the key of the sample units' per-stage record
(``SampleUnit.stage``) holding the population count of that stage. The design is then
``weighting.Design(psu=[ids...], fpc=[populations...])``, as R's
``svydesign(id=~psu+unit, fpc=~N1+N2)``, so the variance of later stages is kept (also under a
certainty first stage). It replaces ``psu`` and the single-stage FPC (``stratum_population``).

Adjustments run in the order nonresponse -> poststratify -> rake -> calibrate -> trim.
Without a sample draw every response gets base weight 1 and the result is labelled
non-probability (opt-in online samples, DOMAIN.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

import weighting
from survey_app.core.errors import ValidationFailed
from weighting.diagnostics import weight_summary
from weighting.errors import ConvergenceWarning, WeightingError

RESPONSE_ID = "_response_id"


BASE_WEIGHT = "_base_weight"


STRATUM = "_stratum"


FPC = "_fpc"


DISPOSITION = "_disposition"


UNIT = "_unit"


STAGE_PREFIX = "_stage_"


#: Columns of the analysis frame that are not survey variables (multi-stage designs add
#: :data:`UNIT`, the sample unit id, and :data:`STAGE_PREFIX` + key per-stage columns).
RESERVED = (RESPONSE_ID, BASE_WEIGHT, STRATUM, FPC, DISPOSITION)


#: Friendly names usable in a spec for the design columns.
ALIASES = {"stratum": STRATUM}


LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")


class StageSpec(Schema):
    psu = fields.String(load_default=None, allow_none=True, metadata={"description": "Frame attribute holding this stage's cluster id; null in the last stage for the sampled unit itself."})
    population = fields.String(required=True, metadata={"description": "Key of the sample units' per-stage record holding this stage's population count (e.g. stage1_population: PSUs in the stratum; stage2_population: units in the PSU)."})


class DesignSpec(Schema):
    sample_draw_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 2_147_483_647), metadata={"description": "Sample draw giving design weights, strata and FPC; null for a non-probability sample (weight 1)."})
    strata = fields.Boolean(load_default=True)
    fpc = fields.Boolean(load_default=True)
    psu = fields.String(load_default=None, allow_none=True, metadata={"description": "Frame attribute holding the cluster (PSU) id."})
    lonely_psu = fields.String(load_default="fail", validate=validate.OneOf(LONELY_PSU))
    stages = fields.List(fields.Nested(StageSpec), allow_none=True, validate=validate.Length(min=1, max=10), metadata={"description": "Multi-stage draw: one entry per stage, outermost first (cluster id and population key); replaces psu and the single-stage FPC. Omit for a single-stage design."})

    @validates_schema
    def _stages(self, data: Mapping[str, Any], **_: Any) -> None:
        stages = data.get("stages")
        if not stages:
            return
        if data.get("psu") is not None:
            raise ValidationError("give the cluster ids in stages, not psu", "psu")
        if any(stage.get("psu") is None for stage in stages[:-1]):
            raise ValidationError("only the last stage may have psu null (the sampled unit)", "stages")


class NonresponseSpec(Schema):
    classes = fields.List(fields.String(), load_default=list, metadata={"description": "Weighting-class variables (frame attributes or 'stratum')."})


class PoststratifySpec(Schema):
    population = fields.List(fields.Dict(), load_default=None, allow_none=True, metadata={"description": "Rows with the post-stratum columns and 'count'."})
    population_csv = fields.String(load_default=None, allow_none=True, metadata={"description": "The same as CSV text (header row, then one row per cell)."})

    @validates_schema
    def _one_source(self, data: Mapping[str, Any], **_: Any) -> None:
        if (data.get("population") is None) == (data.get("population_csv") is None):
            raise ValidationError("give exactly one of population or population_csv", "population")


class RakeSpec(Schema):
    margins = fields.Dict(keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Float()), required=True)
    max_iter = fields.Integer(load_default=100, validate=validate.Range(1, 10000))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool | Mapping | list):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _check_totals(totals: Mapping[str, Any]) -> None:
    """Each total is a number, or ``{level: count}`` with numbers (anything else failed later, in the computation)."""
    problems = [
        _("%(variable)s: give a number, or {level: count} with numbers", variable=repr(name))
        for name, value in totals.items()
        if not all(_is_number(v) for v in (value.values() if isinstance(value, Mapping) else [value]))
    ]
    if problems:
        raise ValidationError(problems)


class CalibrateSpec(Schema):
    totals = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True, validate=_check_totals, metadata={"description": "{variable: {level: count}} for categorical, {variable: total} for numeric auxiliaries."})
    method = fields.String(load_default="linear", validate=validate.OneOf(("linear", "raking", "logit")))
    bounds = fields.List(fields.Float(), load_default=None, allow_none=True, validate=validate.Length(equal=2))
    max_iter = fields.Integer(load_default=100, validate=validate.Range(1, 10000))


class TrimSpec(Schema):
    lower = fields.Float(load_default=None, allow_none=True)
    upper = fields.Float(load_default=None, allow_none=True)


class ReplicatesSpec(Schema):
    method = fields.String(required=True, validate=validate.OneOf(("jk1", "jkn", "brr", "fay", "bootstrap")))
    replicates = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(2, 1000))
    seed = fields.Integer(load_default=20260901, validate=validate.Range(0, 2**32 - 1))
    fay = fields.Float(load_default=None, allow_none=True)


class SchemeSpec(Schema):
    responses = fields.String(load_default="complete", validate=validate.OneOf(("complete", "approved")), metadata={"description": "Complete responses, or those approved at the final review level."})
    design = fields.Nested(DesignSpec, load_default=lambda: DesignSpec().load({}))
    nonresponse = fields.Nested(NonresponseSpec, load_default=None, allow_none=True)
    poststratify = fields.Nested(PoststratifySpec, load_default=None, allow_none=True)
    rake = fields.Nested(RakeSpec, load_default=None, allow_none=True)
    calibrate = fields.Nested(CalibrateSpec, load_default=None, allow_none=True)
    trim = fields.Nested(TrimSpec, load_default=None, allow_none=True)
    replicates = fields.Nested(ReplicatesSpec, load_default=None, allow_none=True)

    @validates_schema
    def _consistent(self, data: Mapping[str, Any], **_: Any) -> None:
        if data.get("nonresponse") is not None and data["design"].get("sample_draw_id") is None:
            raise ValidationError("a nonresponse adjustment needs the sample draw (design.sample_draw_id)", "nonresponse")
        if data["design"].get("stages") and data["design"].get("sample_draw_id") is None:
            raise ValidationError("a multi-stage design needs the sample draw (design.sample_draw_id)", "design")
        cal = data.get("calibrate")
        if cal is not None and cal["method"] == "logit" and not cal.get("bounds"):
            raise ValidationError("method 'logit' needs bounds [lower, upper]", "calibrate")
        trim = data.get("trim")
        if trim is not None and trim.get("lower") is None and trim.get("upper") is None:
            raise ValidationError("give lower and/or upper", "trim")


def load_spec(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a spec (422 listing every problem) and return it in canonical form."""
    try:
        spec: dict[str, Any] = SchemeSpec().load(dict(data))
    except ValidationError as exc:
        raise ValidationFailed("The weighting scheme is not valid.", exc.normalized_messages()) from exc
    post = spec.get("poststratify")
    if post is not None and post.get("population_csv") is not None:
        post["population"] = _population_from_csv(post.pop("population_csv"))
        post["population_csv"] = None
    if post is not None:
        post.pop("population_csv", None)
        _check_population(post["population"])
    return spec


def spec_digest(spec: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _population_from_csv(text: str) -> list[dict[str, Any]]:
    try:
        frame = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValidationFailed("The population CSV cannot be read.", {"poststratify": {"population_csv": [str(exc)]}}) from exc
    return [dict(row) for row in frame.to_dict(orient="records")]


def _check_population(rows: list[dict[str, Any]]) -> None:
    problems: list[str] = []
    if not rows:
        problems.append("the population table has no rows")
    for i, row in enumerate(rows):
        if "count" not in row:
            problems.append(f"row {i + 1} has no 'count'")
            continue
        try:
            count = float(row["count"])
        except (TypeError, ValueError):
            problems.append(f"row {i + 1}: count {row['count']!r} is not a number")
            continue
        if not count > 0:
            problems.append(f"row {i + 1}: count must be positive, got {row['count']!r}")
        if len(row) < 2:
            problems.append(f"row {i + 1} has no post-stratum column")
    if rows and len({tuple(sorted(k for k in r if k != "count")) for r in rows}) > 1:
        problems.append("every row must have the same post-stratum columns")
    if problems:
        raise ValidationFailed("The population counts are not valid.", {"poststratify": {"population": problems}})


@dataclass
class SchemeResult:
    """The computed scheme: the final design (respondents only) and what to store."""

    design: weighting.Design
    frame: pd.DataFrame
    base_weights: np.ndarray
    weights: np.ndarray
    replicate_weights: np.ndarray | None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    data_sha256: str = ""
    weights_sha256: str = ""


def _plain(value: Any) -> Any:
    """JSON-ready copy of adjustment details (numpy scalars and arrays become Python)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _column(name: str) -> str:
    return ALIASES.get(name, name)


def _as_levels(frame: pd.DataFrame, columns: list[str], argument: str) -> pd.DataFrame:
    """Categorical adjustment variables as strings (targets arrive as JSON/CSV strings)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationFailed(
            f"{argument}: unknown variable(s) {', '.join(map(repr, missing))}.",
            {argument: [f"unknown variable {c!r}" for c in missing]},
        )
    out = frame.copy()
    for c in columns:
        out[c] = out[c].map(_level, na_action="ignore")
    return out


def _level(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 over the frame's columns (sorted by name) in response order.

    Each column contributes its name, dtype and pandas' stable 64-bit value hashes (floats by
    value, text by its string), so the same data give the same digest on every machine.
    """
    canonical = frame.sort_values(RESPONSE_ID, kind="mergesort").reset_index(drop=True)
    digest = hashlib.sha256()
    for name in sorted(canonical.columns, key=str):
        column = canonical[name]
        if column.dtype == object:
            column = column.map(lambda v: v if v is None or isinstance(v, str) else repr(v), na_action="ignore")
        digest.update(f"{name}\x1f{column.dtype}\x1e".encode())
        digest.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _weights_digest(weights: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(weights, dtype="<f8").tobytes()).hexdigest()


def compute(frame: pd.DataFrame, spec: Mapping[str, Any]) -> SchemeResult:
    """Run the scheme on ``frame``; :class:`ValidationFailed` (422) when weighting refuses.

    ``frame`` has :data:`RESPONSE_ID` (null for sampled units without a response),
    :data:`BASE_WEIGHT`, :data:`STRATUM`, :data:`FPC`, :data:`DISPOSITION` and the variables.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            result = _compute(frame, spec)
    except WeightingError as exc:
        raise ValidationFailed(str(exc), {"weighting": [str(exc)]}) from exc
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    if not result.diagnostics["converged"]:
        # An adjustment that does not reach its targets is infeasible for this data: refuse it.
        message = messages[0] if messages else "the weighting adjustment did not converge"
        raise ValidationFailed(message, {"weighting": messages or [message]})
    result.diagnostics["warnings"] = messages
    return result


def _adjustment_frame(frame: pd.DataFrame, spec: Mapping[str, Any]) -> pd.DataFrame:
    """Categorical adjustment variables converted to string levels."""
    categorical: list[str] = []
    if spec.get("nonresponse"):
        categorical += [_column(c) for c in spec["nonresponse"]["classes"]]
    if spec.get("poststratify"):
        population = spec["poststratify"]["population"]
        categorical += [_column(c) for c in population[0] if c != "count"]
    if spec.get("rake"):
        categorical += [_column(c) for c in spec["rake"]["margins"]]
    if spec.get("calibrate"):
        categorical += [_column(c) for c, v in spec["calibrate"]["totals"].items() if isinstance(v, Mapping)]
    return _as_levels(frame, list(dict.fromkeys(categorical)), "weighting")


def _design(frame: pd.DataFrame, spec: Mapping[str, Any]) -> weighting.Design:
    design_spec = spec["design"]
    probability = design_spec.get("sample_draw_id") is not None
    strata = STRATUM if probability and design_spec.get("strata") and frame[STRATUM].notna().any() else None
    fpc: str | list[str] | None = FPC if probability and design_spec.get("fpc") and frame[FPC].notna().all() else None
    single_psu: str | None = design_spec.get("psu") if probability else None
    if single_psu is not None and single_psu not in frame.columns:
        raise ValidationFailed(f"design.psu: unknown variable {single_psu!r}.", {"design": {"psu": [f"unknown variable {single_psu!r}"]}})
    psu: str | list[str] | None = single_psu
    stages = design_spec.get("stages") if probability else None
    if stages:
        psu, stage_fpc = _stage_columns(frame, stages)
        fpc = stage_fpc if design_spec.get("fpc") else None
    if strata is not None:
        frame[STRATUM] = frame[STRATUM].fillna("(none)")
    return weighting.Design(frame, weights=BASE_WEIGHT, strata=strata, psu=psu, fpc=fpc, lonely_psu=design_spec.get("lonely_psu", "fail"))


def stage_keys(spec: Mapping[str, Any]) -> list[str]:
    """Keys of the per-stage record (``SampleUnit.stage``) that a multi-stage spec reads."""
    return [stage["population"] for stage in spec.get("design", {}).get("stages") or []]


def _stage_columns(frame: pd.DataFrame, stages: list[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Cluster id and population columns of each stage (422 when the draw lacks them)."""
    ids: list[str] = []
    populations: list[str] = []
    for i, stage in enumerate(stages, start=1):
        name = stage.get("psu")
        if name is not None and name not in frame.columns:
            raise ValidationFailed(f"design.stages: stage {i}: unknown variable {name!r}.", {"design": {"stages": [f"stage {i}: unknown variable {name!r}"]}})
        ids.append(UNIT if name is None else name)
        column = STAGE_PREFIX + stage["population"]
        if column not in frame.columns or not frame[column].notna().all():
            message = f"stage {i}: the sample draw has no {stage['population']!r} for every unit"
            raise ValidationFailed(f"design.stages: {message}.", {"design": {"stages": [message]}})
        populations.append(column)
    return ids, populations


def _compute(frame: pd.DataFrame, spec: Mapping[str, Any]) -> SchemeResult:
    if frame.empty or not (frame[DISPOSITION] == "respondent").any():
        raise ValidationFailed("There are no responses to weight.", {"responses": ["no responses match the scheme"]})
    frame = _adjustment_frame(frame.sort_values([RESPONSE_ID], kind="mergesort", na_position="last").reset_index(drop=True), spec)
    data_sha = frame_digest(frame)
    adjustments: list[dict[str, Any]] = []
    respondents = (frame[DISPOSITION] == "respondent").to_numpy()

    if spec.get("nonresponse") is not None:
        design = _design(frame, spec)
        classes = [_column(c) for c in spec["nonresponse"]["classes"]] or None
        adjusted = design.adjust_nonresponse(DISPOSITION, classes)
        adjustments.append({"kind": "nonresponse", "details": _plain(adjusted.adjustments[-1].details)})
        frame = frame.loc[respondents].reset_index(drop=True)
        sampled_weights = np.asarray(design.weights)[respondents]
        frame[BASE_WEIGHT] = np.asarray(adjusted.weights)[respondents]
    else:
        frame = frame.loc[respondents].reset_index(drop=True)
        sampled_weights = frame[BASE_WEIGHT].to_numpy(dtype=float)

    design = _design(frame, spec)
    if spec.get("poststratify") is not None:
        population = pd.DataFrame(spec["poststratify"]["population"])
        population = population.rename(columns={c: _column(c) for c in population.columns})
        for c in population.columns:
            population[c] = population[c].astype(float) if c == "count" else population[c].map(_level)
        design = design.poststratify(population)
        adjustments.append({"kind": "poststratify", "details": _plain(design.adjustments[-1].details)})
    if spec.get("rake") is not None:
        margins = {_column(c): {str(k): float(v) for k, v in levels.items()} for c, levels in spec["rake"]["margins"].items()}
        design = design.rake(margins, max_iter=spec["rake"]["max_iter"])
        adjustments.append({"kind": "rake", "details": _plain(design.adjustments[-1].details)})
    if spec.get("calibrate") is not None:
        cal = spec["calibrate"]
        totals = _totals(cal["totals"])
        bounds = tuple(cal["bounds"]) if cal.get("bounds") else None
        design = design.calibrate(totals, method=cal["method"], bounds=bounds, max_iter=cal["max_iter"])  # type: ignore[arg-type]
        adjustments.append({"kind": "calibrate", "details": _plain(design.adjustments[-1].details)})
    if spec.get("trim") is not None:
        design = design.trim(lower=spec["trim"].get("lower"), upper=spec["trim"].get("upper"))
        adjustments.append({"kind": "trim", "details": _plain(design.adjustments[-1].details)})
    replicate_weights = None
    if spec.get("replicates") is not None:
        rep = spec["replicates"]
        design = design.replicate(rep["method"], replicates=rep.get("replicates"), rng=rep["seed"], fay=rep.get("fay"))
        replicate_weights = design.replicate_weights.to_numpy(dtype=float)

    weights = np.asarray(design.weights, dtype=float)
    summary = weight_summary(weights, base_weights=sampled_weights).iloc[0]
    diagnostics = {
        "probability_sample": spec["design"].get("sample_draw_id") is not None,
        "respondents": int(len(frame)),
        "sum_of_weights": float(summary["sum"]),
        "kish_effective_n": float(summary["n_eff"]),
        "deff_weighting": float(summary["deff_weighting"]),
        "weight_min": float(summary["min"]),
        "weight_max": float(summary["max"]),
        "weight_ratio_max_min": float(summary["max"] / summary["min"]) if summary["min"] > 0 else None,
        "adjustment_factor_min": float(summary["ratio_min"]),
        "adjustment_factor_max": float(summary["ratio_max"]),
        "design_df": float(design.df),
        "adjustments": adjustments,
        "converged": all(a["details"].get("converged", True) is not False for a in adjustments),
    }
    return SchemeResult(
        design=design,
        frame=frame,
        base_weights=sampled_weights,
        weights=weights,
        replicate_weights=replicate_weights,
        diagnostics=_plain(diagnostics),
        data_sha256=data_sha,
        weights_sha256=_weights_digest(weights),
    )


def _totals(raw: Mapping[str, Any]) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping):
            totals[_column(name)] = {str(k): float(v) for k, v in value.items()}
        else:
            try:
                totals[_column(name)] = float(value)
            except (TypeError, ValueError) as exc:
                raise ValidationFailed(
                    f"calibrate.totals: {name!r} must be a number or {{level: count}}.",
                    {"calibrate": {"totals": [f"{name!r}: {value!r} is not a number"]}},
                ) from exc
    return totals
