"""The OpenAPI document (``/api/v1/openapi.json``) as client generators read it.

flask-smorest writes the document from the schemas and decorators. This module holds what they
cannot say on their own, in one place, so that the mainstream generators (openapi-python-client,
OpenAPI Generator, openapi-typescript) make clients that work unchanged:

- OpenAPI 3.1, where a nullable nested document is ``anyOf: [$ref, {type: "null"}]`` (3.0
  has no form of a nullable reference that validators accept and generators read right);
- no ``default: null`` (``as_generators_read_it``), and enums several schemas share as one
  component;
- the request headers (``X-Poll-Respondent``, ``If-None-Match``) as parameters, and the
  response headers (``ETag``, ``Cache-Control``, ``Retry-After``, ``X-Pagination``);
- ``X-Pagination`` as what it is: a JSON object sent as a header's value (``content``);
- the API's blueprints (``ApiBlueprint``); the ``operationId`` of each operation is given
  where the operation is.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from pollserver.core import builder
from pollserver.request_json import BoundedJsonParser

COMPONENTS = "#/components"


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{COMPONENTS}/{kind}/{name}"}


# --- fields ------------------------------------------------------------------------------------


# A field's metadata key naming a schema component that describes its values (an enum several
# schemas share: generators then make one type of it, not one per property).
COMPONENT = "openapi_component"


def as_generators_read_it(self, field: ma.fields.Field, ret: dict, **kwargs: Any) -> dict:
    """An apispec attribute function: no ``default: null``; a field whose metadata names a
    ``COMPONENT`` refers to it, ``anyOf: [{$ref}, {type: "null"}]`` when it may be null (as
    apispec writes a nullable nested document for OpenAPI 3.1)."""
    if "default" in ret and ret["default"] is None:
        # An optional field that may be null says as much; a null default made TypeScript
        # generators (openapi-typescript) require the field in every request.
        del ret["default"]
    if component := field.metadata.get(COMPONENT):
        for described_inline in ("type", "enum", "anyOf", "allOf"):
            ret.pop(described_inline, None)
        reference = ref("schemas", component)
        if field.allow_none:
            ret["anyOf"] = [reference, {"type": "null"}]
        else:
            ret["allOf"] = [reference]
    return {}


# --- pagination --------------------------------------------------------------------------------

PAGINATION_HEADER = "X-Pagination"


class PaginationMetadataSchema(ma.Schema):
    """What ``X-Pagination`` holds, as JSON."""

    total = ma.fields.Integer(required=True, metadata={"description": "Items in all pages"})
    total_pages = ma.fields.Integer(required=True, metadata={"description": "Pages in all"})
    page = ma.fields.Integer(
        required=True, metadata={"description": "This page (past the last page: empty)"}
    )
    first_page = ma.fields.Integer(metadata={"description": "1, when there is any item"})
    last_page = ma.fields.Integer(metadata={"description": "When there is any item"})
    previous_page = ma.fields.Integer(
        metadata={"description": "The page before this one that has items"}
    )
    next_page = ma.fields.Integer(metadata={"description": "Absent on the last page"})


def pagination_metadata(page: int, page_size: int, total: int) -> dict[str, int]:
    """``X-Pagination`` of page ``page`` (1-based) of ``total`` items, ``page_size`` to a page."""
    pages = -(-total // page_size)
    metadata = {"total": total, "total_pages": pages, "page": page}
    if pages:
        metadata |= {"first_page": 1, "last_page": pages}
        if page > 1:
            metadata["previous_page"] = min(page - 1, pages)
        if page < pages:
            metadata["next_page"] = page + 1
    return metadata


# --- the API's blueprints ---------------------------------------------------------------------


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint as the API's blueprints are: request bodies read with bounded
    nesting (``pollserver.request_json``), ``X-Pagination`` as described above."""

    ARGUMENTS_PARSER = BoundedJsonParser()

    def __init__(self, *args: Any, every_response_headers: dict | None = None, **kwargs: Any):
        """``every_response_headers``: headers every response of every operation carries."""
        super().__init__(*args, **kwargs)
        self.every_response_headers = every_response_headers or {}
        self._prepare_doc_cbks.append(self._document_every_response_headers)

    def _document_every_response_headers(self, doc: dict, doc_info: dict, **kwargs: Any) -> dict:
        for response in doc.get("responses", {}).values():
            if isinstance(response, dict) and "$ref" not in response:  # not a shared response
                response.setdefault("headers", {}).update(self.every_response_headers)
        return doc

    @staticmethod
    def _make_pagination_metadata(page: int, page_size: int, item_count: int) -> dict[str, int]:
        return pagination_metadata(page, page_size, item_count)

    def _document_pagination_metadata(self, spec, resp_doc) -> None:
        resp_doc.setdefault("headers", {}).update(PAGINATION)


# --- headers -----------------------------------------------------------------------------------

RESPONDENT_HEADER = "X-Poll-Respondent"

PARAMETERS: dict[str, dict[str, Any]] = {
    "Respondent": {
        "in": "header",
        "name": RESPONDENT_HEADER,
        "required": False,
        "description": "A reader's token, from their first answer's reply. With it, a poll "
        "whose results show `after_answer` shows them to a reader who has finished; the reply "
        "is then that reader's own (`Cache-Control: private, no-store`).",
        "schema": {"type": "string"},
    },
    "RespondentRequired": {
        "in": "header",
        "name": RESPONDENT_HEADER,
        "required": True,
        "description": "The reader's token, from their first answer's reply",
        "schema": {"type": "string"},
    },
    "IfNoneMatch": {
        "in": "header",
        "name": "If-None-Match",
        "required": False,
        "description": "The `ETag` of the copy the client holds: 304 with no body if unchanged",
        "schema": {"type": "string"},
    },
}

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "This representation's tag (it differs between encodings); send it "
        "back in `If-None-Match`",
        "schema": {"type": "string"},
    },
    "CacheControl": {
        "description": "How long shared caches may keep the reply",
        "schema": {"type": "string"},
    },
    "RetryAfter": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Pagination": {
        "description": "Where this page stands, as a JSON object",
        "content": {"application/json": {"schema": ref("schemas", "Pagination")}},
    },
}


def header(name: str, *, required: bool = False) -> dict[str, Any]:
    """A response header, by the name of its component (``HEADERS``)."""
    if not required:
        return ref("headers", name)
    # A reference may carry only a summary and a description: a required header is written out.
    return {**HEADERS[name], "required": True}


READ_HEADERS = {"ETag": header("ETag", required=True), "Cache-Control": header("CacheControl")}
RETRY_AFTER = {"Retry-After": header("RetryAfter")}
PAGINATION = {PAGINATION_HEADER: header("Pagination", required=True)}


def request_body(media_type: str, schema: Any) -> dict[str, Any]:
    """An operation's required body, of one media type (generated clients take one a call)."""
    return {"required": True, "content": {media_type: {"schema": schema}}}


DEFAULT_ERROR = "DEFAULT_ERROR"  # flask-smorest's name for the shared default error response


# --- the document as a whole ---------------------------------------------------------------------


def describe(api) -> None:
    """Teach a flask-smorest ``Api``, just initialised for an app, all of the above. Runs
    before any blueprint is registered: registering one writes its operations."""
    api.ma_plugin.converter.add_attribute_function(as_generators_read_it)
    components = api.spec.components
    # flask-smorest's own pagination schema, registered with its header: neither is used here
    # (``ApiBlueprint`` documents X-Pagination), and generators made a dead model of it.
    components.schemas.pop("PaginationMetadata", None)
    components.schema("Pagination", schema=PaginationMetadataSchema)
    components.schema(
        "ArticleFormat",
        {
            "type": "string",
            "enum": list(builder.FORMATS),
            "description": "How an article's text is read",
        },
    )
    # Any operation may answer 503 (the database is unavailable) with Retry-After; the shared
    # default error response says so.
    default_error = components.responses_lazy.get(DEFAULT_ERROR) or components.responses.get(
        DEFAULT_ERROR
    )
    if default_error is not None:
        default_error.setdefault("headers", {}).update(RETRY_AFTER)
    for name, parameter in PARAMETERS.items():
        components.parameter(name, parameter["in"], parameter)
    for name, value in HEADERS.items():
        components.header(name, value)
