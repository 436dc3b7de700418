"""The Content-Security-Policy in a real browser: the log-in, admin, respondent and public pages run
without a single violation (their scripts are static files), and an injected inline script is refused."""

from __future__ import annotations

from typing import Any

import pytest

from survey_app.accounts.models import Role
from survey_app.accounts.services import users
from survey_app.core import db

from .conftest import LiveServer

pytestmark = pytest.mark.browser
EMAIL, PASSWORD = "csp-designer@example.org", "violet harbour lantern 3"

# Runs before each page's own scripts (installed by the browser, so the policy does not apply to it).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});
"""


def _violations(browser: Any) -> list[str]:
    return list(browser.execute_script("return window.__violations || null;"))


@pytest.mark.parametrize("browser", ["desktop"], indirect=True)
def test_pages_run_under_the_policy_and_inline_scripts_are_refused(browser: Any, live_server: LiveServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with db.session_factory(live_server.app)() as session:
        if users.get_by_email(session, EMAIL) is None:
            users.create_user(session, email=EMAIL, password=PASSWORD, role=Role.DESIGNER, actor_label="browser-test")
            session.commit()
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    try:
        base = live_server.url
        browser.delete_all_cookies()
        browser.get(f"{base}/login?lang=en")
        assert _violations(browser) == []
        browser.find_element(By.ID, "email").send_keys(EMAIL)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        WebDriverWait(browser, 20).until(lambda d: d.current_url.endswith("/admin/"))
        for path in ("/admin/", "/admin/registry", "/admin/questionnaires/", "/inspections/", f"/r/{live_server.open_link}?lang=en"):
            browser.get(base + path)
            assert _violations(browser) == [], path
        # the respondent page loaded respond.js (its behaviour under the policy: test_respond_browser)
        assert browser.execute_script("return performance.getEntriesByType('resource').some(function (e) { return /[/]static[/]respond[.]js/.test(e.name); })")

        browser.execute_script("var s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.appendChild(s);")
        WebDriverWait(browser, 10).until(lambda d: _violations(d))
        assert browser.execute_script("return window.__ran === undefined")
        assert _violations(browser)[0].startswith("script-src")
    finally:
        browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script["identifier"]})
