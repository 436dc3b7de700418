"""Helpers for the admin pages' WTForms forms."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm


def form_values(form: FlaskForm) -> dict[str, Any]:
    """The submitted form values without the CSRF token, for a service to validate."""
    return {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "submit")}
