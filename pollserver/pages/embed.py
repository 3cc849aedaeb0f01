"""How publishers and readers reach a poll: the widget's files, the iframe page, the share page,
oEmbed and the snippets that put a poll on a page. The demo article pages
(``pollserver.pages.demo``) add their routes to the same blueprint.

A plain Flask blueprint: these are HTML pages and scripts, not JSON API routes. Pages carry a
strict Content-Security-Policy (a nonce for their own inline style; scripts come from files of
this server); the iframe page may only be framed by the poll's ``allowed_origins`` when the poll
names any. Nothing a publisher pastes needs an inline script or an inline style but the script
snippet's optional ``style`` attribute (the room it reserves; see ``RESERVED_HEIGHT``).
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.http import generate_etag

from pollserver.core.identifiers import PUBLIC_ID, echoed
from pollserver.core.poll_settings import settings_of
from pollserver.errors import json_error
from pollserver.extensions import db, limiter
from pollserver.models import Poll
from pollserver.pages import widget_files
from pollserver.rate_limits import public_limit
from pollserver.services.polls import find_live_poll
from pollserver.widget_build import EMBED, EMBED_FRAME, EXTRAS, WIDGET, WORDS_PATH

OEMBED_WIDTH = 600
OEMBED_HEIGHT = 480
OEMBED_CACHE_AGE = 3600
# The room a poll's box keeps on the host page while the widget loads, so that nothing below it
# moves when the poll appears (the widget fills at least this height). Tuned against the heights
# the widget's first view measures.
RESERVED_HEIGHT = "15rem"
THEMES = ("light", "dark")
POLL_PATH = re.compile(rf"^/(?:p|embed)/({PUBLIC_ID})/?$")
# What may appear in frame-ancestors: a scheme, a host (optionally "*." wildcard) and a port.
ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")

bp = Blueprint("embed", __name__, template_folder="templates")


# Pages read the database: limited like the public API. The scripts are static files: not limited.
limited = limiter.limit(public_limit)


# --- the widget's files (built and served by pollserver.pages.widget_files) ----------------------


@bp.get("/widget.js")
def widget_js():
    return widget_files.plain_response(WIDGET)


@bp.get("/widget.<digest>.js")
def widget_js_hashed(digest: str):
    return widget_files.hashed_response(WIDGET, digest)


@bp.get("/embed.js")
def embed_js():
    return widget_files.plain_response(EMBED)


@bp.get("/embed.<digest>.js")
def embed_js_hashed(digest: str):
    return widget_files.hashed_response(EMBED, digest)


@bp.get("/embed-frame.js")
def embed_frame_js():
    return widget_files.plain_response(EMBED_FRAME)


@bp.get("/embed-frame.<digest>.js")
def embed_frame_js_hashed(digest: str):
    return widget_files.hashed_response(EMBED_FRAME, digest)


@bp.get("/widget/extras.<digest>.js")
def widget_extras_js(digest: str):
    # A widget.js cached from before an update asks for its own extras: the current ones work.
    return widget_files.hashed_response(EXTRAS, digest, redirect_stale=True)


@bp.get("/widget/words/<language>.<digest>.json")
def widget_words(language: str, digest: str):
    return widget_files.hashed_response(
        f"{WORDS_PATH}/{language}.json", digest, redirect_stale=True
    )


def widget_url(*, external: bool = False) -> str:
    """The widget's content-hashed URL: what our own pages load."""
    digest = widget_files.built_file(WIDGET).content_hash
    url = url_for("embed.widget_js_hashed", digest=digest)
    return public_url() + url if external else url


# --- helpers for the pages ----------------------------------------------------------------------


# Kept, but asked about again each time: a poll's status or texts show at once.
PAGE_CACHE_CONTROL = "no-cache"


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def page(template: str, *, frame_ancestors: str = "'self'", status: int = 200, **context):
    """Render one of our pages with its security headers, and a validator: 304 to a browser
    that holds the same page."""
    nonce = csp_nonce()
    html = render_template(
        template,
        csp_nonce=nonce,
        widget_src=widget_url(),
        reserved_height=RESERVED_HEIGHT,
        **context,
    )
    # Weak: the same page but for its nonce. The policy's frame-ancestors counts too: a 304
    # carries no new policy, so a cached page keeps the one it came with.
    etag = generate_etag(f"{html.replace(nonce, '')}\n{frame_ancestors}".encode())
    if status == 200 and request.if_none_match.contains_weak(etag):
        response = Response(status=304)
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
        return response
    response = Response(html, status=status, mimetype="text/html")
    if status == 200:
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    response.headers["Content-Security-Policy"] = "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
        )
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


def not_found(message: str):
    """A page for a browser, the one JSON error shape for everyone else."""
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        response = page("embed/missing.html", status=404, message=message)
    else:
        response = json_error(404, message)
    response.vary.add("Accept")
    return response


def public_poll(poll_id: str) -> Poll | None:
    return find_live_poll(db.session, poll_id)


def public_url() -> str:
    """The origin readers reach the service at (``POLLSERVER_PUBLIC_URL``)."""
    return current_app.config["POLLSERVER_PUBLIC_URL"]


def public_url_for(endpoint: str, **values) -> str:
    """An absolute URL on the public origin, never on the request's ``Host`` header: a forged
    Host must not reach a snippet a publisher pastes, nor an oEmbed reply caches keep an hour."""
    return public_url() + url_for(endpoint, **values)


def share_url(poll: Poll) -> str:
    return public_url_for("embed.share_page", poll_id=poll.public_id)


def frame_ancestors_for(poll: Poll) -> str:
    """Who may frame the poll: the origins the poll names, else the service's default
    (``POLLSERVER_EMBED_FRAME_ANCESTORS``: anyone unless the publisher chose otherwise)."""
    origins = settings_of(poll.settings).allowed_origins
    if not origins:
        return current_app.config["POLLSERVER_EMBED_FRAME_ANCESTORS"]
    allowed = [origin.rstrip("/") for origin in origins if ORIGIN.match(str(origin).rstrip("/"))]
    return " ".join(["'self'", *allowed])


def poll_box(poll: Poll, *, link: bool = True, reserve_inline: bool = True) -> Markup:
    """Where the widget draws a poll: a box the host page's CSS does not hide while it loads
    (it has a class and content, unlike ``div:empty`` or ``div:not([class])``), holding the
    link a reader without JavaScript follows, and reserving the poll's room (inline in a
    publisher's snippet; by our own stylesheet on our pages, whose CSP allows no style
    attribute)."""
    return Markup('<div class="reader-poll" data-reader-poll="{id}"{style}>{link}</div>').format(
        id=poll.public_id,
        style=Markup(' style="min-height:{}"').format(RESERVED_HEIGHT) if reserve_inline else "",
        link=Markup('<a href="{href}">{text}</a>').format(
            href=share_url(poll), text=f"Reader poll: {poll.title}"
        )
        if link
        else "",
    )


def script_snippet(poll: Poll) -> str:
    """The documented way to put a poll on a page: its box and the widget's script, whose
    plain URL always serves the current widget."""
    src = public_url_for("embed.widget_js")
    return str(poll_box(poll) + Markup('<script async src="{src}"></script>').format(src=src))


def pinned_snippet(poll: Poll) -> str:
    """The script snippet pinned to today's widget with Subresource Integrity: the browser runs
    exactly these bytes or nothing. An update of the server changes the widget; the pinned URL
    then answers 404 and the box keeps its link until the snippet is replaced."""
    widget = widget_files.built_file(WIDGET)
    return str(
        poll_box(poll)
        + Markup(
            '<script async src="{src}" integrity="{integrity}" crossorigin="anonymous"></script>'
        ).format(src=widget_url(external=True), integrity=widget.integrity)
    )


def iframe_snippet(poll: Poll, width: int, height: int) -> str:
    """The iframe, and the one script line (once per page) that fits it to the column's width
    and to the height of the poll it holds: no inline script, no inline style."""
    src = public_url_for("embed.frame_page", poll_id=poll.public_id)
    return str(
        Markup(
            '<iframe src="{src}" title="{title}" width="{width}" height="{height}" '
            'loading="lazy" data-reader-poll-frame></iframe>\n'
            '<script async src="{script}"></script>'
        ).format(
            src=src,
            title=f"Reader poll: {poll.title}",
            width=width,
            height=height,
            script=public_url_for("embed.embed_js"),
        )
    )


# --- iframe, share page, oEmbed -----------------------------------------------------------------


@bp.get("/embed/<poll_id>")
@limited
def frame_page(poll_id: str):
    """The poll alone, for an iframe. ``?lang=`` (a language the widget has words for) and
    ``?theme=light|dark`` reach the widget as ``data-lang`` and ``data-theme``; any other value
    is ignored, as the widget itself would."""
    poll = public_poll(poll_id)
    if poll is None:
        return not_found(f"No poll {echoed(poll_id)} is published here.")
    requested_language = request.args.get("lang", "").strip().lower()
    if requested_language not in widget_files.widget_languages():
        requested_language = ""
    theme = request.args.get("theme", "").strip().lower()
    return page(
        "embed/frame.html",
        frame_ancestors=frame_ancestors_for(poll),
        poll=poll,
        language=requested_language or settings_of(poll.settings).language,
        requested_language=requested_language,
        theme=theme if theme in THEMES else "",
        frame_script=url_for(
            "embed.embed_frame_js_hashed",
            digest=widget_files.built_file(EMBED_FRAME).content_hash,
        ),
    )


@bp.get("/p/<poll_id>")
@limited
def share_page(poll_id: str):
    poll = public_poll(poll_id)
    if poll is None:
        return not_found(f"No poll {echoed(poll_id)} is published here.")
    return page(
        "embed/share.html",
        poll=poll,
        poll_box=poll_box(poll, link=False, reserve_inline=False),
        language=settings_of(poll.settings).language,
        **embed_snippets(poll),
    )


def embed_snippets(poll: Poll) -> dict[str, str]:
    """Every way to put the poll on a page, as the share page and the desk show them."""
    url = share_url(poll)
    return {
        "share_url": url,
        "oembed_url": public_url_for("embed.oembed", url=url, format="json"),
        "script_snippet": script_snippet(poll),
        "pinned_snippet": pinned_snippet(poll),
        "iframe_snippet": iframe_snippet(poll, OEMBED_WIDTH, OEMBED_HEIGHT),
    }


def _dimension(name: str, default: int) -> int | str:
    """min(default, ?max<name>=N); a message when N is not a positive whole number."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) <= 0:
        return f"{name} must be a positive whole number of pixels"
    return min(default, int(raw))


@bp.get("/oembed")
@limited
def oembed():
    """oEmbed (https://oembed.com) for a poll's share URL: a ``rich`` embed holding an iframe."""
    requested_format = request.args.get("format", "json").strip().lower()
    if requested_format != "json":
        return _cors(
            json_error(
                501, "Only format=json is supported.", {"fields": {"format": [requested_format]}}
            )
        )
    url = request.args.get("url", "").strip()
    if not url:
        return _cors(
            json_error(
                400,
                "The url parameter is required: a poll's share URL (…/p/POLL_ID).",
                {"fields": {"url": ["missing"]}},
            )
        )
    width, height = _dimension("maxwidth", OEMBED_WIDTH), _dimension("maxheight", OEMBED_HEIGHT)
    problems = {name: [value] for name, value in (("maxwidth", width), ("maxheight", height))}
    problems = {name: value for name, value in problems.items() if isinstance(value[0], str)}
    if problems:
        return _cors(
            json_error(400, "maxwidth and maxheight are pixel counts.", {"fields": problems})
        )
    poll_id = poll_id_from_url(url)
    poll = public_poll(poll_id) if poll_id else None
    if poll is None:
        return _cors(
            json_error(
                404, "No published poll of this server has that URL.", {"fields": {"url": [url]}}
            )
        )
    assert isinstance(width, int) and isinstance(height, int)
    response = jsonify(
        {
            "version": "1.0",
            "type": "rich",
            "title": poll.title,
            "provider_name": "pollserver",
            "provider_url": public_url() + "/",
            "cache_age": OEMBED_CACHE_AGE,
            "width": width,
            "height": height,
            "html": iframe_snippet(poll, width, height),
        }
    )
    response.headers["Cache-Control"] = f"public, max-age={OEMBED_CACHE_AGE}"
    return _cors(response)


def poll_id_from_url(url: str) -> str | None:
    """The poll id in a share (or iframe) URL of this server, else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    public = urlsplit(public_url())
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != public.netloc:
        return None
    path = parts.path
    prefix = request.script_root
    if prefix:
        if not path.startswith(prefix + "/"):
            return None
        path = path[len(prefix) :]
    match = POLL_PATH.match(path)
    return match.group(1) if match else None


def _cors(response):
    # oEmbed is public metadata; JavaScript consumers may read it too.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
