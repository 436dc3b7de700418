"""The designer's fieldwork flow in headless Chromium: log in, upload a frame, draw a sample,
issue and export invitations, answer one invitation, and see the response rate change."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from survey_app.accounts.models import Role
from survey_app.accounts.services import users
from survey_app.core import db
from survey_app.demo.services import demo, demo_questionnaires
from survey_app.projects.models import SurveyProject

from .conftest import LiveServer
from .test_respond_browser import choose, next_page, type_into

pytestmark = pytest.mark.browser
DESIGNER = next(u for u in demo.DEMO_USERS if u[0] == Role.DESIGNER)


def _css(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def _click(driver: Any, css: str) -> None:
    element = _css(driver, css)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _wait_for(driver: Any, predicate: Any, timeout: float = 20) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(lambda d: predicate(d))


@pytest.fixture
def designer(live_server: LiveServer, tmp_path: Path) -> tuple[str, str]:
    """The demo designer, owning the graduate survey of the live server."""
    live_server.app.config["FRAME_UPLOAD_DIR"] = str(tmp_path / "uploads")
    _role, email, password, name = DESIGNER
    with db.session_factory(live_server.app)() as session:
        user = users.get_by_email(session, email) or users.create_user(session, email=email, password=password, role=Role.DESIGNER, display_name=name, actor_label="browser-test")
        project = session.scalars(select(SurveyProject).where(SurveyProject.code == demo_questionnaires.GRADUATE)).one()
        project.owner_id = user.id
        session.commit()
    return email, password


def _frame_file(folder: Path) -> Path:
    colleges = ["经济学院", "法学院", "计算机学院"]
    lines = ["学号,学院,手机"] + [f"B2026{i:04d},{colleges[i % 3]},1370000{i:04d}" for i in range(90)]
    path = folder / "毕业生名单.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    return path


@pytest.mark.parametrize("browser", ["desktop"], indirect=True)  # admin pages: exercised on the desktop viewport
def test_designer_fieldwork_flow(browser: Any, live_server: LiveServer, designer: tuple[str, str], snap: Any, tmp_path: Path) -> None:
    base = live_server.url
    browser.delete_all_cookies()
    browser.get(f"{base}/login?lang=en")
    _css(browser, "#email").send_keys(designer[0])
    _css(browser, "#password").send_keys(designer[1])
    _click(browser, "button[type=submit]")
    _wait_for(browser, lambda d: "/admin/" in d.current_url)
    snap("1-dashboard")

    # upload and map the frame (GB18030 CSV)
    with db.session_factory(live_server.app)() as session:
        project_id = session.scalars(select(SurveyProject.id).where(SurveyProject.code == demo_questionnaires.GRADUATE)).one()
    browser.get(f"{base}/admin/projects/{project_id}/frames/upload")
    _css(browser, "#file").send_keys(str(_frame_file(tmp_path)))
    _click(browser, "form.card button[type=submit]")
    _wait_for(browser, lambda d: "/frames/staged/" in d.current_url)
    assert "gb18030" in browser.page_source and "经济学院" in browser.page_source
    from selenium.webdriver.support.ui import Select

    Select(_css(browser, "#unit_id")).select_by_value("学号")
    Select(_css(browser, "#stratum")).select_by_value("学院")
    snap("2-mapping")
    _click(browser, "#validate")
    _wait_for(browser, lambda d: "Validation report" in d.page_source)
    assert "No problems found" in browser.page_source
    snap("3-validation-report")
    _click(browser, "#import")
    _wait_for(browser, lambda d: "/admin/frames/" in d.current_url)
    _wait_for(browser, lambda d: "Design and draw a sample" in d.page_source)  # the page polls, then reloads
    assert _css(browser, "#frame-rows").text == "90" and _css(browser, "#frame-percent").text == "100.0"
    snap("4-frame-imported")

    # design, preview and draw
    _click(browser, "a.button[href$='/design']")
    _css(browser, "#sample_size").send_keys("15")
    _css(browser, "#seed").send_keys("2026")
    _click(browser, "#preview")
    _wait_for(browser, lambda d: "Allocation preview" in d.page_source)
    snap("5-allocation-preview")
    _click(browser, "#draw")
    _wait_for(browser, lambda d: "/admin/draws/" in d.current_url)
    assert _css(browser, "#sample-units").text == "15" and _css(browser, "#sample-seed").text == "2026"
    snap("6-sample-manifest")

    # invitations: issue, export, QR codes
    _click(browser, "#invitations-link")
    _click(browser, "#issue")
    _wait_for(browser, lambda d: len(d.find_elements("css selector", "a.invitation-link")) == 15)
    assert "STRATA_SMTP_URL" in browser.page_source
    snap("7-invitations")
    export_url = _css(browser, "#export-csv").get_attribute("href")
    text = browser.execute_async_script("var done = arguments[1]; fetch(arguments[0]).then(r => r.text()).then(done);", export_url)
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 15 and {r["stratum"] for r in rows} <= {"经济学院", "法学院", "计算机学院"}
    assert all(r["link"].startswith(f"{base}/r/") for r in rows) and rows[0]["手机"].startswith("137")
    link = rows[0]["link"]

    # monitoring before the answer
    browser.get(f"{base}/admin/projects/{project_id}/monitoring")
    before = int(_css(browser, "#monitor-completed").text)
    sampled = int(_css(browser, "#monitor-sampled").text)
    snap("8-monitoring-before")

    # the graduate answers the personal invitation
    browser.get(f"{link}?lang=en")
    choose(browser, "sex", "1")
    choose(browser, "degree", "bachelor")
    choose(browser, "destination", "11")
    next_page(browser)
    choose(browser, "work_province", "zj")
    choose(browser, "work_city", "hz")
    type_into(browser, "salary", "8000")
    choose(browser, "job_match", "4")
    next_page(browser)
    choose(browser, "satisfied", "5")
    next_page(browser)
    assert "Your answers have been submitted" in browser.page_source
    snap("9-submitted")

    # the monitoring page counts it
    browser.get(f"{base}/admin/projects/{project_id}/monitoring")
    after = int(_css(browser, "#monitor-completed").text)
    assert after == before + 1 and int(_css(browser, "#monitor-sampled").text) == sampled
    assert f"{after / sampled * 100:.1f}%" == _css(browser, "#monitor-rate").text
    time.sleep(0.5)  # let the chart images load before the screenshot
    snap("10-monitoring-after")
