"""Pages for survey designers, reviewers and administrators: the dashboard and shared helpers.

The admin area is split into blueprints by subject (``admin_projects``, ``admin_frames``, ...),
all under ``/admin``; :func:`register` adds them. Every view checks the permission on the object
it shows or changes (:mod:`survey_app.services.permissions`), not only the page's role.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from survey_app import db
from survey_app.i18n import ENUM_LABELS
from survey_app.models import User
from survey_app.services import permissions

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Per-project pages each role can open from the dashboard (endpoint, label).
PROJECT_LINKS: dict[str, list[tuple[str, Any]]] = {
    "admin": [("admin_projects.show", _l("Overview")), ("admin_monitoring.index", _l("Monitoring")), ("admin_review.setup", _l("Review chain"))],
    "designer": [("admin_projects.show", _l("Overview")), ("admin_monitoring.index", _l("Monitoring")), ("admin_review.setup", _l("Review chain"))],
    "reviewer": [],
    "statistician": [("admin_monitoring.index", _l("Monitoring"))],
}

ENUM_LABELS.update(
    {
        "importing": _l("Importing"),
        "ready": _l("Ready"),
        "failed": _l("Failed"),
        "proportional": _l("Proportional"),
        "equal": _l("Equal"),
        "power": _l("Power (compromise)"),
        "srswor": _l("Simple random sampling"),
        "systematic": _l("Systematic"),
        "pps_systematic": _l("PPS systematic"),
        "issued": _l("Issued"),
        "started": _l("Started"),
        "submitted": _l("Submitted"),
        "refused": _l("Refused"),
        "not_reached": _l("Not reached"),
        "revoked": _l("Revoked"),
        "completed": _l("Completed"),
        "partial": _l("Partial"),
        "not_started": _l("Not started"),
        "speeder": _l("Speeder"),
        "straightlining": _l("Straight-lining"),
        "duplicate": _l("Suspected duplicate"),
        "pending": _l("Waiting for review"),
        "returned": _l("Returned to the respondent"),
        "approved": _l("Approved"),
        "rejected": _l("Rejected"),
        "approve": _l("Approve"),
        "return_respondent": _l("Return to the respondent"),
        "return_previous": _l("Return to the previous level"),
        "reject": _l("Reject"),
    }
)


def actor() -> User:
    """The logged-in user as an ORM object of the request's session."""
    user = current_user._get_current_object()
    assert isinstance(user, User)
    return user


def form_values(form: FlaskForm) -> dict[str, Any]:
    """The submitted form values without the CSRF token, for a service to validate."""
    return {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "submit")}


@bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    user = actor()
    projects = permissions.visible_projects(db.session(), user)
    return render_template("admin/dashboard.html", projects=projects, links=PROJECT_LINKS.get(user.role.value, []))


def register(app: Flask) -> None:
    from survey_app.views import (
        admin_audit,
        admin_frames,
        admin_invitations,
        admin_monitoring,
        admin_projects,
        admin_review,
        admin_samples,
        admin_users,
    )

    app.register_blueprint(bp)
    for module in (admin_projects, admin_frames, admin_samples, admin_invitations, admin_monitoring, admin_review, admin_audit, admin_users):
        app.register_blueprint(module.bp)
