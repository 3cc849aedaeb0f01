"""Every error is JSON in one shape: unknown URLs, wrong methods, bad or big bodies, crashes."""

import marshmallow as ma
import pytest
from flask.views import MethodView
from flask_smorest import Blueprint

from pollserver import create_app
from pollserver.extensions import api


def assert_error_shape(response, code: int) -> dict:
    assert response.status_code == code
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "status", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["status"], str) and error["status"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    assert "Traceback" not in response.get_data(as_text=True)
    return error


class EchoSchema(ma.Schema):
    name = ma.fields.String(required=True)


@pytest.fixture
def app_with_probe_routes(app_config):
    """An app with two extra routes: one that takes a JSON body, one that crashes."""
    app = create_app({**app_config, "MAX_CONTENT_LENGTH": 1024, "PROPAGATE_EXCEPTIONS": False})
    blp = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    @blp.route("/echo")
    class Echo(MethodView):
        @blp.arguments(EchoSchema)
        @blp.response(200, EchoSchema)
        def post(self, body):
            return body

    @blp.route("/crash")
    def crash():
        raise RuntimeError("secret internal detail")

    api.register_blueprint(blp)
    return app


def test_unknown_url_is_json_404(client):
    error = assert_error_shape(client.get("/no/such/page"), 404)
    assert error["status"] == "Not Found"


def test_wrong_method_is_json_405_with_allow(client):
    response = client.post("/healthz")
    assert_error_shape(response, 405)
    assert "GET" in response.headers["Allow"]


def test_malformed_json_body_is_json_400(app_with_probe_routes):
    response = app_with_probe_routes.test_client().post(
        "/api/v1/probe/echo", data="{not json", content_type="application/json"
    )
    assert_error_shape(response, 400)


def test_invalid_body_is_json_422_naming_the_field(app_with_probe_routes):
    response = app_with_probe_routes.test_client().post("/api/v1/probe/echo", json={"nom": "x"})
    error = assert_error_shape(response, 422)
    assert "name" in error["details"]["fields"]
    assert "nom" in error["details"]["fields"]


def test_body_over_the_limit_is_json_413(app_with_probe_routes):
    response = app_with_probe_routes.test_client().post(
        "/api/v1/probe/echo", json={"name": "x" * 5000}
    )
    assert_error_shape(response, 413)


def test_crash_is_json_500_without_internals(app_with_probe_routes):
    response = app_with_probe_routes.test_client().get("/api/v1/probe/crash")
    error = assert_error_shape(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "logged" in error["message"]
