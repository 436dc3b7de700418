from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po
from flask.testing import FlaskClient

import survey_app

TRANSLATIONS = Path(survey_app.__file__).parent / "translations"


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


def test_simplified_chinese_catalogue_is_complete_and_compiled() -> None:
    template = {m.id for m in _catalog("en") if m.id}
    zh = _catalog("zh_Hans_CN")
    missing = [m.id for m in zh if m.id and (not m.string or "fuzzy" in m.flags)]
    assert missing == []
    assert template == {m.id for m in zh if m.id}
    for locale in ("zh_Hans_CN", "en"):
        po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime - 1, f"run `make translations` ({locale})"


def test_language_switch_and_accept_language(client: FlaskClient) -> None:
    page = client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "登录" in page
    page = client.get("/?lang=en").get_data(as_text=True)
    assert 'lang="en"' in page and "Log in" in page
    # the choice sticks for the session
    page = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'lang="en"' in page
