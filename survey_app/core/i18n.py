"""Locale selection (Simplified Chinese and English) with Flask-Babel."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale
from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l


@lru_cache(maxsize=16)
def _parsed(identifier: str) -> Locale:
    """Parsing an identifier costs ~0.3 ms (babel lists its locale files); Locale objects are immutable."""
    return Locale.parse(identifier)


def _choose_locale() -> str:
    if not has_request_context():  # a command (``strata user create``): the configured language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    supported = current_app.config["STRATA_LOCALES"]
    wanted = request.args.get("lang")
    if wanted in supported:
        session["lang"] = wanted
        return str(wanted)
    stored = session.get("lang")
    if stored in supported:
        return str(stored)
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    if best in ("zh", "zh_CN"):
        return "zh_CN"
    if best == "en":
        return "en"
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def select_locale() -> Locale:
    """The request's locale (Flask-Babel takes a ``Locale`` as it is, without parsing it again)."""
    return _parsed(_choose_locale())


# Labels for stored enum values (roles, statuses, ...); other modules add theirs with
# ``ENUM_LABELS.update(...)`` so templates can show ``enum_label(value)``.
ENUM_LABELS: dict[str, object] = {
    "admin": _l("Administrator"),
    "designer": _l("Survey designer"),
    "reviewer": _l("Reviewer"),
    "statistician": _l("Statistician"),
    "draft": _l("Draft"),
    "active": _l("Active"),
    "closed": _l("Closed"),
    "archived": _l("Archived"),
}


def enum_label(value: object) -> str:
    raw = getattr(value, "value", value)
    return str(ENUM_LABELS.get(str(raw), raw))


def html_lang() -> str:
    locale = get_locale()
    return "zh-CN" if locale is not None and locale.language == "zh" else "en"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["html_lang"] = html_lang
    app.jinja_env.globals["enum_label"] = enum_label
    app.jinja_env.globals["supported_locales"] = app.config["STRATA_LOCALES"]
