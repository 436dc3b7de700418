"""The OpenAPI description, the reference page, the API tokens page and the token CLI."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from survey_app.accounts.models import Role
from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_tokens


def test_openapi_describes_every_endpoint_with_auth_and_the_error_shape(client, app):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message"} and "errors" in error["properties"]
    documented = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post"):
                continue
            documented.add((method.upper(), path))
            assert op["security"] == [{"bearerAuth": []}], path
            assert op["summary"], path
            for status in ("401", "403", "404"):
                assert status in op["responses"], (path, status)
            assert op["x-required-scope"], path
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["$ref"].rsplit("/", 1)[-1]
                    body = spec["components"]["responses"][ref]["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/Error"}, (path, status)
            if "requestBody" in op:
                assert "422" in op["responses"], path
    routes = {
        (method, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/") and rule.endpoint.split(".")[0] not in ("api-docs", "api_reference")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes <= documented, routes - documented
    for needed in [("GET", "/api/v1/surveys/"), ("GET", "/api/v1/surveys/{survey_id}/estimates/"), ("GET", "/api/v1/surveys/{survey_id}/microdata"),
                   ("GET", "/api/v1/surveys/{survey_id}/questionnaire-versions/{number}/codebook"), ("GET", "/api/v1/surveys/{survey_id}/response-rates"),
                   ("POST", "/api/v1/surveys/{survey_id}/weighting-schemes/{scheme_id}/versions/{number}/compute")]:
        assert needed in documented, needed
    estimates = spec["paths"]["/api/v1/surveys/{survey_id}/estimates/"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"} <= set(estimates)
    microdata = spec["paths"]["/api/v1/surveys/{survey_id}/microdata"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/vnd.apache.parquet", "application/x-spss-sav", "application/x-stata-dta"} <= set(microdata)


def test_unknown_api_path_and_method_use_the_error_shape(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and set(missing.json) == {"error", "message"}
    wrong = client.delete("/api/v1/surveys/")
    assert wrong.status_code == 405 and wrong.json["error"] == "method_not_allowed"


def test_reference_page_renders_every_operation_from_the_spec(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    spec = client.get("/api/v1/openapi.json").json
    for path in spec["paths"]:
        assert path in html
    assert "Authorization: Bearer &lt;token&gt;" in html
    assert "EstimateRow" in html and "x-required-scope" not in html
    chinese = client.get("/api/v1/docs?lang=zh_CN").get_data(as_text=True)
    assert "统计 API 参考" in chinese


@pytest.mark.parametrize("role", [Role.STATISTICIAN, Role.ADMIN])
def test_tokens_page_creates_a_token_shown_once_and_revokes_it(client, logged_in, session, role):
    user = logged_in(role)
    from survey_app.projects.services import surveys

    project = surveys.create_project(session, {
        "code": "tok-test", "title": "T", "form_number": "1", "issuing_authority": "A", "approval_number": "B",
        "valid_until": "2099-01-01"}, actor_label="test")
    session.commit()
    page = client.get("/admin/api-tokens/")
    assert page.status_code == 200
    created = client.post("/admin/api-tokens/", data={
        "owner_id": str(user.id), "name": "R scripts", "scopes": ["surveys:read", "estimates:read"],
        "project_ids": [str(project.id)], "expires_in_days": "30"})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    secret = re.search(r'<code id="new-token">([^<]+)</code>', html).group(1)
    token = session.scalars(select(ApiToken)).one()
    assert token.token_hash == api_tokens.digest(secret) and token.project_ids == {project.id}
    assert token.expires_at is not None
    assert client.get("/api/v1/surveys/", headers={"Authorization": f"Bearer {secret}"}).json[0]["code"] == "tok-test"
    again = client.get("/admin/api-tokens/").get_data(as_text=True)
    assert secret not in again and token.prefix in again
    client.post(f"/admin/api-tokens/{token.id}/revoke")
    assert client.get("/api/v1/surveys/", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_tokens_page_refuses_other_roles_and_bad_input(client, logged_in):
    logged_in(Role.STATISTICIAN)
    bad = client.post("/admin/api-tokens/", data={"name": "", "scopes": [], "expires_in_days": "99999"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "expires_in_days" in html and "new-token" not in html
    client.post("/logout")
    logged_in(Role.DESIGNER)
    assert client.get("/admin/api-tokens/").status_code == 403


def test_cli_creates_lists_and_revokes_tokens(app, make_user, session):
    make_user(Role.STATISTICIAN, email="s@example.org")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["token", "create", "s@example.org", "--name", "cli token", "--all-surveys", "--scope", "microdata:read"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    token = session.scalars(select(ApiToken)).one()
    assert token.token_hash == api_tokens.digest(secret) and token.scopes == ["microdata:read"] and token.all_surveys
    listing = runner.invoke(args=["token", "list"])
    assert "cli token" in listing.output and secret not in listing.output
    assert runner.invoke(args=["token", "revoke", str(token.id)]).exit_code == 0
    session.expire_all()
    assert session.get(ApiToken, token.id).revoked_at is not None
    refused = runner.invoke(args=["token", "create", "nobody@example.org", "--name", "x", "--all-surveys"])
    assert refused.exit_code != 0 and "No user" in refused.output
    designer = make_user(Role.DESIGNER, email="d@example.org")
    refused = runner.invoke(args=["token", "create", designer.email, "--name", "x", "--all-surveys"])
    assert refused.exit_code != 0 and "statisticians and administrators" in refused.output


def test_api_writes_need_no_csrf_token_even_when_csrf_is_on(app_config, app, make_user, session):
    from survey_app import create_app

    secure = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    owner = make_user(Role.STATISTICIAN, email="s@example.org")
    from survey_app.projects.services import surveys

    project = surveys.create_project(session, {
        "code": "csrf-test", "title": "T", "form_number": "1", "issuing_authority": "A", "approval_number": "B",
        "valid_until": "2099-01-01"}, actor_label="test")
    issued = api_tokens.create_token(session, owner=session.merge(owner), name="t", scopes=["weighting:write"], project_ids=[project.id])
    session.commit()
    response = secure.test_client().post(
        f"/api/v1/surveys/{project.id}/weighting-schemes/", json={"name": "x", "spec": {}},
        headers={"Authorization": f"Bearer {issued.secret}"},
    )
    assert response.status_code == 201, response.json
    assert secure.test_client().post("/login", data={"email": "s@example.org", "password": "x"}).status_code == 400
