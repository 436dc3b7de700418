"""``/api/v1/graduates``: placement rates, verification estimates and employment-survey estimates.

Aggregates only: no identifying field (name, ID number, phone) and no pseudonymous id leaves
through these endpoints. Census counts follow the small-count suppression setting.

Scope (the rule of the package docstring): the register as a whole (cohorts, placement rates)
is read only with a token for all surveys; a draw with a token for its survey project.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from survey_app.analysis.api import API_PREFIX
from survey_app.analysis.api_auth import current_token, require_token
from survey_app.core import db
from survey_app.graduates.models import DrawPurpose
from survey_app.graduates.services import (
    graduates_access,
    graduates_reports,
    graduates_verification,
)

blp = Blueprint("graduates", __name__, url_prefix=f"{API_PREFIX}/graduates",
                description="Graduate destination register: placement rates (census), verification-sample misreport estimates, employment sample survey estimates.")


SCOPE = "graduates:read"


class GraduateCohortSchema(ma.Schema):
    cohort = ma.fields.Integer(required=True)
    graduates = ma.fields.Integer(required=True)


class GraduateRatesQuerySchema(ma.Schema):
    snapshot = ma.fields.String(load_default="", validate=ma.validate.OneOf(("", "september", "year_end")),
                                metadata={"description": "september (1 September) or year_end (31 December); else 'on'."})
    on = ma.fields.String(load_default="", metadata={"description": "Snapshot date YYYY-MM-DD (default: the current register)."})
    by = ma.fields.String(load_default="institution", metadata={"description": "Comma-separated: institution, college, major, discipline, degree, sex, province, institution_type, institution_province."})
    groups = ma.fields.String(load_default="", metadata={"description": "Code roll-up 'name:10,11;other:80,85' (default: the standard groups); 'not_placed:...' redefines the placement rate."})
    min_count = ma.fields.Integer(load_default=None, metadata={"description": "Suppress counts below this (never below the configured minimum)."})


class GraduateRateRowSchema(ma.Schema):
    by = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), required=True, metadata={"description": "Domain values ('*' = all)."})
    indicator = ma.fields.String(required=True)
    count = ma.fields.Integer(required=True, allow_none=True)
    total = ma.fields.Integer(required=True, allow_none=True)
    rate = ma.fields.Float(required=True, allow_none=True)
    suppressed = ma.fields.Boolean(required=True)


class GraduateRatesSchema(ma.Schema):
    cohort = ma.fields.Integer(required=True)
    on = ma.fields.Date(required=True, allow_none=True)
    by = ma.fields.List(ma.fields.String(), required=True)
    rollup = ma.fields.Dict(required=True)
    min_count = ma.fields.Integer(required=True)
    rows = ma.fields.List(ma.fields.Nested(GraduateRateRowSchema), required=True)


class GraduateDrawSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    purpose = ma.fields.Function(lambda d: d.purpose.value, required=True)
    cohort = ma.fields.Integer(required=True)
    label = ma.fields.String(required=True)
    snapshot_on = ma.fields.Date(required=True)
    seed = ma.fields.Integer(required=True)
    sample_size = ma.fields.Integer(required=True)
    parameters = ma.fields.Dict(required=True)


class GraduateVerificationEstimatesSchema(ma.Schema):
    draw = ma.fields.Nested(GraduateDrawSchema, required=True)
    outcomes = ma.fields.List(ma.fields.Dict(), required=True)
    estimates = ma.fields.List(ma.fields.Dict(), required=True, allow_none=True,
                               metadata={"description": "institution ('*' overall), variable, estimate, se, ci_low, ci_high, df, n, deff, cv, pending, sampled."})
    ranking = ma.fields.List(ma.fields.Dict(), required=True, allow_none=True,
                             metadata={"description": "Institutions by the lower confidence bound of the misreport rate."})


class GraduateSurveyEstimatesSchema(ma.Schema):
    draw = ma.fields.Nested(GraduateDrawSchema, required=True)
    responses = ma.fields.List(ma.fields.Dict(), required=True)
    estimates = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.Dict()), required=True, allow_none=True,
                               metadata={"description": "overall, degree, discipline, region: tidy tables (estimate, se, ci_low, ci_high, df, n, deff, cv)."})


@blp.route("/cohorts")
class Cohorts(MethodView):
    @blp.response(200, GraduateCohortSchema(many=True))
    @require_token(scope=SCOPE)
    def get(self) -> Any:
        """Cohorts in the register and their numbers of graduates (a token for all surveys)"""
        graduates_access.require_token_register(current_token)
        return graduates_reports.cohort_summary(db.session())


@blp.route("/cohorts/<int:cohort>/rates")
class Rates(MethodView):
    @blp.arguments(GraduateRatesQuerySchema, location="query")
    @blp.response(200, GraduateRatesSchema)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @require_token(scope=SCOPE)
    def get(self, query: dict[str, Any], cohort: int) -> Any:
        """Placement rate and sub-rates (counts, totals, rates) for a snapshot date (a token for all surveys)"""
        graduates_access.require_token_register(current_token)
        values = {k: ("" if v is None else str(v)) for k, v in query.items()}
        report = graduates_reports.rates_report(db.session(), cohort, values, min_count=current_app.config["GRADUATE_MIN_CELL_COUNT"])
        rows = graduates_reports.records(report.table)
        return {"cohort": cohort, "on": report.on, "by": report.by, "rollup": report.rollup.as_dict(), "min_count": report.min_count,
                "rows": [{"by": {b: str(r[b]) for b in report.by}, **{k: r[k] for k in ("indicator", "count", "total", "rate", "suppressed")}}
                         for r in rows]}


@blp.route("/draws")
class Draws(MethodView):
    @blp.response(200, GraduateDrawSchema(many=True))
    @require_token(scope=SCOPE)
    def get(self) -> Any:
        """Verification samples and employment survey samples of the token's survey projects"""
        session = db.session()
        draws = [*graduates_verification.list_draws(session, DrawPurpose.VERIFICATION), *graduates_verification.list_draws(session, DrawPurpose.SURVEY)]
        return [d for d in draws if graduates_access.token_may_read(current_token, d)]


@blp.route("/verification/<int:draw_id>/estimates")
class VerificationEstimates(MethodView):
    @blp.response(200, GraduateVerificationEstimatesSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope=SCOPE)
    def get(self, draw_id: int) -> Any:
        """Misreport rate, sensitivity bounds and verified placement rate with CIs; institution ranking"""
        session = db.session()
        draw = graduates_verification.get_draw(session, draw_id, DrawPurpose.VERIFICATION)
        graduates_access.require_token_draw(session, current_token, draw)
        return {"draw": draw, **graduates_reports.verification_report(session, draw)}


@blp.route("/surveys/<int:draw_id>/estimates")
class SurveyEstimates(MethodView):
    @blp.response(200, GraduateSurveyEstimatesSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope=SCOPE)
    def get(self, draw_id: int) -> Any:
        """Weighted employment-survey estimates by degree, discipline and region"""
        session = db.session()
        draw = graduates_verification.get_draw(session, draw_id, DrawPurpose.SURVEY)
        graduates_access.require_token_draw(session, current_token, draw)
        return {"draw": draw, **graduates_reports.survey_report(session, draw)}
