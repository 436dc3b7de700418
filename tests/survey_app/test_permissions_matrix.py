"""Access control, class-wide (issue #20): every /admin page as every role and as a designer of
another project, every /api route with every kind of token and with a token of another project.

Routes are enumerated from ``app.url_map``, so a new admin page or API route fails these tests
until its permission category is declared in ``EXPECTED`` (admin) or ``API_EXPECTED`` (API).
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import numpy as np
import pytest
from flask import Flask, url_for
from sqlalchemy import select
from werkzeug.routing import Rule

from survey_app.accounts.models import Role, User
from survey_app.analysis.services import api_tokens
from survey_app.core import db, frame_files
from survey_app.demo.services import demo_satisfaction
from survey_app.fieldwork.models import Invitation, SampleUnit
from survey_app.fieldwork.services import invitations_export
from survey_app.graduates.models import GraduateSampleUnit
from survey_app.graduates.services import (
    graduates_register,
    graduates_survey,
    graduates_verification,
)
from survey_app.inspections.models import RegisterKind
from survey_app.inspections.services import inspections
from survey_app.projects.models import ProjectGrant, ReviewerAssignment, SurveyProject
from survey_app.projects.services import project_admin
from survey_app.satisfaction.models import CountyLink
from survey_app.satisfaction.services import satisfaction

from . import api_world
from .admin_world import (
    ROLES,
    World,
    _cheap_hash,
    add_response,
    build_world,
    frame_csv,
    project_data,
    publish_questionnaire,
)
from .graduates_util import csv_bytes, row

#: The roles of admin_world, and a designer who owns another project (and nothing of the world's).
ADMIN_ROLES = (*ROLES, "other_project")

DESIGNERS = {"admin", "owner", "granted", "other_designer", "other_project"}

# category -> roles allowed to open the page
ALLOWED = {
    "any": {"admin", "owner", "granted", "other_designer", "other_project", "reviewer", "statistician"},
    "create": DESIGNERS,  # any designer; what they see is their own
    "designers_statisticians": DESIGNERS | {"statistician"},
    "register": {"admin", "owner", "granted", "other_project"},  # the graduate register: designers with a project
    "manage": {"admin", "owner", "granted"},
    "administer": {"admin", "owner"},  # grants and archiving: not the designers the project was granted to
    "results": {"admin", "owner", "granted", "statistician"},
    "review": {"admin", "reviewer"},
    "tokens": {"admin", "statistician"},
    "admin": {"admin"},
}

EXPECTED = {
    "admin.dashboard": "any",
    "admin_projects.registry": "any",
    "admin_projects.new_project": "create",
    "admin_projects.show": "manage",
    "admin_projects.edit": "manage",
    "admin_projects.add_grant": "administer",
    "admin_projects.revoke_grant": "administer",
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
    "admin_tokens.index": "tokens",
    "admin_tokens.revoke": "tokens",
    "admin_questionnaires.index": "create",
    "admin_questionnaires.project": "manage",
    "admin_questionnaires.preview": "manage",
    "admin_questionnaires.publish": "manage",
    "admin_questionnaires.export": "manage",
    "admin_satisfaction.index": "designers_statisticians",
    "admin_satisfaction.overview": "manage",
    "admin_satisfaction.copy_questionnaire": "manage",
    "admin_satisfaction.add_index": "manage",
    "admin_satisfaction.add_links": "manage",
    "admin_satisfaction.upload_population": "manage",
    "admin_satisfaction.quota_page": "manage",
    "admin_satisfaction.start_run": "manage",
    "admin_satisfaction.link_qr": "manage",
    "admin_satisfaction.show_run": "results",
    "admin_satisfaction.workbook": "results",
    "admin_satisfaction.county": "results",
    "admin_inspections.index": "create",  # inspection registers belong to no project (see the report of issue #20)
    "admin_inspections.show": "create",
    "admin_inspections.manifest": "create",
    "admin_graduates.index": "register",
    "admin_graduates.rates": "register",
    "admin_graduates.register": "register",
    "admin_graduates.graduate": "register",
    "admin_graduates.import_register": "register",
    "admin_graduates.draw_verification": "register",
    "admin_graduates.draw_survey": "register",
    "admin_graduates.verification": "manage",
    "admin_graduates.import_outcomes": "manage",
    "admin_graduates.unit": "manage",
    "admin_graduates.manifest": "manage",
    "admin_graduates.survey": "results",
    "admin_graduates.survey_fieldwork": "manage",
}

#: Route arguments that name different objects on different pages (``draw_id``).
OVERRIDES = {
    "admin_graduates.verification": {"draw_id": "verification_id"},
    "admin_graduates.import_outcomes": {"draw_id": "verification_id"},
    "admin_graduates.manifest": {"draw_id": "verification_id"},
    "admin_graduates.survey": {"draw_id": "survey_id"},
    "admin_graduates.survey_fieldwork": {"draw_id": "survey_id"},
    "admin_inspections.show": {"draw_id": "inspection_id"},
    "admin_inspections.manifest": {"draw_id": "inspection_id"},
}

# API: endpoint -> (scope, kind). kinds: public (no token), list (any token with the scope; shows its
# own), survey (the token must allow the survey), register (a token for all surveys), draw (the
# token must allow the draw's survey).
API_EXPECTED = {
    "api_reference.docs": (None, "public"),
    "api-docs.openapi_json": (None, "public"),
    "surveys.Surveys": ("surveys:read", "list"),
    "surveys.Survey": ("surveys:read", "survey"),
    "estimates.Estimates": ("estimates:read", "survey"),
    "survey-data.Microdata": ("microdata:read", "survey"),
    "survey-data.Versions": ("surveys:read", "survey"),
    "survey-data.Codebook": ("surveys:read", "survey"),
    "survey-data.ResponseRates": ("surveys:read", "survey"),
    "weighting-schemes.Schemes": ("surveys:read", "survey"),  # GET; POST needs weighting:write
    "weighting-schemes.Scheme": ("surveys:read", "survey"),
    "weighting-schemes.Versions": ("weighting:write", "survey"),
    "weighting-schemes.Compute": ("weighting:write", "survey"),
    "graduates.Cohorts": ("graduates:read", "register"),
    "graduates.Rates": ("graduates:read", "register"),
    "graduates.Draws": ("graduates:read", "list"),
    "graduates.VerificationEstimates": ("graduates:read", "draw"),
    "graduates.SurveyEstimates": ("graduates:read", "draw"),
}

ALL_SCOPES = (*api_world.ALL_SCOPES, "graduates:read")


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def _graduates(session: Any, project: SurveyProject) -> dict[str, int]:
    """A small register with a verification and a survey sample drawn for ``project``."""
    codes = ["10"] * 12 + ["11"] * 6 + ["12"] * 6 + ["80"] * 6 + ["70"] * 6
    rows = [row(f"A{i:03d}", c) for i, c in enumerate(codes)]
    rows += [row(f"B{i:03d}", c, institution_code="10002", institution_name="示范学院") for i, c in enumerate(codes)]
    graduates_register.import_graduates(session, csv_bytes(rows), "r.csv", cohort=2026)
    check = graduates_verification.draw_verification_sample(session, 2026, snapshot_on=date(2026, 9, 1), seed=7,
                                                            per_institution=18, project=project)
    survey = graduates_survey.draw_survey_sample(session, 2026, seed=3, graduates_per_institution=10, project=project)
    unit = session.scalars(select(GraduateSampleUnit).where(GraduateSampleUnit.draw_id == check.id)).first()
    return {"cohort": 2026, "verification_id": check.id, "survey_id": survey.id, "unit_id": unit.id, "graduate_id": unit.graduate_id}


def _satisfaction(session: Any, project: SurveyProject) -> dict[str, Any]:
    """Responses, a population table, an estimation run and county links of the world's project."""
    version = satisfaction.published_version(session, project)
    demo_satisfaction._bulk_responses(session, project, version.id, np.random.default_rng(3))
    table = satisfaction.upload_population(session, project, demo_satisfaction.population_table(np.random.default_rng(2)).to_csv(index=False).encode(),
                                           "pop.csv", actor_label="test")
    record = satisfaction.run(session, project, table, satisfaction.default_index_config(session, project), actor_label="test")
    satisfaction.create_county_links(session, project, actor_label="test")
    link = session.scalars(select(CountyLink).where(CountyLink.project_id == project.id)).first()
    return {"run_id": record.id, "county": "c01", "link_id": link.id}


def _params(app: Flask, world: World) -> dict[str, Any]:
    with db.session_factory(app)() as session:
        grant = session.scalars(select(ProjectGrant).where(ProjectGrant.project_id == world.project.id)).first()
        assert grant is not None
        invitations_export.issue(session, session.merge(world.draw), actor=session.merge(world.users["owner"]))
        session.commit()
        invitation = session.scalars(select(Invitation)).first()
        assert invitation is not None
        project = session.merge(world.project)
        version = publish_questionnaire(session, project)
        response = add_response(session, project, version, session.scalars(select(SampleUnit)).first())
        assignment = session.scalars(select(ReviewerAssignment)).first()
        assert assignment is not None
        other = User(email="other_project@example.org", display_name="other_project", password_hash=_cheap_hash(), role=Role.DESIGNER)
        session.add(other)
        session.flush()
        project_admin.create(session, project_data("elsewhere-2026"), actor=other)
        token = api_tokens.create_token(session, owner=session.merge(world.users["statistician"]), name="mine", scopes=["surveys:read"],
                                        project_ids=[project.id])
        units_csv, staff_csv = inspections.demo_registers(seed=3)
        units = inspections.upload_register(session, RegisterKind.UNITS, units_csv, "units.csv", actor_label="test")
        staff = inspections.upload_register(session, RegisterKind.INSPECTORS, staff_csv, "staff.csv", actor_label="test")
        inspection = inspections.draw(session, units, staff, inspections.DrawSettings("Inspection", 78, 0.1, 2, 1.0, 2), actor_label="test")
        with app.test_request_context():
            graduates = _graduates(session, project)
            sat = _satisfaction(session, project)
        session.commit()
        world.users["other_project"] = other
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
            "version_id": version.id,
            "token_id": token.token.id,
            "inspection_id": inspection.id,
            **graduates,
            **sat,
        }


def _admin_rules(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/admin")]


def _url(app: Flask, rule: Rule, params: dict[str, Any]) -> str:
    names = OVERRIDES.get(rule.endpoint, {})
    with app.test_request_context():
        return url_for(rule.endpoint, **{name: params[names.get(name, name)] for name in rule.arguments})


def test_every_admin_route_has_a_declared_permission(app: Flask) -> None:
    endpoints = {r.endpoint for r in _admin_rules(app)}
    assert endpoints - set(EXPECTED) == set(), "declare the permission category of the new admin routes"
    assert set(EXPECTED) - endpoints == set(), "EXPECTED lists routes that no longer exist"


def test_every_api_route_has_a_declared_permission(app: Flask) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api")}
    assert endpoints - set(API_EXPECTED) == set(), "declare the scope and kind of the new API routes"
    assert set(API_EXPECTED) - endpoints == set(), "API_EXPECTED lists routes that no longer exist"


def _walk_admin(app: Flask, world: World, params: dict[str, Any]) -> int:
    clients = {role: world.client_for(app, role) for role in ADMIN_ROLES}
    checked = 0
    for rule in _admin_rules(app):
        allowed = ALLOWED[EXPECTED[rule.endpoint]]
        url = _url(app, rule, params)
        for role in ADMIN_ROLES:
            client = clients[role]
            if "GET" in rule.methods:
                response = client.get(url)
                expected = 302 if role == "anonymous" else (200 if role in allowed else 403)
            else:  # state-changing routes: only check that they are refused (the happy paths have their own tests)
                if role in allowed:
                    continue
                response = client.post(url, data={})
                expected = 302 if role == "anonymous" else 403
            response.close()  # a streamed download keeps its request (and its user) until closed
            assert response.status_code == expected, f"{role} {sorted(rule.methods)} {url} ({rule.endpoint}): {response.status_code}, expected {expected}"
            if role == "anonymous":
                assert "/login" in response.headers["Location"], url
            checked += 1
    return checked


def _api_tokens(app: Flask, world: World, api: api_world.World) -> dict[str, dict[str, str]]:
    """Tokens: none, one for the world's surveys (every scope), one of another survey, a read-only one, one for all surveys."""
    with db.session_factory(app)() as session:
        owner = session.get(User, api.statistician_id)
        mine = api_tokens.create_token(session, owner=owner, name="world", scopes=ALL_SCOPES, project_ids=[api.project_id, world.project.id])
        other = api_tokens.create_token(session, owner=owner, name="other", scopes=ALL_SCOPES, project_ids=[api.other_project_id])
        everything = api_tokens.create_token(session, owner=owner, name="all", scopes=ALL_SCOPES, all_surveys=True)
        session.commit()
    return {"none": {}, "project": api_world.bearer(mine.secret), "other_project": api_world.bearer(other.secret),
            "read_only": api_world.bearer(api.read_only_token), "all_surveys": api_world.bearer(everything.secret)}


def _api_expected(token: str, scope: str | None, kind: str, method: str) -> int:
    if kind == "public":
        return 200
    if token == "none":
        return 401
    scopes = {"read_only": ("surveys:read", "estimates:read")}.get(token, ALL_SCOPES)
    needed = "weighting:write" if method == "POST" else scope
    if needed not in scopes:
        return 403
    if kind == "register":
        return 200 if token == "all_surveys" else 403
    if kind in ("survey", "draw") and token == "other_project":
        return 403
    return 201 if method == "POST" else 200


def _walk_api(app: Flask, world: World, params: dict[str, Any]) -> int:
    api = api_world.build(app)
    tokens = _api_tokens(app, world, api)
    client = app.test_client()
    scheme = client.post(f"/api/v1/surveys/{api.project_id}/weighting-schemes/", json={"name": "main", "spec": api_world.spec_with_draw(api)},
                         headers=tokens["project"])
    assert client.post(f"/api/v1/surveys/{api.project_id}/weighting-schemes/{scheme.json['id']}/versions/1/compute",
                       headers=tokens["project"]).status_code == 201
    values = {"survey_id": api.project_id, "scheme_id": scheme.json["id"], "number": 1, "cohort": params["cohort"]}
    draws = {"graduates.VerificationEstimates": params["verification_id"], "graduates.SurveyEstimates": params["survey_id"]}
    queries = {"estimates.Estimates": f"?scheme={scheme.json['id']}&variables=i01"}
    bodies = {"weighting-schemes.Schemes": {"name": "refused", "spec": api_world.spec_with_draw(api)},
              "weighting-schemes.Versions": {"spec": api_world.spec_with_draw(api)}}
    checked = 0
    for rule in [r for r in app.url_map.iter_rules() if r.rule.startswith("/api")]:
        scope, kind = API_EXPECTED[rule.endpoint]
        with app.test_request_context():
            url = url_for(rule.endpoint, **{name: draws.get(rule.endpoint, values.get(name)) for name in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for token, headers in tokens.items():
                expected = _api_expected(token, scope, kind, method)
                if method == "POST" and expected == 201:
                    continue  # the happy paths of writes have their own tests
                response = client.open(url + (queries.get(rule.endpoint, "") if method == "GET" else ""), method=method, headers=headers,
                                       json=bodies.get(rule.endpoint) if method == "POST" else None)
                response.close()
                assert response.status_code == expected, f"{token} {method} {url} ({rule.endpoint}): {response.status_code}, expected {expected}"
                checked += 1
    return checked


def test_every_admin_page_and_api_route_for_every_role_and_token(app: Flask, world: World) -> None:
    """The class-wide check of issue #20: roles, a designer of another project, tokens, a token of another project."""
    params = _params(app, world)
    assert _walk_admin(app, world, params) > 300
    assert _walk_api(app, world, params) > 60


def test_unknown_objects_are_404(app: Flask, world: World) -> None:
    admin = world.client_for(app, "admin")
    params = _params(app, world)
    ids = ("project_id", "frame_id", "draw_id", "token", "user_id", "invitation_id", "response_id", "graduate_id", "unit_id",
           "verification_id", "survey_id", "inspection_id", "version_id", "run_id", "link_id")
    missing = {**params, **{name: "0" * 32 if name == "token" else 99999 for name in ids}}
    checked = 0
    for rule in _admin_rules(app):
        names = OVERRIDES.get(rule.endpoint, {})
        if not any(names.get(a, a) in ids for a in rule.arguments) or "GET" not in rule.methods:
            continue
        assert admin.get(_url(app, rule, missing)).status_code == 404, rule.endpoint
        checked += 1
    assert checked >= 20
