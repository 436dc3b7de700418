"""``/api/v1/surveys``: the survey projects a token may read."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from survey_app.analysis.api import API_PREFIX, ApiBlueprint
from survey_app.analysis.api_auth import current_token, require_token
from survey_app.analysis.services import api_surveys
from survey_app.core import db
from survey_app.projects.services import surveys

blp = ApiBlueprint("surveys", __name__, url_prefix=f"{API_PREFIX}/surveys", description="Survey projects, statutory labels and fieldwork status.")


class StatutoryLabelsSchema(ma.Schema):
    form_number = ma.fields.String(required=True, metadata={"description": "表号 form number"})
    issuing_authority = ma.fields.String(required=True, metadata={"description": "制定机关 issuing authority"})
    approval_number = ma.fields.String(required=True, metadata={"description": "批准文号/备案文号 approval or registration number"})
    valid_until = ma.fields.Date(required=True, metadata={"description": "有效期至 validity of the approval"})


class FieldworkSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "draft, active, closed or archived"})
    start = ma.fields.Date(allow_none=True, required=True)
    end = ma.fields.Date(allow_none=True, required=True)
    approval_valid = ma.fields.Boolean(required=True)
    accepting_responses = ma.fields.Boolean(required=True)


class SurveySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    title_en = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    target_population = ma.fields.String(required=True)
    statutory_labels = ma.fields.Nested(StatutoryLabelsSchema, required=True)
    fieldwork = ma.fields.Nested(FieldworkSchema, required=True)


@blp.route("/")
class Surveys(MethodView):
    @blp.response(200, SurveySchema(many=True))
    @require_token(scope="surveys:read")
    def get(self) -> Any:
        """Survey projects this token may read"""
        return api_surveys.list_surveys(db.session(), current_token)


@blp.route("/<int(max=2147483647):survey_id>")
class Survey(MethodView):
    @blp.response(200, SurveySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope="surveys:read")
    def get(self, survey_id: int) -> Any:
        """One survey project with its statutory labels and fieldwork status"""
        session = db.session()
        return api_surveys.survey_detail(session, current_token, surveys.get_project(session, survey_id))
