"""Fieldwork pages; the labels of frame statuses, sampling methods and invitation statuses."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from survey_app.core.i18n import ENUM_LABELS

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
    }
)
