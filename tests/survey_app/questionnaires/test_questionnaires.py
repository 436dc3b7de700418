"""Questionnaire versions (import, publish, freeze, new draft), designer pages and the demo data."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, Role
from survey_app.demo.services import demo_questionnaires
from survey_app.demo.services.demo import DemoSummary
from survey_app.fieldwork.models import InvitationKind
from survey_app.fieldwork.services import invitations
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys
from survey_app.questionnaires.engine.xlsform import parse_xlsform
from survey_app.questionnaires.models import (
    Questionnaire,
    QuestionnaireFrozen,
    QuestionnaireVersion,
    VersionStatus,
)
from survey_app.questionnaires.services import questionnaires

from .. import workbooks
from .test_xlsform import YES_NO, make_xlsform

GOOD = make_xlsform([["select_one yn", "q1", "Agree?", "同意吗？", "yes"]], YES_NO,
                    settings={"form_title::English (en)": "Small", "form_title::中文 (zh)": "小问卷"})
BAD = make_xlsform([["select_one yn", "q1", "Agree?", "同意吗？", "yes", "${q2} = 1"], ["bogus", "q2", "B", "乙"]], YES_NO)


def _project(session: Session, owner_id: int | None = None, code: str = "small-survey") -> SurveyProject:
    project = surveys.create_project(session, {
        "code": code, "title": "小调查", "form_number": "表1", "issuing_authority": "机关", "approval_number": "批1",
        "valid_until": date.today() + timedelta(days=30), "status": "active"}, actor_label="test")
    project.owner_id = owner_id
    session.commit()
    return project


def test_import_publish_and_new_draft_versions(session: Session) -> None:
    project = _project(session)
    first = questionnaires.import_xlsform(session, project, GOOD, "v1.xlsx", actor_label="test")
    again = questionnaires.import_xlsform(session, project, GOOD, "v1b.xlsx", actor_label="test")
    assert again.id == first.id and again.number == 1 and again.source_filename == "v1b.xlsx"  # a draft is replaced
    questionnaires.publish(session, first, actor_label="test")
    assert questionnaires.current_published(session, project.id) is first
    with pytest.raises(QuestionnaireFrozen):
        first.replace_definition({}, filename="x", source=None, sha256="")
    second = questionnaires.import_xlsform(session, project, GOOD, "v2.xlsx", actor_label="test")
    assert second.number == 2 and second.status == VersionStatus.DRAFT
    assert questionnaires.current_published(session, project.id) is first  # respondents keep v1 until v2 is published
    assert [v.number for v in questionnaires.list_versions(session, project)] == [2, 1]
    assert first.definition["pages"][0]["questions"][0]["label"] == {"en": "Agree?", "zh_CN": "同意吗？"}
    assert first.source_xlsform == GOOD and len(first.source_sha256) == 64
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("questionnaire.%")).order_by(AuditEvent.id)).all()
    assert actions == ["questionnaire.draft_create", "questionnaire.draft_replace", "questionnaire.publish", "questionnaire.draft_create"]
    with pytest.raises(questionnaires.Conflict):
        questionnaires.publish(session, first)


def test_an_invalid_xlsform_stores_nothing(session: Session) -> None:
    project = _project(session)
    with pytest.raises(questionnaires.XLSFormRejected) as info:
        questionnaires.import_xlsform(session, project, BAD, "bad.xlsx", actor_label="test")
    assert info.value.status == 422 and len(info.value.problems) == 2
    assert info.value.errors == {"survey, row 2, column relevant (F)": ["${q2} does not name an earlier question"],
                                 "survey, row 3, column type (A)": [info.value.problems[1].message]}
    session.rollback()
    assert session.scalar(select(func.count(Questionnaire.id))) == 0
    assert session.scalar(select(func.count(QuestionnaireVersion.id))) == 0


def _upload(client: FlaskClient, project_id: int, data: bytes, name: str = "form.xlsx") -> Any:
    return client.post(f"/admin/questionnaires/{project_id}", data={"xlsform": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_designer_pages_upload_errors_preview_publish_export(client: FlaskClient, logged_in: Any, session: Session) -> None:
    designer = logged_in(Role.DESIGNER)
    project = _project(session, designer.id)
    client.get("/?lang=en")
    assert "small-survey" in client.get("/admin/questionnaires/").get_data(as_text=True)
    rejected = _upload(client, project.id, BAD)
    html = rejected.get_data(as_text=True)
    assert rejected.status_code == 422 and "2 problem(s) found" in html
    assert "relevant (F)" in html and "${q2} does not name an earlier question" in html and "type (A)" in html
    assert session.scalar(select(func.count(QuestionnaireVersion.id))) == 0
    assert _upload(client, project.id, GOOD).status_code == 302
    version = session.scalars(select(QuestionnaireVersion)).one()
    preview = client.get(f"/admin/questionnaires/{project.id}/versions/{version.id}/preview").get_data(as_text=True)
    assert "Agree?" in preview and "同意吗？" in preview and "小问卷" in preview and "Small" in preview
    assert client.post(f"/admin/questionnaires/{project.id}/versions/{version.id}/publish").status_code == 302
    session.expire_all()
    assert session.get(QuestionnaireVersion, version.id).status == VersionStatus.PUBLISHED  # type: ignore[union-attr]
    history = client.get(f"/admin/questionnaires/{project.id}").get_data(as_text=True)
    assert "Published" in history and "Publish</button>" not in history
    exported = client.get(f"/admin/questionnaires/{project.id}/versions/{version.id}/xlsform")
    assert exported.status_code == 200 and exported.headers["Content-Disposition"].endswith("small-survey-v1.xlsx")
    assert parse_xlsform(exported.data) == version.definition


def test_malformed_xml_inside_an_xlsform_is_refused_and_nothing_is_stored(client: FlaskClient, logged_in: Any, session: Session) -> None:
    project = _project(session, logged_in(Role.DESIGNER).id)
    form = make_xlsform([["text", f"q{i}", f"Q{i}", f"问{i}"] for i in range(40)], YES_NO)
    for damaged in (workbooks.with_part(form, "xl/workbook.xml", b"<workbook><sheets><sheet"),
                    workbooks.broken_at_row(form, 30)):
        rejected = _upload(client, project.id, damaged)
        assert rejected.status_code == 422, rejected.status_code
        assert "The Excel workbook could not be read" in rejected.get_data(as_text=True)
    assert session.scalar(select(func.count(QuestionnaireVersion.id))) == 0


def test_an_xlsform_over_a_reading_limit_is_refused_and_nothing_is_stored(client: FlaskClient, logged_in: Any, session: Session) -> None:
    """A 200 MB label in a 205 kB workbook was stored (and previewed as 419 MB of HTML)."""
    project = _project(session, logged_in(Role.DESIGNER).id)
    header = ["type", "name", "label::English (en)"]
    bomb = workbooks.streamed_xlsx({"survey": [header, ["note", "n1", "a" * (20 << 20)]], "choices": [["list_name", "name", "label"]]})
    long_label = workbooks.streamed_xlsx({"survey": [header, ["note", "n1", workbooks.noise(8_001)]], "choices": [["list_name", "name", "label"]]})
    for data, message in ((bomb, "is compressed more than 100 times"), (long_label, "row 2, column C holds more than 8000 characters")):
        rejected = _upload(client, project.id, data)
        assert rejected.status_code == 422 and message in rejected.get_data(as_text=True)
    assert session.scalar(select(func.count(QuestionnaireVersion.id))) == 0


def test_designers_only_manage_their_own_projects(client: FlaskClient, logged_in: Any, make_user: Any, session: Session) -> None:
    other = make_user(Role.DESIGNER, email="other@example.org")
    project = _project(session, other.id)
    logged_in(Role.DESIGNER)
    assert client.get(f"/admin/questionnaires/{project.id}").status_code == 403
    assert _upload(client, project.id, GOOD).status_code == 403
    assert "small-survey" not in client.get("/admin/questionnaires/").get_data(as_text=True)


def test_respondents_cannot_open_designer_pages(client: FlaskClient, logged_in: Any) -> None:
    assert client.get("/admin/questionnaires/").status_code == 302  # to the login page
    logged_in(Role.REVIEWER)
    assert client.get("/admin/questionnaires/").status_code == 403


def test_demo_questionnaires_are_published_with_links(session: Session) -> None:
    for code in (demo_questionnaires.GRADUATE, demo_questionnaires.SATISFACTION):
        _project(session, code=code)
    first = DemoSummary()
    demo_questionnaires.load(session, first)
    session.commit()
    assert len(first.created) == 4 and first.existing == []
    graduate = surveys.get_project_by_code(session, demo_questionnaires.GRADUATE)
    satisfaction = surveys.get_project_by_code(session, demo_questionnaires.SATISFACTION)
    for project in (graduate, satisfaction):
        version = questionnaires.current_published(session, project.id)
        assert version is not None and version.number == 1 and version.source_filename.endswith(".xlsx")
        assert set(version.definition["languages"]) == {"zh_CN", "en"}
    assert len(invitations.list_for_project(session, satisfaction, InvitationKind.OPEN)) == 1
    personal = invitations.list_for_project(session, graduate, InvitationKind.PERSONAL)
    assert len(personal) == 5 and all(i.sample_unit_id for i in personal)
    links = demo_questionnaires.respondent_links(session)
    assert [what for what, _path in links] == ["county-education-satisfaction-2026 (open)", "graduate-employment-2026 (personal)"]
    assert links[1][1] == f"/r/{personal[0].token}"
    again = DemoSummary()
    demo_questionnaires.load(session, again)
    assert again.created == [] and len(again.existing) == 2
