"""``/api/v1/docs``: the API reference, rendered on the server from the OpenAPI description."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from survey_app.models import Role
from survey_app.services import api_docs
from survey_app.views.api import API_PREFIX

bp = Blueprint("api_reference", __name__, url_prefix=API_PREFIX)


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    spec = api.spec.to_dict()
    return render_template(
        "api/docs.html", spec=spec, sections=api_docs.sections(spec), schemas=api_docs.schemas(spec),
        statistician_role=Role.STATISTICIAN,
    )
