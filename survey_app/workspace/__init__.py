"""The designer's workspace: the pages that bring a project's features together.

Owns: the dashboard (``/admin/``), survey-project pages (create, edit, overview with frames,
samples and grants), the registry of approved surveys (``services.registry``) and fieldwork
monitoring (``services.monitoring``: outcomes by stratum, progress, completion times, quality
flags).

May use: core, accounts, projects, questionnaires, fieldwork, respond, review, analysis.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.workspace.views import admin, admin_monitoring, admin_projects

    for module in (admin, admin_projects, admin_monitoring):
        app.register_blueprint(module.bp)
