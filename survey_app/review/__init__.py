"""Data review: a chain of up to three levels, queues, decisions and reviewer edits.

Owns: ``ReviewLevel``/``ReviewRecord``/``ReviewDecision``/``ReviewEdit`` (``models``);
``services.review`` (the chain, assignments, queues, approve/return/reject with a reason, edits
that keep the original value, who may decide at which level); pages under ``/admin/.../review``.

May use: core, accounts, projects, questionnaires, fieldwork, respond.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.review.views import admin_review

    app.register_blueprint(admin_review.bp)
