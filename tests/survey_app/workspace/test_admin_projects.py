"""Survey project pages: create/edit with statutory labels, owner and grants, and the registry."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, Role
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import project_admin
from survey_app.workspace.services import registry as approved_surveys

from ..admin_world import make_frame, project_data, publish_questionnaire
from ..conftest import login


def _form(**changes: Any) -> dict[str, Any]:
    data = project_data(**changes)
    data["indicators"] = "\n".join(data["indicators"]) if isinstance(data["indicators"], list) else data["indicators"]
    return data


def test_designer_creates_and_edits_a_project(client: FlaskClient, logged_in: Any, session: Session) -> None:
    designer = logged_in(Role.DESIGNER)
    assert client.get("/admin/projects/new").status_code == 200
    response = client.post("/admin/projects/new", data=_form(indicators="placement rate\nstarting salary\n\n"))
    assert response.status_code == 302
    project = session.scalars(select(SurveyProject)).one()
    assert project.owner_id == designer.id and project.indicators == ["placement rate", "starting salary"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "教就调表1号" in page and "示统制〔2026〕12号" in page and "starting salary" in page

    edited = client.post(f"/admin/projects/{project.id}/edit", data=_form(approval_number="示统制〔2026〕99号", fieldwork_start="2026-09-01", fieldwork_end="2026-10-01"))
    assert edited.status_code == 302
    session.expire_all()
    assert session.get(SurveyProject, project.id).approval_number == "示统制〔2026〕99号"  # type: ignore[union-attr]
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "survey.update")).one()
    assert event.before["approval_number"] == "示统制〔2026〕12号" and event.after["approval_number"] == "示统制〔2026〕99号"
    assert event.actor_id == designer.id


def test_invalid_project_shows_errors_and_stores_nothing(client: FlaskClient, logged_in: Any, session: Session) -> None:
    logged_in(Role.DESIGNER)
    response = client.post("/admin/projects/new", data=_form(code="Not A Code", form_number="", fieldwork_start="2026-10-01", fieldwork_end="2026-09-01"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "form_number" in page and "code" in page and "fieldwork_end" in page
    assert session.scalars(select(SurveyProject)).all() == []


def test_fieldwork_cannot_outlast_the_approval(client: FlaskClient, logged_in: Any) -> None:
    logged_in(Role.DESIGNER)
    late = (date.today() + timedelta(days=400)).isoformat()
    response = client.post("/admin/projects/new", data=_form(fieldwork_end=late))
    assert response.status_code == 422 and "valid_until" in response.get_data(as_text=True)


def test_reviewers_and_statisticians_cannot_create_projects(client: FlaskClient, logged_in: Any) -> None:
    logged_in(Role.STATISTICIAN)
    assert client.post("/admin/projects/new", data=_form()).status_code == 403


def test_grant_lets_another_designer_manage(app: Flask, client: FlaskClient, make_user: Any, session: Session) -> None:
    owner, helper = make_user(Role.DESIGNER, "owner@example.org"), make_user(Role.DESIGNER, "helper@example.org")
    project = project_admin.create(session, project_data(), actor=session.merge(owner))
    session.commit()
    other = app.test_client()
    login(other, helper.email)
    assert other.get(f"/admin/projects/{project.id}").status_code == 403
    login(client, owner.email)
    assert client.post(f"/admin/projects/{project.id}/grants", data={"user_id": str(helper.id)}).status_code == 302
    assert other.get(f"/admin/projects/{project.id}").status_code == 200
    assert other.get("/admin/").get_data(as_text=True).count(f"/admin/projects/{project.id}") >= 1
    grant = project_admin.grants(session, project)[0]
    assert client.post(f"/admin/projects/{project.id}/grants/{grant.id}/delete").status_code == 302
    assert other.get(f"/admin/projects/{project.id}").status_code == 403
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("survey."))).all()
    assert actions == ["survey.create", "survey.grant", "survey.revoke"]


def test_only_the_owner_or_an_admin_manages_grants_and_archives(app: Flask, make_user: Any, session: Session) -> None:
    """Issue #20: a designer who was only granted a project could grant it on, revoke grants and archive it."""
    owner, granted, third = (make_user(Role.DESIGNER, f"{name}@example.org") for name in ("owner", "granted", "third"))
    project = project_admin.create(session, project_data(), actor=session.merge(owner))
    project_admin.grant(session, project, granted.id, actor=session.merge(owner))
    session.commit()
    grant_id = project_admin.grants(session, project)[0].id
    helper = app.test_client()
    login(helper, granted.email)
    page = helper.get(f"/admin/projects/{project.id}").get_data(as_text=True)
    assert f"/admin/projects/{project.id}/grants" not in page  # no grant or revoke forms for a granted designer
    assert helper.post(f"/admin/projects/{project.id}/grants", data={"user_id": str(third.id)}).status_code == 403
    assert helper.post(f"/admin/projects/{project.id}/grants/{grant_id}/delete").status_code == 403
    archived = helper.post(f"/admin/projects/{project.id}/edit", data=_form(status="archived"))
    assert archived.status_code == 403 and "owner" in archived.get_data(as_text=True)
    assert "archived" not in helper.get(f"/admin/projects/{project.id}/edit").get_data(as_text=True).split('id="status"')[1].split("</select>")[0]
    # the granted designer still edits the project's work
    assert helper.post(f"/admin/projects/{project.id}/edit", data=_form(title="毕业生调查（修订）")).status_code == 302
    session.expire_all()
    assert [g.user_id for g in project_admin.grants(session, project)] == [granted.id]
    assert session.get(SurveyProject, project.id).status.value == "active"  # type: ignore[union-attr]
    assert session.get(SurveyProject, project.id).title == "毕业生调查（修订）"  # type: ignore[union-attr]
    denied = session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == granted.id)).all()
    assert "survey.grant" not in denied and "survey.revoke" not in denied
    # the owner does all three
    boss = app.test_client()
    login(boss, owner.email)
    assert boss.post(f"/admin/projects/{project.id}/grants", data={"user_id": str(third.id)}).status_code == 302
    assert boss.post(f"/admin/projects/{project.id}/grants/{grant_id}/delete").status_code == 302
    assert boss.post(f"/admin/projects/{project.id}/edit", data=_form(status="archived")).status_code == 302
    session.expire_all()
    assert [g.user_id for g in project_admin.grants(session, project)] == [third.id]
    assert session.get(SurveyProject, project.id).status.value == "archived"  # type: ignore[union-attr]


def test_admin_assigns_the_owner(client: FlaskClient, logged_in: Any, make_user: Any, session: Session) -> None:
    designer = make_user(Role.DESIGNER, "someone@example.org")
    logged_in(Role.ADMIN)
    assert client.post("/admin/projects/new", data=_form(owner_id=str(designer.id))).status_code == 302
    assert session.scalars(select(SurveyProject)).one().owner_id == designer.id
    bad = client.post("/admin/projects/new", data=_form(code="other", owner_id="99999"))
    assert bad.status_code == 422 and "owner_id" in bad.get_data(as_text=True)


def test_registry_lists_approved_projects_and_warns_about_overlaps(app: Flask, client: FlaskClient, make_user: Any, session: Session) -> None:
    owner = session.merge(make_user(Role.DESIGNER))
    first = project_admin.create(session, project_data("first", target_population="2026届 毕业生", indicators=["placement rate"]), actor=owner)
    project_admin.create(session, project_data("second", target_population="2026届毕业生"), actor=owner)
    third = project_admin.create(session, project_data("third", target_population="county residents", title_en="County satisfaction"), actor=owner)
    project_admin.create(session, project_data("draft-one", status="draft", title_en="Draft only"), actor=owner)
    session.commit()
    make_frame(app, session, first, owner)
    make_frame(app, session, third, owner)  # the same unit ids as the first project's frame
    publish_questionnaire(session, first)
    session.commit()
    login(client, owner.email)
    page = client.get("/admin/registry").get_data(as_text=True)
    assert "placement rate" in page and "Draft only" not in page
    assert "questionnaire variables" in page and "i16" in page
    assert "target the same population" in page
    assert "share 300 units" in page
    entries, overlaps = approved_surveys.registry(session, date.today())
    assert {(o.first.code, o.second.code, o.reason) for o in overlaps} == {("first", "second", "population"), ("first", "third", "units")}
    assert {e.project.code for e in entries} == {"first", "second", "third"} and all(e.valid for e in entries)
