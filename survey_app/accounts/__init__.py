"""Accounts: users and roles, log-in and its rate limit, user administration, the audit log.

Owns: ``User``/``Role`` and ``AuditEvent`` (``models``); ``services.audit`` (every feature writes
the audit log through it), ``users``, ``logins``, ``user_admin``, ``audit_query``; ``access``
(the log-in manager, :func:`~survey_app.accounts.access.roles_required` and
:func:`~survey_app.accounts.access.actor` for every admin view); pages ``/login``,
``/admin/users``, ``/admin/audit``; ``strata user create``.

May use: core.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from survey_app.accounts import access, cli
    from survey_app.accounts.views import admin_audit, admin_users, auth

    access.init_app(app)
    for module in (auth, admin_audit, admin_users):
        app.register_blueprint(module.bp)
    app.cli.add_command(cli.user_group)
