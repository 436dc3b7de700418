"""Fieldwork: sampling frames, sample designs and draws, invitations.

Owns: ``SamplingFrame``/``FrameUnit``/``SampleDraw``/``SampleUnit`` and ``Invitation``
(``models``); ``services.frames`` (column mapping, validation, chunked import), ``services.samples``
(allocation preview, size calculator, logged draws through :mod:`sampling`),
``services.invitations`` (personal and open links) and ``services.invitations_export``
(mail-merge exports, QR codes, e-mail reminders); pages for frames, samples and invitations;
``strata frames cleanup``.

May use: core, accounts, projects (not questionnaires: the two are independent).
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.fieldwork import cli
    from survey_app.fieldwork.views import admin_frames, admin_invitations, admin_samples

    for module in (admin_frames, admin_samples, admin_invitations):
        app.register_blueprint(module.bp)
    app.cli.add_command(cli.frames_group)
