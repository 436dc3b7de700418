"""Fill and submit both demo questionnaires in headless Chromium, on a phone and a desktop viewport."""

from __future__ import annotations

import time
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from survey_app.core import db
from survey_app.fieldwork.models import Invitation
from survey_app.questionnaires.engine.expressions import compile_expression, evaluate
from survey_app.respond.models import Response, ResponseStatus

from .conftest import LiveServer

pytestmark = pytest.mark.browser


def _wait(driver: Any, css: str, visible: bool = True, timeout: float = 10) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    condition = ec.visibility_of_element_located if visible else ec.invisibility_of_element_located
    return WebDriverWait(driver, timeout).until(condition((By.CSS_SELECTOR, css)))


def _css(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def choose(driver: Any, question: str, value: str) -> None:
    label = _css(driver, f'[data-question="{question}"] label[data-choice="{value}"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", label)
    label.click()


def type_into(driver: Any, question: str, text: str) -> None:
    field = _css(driver, f'#q-{question}')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
    field.clear()
    field.send_keys(text + Keys.TAB)  # leave the field, as a person would, before the next click


def next_page(driver: Any) -> None:
    button = _css(driver, 'button[type="submit"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    current = _css(driver, 'input[name="submission_key"]').get_attribute("value")
    button.click()
    from selenium.webdriver.support.ui import WebDriverWait

    def moved(d: Any) -> bool:
        keys = d.execute_script("var k = document.querySelector('input[name=submission_key]'); return k ? k.value : 'gone';")
        return keys != current

    WebDriverWait(driver, 15).until(moved)


def error_text(driver: Any, question: str) -> str:
    node = _css(driver, f'[data-error-for="{question}"]')
    return str(node.text) if node.is_displayed() else ""


def _response(live_server: LiveServer, **where: Any) -> Response:
    with db.session_factory(live_server.app)() as session:
        query = select(Response).order_by(Response.id.desc())
        if "token" in where:
            query = query.join(Invitation, Invitation.id == Response.invitation_id).where(Invitation.token == where["token"])
        return session.scalars(query).first()  # type: ignore[return-value]


def test_satisfaction_questionnaire(browser: Any, live_server: LiveServer, snap: Any) -> None:
    browser.delete_all_cookies()
    phone = "13900000001" if browser.viewport == "phone" else "13900000002"
    browser.get(f"{live_server.url}/r/{live_server.open_link}?lang=zh_CN")
    assert "表号" in browser.page_source and "示统制〔2026〕12号" in browser.page_source
    choose(browser, "county", "c02")
    choose(browser, "sex", "2")
    choose(browser, "age_group", "35_44")
    choose(browser, "area", "urban")
    choose(browser, "relation", "parent")
    choose(browser, "relation", "none")
    type_into(browser, "phone", phone)
    assert "不能与其他选项同时选择" in error_text(browser, "relation")  # the constraint, live in the browser
    snap("1-constraint-error")
    choose(browser, "relation", "none")  # untick "none of these"
    assert error_text(browser, "relation") == ""
    next_page(browser)
    assert "学前教育学位供给" in browser.page_source
    for number in range(1, 9):
        choose(browser, f"i{number:02d}", "dk" if number == 2 else "4")
    snap("2-matrix")
    next_page(browser)
    for number in range(9, 17):
        choose(browser, f"i{number:02d}", "5")
    next_page(browser)
    # switch language: the form content follows
    browser.get(browser.current_url.split("?")[0] + "?lang=en")
    assert "Overall, how satisfied" in browser.page_source
    choose(browser, "overall", "1")
    _wait(browser, '[data-question="suggestion"] textarea')  # skip logic: shown for low satisfaction
    type_into(browser, "suggestion", "More after-school services <please>")
    snap("3-skip-logic")
    choose(browser, "overall", "4")
    _wait(browser, '[data-question="suggestion"]', visible=False)
    next_page(browser)
    assert "Your answers have been submitted" in browser.page_source
    snap("4-done")
    response = _response(live_server)
    assert response.status == ResponseStatus.COMPLETE and response.device_class == browser.viewport
    assert response.answers["i02"] is None and response.missing["i02"] == "dk" and response.answers["county"] == "c02"
    assert "suggestion" not in response.answers and response.language == "en"


def test_graduate_questionnaire(browser: Any, live_server: LiveServer, snap: Any) -> None:
    browser.delete_all_cookies()
    token = live_server.personal[0 if browser.viewport == "phone" else 1]
    browser.get(f"{live_server.url}/r/{token}?lang=en")
    _css(browser, 'button[type="submit"]').click()  # nothing answered: the script keeps the page and says why
    assert "Please answer this question." in error_text(browser, "destination")
    assert browser.switch_to.active_element.get_attribute("name") == "q-sex"  # focus on the first problem
    snap("1-required-errors")
    choose(browser, "sex", "1")
    choose(browser, "degree", "master")
    choose(browser, "destination", "11")
    next_page(browser)
    assert "Monthly income before tax" in browser.page_source
    choose(browser, "work_province", "zj")
    cities = {c.get_attribute("data-choice"): c.is_displayed() for c in browser.find_elements("css selector", '[data-question="work_city"] label')}
    assert cities == {"gz": False, "sz": False, "hz": True, "nb": True, "cd": False, "my": False}  # choice filter
    choose(browser, "work_city", "hz")
    type_into(browser, "salary", "300")
    choose(browser, "job_match", "5")
    button = _css(browser, 'button[type="submit"]')
    browser.execute_script("arguments[0].click();", button)  # blocked in the browser: the constraint fails
    assert "at least 500" in error_text(browser, "salary")
    snap("2-constraint")
    type_into(browser, "salary", "9000")
    next_page(browser)
    choose(browser, "satisfied", "4")
    snap("3-last-page")
    next_page(browser)
    assert "Your answers have been submitted" in browser.page_source
    response = _response(live_server, token=token)
    assert response.status == ResponseStatus.COMPLETE
    assert response.answers["work_city"] == "hz" and response.answers["salary"] == 9000 and response.answers["employed"] == 1
    browser.get(f"{live_server.url}/r/{token}?lang=en")
    assert "already been submitted" in browser.page_source


CASES = [
    ("${a} = 'yes' and ${n} >= 18", {"a": "yes", "n": 18}),
    ("${n} div 4 + ${n} mod 5 - -2", {"n": 19}),
    ("if(${n} > 10, concat('big-', ${a}), 'small')", {"n": 11, "a": "x"}),
    ("selected(${m}, 'b') and count-selected(${m}) = 2", {"m": ["a", "b"]}),
    ("string-length(${a})", {"a": "满意度调查"}),
    ("regex(${a}, '1[3-9][0-9]{9}')", {"a": "13912345678"}),
    ("round(${x}, 1) + int(-2.7) + number('3')", {"x": 2.45}),
    ("${a} < '2026-01-01' or ${n} = ''", {"a": "2025-12-31"}),
    ("${n} + 1", {}),
    ("coalesce(${a}, 'none') = 'none' and not(${a} != '')", {}),
    ("max(1, ${n}, 3) * min(2, 5)", {"n": 7}),
    ("contains(${a}, 'b') and starts-with(${a}, 'ab')", {"a": "abc"}),
    ("1 div 0 = ''", {}),
]


def test_browser_and_server_evaluate_alike(browser: Any, live_server: LiveServer) -> None:
    browser.get(f"{live_server.url}/r/{live_server.personal[2]}")
    for source, values in CASES:
        ast = compile_expression(source, names={"a", "n", "m", "x"})
        in_browser = browser.execute_script("return window.StrataExpressions.evaluate(arguments[0], arguments[1]);", ast, values)
        on_server = evaluate(ast, values)
        if isinstance(on_server, float) and in_browser is not None:
            assert in_browser == pytest.approx(on_server), source
        else:
            assert in_browser == on_server, source


# (pattern, answers): respond.js must accept exactly what RE2 accepts on the server
REGEX_CASES = [
    ("1[3-9][0-9]{9}", ["13912345678", "12912345678", "1391234567", "139123456789"]),
    ("^([A-Za-z]+ ?)*$", ["Ab Cd", "Ab  Cd", "Ab Cd ", "Ab1", ""]),
    ("[^a-c]+", ["def", "dea", "d\ne"]),
    ("a.c", ["abc", "a\nc", "a中c", "a\U00020000c", "ac"]),
    ("\\d{2,}-\\w+\\s\\S", ["12-ab_ x", "1-ab x", "12-ab\tx", "12-ab\vx", "12-ab\u3000x", "١٢-ab x"]),
    ("\\D\\W[\\s\\d]", ["a- ", "a-5", "1- ", "a_5"]),
    ("(?:ab|cd)*e?", ["", "abcd", "abce", "abe", "ace"]),
    ("a(|b)c|x{0}y{2}z{1,}", ["ac", "abc", "yyz", "yyzzz", "yz"]),
    ("[a-]+[-z]?[\\-.\\]]*", ["a-z-.]", "--", "a.", "]"]),
    ("\\(\\d+\\)\\.\\*\\?\\{\\}\\[\\]\\|\\^\\$\\+\\/", ["(12).*?{}[]|^$+/", "(12).*?{}[]|^$+"]),
    ("[张王李][一-龥]{1,3}", ["张三", "王小明", "赵四", "李", "张𠀀"]),
    ("^a|b$", ["a", "b", "ab"]),
    ("a^b|c$d|^e$", ["ab", "cd", "e"]),
    ("x*?y+?z??", ["xxy", "y", "yz", "z"]),
    ("(a{2}){2,3}", ["aaaa", "aaaaaa", "aaaaa", "aaaaaaaa"]),
    ("\\t\\n\\r", ["\t\n\r", "tnr"]),
    ("[\\D]{2}[^\\W\\d]", ["ab_", "a1b", "ab1", "--z"]),
]


def test_browser_and_server_match_designers_regex_alike_in_linear_time(browser: Any, live_server: LiveServer) -> None:
    """RE2 on the server, a linear-time automaton in respond.js: the same answers pass, none backtracks."""
    browser.get(f"{live_server.url}/r/{live_server.personal[2]}")
    script = "return window.StrataExpressions.evaluate(arguments[0], arguments[1]);"
    for pattern, answers in REGEX_CASES:
        ast = compile_expression(f"regex(${{a}}, '{pattern}')", names={"a"})
        for answer in answers:
            assert browser.execute_script(script, ast, {"a": answer}) == evaluate(ast, {"a": answer}), (pattern, answer)
    # the pattern that backtracked exponentially, on 500 characters that do not match
    ast = compile_expression("regex(${a}, '^([A-Za-z]+ ?)*$')", names={"a"})
    for answer in ("A" * 499 + "!", "Ab " * 166 + "Ab!"):
        started = time.perf_counter()
        assert browser.execute_script(script, ast, {"a": answer}) is False
        assert time.perf_counter() - started < 2
