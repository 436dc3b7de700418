"""Graduate employment: the destination register, verification samples, the sample survey.

Owns: ``Graduate``/``Institution``/``DestinationChange``/``GraduateDraw``/``GraduateSampleUnit``
(``models``); ``services.graduates_register`` (import, changes, snapshots),
``graduates_codes`` (destination codes and roll-ups), ``graduates_rates`` (placement rates),
``graduates_verification`` (verification samples and misreport rates), ``graduates_survey``
(two-stage employment survey), ``graduates_fieldwork`` (the survey through a project's
questionnaire), ``graduates_reports``, ``graduates_identity`` (masked or revealed identity, logged);
pages under ``/admin/graduates`` and the ``/api/v1/graduates`` endpoints.

May use: every layer below (core ... workspace); not satisfaction or inspections.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.analysis import api
    from survey_app.graduates.views import admin_graduates, api_graduates

    app.register_blueprint(admin_graduates.bp)
    api.register_blueprint(app, api_graduates.blp)
