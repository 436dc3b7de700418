"""Respondents: the pages at ``/r/<token>``, responses and quotas.

Owns: ``Response``/``PageSubmission`` and ``QuotaCell`` (``models``); ``services.responses`` (visits,
save-and-resume, idempotent page submissions, single use, paradata; the hot path of the app, in SQL
Core) and ``services.quotas`` (race-free quota counters); the respondent templates and the
security check of their forms (``core.security``).

May use: core, accounts, projects, questionnaires, fieldwork.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.respond.views import respond

    app.register_blueprint(respond.bp)
