"""Questionnaires: the engine, versions, XLSForm import and export, preview, codebooks.

Owns: ``engine/`` (expression language, definitions, XLSForm I/O, page logic; no database, no
Flask), ``Questionnaire``/``QuestionnaireVersion`` (``models``); ``services.questionnaires``
(import into a draft, publish, versions, export), ``services.forms`` (evaluable forms of versions,
cached), ``services.codebook`` (analysis variables and answers as a DataFrame); pages under
``/admin/questionnaires``; the question macros shared with the respondent pages
(``questionnaires/_questions.html``).

May use: core, accounts, projects (not fieldwork: the two are independent).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.questionnaires.views import admin_questionnaires

    app.register_blueprint(admin_questionnaires.bp)
