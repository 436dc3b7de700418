"""The invitations service the admin pages use: personal tokens per sample unit, open links, look-up."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent
from survey_app.core.errors import NotFound, ValidationFailed
from survey_app.demo.services import demo_questionnaires
from survey_app.fieldwork.models import Invitation, InvitationKind, InvitationStatus
from survey_app.fieldwork.services import invitations
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys


def _project(session: Session, code: str) -> SurveyProject:
    return surveys.create_project(session, {
        "code": code, "title": code, "form_number": "表1", "issuing_authority": "机关", "approval_number": "批1",
        "valid_until": date.today() + timedelta(days=30), "status": "active"}, actor_label="test")


def test_personal_invitations_once_per_sample_unit(session: Session) -> None:
    project = _project(session, "alpha-survey")
    units = demo_questionnaires.demo_sample(session, project, 3)
    first = invitations.issue_personal(session, project, units, actor_label="test")
    again = invitations.issue_personal(session, project, units, actor_label="test")
    assert len(first) == 3 and again == []
    assert {i.sample_unit_id for i in first} == {u.id for u in units}
    assert len({i.token for i in first}) == 3 and all(len(i.token) >= 24 for i in first)
    assert all(i.kind == InvitationKind.PERSONAL and i.status == InvitationStatus.ISSUED for i in first)
    assert invitations.find_by_token(session, first[0].token) is first[0]
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "invitation.issue_personal")) == 1


def test_units_of_another_project_are_refused(session: Session) -> None:
    alpha, beta = _project(session, "alpha-survey"), _project(session, "beta-survey")
    units = demo_questionnaires.demo_sample(session, alpha, 2)
    with pytest.raises(ValidationFailed, match="another survey project"):
        invitations.issue_personal(session, beta, units)
    assert session.scalar(select(func.count(Invitation.id))) == 0


def test_open_links_and_lookups(app: Flask, session: Session) -> None:
    project = _project(session, "alpha-survey")
    link = invitations.create_open_link(session, project, "东湖县 QR")
    assert link.kind == InvitationKind.OPEN and link.sample_unit_id is None and link.label == "东湖县 QR"
    with pytest.raises(ValidationFailed):
        invitations.create_open_link(session, project, "x" * 201)
    with app.test_request_context(base_url="https://survey.example.org"):
        assert invitations.respondent_url(link) == f"https://survey.example.org/r/{link.token}"
    for bad in ("", "nope", "x" * 65):
        with pytest.raises(NotFound):
            invitations.find_by_token(session, bad)
    link.status = InvitationStatus.REVOKED
    with pytest.raises(NotFound):
        invitations.find_by_token(session, link.token)
    assert [i.id for i in invitations.list_for_project(session, project, InvitationKind.OPEN)] == [link.id]
