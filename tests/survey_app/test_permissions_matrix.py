"""Every /admin route, as every role: 200 where allowed, 403 where not, 302 to log in when anonymous.

Routes are enumerated from ``app.url_map``, so a new admin route fails this test until its
permission category is declared in ``EXPECTED``.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from survey_app.core import db, frame_files
from survey_app.fieldwork.models import Invitation, SampleUnit
from survey_app.fieldwork.services import invitations_export
from survey_app.projects.models import ProjectGrant, ReviewerAssignment

from .admin_world import ROLES, World, add_response, build_world, frame_csv, publish_questionnaire

# category -> roles allowed to open the page
ALLOWED = {
    "any": {"admin", "owner", "granted", "other_designer", "reviewer", "statistician"},
    "create": {"admin", "owner", "granted", "other_designer"},
    "manage": {"admin", "owner", "granted"},
    "results": {"admin", "owner", "granted", "statistician"},
    "review": {"admin", "reviewer"},
    "admin": {"admin"},
}

EXPECTED = {
    "admin.dashboard": "any",
    "admin_projects.registry": "any",
    "admin_projects.new_project": "create",
    "admin_projects.show": "manage",
    "admin_projects.edit": "manage",
    "admin_projects.add_grant": "manage",
    "admin_projects.revoke_grant": "manage",
    "admin_frames.upload": "manage",
    "admin_frames.mapping": "manage",
    "admin_frames.encoding": "manage",
    "admin_frames.discard": "manage",
    "admin_frames.show": "manage",
    "admin_frames.progress": "manage",
    "admin_samples.design": "manage",
    "admin_samples.show": "manage",
    "admin_samples.manifest": "manage",
    "admin_invitations.index": "manage",
    "admin_invitations.issue": "manage",
    "admin_invitations.export_csv": "manage",
    "admin_invitations.export_xlsx": "manage",
    "admin_invitations.qr": "manage",
    "admin_invitations.remind": "manage",
    "admin_invitations.outcomes": "manage",
    "admin_monitoring.index": "results",
    "admin_monitoring.chart": "results",
    "admin_review.mine": "any",
    "admin_review.setup": "manage",
    "admin_review.unassign": "manage",
    "admin_review.queue": "review",
    "admin_review.show": "review",
    "admin_review.decide": "review",
    "admin_review.edit": "review",
    "admin_audit.index": "admin",
    "admin_audit.export": "admin",
    "admin_users.index": "admin",
    "admin_users.update": "admin",
}
# The admin blueprints of this module's pages; every one of their routes must be declared above.
# Admin routes of other blueprints (questionnaires, graduates, ...) are checked for the one rule
# that holds for all: an anonymous visitor is sent to the log-in page.
OWN_BLUEPRINTS = {"admin", "admin_projects", "admin_frames", "admin_samples", "admin_invitations", "admin_monitoring", "admin_review", "admin_audit", "admin_users"}


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def _params(app: Flask, world: World) -> dict[str, Any]:
    with db.session_factory(app)() as session:
        grant = session.scalars(select(ProjectGrant).where(ProjectGrant.project_id == world.project.id)).first()
        assert grant is not None
        invitations_export.issue(session, session.merge(world.draw), actor=session.merge(world.users["owner"]))
        session.commit()
        invitation = session.scalars(select(Invitation)).first()
        assert invitation is not None
        version = publish_questionnaire(session, session.merge(world.project))
        response = add_response(session, session.merge(world.project), version, session.scalars(select(SampleUnit)).first())
        assignment = session.scalars(select(ReviewerAssignment)).first()
        assert assignment is not None
        session.commit()
        staged = frame_files.stage_upload(app.config["FRAME_UPLOAD_DIR"], "more.csv", io.BytesIO(frame_csv(10)), project_id=world.project.id, user_id=world.users["owner"].id)
        return {
            "project_id": world.project.id,
            "frame_id": world.frame.id,
            "draw_id": world.draw.id,
            "grant_id": grant.id,
            "user_id": world.users["statistician"].id,
            "token": staged.token,
            "level": 1,
            "invitation_id": invitation.id,
            "kind": "svg",
            "chart": "outcomes",
            "response_id": response.id,
            "assignment_id": assignment.id,
        }


def _admin_rules(app: Flask, own: bool = True) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin") and (r.endpoint.split(".")[0] in OWN_BLUEPRINTS) == own]


def test_every_other_admin_route_needs_a_login(app: Flask) -> None:
    client = app.test_client()
    rules = _admin_rules(app, own=False)
    for rule in rules:
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{name: 1 if isinstance(rule._converters[name], IntegerConverter) else "x" for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code == 302 and "/login" in response.headers["Location"], f"{method} {url}: {response.status_code}"


def test_every_admin_route_has_a_declared_permission(app: Flask) -> None:
    endpoints = {r.endpoint for r in _admin_rules(app)}
    assert endpoints - set(EXPECTED) == set(), "declare the permission category of the new admin routes"
    assert set(EXPECTED) - endpoints == set(), "EXPECTED lists routes that no longer exist"


def test_every_admin_route_as_every_role(app: Flask, world: World) -> None:
    params = _params(app, world)
    clients = {role: world.client_for(app, role) for role in ROLES}
    checked = 0
    for rule in _admin_rules(app):
        allowed = ALLOWED[EXPECTED[rule.endpoint]]
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{name: params[name] for name in rule.arguments})
        for role in ROLES:
            client = clients[role]
            if "GET" in rule.methods:
                status = client.get(url).status_code
                expected = 302 if role == "anonymous" else (200 if role in allowed else 403)
            else:  # state-changing routes: only check that they are refused (the happy paths have their own tests)
                if role in allowed:
                    continue
                status = client.post(url, data={}).status_code
                expected = 302 if role == "anonymous" else 403
            assert status == expected, f"{role} {rule.methods} {url} ({rule.endpoint}): {status}, expected {expected}"
            checked += 1
    assert checked > 80


def test_unknown_objects_are_404(app: Flask, world: World) -> None:
    admin = world.client_for(app, "admin")
    params = _params(app, world)
    missing = {**params, "project_id": 99999, "frame_id": 99999, "draw_id": 99999, "grant_id": 99999, "user_id": 99999, "token": "0" * 32, "invitation_id": 99999, "response_id": 99999}
    checked = 0
    for rule in _admin_rules(app):
        ids = [a for a in rule.arguments if a in ("project_id", "frame_id", "draw_id", "token", "user_id", "invitation_id", "response_id")]
        if not ids or "GET" not in rule.methods:
            continue
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **{name: missing[name] if name in ids else params[name] for name in rule.arguments})
        assert admin.get(url).status_code == 404, url
        checked += 1
    assert checked >= 8
