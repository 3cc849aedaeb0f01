"""HTTP as caches and clients read it: an ETag per representation, results ETags that change only
with the numbers, HEAD carrying GET's headers, Vary wherever a reply depends on a request header,
gzip and brotli when asked, and validators on the share and embed pages."""

from __future__ import annotations

import gzip
import json
import re
import time

import brotli
import pytest

from pollserver import create_app
from pollserver.core.roles import TokenRole
from pollserver.extensions import db
from pollserver.services.tokens import create_token

from helpers import SEED_WITH_FLOWCHART, bearer, open_poll_from_article, walk

FIRST_ANSWER = [("q1", "yes")]
ENCODINGS = {"gzip": gzip.decompress, "br": brotli.decompress}


def decoded(response) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    return ENCODINGS[encoding](response.data) if encoding else response.data


def public_reads(poll_id: str) -> list[str]:
    return [
        f"/api/v1/polls/{poll_id}",
        f"/api/v1/polls/{poll_id}/results",
        f"/api/v1/polls/{poll_id}/results.svg",
    ]


@pytest.fixture
def app_config(app_config) -> dict:
    # Results kept for the whole test: the picture prints its time to the minute, and bodies
    # are compared across requests.
    return {**app_config, "RESULTS_CACHE_SECONDS": 600}


@pytest.fixture
def poll_id(app, client) -> str:
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="public")
    walk(client, poll_id, FIRST_ANSWER, "203.0.113.9")
    return poll_id


# --- one ETag per representation ----------------------------------------------------------------


@pytest.mark.parametrize("read", range(3), ids=["poll", "results", "picture"])
def test_each_encoding_has_its_etag_and_a_wrong_variant_gets_the_whole_reply(client, poll_id, read):
    url = public_reads(poll_id)[read]
    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    tags = {None: plain.headers["ETag"]}
    for encoding, decompress in ENCODINGS.items():
        packed = client.get(url, headers={"Accept-Encoding": encoding})
        assert packed.status_code == 200
        assert packed.headers["Content-Encoding"] == encoding
        assert decompress(packed.data) == plain.data
        tags[encoding] = packed.headers["ETag"]
    assert len(set(tags.values())) == 3, tags

    for held, tag in tags.items():
        for wanted in tags:
            headers = {"If-None-Match": tag}
            if wanted:
                headers["Accept-Encoding"] = wanted
            reply = client.get(url, headers=headers)
            if held == wanted:
                assert reply.status_code == 304 and reply.data == b""
                assert reply.headers["ETag"] == tag
            else:
                # Another representation than the one held: the one asked for, whole.
                assert reply.status_code == 200, (held, wanted)
                assert reply.headers["ETag"] == tags[wanted]
                assert decoded(reply) == plain.data


# --- results' ETags follow the numbers ----------------------------------------------------------


@pytest.fixture
def uncached_client(app_config):
    """A client of an app that sums the results again on every read (no results cache)."""
    app = create_app({**app_config, "RESULTS_CACHE_SECONDS": 0})
    return app, app.test_client()


def test_results_read_again_with_no_new_answer_share_an_etag_and_revalidate(uncached_client):
    app, client = uncached_client
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="public")
    walk(client, poll_id, FIRST_ANSWER, "203.0.113.9")
    for url in public_reads(poll_id)[1:]:
        first = client.get(url)
        time.sleep(1.01)  # results summed again, a second later: another `as_of`
        second = client.get(url)
        assert first.status_code == second.status_code == 200
        if url.endswith("/results"):  # the picture says the time to the minute
            assert first.json["as_of"] != second.json["as_of"]
        assert first.headers["ETag"] == second.headers["ETag"]
        assert first.headers["ETag"].startswith('W/"'), "the same numbers, not the same bytes"
        revalidated = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert revalidated.status_code == 304

    before = {url: client.get(url).headers["ETag"] for url in public_reads(poll_id)[1:]}
    walk(client, poll_id, FIRST_ANSWER, "203.0.113.10")
    for url, tag in before.items():
        counted = client.get(url, headers={"If-None-Match": tag})
        assert counted.status_code == 200, "a new answer is new numbers"
        assert counted.headers["ETag"] != tag
    with app.app_context():
        db.engine.dispose()


def test_a_readers_progress_has_no_validator_and_is_never_a_304(client, poll_id):
    token = walk(client, poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.11").get_json()[
        "respondent"
    ]
    url = f"/api/v1/polls/{poll_id}/progress"
    plain = client.get(url, headers={"X-Poll-Respondent": token})
    assert plain.status_code == 200 and len(plain.data) >= 512  # with results: compressible
    assert "ETag" not in plain.headers
    assert plain.headers["Cache-Control"] == "private, no-store"
    packed = client.get(
        url, headers={"X-Poll-Respondent": token, "Accept-Encoding": "gzip", "If-None-Match": "*"}
    )
    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data


@pytest.mark.parametrize(
    ("accept_encoding", "chosen"),
    [
        ("", None),
        ("identity", None),
        ("gzip, deflate, br", "br"),
        ("gzip;q=1, br;q=0.1", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0", None),
        ("*", "br"),
        ("deflate", None),
    ],
)
def test_the_encoding_is_the_one_the_client_prefers(client, poll_id, accept_encoding, chosen):
    reply = client.get(
        f"/api/v1/polls/{poll_id}/results", headers={"Accept-Encoding": accept_encoding}
    )
    assert reply.headers.get("Content-Encoding") == chosen


def test_a_browser_may_send_if_none_match_from_another_page(client, poll_id):
    preflight = client.options(
        f"/api/v1/polls/{poll_id}/results",
        headers={
            "Origin": "https://news.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match, x-poll-respondent",
        },
    )
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "if-none-match" in allowed and "x-poll-respondent" in allowed


def test_replies_chosen_by_accept_say_so(client, poll_id):
    assert "Accept" in client.get("/metrics").headers["Vary"]
    for accept in ("text/html", "application/json"):
        missing = client.get("/p/NoSuchPo", headers={"Accept": accept})
        assert missing.status_code == 404 and "Accept" in missing.headers["Vary"]


# --- HEAD says what GET would send ------------------------------------------------------------


def comparable(headers) -> dict[str, str]:
    """Headers but for what differs between any two responses (a page's nonce)."""
    return {
        name: re.sub(r"'nonce-[^']+'", "'nonce'", value)
        for name, value in headers.items()
        if name != "Date"
    }


@pytest.mark.parametrize("accept_encoding", ["", "gzip", "br"])
def test_head_carries_gets_headers(client, poll_id, tokens, accept_encoding):
    admin = bearer(tokens["analyst"])
    urls = [
        *public_reads(poll_id),
        "/widget.js",
        f"/p/{poll_id}",
        f"/embed/{poll_id}",
        "/api/v1/openapi.json",
        "/metrics",
    ]
    for url in urls:
        headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}
        got = client.get(url, headers=headers)
        head = client.head(url, headers=headers)
        assert got.status_code == head.status_code == 200, url
        assert head.data == b""
        if url == "/metrics":  # a scrape counts the one before it: the length may differ
            got.headers.pop("Content-Length"), head.headers.pop("Content-Length")
        assert comparable(head.headers) == comparable(got.headers), url
        assert "ETag" in head.headers or url in ("/api/v1/openapi.json", "/metrics"), url
    listing = client.get("/api/v1/admin/polls", headers=admin)
    listed = client.head("/api/v1/admin/polls", headers=admin)
    assert comparable(listed.headers) == comparable(listing.headers)


def test_head_of_the_results_picture_has_its_validator_and_cache_control(client, poll_id):
    head = client.head(f"/api/v1/polls/{poll_id}/results.svg")
    assert head.status_code == 200
    assert head.headers["ETag"] and head.headers["Cache-Control"].startswith("public, max-age=")
    again = client.head(
        f"/api/v1/polls/{poll_id}/results.svg", headers={"If-None-Match": head.headers["ETag"]}
    )
    assert again.status_code == 304


# --- Vary names every request header a reply depends on -----------------------------------------


def test_results_vary_on_the_readers_token(app, client, tokens):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="after_answer")
    token = walk(client, poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.9").get_json()[
        "respondent"
    ]
    results = f"/api/v1/polls/{poll_id}/results"
    hidden = client.get(results)
    shown = client.get(results, headers={"X-Poll-Respondent": token})
    assert (hidden.status_code, shown.status_code) == (403, 200)
    assert "X-Poll-Respondent" in shown.headers["Vary"]
    assert shown.headers["Cache-Control"] == "private, no-store"
    made_public = client.patch(
        f"/api/v1/admin/polls/{poll_id}/settings",
        json={"results_visibility": "public"},
        headers=bearer(tokens["moderator"]),
    )
    assert made_public.status_code == 200
    for url in public_reads(poll_id)[1:]:
        for _ in range(2):  # the view's reply, then the same from memory
            assert "X-Poll-Respondent" in client.get(url).headers["Vary"], url


# --- compression when asked ---------------------------------------------------------------------


def test_json_the_document_and_metrics_are_compressed_when_asked(client, poll_id, tokens):
    admin = bearer(tokens["analyst"])
    for url, headers in [
        ("/api/v1/openapi.json", {}),
        ("/metrics", {}),
        (f"/api/v1/admin/polls/{poll_id}", admin),
        (f"/api/v1/polls/{poll_id}/results", {}),
    ]:
        plain = client.get(url, headers=headers)
        assert plain.status_code == 200 and "Content-Encoding" not in plain.headers, url
        for encoding, decompress in ENCODINGS.items():
            packed = client.get(url, headers={**headers, "Accept-Encoding": f"{encoding};q=1"})
            assert packed.headers["Content-Encoding"] == encoding, url
            assert "Accept-Encoding" in packed.headers["Vary"], url
            assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
            if url == "/metrics":  # counters move between two scrapes; the text is the same kind
                assert decompress(packed.data).startswith(b"# HELP")
            else:
                assert decompress(packed.data) == plain.data, url
    document = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "br, gzip"})
    assert document.headers["Content-Encoding"] == "br"
    assert json.loads(brotli.decompress(document.data))["openapi"].startswith("3.1")
    refused = client.get("/api/v1/openapi.json", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers


def test_a_small_reply_is_not_compressed(client, poll_id):
    answer = client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
        headers={"Accept-Encoding": "gzip"},
    )
    assert answer.status_code == 201 and len(answer.data) < 512
    assert "Content-Encoding" not in answer.headers


def test_a_readers_reply_with_results_is_compressed(client, poll_id):
    token = None
    for node, value in [("q1", "yes"), ("q2", "no")]:
        reply = client.post(
            f"/api/v1/polls/{poll_id}/answers",
            json={"respondent": token, "node": node, "answer": value},
            headers={"Accept-Encoding": "gzip"},
        )
        token = json.loads(decoded(reply))["respondent"]
    assert reply.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(reply.data))["results"]["respondents"] >= 2


# --- the share and embed pages ------------------------------------------------------------------


@pytest.mark.parametrize("page", ["/p/{}", "/embed/{}"])
def test_share_and_embed_pages_revalidate(app, client, poll_id, page):
    url = page.format(poll_id)
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-cache"
    tag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    # A 304 carries no new policy: the browser keeps the page with the nonce it came with.
    assert "Content-Security-Policy" not in again.headers
    with app.app_context():
        _, secret = create_token(db.session, "editor", TokenRole.MODERATOR)
        db.session.commit()
    # The page's policy is part of what the tag stands for: pages allowed fewer frames get it.
    narrowed = client.patch(
        f"/api/v1/admin/polls/{poll_id}/settings",
        json={"allowed_origins": ["https://news.example"]},
        headers=bearer(secret),
    )
    assert narrowed.status_code == 200
    policy = client.get(url, headers={"If-None-Match": tag})
    if page.startswith("/embed/"):
        assert policy.status_code == 200 and policy.headers["ETag"] != tag
        assert "https://news.example" in policy.headers["Content-Security-Policy"]
        tag = policy.headers["ETag"]
    else:  # the share page is framed by no one: the same page, the same policy
        assert policy.status_code == 304
    definition = client.get(f"/api/v1/admin/polls/{poll_id}", headers=bearer(secret)).get_json()[
        "definition"
    ]
    changed = client.put(
        f"/api/v1/admin/polls/{poll_id}/definition",
        json={**definition, "title": definition["title"] + " (updated)"},
        headers=bearer(secret),
    )
    assert changed.status_code == 200, changed.get_json()
    after = client.get(url, headers={"If-None-Match": tag})
    assert after.status_code == 200 and "(updated)" in after.get_data(as_text=True)
    assert after.headers["ETag"] != tag
