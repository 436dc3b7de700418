"""The registry of approved surveys: approved projects with their indicators and validity, and
warnings when two active projects target the same population (the same target-population
text, or frames that share unit ids: the same respondents would be surveyed twice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from survey_app.fieldwork.models import FrameUnit, SamplingFrame
from survey_app.projects.models import SurveyProject, SurveyStatus
from survey_app.questionnaires.services import questionnaires


@dataclass(frozen=True)
class RegistryEntry:
    project: SurveyProject
    valid: bool
    days_left: int
    variables: list[str]  # questions of the published questionnaire, if any


@dataclass(frozen=True)
class Overlap:
    first: SurveyProject
    second: SurveyProject
    reason: str  # "population" or "units"
    shared_units: int


def _population_key(text: str) -> str:
    return "".join(text.split()).casefold()


def _variables(session: Session, project: SurveyProject) -> list[str]:
    version = questionnaires.current_published(session, project.id)
    if version is None:
        return []
    answered = ("select_one", "select_multiple", "integer", "decimal", "text", "date")
    return [q["name"] for page in version.definition.get("pages", []) for q in page.get("questions", []) if q.get("type") in answered]


def registry(session: Session, today: date) -> tuple[list[RegistryEntry], list[Overlap]]:
    """Approved (non-draft, non-archived) projects, and overlaps between active ones."""
    projects = list(
        session.scalars(
            select(SurveyProject).where(SurveyProject.status.in_([SurveyStatus.ACTIVE, SurveyStatus.CLOSED])).order_by(SurveyProject.valid_until, SurveyProject.code)
        )
    )
    entries = [RegistryEntry(p, p.is_valid_on(today), (p.valid_until - today).days, _variables(session, p)) for p in projects]
    active = {p.id: p for p in projects if p.status == SurveyStatus.ACTIVE}
    overlaps: list[Overlap] = []
    ordered = sorted(active.values(), key=lambda p: p.id)
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            key = _population_key(first.target_population)
            if key and key == _population_key(second.target_population):
                overlaps.append(Overlap(first, second, "population", 0))
    a_unit, b_unit = aliased(FrameUnit), aliased(FrameUnit)
    a_frame, b_frame = aliased(SamplingFrame), aliased(SamplingFrame)
    shared = session.execute(
        select(a_frame.project_id, b_frame.project_id, func.count(func.distinct(a_unit.unit_key)))
        .select_from(a_unit)
        .join(a_frame, a_frame.id == a_unit.frame_id)
        .join(b_unit, b_unit.unit_key == a_unit.unit_key)
        .join(b_frame, and_(b_frame.id == b_unit.frame_id, b_frame.project_id > a_frame.project_id))
        .where(a_frame.project_id.in_(list(active)), b_frame.project_id.in_(list(active)))
        .group_by(a_frame.project_id, b_frame.project_id)
    )
    for first_id, second_id, count in shared:
        overlaps.append(Overlap(active[first_id], active[second_id], "units", int(count)))
    return entries, overlaps
