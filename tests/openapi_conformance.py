"""Every API response the test suite receives, checked against the app's own OpenAPI document.

``conftest`` makes ``ConformingClient`` every app's test client: a response from
``/api/v1/…`` whose body, status or declared headers the document does not describe fails the
test that received it (openapi-core, the validator integrators use). The document is read once
per session, from the first app; requests to routes the document
does not have (a test's probe routes, unknown URLs, HEAD) are not checked here.
"""

from __future__ import annotations

import gzip
import json
import threading

import brotli
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.deserializing.media_types.util import plain_loads
from openapi_core.templating.paths.exceptions import (
    OperationNotFound,
    PathNotFound,
    ServerNotFound,
)
from openapi_core.validation.response.validators import V30ResponseHeadersValidator

from pollserver.extensions import api

API_PREFIX = "/api/v1/"
DOCUMENT_PATH = "/api/v1/openapi.json"
# The document names the configured public URL; requests are matched as if made to this one.
CHECKED_AS_FROM = "http://pollserver.test"

_document: OpenAPI | None = None
_document_lock = threading.Lock()
checked_responses = 0


def api_document(client: FlaskClient) -> OpenAPI:
    global _document
    with _document_lock:
        if _document is None:
            # What the document's view returns, read without a request (a test may count them).
            with client.application.app_context():
                document = json.loads(json.dumps(api.spec.to_dict()))
            document["servers"] = [{"url": CHECKED_AS_FROM}]
            # openapi-core reads text/plain and text/html as text; so are these.
            config = Config(
                extra_media_type_deserializers={
                    media_type: plain_loads
                    for media_type in ("text/csv", "application/x-ndjson", "image/svg+xml")
                }
            )
            _document = OpenAPI.from_dict(document, config=config)
    return _document


class ResponseAsReceived(WerkzeugOpenAPIResponse):
    """The response as an HTTP client reads it: its Content-Encoding undone."""

    @property
    def data(self) -> bytes:
        data = super().data
        encoding = self.response.headers.get("Content-Encoding")
        return DECODERS[encoding](data) if encoding else data


DECODERS = {"gzip": gzip.decompress, "br": brotli.decompress}


class RequestAsDocumented(WerkzeugOpenAPIRequest):
    """The request a response answers, as openapi-core finds its operation by: its body was
    read by the app (and is not what is checked here)."""

    @property
    def host_url(self) -> str:
        return CHECKED_AS_FROM + "/"

    @property
    def body(self) -> bytes:
        return b""


def check_conformance(client: FlaskClient, response) -> None:
    """Fail when ``response`` (to a request of the API) is not as the document says."""
    global checked_responses
    request = response.request
    if (
        not request.path.startswith(API_PREFIX)
        or request.path == DOCUMENT_PATH
        or request.method in ("HEAD", "OPTIONS")
    ):
        return
    document = api_document(client)
    # openapi-core reads a streamed body through a copy of its iterator: it stays streamed.
    as_documented = RequestAsDocumented(request), ResponseAsReceived(response)
    try:
        if as_documented[1].data or response.is_json:
            document.validate_response(*as_documented)
        else:
            # An empty file (an export of no one) is an empty string, which openapi-core takes
            # for a missing body: its headers are checked.
            V30ResponseHeadersValidator(document.spec).validate(*as_documented)
    except (PathNotFound, OperationNotFound, ServerNotFound):
        return  # a route the document does not describe: none of the API's own
    except Exception as error:
        causes = getattr(error, "schema_errors", None) or [error.__cause__ or error]
        raise AssertionError(
            f"{request.method} {request.full_path} -> {response.status} is not as "
            f"{DOCUMENT_PATH} says: {said(error)}; "
            f"{'; '.join(said(cause)[:500] for cause in causes)}\n"
            f"headers: {dict(response.headers)}\nbody: {as_documented[1].data[:500]!r}"
        ) from error
    checked_responses += 1


def said(error: BaseException) -> str:
    """An error in words, even one whose own ``str`` fails (some of openapi-core's do)."""
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:
        return f"{type(error).__name__}: {error!r}"


class ConformingClient(FlaskClient):
    """The Flask test client, checking each API response against the OpenAPI document."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        check_conformance(self, response)
        return response
