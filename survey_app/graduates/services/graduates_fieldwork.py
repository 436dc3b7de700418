"""Fieldwork of the employment sample survey through the questionnaire of a survey project.

:func:`publish` turns a register survey draw into a frame, a logged sample draw and personal
invitations of a survey project (e.g. ``graduate-employment-2026`` with its published
employment questionnaire), keyed by the pseudonymous graduate id; no identifying field is
copied (invitations are handed out by the institutions). :func:`collect` reads the submitted
questionnaire responses back into the register draw (complete = respondent, anything else =
nonrespondent) so the weighting and estimates use the real answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.analysis.models import WeightingScheme
from survey_app.analysis.services import weighting_schemes
from survey_app.core.errors import ValidationFailed
from survey_app.fieldwork.models import (
    FrameStatus,
    FrameUnit,
    SampleDraw,
    SampleUnit,
    SamplingFrame,
)
from survey_app.fieldwork.services import invitations
from survey_app.graduates.models import GraduateDraw
from survey_app.graduates.services.graduates_codes import EMPLOYED
from survey_app.graduates.services.graduates_register import frame_of, snapshot
from survey_app.graduates.services.graduates_survey import (
    calibration_totals,
    nonresponse_classes,
    store_responses,
    survey_frame,
)
from survey_app.projects.models import SurveyProject
from survey_app.respond.models import Response, ResponseStatus

#: Frame attributes (register values; ``reg_`` names keep them apart from questionnaire answers).
ATTRIBUTES = {"institution": "institution", "discipline": "discipline", "region": "province", "reg_degree": "degree", "reg_sex": "sex"}


#: Questionnaire answers read back (names of the demo employment questionnaire).
ANSWERS = ("destination", "employed", "salary", "job_match", "job_satisfaction", "satisfied")


def publish(session: Session, draw: GraduateDraw, project: SurveyProject, *, actor: User | None = None,
            frame: pd.DataFrame | None = None) -> SampleDraw:
    """Create the project's frame, sample draw and personal invitations for a register survey draw
    (in the project the draw was made for)."""
    if draw.parameters.get("fieldwork"):
        raise ValidationFailed(_("This sample is already in fieldwork."), {"draw": [str(draw.id)]})
    if draw.parameters.get("project_id") not in (None, project.id):
        raise ValidationFailed(_("This sample was drawn for another survey project; its fieldwork runs there."), {"project_id": [str(project.id)]})
    frame = survey_frame(session, draw) if frame is None else frame
    columns = {"unit_id": "graduate_id", "stratum": "psu_stratum", "size": None, "contact": [], "attributes": [*ATTRIBUTES, "reg_degree_sex"],
               "kind": "register"}
    record = SamplingFrame(project_id=project.id, name=f"毕业去向登记库抽样 #{draw.id} Register survey sample", source_filename=f"graduate-draw-{draw.id}",
                           columns=columns, row_count=len(frame), rows_imported=len(frame), status=FrameStatus.READY,
                           created_by_id=actor.id if actor is not None else None)
    session.add(record)
    session.flush()
    attributes = frame[list(ATTRIBUTES.values())].astype(str).set_axis(list(ATTRIBUTES), axis=1)
    attributes["reg_degree_sex"] = attributes["reg_degree"] + "|" + attributes["reg_sex"]
    attributes = attributes.to_dict("records")
    session.execute(insert(FrameUnit), [
        {"frame_id": record.id, "row_number": i + 2, "unit_key": key, "stratum": stratum, "size": None, "attributes": attrs, "contact": {}}
        for i, (key, stratum, attrs) in enumerate(zip(frame["graduate_key"], frame["psu_stratum"], attributes, strict=True))
    ])
    sample = SampleDraw(project_id=project.id, frame_id=record.id, label=draw.label, method="two_stage", allocation_method="fixed",
                        seed=draw.seed, sample_size=len(frame), allocation={"parameters": draw.parameters}, manifest=draw.manifest,
                        created_by_id=actor.id if actor is not None else None)
    session.add(sample)
    session.flush()
    units = frame_of(session, select(FrameUnit.id, FrameUnit.unit_key).where(FrameUnit.frame_id == record.id), ["frame_unit_id", "graduate_key"])
    frame = frame.merge(units, on="graduate_key")
    stage_columns = ["stage1_inclusion_probability", "stage1_population", "stage2_inclusion_probability", "stage2_population"]
    session.execute(insert(SampleUnit), [
        {"draw_id": sample.id, "frame_unit_id": int(fu), "stratum": s, "stratum_population": int(st["stage1_population"]),
         "inclusion_probability": float(st["stage1_inclusion_probability"] * st["stage2_inclusion_probability"]), "design_weight": float(w),
         "stage": st}
        for fu, s, w, st in zip(frame["frame_unit_id"], frame["psu_stratum"], frame["design_weight"],
                                frame[stage_columns].astype(float).to_dict("records"), strict=True)
    ])
    created = invitations.issue_personal(session, project, session.scalars(select(SampleUnit).where(SampleUnit.draw_id == sample.id)), actor=actor)
    draw.parameters = {**draw.parameters, "fieldwork": {"project_id": project.id, "sample_draw_id": sample.id}}
    audit.record(session, "graduates.survey_fieldwork", actor=actor, object_type="graduate_draw", object_id=draw.id,
                 details={"project_id": project.id, "sample_draw_id": sample.id, "invitations": len(created)})
    return sample


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")  # "dk" (don't know) and other missing codes become NaN


def collect(session: Session, draw: GraduateDraw, *, actor: User | None = None) -> int:
    """Copy the project's questionnaire responses into the register draw; returns the respondents."""
    link = draw.parameters.get("fieldwork")
    if not link:
        raise ValidationFailed(_("This sample has no fieldwork yet."), {"draw": [str(draw.id)]})
    units = frame_of(session, select(FrameUnit.unit_key, Response.status, Response.answers)
                     .select_from(SampleUnit).join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
                     .outerjoin(Response, Response.sample_unit_id == SampleUnit.id)
                     .where(SampleUnit.draw_id == int(link["sample_draw_id"])), ["graduate_key", "status", "answers"])
    status = units["status"].map(lambda v: getattr(v, "value", v))
    complete = (status == ResponseStatus.COMPLETE.value).to_numpy()
    answers = pd.DataFrame([a if isinstance(a, dict) else {} for a in units["answers"]], index=units.index)
    out = pd.DataFrame({"graduate_key": units["graduate_key"], "disposition": np.where(complete, "respondent", "nonrespondent")})
    destination = answers["destination"].astype(str) if "destination" in answers else pd.Series("", index=units.index)
    employed = _numeric(answers["employed"]) if "employed" in answers else pd.Series(np.nan, index=units.index)
    employed = employed.fillna(destination.isin(EMPLOYED).astype(float).where(destination.isin([*EMPLOYED, "80", "85", "70", "71", "72"])))
    out["employed"] = employed.where(complete)
    for name in ("salary", "job_match", "job_satisfaction", "satisfied"):
        out[name] = (_numeric(answers[name]) if name in answers else pd.Series(np.nan, index=units.index)).where(complete)
    store_responses(session, draw, out, actor=actor)
    return int(complete.sum())


SCHEME_NAME = "登记库校准权数 Register-calibrated weights"


def create_weighting_scheme(session: Session, draw: GraduateDraw, *, actor: User | None = None) -> WeightingScheme:
    """A computed weighting scheme of the fieldwork project for the statistics API's estimates.

    Design: the fieldwork sample draw, two stages (strata = institution province x type; stage 1
    institutions, FPC = institutions in the stratum; stage 2 graduates, FPC = graduates of the
    institution), as :func:`graduates_survey.weighted_design`; nonresponse classes institution x degree (collapsed to the
    institution when a class has fewer than 5 respondents); linear
    calibration to the register totals of degree x sex and province of origin, pooled exactly as
    :func:`graduates_survey.calibration_totals` does. Responses must have been collected.
    """
    link = draw.parameters.get("fieldwork")
    if not link:
        raise ValidationFailed(_("This sample has no fieldwork yet."), {"draw": [str(draw.id)]})
    project = session.get(SurveyProject, int(link["project_id"]))
    register = snapshot(session, draw.cohort)
    frame = survey_frame(session, draw, register=register)
    totals, aux = calibration_totals(register, frame)
    # the pooled province of each sampled graduate, stored as a frame attribute the scheme can use
    pooled = dict(zip(frame["graduate_key"], aux["cal_province"], strict=True))
    cells = dict(zip(frame["graduate_key"], aux["cal_degree_sex"], strict=True))
    classes = dict(zip(frame["graduate_key"], nonresponse_classes(frame, 5), strict=True))
    units = session.execute(select(FrameUnit).join(SampleUnit, SampleUnit.frame_unit_id == FrameUnit.id)
                            .where(SampleUnit.draw_id == int(link["sample_draw_id"]))).scalars().all()
    for unit in units:  # one update per sampled graduate (a survey sample, not the register)
        unit.attributes = {**unit.attributes, "reg_degree_sex": cells[unit.unit_key], "reg_province": pooled[unit.unit_key],
                           "reg_nr_class": classes[unit.unit_key]}
    session.flush()
    spec = {
        "responses": "complete",
        "design": {"sample_draw_id": int(link["sample_draw_id"]), "strata": True, "fpc": True, "lonely_psu": "certainty",
                   "stages": [{"psu": "institution", "population": "stage1_population"}, {"psu": None, "population": "stage2_population"}]},
        "nonresponse": {"classes": ["reg_nr_class"]},
        "calibrate": {"totals": {"reg_degree_sex": totals["cal_degree_sex"], "reg_province": totals["cal_province"]}, "method": "linear"},
    }
    existing = session.scalars(select(WeightingScheme).where(WeightingScheme.project_id == project.id, WeightingScheme.name == SCHEME_NAME)).first()
    if existing is None:
        scheme = weighting_schemes.create_scheme(session, project, name=SCHEME_NAME, spec=spec, actor=actor,
                                                 description=f"Graduate register survey draw #{draw.id}: two-stage design, nonresponse by "
                                                             "institution x degree, calibration to register degree x sex and province totals.")
        version = scheme.versions[-1]
    else:
        scheme, version = existing, weighting_schemes.add_version(session, existing, spec, actor=actor)
    weighting_schemes.compute_version(session, version, actor=actor)
    draw.parameters = {**draw.parameters, "fieldwork": {**link, "weighting_scheme_id": scheme.id}}
    return scheme


def fieldwork_summary(draw: GraduateDraw) -> dict[str, Any] | None:
    link = draw.parameters.get("fieldwork")
    return dict(link) if link else None
