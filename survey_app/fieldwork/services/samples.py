"""Sample design and draws: allocation preview, the sample-size calculator and logged draws.

Draws call :mod:`sampling` on the frame's units (``unit_key``, ``stratum``, ``size`` in file
order) and keep its manifest (seed, method, allocation table, frame hash, library version). A
draw is never redone in place: drawing again makes a new, separately numbered and audited sample,
and only after the designer confirms it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

import sampling
from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import Conflict, NotFound, ValidationFailed
from survey_app.fieldwork.models import FrameStatus, SampleDraw, SampleUnit, SamplingFrame
from survey_app.fieldwork.services import frames
from survey_app.projects.models import SurveyProject

ALLOCATIONS = ("proportional", "equal", "power")


METHODS = ("srswor", "systematic", "pps_systematic")


MAX_SEED = 2**31 - 1


INSERT_BATCH = 5_000


class DesignSchema(Schema):
    stratified = fields.Boolean(load_default=True)
    # stratification columns: the frame's stratum column and/or attribute columns (cross-classified);
    # when absent, ``stratified`` chooses between the stratum column and no strata
    strata = fields.List(fields.String(), load_default=None, allow_none=True)
    allocation = fields.String(load_default="proportional", validate=validate.OneOf(ALLOCATIONS))
    method = fields.String(load_default="srswor", validate=validate.OneOf(METHODS))
    sample_size = fields.Integer(required=True, validate=validate.Range(min=1))
    min_n = fields.Integer(load_default=0, validate=validate.Range(min=0))
    power = fields.Float(load_default=0.5, validate=validate.Range(min=0, max=1))
    seed = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_SEED))
    label = fields.String(load_default="", validate=validate.Length(max=200))
    confirm_new = fields.Boolean(load_default=False)


class CalculatorSchema(Schema):
    margin = fields.Float(required=True, validate=validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False))
    level = fields.Float(load_default=0.95, validate=validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False))
    p = fields.Float(load_default=0.5, validate=validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False))
    deff = fields.Float(load_default=1.0, validate=validate.Range(min=1))
    response_rate = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=1, min_inclusive=False))


@dataclass(frozen=True)
class Design:
    stratified: bool
    strata: list[str] | None
    allocation: str
    method: str
    sample_size: int
    min_n: int
    power: float
    seed: int | None
    label: str
    confirm_new: bool


def _blank_to_none(data: Mapping[str, Any]) -> dict[str, Any]:
    """Form fields left empty take the schema's default."""
    return {k: v for k, v in data.items() if v != ""}


def parse_design(data: Mapping[str, Any]) -> Design:
    try:
        values = DesignSchema().load(_blank_to_none(data), unknown="exclude")
    except ValidationError as exc:
        raise ValidationFailed("The sample design is not valid.", exc.normalized_messages()) from exc
    return Design(**values)


def calculate_size(data: Mapping[str, Any], population: int | None) -> dict[str, Any]:
    """The sample-size calculator: units to issue for a proportion within ``± margin``."""
    try:
        values = CalculatorSchema().load(_blank_to_none(data), unknown="exclude")
    except ValidationError as exc:
        raise ValidationFailed("The sample-size inputs are not valid.", exc.normalized_messages()) from exc
    try:
        issued = sampling.sample_size(values["margin"], level=values["level"], p=values["p"], deff=values["deff"], response_rate=values["response_rate"], population=population or None)
        completes = sampling.sample_size(values["margin"], level=values["level"], p=values["p"], deff=values["deff"], population=population or None)
    except sampling.SamplingError as exc:
        raise ValidationFailed("The sample size cannot be calculated.", {"margin": [str(exc)]}) from exc
    return {**values, "population": population, "completes": completes, "issued": issued}


def _ready(frame: SamplingFrame) -> None:
    if frame.status != FrameStatus.READY:
        raise Conflict(f"Frame {frame.name!r} is not ready to sample (status: {frame.status.value}).")


def strata_columns(frame: SamplingFrame, design: Design) -> list[str]:
    """The columns that define the strata (empty: unstratified), checked against the frame."""
    mapped = frame.columns.get("stratum") or ""
    available = [c for c in [mapped, *(frame.columns.get("attributes") or [])] if c]
    if design.strata is None:
        if design.stratified and not mapped:
            raise ValidationFailed("This frame has no stratum column.", {"stratified": ["map a stratum column when uploading the frame, or draw unstratified"]})
        return [mapped] if design.stratified else []
    unknown = [c for c in design.strata if c not in available]
    if unknown:
        raise ValidationFailed("Strata must be the frame's stratum or attribute columns.", {"strata": [f"{c!r} is not one of {', '.join(available) or 'no columns'}" for c in unknown]})
    return list(dict.fromkeys(design.strata))


def _check_design(frame: SamplingFrame, design: Design) -> list[str]:
    columns = strata_columns(frame, design)
    if design.method == "pps_systematic" and not frame.columns.get("size"):
        raise ValidationFailed("PPS selection needs a size column.", {"method": ["this frame has no size column"]})
    return columns


def _design_frame(session: Session, frame: SamplingFrame, columns: list[str]) -> pd.DataFrame:
    """Units with a ``stratum`` label built from ``columns`` (joined with " | " when several)."""
    mapped = frame.columns.get("stratum") or ""
    attributes = [c for c in columns if c != mapped]
    units = frames.units_frame(session, frame, attributes=attributes)
    if columns and columns != [mapped]:
        parts = [units["stratum"].fillna("") if c == mapped else units[c].fillna("").astype(str) for c in columns]
        label = parts[0]
        for part in parts[1:]:
            label = label + " | " + part
        units["stratum"] = label
    return units


def allocation_table(session: Session, frame: SamplingFrame, design: Design) -> pd.DataFrame:
    """Preview: stratum, population N_h, allocated n_h and the sampling fraction."""
    _ready(frame)
    columns = _check_design(frame, design)
    if not columns:
        counts = {"": frame.row_count}
    elif columns == [frame.columns.get("stratum")]:
        counts = frames.stratum_counts(session, frame)
    else:
        counts = _design_frame(session, frame, columns)["stratum"].value_counts().sort_index().to_dict()
    population = pd.Series(counts, dtype="int64")
    try:
        n_h = sampling.allocate(population, design.sample_size, method=design.allocation, power=design.power, min_n=design.min_n)
    except sampling.SamplingError as exc:
        raise ValidationFailed("The allocation is not feasible.", {"sample_size": [str(exc)]}) from exc
    table = pd.DataFrame({"stratum": population.index, "population": population.to_numpy(), "n": n_h.to_numpy()})
    table["fraction"] = table["n"] / table["population"].clip(lower=1)
    return table


def draw(session: Session, project: SurveyProject, frame: SamplingFrame, design: Design, *, actor: User) -> SampleDraw:
    """Draw a new sample and store it with its manifest and units; never replaces an earlier draw."""
    if frame.project_id != project.id:
        raise NotFound(f"Frame {frame.id} does not belong to survey project {project.code!r}.")
    _ready(frame)
    columns = _check_design(frame, design)
    earlier = frames.draw_count(session, frame)
    if earlier and not design.confirm_new:
        raise Conflict(
            f"Frame {frame.name!r} already has {earlier} draw(s). Confirm to draw a new, separate sample; earlier draws are kept.",
            {"confirm_new": ["tick the box to confirm a new draw"]},
        )
    units = _design_frame(session, frame, columns)
    design_frame = units[["unit_key", "stratum", "size"]] if frame.columns.get("size") else units[["unit_key", "stratum"]]
    seed = design.seed if design.seed is not None else secrets.randbelow(MAX_SEED)
    try:
        sample = sampling.draw_sample(
            design_frame,
            design.sample_size,
            strata="stratum" if columns else None,
            method=design.method,
            size="size" if design.method == "pps_systematic" else None,
            allocation=design.allocation,
            power=design.power,
            min_n=design.min_n,
            rng=seed,
        )
    except sampling.SamplingError as exc:
        raise ValidationFailed("The sample cannot be drawn with this design.", {"sample_size": [str(exc)]}) from exc
    manifest = sample.manifest.to_dict()
    allocation = {"columns": columns, "strata": [{str(k): _plain(v) for k, v in row.items()} for row in sample.allocation.to_dict("records")]}
    record = SampleDraw(
        project_id=project.id,
        frame_id=frame.id,
        label=design.label or f"{frame.name} #{earlier + 1}",
        method=design.method,
        allocation_method=design.allocation if columns else "",
        seed=seed,
        sample_size=len(sample.units),
        allocation=allocation,
        manifest=manifest,
        created_by_id=actor.id,
    )
    session.add(record)
    session.flush()
    chosen = sample.units
    ids = units.loc[chosen.index, "frame_unit_id"].to_numpy()
    rows: list[dict[str, Any]] = [
        {
            "draw_id": record.id,
            "frame_unit_id": int(unit_id),
            "stratum": None if stratum is None or stratum == "" else str(stratum),
            "stratum_population": int(population),
            "inclusion_probability": float(pi),
            "design_weight": float(weight),
            "stage": {},
        }
        for unit_id, stratum, population, pi, weight in zip(
            ids, chosen["stratum"], chosen["stratum_population"], chosen["inclusion_probability"], chosen["design_weight"], strict=True
        )
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(SampleUnit), rows[start : start + INSERT_BATCH])
    audit.record(
        session,
        "sample.draw",
        actor=actor,
        object_type="sample_draw",
        object_id=record.id,
        after={"label": record.label, "frame_id": frame.id, "seed": seed, "method": design.method, "allocation": record.allocation_method, "n": len(rows)},
        details={"frame_hash": manifest.get("input_hashes", {}).get("frame"), "earlier_draws": earlier, "library_version": manifest.get("library_version")},
    )
    return record


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def list_draws(session: Session, project: SurveyProject) -> list[SampleDraw]:
    return list(session.scalars(select(SampleDraw).where(SampleDraw.project_id == project.id).order_by(SampleDraw.id.desc())))


def get_draw(session: Session, draw_id: int) -> SampleDraw:
    record = session.get(SampleDraw, draw_id)
    if record is None:
        raise NotFound(f"Sample draw {draw_id} does not exist.")
    return record


def unit_count(session: Session, record: SampleDraw) -> int:
    return int(session.scalar(select(func.count(SampleUnit.id)).where(SampleUnit.draw_id == record.id)) or 0)
