"""``/api/v1/docs``: the API reference, rendered on the server from the OpenAPI description."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from survey_app.accounts.models import Role
from survey_app.analysis.api import API_PREFIX
from survey_app.analysis.services import api_docs

bp = Blueprint("api_reference", __name__, template_folder="../templates", url_prefix=API_PREFIX)


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    spec = api.spec.to_dict()
    return render_template(
        "analysis/api_docs.html", spec=spec, sections=api_docs.sections(spec), schemas=api_docs.schemas(spec),
        statistician_role=Role.STATISTICIAN,
    )
