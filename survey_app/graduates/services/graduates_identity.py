"""Graduates' identifying fields on the admin pages: masked, and shown in clear only on an explicit,
reasoned request by someone with rights on a project that sampled the graduate; every access is
written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import Forbidden, ValidationFailed
from survey_app.core.personal_data import (
    IDENTIFYING_FIELDS,
    cipher,
    mask_id_number,
    mask_name,
    mask_phone,
)
from survey_app.graduates.models import Graduate
from survey_app.graduates.services import graduates_access

_MASKS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


#: Longest purpose kept in the audit log.
MAX_PURPOSE = 200


@dataclass(frozen=True)
class Identity:
    graduate_id: int
    name: str
    id_number: str
    phone: str
    revealed: bool


def _clear(graduate: Graduate) -> dict[str, str]:
    box = cipher()
    return {"name": box.decrypt(graduate.name_enc), "id_number": box.decrypt(graduate.id_number_enc), "phone": box.decrypt(graduate.phone_enc)}


def _log(session: Session, graduate: Graduate, action: str, actor: User | None, **details: Any) -> None:
    audit.record(session, action, actor=actor, object_type="graduate", object_id=graduate.id,
                 details={"fields": list(IDENTIFYING_FIELDS), "graduate_key": graduate.graduate_key, **details})


def identity(session: Session, graduate: Graduate, *, actor: User | None, purpose: str = "") -> Identity:
    """A graduate's identifying fields, masked; the view is logged."""
    shown: dict[str, Any] = {k: _MASKS[k](v) for k, v in _clear(graduate).items()}
    _log(session, graduate, "personal_data.view", actor, purpose=purpose)
    return Identity(graduate_id=graduate.id, revealed=False, **shown)


def reveal(session: Session, graduate: Graduate, *, actor: User, purpose: str) -> Identity:
    """A graduate's identifying fields in clear, for the ``purpose`` the user typed.

    Only administrators and the designers who manage a project whose draw sampled the graduate
    (:func:`graduates_access.can_reveal`); the reveal, its purpose and those projects are logged.
    """
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationFailed(_("Say why you need to see this graduate's identity; the reason is written to the audit log."),
                               {"purpose": [_("is required")]})
    if len(purpose) > MAX_PURPOSE:
        raise ValidationFailed(_("The reason is too long."), {"purpose": [_("must be at most %(n)d characters", n=MAX_PURPOSE)]})
    projects = graduates_access.reveal_projects(session, actor, graduate)
    if not graduates_access.can_reveal(session, actor, graduate):
        raise Forbidden(_("You may see the identity only of graduates sampled for a survey project you own or were granted."))
    _log(session, graduate, "personal_data.reveal", actor, purpose=purpose, project_ids=projects)
    return Identity(graduate_id=graduate.id, revealed=True, **_clear(graduate))
