"""The designer's questionnaire pages in headless Chromium: upload with errors, preview, publish."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from survey_app.accounts.models import Role
from survey_app.accounts.services import users
from survey_app.core import db
from survey_app.core.errors import NotFound
from survey_app.demo.services import demo_questionnaires
from survey_app.projects.services import surveys

from ..questionnaires.test_xlsform import YES_NO, make_xlsform
from .conftest import LiveServer

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "questionnaire-designer@example.org", "designer password 1"


@pytest.fixture
def project_id(live_server: LiveServer) -> int:
    with db.session_factory(live_server.app)() as session:
        user = users.get_by_email(session, EMAIL) or users.create_user(
            session, email=EMAIL, password=PASSWORD, role=Role.DESIGNER, actor_label="browser-test")
        try:
            project = surveys.get_project_by_code(session, "designer-browser-survey")
        except NotFound:
            project = surveys.create_project(session, {
                "code": "designer-browser-survey", "title": "设计页面测试", "form_number": "表9", "issuing_authority": "机关",
                "approval_number": "批9", "valid_until": date.today() + timedelta(days=30), "status": "active"}, actor_label="browser-test")
        project.owner_id = user.id
        session.commit()
        return project.id


def _upload(browser: Any, path: Path) -> None:
    browser.find_element(By.CSS_SELECTOR, "#xlsform").send_keys(str(path))
    browser.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]").click()


@pytest.mark.parametrize("browser", ["desktop"], indirect=True)  # designer pages: exercised on the desktop viewport
def test_upload_errors_preview_and_publish(browser: Any, live_server: LiveServer, project_id: int, snap: Any, tmp_path: Path) -> None:
    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/login?lang=en")
    browser.find_element(By.CSS_SELECTOR, "#email").send_keys(EMAIL)
    browser.find_element(By.CSS_SELECTOR, "#password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda d: "/admin/" in d.current_url)
    browser.get(f"{live_server.url}/admin/questionnaires/{project_id}")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(make_xlsform([["select_one yn", "q1", "Agree?", "同意吗？", "yes", "${q9} = 1"]], YES_NO))
    _upload(browser, bad)
    errors = WebDriverWait(browser, 15).until(lambda d: d.find_element(By.CSS_SELECTOR, "#xlsform-errors"))
    assert "relevant (F)" in errors.text and "${q9} does not name an earlier question" in errors.text
    snap("1-upload-errors")
    good = tmp_path / "satisfaction.xlsx"
    good.write_bytes(demo_questionnaires.satisfaction_xlsform())
    _upload(browser, good)
    WebDriverWait(browser, 15).until(lambda d: "saved as a draft" in d.page_source)
    browser.find_element(By.LINK_TEXT, "Preview").click()
    WebDriverWait(browser, 15).until(lambda d: "Preview of version 1" in d.page_source)
    shown = browser.find_element(By.TAG_NAME, "main").text
    for text in ("学前教育学位供给", "Enough kindergarten places", "不了解", "Don't know", "regex(., '1[3-9][0-9]{9}')"):
        assert text in shown
    snap("2-preview")
    browser.back()
    browser.find_element(By.XPATH, "//button[normalize-space()='Publish']").click()
    WebDriverWait(browser, 15).until(lambda d: "is published" in d.page_source)
    assert not browser.find_elements(By.XPATH, "//button[normalize-space()='Publish']")
    snap("3-published")
