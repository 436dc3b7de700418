"""Data review: chain configuration, queues per level, approve/return/reject with reasons,
reviewer edits keeping the original value, and the approved ids for estimation."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, Role
from survey_app.accounts.services import users
from survey_app.fieldwork.models import Invitation, InvitationStatus, SampleUnit
from survey_app.fieldwork.services import invitations_export
from survey_app.respond.models import Response, ResponseStatus
from survey_app.review.models import ReviewEdit, ReviewLevel
from survey_app.review.services import review

from ..admin_world import PASSWORD, World, add_response, build_world, publish_questionnaire
from ..conftest import login


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


@pytest.fixture
def responses(world: World, session: Session) -> list[Response]:
    project = session.merge(world.project)
    invitations_export.issue(session, session.merge(world.draw), actor=session.merge(world.users["owner"]))
    version = publish_questionnaire(session, project)
    units = session.scalars(select(SampleUnit).where(SampleUnit.draw_id == world.draw.id).order_by(SampleUnit.id)).all()[:4]
    invitation_of = {i.sample_unit_id: i for i in session.scalars(select(Invitation))}
    made = []
    for unit in units:
        response = add_response(session, project, version, unit)
        response.invitation_id = invitation_of[unit.id].id
        invitation_of[unit.id].status = InvitationStatus.SUBMITTED
        made.append(response)
    session.commit()
    return made


def _second_reviewer(app: Flask, world: World, session: Session) -> Any:
    user = users.create_user(session, email="final@example.org", password=PASSWORD, role=Role.REVIEWER, actor_label="test")
    session.commit()
    owner = app.test_client()
    login(owner, world.users["owner"].email)
    assert owner.post(f"/admin/projects/{world.project.id}/review/setup", data={"action": "assign", "user_id": str(user.id), "level": "2"}).status_code == 302
    client = app.test_client()
    login(client, user.email)
    return client


def test_two_level_chain_end_to_end(app: Flask, world: World, session: Session, responses: list[Response]) -> None:
    first = world.client_for(app, "reviewer")
    final = _second_reviewer(app, world, session)
    pid = world.project.id
    a, b, c, d = (r.id for r in responses)
    queue = first.get(f"/admin/projects/{pid}/review/1").get_data(as_text=True)
    assert "4 records waiting" in queue
    assert final.get(f"/admin/projects/{pid}/review/1").status_code == 403  # not assigned to level 1
    assert first.get(f"/admin/projects/{pid}/review/2").status_code == 403

    # level 1: approve a and b, reject c, return d to the respondent
    for rid in (a, b):
        assert first.post(f"/admin/projects/{pid}/review/1/{rid}/decision", data={"decision": "approve"}).status_code == 302
    no_reason = first.post(f"/admin/projects/{pid}/review/1/{c}/decision", data={"decision": "reject"})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_data(as_text=True)
    assert first.post(f"/admin/projects/{pid}/review/1/{c}/decision", data={"decision": "reject", "reason": "test entry"}).status_code == 302
    assert first.post(f"/admin/projects/{pid}/review/1/{d}/decision", data={"decision": "return_respondent", "reason": "county missing"}).status_code == 302
    session.expire_all()
    assert session.get(Response, d).status == ResponseStatus.PARTIAL  # type: ignore[union-attr]
    token = session.get(Invitation, session.get(Response, d).invitation_id).token  # type: ignore[union-attr, arg-type]
    reopened = app.test_client().get(f"/r/{token}?lang=en")
    assert reopened.status_code == 200 and "already been submitted" not in reopened.get_data(as_text=True)  # the respondent can correct it
    assert session.get(Invitation, session.get(Response, d).invitation_id).status == InvitationStatus.STARTED  # type: ignore[union-attr, arg-type]
    assert "0 records waiting" in first.get(f"/admin/projects/{pid}/review/1").get_data(as_text=True)
    stale = first.post(f"/admin/projects/{pid}/review/1/{a}/decision", data={"decision": "approve"})
    assert stale.status_code == 409  # already moved on: no double decisions

    # level 2 (final): edit a, return b to level 1, approve a
    assert "2 records waiting" in final.get(f"/admin/projects/{pid}/review/2").get_data(as_text=True)
    edited = final.post(f"/admin/projects/{pid}/review/2/{a}/edit", data={"variable": "i01", "value": "4", "reason": "phone call-back: respondent meant satisfied"})
    assert edited.status_code == 302
    page = final.get(edited.headers["Location"]).get_data(as_text=True)
    assert "phone call-back" in page
    session.expire_all()
    change = session.scalars(select(ReviewEdit)).one()
    assert change.variable == "i01" and change.new_value == "4" and change.original_value != "4"
    assert session.get(Response, a).answers["i01"] == "4"  # type: ignore[union-attr]
    assert final.post(f"/admin/projects/{pid}/review/2/{b}/decision", data={"decision": "return_previous", "reason": "check the county"}).status_code == 302
    assert final.post(f"/admin/projects/{pid}/review/2/{a}/decision", data={"decision": "approve"}).status_code == 302
    assert "1 records waiting" in first.get(f"/admin/projects/{pid}/review/1").get_data(as_text=True)

    assert review.approved_response_ids(session, pid) == [a]
    # the respondent corrects d and submits again: it is back in the first queue
    response_d = session.get(Response, d)
    assert response_d is not None
    response_d.status = ResponseStatus.COMPLETE
    session.commit()
    assert "2 records waiting" in first.get(f"/admin/projects/{pid}/review/1").get_data(as_text=True)
    decisions = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "review.decision")).all()
    assert [x["decision"] for x in decisions] == ["approve", "approve", "reject", "return_respondent", "return_previous", "approve"]


def test_bad_edits_and_decisions(app: Flask, world: World, session: Session, responses: list[Response]) -> None:
    client = world.client_for(app, "reviewer")
    pid, rid = world.project.id, responses[0].id
    assert client.post(f"/admin/projects/{pid}/review/1/{rid}/edit", data={"variable": "nope", "value": "1", "reason": "x"}).status_code == 422
    assert client.post(f"/admin/projects/{pid}/review/1/{rid}/edit", data={"variable": "i01", "value": "1"}).status_code == 422
    assert client.post(f"/admin/projects/{pid}/review/1/{rid}/decision", data={"decision": "return_previous", "reason": "x"}).status_code == 422
    assert client.post(f"/admin/projects/{pid}/review/1/{rid}/decision", data={"decision": "maybe"}).status_code == 422
    assert client.get(f"/admin/projects/{pid}/review/1/99999").status_code == 404
    assert session.scalars(select(ReviewEdit)).all() == []


def test_chain_configuration(app: Flask, world: World, session: Session, responses: list[Response]) -> None:
    owner = world.client_for(app, "owner")
    pid = world.project.id
    assert owner.post(f"/admin/projects/{pid}/review/setup", data={"level_name": ["学院初审", "学校复审", "省级终审"]}).status_code == 302
    names = session.scalars(select(ReviewLevel.name).where(ReviewLevel.project_id == pid).order_by(ReviewLevel.level)).all()
    assert names == ["学院初审", "学校复审", "省级终审"]
    assert owner.post(f"/admin/projects/{pid}/review/setup", data={"level_name": ["", ""]}).status_code == 422
    bad = owner.post(f"/admin/projects/{pid}/review/setup", data={"action": "assign", "user_id": str(world.users["statistician"].id), "level": "1"})
    assert bad.status_code == 422 and "active reviewer" in bad.get_data(as_text=True)
    # a record waiting at level 2 keeps level 2 from being removed
    reviewer = world.client_for(app, "reviewer")
    reviewer.post(f"/admin/projects/{pid}/review/1/{responses[0].id}/decision", data={"decision": "approve"})
    blocked = owner.post(f"/admin/projects/{pid}/review/setup", data={"level_name": ["only one"]})
    assert blocked.status_code == 409 and "waiting" in blocked.get_data(as_text=True)
    assert "学校复审" in owner.get(f"/admin/projects/{pid}/review/setup").get_data(as_text=True)
    mine = reviewer.get("/admin/review").get_data(as_text=True)
    assert "学院初审" in mine and "3" in mine
