"""Helpers shared by the API views: file downloads and their OpenAPI description."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context

from survey_app.services.exporters import MIMETYPES, Export

FILE_SCHEMA = {"type": "string", "format": "binary"}


def file_responses(*formats: str, json_schema: Any = None, description: str = "OK") -> dict[str, Any]:
    """``@blp.doc(...)`` arguments documenting the 200 response in file media types (and JSON)."""
    content: dict[str, Any] = {MIMETYPES[f]: {"schema": FILE_SCHEMA} for f in formats}
    if json_schema is not None:
        content = {"application/json": {"schema": json_schema}, **content}
    return {"responses": {"200": {"description": description, "content": content}}}


def send(export: Export) -> Response:
    """Stream an export as an attachment (the generator runs inside the request context)."""
    response = Response(stream_with_context(export.body), mimetype=export.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
