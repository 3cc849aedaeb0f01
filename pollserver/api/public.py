"""The public poll API the widget talks to: CORS-open, no credentials, rate limited.

Views stay thin: they hand answers to ``pollserver.services.answer_writer`` (which applies the
rules of ``pollserver.services.answering``) and read results through ``pollserver.results_cache``;
refusals reach the client through ``pollserver.error_handlers``. The hottest reads come from
memory (see ShortLived).
"""

from __future__ import annotations

import functools
import time
from typing import Any, TypeVar

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import abort
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import ETags
from werkzeug.http import generate_etag

from pollserver.api.openapi_document import (
    READ_HEADERS,
    RESPONDENT_HEADER,
    RETRY_AFTER,
    ApiBlueprint,
    header,
)
from pollserver.api.schemas import (
    AnswerRequestSchema,
    ProgressSchema,
    PublicPollSchema,
    ResultsSchema,
)
from pollserver.compression import variant_etag
from pollserver.core.identifiers import echoed
from pollserver.core.lifecycle import effective_status, is_published
from pollserver.core.poll_settings import normalise_origin, results_refusal, settings_of
from pollserver.core.proof_of_work import PROOF_OF_WORK_REASON
from pollserver.core.refusals import UNKNOWN_READER_REASON, Refused
from pollserver.core.results_picture import render_results_svg
from pollserver.core.timestamps import utcnow
from pollserver.core.tree import Walk
from pollserver.database import write_transaction
from pollserver.errors import ErrorResponseSchema
from pollserver.extensions import db, limiter
from pollserver.metrics import count_answer, count_rate_limited, metrics_of
from pollserver.models import Poll
from pollserver.rate_limits import (
    address_salts_of,
    answers_limit,
    client_address,
    proof_of_work_of,
    public_limit,
)
from pollserver.response_headers import add_vary
from pollserver.results_cache import (
    Rendered,
    cached_results_json,
    current_results,
    current_results_json,
    render,
    results_etag,
    tree_of,
)
from pollserver.services.answer_writer import AnswerRequest, AnswerWriter
from pollserver.services.answering import Reader, find_reader, respondent_walk
from pollserver.services.polls import (
    PollFacts,
    find_live_poll,
    find_poll_facts,
    reader_document,
)
from pollserver.services.tallies import SummedCounts

POLL_CACHE_SECONDS = 30

blp = ApiBlueprint(
    "polls",
    __name__,
    url_prefix="/api/v1/polls",
    description="What a widget renders and records. CORS-open; no credentials.",
)


def answered_from_memory() -> bool:
    """True for a read this process answers from memory, without the database.

    The public limit guards the database. A read that memory answers costs what ``/widget.js``
    costs (neither is counted); counting it would cost more than serving it (bench/RESULTS.md).
    Reads that reach the database are counted: unknown ids, expired entries, progress, pictures
    and anything sent with a reader's token.
    """
    if request.method != "GET" or request.headers.get(RESPONDENT_HEADER):
        return False
    poll_id = (request.view_args or {}).get("poll_id") or ""
    if request.endpoint == "polls.PublicPoll":
        return poll_documents.get(poll_id) is not None
    if request.endpoint == "polls.PollResults":
        facts = poll_facts.get(poll_id)
        return facts is not None and (
            why_results_are_hidden(facts, None) is not None
            or cached_results_json(facts) is not None
        )
    return False


# Both limits are the blueprint's, told apart by method (answers are its only POST): one check
# per request in flask-limiter's middleware, where a limit on the view itself was checked there
# and again by its decorator.
limiter.limit(public_limit, methods=["GET", "HEAD", "OPTIONS"])(blp)
limiter.limit(answers_limit, methods=["POST"])(blp)
# A request filter, not an exemption on the limit: filters run before flask-limiter resolves any
# limit, so a read from memory costs nothing to let through.
limiter.request_filter(answered_from_memory)

# An answer is a few dozen bytes; refusing big bodies early keeps junk out of the parser.
ANSWER_BODY_LIMIT_BYTES = 2048


@blp.before_request
def limit_body_size():
    if request.method == "POST":
        request.max_content_length = ANSWER_BODY_LIMIT_BYTES


# --- CORS -------------------------------------------------------------------------------------

ORIGIN_NOT_ALLOWED = "This poll is not available on this page."
ORIGIN_NOT_ALLOWED_REASON = "origin_not_allowed"
ALLOWED_ORIGINS_KEY = "pollserver.allowed_origins"  # in the request's WSGI environ


def allowed_origins(poll_id: str | None) -> list[str]:
    if not poll_id:
        return []
    cached = poll_origins.get(poll_id)
    if cached is not None:
        return cached
    poll = find_live_poll(db.session, poll_id)
    origins = settings_of(poll.settings).allowed_origins if poll else []
    if poll is not None:
        poll_origins.put(poll_id, origins)
    return origins


def request_allowed_origins() -> list[str]:
    """The origins the requested poll allows (empty: any), looked up once per request."""
    origins = request.environ.get(ALLOWED_ORIGINS_KEY)
    if origins is None:
        origins = allowed_origins((request.view_args or {}).get("poll_id"))
        request.environ[ALLOWED_ORIGINS_KEY] = origins
    return origins


def is_refused_origin(origin: str | None, allowed: list[str], own_urls: tuple[str, ...]) -> bool:
    """Whether a page on ``origin`` is refused the poll: the poll names its origins and this is
    none of them, nor the service's own (``own_urls``: where share page, iframe and demo are
    served: the public URL, and the request's own host). Requests without an ``Origin``
    (servers, not browsers) are not refused."""
    if not origin or not allowed:
        return False
    normalised = normalise_origin(origin)
    return normalised not in allowed and all(
        normalised != normalise_origin(own) for own in own_urls
    )


@blp.before_request
def refuse_other_origins():
    """A page on an origin the poll does not allow is refused before anything is read or
    written, with a 403 the page can read (see ``allow_cross_origin``), so that the widget can
    say why instead of "check your connection".

    The CORS preflight passes: a browser treats a refused preflight as a network error and
    never sends the request, so it is the request itself that gets the readable refusal. The
    service's own pages (share page, iframe, demo) are same-origin and always allowed.
    Requests without an ``Origin`` (servers, not browsers) are not checked.
    """
    origin = request.headers.get("Origin")
    if not origin or request.method == "OPTIONS":
        return
    own_urls = (current_app.config["POLLSERVER_PUBLIC_URL"], request.host_url)
    if is_refused_origin(origin, request_allowed_origins(), own_urls):
        abort(
            403,
            message=ORIGIN_NOT_ALLOWED,
            errors={"reason": ORIGIN_NOT_ALLOWED_REASON, "origin": [origin]},
        )


@blp.after_request
def allow_cross_origin(response):
    """Any origin may call the public API without credentials. A poll that names its origins
    answers each by name (``Vary: Origin``), refusals to the others included, so they can be read.

    ``Timing-Allow-Origin`` lets publishers' performance monitoring see these requests' timings.
    """
    origin = request.headers.get("Origin")
    try:
        allowed = request_allowed_origins()
    except SQLAlchemyError:
        # The database is down and the reply is its 503, which tells no page anything. (Before
        # the view, refuse_other_origins met the same error: no request passes unchecked.)
        allowed = []
    apply_cross_origin_headers(response, origin, allowed, request.method)
    return response


def apply_cross_origin_headers(
    response: Response, origin: str | None, allowed: list[str], method: str
) -> None:
    for name, value in cross_origin_headers(origin, allowed, method):
        if name == "Vary":
            add_vary(response.headers, value)
        else:
            response.headers[name] = value


def cross_origin_headers(
    origin: str | None, allowed: list[str], method: str
) -> list[tuple[str, str]]:
    """The CORS headers of a public API response to a page on ``origin`` (see above).

    A poll open to any page says so to every request, whatever its ``Origin``: the response
    does not depend on it, and a shared cache may give it to anyone. A poll that names its
    origins answers each by name, so its responses always say ``Vary: Origin`` (with no
    ``Origin`` too): a cache must not hand one page's answer, or a refusal, to another.
    """
    headers = [("Timing-Allow-Origin", "*")]
    if allowed:
        headers.append(("Vary", "Origin"))
        if not origin:
            return headers
    headers.append(("Access-Control-Allow-Origin", origin if allowed else "*"))
    headers.append(("Access-Control-Expose-Headers", "ETag, Retry-After"))
    if method == "OPTIONS" and origin:
        headers.append(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
        headers.append(
            ("Access-Control-Allow-Headers", f"Content-Type, {RESPONDENT_HEADER}, If-None-Match")
        )
        headers.append(("Access-Control-Max-Age", "86400"))
    return headers


# --- shared steps -----------------------------------------------------------------------------


class ShortLived:
    """Values about a poll that a process reuses for a moment: the poll document every widget
    fetches, the poll's allowed origins and its visibility facts are served from memory, not the
    database, while a change still shows within ``POLL_DOCUMENT_SECONDS`` (shared caches may
    keep the document ``POLL_CACHE_SECONDS``)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        entry = self._values.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def forget(self, key: str) -> None:
        self._values.pop(key, None)

    def put(self, key: str, value: Any) -> None:
        if len(self._values) > 10_000:  # unknown ids are never stored; this bounds the rest
            self._values.clear()
        self._values[key] = (time.monotonic() + self.seconds, value)


POLL_DOCUMENT_SECONDS = 1.0
poll_documents = ShortLived(POLL_DOCUMENT_SECONDS)
poll_origins = ShortLived(POLL_DOCUMENT_SECONDS)
poll_facts = ShortLived(POLL_DOCUMENT_SECONDS)


def public_poll_facts(poll_id: str) -> PollFacts:
    """The published poll's facts, from memory for a moment (404 for unpublished polls)."""
    facts = poll_facts.get(poll_id)
    if facts is None:
        facts = published(find_poll_facts(db.session.connection(), poll_id), poll_id)
        poll_facts.put(poll_id, facts)
    return published(facts, poll_id)


PublishedPoll = TypeVar("PublishedPoll", Poll, PollFacts)


def published(poll: PublishedPoll | None, poll_id: str) -> PublishedPoll:
    """The poll if readers may see it; otherwise a 404 that says no more than that."""
    if poll is None or not is_published(poll):
        abort(404, message=f"No poll {echoed(poll_id)} is published here.")
    return poll


@event.listens_for(Poll, "after_update")
@event.listens_for(Poll, "after_delete")
def forget_changed_poll_document(mapper, connection, poll: Poll) -> None:
    # Any change to a poll made in this process shows at once here; elsewhere within a second.
    poll_documents.forget(poll.public_id)
    poll_origins.forget(poll.public_id)
    poll_facts.forget(poll.public_id)


def json_response(document: Rendered, status: int = 200) -> Response:
    """The rendered document; for a read, with its ETag, or 304 when the client holds it."""
    read = request.method in ("GET", "HEAD") and status == 200
    if_none_match = request.if_none_match if "If-None-Match" in request.headers else None
    return document_response(
        document,
        status,
        read=read,
        if_none_match=if_none_match,
        accept_encoding=request.headers.get("Accept-Encoding", ""),
    )


def document_response(
    document: Rendered,
    status: int = 200,
    *,
    read: bool = False,
    if_none_match: ETags | None = None,
    accept_encoding: str = "",
) -> Response:
    """``json_response`` for a request known by its parts: ``read`` for a GET/HEAD that is to
    carry the ETag, ``if_none_match`` and ``accept_encoding`` as the client sent them. The
    representation is chosen first (compressed or not), then compared with what the client
    holds: a client holding another encoding of the same document gets this one, not a 304."""
    encoding = document.encoding_for(accept_encoding)
    etag = variant_etag(document.etag, encoding)
    if read and if_none_match is not None and if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(document.encoded(encoding), status=status, mimetype=document.media_type)
        if encoding:
            response.headers["Content-Encoding"] = encoding
    if read:
        response.set_etag(etag, weak=document.weak)
    if document.compressible:
        add_vary(response.headers, "Accept-Encoding")
    return response


def load_public_poll(poll_id: str) -> Poll:
    return published(find_live_poll(db.session, poll_id), poll_id)


def why_results_are_hidden(poll: Poll | PollFacts, respondent: Reader | None) -> str | None:
    """Why results are hidden from this request, or None when it may see them."""
    return results_refusal(
        poll.settings,
        effective_status(poll),
        reader_finished=respondent is not None and respondent.finished_at is not None,
    )


def gets_results(poll: PollFacts, reader: Reader, walk: Walk) -> bool:
    """Whether this reader's progress carries the results (at the end, if they may see them)."""
    return walk.finished and why_results_are_hidden(poll, reader) is None


def progress_body(
    poll: PollFacts,
    token: str,
    reader: Reader,
    walk: Walk,
    *,
    counting_since: float | None = None,
    summed: SummedCounts | None = None,
) -> dict:
    """Where the reader stands, shaped as ``ProgressSchema``; results once they may see them."""
    results = None
    if gets_results(poll, reader, walk):
        results = current_results(poll, counting_since=counting_since, summed=summed)
    return {
        "respondent": token,
        "path": [{"node": key, "answer": answer} for key, answer in walk.path],
        "current": walk.current,
        "finished": walk.finished,
        "outcomes": walk.outcomes,
        "results": results,
    }


def respondent_from_header(
    poll: PollFacts,
) -> tuple[str | None, Reader | None, PollFacts | None]:
    """The token sent, the reader it names and the version of the poll they answer."""
    token = request.headers.get(RESPONDENT_HEADER)
    if not token:
        return None, None, None
    reader, version = find_reader(db.session.connection(), poll, token, for_update=False)
    return token, reader, version


def poll_facts_if_results_visible(poll_id: str) -> PollFacts:
    """The live version's facts when this request may see its results; 403 saying when it may,
    if not (a reader's token counts for the version they answered only)."""
    facts = public_poll_facts(poll_id)
    _, respondent, version = respondent_from_header(facts)
    if version is not facts:
        respondent = None
    refusal = why_results_are_hidden(facts, respondent)
    if refusal:
        abort(403, message=refusal)
    return facts


def described_only(*decorators):
    """flask-smorest's response decorators for their OpenAPI description, without their wrappers.

    Each of those decorators also wraps the view in a call layer (to dump a returned object
    through its schema). A view that always returns a ready ``Response`` gains nothing from
    them, and on the hottest endpoints the layers cost a measurable share of the request.
    """

    def describe(view):
        described = view
        for decorator in reversed(decorators):
            described = decorator(described)
        view._apidoc = described._apidoc
        return view

    return describe


# --- endpoints --------------------------------------------------------------------------------

ORIGIN_REFUSAL_DOC = (
    "The page's origin is not one the poll allows (`allowed_origins`): message "
    f'"{ORIGIN_NOT_ALLOWED}", `details.reason` "{ORIGIN_NOT_ALLOWED_REASON}", `details.origin` '
    "[the origin]. Sent with CORS headers for that origin, so the page can read it."
)
NOT_MODIFIED_DOC = "Not modified: `If-None-Match` holds this representation's `ETag`"
# What an answer or a reader's own read replies with: never kept by a cache.
NOT_STORED_HEADERS = {"Cache-Control": header("CacheControl", required=True)}
RATE_LIMITED_DOC = (
    'Rate limited: `details.reason` "rate_limit"; `Retry-After` says when to try again.'
)


PROOF_OF_WORK_DOC = (
    "A new reader beyond the daily cap of new readers per address, or any new reader while the "
    'poll\'s new readers surge: `details.reason` "proof_of_work" (`details.why` '
    '"beyond_daily_cap" or "surge"), no `Retry-After`. Send the same answer again with `proof`: '
    "`details.challenge` and a nonce of decimal digits such that PBKDF2-HMAC-SHA256(password = "
    "challenge, salt = nonce, iterations = `details.iterations`, 32 bytes) begins with "
    "`details.difficulty` zero bits (about 2^difficulty tries; Web Crypto's deriveBits in a "
    "browser), within `details.expires_in` seconds. A challenge is signed for this poll and "
    "good once; a proof that is not accepted gets a new challenge and says why in "
    "`details.proof` (expired, spent, insufficient, forged, malformed). Where the server asks "
    'no work, beyond the cap is `details.reason` "daily_cap" with `Retry-After` the seconds '
    "until midnight UTC."
)


@blp.route("/<poll_id>")
class PublicPoll(MethodView):
    @described_only(
        blp.doc(operationId="getPoll", parameters=["IfNoneMatch"]),
        blp.response(200, PublicPollSchema, headers=READ_HEADERS),
        blp.alt_response(304, description=NOT_MODIFIED_DOC, headers=READ_HEADERS),
        blp.alt_response(403, schema=ErrorResponseSchema, description=ORIGIN_REFUSAL_DOC),
        blp.alt_response(404, schema=ErrorResponseSchema, description="No such published poll"),
        blp.alt_response(
            429, schema=ErrorResponseSchema, description=RATE_LIMITED_DOC, headers=RETRY_AFTER
        ),
    )
    def get(self, poll_id: str):
        """The poll a widget renders: title, tree, status and widget settings.

        Open, paused and closed polls; drafts, archived polls and unknown ids are 404.
        """
        cached = poll_documents.get(poll_id)
        if cached is not None:
            return json_response(cached)
        poll = load_public_poll(poll_id)
        document = PublicPollSchema().dump(reader_document(poll, effective_status(poll)))
        rendered = render(document)
        poll_documents.put(poll_id, rendered)
        return json_response(rendered)


@blp.route("/<poll_id>/answers")
class PollAnswers(MethodView):
    # An instance, not the class: webargs would build (and deep-copy the fields of) a new
    # schema for every answer.
    @blp.arguments(AnswerRequestSchema())
    @described_only(
        blp.doc(operationId="answerPoll"),
        blp.response(
            200,
            ProgressSchema,
            description="Answer recorded (or a retry of one)",
            headers=NOT_STORED_HEADERS,
        ),
        blp.alt_response(
            201,
            schema=ProgressSchema,
            description="A new reader: token issued",
            headers=NOT_STORED_HEADERS,
        ),
        blp.alt_response(403, schema=ErrorResponseSchema, description=ORIGIN_REFUSAL_DOC),
        blp.alt_response(404, schema=ErrorResponseSchema, description="No such published poll"),
        blp.alt_response(
            409,
            schema=ErrorResponseSchema,
            description="Not the reader's current question, answer already given, paused or closed",
        ),
        blp.alt_response(413, schema=ErrorResponseSchema, description="Body too large"),
        blp.alt_response(422, schema=ErrorResponseSchema, description="Invalid body"),
        blp.alt_response(
            429,
            schema=ErrorResponseSchema,
            description=f"{RATE_LIMITED_DOC} {PROOF_OF_WORK_DOC}",
            headers=RETRY_AFTER,
        ),
    )
    def post(self, body: dict, poll_id: str):
        """Answer the reader's current question.

        A new reader sends `respondent: null` and gets a token back (201); afterwards they send
        the token with each answer. Sending the same answer again changes nothing (200). A new
        reader's `request_key` makes their first answer safe to retry: the same key names the
        same reader (200 with their token and progress, or 409 with the token in
        `details.respondent`).
        """
        return record_answer(
            poll_id, body, client_address(), request.headers.get("Accept-Encoding", "")
        )


def record_answer(poll_id: str, body: dict, address: str, accept_encoding: str = "") -> Response:
    """Record one answer (``body`` as ``AnswerRequestSchema`` loads it) and reply with the
    reader's progress; a refusal is raised as ``Refused``. The view above and the fast lane
    (``pollserver.fast_lane``) both answer with this."""
    new_reader = body["respondent"] is None
    proof_of_work = proof_of_work_of(current_app)
    try:
        bits_paid = 0
        if new_reader:
            # Work owed in a surge is asked before anything is written; work owed beyond the
            # daily cap is known inside the writer's transaction (see ProofOfWork).
            bits_paid = proof_of_work.bits_paid(poll_id, body.get("proof"))
            proof_of_work.refuse_unpaid_surge(poll_id, bits_paid)
        written = answer_writer().write(
            AnswerRequest(
                poll_id=poll_id,
                token=body["respondent"],
                node_key=body["node"],
                answer=body["answer"],
                client_address=address,
                now=utcnow(),
                version=body["version"],
                request_key=body["request_key"] if new_reader else None,
                proof_bits=bits_paid,
            )
        )
    except Refused as refusal:
        if refusal.details.get("reason") == PROOF_OF_WORK_REASON:
            count_rate_limited(PROOF_OF_WORK_REASON)
            if "challenge" not in refusal.details:
                raise proof_of_work.with_challenge(refusal, poll_id) from None
        elif refusal.status == 429:
            count_rate_limited("respondents_per_address_per_day")
        raise
    recorded = written.recorded
    if recorded.created_respondent:
        proof_of_work.reader_started(poll_id)
    if recorded.stored:
        count_answer(recorded.kind)
    token = recorded.token or body["respondent"]
    # A retry too: the answer it repeats was committed before this batch read it back.
    reply = progress_body(
        written.poll,
        token,
        recorded.reader,
        recorded.walk,
        counting_since=written.committed_at,
        summed=written.summed,
    )
    status = 201 if recorded.created_respondent else 200
    return document_response(render(reply), status, accept_encoding=accept_encoding)


PICTURE_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors *"
PICTURE_MEDIA_TYPE = "image/svg+xml"

ANSWER_WRITER = "pollserver-answer-writer"


def answer_writer() -> AnswerWriter:
    """This app's writer of answers (one per process: group commit happens within a process)."""
    writer = current_app.extensions.get(ANSWER_WRITER)
    if writer is None:
        # Everything the writer calls is bound to this app now: it runs in whichever request
        # thread writes a batch, and needs no app context of its own.
        config, engine, metrics = current_app.config, db.engine, metrics_of()
        writer = current_app.extensions.setdefault(
            ANSWER_WRITER,
            AnswerWriter(
                functools.partial(write_transaction, engine),
                tree_of,
                respondents_per_address=lambda: config["RESPONDENTS_PER_ADDRESS_PER_DAY"],
                proof_of_work_bits=lambda: config["POLLSERVER_PROOF_OF_WORK_BITS"],
                request_key_secret=config["SECRET_KEY"],
                on_batch_written=metrics.answer_batch_size.observe if metrics else lambda _: None,
                gets_results=lambda poll, recorded: gets_results(
                    poll, recorded.reader, recorded.walk
                ),
                address_salts=address_salts_of(current_app._get_current_object()),
            ),
        )
    return writer


@blp.route("/<poll_id>/progress")
class ReaderProgress(MethodView):
    @blp.doc(operationId="getProgress", parameters=["RespondentRequired"])
    @blp.response(200, ProgressSchema, headers=NOT_STORED_HEADERS)
    @blp.alt_response(403, schema=ErrorResponseSchema, description=ORIGIN_REFUSAL_DOC)
    @blp.alt_response(
        404,
        schema=ErrorResponseSchema,
        description=f'Unknown poll, or unknown reader: `details.reason` "{UNKNOWN_READER_REASON}"',
    )
    @blp.alt_response(
        429, schema=ErrorResponseSchema, description=RATE_LIMITED_DOC, headers=RETRY_AFTER
    )
    def get(self, poll_id: str):
        """Where a returning reader stands (send the token in the `X-Poll-Respondent` header)."""
        token, reader, version = respondent_from_header(public_poll_facts(poll_id))
        if reader is None or version is None:
            abort(
                404,
                message="No reader with this token has started this poll.",
                errors={"reason": UNKNOWN_READER_REASON},
            )
        return progress_body(version, token, reader, respondent_walk(tree_of(version), reader))


@blp.route("/<poll_id>/results")
class PollResults(MethodView):
    @described_only(
        blp.doc(operationId="getResults", parameters=["Respondent", "IfNoneMatch"]),
        blp.response(200, ResultsSchema, headers=READ_HEADERS),
        blp.alt_response(304, description=NOT_MODIFIED_DOC, headers=READ_HEADERS),
        blp.alt_response(
            403,
            schema=ErrorResponseSchema,
            description=f"Results not visible yet. Or: {ORIGIN_REFUSAL_DOC}",
        ),
        blp.alt_response(404, schema=ErrorResponseSchema, description="No such published poll"),
        blp.alt_response(
            429, schema=ErrorResponseSchema, description=RATE_LIMITED_DOC, headers=RETRY_AFTER
        ),
    )
    def get(self, poll_id: str):
        """Aggregate results: per question, outcome and path, with honest small-sample rules.

        Visibility follows the poll's setting; with `after_answer`, send a finished reader's
        token in the `X-Poll-Respondent` header.
        """
        facts = poll_facts_if_results_visible(poll_id)
        # A busy poll's results come from memory: no query, no rendering, until they expire.
        return json_response(current_results_json(facts))


@blp.route("/<poll_id>/results.svg")
class PollResultsPicture(MethodView):
    @blp.doc(
        operationId="getResultsPicture",
        parameters=["Respondent", "IfNoneMatch"],
        responses={
            200: {
                "description": "The tree drawn with each branch's share (600 px wide)",
                "content": {"image/svg+xml": {"schema": {"type": "string", "format": "binary"}}},
                "headers": READ_HEADERS,
            },
            304: {"description": NOT_MODIFIED_DOC, "headers": READ_HEADERS},
        },
    )
    @blp.alt_response(403, schema=ErrorResponseSchema, description="Results not visible yet")
    @blp.alt_response(404, schema=ErrorResponseSchema, description="No such published poll")
    @blp.alt_response(
        429, schema=ErrorResponseSchema, description=RATE_LIMITED_DOC, headers=RETRY_AFTER
    )
    def get(self, poll_id: str):
        """The results as an SVG picture, for places where JavaScript cannot run.

        Same visibility rules as the JSON results.
        """
        facts = poll_facts_if_results_visible(poll_id)
        poll = load_public_poll(poll_id)
        results = current_results(facts)
        picture = render_results_svg(tree_of(poll), poll.title, results)
        # Weak: a picture drawn again with the same numbers, title and texts (its "as of" time
        # aside) is the same picture.
        etag = generate_etag(f"{results_etag(results)} {poll.updated_at.isoformat()}".encode())
        response = json_response(
            Rendered(picture.encode(), etag, weak=True, media_type=PICTURE_MEDIA_TYPE)
        )
        # Opened on its own, the picture runs nothing and loads nothing (it needs neither).
        response.headers["Content-Security-Policy"] = PICTURE_CONTENT_SECURITY_POLICY
        return response


@blp.after_request
def cache_public_reads(response):
    """Short shared caching for the reads every widget makes. Their ETags (and 304s) come with
    the document (``document_response``), chosen with its encoding; a reader's progress, kept
    by no cache, has none."""
    if request.method in ("GET", "HEAD") and response.status_code in (200, 304):
        add_read_headers(
            response,
            request.endpoint,
            with_respondent=bool(request.headers.get(RESPONDENT_HEADER)),
        )
    elif request.method == "POST":
        response.headers["Cache-Control"] = ANSWER_CACHE_CONTROL
    return response


ANSWER_CACHE_CONTROL = "no-store"


RESULTS_ENDPOINTS = frozenset({"polls.PollResults", "polls.PollResultsPicture"})


def add_read_headers(response: Response, endpoint: str | None, *, with_respondent: bool) -> None:
    """What caches need to know of a successful read (a view's, or the fast lane's)."""
    cache_control = read_cache_control(endpoint, with_respondent=with_respondent)
    if cache_control:
        response.headers["Cache-Control"] = cache_control
    if endpoint in RESULTS_ENDPOINTS:
        # A reader's token may show results that are hidden without it.
        add_vary(response.headers, RESPONDENT_HEADER)


def read_cache_control(endpoint: str | None, *, with_respondent: bool) -> str | None:
    """How long shared caches may keep a successful read of ``endpoint``: a reader's own reads
    never; the poll document ``POLL_CACHE_SECONDS``, results as long as this process does."""
    if with_respondent:
        return "private, no-store"
    if endpoint == "polls.PublicPoll":
        return f"public, max-age={POLL_CACHE_SECONDS}"
    if endpoint in RESULTS_ENDPOINTS:
        return f"public, max-age={round(current_app.config['RESULTS_CACHE_SECONDS'])}"
    return None
