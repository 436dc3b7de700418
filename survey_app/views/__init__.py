"""Blueprints: parse input -> call one service -> render or dump."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from survey_app.views import admin, api, auth, main

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    api.init_app(app)
