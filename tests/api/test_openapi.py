"""The OpenAPI document is valid and describes every public endpoint, its schemas and its errors."""

from openapi_spec_validator import validate

PUBLIC_OPERATIONS = {
    ("/api/v1/polls/{poll_id}", "get"): {"200", "304", "403", "404", "429"},
    ("/api/v1/polls/{poll_id}/answers", "post"): {
        "200",
        "201",
        "403",
        "409",
        "413",
        "422",
        "429",
    },
    ("/api/v1/polls/{poll_id}/progress", "get"): {"200", "403", "404"},
    ("/api/v1/polls/{poll_id}/results", "get"): {"200", "304", "403", "404"},
}


def test_openapi_document_is_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    validate(response.get_json())


def test_every_public_endpoint_is_documented_with_schemas_and_errors(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for (path, method), statuses in PUBLIC_OPERATIONS.items():
        operation = spec["paths"][path][method]
        assert operation["summary"], (path, method)
        assert statuses <= set(operation["responses"]), (path, method)
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok
        for status in statuses - {"200", "201", "304"}:
            error = operation["responses"][status]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/ErrorResponse"), (path, method, status)
    answer_body = spec["paths"]["/api/v1/polls/{poll_id}/answers"]["post"]["requestBody"]
    assert answer_body["content"]["application/json"]["schema"]["$ref"].endswith("/AnswerRequest")
    schemas = spec["components"]["schemas"]
    assert set(schemas["AnswerRequest"]["properties"]) == {
        "respondent",
        "node",
        "answer",
        "version",
        "request_key",
        "proof",
    }
    assert set(schemas["Proof"]["required"]) == {"challenge", "nonce"}
    answers_429 = spec["paths"]["/api/v1/polls/{poll_id}/answers"]["post"]["responses"]["429"]
    assert "proof_of_work" in answers_429["description"]
    assert "PBKDF2" in answers_429["description"]
    request_key = schemas["AnswerRequest"]["properties"]["request_key"]
    assert "idempotency key" in request_key["description"]
    assert "secret" in request_key["description"]
    endings = schemas["Results"]["properties"]["endings"]
    assert endings["items"]["$ref"].endswith("/EndingResult")
    assert set(schemas["EndingResult"]["required"]) == {
        "outcomes",
        "node",
        "answer",
        "respondents",
        "share_of_finished",
        "interval",
    }
    assert set(schemas["ErrorResponse"]["properties"]) == {"error"}


def test_every_public_route_in_the_app_is_in_the_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {path.replace("{", "<").replace("}", ">") for path in spec["paths"]}
    public_rules = {
        rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/polls")
    }
    assert public_rules
    assert public_rules <= documented
