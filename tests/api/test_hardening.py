"""Hostile input gets the one JSON error shape, never a 500 (issue 17's findings, one by one)."""

from __future__ import annotations

import pytest

from pollserver.request_json import MAX_JSON_DEPTH

from helpers import SEED_WITH_FLOWCHART, bearer, open_poll_from_article

DEEP_ARRAYS = b"[" * 1000 + b"]" * 1000
# Parses (well within the recursion limit) but deeper than any document of the API.
DEEP_OBJECTS = b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1)
JSON = {"Content-Type": "application/json"}


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == status
    return error


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(app, client, tokens, body):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    admin = {**bearer(tokens["admin"]), **JSON}
    requests = [
        ("POST", f"/api/v1/polls/{poll_id}/answers", JSON),
        ("POST", "/api/v1/admin/articles", admin),
        ("PATCH", f"/api/v1/admin/polls/{poll_id}/settings", admin),
        ("PUT", f"/api/v1/admin/polls/{poll_id}/definition", admin),
        ("POST", f"/api/v1/admin/polls/{poll_id}/status", admin),
        ("POST", f"/api/v1/admin/polls/{poll_id}/responses/hide", admin),
        ("POST", "/api/v1/admin/tokens", admin),
    ]
    for method, url, headers in requests:
        response = client.open(url, method=method, data=body, headers=headers)
        assert_json_error(response, 400)
