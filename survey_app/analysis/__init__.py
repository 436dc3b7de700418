"""Analysis: weighting schemes, estimates, codebooks, microdata, response rates: the statistics API.

Owns: ``WeightingScheme``/``WeightRun``/``ResponseWeight`` and ``ApiToken`` (``models``);
``services.weighting_spec`` and ``services.weighting_schemes`` (rows -> :mod:`weighting` ->
stored weights), ``services.estimates``, ``services.microdata``, ``services.response_rates``,
``services.api_tokens`` and the look-ups of the API; ``api`` (the ``/api/v1`` set-up; other
features add endpoints with :func:`survey_app.analysis.api.register_blueprint`), ``api_auth``
(bearer tokens and scopes) and ``api_formats`` (downloads) for every API view; the API reference
page, the API tokens page and ``strata token ...``.

May use: core, accounts, projects, questionnaires, fieldwork, respond, review.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.analysis import api, cli
    from survey_app.analysis.views import (
        admin_tokens,
        api_data,
        api_estimates,
        api_reference,
        api_surveys,
        api_weighting,
    )

    api.init_app(app)
    app.register_blueprint(api_reference.bp)
    app.register_blueprint(admin_tokens.bp)
    for module in (api_data, api_estimates, api_surveys, api_weighting):
        api.register_blueprint(app, module.blp)
    app.cli.add_command(cli.token_group)
