"""Weighting schemes in the database: ORM rows -> analysis frame -> :mod:`weighting` -> stored weights.

The analysis frame has one row per sampled unit of the scheme's sample draw (respondents and
nonrespondents, for the nonresponse adjustment) or, without a draw, one row per response. Its
columns are the questionnaire variables (:mod:`survey_app.questionnaires.services.codebook`), the frame units'
analysis attributes (never their contact fields), ``stratum`` and the reserved design columns of
:mod:`survey_app.analysis.services.weighting_spec`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.analysis.models import (
    ResponseWeight,
    RunStatus,
    WeightingScheme,
    WeightingSchemeVersion,
    WeightRun,
)
from survey_app.analysis.services import weighting_spec as ws
from survey_app.core.errors import Conflict, NotFound, ValidationFailed
from survey_app.fieldwork.models import (
    FrameUnit,
    Invitation,
    InvitationStatus,
    SampleDraw,
    SampleUnit,
)
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.models import Questionnaire, QuestionnaireVersion
from survey_app.questionnaires.services import codebook
from survey_app.respond.models import Response, ResponseStatus
from survey_app.review.services import review

SAMPLE_UNIT = "_sample_unit_id"


@dataclass
class AnalysisData:
    frame: pd.DataFrame
    catalogue: dict[str, codebook.Variable]


# ---------------------------------------------------------------------------- catalogue
def project_catalogue(session: Session, project: SurveyProject) -> dict[str, codebook.Variable]:
    """Variables of every version of the project's questionnaire (later versions win)."""
    definitions = session.scalars(
        select(QuestionnaireVersion.definition).join(Questionnaire)
        .where(Questionnaire.project_id == project.id).order_by(QuestionnaireVersion.number)
    )
    return codebook.merge_variables(definitions)


def _approved_response_ids(session: Session, project: SurveyProject) -> list[int]:
    """Response ids approved at the final review level (the review service of the admin pages)."""
    return [int(i) for i in review.approved_response_ids(session, project.id)]


def _responses(session: Session, project: SurveyProject, which: str) -> pd.DataFrame:
    query = (
        select(Response.id, Response.sample_unit_id, Response.answers, Response.missing)
        .where(Response.project_id == project.id, Response.status == ResponseStatus.COMPLETE)
        .order_by(Response.id)
    )
    if which == "approved":
        query = query.where(Response.id.in_(_approved_response_ids(session, project)))
    rows = session.execute(query).all()
    return pd.DataFrame(
        {
            ws.RESPONSE_ID: [r[0] for r in rows],
            SAMPLE_UNIT: [r[1] for r in rows],
            "answers": [r[2] or {} for r in rows],
            "missing": [r[3] or {} for r in rows],
        }
    )


def _units(session: Session, project: SurveyProject, draw_id: int, stage_keys: list[str]) -> pd.DataFrame:
    draw = session.get(SampleDraw, draw_id)
    if draw is None or draw.project_id != project.id:
        raise ValidationFailed(
            f"design.sample_draw_id: sample draw {draw_id} does not belong to survey {project.code!r}.",
            {"design": {"sample_draw_id": [f"no sample draw {draw_id} in this survey"]}},
        )
    rows = session.execute(
        select(
            SampleUnit.id, SampleUnit.stratum, SampleUnit.stratum_population, SampleUnit.design_weight,
            FrameUnit.attributes, Invitation.status, SampleUnit.stage,
        )
        .join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
        .outerjoin(Invitation, Invitation.sample_unit_id == SampleUnit.id)
        .where(SampleUnit.draw_id == draw_id)
        .order_by(SampleUnit.id)
    ).all()
    attributes = pd.DataFrame.from_records([dict(r[4] or {}) for r in rows]).reindex(range(len(rows)))
    units = pd.DataFrame(
        {
            SAMPLE_UNIT: [r[0] for r in rows],
            ws.STRATUM: [r[1] for r in rows],
            ws.FPC: pd.array([r[2] for r in rows], dtype="Float64").astype(float),
            ws.BASE_WEIGHT: [float(r[3]) for r in rows],
            "_invitation_status": [r[5].value if r[5] is not None else None for r in rows],
        }
    )
    if stage_keys:  # multi-stage design: the sampled unit's id and the per-stage populations
        units[ws.UNIT] = units[SAMPLE_UNIT].astype(float)
        for key in stage_keys:
            units[ws.STAGE_PREFIX + key] = pd.to_numeric(pd.Series([(r[6] or {}).get(key) for r in rows], dtype=object), errors="coerce").astype(float)
    attributes = attributes[[c for c in attributes.columns if not str(c).startswith("_")]]
    return pd.concat([units, attributes], axis=1)


def analysis_data(session: Session, project: SurveyProject, spec: Mapping[str, Any]) -> AnalysisData:
    """The analysis frame of ``project`` under ``spec`` (see the module docstring)."""
    catalogue = project_catalogue(session, project)
    responses = _responses(session, project, spec.get("responses", "complete"))
    answers = codebook.answer_frame(catalogue, list(responses["answers"]), list(responses["missing"]))
    answers = codebook.with_rating_scales(answers, catalogue)
    answers.insert(0, ws.RESPONSE_ID, responses[ws.RESPONSE_ID].astype(float))
    answers.insert(1, SAMPLE_UNIT, responses[SAMPLE_UNIT])
    draw_id = spec.get("design", {}).get("sample_draw_id")
    if draw_id is None:
        frame = answers.drop(columns=[SAMPLE_UNIT])
        frame[ws.BASE_WEIGHT] = 1.0
        frame[ws.STRATUM] = None
        frame[ws.FPC] = np.nan
        frame[ws.DISPOSITION] = "respondent"
        return AnalysisData(frame, catalogue)
    units = _units(session, project, int(draw_id), ws.stage_keys(spec))
    attribute_names = [c for c in units.columns if not str(c).startswith("_") and c not in catalogue]
    linked = answers.dropna(subset=[SAMPLE_UNIT]).astype({SAMPLE_UNIT: "int64"})
    frame = units.merge(linked, on=SAMPLE_UNIT, how="left", suffixes=("", "__answer"))
    responded = frame[ws.RESPONSE_ID].notna()
    not_reached = frame["_invitation_status"] == InvitationStatus.NOT_REACHED.value
    frame[ws.DISPOSITION] = np.where(responded, "respondent", np.where(not_reached, "unknown", "nonrespondent"))
    frame = frame.drop(columns=["_invitation_status", SAMPLE_UNIT])
    if "stratum" not in frame.columns:
        frame["stratum"] = frame[ws.STRATUM]
        attribute_names.append("stratum")
    catalogue = {**catalogue, **{v.name: v for v in codebook.attribute_variables(attribute_names)}}
    return AnalysisData(frame, catalogue)


# ---------------------------------------------------------------------------- schemes
def list_schemes(session: Session, project: SurveyProject) -> list[WeightingScheme]:
    return list(session.scalars(select(WeightingScheme).where(WeightingScheme.project_id == project.id).order_by(WeightingScheme.id)))


def get_scheme(session: Session, project: SurveyProject, scheme_id: int) -> WeightingScheme:
    scheme = session.get(WeightingScheme, scheme_id)
    if scheme is None or scheme.project_id != project.id:
        raise NotFound(f"Weighting scheme {scheme_id} does not exist in survey {project.code!r}.")
    return scheme


def get_version(scheme: WeightingScheme, number: int | None) -> WeightingSchemeVersion:
    """Version ``number`` of ``scheme``; without a number the latest *computed* version (a version
    added but not computed yet does not take the scheme's readers away from the weights they had),
    or the latest version when none is computed yet."""
    if not scheme.versions:
        raise NotFound(f"Weighting scheme {scheme.name!r} has no versions.")
    if number is None:
        computed = [v for v in scheme.versions if latest_run(v) is not None]
        return (computed or scheme.versions)[-1]
    for version in scheme.versions:
        if version.number == number:
            return version
    raise NotFound(f"Weighting scheme {scheme.name!r} has no version {number}.")


def latest_run(version: WeightingSchemeVersion) -> WeightRun | None:
    done = [r for r in version.runs if r.status == RunStatus.SUCCEEDED]
    return done[-1] if done else None


def create_scheme(
    session: Session, project: SurveyProject, *, name: str, description: str, spec: Mapping[str, Any], actor: User | None
) -> WeightingScheme:
    name = name.strip()
    if not name:
        raise ValidationFailed("The weighting scheme needs a name.", {"name": ["must not be empty"]})
    if session.scalar(select(func.count()).select_from(WeightingScheme).where(WeightingScheme.project_id == project.id, WeightingScheme.name == name)):
        raise Conflict(f"A weighting scheme named {name!r} already exists in this survey.", {"name": ["already taken"]})
    loaded = ws.load_spec(spec)
    _check_spec_against_project(session, project, loaded)
    scheme = WeightingScheme(project_id=project.id, name=name, description=description, created_by_id=actor.id if actor else None)
    scheme.versions = [WeightingSchemeVersion(number=1, spec=loaded, spec_sha256=ws.spec_digest(loaded), created_by_id=actor.id if actor else None)]
    session.add(scheme)
    session.flush()
    audit.record(session, "weighting_scheme.create", actor=actor, object_type="weighting_scheme", object_id=scheme.id,
                 after={"name": name, "project_id": project.id, "version": 1, "spec_sha256": scheme.versions[0].spec_sha256})
    return scheme


def add_version(session: Session, scheme: WeightingScheme, spec: Mapping[str, Any], *, actor: User | None) -> WeightingSchemeVersion:
    loaded = ws.load_spec(spec)
    _check_spec_against_project(session, scheme.project, loaded)
    number = (scheme.versions[-1].number if scheme.versions else 0) + 1
    version = WeightingSchemeVersion(number=number, spec=loaded, spec_sha256=ws.spec_digest(loaded), created_by_id=actor.id if actor else None)
    scheme.versions.append(version)
    session.flush()
    audit.record(session, "weighting_scheme.version", actor=actor, object_type="weighting_scheme", object_id=scheme.id,
                 after={"version": number, "spec_sha256": version.spec_sha256})
    return version


def _check_spec_against_project(session: Session, project: SurveyProject, spec: Mapping[str, Any]) -> None:
    draw_id = spec["design"].get("sample_draw_id")
    if draw_id is not None:
        draw = session.get(SampleDraw, draw_id)
        if draw is None or draw.project_id != project.id:
            raise ValidationFailed(
                f"design.sample_draw_id: sample draw {draw_id} does not belong to survey {project.code!r}.",
                {"design": {"sample_draw_id": [f"no sample draw {draw_id} in this survey"]}},
            )


def compute_version(session: Session, version: WeightingSchemeVersion, *, actor: User | None) -> WeightRun:
    """Compute the weights of ``version`` on the current data and store them (422 if infeasible)."""
    project = version.scheme.project
    data = analysis_data(session, project, version.spec)
    result = ws.compute(data.frame, version.spec)
    previous = [r for r in version.runs if r.status == RunStatus.SUCCEEDED and r.data_sha256 == result.data_sha256]
    diagnostics = dict(result.diagnostics)
    if previous:
        diagnostics["reproduces_run"] = previous[-1].id
        diagnostics["reproduced"] = previous[-1].weights_sha256 == result.weights_sha256
    run = WeightRun(
        version_id=version.id, status=RunStatus.SUCCEEDED, computed_by_id=actor.id if actor else None,
        data_sha256=result.data_sha256, weights_sha256=result.weights_sha256, respondents=len(result.weights),
        replicates=0 if result.replicate_weights is None else int(result.replicate_weights.shape[1]),
        diagnostics=diagnostics,
    )
    version.runs.append(run)
    session.flush()
    ids = result.frame[ws.RESPONSE_ID].astype(int).tolist()
    reps = result.replicate_weights
    rows = [
        {
            "run_id": run.id, "response_id": rid, "base_weight": float(base), "weight": float(w),
            "replicate_weights": None if reps is None else [float(x) for x in reps[i]],
        }
        for i, (rid, base, w) in enumerate(zip(ids, result.base_weights, result.weights, strict=True))
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(ResponseWeight), rows[start:start + 5000])
    audit.record(session, "weighting_scheme.compute", actor=actor, object_type="weighting_scheme", object_id=version.scheme_id,
                 details={"version": version.number, "run_id": run.id, "respondents": run.respondents,
                          "data_sha256": run.data_sha256, "weights_sha256": run.weights_sha256})
    return run


@dataclass
class WeightedData:
    """A computed scheme ready for estimation: the design and the variables it carries."""

    scheme: WeightingScheme
    version: WeightingSchemeVersion
    run: WeightRun
    result: ws.SchemeResult
    catalogue: dict[str, codebook.Variable]


def weighted_data(session: Session, project: SurveyProject, scheme_id: int, version_number: int | None = None) -> WeightedData:
    """Rebuild the design of a computed scheme version on the current data.

    The linearisation variance of calibrated weights needs the adjustment itself, so the scheme
    is re-run; the data must be those the stored weights were computed from (409 otherwise).
    """
    scheme = get_scheme(session, project, scheme_id)
    version = get_version(scheme, version_number)
    run = latest_run(version)
    if run is None:
        raise Conflict(
            f"Weighting scheme {scheme.name!r} version {version.number} has not been computed yet; "
            f"POST .../weighting-schemes/{scheme.id}/versions/{version.number}/compute first."
        )
    data = analysis_data(session, project, version.spec)
    result = ws.compute(data.frame, version.spec)
    if result.data_sha256 != run.data_sha256:
        raise Conflict(
            f"The responses changed since weighting scheme {scheme.name!r} version {version.number} was computed "
            f"(run {run.id}); compute it again."
        )
    return WeightedData(scheme, version, run, result, data.catalogue)


def stored_weights(session: Session, run: WeightRun) -> pd.DataFrame:
    rows = session.execute(
        select(ResponseWeight.response_id, ResponseWeight.weight, ResponseWeight.replicate_weights)
        .where(ResponseWeight.run_id == run.id).order_by(ResponseWeight.response_id)
    ).all()
    return pd.DataFrame({"response_id": [r[0] for r in rows], "weight": [r[1] for r in rows], "replicate_weights": [r[2] for r in rows]})
