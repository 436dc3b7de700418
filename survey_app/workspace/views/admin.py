"""The dashboard at ``/admin/``: the survey projects a user may see, with links by role.

The admin area is split into blueprints by subject and feature (``admin_projects``,
``admin_frames``, ...), all under ``/admin``; each feature's ``init_app`` adds its own. Every view
checks the permission on the object it shows or changes
(:mod:`survey_app.projects.services.permissions`), not only the page's role.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from survey_app.accounts.access import actor
from survey_app.core import db
from survey_app.core.i18n import ENUM_LABELS
from survey_app.projects.services import permissions

bp = Blueprint("admin", __name__, template_folder="../templates", url_prefix="/admin")


# Per-project pages each role can open from the dashboard (endpoint, label).
PROJECT_LINKS: dict[str, list[tuple[str, Any]]] = {
    "admin": [("admin_projects.show", _l("Overview")), ("admin_monitoring.index", _l("Monitoring")), ("admin_review.setup", _l("Review chain"))],
    "designer": [("admin_projects.show", _l("Overview")), ("admin_monitoring.index", _l("Monitoring")), ("admin_review.setup", _l("Review chain"))],
    "reviewer": [],
    "statistician": [("admin_monitoring.index", _l("Monitoring"))],
}


# Outcomes and quality flags of fieldwork monitoring.
ENUM_LABELS.update(
    {
        "completed": _l("Completed"),
        "partial": _l("Partial"),
        "not_started": _l("Not started"),
        "speeder": _l("Speeder"),
        "straightlining": _l("Straight-lining"),
        "duplicate": _l("Suspected duplicate"),
    }
)


@bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    user = actor()
    projects = permissions.visible_projects(db.session(), user)
    return render_template("workspace/dashboard.html", projects=projects, links=PROJECT_LINKS.get(user.role.value, []))

