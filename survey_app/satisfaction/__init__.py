"""Public satisfaction evaluations: population tables, indices, quotas, runs and county reports.

Owns: ``PopulationTable``/``PopulationCell``, ``CountyLink``, ``IndexConfig``, ``SatisfactionRun``
(``models``); ``services.satisfaction`` (tables, index configurations, estimation runs) and
``services.satisfaction_report`` (county tables, charts, XLSX); pages under
``/admin/satisfaction``.

May use: every layer below (core ... workspace); not graduates or inspections.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.satisfaction.views import admin_satisfaction

    app.register_blueprint(admin_satisfaction.bp)
