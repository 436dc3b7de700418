"""Shared infrastructure of the web app; no feature of its own.

Owns: configuration (``config``), the engine and per-request session (``db``), the declarative
base (``models``), errors and their rendering (``errors``), languages and time zones (``i18n``),
sessions, CSRF and security headers (``security``), personal-data encryption and masking
(``personal_data``), uploaded tables and workbooks (``frame_files``, ``table_upload``,
``spreadsheets``), file formats (``exporters``), SVG charts (``charts``), page numbers
(``pagination``), the health check, the
``strata db`` commands, the home page, the site-wide templates (``base.html``, ``error.html``,
``_macros.html``) and static files.

May use: nothing else in ``survey_app`` (every feature may use core).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    from survey_app.core import cli, db, errors, i18n, security, views

    if app.config["PROXY_COUNT"]:  # the client's address and scheme as the proxies in front saw them
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    db.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(views.bp)
    cli.init_app(app)
