"""``/api/v1/surveys/<id>/weighting-schemes``: named, versioned weighting schemes and their runs."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from survey_app.analysis.api import API_PREFIX, ApiBlueprint
from survey_app.analysis.api_auth import current_token, require_project, require_token
from survey_app.analysis.services import api_surveys, weighting_schemes
from survey_app.analysis.services.weighting_spec import SchemeSpec
from survey_app.core import db

blp = ApiBlueprint(
    "weighting-schemes", __name__, url_prefix=f"{API_PREFIX}/surveys/<int(max=2147483647):survey_id>/weighting-schemes",
    description="Weighting schemes: design, nonresponse adjustment, post-stratification/raking/calibration targets, trimming; computed weights and diagnostics.",
)


class RunSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    computed_at = ma.fields.DateTime(required=True)
    respondents = ma.fields.Integer(required=True)
    replicates = ma.fields.Integer(required=True)
    data_sha256 = ma.fields.String(required=True, metadata={"description": "SHA-256 of the analysis data the weights were computed from."})
    weights_sha256 = ma.fields.String(required=True, metadata={"description": "SHA-256 of the final weights (same version + same data -> same digest)."})
    diagnostics = ma.fields.Dict(required=True, metadata={"description": "Kish effective n, weight range and ratio, adjustment factors, design df, per-adjustment details (convergence)."})


class VersionSchema(ma.Schema):
    number = ma.fields.Integer(required=True)
    spec = ma.fields.Dict(required=True)
    spec_sha256 = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    latest_run = ma.fields.Method("_latest", allow_none=True, metadata={"description": "The latest successful computation (RunSchema) or null."})

    def _latest(self, version: Any) -> Any:
        run = weighting_schemes.latest_run(version)
        return None if run is None else RunSchema().dump(run)


class SchemeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    versions = ma.fields.List(ma.fields.Nested(VersionSchema), required=True)


class SchemeCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    spec = ma.fields.Nested(SchemeSpec, required=True)


class VersionCreateSchema(ma.Schema):
    spec = ma.fields.Nested(SchemeSpec, required=True)


@blp.route("/")
class Schemes(MethodView):
    @blp.response(200, SchemeSchema(many=True))
    @require_token(scope="surveys:read")
    def get(self, survey_id: int) -> Any:
        """Weighting schemes of a survey, with their versions and latest runs"""
        session = db.session()
        project = require_project(session, survey_id)
        api_surveys.record_read(session, current_token, "weighting_schemes.list", project=project)
        return weighting_schemes.list_schemes(session, project)

    @blp.arguments(SchemeCreateSchema)
    @blp.response(201, SchemeSchema)
    @blp.alt_response(409, response="CONFLICT")
    @require_token(scope="weighting:write")
    def post(self, body: dict[str, Any], survey_id: int) -> Any:
        """Create a weighting scheme (version 1)

        Population counts for post-stratification are given as rows (`population`) or as CSV
        text (`population_csv`).
        """
        session = db.session()
        project = require_project(session, survey_id)
        return weighting_schemes.create_scheme(
            session, project, name=body["name"], description=body["description"], spec=body["spec"], actor=current_token.user
        )


@blp.route("/<int(max=2147483647):scheme_id>")
class Scheme(MethodView):
    @blp.response(200, SchemeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope="surveys:read")
    def get(self, survey_id: int, scheme_id: int) -> Any:
        """One weighting scheme"""
        session = db.session()
        project = require_project(session, survey_id)
        api_surveys.record_read(session, current_token, "weighting_schemes.detail", project=project, parameters={"scheme_id": scheme_id})
        return weighting_schemes.get_scheme(session, project, scheme_id)


@blp.route("/<int(max=2147483647):scheme_id>/versions")
class Versions(MethodView):
    @blp.arguments(VersionCreateSchema)
    @blp.response(201, VersionSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @require_token(scope="weighting:write")
    def post(self, body: dict[str, Any], survey_id: int, scheme_id: int) -> Any:
        """Add a version to a scheme (versions are never changed)"""
        session = db.session()
        project = require_project(session, survey_id)
        scheme = weighting_schemes.get_scheme(session, project, scheme_id)
        return weighting_schemes.add_version(session, scheme, body["spec"], actor=current_token.user)


@blp.route("/<int(max=2147483647):scheme_id>/versions/<int(max=2147483647):number>/compute")
class Compute(MethodView):
    @blp.response(201, RunSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="The scheme cannot be computed on these data (e.g. infeasible calibration); the message is the weighting error.")
    @require_token(scope="weighting:write")
    def post(self, survey_id: int, scheme_id: int, number: int) -> Any:
        """Compute the weights of a scheme version and store them per response"""
        session = db.session()
        project = require_project(session, survey_id)
        scheme = weighting_schemes.get_scheme(session, project, scheme_id)
        return weighting_schemes.compute_version(session, weighting_schemes.get_version(scheme, number), actor=current_token.user)
