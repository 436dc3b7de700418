"""API tokens: hashed storage, scopes, survey scoping, revocation, last use, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from survey_app.accounts.models import AuditEvent, Role
from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_tokens
from survey_app.core import db
from survey_app.core.errors import ValidationFailed
from survey_app.core.models import utcnow
from survey_app.demo.services import demo


@pytest.fixture
def demo_app(app):
    with db.session_factory(app)() as s:
        demo.load(s)
        s.commit()
    return app


def issue(app, *, email="statistician@strata.example", scopes=("surveys:read",), project_ids=(), all_surveys=False, expires_at=None):
    from survey_app.accounts.services import users

    with db.session_factory(app)() as s:
        owner = users.get_by_email(s, email)
        issued = api_tokens.create_token(s, owner=owner, name="test token", scopes=scopes, project_ids=project_ids, all_surveys=all_surveys, expires_at=expires_at)
        s.commit()
        return issued.token.id, issued.secret


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_token_is_stored_hashed_and_authenticates(demo_app, client, session):
    token_id, secret = issue(demo_app, project_ids=[1])
    row = session.get(ApiToken, token_id)
    assert secret.startswith("strata_") and len(secret) > 40
    assert row.token_hash == api_tokens.digest(secret) and secret not in row.token_hash
    assert row.prefix == secret[:13]
    assert row.last_used_at is None
    response = client.get("/api/v1/surveys/", headers=bearer(secret))
    assert response.status_code == 200
    assert [s["code"] for s in response.json] == ["graduate-employment-2026"]
    session.expire_all()
    assert session.get(ApiToken, token_id).last_used_at is not None


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "An API token is required"),
        ({"Authorization": "Basic abc"}, "must be 'Bearer <token>'"),
        ({"Authorization": "Bearer strata_not-a-real-token"}, "not valid"),
    ],
)
def test_missing_or_wrong_token_is_401_in_the_error_shape(demo_app, client, headers, message):
    response = client.get("/api/v1/surveys/1", headers=headers)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert message in response.json["message"]


def test_revoked_and_expired_tokens_are_refused(demo_app, client, session):
    token_id, secret = issue(demo_app, all_surveys=True)
    assert client.get("/api/v1/surveys/", headers=bearer(secret)).status_code == 200
    token = session.get(ApiToken, token_id)
    api_tokens.revoke_token(session, token, actor_label="test")
    session.commit()
    response = client.get("/api/v1/surveys/", headers=bearer(secret))
    assert response.status_code == 401 and "revoked" in response.json["message"]

    _, other = issue(demo_app, all_surveys=True, expires_at=utcnow() + timedelta(seconds=60))
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == api_tokens.digest(other))).one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    response = client.get("/api/v1/surveys/", headers=bearer(other))
    assert response.status_code == 401 and "expired" in response.json["message"]


def test_token_for_another_survey_and_missing_scope_are_403(demo_app, client):
    _, secret = issue(demo_app, project_ids=[1])
    response = client.get("/api/v1/surveys/2", headers=bearer(secret))
    assert response.status_code == 403
    assert response.json == {"error": "forbidden", "message": "This API token does not grant access to survey 'county-education-satisfaction-2026'."}
    _, estimates_only = issue(demo_app, scopes=("estimates:read",), project_ids=[1])
    response = client.get("/api/v1/surveys/1", headers=bearer(estimates_only))
    assert response.status_code == 403 and "surveys:read" in response.json["message"]


def test_deactivated_owner_loses_access(demo_app, client, session):
    _, secret = issue(demo_app, all_surveys=True)
    from survey_app.accounts.services import users

    users.get_by_email(session, "statistician@strata.example").is_active = False
    session.commit()
    assert client.get("/api/v1/surveys/", headers=bearer(secret)).status_code == 401


def test_only_statisticians_and_admins_own_tokens_and_inputs_are_checked(demo_app, session):
    from survey_app.accounts.services import users

    designer = users.get_by_email(session, "designer@strata.example")
    with pytest.raises(ValidationFailed) as info:
        api_tokens.create_token(session, owner=designer, name="", scopes=["nope"], project_ids=[999])
    assert set(info.value.errors) == {"name", "scopes", "owner", "project_ids"}
    statistician = users.get_by_email(session, "statistician@strata.example")
    with pytest.raises(ValidationFailed) as info:
        api_tokens.create_token(session, owner=statistician, name="x", scopes=["surveys:read"])
    assert "project_ids" in info.value.errors


def test_every_api_read_is_audited_with_the_token_owner(demo_app, client, session):
    token_id, secret = issue(demo_app, project_ids=[1, 2])
    client.get("/api/v1/surveys/2", headers=bearer(secret))
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api.read")).one()
    assert event.actor_label == "statistician@strata.example"
    assert event.object_id == "2"
    assert event.details["endpoint"] == "surveys.detail"
    assert event.details["token_id"] == token_id
    assert event.details["survey"] == "county-education-satisfaction-2026"


def test_survey_detail_carries_statutory_labels_and_fieldwork(demo_app, client):
    _, secret = issue(demo_app, project_ids=[2])
    body = client.get("/api/v1/surveys/2", headers=bearer(secret)).json
    assert body["statutory_labels"]["form_number"] == "教满调表2号"
    assert body["statutory_labels"]["approval_number"] == "示统备〔2026〕7号"
    assert body["fieldwork"]["status"] == "active"
    assert body["fieldwork"]["accepting_responses"] is True


def test_admin_role_is_allowed(demo_app, client):
    _, secret = issue(demo_app, email="admin@strata.example", all_surveys=True)
    assert len(client.get("/api/v1/surveys/", headers=bearer(secret)).json) == 2
    assert Role.ADMIN in api_tokens.TOKEN_ROLES
