"""The OpenAPI description flattened for the server-rendered API reference page."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Field:
    name: str
    type: str
    required: bool
    description: str


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    scope: str
    anchor: str
    parameters: list[Field] = field(default_factory=list)
    body: str = ""
    responses: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Section:
    name: str
    description: str
    operations: list[Operation]


def _ref_name(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array" and isinstance(schema.get("items"), Mapping):
        return f"[{_ref_name(schema['items'])}]"
    return str(schema.get("type", "object")) + (f" ({schema['format']})" if schema.get("format") else "")


def _type(schema: Mapping[str, Any]) -> str:
    name = _ref_name(schema)
    if "enum" in schema:
        name += ": " + " | ".join(map(str, schema["enum"]))
    if schema.get("nullable"):
        name += " | null"
    return name


def _response(spec: Mapping[str, Any], value: Mapping[str, Any]) -> tuple[str, str]:
    if "$ref" in value:
        value = spec["components"]["responses"][str(value["$ref"]).rsplit("/", 1)[-1]]
    content = value.get("content", {})
    kinds = [f"{media}: {_ref_name(body.get('schema', {}))}" for media, body in content.items()]
    return str(value.get("description", "")), "; ".join(kinds)


def sections(spec: Mapping[str, Any]) -> list[Section]:
    tags = {t["name"]: t.get("description", "") for t in spec.get("tags", [])}
    grouped: dict[str, list[Operation]] = {name: [] for name in tags}
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                Field(p["name"], f"{p['in']}, {_type(p.get('schema', {}))}", bool(p.get("required")), p.get("description", ""))
                for p in [*shared, *op.get("parameters", [])]
            ]
            body = ""
            if "requestBody" in op:
                body = "; ".join(f"{m}: {_ref_name(c.get('schema', {}))}" for m, c in op["requestBody"].get("content", {}).items())
            responses = [(status, *_response(spec, value)) for status, value in sorted(op.get("responses", {}).items())]
            operation = Operation(
                method=method.upper(), path=path, summary=op.get("summary", ""), description=op.get("description", ""),
                scope=op.get("x-required-scope", ""), anchor=f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                parameters=params, body=body, responses=responses,
            )
            for tag in op.get("tags", ["other"]):
                grouped.setdefault(tag, []).append(operation)
    return [Section(name, tags.get(name, ""), ops) for name, ops in grouped.items() if ops]


def schemas(spec: Mapping[str, Any]) -> list[tuple[str, list[Field]]]:
    out = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        props = [
            Field(prop, _type(value), prop in required, value.get("description", ""))
            for prop, value in schema.get("properties", {}).items()
        ]
        out.append((name, props))
    return out


def pretty(spec: Mapping[str, Any]) -> str:
    return json.dumps(spec, ensure_ascii=False, indent=2)
