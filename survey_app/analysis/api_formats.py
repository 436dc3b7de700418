"""Helpers shared by the API views: file downloads and their OpenAPI description."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from sqlalchemy.orm import Session

from survey_app.core import db
from survey_app.core.exporters import MIMETYPES, Export

FILE_SCHEMA = {"type": "string", "format": "binary"}


def file_responses(*formats: str, json_schema: Any = None, description: str = "OK") -> dict[str, Any]:
    """``@blp.doc(...)`` arguments documenting the 200 response in file media types (and JSON)."""
    content: dict[str, Any] = {MIMETYPES[f]: {"schema": FILE_SCHEMA} for f in formats}
    if json_schema is not None:
        content = {"application/json": {"schema": json_schema}, **content}
    return {"responses": {"200": {"description": description, "content": content}}}


def send(export: Export) -> Response:
    """Stream an export as an attachment (the generator runs inside the request context)."""
    response = Response(stream_with_context(_ending_transaction(export.body, db.session())), mimetype=export.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _ending_transaction(body: Iterator[bytes], session: Session) -> Iterator[bytes]:
    """Yield the export, then end the read transaction it ran in.

    The body reads through the request's session while the server sends it, after the request's
    teardown has already closed that session once; without this the reads would leave a
    transaction open (and its locks held) on a pooled connection.
    """
    try:
        yield from body
    finally:
        session.close()
