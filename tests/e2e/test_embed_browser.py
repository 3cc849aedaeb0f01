"""The iframe path, oEmbed and the pinned snippet in a real browser (Debian's Chromium via
Playwright), against a real server, on publishers' pages from another origin.

A publisher copies a snippet from the poll's share page and pastes it into a page whose
Content-Security-Policy allows no inline script and no inline style: the frame takes the column's
width on a phone and the height of the poll as the reader answers; oEmbed's html does the same;
an AMP-like parent hears the frame's embed-size messages; the pinned snippet loads only the
widget its integrity names. One browser, one pollserver and one host site serve the module.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import urllib.request

import pytest
from playwright.sync_api import expect

from browser_support import (
    PageProblems,
    answer_as_other_readers,
    cli_app,
    fresh_database_env,
    host_page,
    run_cli,
    save_screenshot,
)
from support import PollserverProcess, http_json

pytestmark = [pytest.mark.browser, pytest.mark.server]

SEED_TITLE = "A Fragile Alliance Forged in Fire"
SEED_Q1 = "Russia allowed North Korean military in Ukraine?"
SEED_Q2 = "Was the operation a good result?"
OTHER_READERS = 11  # enough for the poll's shares to be published
PHONE = {"width": 375, "height": 800}
COLUMN_PADDING = 16  # px each side of the host's column


# --- module fixtures ----------------------------------------------------------------------------


class Service:
    def __init__(self, server: PollserverProcess, poll_id: str):
        self.url = server.base_url
        self.poll_id = poll_id
        self.share_url = f"{self.url}/p/{poll_id}"

    def snippet(self, name: str) -> str:
        """A snippet as a publisher copies it from the share page."""
        with urllib.request.urlopen(self.share_url, timeout=10) as response:
            share_page = response.read().decode()
        codes = [
            html.unescape(code) for code in re.findall(r"<code>(.*?)</code>", share_page, re.S)
        ]
        markers = {"iframe": "<iframe ", "pinned": " integrity=", "script": '/widget.js"'}
        (found,) = [code for code in codes if markers[name] in code]
        return found


@pytest.fixture(scope="module")
def service(request, browser, tmp_path_factory):
    directory = tmp_path_factory.mktemp("embed-server")
    with fresh_database_env(request, directory) as env:
        env.update(RATELIMIT_ANSWERS="1000/minute", RESPONDENTS_PER_ADDRESS_PER_DAY="1000")
        server = PollserverProcess(env).start(directory / "server.log")
        try:
            with cli_app(env) as app:
                (seed,) = json.loads(run_cli(app, "polls", "list", "--json"))
            assert seed["title"] == SEED_TITLE and seed["status"] == "open"
            answer_as_other_readers(server.base_url, seed["id"], OTHER_READERS)
            yield Service(server, seed["id"])
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.problems = PageProblems(page)
    yield page
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.problems = PageProblems(page)
    yield page
    context.close()


# --- a publisher's page with a strict CSP -------------------------------------------------------


class StrictPage:
    """A host page whose policy allows only its own nonce'd scripts (and what they load, by
    'strict-dynamic'), its nonce'd stylesheet and frames of the poll server: no inline script
    without the nonce, no style attribute, no other origin's script."""

    def __init__(self, service: Service):
        self.nonce = secrets.token_urlsafe(12)
        self.policy = "; ".join(
            (
                "default-src 'none'",
                f"script-src 'nonce-{self.nonce}' 'strict-dynamic'",
                f"style-src 'nonce-{self.nonce}'",
                f"frame-src {service.url}",
                "img-src 'none'",
                "base-uri 'none'",
                "form-action 'none'",
            )
        )

    def with_nonce(self, snippet: str) -> str:
        """What a publisher's CMS does to a pasted script line under a nonce policy."""
        return snippet.replace("<script ", f'<script nonce="{self.nonce}" ')

    def page(self, body: str, *, script: str = "") -> str:
        head = (
            f'<style nonce="{self.nonce}">body{{margin:0;font:17px/1.5 Georgia,serif}}'
            f"main{{padding:0 {COLUMN_PADDING}px}}</style>"
            f'<script nonce="{self.nonce}">window.violations = [];'
            'document.addEventListener("securitypolicyviolation", (e) =>'
            ' violations.push(e.violatedDirective + " " + e.blockedURI));'
            f"{script}</script>"
        )
        return host_page(body, head=head)

    def headers(self) -> dict[str, str]:
        return {"Content-Security-Policy": self.policy}


def poll_frame(page, index: int = 0):
    """The poll's frame, once its document has loaded."""
    frame = page.locator("iframe").nth(index).element_handle().content_frame()
    frame.wait_for_url(re.compile(r"/embed/"))
    frame.wait_for_load_state()
    return frame


def sized_by_its_content(page, frame, index: int = 0) -> None:
    """Wait until the frame's height is that of the document inside it (nothing clipped, no
    empty space below the poll)."""
    for _ in range(50):
        outer = frame_height(page, index)
        inner = frame.evaluate(
            "() => Math.ceil(document.querySelector('main').getBoundingClientRect().height)"
        )
        scroll = frame.evaluate("() => document.documentElement.scrollHeight")
        if abs(outer - inner) <= 1 and scroll <= outer + 1:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"frame {outer}px tall, its poll {inner}px, its document {scroll}px")


def frame_height(page, index: int = 0) -> int:
    """The height the frame's document gets (a border, where the page leaves one, aside)."""
    return page.evaluate(f"document.querySelectorAll('iframe')[{index}].clientHeight")


# --- tests --------------------------------------------------------------------------------------


def test_iframe_snippet_under_a_strict_csp_fits_a_phone_and_follows_the_poll(service, host, phone):
    strict = StrictPage(service)
    snippet = service.snippet("iframe")
    assert " style=" not in snippet and "<script>" not in snippet
    url = host.add(
        "/phone.html",
        strict.page(
            "<h1>News of the day</h1><p>The article, then its poll.</p>"
            f"{strict.with_nonce(snippet)}<p>The article goes on below the poll.</p>"
        ),
        headers=strict.headers(),
    )
    phone.goto(url)
    frame = poll_frame(phone)
    expect(phone.frame_locator("iframe").get_by_text(SEED_Q1)).to_be_visible()
    sized_by_its_content(phone, frame)

    # The column's full width, however wide the frame's width attribute says.
    box = phone.eval_on_selector("iframe", "f => f.getBoundingClientRect().toJSON()")
    assert box["width"] == PHONE["width"] - 2 * COLUMN_PADDING
    assert box["x"] == COLUMN_PADDING
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert frame.evaluate("document.documentElement.scrollWidth") <= box["width"]
    question_height = frame_height(phone)
    save_screenshot(phone, "embed-iframe-375-question.png", full_page=True)

    poll = phone.frame_locator("iframe")
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()
    poll.get_by_role("button", name="Yes").click()
    # The results: the frame grows to show them.
    phone.wait_for_function(
        "h => document.querySelector('iframe').getBoundingClientRect().height > h + 100",
        arg=question_height,
    )
    sized_by_its_content(phone, frame)
    save_screenshot(phone, "embed-iframe-375-results.png", full_page=True)

    assert phone.evaluate("violations") == []
    assert phone.problems.errors == []


def test_oembed_html_resizes_to_its_poll_under_a_nonce_policy(service, host, desktop):
    status, body, _ = http_json("GET", f"{service.url}/oembed?url={service.share_url}&maxwidth=500")
    assert status == 200 and body["width"] == 500
    strict = StrictPage(service)
    url = host.add(
        "/oembed.html",
        strict.page(f"<h1>Embedded by a CMS</h1>{strict.with_nonce(body['html'])}<p>After.</p>"),
        headers=strict.headers(),
    )
    desktop.goto(url)
    frame = poll_frame(desktop)
    expect(desktop.frame_locator("iframe").get_by_text(SEED_Q1)).to_be_visible()
    sized_by_its_content(desktop, frame)
    assert desktop.eval_on_selector("iframe", "f => f.getBoundingClientRect().width") == 500
    assert frame_height(desktop) != body["height"]  # its poll's height, not oEmbed's guess
    assert desktop.evaluate("violations") == []
    assert desktop.problems.errors == []


def test_embed_js_sizes_frames_that_loaded_before_it_and_frames_added_after(service, host, desktop):
    strict = StrictPage(service)
    frame_markup, script_line = service.snippet("iframe").split("\n")
    url = host.add(
        "/late.html",
        strict.page(f"<h1>A page that adds the script late</h1>{frame_markup}"),
        headers=strict.headers(),
    )
    desktop.goto(url)
    first = poll_frame(desktop)
    expect(desktop.frame_locator("iframe").first.get_by_text(SEED_Q1)).to_be_visible()
    # Its own width and height attributes (and a browser's border): nothing fitted it yet.
    assert desktop.eval_on_selector("iframe", "f => [f.clientWidth, f.clientHeight]") == [600, 480]
    assert desktop.eval_on_selector("iframe", "f => f.style.cssText") == ""

    # The script arrives after the frame reported its height to nobody.
    src = re.search(r'src="([^"]+)"', script_line).group(1)
    desktop.evaluate(
        """([src, nonce]) => {
            const script = document.createElement("script");
            script.src = src;
            script.nonce = nonce;
            document.body.append(script);
        }""",
        [src, strict.nonce],
    )
    sized_by_its_content(desktop, first)

    # A frame the page adds later (rendered by the page's own script) is fitted too.
    frame_src = re.search(r'src="([^"]+)"', frame_markup).group(1)
    desktop.evaluate(
        """(src) => {
            const frame = document.createElement("iframe");
            frame.src = src;
            frame.title = "Reader poll, again";
            frame.width = "400";
            frame.height = "300";
            frame.dataset.readerPollFrame = "";
            document.querySelector("main").append(frame);
        }""",
        frame_src,
    )
    second = poll_frame(desktop, 1)
    expect(desktop.frame_locator("iframe").nth(1).get_by_text(SEED_Q1)).to_be_visible()
    sized_by_its_content(desktop, second, 1)
    widths = desktop.eval_on_selector_all(
        "iframe", "frames => frames.map(f => f.getBoundingClientRect().width)"
    )
    assert widths == [600, 400]
    assert desktop.evaluate("violations") == []
    assert desktop.problems.errors == []


def test_an_amp_like_parent_hears_the_frames_embed_size(service, host, desktop):
    frame_markup = service.snippet("iframe").split("\n")[0]
    # AMP's amp-iframe listens for {sentinel: "amp", type: "embed-size"} and sizes the frame.
    listener = """
        window.heights = [];
        addEventListener("message", (event) => {
            const data = event.data;
            if (!data || data.sentinel !== "amp" || data.type !== "embed-size") return;
            window.heights.push(data.height);
            document.querySelector("iframe").style.height = data.height + "px";
        });
    """
    strict = StrictPage(service)
    url = host.add(
        "/amp.html",
        strict.page(f"<h1>An AMP page</h1>{frame_markup}", script=listener),
        headers=strict.headers(),
    )
    desktop.goto(url)
    frame = poll_frame(desktop)
    poll = desktop.frame_locator("iframe")
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    sized_by_its_content(desktop, frame)
    first = desktop.evaluate("heights")
    assert first and all(isinstance(height, int) and height > 0 for height in first)

    poll.get_by_role("button", name="No").click()
    desktop.wait_for_function("n => window.heights.length > n", arg=len(first))
    sized_by_its_content(desktop, frame)
    assert desktop.evaluate("heights").pop() == frame_height(desktop)
    assert desktop.problems.errors == []


def test_the_pinned_snippet_runs_only_the_widget_its_integrity_names(service, host, desktop):
    snippet = service.snippet("pinned")
    integrity = re.search(r'integrity="(sha384-[^"]+)"', snippet).group(1)
    url = host.add("/pinned.html", host_page(f"<h1>Pinned</h1>{snippet}"))
    desktop.goto(url)
    poll = desktop.locator(f'[data-reader-poll="{service.poll_id}"]')
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    assert desktop.eval_on_selector("script[integrity]", "s => s.integrity") == integrity
    assert desktop.problems.errors == []

    # The same snippet with another hash: the browser refuses the script, the link stays.
    tampered = snippet.replace(integrity, "sha384-" + "A" * 64)
    url = host.add("/tampered.html", host_page(f"<h1>Tampered</h1>{tampered}"))
    refused: list[str] = []
    desktop.on("console", lambda message: refused.append(message.text))
    desktop.goto(url)
    expect(desktop.get_by_role("link", name=f"Reader poll: {SEED_TITLE}")).to_be_visible()
    desktop.wait_for_timeout(500)
    assert desktop.evaluate("typeof window.ReaderPoll") == "undefined"
    assert any("integrity" in text for text in refused), refused
