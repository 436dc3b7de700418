"""Respondent forms: full flows, server-side enforcement, single use, idempotency, resume, closed surveys."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.core import db, security
from survey_app.demo.services import demo_questionnaires
from survey_app.demo.services.demo import DemoSummary
from survey_app.fieldwork.models import Invitation, InvitationKind, InvitationStatus
from survey_app.fieldwork.services import invitations
from survey_app.projects.models import SurveyProject, SurveyStatus
from survey_app.projects.services import surveys
from survey_app.questionnaires.services import questionnaires
from survey_app.respond.models import PageSubmission, Response, ResponseStatus

from ..questionnaires.test_xlsform import make_xlsform

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@dataclass
class World:
    graduate: str  # a personal token
    graduate_other: str
    open_link: str
    graduate_project_id: int
    satisfaction_project_id: int


def _project(session: Session, code: str, title: str) -> SurveyProject:
    today = date.today()
    return surveys.create_project(session, {
        "code": code, "title": title, "title_en": title, "form_number": f"表{code[:3]}", "issuing_authority": "示范省教育厅",
        "approval_number": "示统制〔2026〕12号", "valid_until": today + timedelta(days=100),
        "fieldwork_start": today - timedelta(days=1), "fieldwork_end": today + timedelta(days=30), "status": "active",
    }, actor_label="test")


@pytest.fixture
def world(app: Flask) -> World:
    with db.session_factory(app)() as session:
        graduate = _project(session, demo_questionnaires.GRADUATE, "毕业生调查")
        satisfaction = _project(session, demo_questionnaires.SATISFACTION, "满意度调查")
        demo_questionnaires.load(session, DemoSummary())
        session.commit()
        personal = invitations.list_for_project(session, graduate, InvitationKind.PERSONAL)
        open_link = invitations.list_for_project(session, satisfaction, InvitationKind.OPEN)[0]
        return World(personal[0].token, personal[1].token, open_link.token, graduate.id, satisfaction.id)


def fields(html: str) -> dict[str, str]:
    key = re.search(r'name="submission_key" value="([^"]+)"', html)
    page = re.search(r'name="page" value="(\d+)"', html)
    assert key and page, html[:2000]
    return {"submission_key": key.group(1), "page": page.group(1), "shown_at": "0"}


def post_page(client: FlaskClient, token: str, answers: dict[str, Any], **overrides: Any) -> Any:
    page = client.get(f"/r/{token}", headers={"User-Agent": PHONE_UA})
    data: dict[str, Any] = {**fields(page.get_data(as_text=True)), **{f"q-{k}": v for k, v in answers.items()}, **overrides}
    return client.post(f"/r/{token}", data=data, headers={"User-Agent": PHONE_UA})


GRADUATE_PAGES = [
    {"sex": "1", "degree": "bachelor", "destination": "10"},
    {"work_province": "gd", "work_city": "gz", "salary": "8000", "start_date": "2026-07-01", "job_match": "4"},
    {"satisfied": "dk", "comments": "<b>great</b>"},
]
SATISFACTION_PAGES = [
    {"county": "c01", "sex": "2", "age_group": "25_34", "area": "rural", "relation": ["parent", "staff"], "phone": "13812345678"},
    {f"i{n:02d}": "dk" if n == 3 else "4" for n in range(1, 9)},
    {f"i{n:02d}": "5" for n in range(9, 17)},
    {"overall": "5", "suggestion": "not asked: overall is above 2"},
]


def only_response(session: Session) -> Response:
    return session.scalars(select(Response)).one()


def test_graduate_questionnaire_end_to_end_with_skip_logic(client: FlaskClient, world: World, session: Session) -> None:
    for answers in GRADUATE_PAGES:
        reply = post_page(client, world.graduate, answers)
        assert reply.status_code == 303, reply.get_data(as_text=True)[:3000]
    assert reply.headers["Location"].endswith(f"/r/{world.graduate}/done")
    assert "Your answers have been submitted" in client.get(reply.headers["Location"] + "?lang=en").get_data(as_text=True)
    response = only_response(session)
    assert response.status == ResponseStatus.COMPLETE and response.submitted_at is not None
    assert response.answers["destination"] == "10" and response.answers["salary"] == 8000
    assert response.answers["satisfied"] is None and response.missing == {"satisfied": "dk"}
    assert response.answers["employed"] == 1  # calculated on the server
    assert "institution" not in response.answers and "support" not in response.answers  # pages skipped
    assert response.device_class == "phone" and response.ip_hash and "127.0.0.1" not in response.ip_hash
    assert set(response.paradata["pages"]) == {"about", "job", "closing"} and response.paradata["visits"] == 3
    invitation = session.scalars(select(Invitation).where(Invitation.token == world.graduate)).one()
    assert invitation.status == InvitationStatus.SUBMITTED
    assert response.sample_unit_id == invitation.sample_unit_id


def test_satisfaction_questionnaire_open_link_dont_know_and_dropped_answers(client: FlaskClient, world: World, session: Session) -> None:
    for answers in SATISFACTION_PAGES:
        reply = post_page(client, world.open_link, answers)
        assert reply.status_code == 303, reply.get_data(as_text=True)[:3000]
    response = only_response(session)
    assert response.status == ResponseStatus.COMPLETE
    assert response.answers["i03"] is None and response.missing["i03"] == "dk" and response.answers["i04"] == "4"
    assert response.answers["relation"] == ["parent", "staff"]
    assert "suggestion" not in response.answers  # not relevant: a hand-crafted answer is dropped
    assert response.answers["phone"] is None and response.missing["phone"] == "hashed" and len(response.dedupe_hash or "") == 64
    assert "1234" not in str(response.answers) + str(response.paradata)
    # the same browser cannot answer again
    again = client.get(f"/r/{world.open_link}?lang=en").get_data(as_text=True)
    assert "already been submitted" in again
    # a new browser with the same phone number is refused on that question
    other = client.application.test_client()
    reply = post_page(other, world.open_link, {**SATISFACTION_PAGES[0], "phone": "13812345678"})
    assert reply.status_code == 422
    assert "already been used" in reply.get_data(as_text=True)
    assert session.scalar(select(func.count(Response.id))) == 1


def test_required_question_skipped_by_a_hand_crafted_post(client: FlaskClient, world: World, session: Session) -> None:
    client.get("/?lang=en")
    reply = post_page(client, world.graduate, {"sex": "1", "degree": "bachelor"})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert re.search(r'id="q-destination-error"\s*data-error-for="destination">Please answer this question.', html)
    assert re.search(r'value="bachelor"\s+checked', html)  # what was answered is shown again
    assert session.scalar(select(func.count(Response.id))) == 0  # nothing is half-written
    assert session.scalar(select(func.count(PageSubmission.id))) == 0


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({**SATISFACTION_PAGES[0], "phone": "12345"}, "Please enter an 11-digit mobile number."),
        ({**SATISFACTION_PAGES[0], "relation": ["parent", "none"]}, "&#39;None of these&#39; cannot be combined"),
        ({**SATISFACTION_PAGES[0], "county": "c99"}, "Please choose one of the options shown."),
    ],
)
def test_constraints_are_enforced_by_the_server(client: FlaskClient, world: World, session: Session, answers: dict, message: str) -> None:
    client.get("/?lang=en")
    reply = post_page(client, world.open_link, answers)
    assert reply.status_code == 422 and message in reply.get_data(as_text=True)
    assert session.scalar(select(func.count(Response.id))) == 0


def test_a_designers_regex_is_matched_in_linear_time(client: FlaskClient, session: Session) -> None:
    """``^([A-Za-z]+ ?)*$`` backtracked: one respondent's POST took 6 s at 27 characters and 98 s at 31."""
    project = _project(session, "regex-survey", "正则调查")
    form = make_xlsform([["text", "name", "Name", "姓名", "yes", "", "regex(., '^([A-Za-z]+ ?)*$')", "Letters and spaces only"],
                         ["text", "note", "Note", "备注"]])
    questionnaires.publish(session, questionnaires.import_xlsform(session, project, form, "f.xlsx", actor_label="test"), actor_label="test")
    link = invitations.create_open_link(session, project, actor_label="test")
    session.commit()
    client.get("/?lang=en")
    for answer in ("A" * 26 + "!", "Ab " * 166 + "Ab!"):  # 27 and 500 characters that do not match
        started = time.perf_counter()
        reply = post_page(client, link.token, {"name": answer})
        assert time.perf_counter() - started < 1, len(answer)
        assert reply.status_code == 422 and "Letters and spaces only" in reply.get_data(as_text=True)
    assert post_page(client, link.token, {"name": "Ab " * 166 + "Ab"}).status_code == 303
    assert session.scalar(select(func.count(Response.id))) == 1


def test_choice_filter_bounds_and_types_on_the_job_page(client: FlaskClient, world: World, session: Session) -> None:
    client.get("/?lang=en")
    assert post_page(client, world.graduate, GRADUATE_PAGES[0]).status_code == 303
    cases = [({"work_city": "hz"}, "This option does not fit your earlier answer."),
             ({"salary": "300"}, "Enter 0 if you have no income, otherwise at least 500."),
             ({"salary": "250000"}, "The answer must be at most 200000."),
             ({"salary": "12.5"}, "Please enter a whole number."),
             ({"start_date": "2026-02-30"}, "Please enter a date as YYYY-MM-DD."),
             ({"start_date": (date.today() + timedelta(days=3)).isoformat()}, "The date cannot be in the future.")]
    for change, message in cases:
        reply = post_page(client, world.graduate, {**GRADUATE_PAGES[1], **change})
        assert reply.status_code == 422 and message in reply.get_data(as_text=True), change
    assert only_response(session).page == 1 and only_response(session).answers.get("salary") is None


def test_posting_a_page_not_reached_yet_is_refused(client: FlaskClient, world: World, session: Session) -> None:
    reply = post_page(client, world.graduate, GRADUATE_PAGES[2], page="4")
    assert reply.status_code == 409  # no response yet: only the first page can start one
    assert session.scalar(select(func.count(Response.id))) == 0
    post_page(client, world.graduate, GRADUATE_PAGES[0])
    reply = post_page(client, world.graduate, GRADUATE_PAGES[2], page="4")
    assert reply.status_code == 409  # the closing page is not reached yet
    assert only_response(session).page == 1 and only_response(session).answers.get("satisfied") is None


def test_token_is_single_use(client: FlaskClient, world: World, session: Session) -> None:
    for answers in GRADUATE_PAGES:
        post_page(client, world.graduate, answers)
    fresh = client.application.test_client()
    page = fresh.get(f"/r/{world.graduate}?lang=en").get_data(as_text=True)
    assert "already been submitted" in page and "submission_key" not in page
    reply = fresh.post(f"/r/{world.graduate}", data={"submission_key": "k" * 32, "page": "0", **{f"q-{k}": v for k, v in GRADUATE_PAGES[0].items()}})
    assert reply.status_code == 409
    assert session.scalar(select(func.count(Response.id))) == 1


def test_a_retried_post_is_idempotent(client: FlaskClient, world: World, session: Session) -> None:
    page = client.get(f"/r/{world.graduate}").get_data(as_text=True)
    data = {**fields(page), **{f"q-{k}": v for k, v in GRADUATE_PAGES[0].items()}}
    first = client.post(f"/r/{world.graduate}", data=data)
    second = client.post(f"/r/{world.graduate}", data=data)
    assert first.status_code == second.status_code == 303 and first.headers["Location"] == second.headers["Location"]
    assert session.scalar(select(func.count(PageSubmission.id))) == 1
    assert only_response(session).paradata["visits"] == 1
    # the final page, double-clicked: one complete response, both clicks land on the thank-you page
    post_page(client, world.graduate, GRADUATE_PAGES[1])
    page = client.get(f"/r/{world.graduate}").get_data(as_text=True)
    data = {**fields(page), **{f"q-{k}": v for k, v in GRADUATE_PAGES[2].items()}}
    replies = [client.post(f"/r/{world.graduate}", data=data) for _ in range(2)]
    assert {r.headers["Location"] for r in replies} == {f"/r/{world.graduate}/done"}
    assert session.scalar(select(func.count(PageSubmission.id))) == 3


def test_concurrent_retries_of_one_page_write_once(app: Flask, world: World, session: Session) -> None:
    first = app.test_client()
    page = first.get(f"/r/{world.open_link}").get_data(as_text=True)
    data = {**fields(page), **{f"q-{k}": v for k, v in SATISFACTION_PAGES[0].items()}}
    statuses: list[int] = []
    cookies: list[str] = []

    def send() -> None:
        reply = app.test_client().post(f"/r/{world.open_link}", data=data)
        statuses.append(reply.status_code)
        cookies.append(reply.headers.get("Set-Cookie", ""))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 4
    assert session.scalar(select(func.count(Response.id))) == 1
    assert session.scalar(select(func.count(PageSubmission.id))) == 1
    assert len({c.split(";")[0] for c in cookies}) == 1  # every retry resumes the same response


def test_save_and_resume_with_the_same_token(client: FlaskClient, world: World, session: Session) -> None:
    post_page(client, world.graduate, GRADUATE_PAGES[0])
    later = client.application.test_client()  # another day, another browser
    html = later.get(f"/r/{world.graduate}?lang=en").get_data(as_text=True)
    assert "Page 2 of 3" in html and "Monthly income before tax" in html
    assert only_response(session).status == ResponseStatus.PARTIAL
    back = later.get(f"/r/{world.graduate}?page=0").get_data(as_text=True)
    assert re.search(r'value="bachelor"\s+checked', back)
    assert later.get(f"/r/{world.graduate}?page=2").status_code == 200  # not reached: shows the current page
    assert "Monthly income" in later.get(f"/r/{world.graduate}?page=2").get_data(as_text=True)


def test_open_link_resumes_through_the_browser_cookie(client: FlaskClient, world: World, session: Session) -> None:
    post_page(client, world.open_link, SATISFACTION_PAGES[0])
    assert "Enough kindergarten places" in client.get(f"/r/{world.open_link}?lang=en").get_data(as_text=True)
    stranger = client.application.test_client()
    assert "The county you live in" in stranger.get(f"/r/{world.open_link}?lang=en").get_data(as_text=True)


def _close(app: Flask, project_id: int, **changes: Any) -> None:
    with db.session_factory(app)() as s:
        project = s.get(SurveyProject, project_id)
        for key, value in changes.items():
            setattr(project, key, value)
        s.commit()


@pytest.mark.parametrize("changes", [
    {"status": SurveyStatus.CLOSED},
    {"valid_until": date.today() - timedelta(days=1), "fieldwork_start": None, "fieldwork_end": None},
    {"fieldwork_start": date.today() - timedelta(days=20), "fieldwork_end": date.today() - timedelta(days=2)},
])
def test_a_closed_survey_shows_a_closed_page_and_accepts_nothing(app: Flask, client: FlaskClient, world: World, session: Session, changes: dict) -> None:
    page = client.get(f"/r/{world.open_link}").get_data(as_text=True)
    _close(app, world.satisfaction_project_id, **changes)
    closed = client.get(f"/r/{world.open_link}?lang=en")
    assert closed.status_code == 403 and "This survey is closed" in closed.get_data(as_text=True)
    assert "示统制〔2026〕12号" in closed.get_data(as_text=True)
    data = {**fields(page), **{f"q-{k}": v for k, v in SATISFACTION_PAGES[0].items()}}
    assert client.post(f"/r/{world.open_link}", data=data).status_code == 403
    assert session.scalar(select(func.count(Response.id))) == 0


def test_every_page_shows_statutory_labels_privacy_and_switches_language(client: FlaskClient, world: World) -> None:
    zh = client.get(f"/r/{world.graduate}?lang=zh_CN").get_data(as_text=True)
    for text in ("表号", "制定机关", "批准文号", "有效期至", "示范省教育厅", "示统制〔2026〕12号", "隐私声明", "您目前的毕业去向"):
        assert text in zh
    en = client.get(f"/r/{world.graduate}?lang=en").get_data(as_text=True)
    for text in ("Form number", "Issuing authority", "Approval number", "Valid until", "Privacy notice", "Your current destination"):
        assert text in en
    assert 'lang="en"' in en and 'lang="zh-CN"' in zh


def test_unknown_and_revoked_tokens(client: FlaskClient, world: World, app: Flask) -> None:
    assert client.get("/r/not-a-token").status_code == 404
    with db.session_factory(app)() as s:
        s.scalars(select(Invitation).where(Invitation.token == world.graduate_other)).one().status = InvitationStatus.REVOKED
        s.commit()
    assert client.get(f"/r/{world.graduate_other}").status_code == 404


def test_designer_text_and_answers_are_escaped(client: FlaskClient, world: World) -> None:
    post_page(client, world.graduate, GRADUATE_PAGES[0])
    reply = post_page(client, world.graduate, {**GRADUATE_PAGES[1], "salary": "<script>alert(1)</script>"})
    html = reply.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_csrf_is_required(world: World, app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get(f"/r/{world.graduate}").get_data(as_text=True)
    data = {**fields(page), **{f"q-{k}": v for k, v in GRADUATE_PAGES[0].items()}}
    assert client.post(f"/r/{world.graduate}", data=data).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    assert client.post(f"/r/{world.graduate}", data={**data, "csrf_token": token.group(1)}).status_code == 303


def _with_csrf(html: str) -> dict[str, str]:
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    return {**fields(html), "csrf_token": token.group(1), **{f"q-{k}": v for k, v in GRADUATE_PAGES[0].items()}}


def test_a_csrf_token_works_only_for_its_browser_and_link(world: World, app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    ours, theirs = app.test_client(), app.test_client()
    data = _with_csrf(ours.get(f"/r/{world.graduate}").get_data(as_text=True))
    other = _with_csrf(theirs.get(f"/r/{world.graduate_other}").get_data(as_text=True))
    # another browser's token (a page the attacker fetched himself), a token for another link, a
    # forged cookie: all rejected, and nothing is written
    refused = ours.post(f"/r/{world.graduate}?lang=en", data={**data, "csrf_token": other["csrf_token"]})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)  # the respondent is told why and sent back to the page
    assert "were not saved" in html and f'href="/r/{world.graduate}"' in html and "Approval number" in html
    assert theirs.post(f"/r/{world.graduate}", data=data).status_code == 400
    assert ours.post(f"/r/{world.graduate_other}", data=data).status_code == 400
    forged = app.test_client()
    forged.set_cookie(security.BROWSER_COOKIE, "A" * 24, path="/r/")
    assert forged.post(f"/r/{world.graduate}", data=data).status_code == 400
    with db.session_factory(app)() as s:
        assert s.scalar(select(func.count(Response.id))) == 0
    assert ours.post(f"/r/{world.graduate}", data=data).status_code == 303


def test_a_post_without_a_token_to_an_unknown_link_is_not_found(world: World, app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    for link in ("no-such-link", "x" * 70):
        assert client.post(f"/r/{link}", data={"page": "0"}).status_code == 404


def test_respondents_get_a_browser_key_and_no_session_cookie(world: World, app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    first = client.get(f"/r/{world.graduate}")
    cookies = first.headers.getlist("Set-Cookie")
    assert len(cookies) == 1 and cookies[0].startswith(f"{security.BROWSER_COOKIE}=")
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0] and "Path=/r/" in cookies[0]
    assert "Expires" not in cookies[0] and "Max-Age" not in cookies[0]  # gone when the browser closes
    again = client.get(f"/r/{world.graduate}")
    assert again.headers.getlist("Set-Cookie") == []  # the key is kept, so is the token
    assert _with_csrf(first.get_data(as_text=True))["csrf_token"] == _with_csrf(again.get_data(as_text=True))["csrf_token"]


def test_over_https_a_respondents_post_needs_a_same_origin_referrer(world: World, app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    base = "https://survey.example"
    data = _with_csrf(client.get(f"/r/{world.graduate}", base_url=base).get_data(as_text=True))
    refused = client.post(f"/r/{world.graduate}?lang=en", data=data, base_url=base)
    assert refused.status_code == 400 and "Referer" in refused.get_data(as_text=True)
    elsewhere = {"Referer": "https://evil.example/form"}
    assert client.post(f"/r/{world.graduate}", data=data, base_url=base, headers=elsewhere).status_code == 400
    ours = {"Referer": f"{base}/r/{world.graduate}"}
    assert client.post(f"/r/{world.graduate}", data=data, base_url=base, headers=ours).status_code == 303


def test_without_javascript_a_page_renders_only_what_can_be_relevant(client: FlaskClient, world: World) -> None:
    for answers in SATISFACTION_PAGES[:3]:
        post_page(client, world.open_link, answers)
    html = client.get(f"/r/{world.open_link}?lang=en").get_data(as_text=True)
    # the suggestion depends on an answer on the same page: rendered, the script hides it
    assert 'data-question="suggestion"' in html and 'id="form-logic"' in html
    matrix = client.get(f"/r/{world.open_link}?page=1&lang=en").get_data(as_text=True)
    assert matrix.count('role="radiogroup"') == 8 and "Don&#39;t know" in matrix


def test_a_survey_without_a_published_questionnaire_is_not_available(client: FlaskClient, session: Session) -> None:
    project = _project(session, "no-questionnaire-yet", "未发布")
    link = invitations.create_open_link(session, project)
    session.commit()
    page = client.get(f"/r/{link.token}?lang=en")
    assert page.status_code == 403 and "not available yet" in page.get_data(as_text=True)
    reply = client.post(f"/r/{link.token}", data={"submission_key": "k" * 32, "page": "0"})
    assert reply.status_code == 404 and session.scalar(select(func.count(Response.id))) == 0


def _varying(html: str) -> str:
    """A page without what differs between two renders for one respondent (key, time shown, CSRF token)."""
    return re.sub(r'name="(submission_key|shown_at|csrf_token)" value="[^"]*"', r'name="\1" value=""', html)


def test_pages_share_cached_fragments_and_differ_only_in_the_respondents_values(app: Flask, world: World) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    first, second = app.test_client(), app.test_client()
    a = first.get(f"/r/{world.graduate}?lang=en").get_data(as_text=True)
    b = second.get(f"/r/{world.graduate_other}?lang=en").get_data(as_text=True)  # cached fragments
    assert f'action="/r/{world.graduate_other}"' in b and world.graduate not in b
    assert _varying(a).replace(world.graduate, world.graduate_other) == _varying(b)
    token_a = re.search(r'name="csrf_token" value="([^"]+)"', a)
    token_b = re.search(r'name="csrf_token" value="([^"]+)"', b)
    assert token_a and token_b and token_a.group(1) != token_b.group(1)
    assert fields(a)["submission_key"] != fields(b)["submission_key"]
    # each browser's own token is accepted
    data = {**fields(b), "csrf_token": token_b.group(1), **{f"q-{k}": v for k, v in GRADUATE_PAGES[0].items()}}
    assert second.post(f"/r/{world.graduate_other}", data=data).status_code == 303
    # an edited statutory label shows at once
    with db.session_factory(app)() as s:
        s.get(SurveyProject, world.graduate_project_id).approval_number = "示统制〔2026〕99号"  # type: ignore[union-attr]
        s.commit()
    assert "示统制〔2026〕99号" in first.get(f"/r/{world.graduate}?lang=en").get_data(as_text=True)


def test_a_later_page_passes_each_respondents_own_earlier_answers_to_the_browser(app: Flask, world: World) -> None:
    first, second = app.test_client(), app.test_client()
    post_page(first, world.graduate, GRADUATE_PAGES[0])
    post_page(second, world.graduate_other, {**GRADUATE_PAGES[0], "degree": "master"})

    def logic(client: FlaskClient, token: str) -> str:
        found = re.search(r'<script type="application/json" id="form-logic">(.*?)</script>', client.get(f"/r/{token}").get_data(as_text=True))
        assert found
        return found.group(1)

    mine, theirs = logic(first, world.graduate), logic(second, world.graduate_other)
    assert '"degree": "bachelor"' in mine and '"degree": "master"' in theirs


def test_hot_path_statements_raise_sqlalchemys_integrity_error(app: Flask, client: FlaskClient, world: World, session: Session) -> None:
    """The respondent path's statements run on the driver directly on PostgreSQL; a violated unique
    key must still arrive as SQLAlchemy's IntegrityError, which the view turns into a replay."""
    from sqlalchemy import bindparam, insert
    from sqlalchemy.exc import IntegrityError

    from survey_app.respond.services.responses import _Hot

    assert post_page(client, world.graduate, GRADUATE_PAGES[0]).status_code == 303
    used = session.scalars(select(PageSubmission)).one()
    again = _Hot(insert(PageSubmission.__table__).values(  # type: ignore[arg-type]
        key=bindparam("key"), response_id=used.response_id, page=0, outcome="page:1", created_at=used.created_at).returning(PageSubmission.__table__.c.id))
    with app.test_request_context():
        connection = db.connection()
        fresh = again.first(connection, {"key": "k" * 20})
        assert fresh is not None and fresh[0] != used.id
        with pytest.raises(IntegrityError):
            again.first(connection, {"key": used.key})
        assert again.first(connection, {"key": "m" * 20}) is not None  # the connection is still usable
