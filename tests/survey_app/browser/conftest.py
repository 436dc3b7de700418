"""Browser tests: headless Chromium (Debian ``chromium`` + ``chromium-driver``) against a live server.

The server runs the real app (CSRF on) in a thread on 127.0.0.1 against a SQLite file with the
demo questionnaires. Without Chromium the tests are skipped, unless ``STRATA_REQUIRE_BROWSER=1``
(CI), where they fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from survey_app import create_app, schema
from survey_app.core import db
from survey_app.demo.services import demo_questionnaires
from survey_app.demo.services.demo import DemoSummary
from survey_app.fieldwork.models import InvitationKind
from survey_app.fieldwork.services import invitations
from survey_app.projects.services import surveys

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
VIEWPORTS = {"phone": (390, 844), "desktop": (1366, 900)}


@dataclass
class LiveServer:
    url: str
    app: Flask
    personal: list[str]
    open_link: str


def _require_browser() -> None:
    if os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER):
        return
    message = "headless Chromium is not installed: apt-get install chromium chromium-driver"
    if os.environ.get("STRATA_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _project(session: Any, code: str, title: str) -> Any:
    today = date.today()
    return surveys.create_project(session, {
        "code": code, "title": title, "title_en": code, "form_number": "教调表1号", "issuing_authority": "示范省教育厅",
        "approval_number": "示统制〔2026〕12号", "valid_until": today + timedelta(days=100),
        "fieldwork_start": today - timedelta(days=1), "fieldwork_end": today + timedelta(days=30), "status": "active",
    }, actor_label="browser-test")


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    _require_browser()
    folder = Path(tempfile.mkdtemp(prefix="strata-browser-"))
    app = create_app({"DATABASE_URL": f"sqlite:///{folder / 'live.sqlite3'}", "SECRET_KEY": "browser-test-secret",
                      "BABEL_DEFAULT_LOCALE": "zh_CN"})
    schema.metadata.create_all(db.engine(app))
    with db.session_factory(app)() as session:
        graduate = _project(session, demo_questionnaires.GRADUATE, "2026届高校毕业生就业状况抽样调查")
        satisfaction = _project(session, demo_questionnaires.SATISFACTION, "2026年县域教育工作群众满意度调查")
        demo_questionnaires.load(session, DemoSummary())
        session.commit()
        personal = [i.token for i in invitations.list_for_project(session, graduate, InvitationKind.PERSONAL)]
        open_link = invitations.list_for_project(session, satisfaction, InvitationKind.OPEN)[0].token
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, personal, open_link)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.engine(app).dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _driver(viewport: str, profile: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={profile}", "--lang=zh-CN"):
        options.add_argument(flag)
    width, height = VIEWPORTS[viewport]
    if viewport == "phone":
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0}, "userAgent": PHONE_UA})
    else:
        options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="session", params=list(VIEWPORTS))
def browser(request: pytest.FixtureRequest, live_server: LiveServer) -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="strata-chromium-")
    driver = _driver(request.param, profile)
    driver.viewport = request.param
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def snap(browser: Any, artifacts_dir: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Save a full-page screenshot as ``<test>-<viewport>-<step>.png`` in the artifacts folder."""
    folder = artifacts_dir / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    base = request.node.originalname

    def save(step: str) -> Path:
        import base64

        metrics = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        path = folder / f"{base}-{browser.viewport}-{step}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    return save
