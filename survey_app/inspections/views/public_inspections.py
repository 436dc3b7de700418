"""Published random inspection draws (一公开): no login, no personal data beyond names and roles."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from survey_app.core import db
from survey_app.inspections.services import inspections

bp = Blueprint("public_inspections", __name__, template_folder="../templates", url_prefix="/inspections")


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("inspections/public_index.html", draws=inspections.draws(db.session(), published_only=True))


@bp.get("/<slug>")
def show(slug: str) -> ResponseReturnValue:
    record = inspections.published(db.session(), slug)
    return render_template("inspections/public_draw.html", draw=record, rows=inspections.public_rows(record))
