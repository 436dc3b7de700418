"""Property-based fuzzing of the statistics API from its own OpenAPI description (schemathesis).

Every operation of /api/v1/openapi.json is called with generated valid (positive) and invalid
(negative) inputs and a valid token, against a survey with responses and a computed weighting
scheme: no 5xx, and every status code, content type, header and body matches what the
description documents; authentication is really enforced. Examples per operation and mode are
bounded (and derandomized) to keep the suite fast and repeatable.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .api_world import bearer, build, spec_with_draw

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
EXAMPLES = 10


@pytest.fixture
def fuzz_world(app, client):
    world = build(app, strata={"c01": (400, 30), "c02": (600, 30)})
    spec = spec_with_draw(world, rake={"margins": {"sex": {"1": 490, "2": 510}}}, trim=None)
    scheme = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": "main", "spec": spec}, headers=bearer(world.token))
    run = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme.json['id']}/versions/1/compute", headers=bearer(world.token))
    assert run.status_code == 201, run.json
    return world


def _fuzz(operation, mode, headers):  # type: ignore[no-untyped-def]
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def run(case):  # type: ignore[no-untyped-def]
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.slow
def test_every_operation_conforms_to_the_openapi_description(app, fuzz_world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, bearer(fuzz_world.token))
            except Exception as exc:  # collect every operation's failure, then report them together
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert not failures, "\n\n".join(failures)
