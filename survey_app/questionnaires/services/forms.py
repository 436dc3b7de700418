"""Evaluable forms of questionnaire versions, cached per application (a version's definition
changes only with its source file)."""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

from flask import current_app
from sqlalchemy import Connection, select

from survey_app.questionnaires.engine.runtime import Form
from survey_app.questionnaires.models import QuestionnaireVersion

_FORMS_LOCK = Lock()
_FORMS_EXT = "strata_forms"


def _form_cache() -> OrderedDict[tuple[int, str], Form]:
    """Evaluable forms of this application (one database), by version id and source hash."""
    cache: OrderedDict[tuple[int, str], Form] | None = current_app.extensions.get(_FORMS_EXT)
    if cache is None:
        cache = current_app.extensions.setdefault(_FORMS_EXT, OrderedDict())
    return cache


def _cached_form(key: tuple[int, str], definition: Any) -> Form:
    cache = _form_cache()
    with _FORMS_LOCK:
        form = cache.get(key)
        if form is None:
            definition = definition() if callable(definition) else definition
            form = cache[key] = Form(definition)
            while len(cache) > 64:
                cache.popitem(last=False)
        return form


def form_for(version: QuestionnaireVersion) -> Form:
    """The evaluable form of a version (cached; a version's definition changes only with its source file)."""
    return _cached_form((version.id, version.source_sha256), lambda: version.definition)


def form_by_id(connection: Connection, version_id: int, sha256: str) -> Form:
    """The evaluable form of version ``version_id`` read on a Core connection (the respondent path)."""
    table = QuestionnaireVersion.__table__
    return _cached_form((version_id, sha256), lambda: connection.execute(
        select(table.c.definition).where(table.c.id == version_id)).scalar_one())
