"""Graduate employment: the destination register, verification samples, the sample survey.

Owns: ``Graduate``/``Institution``/``DestinationChange``/``GraduateDraw``/``GraduateSampleUnit``
(``models``); ``services.graduates_register`` (import, changes, snapshots),
``graduates_codes`` (destination codes and roll-ups), ``graduates_rates`` (placement rates),
``graduates_verification`` (verification samples and misreport rates), ``graduates_survey``
(two-stage employment survey), ``graduates_fieldwork`` (the survey through a project's
questionnaire), ``graduates_reports``, ``graduates_identity`` (masked or revealed identity, logged);
pages under ``/admin/graduates`` and the ``/api/v1/graduates`` endpoints.

May use: every layer below (core ... workspace); not satisfaction or inspections.

Who sees what (``services.graduates_access``; every page and endpoint checks it):

- The register itself (cohorts, graduates, institutions, destination changes, placement rates)
  is the office's, not one survey project's. Its pages (the cohort list, import, placement
  rates, the register list, a graduate's record with masked identity) are open to
  administrators and to designers who own or were granted at least one survey project; a
  designer with no project, a reviewer or a statistician sees none of it. Through the API the
  register as a whole (``/cohorts``, ``/cohorts/<cohort>/rates``) needs a token for all surveys.
- Every draw (verification sample, employment survey sample) is made *for* a survey project
  that its maker manages, and belongs to it (``parameters["project_id"]``; the survey sample's
  fieldwork runs in that project). A draw's pages, callbacks, outcome imports, fieldwork
  actions and manifest are for administrators and that project's owner and granted designers;
  statisticians also read the survey sample's results page. Through the API a draw's estimates
  need a token for its project, and ``/draws`` lists only those. A draw without a project (made
  before draws named one) is for administrators and tokens for all surveys only.
- Identities (name, ID number, phone) are always shown masked, and every view is logged. A GET
  never shows them in clear: revealing is a POST with a purpose the user types, allowed to
  administrators and to designers who manage a project whose draw sampled the graduate, and
  written to the audit log with the purpose and those projects.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.analysis import api
    from survey_app.graduates.views import admin_graduates, api_graduates

    app.register_blueprint(admin_graduates.bp)
    api.register_blueprint(app, api_graduates.blp)
