"""Data review: a chain of up to three levels; approve, return (to the respondent or the previous
level) or reject with a reason; reviewer edits keep the original value and the reason.

A complete response enters the chain at level 1. Approval at level ``k`` moves it to ``k + 1``;
approval at the final level makes it ``approved``, and only those count for estimation
(:func:`approved_response_ids`). Every decision and edit is kept in its own table and in the
audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import audit
from survey_app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from survey_app.fieldwork.models import Invitation, InvitationStatus
from survey_app.projects.models import ReviewerAssignment, SurveyProject
from survey_app.projects.services import permissions
from survey_app.questionnaires.models import QuestionnaireVersion
from survey_app.respond.models import Response, ResponseStatus
from survey_app.review.models import (
    MAX_REVIEW_LEVELS,
    ReviewDecision,
    ReviewDecisionKind,
    ReviewEdit,
    ReviewLevel,
    ReviewRecord,
    ReviewStatus,
)

NEEDS_REASON = (ReviewDecisionKind.RETURN_RESPONDENT, ReviewDecisionKind.RETURN_PREVIOUS, ReviewDecisionKind.REJECT)


def chain(session: Session, project: SurveyProject) -> list[ReviewLevel]:
    return list(session.scalars(select(ReviewLevel).where(ReviewLevel.project_id == project.id).order_by(ReviewLevel.level)))


def final_level(session: Session, project: SurveyProject) -> int:
    return int(session.scalar(select(func.max(ReviewLevel.level)).where(ReviewLevel.project_id == project.id)) or 0)


def configure_chain(session: Session, project: SurveyProject, names: Sequence[str], *, actor: User) -> list[ReviewLevel]:
    """Set the level names (1 to 3, in order); levels still holding records cannot be removed."""
    permissions.require_manage_project(session, actor, project)
    cleaned = [n.strip() for n in names if n and n.strip()]
    if not 1 <= len(cleaned) <= MAX_REVIEW_LEVELS:
        raise ValidationFailed("The review chain needs one to three levels.", {"levels": [f"give 1 to {MAX_REVIEW_LEVELS} level names"]})
    if any(len(n) > 120 for n in cleaned):
        raise ValidationFailed("A level name is too long.", {"levels": ["at most 120 characters"]})
    waiting = session.scalar(
        select(func.count(ReviewRecord.id)).where(ReviewRecord.project_id == project.id, ReviewRecord.status == ReviewStatus.PENDING, ReviewRecord.level > len(cleaned))
    )
    if waiting:
        raise Conflict(f"{waiting} records are waiting at the levels you want to remove; decide them first.", {"levels": ["records are waiting at a removed level"]})
    before = [level.name for level in chain(session, project)]
    existing = {level.level: level for level in chain(session, project)}
    for number, name in enumerate(cleaned, start=1):
        if number in existing:
            existing[number].name = name
        else:
            session.add(ReviewLevel(project_id=project.id, level=number, name=name))
    session.execute(delete(ReviewerAssignment).where(ReviewerAssignment.project_id == project.id, ReviewerAssignment.level > len(cleaned)))
    session.execute(delete(ReviewLevel).where(ReviewLevel.project_id == project.id, ReviewLevel.level > len(cleaned)))
    session.flush()
    audit.record(session, "review.configure", actor=actor, object_type="survey_project", object_id=project.id, before={"levels": before}, after={"levels": cleaned})
    return chain(session, project)


def assignments(session: Session, project: SurveyProject) -> list[ReviewerAssignment]:
    return list(session.scalars(select(ReviewerAssignment).where(ReviewerAssignment.project_id == project.id).order_by(ReviewerAssignment.level, ReviewerAssignment.id)))


def reviewers(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role == Role.REVIEWER, User.is_active.is_(True)).order_by(User.display_name)))


def assign(session: Session, project: SurveyProject, user_id: int, level: int, *, actor: User) -> ReviewerAssignment:
    permissions.require_manage_project(session, actor, project)
    user = session.get(User, user_id)
    errors: dict[str, list[str]] = {}
    if user is None or user.role != Role.REVIEWER or not user.is_active:
        errors["user_id"] = ["choose an active reviewer"]
    if level not in {lv.level for lv in chain(session, project)}:
        errors["level"] = [f"level {level} is not in this project's review chain"]
    if errors:
        raise ValidationFailed("The reviewer could not be assigned.", errors)
    assert user is not None
    existing = session.scalars(select(ReviewerAssignment).where(ReviewerAssignment.project_id == project.id, ReviewerAssignment.user_id == user.id, ReviewerAssignment.level == level)).first()
    if existing is not None:
        return existing
    row = ReviewerAssignment(project_id=project.id, user_id=user.id, level=level)
    session.add(row)
    session.flush()
    audit.record(session, "review.assign", actor=actor, object_type="survey_project", object_id=project.id, after={"user_id": user.id, "email": user.email, "level": level})
    return row


def unassign(session: Session, project: SurveyProject, assignment_id: int, *, actor: User) -> None:
    permissions.require_manage_project(session, actor, project)
    row = session.get(ReviewerAssignment, assignment_id)
    if row is None or row.project_id != project.id:
        raise NotFound(f"Assignment {assignment_id} does not exist on this project.")
    audit.record(session, "review.unassign", actor=actor, object_type="survey_project", object_id=project.id, before={"user_id": row.user_id, "level": row.level})
    session.delete(row)
    session.flush()


def _waiting_at(level: int):  # type: ignore[no-untyped-def]
    """SQL condition: the response (joined with its optional record) waits at ``level``."""
    pending = and_(ReviewRecord.status == ReviewStatus.PENDING, ReviewRecord.level == level)
    if level != 1:
        return pending
    # new complete responses, and returned ones the respondent has completed again
    return or_(ReviewRecord.id.is_(None), pending, ReviewRecord.status == ReviewStatus.RETURNED)


def queue(session: Session, project: SurveyProject, level: int, limit: int = 200) -> tuple[list[Response], int]:
    """Complete responses waiting at ``level`` (oldest first) and how many there are."""
    base = (
        select(Response)
        .outerjoin(ReviewRecord, ReviewRecord.response_id == Response.id)
        .where(Response.project_id == project.id, Response.status == ResponseStatus.COMPLETE, _waiting_at(level))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    return list(session.scalars(base.order_by(Response.submitted_at, Response.id).limit(limit))), int(total)


def counts(session: Session, project: SurveyProject) -> dict[str, int]:
    """Records per review state: waiting per level, approved, rejected, returned."""
    result = {f"level_{lv.level}": queue(session, project, lv.level, limit=0)[1] for lv in chain(session, project)}
    for status in (ReviewStatus.APPROVED, ReviewStatus.REJECTED, ReviewStatus.RETURNED):
        result[status.value] = int(session.scalar(select(func.count(ReviewRecord.id)).where(ReviewRecord.project_id == project.id, ReviewRecord.status == status)) or 0)
    return result


@dataclass
class Item:
    response: Response
    record: ReviewRecord | None
    decisions: list[ReviewDecision]
    edits: list[ReviewEdit]
    questions: list[dict[str, Any]]


def _response(session: Session, project: SurveyProject, response_id: int) -> Response:
    response = session.get(Response, response_id)
    if response is None or response.project_id != project.id:
        raise NotFound(f"Response {response_id} does not exist in this project.")
    return response


def _record(session: Session, response: Response) -> ReviewRecord | None:
    return session.scalars(select(ReviewRecord).where(ReviewRecord.response_id == response.id)).one_or_none()


def waits_at(response: Response, record: ReviewRecord | None) -> int | None:
    if response.status != ResponseStatus.COMPLETE:
        return None
    if record is None or record.status == ReviewStatus.RETURNED:
        return 1
    return record.level if record.status == ReviewStatus.PENDING else None


def _questions(session: Session, response: Response) -> list[dict[str, Any]]:
    version = session.get(QuestionnaireVersion, response.version_id)
    definition = version.definition if version is not None else {}
    return [q for page in definition.get("pages", []) for q in page.get("questions", []) if q.get("type") not in ("note",)]


def item(session: Session, project: SurveyProject, response_id: int) -> Item:
    response = _response(session, project, response_id)
    return Item(
        response=response,
        record=_record(session, response),
        decisions=list(session.scalars(select(ReviewDecision).where(ReviewDecision.response_id == response.id).order_by(ReviewDecision.id))),
        edits=list(session.scalars(select(ReviewEdit).where(ReviewEdit.response_id == response.id).order_by(ReviewEdit.id))),
        questions=_questions(session, response),
    )


def _require_waiting(response: Response, record: ReviewRecord | None, level: int) -> None:
    where = waits_at(response, record)
    if where != level:
        raise Conflict(f"Response {response.id} is not waiting at review level {level}.", {"level": [f"it waits at {where}" if where else "it is not waiting for review"]})


def decide(session: Session, project: SurveyProject, response_id: int, level: int, decision: str, reason: str, *, actor: User) -> ReviewRecord:
    """Record a decision at ``level`` and move the record along the chain."""
    require_review_level(session, actor, project, level)
    try:
        kind = ReviewDecisionKind(decision)
    except ValueError:
        raise ValidationFailed("Choose a decision.", {"decision": [f"{decision!r} is not one of {', '.join(k.value for k in ReviewDecisionKind)}"]}) from None
    reason = (reason or "").strip()
    if kind in NEEDS_REASON and not reason:
        raise ValidationFailed("A reason is required to return or reject a record.", {"reason": ["give the reason"]})
    if kind == ReviewDecisionKind.RETURN_PREVIOUS and level == 1:
        raise ValidationFailed("Level 1 has no previous level.", {"decision": ["return it to the respondent instead"]})
    response = _response(session, project, response_id)
    record = _record(session, response)
    _require_waiting(response, record, level)
    if record is None:
        record = ReviewRecord(response_id=response.id, project_id=project.id, level=1, status=ReviewStatus.PENDING)
        session.add(record)
    before = {"level": record.level, "status": record.status.value if record.status else ReviewStatus.PENDING.value}
    last = final_level(session, project)
    if kind == ReviewDecisionKind.APPROVE:
        record.level, record.status = (level + 1, ReviewStatus.PENDING) if level < last else (level, ReviewStatus.APPROVED)
    elif kind == ReviewDecisionKind.RETURN_PREVIOUS:
        record.level, record.status = level - 1, ReviewStatus.PENDING
    elif kind == ReviewDecisionKind.RETURN_RESPONDENT:
        record.level, record.status = 1, ReviewStatus.RETURNED
        response.status = ResponseStatus.PARTIAL  # the respondent may correct and submit again
        if response.invitation_id is not None:
            invitation = session.get(Invitation, response.invitation_id)
            if invitation is not None and invitation.status == InvitationStatus.SUBMITTED:
                invitation.status = InvitationStatus.STARTED
    else:
        record.level, record.status = level, ReviewStatus.REJECTED
    session.add(ReviewDecision(response_id=response.id, level=level, decision=kind, reason=reason, actor_id=actor.id))
    session.flush()
    audit.record(
        session, "review.decision", actor=actor, object_type="response", object_id=response.id,
        before=before, after={"level": record.level, "status": record.status.value}, details={"decision": kind.value, "at_level": level, "reason": reason},
    )
    return record


def _parse_value(question: dict[str, Any], raw: str) -> Any:
    raw = raw.strip()
    if raw == "":
        return None
    qtype = question.get("type")
    try:
        if qtype == "integer":
            return int(raw)
        if qtype == "decimal":
            return float(raw)
    except ValueError:
        raise ValidationFailed("The new value is not a number.", {"value": [f"{raw!r} is not a valid {qtype}"]}) from None
    if qtype == "select_multiple":
        return raw.split()
    return raw


def edit(session: Session, project: SurveyProject, response_id: int, level: int, variable: str, raw_value: str, reason: str, *, actor: User) -> ReviewEdit:
    """Correct one answer; the original value and the reason are kept."""
    require_review_level(session, actor, project, level)
    response = _response(session, project, response_id)
    _require_waiting(response, _record(session, response), level)
    reason = (reason or "").strip()
    questions = {q["name"]: q for q in _questions(session, response) if q.get("type") != "calculate"}
    errors: dict[str, list[str]] = {}
    if variable not in questions:
        errors["variable"] = [f"{variable!r} is not a question of this questionnaire"]
    if not reason:
        errors["reason"] = ["give the reason for the correction"]
    if errors:
        raise ValidationFailed("The correction could not be saved.", errors)
    new_value = _parse_value(questions[variable], raw_value)
    original = (response.answers or {}).get(variable)
    if new_value == original:
        raise ValidationFailed("The new value is the same as the current one.", {"value": ["nothing to change"]})
    response.answers = {**(response.answers or {}), variable: new_value}
    row = ReviewEdit(response_id=response.id, level=level, variable=variable, original_value=original, new_value=new_value, reason=reason, actor_id=actor.id)
    session.add(row)
    session.flush()
    audit.record(session, "review.edit", actor=actor, object_type="response", object_id=response.id, before={variable: original}, after={variable: new_value}, details={"level": level, "reason": reason})
    return row


def approved_response_ids(session: Session, project_id: int) -> list[int]:
    """Ids of the project's responses approved at the final review level (for estimation)."""
    return list(
        session.scalars(
            select(ReviewRecord.response_id)
            .join(Response, Response.id == ReviewRecord.response_id)
            .where(ReviewRecord.project_id == project_id, ReviewRecord.status == ReviewStatus.APPROVED, Response.status == ResponseStatus.COMPLETE)
            .order_by(ReviewRecord.response_id)
        )
    )


def my_queues(session: Session, user: User) -> list[tuple[SurveyProject, ReviewLevel, int]]:
    """(project, level, waiting) for every review level ``user`` may work on."""
    result = []
    for project in permissions.visible_projects(session, user):
        levels = review_levels(session, user, project)
        for level in chain(session, project):
            if level.level in levels:
                result.append((project, level, queue(session, project, level.level, limit=0)[1]))
    return result


def review_levels(session: Session, user: User, project: SurveyProject) -> set[int]:
    """The review levels ``user`` is assigned to in ``project`` (admins: every level)."""
    if user.role == Role.ADMIN:
        from survey_app.review.models import ReviewLevel

        return set(session.scalars(select(ReviewLevel.level).where(ReviewLevel.project_id == project.id)))
    if user.role != Role.REVIEWER:
        return set()
    return set(
        session.scalars(
            select(ReviewerAssignment.level).where(
                ReviewerAssignment.project_id == project.id, ReviewerAssignment.user_id == user.id
            )
        )
    )


def require_review_level(session: Session, user: User, project: SurveyProject, level: int) -> None:
    if level not in review_levels(session, user, project):
        raise Forbidden(f"You are not a reviewer at level {level} of survey project {project.code!r}.")
