"""The embed paths: widget.js, the iframe page, the share page, oEmbed and the demo pages."""

from __future__ import annotations

import gzip
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from pollserver.core import builder
from pollserver.core.lifecycle import PollStatus
from pollserver.extensions import db
from pollserver.pages import embed
from pollserver.services.polls import change_status, find_poll

from helpers import REPO_ROOT, SEED_WITH_FLOWCHART, SEED_WITHOUT_FLOWCHART

WIDGET_SOURCE = REPO_ROOT / "widget" / "widget.js"
SEED_SLUG = "a-fragile-alliance-forged-in-fire"

TWO_BLOCK_ARTICLE = """\
Skip to main content

Two Questions for the New Mayor

The new mayor takes office next week with two big decisions ahead.

Yes
No
Will the tram line be extended?
Trams reach the airport
Buses keep the airport route

<script>alert("housing")</script> is the other pressing matter.

Yes
No
Will the old mill become flats?
Two hundred homes are built
The mill stays empty

Both decisions are due by spring.

Comments
"""


def set_poll(app, poll_id: str, *, status: PollStatus | None = None, **settings) -> None:
    with app.app_context():
        poll = find_poll(db.session, poll_id)
        if status is not None:
            change_status(poll, status)
        poll.settings = {**poll.settings, **settings}
        db.session.commit()


def import_article_file(app, path) -> list[str]:
    """Import an article, open every poll it gave, return their public ids."""
    from pollserver.services.articles import import_article

    with app.app_context():
        outcome = import_article(db.session, builder.read_article(path), "tests")
        for poll in outcome.polls:
            change_status(poll, PollStatus.OPEN)
        db.session.commit()
        return [poll.public_id for poll in outcome.polls]


# --- widget.js ----------------------------------------------------------------------------------


def test_widget_js_as_served_is_at_most_8_kb_gzipped(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert len(gzip.compress(response.data)) <= 8192


def test_widget_js_is_served_gzipped_to_clients_that_accept_it(client):
    plain = client.get("/widget.js")
    packed = client.get("/widget.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert plain.mimetype == "text/javascript"
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) <= 8192
    for response in (plain, packed):
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    # One tag per representation, both from the content hash.
    assert plain.headers["ETag"] != packed.headers["ETag"]
    # A client that refuses gzip (q=0) gets the plain script, whatever else it lists.
    refused = client.get("/widget.js", headers={"Accept-Encoding": "br;q=1.0, gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    assert refused.data == plain.data
    assert (
        client.get("/widget.js", headers={"Accept-Encoding": "GZIP;q=0.5"}).headers[
            "Content-Encoding"
        ]
        == "gzip"
    )


def test_widget_js_etag_is_a_content_hash_and_revalidates_with_304(client):
    first = client.get("/widget.js")
    etag = first.headers["ETag"]
    assert etag.strip('"') == embed.widget_asset().version
    cache_control = first.headers["Cache-Control"]
    assert "public" in cache_control and "max-age=300" in cache_control

    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    # A cache holding the gzip representation revalidates the same content.
    packed = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    cross = client.get(
        "/widget.js", headers={"If-None-Match": packed.headers["ETag"], "Accept-Encoding": ""}
    )
    assert cross.status_code == 304

    stale = client.get("/widget.js", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == first.data


def test_versioned_widget_url_is_cached_for_good(client):
    version = embed.widget_asset().version
    response = client.get(f"/widget.js?v={version}")
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    other = client.get("/widget.js?v=old")
    assert "immutable" not in other.headers["Cache-Control"]


def test_widget_js_is_not_rate_limited(app_config):
    from pollserver import create_app

    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC="2/minute")
    client = create_app(app_config).test_client()
    statuses = {client.get("/widget.js").status_code for _ in range(5)}
    assert statuses == {200}


def test_widget_source_never_parses_poll_text_as_html_and_keeps_one_global():
    source = WIDGET_SOURCE.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink
    assert "new Function" not in source
    assert "textContent" in source
    # The only global it sets is its namespace; everything else lives in the closure.
    assert re.findall(r"window\.(\w+)\s*=", source) == ["ReaderPoll"]
    assert "attachShadow" in source


def test_compacted_widget_keeps_every_statement():
    source = "  // a comment\n\n  const a = `\n    b{c:d}\n  `;\n  return a; // kept\n"
    assert embed.compact_script(source) == "const a = `\nb{c:d}\n`;\nreturn a; // kept\n"
    served = embed.widget_asset().body.decode()
    assert served.startswith("/*!")
    assert "window.ReaderPoll = Object.freeze" in served


# --- iframe page --------------------------------------------------------------------------------


def csp_of(response) -> dict[str, str]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


def test_iframe_page_renders_the_widget_and_may_be_framed_anywhere(client, seed_poll_id):
    response = client.get(f"/embed/{seed_poll_id}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'data-reader-poll="{seed_poll_id}"' in html
    assert re.search(r'<script async src="/widget\.js\?v=\w+">', html)
    assert "postMessage" in html and "readerPollHeight" in html
    csp = csp_of(response)
    assert csp["frame-ancestors"] == "*"
    nonce = re.search(r"'nonce-([^']+)'", csp["script-src"]).group(1)
    # Every inline script and style carries this response's nonce, nothing else runs.
    assert html.count(f'nonce="{nonce}"') == html.count("<script nonce") + html.count("<style")
    assert "X-Frame-Options" not in response.headers


def test_iframe_page_is_framed_only_by_the_polls_allowed_origins(app, client, seed_poll_id):
    set_poll(
        app,
        seed_poll_id,
        allowed_origins=[
            "https://news.example",
            "https://*.paper.example:8443/",
            "javascript:alert(1)",
            "https://x.example; script-src *",
        ],
    )
    response = client.get(f"/embed/{seed_poll_id}")
    assert csp_of(response)["frame-ancestors"] == (
        "'self' https://news.example https://*.paper.example:8443"
    )


def test_iframe_and_share_pages_of_paused_and_closed_polls_still_render(app, client, seed_poll_id):
    set_poll(app, seed_poll_id, status=PollStatus.PAUSED)
    assert client.get(f"/embed/{seed_poll_id}").status_code == 200
    set_poll(app, seed_poll_id, status=PollStatus.CLOSED)
    assert client.get(f"/p/{seed_poll_id}").status_code == 200
    set_poll(app, seed_poll_id, status=PollStatus.ARCHIVED)
    assert client.get(f"/embed/{seed_poll_id}").status_code == 404
    assert client.get(f"/p/{seed_poll_id}").status_code == 404


def test_unknown_or_draft_poll_pages_are_404_json_or_html(app, client):
    response = client.get("/embed/nosuchpoll")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == 404
    browser = client.get("/p/nosuchpoll", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status_code == 404
    assert browser.mimetype == "text/html"
    assert "nosuchpoll" in browser.get_data(as_text=True)

    with app.app_context():
        from pollserver.services.articles import import_article

        outcome = import_article(db.session, builder.read_article(SEED_WITH_FLOWCHART), "tests")
        db.session.commit()
        draft_id = outcome.polls[0].public_id
    assert client.get(f"/embed/{draft_id}").status_code == 404
    assert client.get(f"/p/{draft_id}").status_code == 404


# --- share page and oEmbed ----------------------------------------------------------------------


def oembed_href(html: str) -> str:
    match = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', html)
    assert match, "no oEmbed discovery link"
    return match.group(1).replace("&amp;", "&")


def test_share_page_advertises_oembed_and_embeds_the_widget(client, seed_poll_id):
    response = client.get(f"/p/{seed_poll_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-reader-poll="{seed_poll_id}"' in html
    assert '<meta property="og:title" content="A Fragile Alliance Forged in Fire">' in html
    href = oembed_href(html)
    parts = urlsplit(href)
    assert parts.path == "/oembed"
    query = parse_qs(parts.query)
    assert query["format"] == ["json"]
    assert query["url"] == [f"http://localhost/p/{seed_poll_id}"]
    # The page shows publishers the snippets, as text.
    assert "&lt;div data-reader-poll=" in html and "&lt;iframe src=" in html

    discovered = client.get(href)
    assert discovered.status_code == 200
    assert discovered.get_json()["type"] == "rich"


def test_oembed_gives_a_rich_iframe_embed(client, seed_poll_id):
    response = client.get(
        "/oembed", query_string={"url": f"http://localhost/p/{seed_poll_id}", "format": "json"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert body["version"] == "1.0"
    assert body["type"] == "rich"
    assert body["title"] == "A Fragile Alliance Forged in Fire"
    assert body["provider_name"] == "pollserver"
    assert (body["width"], body["height"]) == (600, 480)
    assert body["html"].startswith(f'<iframe src="http://localhost/embed/{seed_poll_id}"')
    assert 'title="Reader poll: A Fragile Alliance Forged in Fire"' in body["html"]

    smaller = client.get(
        "/oembed",
        query_string={
            "url": f"http://localhost/embed/{seed_poll_id}",
            "maxwidth": "320",
            "maxheight": "900",
        },
    ).get_json()
    assert (smaller["width"], smaller["height"]) == (320, 480)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 400),
        ({"url": "http://localhost/p/POLL", "format": "xml"}, 501),
        ({"url": "http://localhost/p/nosuchpoll"}, 404),
        ({"url": "http://elsewhere.example/p/POLL"}, 404),
        ({"url": "http://localhost/articles/POLL"}, 404),
        ({"url": "not a url at all"}, 404),
        ({"url": "http://[::1/p/POLL"}, 404),
        ({"url": "http://localhost/p/POLL", "maxwidth": "wide"}, 400),
        ({"url": "http://localhost/p/POLL", "maxheight": "0"}, 400),
    ],
)
def test_oembed_errors_use_the_json_error_shape(client, seed_poll_id, query, status):
    query = {key: value.replace("POLL", seed_poll_id) for key, value in query.items()}
    response = client.get("/oembed", query_string=query)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == status
    assert error["message"]
    assert isinstance(error["details"], dict)


def test_poll_texts_are_escaped_on_our_pages(app, client, tmp_path):
    article = tmp_path / "hostile.json"
    article.write_text(
        json.dumps(
            {
                "title": '<script>alert("t")</script>',
                "root": "q1",
                "nodes": [
                    {"id": "q1", "type": "question", "text": "<img src=x onerror=alert(1)>?"},
                ],
            }
        )
    )
    (poll_id,) = import_article_file(app, article)
    for path in (f"/p/{poll_id}", f"/embed/{poll_id}"):
        html = client.get(path).get_data(as_text=True)
        assert '<script>alert("t")' not in html
        assert "&lt;script&gt;alert(" in html
    body = client.get("/oembed", query_string={"url": f"http://localhost/p/{poll_id}"}).get_json()
    assert "<script>" not in body["html"] and "&lt;script&gt;" in body["html"]


# --- demo pages ---------------------------------------------------------------------------------


def test_index_lists_the_stored_articles_with_links(app, client, seed_poll_id):
    import_article_file(app, SEED_WITHOUT_FLOWCHART)
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'href="/articles/{SEED_SLUG}"' in html
    assert "A Fragile Alliance Forged in Fire" in html
    assert f'href="/p/{seed_poll_id}"' in html
    assert "Putin’s Kursk Deployment" in html and "no published poll" in html


def test_article_page_puts_the_widget_where_the_flowchart_was(client, seed_poll_id):
    response = client.get(f"/articles/{SEED_SLUG}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>A Fragile Alliance Forged in Fire</h1>" in html
    widget = f'<div class="poll" data-reader-poll="{seed_poll_id}"></div>'
    assert html.count(widget) == 1
    before = html.index("demanding an end to their military deployment")
    after = html.index("Despite the international outcry")
    assert before < html.index(widget) < after
    for flowchart_line in (
        "<p>Yes</p>",
        "<p>No</p>",
        "Russia allowed North Korean military in Ukraine?",
        "Operation had a good result",
    ):
        assert flowchart_line not in html
    assert "Skip to main content" not in html
    assert html.count("<p>") > 10
    assert re.search(r'<script async src="/widget\.js\?v=\w+">', html)


def test_article_with_two_flowcharts_gets_two_widgets_in_place(app, client, tmp_path):
    path = tmp_path / "mayor.txt"
    path.write_text(TWO_BLOCK_ARTICLE)
    first, second = import_article_file(app, path)
    html = client.get("/articles/two-questions-for-the-new-mayor").get_data(as_text=True)
    positions = [
        html.index("two big decisions ahead"),
        html.index(f'data-reader-poll="{first}"'),
        html.index("is the other pressing matter"),
        html.index(f'data-reader-poll="{second}"'),
        html.index("Both decisions are due by spring"),
    ]
    assert positions == sorted(positions)
    assert "&lt;script&gt;alert(&#34;housing&#34;)&lt;/script&gt;" in html
    assert '<script>alert("housing")' not in html
    assert "Will the tram line be extended?" not in html


def test_unpublished_flowchart_is_left_out_of_the_article_page(app, client, tmp_path):
    path = tmp_path / "mayor.txt"
    path.write_text(TWO_BLOCK_ARTICLE)
    first, second = import_article_file(app, path)
    set_poll(app, second, status=PollStatus.CLOSED)
    set_poll(app, second, status=PollStatus.ARCHIVED)
    html = client.get("/articles/two-questions-for-the-new-mayor").get_data(as_text=True)
    assert f'data-reader-poll="{first}"' in html
    assert second not in html
    assert "Will the old mill become flats?" not in html


def test_demo_pages_can_be_turned_off(app_config, seed_poll_id):
    from pollserver import create_app

    app_config["DEMO_PAGES"] = False
    client = create_app(app_config).test_client()
    assert client.get("/").status_code == 404
    assert client.get(f"/articles/{SEED_SLUG}").status_code == 404
    # Publishers' paths are not demo pages.
    assert client.get(f"/p/{seed_poll_id}").status_code == 200
    assert client.get("/widget.js").status_code == 200


def test_unknown_article_is_404(client):
    response = client.get("/articles/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == 404


def test_pages_carry_a_strict_content_security_policy(client, seed_poll_id):
    for path in ("/", f"/articles/{SEED_SLUG}", f"/p/{seed_poll_id}"):
        response = client.get(path)
        csp = csp_of(response)
        assert csp["default-src"] == "'none'"
        assert csp["frame-ancestors"] == "'self'"
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- builder: where the flowcharts are ----------------------------------------------------------


def test_flowchart_line_spans_match_the_polls_built(tmp_path):
    article = builder.read_article(SEED_WITH_FLOWCHART)
    ((start, end),) = builder.flowchart_line_spans(article)
    assert article.lines[start : start + 3] == (
        "Yes",
        "No",
        "Russia allowed North Korean military in Ukraine?",
    )
    assert article.lines[end - 1] == "North Korean military not given due recognition"
    assert article.lines[end] == ""

    path = tmp_path / "mayor.txt"
    path.write_text(TWO_BLOCK_ARTICLE)
    two = builder.read_article(path)
    spans = builder.flowchart_line_spans(two)
    assert len(spans) == len(builder.build_polls_from_article(two).polls) == 2
    assert [two.lines[start + 2] for start, _ in spans] == [
        "Will the tram line be extended?",
        "Will the old mill become flats?",
    ]

    definition = tmp_path / "poll.json"
    definition.write_text(
        json.dumps(
            {"title": "T", "root": "q", "nodes": [{"id": "q", "type": "question", "text": "Q?"}]}
        )
    )
    assert builder.flowchart_line_spans(builder.read_article(definition)) == []
