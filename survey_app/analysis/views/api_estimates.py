"""``/api/v1/surveys/<id>/estimates``: weighted estimates with confidence intervals by domain."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from webargs.fields import DelimitedList

from survey_app.analysis.api import API_PREFIX, MAX_ID, ApiBlueprint
from survey_app.analysis.api_auth import current_token, require_project, require_token
from survey_app.analysis.api_formats import file_responses, send
from survey_app.analysis.services import estimates
from survey_app.core import db

blp = ApiBlueprint(
    "estimates", __name__, url_prefix=f"{API_PREFIX}/surveys/<int(max=2147483647):survey_id>/estimates",
    description="Weighted estimates (mean, total, proportion, ratio, quantile) with confidence intervals, by domain, with quality and suppression flags.",
)


class EstimateQuerySchema(ma.Schema):
    scheme = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=MAX_ID), metadata={"description": "Weighting scheme id (computed)."})
    version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=MAX_ID), metadata={"description": "Scheme version (default: the latest computed version)."})
    variables = DelimitedList(ma.fields.String(validate=ma.validate.Length(min=1, max=200)), required=True, validate=ma.validate.Length(min=1, max=50), metadata={"description": "Comma-separated variable names."})
    statistic = ma.fields.String(load_default="mean", validate=ma.validate.OneOf(estimates.STATISTICS))
    by = DelimitedList(ma.fields.String(validate=ma.validate.Length(min=1, max=200)), load_default=list, validate=ma.validate.Length(max=5), metadata={"description": "Comma-separated domain variables (crossed)."})
    level = ma.fields.Float(load_default=0.95, validate=ma.validate.Range(min=0.5, max=1, max_inclusive=False))
    ci_method = ma.fields.String(load_default=None, validate=ma.validate.OneOf((*estimates.PROPORTION_CI, "t")), metadata={"description": "Proportions: logit (default), beta (Korn-Graubard), wilson, wald; other statistics: t."})
    scale = ma.fields.String(load_default="raw", validate=ma.validate.OneOf(estimates.SCALES), metadata={"description": "raw; score100 ((x-1)/4*100 on 1-5, with mean or quantile); satisfied (share in the top two points, with proportion)."})
    denominator = ma.fields.String(load_default=None, validate=ma.validate.Length(min=1, max=200), metadata={"description": "Denominator variable of a ratio."})
    quantiles = DelimitedList(ma.fields.Float(validate=ma.validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False)), load_default=lambda: [0.5], validate=ma.validate.Length(min=1, max=20))
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(("json", "csv", "xlsx")))


class SchemeRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    run_id = ma.fields.Integer(required=True)


class EstimateRowSchema(ma.Schema):
    by = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True), required=True, metadata={"description": "Domain values, one per 'by' variable."})
    variable = ma.fields.String(required=True)
    statistic = ma.fields.String(required=True)
    scale = ma.fields.String(required=True)
    category = ma.fields.String(required=True, allow_none=True)
    quantile = ma.fields.Float(required=True, allow_none=True)
    estimate = ma.fields.Float(required=True, allow_none=True)
    se = ma.fields.Float(required=True, allow_none=True)
    ci_low = ma.fields.Float(required=True, allow_none=True)
    ci_high = ma.fields.Float(required=True, allow_none=True)
    df = ma.fields.Float(required=True, allow_none=True)
    n = ma.fields.Integer(required=True, allow_none=True)
    deff = ma.fields.Float(required=True, allow_none=True)
    cv = ma.fields.Float(required=True, allow_none=True)
    quality = ma.fields.String(required=True, metadata={"description": "publish, caution or suppress"})
    flags = ma.fields.List(ma.fields.String(), required=True)
    suppressed = ma.fields.Boolean(required=True)


class EstimatesSchema(ma.Schema):
    survey_id = ma.fields.Integer(required=True)
    scheme = ma.fields.Nested(SchemeRefSchema, required=True)
    statistic = ma.fields.String(required=True)
    level = ma.fields.Float(required=True)
    ci_method = ma.fields.String(required=True)
    scale = ma.fields.String(required=True)
    probability_sample = ma.fields.Boolean(required=True)
    notes = ma.fields.List(ma.fields.String(), required=True)
    rows = ma.fields.List(ma.fields.Nested(EstimateRowSchema), required=True)


@blp.route("/")
class Estimates(MethodView):
    @blp.arguments(EstimateQuerySchema, location="query")
    @blp.response(200, EstimatesSchema)
    @blp.doc(**file_responses("csv", "xlsx", json_schema=EstimatesSchema))
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="The scheme is not computed, or the data changed since.")
    @require_token(scope="estimates:read")
    def get(self, query: dict[str, Any], survey_id: int) -> Any:
        """Weighted estimates with confidence intervals

        `format=csv` gives UTF-8 CSV with a byte-order mark (Excel shows Chinese correctly);
        `format=xlsx` an Excel workbook. Suppressed cells carry no value.
        """
        session = db.session()
        project = require_project(session, survey_id)
        file_format = query.pop("format")
        request = estimates.EstimateRequest(
            scheme_id=query["scheme"], version=query["version"], variables=query["variables"], statistic=query["statistic"],
            by=query["by"], level=query["level"], ci_method=query["ci_method"], scale=query["scale"],
            denominator=query["denominator"], quantiles=query["quantiles"],
        )
        result = estimates.estimate(session, current_token, project, request)
        if file_format != "json":
            return send(estimates.export(result, project, file_format))
        return {
            "survey_id": project.id, "scheme": result.scheme, "statistic": request.statistic, "level": request.level,
            "ci_method": request.interval, "scale": request.scale, "probability_sample": result.probability_sample,
            "notes": result.notes, "rows": result.rows(),
        }
