"""Response-rate report per stratum of a sample draw (AAPOR-style rates).

Every sampled unit counts as eligible (no eligibility screening is recorded), so
RR1 = complete / sampled, RR2 = (complete + partial) / sampled, refusal rate = refused / sampled,
contact rate = (complete + partial + refused) / sampled (AAPOR Standard Definitions, 2023).
Open-link responses have no sample unit and are reported apart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_surveys
from survey_app.core.errors import NotFound
from survey_app.fieldwork.models import Invitation, InvitationStatus, SampleDraw, SampleUnit
from survey_app.projects.models import SurveyProject
from survey_app.respond.models import Response, ResponseStatus


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    sampled = row["sampled"]

    def share(x: int) -> float | None:
        return x / sampled if sampled else None

    return {
        **row,
        "rr1": share(row["complete"]),
        "rr2": share(row["complete"] + row["partial"]),
        "refusal_rate": share(row["refused"]),
        "contact_rate": share(row["complete"] + row["partial"] + row["refused"]),
    }


def report(session: Session, token: ApiToken, project: SurveyProject, draw_id: int | None) -> dict[str, Any]:
    api_surveys.record_read(session, token, "response_rates", project=project, parameters={"draw_id": draw_id})
    if draw_id is None:
        draw = session.scalars(select(SampleDraw).where(SampleDraw.project_id == project.id).order_by(SampleDraw.id.desc()).limit(1)).first()
    else:
        draw = session.get(SampleDraw, draw_id)
        if draw is not None and draw.project_id != project.id:
            draw = None
        if draw is None:
            raise NotFound(f"Survey {project.code!r} has no sample draw {draw_id}.")
    strata: list[dict[str, Any]] = []
    if draw is not None:
        complete = func.sum(case((Response.status == ResponseStatus.COMPLETE, 1), else_=0))
        partial = func.sum(case((Response.status == ResponseStatus.PARTIAL, 1), else_=0))
        no_answer = Response.id.is_(None)
        refused = func.sum(case((no_answer & (Invitation.status == InvitationStatus.REFUSED), 1), else_=0))
        not_reached = func.sum(case((no_answer & (Invitation.status == InvitationStatus.NOT_REACHED), 1), else_=0))
        rows = session.execute(
            select(SampleUnit.stratum, func.count(SampleUnit.id), complete, partial, refused, not_reached)
            .outerjoin(Response, Response.sample_unit_id == SampleUnit.id)
            .outerjoin(Invitation, Invitation.sample_unit_id == SampleUnit.id)
            .where(SampleUnit.draw_id == draw.id)
            .group_by(SampleUnit.stratum).order_by(SampleUnit.stratum)
        ).all()
        for stratum, sampled, c, p, r, nr in rows:
            c, p, r, nr = int(c or 0), int(p or 0), int(r or 0), int(nr or 0)
            strata.append(_rates({"stratum": stratum, "sampled": int(sampled), "complete": c, "partial": p, "refused": r,
                                  "not_reached": nr, "no_response": int(sampled) - c - p - r - nr}))
    keys = ("sampled", "complete", "partial", "refused", "not_reached", "no_response")
    overall = _rates({"stratum": None, **{k: sum(s[k] for s in strata) for k in keys}})
    open_counts = dict(session.execute(
        select(Response.status, func.count()).where(Response.project_id == project.id, Response.sample_unit_id.is_(None)).group_by(Response.status)
    ).all())
    return {
        "survey_id": project.id,
        "draw_id": draw.id if draw is not None else None,
        "overall": overall,
        "strata": strata,
        "open_link": {"complete": int(open_counts.get(ResponseStatus.COMPLETE, 0)), "partial": int(open_counts.get(ResponseStatus.PARTIAL, 0))},
    }
