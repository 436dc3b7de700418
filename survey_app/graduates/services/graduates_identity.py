"""Graduates' identifying fields on the admin pages: decrypted, masked unless revealed, and every
access written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.personal_data import (
    IDENTIFYING_FIELDS,
    cipher,
    mask_id_number,
    mask_name,
    mask_phone,
)
from survey_app.graduates.models import Graduate

_MASKS = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


@dataclass(frozen=True)
class Identity:
    graduate_id: int
    name: str
    id_number: str
    phone: str
    revealed: bool


def identity(
    session: Session,
    graduate: Graduate,
    *,
    actor: User | None,
    reveal: bool = False,
    purpose: str = "",
) -> Identity:
    """Decrypt a graduate's identifying fields, masked unless ``reveal``; log the access."""
    box = cipher()
    clear = {
        "name": box.decrypt(graduate.name_enc),
        "id_number": box.decrypt(graduate.id_number_enc),
        "phone": box.decrypt(graduate.phone_enc),
    }
    shown: dict[str, Any] = clear if reveal else {k: _MASKS[k](v) for k, v in clear.items()}
    audit.record(
        session,
        "personal_data.reveal" if reveal else "personal_data.view",
        actor=actor,
        object_type="graduate",
        object_id=graduate.id,
        details={"fields": list(IDENTIFYING_FIELDS), "graduate_key": graduate.graduate_key, "purpose": purpose},
    )
    return Identity(graduate_id=graduate.id, revealed=reveal, **shown)
