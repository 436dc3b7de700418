"""Published random inspection draws (一公开): no login, no personal data beyond names and roles."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from survey_app import db
from survey_app.services import inspections

bp = Blueprint("public_inspections", __name__, url_prefix="/inspections")


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("public/inspections.html", draws=inspections.draws(db.session(), published_only=True))


@bp.get("/<slug>")
def show(slug: str) -> ResponseReturnValue:
    record = inspections.published(db.session(), slug)
    return render_template("public/inspection.html", draw=record, rows=inspections.public_rows(record))
