"""Codebooks, de-identified microdata and response rates of a survey."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from survey_app.analysis.api import API_PREFIX, MAX_ID, ApiBlueprint
from survey_app.analysis.api_auth import current_token, require_project, require_token
from survey_app.analysis.api_formats import file_responses, send
from survey_app.analysis.services import api_questionnaires, microdata, response_rates
from survey_app.core import db

blp = ApiBlueprint(
    "survey-data", __name__, url_prefix=f"{API_PREFIX}/surveys/<int(max=2147483647):survey_id>",
    description="Questionnaire versions and codebooks, de-identified microdata, response rates.",
)


class VersionSummarySchema(ma.Schema):
    number = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    published_at = ma.fields.DateTime(required=True, allow_none=True)
    languages = ma.fields.List(ma.fields.String(), required=True)
    responses = ma.fields.Integer(required=True)


class ValueLabelSchema(ma.Schema):
    code = ma.fields.String(required=True)
    labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True, metadata={"description": "Label per language."})
    missing = ma.fields.Boolean(required=True, metadata={"description": "A missing code such as \"don't know\"."})


class VariableSchema(ma.Schema):
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "numeric, categorical, binary, text or date"})
    question = ma.fields.String(required=True)
    question_type = ma.fields.String(required=True)
    labels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    value_labels = ma.fields.List(ma.fields.Nested(ValueLabelSchema), required=True)
    missing_codes = ma.fields.List(ma.fields.String(), required=True)
    relevant = ma.fields.String(required=True, metadata={"description": "Skip logic: the question is asked when this expression holds."})
    page = ma.fields.String(required=True)
    page_relevant = ma.fields.String(required=True)
    required = ma.fields.Boolean(required=True)
    minimum = ma.fields.Float(required=True, allow_none=True)
    maximum = ma.fields.Float(required=True, allow_none=True)
    identifying = ma.fields.Boolean(required=True, metadata={"description": "Personal data: never in microdata or estimates."})
    source = ma.fields.String(required=True)


class PageSchema(ma.Schema):
    name = ma.fields.String(required=True)
    label = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    relevant = ma.fields.String(required=True)
    questions = ma.fields.List(ma.fields.String(), required=True)


class CodebookSchema(ma.Schema):
    survey_id = ma.fields.Integer(required=True)
    version = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    languages = ma.fields.List(ma.fields.String(), required=True)
    title = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True)
    default_language = ma.fields.String(required=True)
    pages = ma.fields.List(ma.fields.Nested(PageSchema), required=True)
    variables = ma.fields.List(ma.fields.Nested(VariableSchema), required=True)


class MicrodataQuerySchema(ma.Schema):
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(microdata.FORMATS))
    scheme = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=MAX_ID), metadata={"description": "Weighting scheme id: adds the final (and replicate) weights and design columns."})
    version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=MAX_ID), metadata={"description": "Scheme version (default: the latest computed version)."})
    language = ma.fields.String(load_default=None, validate=ma.validate.Length(min=2, max=10), metadata={"description": "Language of variable and value labels (default: the questionnaire's first)."})


class RateRowSchema(ma.Schema):
    stratum = ma.fields.String(required=True, allow_none=True)
    sampled = ma.fields.Integer(required=True)
    complete = ma.fields.Integer(required=True)
    partial = ma.fields.Integer(required=True)
    refused = ma.fields.Integer(required=True)
    not_reached = ma.fields.Integer(required=True)
    no_response = ma.fields.Integer(required=True)
    rr1 = ma.fields.Float(required=True, allow_none=True)
    rr2 = ma.fields.Float(required=True, allow_none=True)
    refusal_rate = ma.fields.Float(required=True, allow_none=True)
    contact_rate = ma.fields.Float(required=True, allow_none=True)


class OpenLinkSchema(ma.Schema):
    complete = ma.fields.Integer(required=True)
    partial = ma.fields.Integer(required=True)


class ResponseRatesSchema(ma.Schema):
    survey_id = ma.fields.Integer(required=True)
    draw_id = ma.fields.Integer(required=True, allow_none=True)
    overall = ma.fields.Nested(RateRowSchema, required=True)
    strata = ma.fields.List(ma.fields.Nested(RateRowSchema), required=True)
    open_link = ma.fields.Nested(OpenLinkSchema, required=True)


class RatesQuerySchema(ma.Schema):
    draw = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=MAX_ID), metadata={"description": "Sample draw id (default: the latest)."})


@blp.route("/questionnaire-versions")
class Versions(MethodView):
    @blp.response(200, VersionSummarySchema(many=True))
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope="surveys:read")
    def get(self, survey_id: int) -> Any:
        """Questionnaire versions of a survey"""
        session = db.session()
        return api_questionnaires.list_versions(session, current_token, require_project(session, survey_id))


@blp.route("/questionnaire-versions/<int(max=2147483647):number>/codebook")
class Codebook(MethodView):
    @blp.response(200, CodebookSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope="surveys:read")
    def get(self, survey_id: int, number: int) -> Any:
        """Codebook of a questionnaire version: variables, types, labels per language, value labels, missing codes, skip logic"""
        session = db.session()
        return api_questionnaires.version_codebook(session, current_token, require_project(session, survey_id), number)


@blp.route("/microdata")
class Microdata(MethodView):
    @blp.arguments(MicrodataQuerySchema, location="query")
    @blp.response(200)
    @blp.doc(**file_responses("csv", "parquet", "sav", "dta", description="One row per response (CSV streamed in chunks)."))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    @require_token(scope="microdata:read")
    def get(self, query: dict[str, Any], survey_id: int) -> Any:
        """De-identified microdata (CSV, Parquet, SPSS .sav, Stata .dta)

        Pseudonymous ids (HMAC of the response id, stable per survey), answers with value
        labels, final and replicate weights when a scheme is given. Never names, ID numbers,
        phone numbers, e-mail, tokens or identifying free text.
        """
        session = db.session()
        project = require_project(session, survey_id)
        plan = microdata.plan(
            session, current_token, project, scheme_id=query["scheme"], version=query["version"],
            language=query["language"], secret_key=current_app.config["SECRET_KEY"], file_format=query["format"],
        )
        return send(microdata.export(session, plan, query["format"]))


@blp.route("/response-rates")
class ResponseRates(MethodView):
    @blp.arguments(RatesQuerySchema, location="query")
    @blp.response(200, ResponseRatesSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope="surveys:read")
    def get(self, query: dict[str, Any], survey_id: int) -> Any:
        """Response rates (AAPOR RR1, RR2, refusal and contact rates) per stratum"""
        session = db.session()
        return response_rates.report(session, current_token, require_project(session, survey_id), query["draw"])
