"""The embed paths: widget.js, the iframe page, the share page, oEmbed and the demo pages."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import Markup, escape

from pollserver import create_app
from pollserver.core import builder
from pollserver.core.lifecycle import PollStatus
from pollserver.extensions import db
from pollserver.pages import embed, widget_files
from pollserver.services.polls import change_status, find_poll

from helpers import HTML, REPO_ROOT, SEED_WITH_FLOWCHART, SEED_WITHOUT_FLOWCHART, sign_in

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


# --- widget.js (its build and serving: test_widget_files.py) ------------------------------------

WIDGET_GZIP_BUDGET = 6144


def test_widget_js_as_served_is_at_most_6_kb_gzipped(client):
    response = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.data) <= WIDGET_GZIP_BUDGET, (
        f"widget.js is {len(response.data)} bytes gzipped, over its {WIDGET_GZIP_BUDGET}"
    )


def test_widget_source_never_parses_poll_text_as_html_and_keeps_one_global():
    source = WIDGET_SOURCE.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink
    assert "new Function" not in source
    assert "textContent" in source
    # The only global it sets is its namespace; everything else lives in the closure.
    assert re.findall(r"window\.(\w+)\s*=", source) == ["ReaderPoll"]
    assert "attachShadow" in source


# --- iframe page --------------------------------------------------------------------------------


def csp_of(response) -> dict[str, str]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


def test_iframe_page_renders_the_widget_with_no_inline_script(client, seed_poll_id):
    response = client.get(f"/embed/{seed_poll_id}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert f'<div data-reader-poll="{seed_poll_id}"></div>' in html
    # Its scripts are files of this server at their content-hashed URLs: the widget, and the
    # one that reports the poll's height to the host page.
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == [
        f'<script async src="/{embed.widget_files.built_file("widget.js").path}">',
        f'<script async src="/{embed.widget_files.built_file("embed-frame.js").path}">',
    ]
    assert "<main data-reader-poll-frame-content>" in html
    csp = csp_of(response)
    assert csp["frame-ancestors"] == "*"
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp["style-src"]).group(1)
    assert html.count(f'<style nonce="{nonce}">') == html.count("<style") == 1
    assert " style=" not in html
    assert "X-Frame-Options" not in response.headers


@pytest.fixture
def german_words(tmp_path, monkeypatch):
    """The widget's sources with a German words file beside them, served."""
    folder = tmp_path / "widget"
    shutil.copytree(REPO_ROOT / "widget", folder)
    (folder / "words").mkdir(exist_ok=True)
    (folder / "words" / "de.json").write_text(json.dumps({"yes": "Ja", "no": "Nein"}))
    monkeypatch.setattr(widget_files, "WIDGET_FOLDER", folder)
    monkeypatch.setattr(widget_files, "SOURCES_CHECK_SECONDS", 0)


@pytest.mark.parametrize(
    ("query", "lang", "data"),
    [
        ("?lang=de&theme=dark", "de", ' data-lang="de" data-theme="dark"'),
        ("?lang=DE&theme=Light", "de", ' data-lang="de" data-theme="light"'),
        ("?theme=dark", "en", ' data-theme="dark"'),
        # A language the widget has no words for, or no language at all, and unknown themes.
        ("?lang=xx&theme=neon", "en", ""),
        ('?lang="><script>&theme=dark"', "en", ""),
        ("?lang=de-CH", "en", ""),
        ("?lang=&theme=", "en", ""),
    ],
)
def test_iframe_page_takes_a_language_and_a_theme(
    client, seed_poll_id, german_words, query, lang, data
):
    html = client.get(f"/embed/{seed_poll_id}{query}").get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert f'<div data-reader-poll="{seed_poll_id}"{data}></div>' in html
    assert "<script>" not in html


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
    # Only what parses as an origin (scheme, host, optional port) reaches the header: the
    # settings never took a wildcard, and a value stored some other way does not pass either.
    assert csp_of(response)["frame-ancestors"] == "'self' https://news.example"


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


def snippets_of(app, poll_id: str) -> dict[str, str]:
    with app.test_request_context():
        return embed.embed_snippets(find_poll(db.session, poll_id))


def test_script_snippet_is_a_box_with_a_link_and_reserved_room(app, seed_poll_id):
    snippet = snippets_of(app, seed_poll_id)["script_snippet"]
    assert snippet == (
        f'<div class="reader-poll" data-reader-poll="{seed_poll_id}" style="min-height:15rem">'
        f'<a href="http://localhost/p/{seed_poll_id}">'
        "Reader poll: A Fragile Alliance Forged in Fire</a></div>"
        '<script async src="http://localhost/widget.js"></script>'
    )
    assert embed.RESERVED_HEIGHT == "15rem"


def test_pinned_snippet_names_the_hashed_widget_and_its_integrity(app, client, seed_poll_id):
    snippet = snippets_of(app, seed_poll_id)["pinned_snippet"]
    box, script = snippet.split("<script ")
    assert box == snippets_of(app, seed_poll_id)["script_snippet"].split("<script ")[0]
    match = re.fullmatch(
        r'async src="http://localhost/(widget\.[0-9a-f]{12}\.js)" '
        r'integrity="(sha384-[A-Za-z0-9+/=]{64})" crossorigin="anonymous"></script>',
        script,
    )
    assert match, script
    served = client.get("/" + match.group(1))
    assert served.status_code == 200
    digest = base64.b64encode(hashlib.sha384(served.data).digest()).decode()
    assert match.group(2) == f"sha384-{digest}"


def test_iframe_snippet_has_no_inline_script_or_style(app, seed_poll_id):
    snippet = snippets_of(app, seed_poll_id)["iframe_snippet"]
    assert snippet == (
        f'<iframe src="http://localhost/embed/{seed_poll_id}" '
        'title="Reader poll: A Fragile Alliance Forged in Fire" width="600" height="480" '
        'loading="lazy" data-reader-poll-frame></iframe>\n'
        '<script async src="http://localhost/embed.js"></script>'
    )


def test_share_page_advertises_oembed_and_embeds_the_widget(app, client, seed_poll_id):
    response = client.get(f"/p/{seed_poll_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<div class="reader-poll" data-reader-poll="{seed_poll_id}"></div>' in html
    assert ".reader-poll{min-height:15rem}" in html  # its room, kept by our own stylesheet
    assert '<meta property="og:title" content="A Fragile Alliance Forged in Fire">' in html
    href = oembed_href(html)
    parts = urlsplit(href)
    assert parts.path == "/oembed"
    query = parse_qs(parts.query)
    assert query["format"] == ["json"]
    assert query["url"] == [f"http://localhost/p/{seed_poll_id}"]
    # The page shows publishers every snippet, as text.
    for name in ("script_snippet", "pinned_snippet", "iframe_snippet"):
        assert str(escape(snippets_of(app, seed_poll_id)[name])) in html, name

    discovered = client.get(href)
    assert discovered.status_code == 200
    assert discovered.get_json()["type"] == "rich"


def test_oembed_gives_a_rich_iframe_embed_that_resizes(app, client, seed_poll_id):
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
    # The same markup as the iframe snippet: the frame and the script line that resizes it.
    assert body["html"] == snippets_of(app, seed_poll_id)["iframe_snippet"]

    smaller = client.get(
        "/oembed",
        query_string={
            "url": f"http://localhost/embed/{seed_poll_id}",
            "maxwidth": "320",
            "maxheight": "900",
        },
    ).get_json()
    assert (smaller["width"], smaller["height"]) == (320, 480)
    assert 'width="320" height="480"' in smaller["html"]
    assert smaller["html"].endswith('<script async src="http://localhost/embed.js"></script>')


def test_the_desk_shows_every_snippet_of_a_live_poll(app, tokens, seed_poll_id):
    browser, _ = sign_in(app, tokens["moderator"])
    page = browser.get(f"/admin/polls/{seed_poll_id}", headers=HTML).get_data(as_text=True)
    snippets = snippets_of(app, seed_poll_id)
    for key in ("script_snippet", "pinned_snippet", "iframe_snippet", "share_url"):
        shown = re.search(rf'<code id="{key}"[^>]*>(.*?)</code>', page, re.DOTALL)
        assert shown, key
        assert Markup(shown.group(1)).unescape() == snippets[key]
    assert "Subresource Integrity" in page


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
    for snippet in snippets_of(app, poll_id).values():
        assert "<script>alert" not in snippet and '"t")' not in snippet


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
    # The box of the documented snippet, its room kept by the page's stylesheet (a style
    # attribute would break the page's own CSP).
    widget = (
        f'<div class="reader-poll" data-reader-poll="{seed_poll_id}">'
        f'<a href="http://localhost/p/{seed_poll_id}">'
        "Reader poll: A Fragile Alliance Forged in Fire</a></div>"
    )
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
    assert f'<script async src="/{widget_files.built_file("widget.js").path}">' in html
    assert "&lt;script async src=&#34;http://localhost/widget.js&#34;&gt;" in html


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
    ((block_index, (start, end)),) = builder.flowchart_line_spans(article).items()
    assert block_index == 0
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
    assert [two.lines[start + 2] for start, _ in spans.values()] == [
        "Will the tram line be extended?",
        "Will the old mill become flats?",
    ]

    definition = tmp_path / "poll.json"
    definition.write_text(
        json.dumps(
            {"title": "T", "root": "q", "nodes": [{"id": "q", "type": "question", "text": "Q?"}]}
        )
    )
    assert builder.flowchart_line_spans(builder.read_article(definition)) == {}


def test_a_forged_host_reaches_no_page_snippet_or_oembed(app_config, seed_poll_id):
    app = create_app({**app_config, "POLLSERVER_PUBLIC_URL": "https://polls.example.org"})
    client = app.test_client()
    forged = {"Host": "evil.example"}
    share = client.get(f"/p/{seed_poll_id}", headers=forged).get_data(as_text=True)
    assert "evil.example" not in share
    assert f"https://polls.example.org/p/{seed_poll_id}" in share
    assert "https://polls.example.org/widget.js" in share
    oembed = client.get(
        "/oembed",
        query_string={"url": f"https://polls.example.org/p/{seed_poll_id}"},
        headers=forged,
    )
    assert oembed.status_code == 200
    body = oembed.get_json()
    assert "evil.example" not in json.dumps(body)
    assert body["provider_url"] == "https://polls.example.org/"
    assert "https://polls.example.org/embed/" in body["html"]
    # A URL on the forged host names no poll of this service.
    elsewhere = client.get(
        "/oembed", query_string={"url": f"http://evil.example/p/{seed_poll_id}"}, headers=forged
    )
    assert elsewhere.status_code == 404


def test_a_big_article_page_is_read_and_rendered_once_per_version(
    app, client, tmp_path, monkeypatch
):
    # About 1.5 MB of paragraphs around the flowchart: it took half a second to parse, and the
    # parse ran on every GET, so a few anonymous readers could hold a server.
    filler = "\n\n".join(
        f"Paragraph {n} of the long report, " + "words " * 120 for n in range(2000)
    )
    text = TWO_BLOCK_ARTICLE.replace(
        "Both decisions are due by spring", filler + "\n\nBoth decisions are due by spring"
    )
    path = tmp_path / "mayor.txt"
    path.write_text(text)
    first, second = import_article_file(app, path)
    parses = []
    real_parse = builder.parse_article

    def counted_parse(*args, **kwargs):
        parses.append(1)
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(builder, "parse_article", counted_parse)
    pages = [
        client.get("/articles/two-questions-for-the-new-mayor").get_data(as_text=True)
        for _ in range(4)
    ]
    assert len(parses) == 1
    assert all("Paragraph 1999 of the long report" in html for html in pages)
    # Each page keeps its own CSP nonce around the one rendering.
    nonces = {re.search(r'nonce="([^"]+)"', html).group(1) for html in pages}
    assert len(nonces) == 4
    # A change to one of its polls is a new version of the page.
    set_poll(app, second, status=PollStatus.CLOSED)
    set_poll(app, second, status=PollStatus.ARCHIVED)
    html = client.get("/articles/two-questions-for-the-new-mayor").get_data(as_text=True)
    assert len(parses) == 2
    assert second not in html and f'data-reader-poll="{first}"' in html


def test_the_iframe_pages_default_framers_are_the_publishers_choice(app_config, seed_poll_id):
    app = create_app({**app_config, "POLLSERVER_EMBED_FRAME_ANCESTORS": "https://paper.example"})
    response = app.test_client().get(f"/embed/{seed_poll_id}")
    assert csp_of(response)["frame-ancestors"] == "https://paper.example"
