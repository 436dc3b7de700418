"""Random inspection draws (双随机、一公开): frozen registers, seeded draws, publication.

Owns: ``InspectionRegister``/``InspectionDraw`` (``models``); ``services.inspections`` (upload and
freeze registers, draw through :func:`sampling.draw_inspection`, publish); pages under
``/admin/inspections`` and the public ``/inspections``.

May use: every layer below (core ... workspace); not graduates or satisfaction.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.inspections.views import admin_inspections, public_inspections

    app.register_blueprint(admin_inspections.bp)
    app.register_blueprint(public_inspections.bp)
