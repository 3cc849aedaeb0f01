"""How publishers and readers reach a poll: the widget script, the iframe page, the share page and
oEmbed. The demo article pages (``pollserver.pages.demo``) add their routes to the same blueprint.

A plain Flask blueprint: these are HTML pages and a script, not JSON API routes. Pages carry a
strict Content-Security-Policy (a nonce for their own inline style and script); the iframe page
may only be framed by the poll's ``allowed_origins`` when the poll names any.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    g,
    jsonify,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.http import parse_accept_header, quote_etag

from pollserver.config import shipped_folder
from pollserver.core.identifiers import PUBLIC_ID
from pollserver.core.poll_settings import settings_of
from pollserver.errors import json_error
from pollserver.extensions import db, limiter
from pollserver.models import Poll
from pollserver.rate_limits import public_limit
from pollserver.services.polls import find_live_poll

WIDGET_SOURCE = shipped_folder("widget") / "widget.js"
# An unversioned /widget.js is revalidated every few minutes (a cheap 304 thanks to the ETag),
# so a new widget reaches every page soon; /widget.js?v=<hash> never changes and is cached for good.
WIDGET_MAX_AGE = 300
WIDGET_STALE_SECONDS = 86400
IMMUTABLE_MAX_AGE = 31536000

OEMBED_WIDTH = 600
OEMBED_HEIGHT = 480
OEMBED_CACHE_AGE = 3600
POLL_PATH = re.compile(rf"^/(?:p|embed)/({PUBLIC_ID})/?$")
# What may appear in frame-ancestors: a scheme, a host (optionally "*." wildcard) and a port.
ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$")

bp = Blueprint("embed", __name__, template_folder="templates")


# Pages read the database: limited like the public API. The script is a static file: not limited.
limited = limiter.limit(public_limit)


# --- the widget script ------------------------------------------------------------------------


@dataclass(frozen=True)
class WidgetAsset:
    body: bytes
    gzipped: bytes
    version: str  # content hash: the ETag, and the ?v= of a versioned URL
    source_mtime: int


_widget_lock = threading.Lock()
_widget: WidgetAsset | None = None


def compact_script(source: str) -> str:
    """The widget with indentation, blank lines and whole-line ``//`` comments taken out.

    Safe for our source (no multi-line strings except CSS, where white space means nothing) and
    enough, with gzip, to keep the served file well inside its 8 KB budget without a build step.
    """
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def widget_asset() -> WidgetAsset:
    """The served widget, rebuilt when the source file changes (a stat per request, no restart)."""
    global _widget
    mtime = WIDGET_SOURCE.stat().st_mtime_ns
    asset = _widget
    if asset is not None and asset.source_mtime == mtime:
        return asset
    body = compact_script(WIDGET_SOURCE.read_text(encoding="utf-8")).encode()
    asset = WidgetAsset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        version=hashlib.sha256(body).hexdigest()[:20],
        source_mtime=mtime,
    )
    with _widget_lock:
        _widget = asset
    return asset


def widget_url(**kwargs) -> str:
    """The widget's versioned URL, for pages we serve ourselves."""
    return url_for("embed.widget_js", v=widget_asset().version, **kwargs)


@bp.get("/widget.js")
def widget_js():
    asset = widget_asset()
    compressed = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    versioned = request.args.get("v") == asset.version
    # One strong ETag per representation; either one proves the client has this content.
    client_has_it = "If-None-Match" in request.headers and any(
        request.if_none_match.contains_weak(candidate)
        for candidate in (f"{asset.version}-gzip", asset.version)
    )
    body = asset.gzipped if compressed else asset.body
    return Response(
        b"" if client_has_it else body,
        status=304 if client_has_it else 200,
        headers=widget_headers(asset.version, compressed, versioned, client_has_it),
    )


@functools.lru_cache(maxsize=64)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether a client takes gzip; browsers send a handful of distinct headers, parsed once."""
    return parse_accept_header(accept_encoding)["gzip"] > 0


@functools.lru_cache(maxsize=16)
def widget_headers(
    version: str, compressed: bool, versioned: bool, not_modified: bool
) -> tuple[tuple[str, str], ...]:
    """The widget's response headers, built once per version and variant, not per request."""
    if versioned:
        cache_control = f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
    else:
        cache_control = (
            f"public, max-age={WIDGET_MAX_AGE}, stale-while-revalidate={WIDGET_STALE_SECONDS}"
        )
    headers = [
        ("ETag", quote_etag(f"{version}-gzip" if compressed else version)),
        ("Cache-Control", cache_control),
        ("Vary", "Accept-Encoding"),
        ("Access-Control-Allow-Origin", "*"),
        ("Cross-Origin-Resource-Policy", "cross-origin"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if not not_modified:
        headers.append(("Content-Type", "text/javascript; charset=utf-8"))
        if compressed:
            headers.append(("Content-Encoding", "gzip"))
    return tuple(headers)


# --- helpers for the pages ----------------------------------------------------------------------


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def page(template: str, *, frame_ancestors: str = "'self'", status: int = 200, **context):
    """Render one of our pages with its security headers."""
    nonce = csp_nonce()
    response = Response(
        render_template(template, csp_nonce=nonce, widget_src=widget_url(), **context),
        status=status,
        mimetype="text/html",
    )
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
        return page("embed/missing.html", status=404, message=message)
    return json_error(404, message)


def public_poll(poll_id: str) -> Poll | None:
    return find_live_poll(db.session, poll_id)


def share_url(poll: Poll) -> str:
    return url_for("embed.share_page", poll_id=poll.public_id, _external=True)


def frame_ancestors_for(poll: Poll) -> str:
    """Who may frame the poll: anyone, or only the origins the poll names."""
    origins = settings_of(poll.settings).allowed_origins
    if not origins:
        return "*"
    allowed = [origin.rstrip("/") for origin in origins if ORIGIN.match(str(origin).rstrip("/"))]
    return " ".join(["'self'", *allowed])


def iframe_markup(poll: Poll, width: int, height: int) -> Markup:
    src = url_for("embed.frame_page", poll_id=poll.public_id, _external=True)
    return Markup(
        '<iframe src="{src}" title="{title}" width="{width}" height="{height}" '
        'style="width:100%;max-width:{width}px;border:0" loading="lazy"></iframe>'
    ).format(src=src, title=f"Reader poll: {poll.title}", width=width, height=height)


def resize_snippet() -> Markup:
    """The one line a host page adds so iframes of our polls take the height of their content."""
    origin = request.host_url.rstrip("/")
    return Markup(
        '<script>addEventListener("message",function(e){{var h=e.origin==={origin}&&e.data&&'
        'e.data.readerPollHeight;if(h)document.querySelectorAll("iframe").forEach(function(f)'
        '{{if(f.contentWindow===e.source)f.style.height=h+"px"}})}})</script>'
    ).format(origin=Markup(_js_string(origin)))


def _js_string(text: str) -> str:
    return json.dumps(text).replace("<", "\\u003c")


def script_snippet(poll: Poll) -> str:
    src = url_for("embed.widget_js", _external=True)
    return (
        f'<div data-reader-poll="{poll.public_id}"></div>'
        f'<script async src="{escape(src)}"></script>'
    )


# --- iframe, share page, oEmbed -----------------------------------------------------------------


@bp.get("/embed/<poll_id>")
@limited
def frame_page(poll_id: str):
    poll = public_poll(poll_id)
    if poll is None:
        return not_found(f"No poll {poll_id!r} is published here.")
    return page(
        "embed/frame.html",
        frame_ancestors=frame_ancestors_for(poll),
        poll=poll,
        language=settings_of(poll.settings).language,
    )


@bp.get("/p/<poll_id>")
@limited
def share_page(poll_id: str):
    poll = public_poll(poll_id)
    if poll is None:
        return not_found(f"No poll {poll_id!r} is published here.")
    return page(
        "embed/share.html",
        poll=poll,
        language=settings_of(poll.settings).language,
        **embed_snippets(poll),
    )


def embed_snippets(poll: Poll) -> dict[str, str]:
    """Every way to put the poll on a page, as the share page and the desk show them."""
    url = share_url(poll)
    return {
        "share_url": url,
        "oembed_url": url_for("embed.oembed", url=url, format="json", _external=True),
        "script_snippet": script_snippet(poll),
        "iframe_snippet": str(iframe_markup(poll, OEMBED_WIDTH, OEMBED_HEIGHT)),
        "resize_snippet": str(resize_snippet()),
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
            json_error(501, "Only format=json is supported.", {"format": [requested_format]})
        )
    url = request.args.get("url", "").strip()
    if not url:
        return _cors(
            json_error(
                400,
                "The url parameter is required: a poll's share URL (…/p/POLL_ID).",
                {"url": ["missing"]},
            )
        )
    width, height = _dimension("maxwidth", OEMBED_WIDTH), _dimension("maxheight", OEMBED_HEIGHT)
    problems = {name: [value] for name, value in (("maxwidth", width), ("maxheight", height))}
    problems = {name: value for name, value in problems.items() if isinstance(value[0], str)}
    if problems:
        return _cors(json_error(400, "maxwidth and maxheight are pixel counts.", problems))
    poll_id = poll_id_from_url(url)
    poll = public_poll(poll_id) if poll_id else None
    if poll is None:
        return _cors(
            json_error(404, "No published poll of this server has that URL.", {"url": [url]})
        )
    assert isinstance(width, int) and isinstance(height, int)
    response = jsonify(
        {
            "version": "1.0",
            "type": "rich",
            "title": poll.title,
            "provider_name": "pollserver",
            "provider_url": request.host_url,
            "cache_age": OEMBED_CACHE_AGE,
            "width": width,
            "height": height,
            "html": str(iframe_markup(poll, width, height)),
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
    if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.host.lower():
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
