"""Review pages; the labels of review states and decisions."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from survey_app.core.i18n import ENUM_LABELS

ENUM_LABELS.update(
    {
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
