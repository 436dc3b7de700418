"""Demo fieldwork for the graduate survey: a sampling frame of synthetic graduates (institution x
degree strata), a drawn stratified sample with personal invitations, a three-level review chain
and simulated fieldwork (responses, refusals, non-contacts), so the admin pages show content.

Idempotent: nothing is added when the demo frame exists. The graduates are invented.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from survey_app.accounts.services import audit, users
from survey_app.core.errors import NotFound
from survey_app.fieldwork.models import (
    FrameStatus,
    FrameUnit,
    Invitation,
    InvitationStatus,
    SampleUnit,
    SamplingFrame,
)
from survey_app.fieldwork.services import invitations_export, samples
from survey_app.projects.models import ReviewerAssignment, SurveyProject
from survey_app.projects.services import surveys
from survey_app.questionnaires.services import questionnaires
from survey_app.respond.models import Response, ResponseStatus
from survey_app.review.models import ReviewLevel

PROJECT = "graduate-employment-2026"


FRAME_NAME = "2026届毕业生抽样框（演示） Graduate frame (demo)"


ACTOR = "demo-loader"


SEED = 20260901


INSTITUTIONS = ("示范大学", "示范理工大学", "示范师范学院", "示范职业技术学院", "示范医科大学")


DEGREES = (("专科", 0.25), ("本科", 0.55), ("硕士", 0.17), ("博士", 0.03))


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


REVIEW_LEVELS = ("学院初审 First review", "学校复审 Second review", "省级终审 Final review")


def _graduates(count: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    institution = rng.choice(len(INSTITUTIONS), size=count, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    degree = rng.choice(len(DEGREES), size=count, p=[p for _, p in DEGREES])
    rows = []
    for i in range(count):
        name = SURNAMES[rng.integers(len(SURNAMES))] + "".join(GIVEN[j] for j in rng.integers(len(GIVEN), size=int(rng.integers(1, 3))))
        stratum = f"{INSTITUTIONS[institution[i]]}|{DEGREES[degree[i]][0]}"
        rows.append(
            {
                "row_number": i + 2,
                "unit_key": f"G2026{i + 1:05d}",
                "stratum": stratum,
                "size": None,
                "attributes": {"institution": INSTITUTIONS[institution[i]], "degree": DEGREES[degree[i]][0]},
                "contact": {"name": name, "phone": f"139{rng.integers(10**7, 10**8):08d}", "email": f"g{i + 1:05d}@graduates.example"},
            }
        )
    return rows


def _answers(definition: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Plausible answers: a random non-missing choice per select question, a number in bounds."""
    lists = definition.get("choice_lists", {})
    answers: dict[str, Any] = {}
    for page in definition.get("pages", []):
        for question in page.get("questions", []):
            kind, name = question.get("type"), question.get("name")
            if kind in ("select_one", "select_multiple"):
                options = [c["name"] for c in lists.get(question.get("list"), []) if not c.get("missing")]
                if options:
                    pick = options[int(rng.integers(len(options)))]
                    answers[name] = pick if kind == "select_one" else [pick]
            elif kind in ("integer", "decimal"):
                low = question.get("min") if question.get("min") is not None else 0
                high = question.get("max") if question.get("max") is not None else max(low, 0) + 100
                answers[name] = int(rng.integers(int(low), int(high) + 1))
    return answers


def _fieldwork(session: Session, project: SurveyProject, draw_id: int, rng: np.random.Generator) -> int:
    version = questionnaires.current_published(session, project.id)
    if version is None:
        return 0
    rows = session.execute(
        select(Invitation, SampleUnit).join(SampleUnit, SampleUnit.id == Invitation.sample_unit_id).where(SampleUnit.draw_id == draw_id).order_by(SampleUnit.id)
    ).all()
    today = datetime.combine(datetime.now(UTC).date(), time(9, 0), UTC)
    made = 0
    for invitation, unit in rows:
        roll = rng.random()
        if roll < 0.55:
            complete = roll < 0.45
            seconds = float(rng.lognormal(np.log(420), 0.35)) if rng.random() > 0.04 else float(rng.uniform(40, 90))
            submitted = today - timedelta(days=int(rng.integers(0, 12)), minutes=int(rng.integers(0, 600)))
            session.add(
                Response(
                    project_id=project.id, version_id=version.id, invitation_id=invitation.id, sample_unit_id=unit.id,
                    status=ResponseStatus.COMPLETE if complete else ResponseStatus.PARTIAL, answers=_answers(version.definition, rng),
                    page=0, furthest_page=0, language="zh_CN", device_class="phone" if rng.random() < 0.7 else "desktop",
                    paradata={"pages": {"demo": round(seconds, 1)}, "visits": 1}, started_at=submitted - timedelta(seconds=seconds),
                    submitted_at=submitted if complete else None,
                )
            )
            invitation.status = InvitationStatus.SUBMITTED if complete else InvitationStatus.STARTED
            invitation.submitted_at = submitted if complete else None
            made += 1
        elif roll < 0.62:
            invitation.status = InvitationStatus.REFUSED
        elif roll < 0.70:
            invitation.status = InvitationStatus.NOT_REACHED
    session.flush()
    return made


def _review_chain(session: Session, project: SurveyProject) -> None:
    if session.scalars(select(ReviewLevel).where(ReviewLevel.project_id == project.id)).first() is not None:
        return
    for number, name in enumerate(REVIEW_LEVELS, start=1):
        session.add(ReviewLevel(project_id=project.id, level=number, name=name))
    reviewer = users.get_by_email(session, "reviewer@strata.example")
    if reviewer is not None:
        for number in range(1, len(REVIEW_LEVELS) + 1):
            session.add(ReviewerAssignment(project_id=project.id, user_id=reviewer.id, level=number))
    session.flush()
    audit.record(session, "review.configure", actor_label=ACTOR, object_type="survey_project", object_id=project.id, after={"levels": list(REVIEW_LEVELS)})


def load(session: Session, summary: Any, *, graduates: int = 3000) -> None:
    """Add the demo frame, sample, invitations, review chain and fieldwork when missing."""
    try:
        project = surveys.get_project_by_code(session, PROJECT)
    except NotFound:
        return
    if session.scalars(select(SamplingFrame.id).where(SamplingFrame.project_id == project.id, SamplingFrame.name == FRAME_NAME)).first() is not None:
        summary.existing.append(f"demo frame {PROJECT}")
        return
    designer = users.get_by_email(session, "designer@strata.example")
    if designer is None:
        return
    rng = np.random.default_rng(SEED)
    frame = SamplingFrame(
        project_id=project.id, name=FRAME_NAME, source_filename="demo-graduates.csv", file_sha256="",
        columns={"unit_id": "student_no", "stratum": "stratum", "size": None, "contact": ["name", "phone", "email"], "attributes": ["institution", "degree"], "encoding": "utf-8", "kind": "csv"},
        row_count=graduates, rows_imported=graduates, status=FrameStatus.READY, created_by_id=designer.id,
    )
    session.add(frame)
    session.flush()
    rows = _graduates(graduates, rng)
    for start in range(0, len(rows), 1000):
        session.execute(insert(FrameUnit), [{**row, "frame_id": frame.id} for row in rows[start : start + 1000]])
    audit.record(session, "frame.upload", actor_label=ACTOR, object_type="sampling_frame", object_id=frame.id, details={"rows": graduates, "demo": True})
    design = samples.parse_design({"sample_size": "300", "allocation": "proportional", "min_n": "2", "seed": str(SEED), "label": "主样本 Main sample (demo)", "confirm_new": "true"})
    draw = samples.draw(session, project, frame, design, actor=designer)
    issued = invitations_export.issue(session, draw, actor=designer)
    _review_chain(session, project)
    responses = _fieldwork(session, project, draw.id, rng)
    summary.created.append(f"demo frame of {graduates} graduates, sample of {draw.sample_size}, {issued} invitations, {responses} responses ({PROJECT})")
