"""Schemathesis against /api/v1/openapi.json: generated requests to every documented operation,
public and admin (with an admin token), bounded in examples. No 5xx, and every response conforms
to the document: status code, content type and body schema.

Driven through schemathesis's Python API (one hypothesis run per operation) rather than its
pytest plugin, which does not yet support this pytest."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pollserver.core.roles import TokenRole
from pollserver.extensions import db
from pollserver.services.tokens import create_token

EXAMPLES_PER_OPERATION = 20
UNCOMPRESSED = {"Accept-Encoding": "identity"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_operation(operation, seed_poll_id: str, headers: dict[str, str] | None) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case):
        if "poll_id" in (case.path_parameters or {}):
            # A real poll reaches past the 404; random ids are covered by the API tests.
            case.path_parameters["poll_id"] = seed_poll_id
        # Schemathesis' WSGI transport does not undo a Content-Encoding, as HTTP clients do.
        case.call_and_validate(headers={**(headers or {}), **UNCOMPRESSED}, checks=CHECKS)

    run()


def test_every_operation_conforms_and_never_fails_with_5xx(app, seed_poll_id, admin_headers):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        is_admin = operation.path.startswith("/api/v1/admin")
        fuzz_operation(operation, seed_poll_id, admin_headers if is_admin else None)
        fuzzed.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/v1/polls/{poll_id}/answers" in fuzzed
    assert "POST /api/v1/admin/polls/{poll_id}/responses/hide" in fuzzed
    assert len(fuzzed) >= 25


@pytest.fixture
def admin_headers(app) -> dict[str, str]:
    with app.app_context():
        _, secret = create_token(db.session, "fuzzer", TokenRole.ADMIN)
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}
