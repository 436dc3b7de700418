"""Blueprints: parse input -> call one service -> render or dump."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from survey_app.views import (
        admin,
        admin_graduates,
        admin_questionnaires,
        api,
        auth,
        main,
        respond,
    )

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    admin.register(app)
    app.register_blueprint(admin_questionnaires.bp)
    app.register_blueprint(respond.bp)
    app.register_blueprint(admin_graduates.bp)
    from survey_app.views import admin_inspections, admin_satisfaction, public_inspections

    for module in (admin_satisfaction, admin_inspections, public_inspections):
        app.register_blueprint(module.bp)
    api.init_app(app)
