"""Home page and health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from survey_app.core import db, health

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("admin.dashboard"))
    return render_template("index.html")


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    result = health.check(db.session())
    if result["status"] != "ok":
        body = {"error": "unavailable", "message": "The database is not reachable.", "errors": {"database": [str(result.get("detail"))]}}
        return jsonify(body), 503
    return jsonify(result), 200
