"""The widget in a real browser (Debian's Chromium via Playwright), against a real server.

Host pages come from a second HTTP server on another port, so every API call is cross-origin,
as on a publisher's site. One browser, one pollserver and one host site serve the whole module.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from playwright.sync_api import expect

from browser_support import (
    Database,
    PageProblems,
    answer_as_other_readers,
    assert_no_axe_violations,
    cli_app,
    database_url_of,
    focused_in_widget,
    fresh_database_env,
    host_page,
    run_cli,
    save_screenshot,
    shadow_text,
    stored_token,
    widget,
)
from support import PollserverProcess, http_json

pytestmark = [pytest.mark.browser, pytest.mark.server]

SEED_SLUG = "a-fragile-alliance-forged-in-fire"
SEED_Q1 = "Russia allowed North Korean military in Ukraine?"
SEED_Q2 = "Was the operation a good result?"
SEED_READERS = 11  # enough (with the tests' own readers) for shares to be published
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>window.__pwned = 1; alert(2)</script>"

# fmt: off
EXTRA_POLLS = [
    {
        "title": "Rebuild the pier?",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Should the pier be rebuilt?",
             "yes": "q2", "no": "o3"},
            {"id": "q2", "type": "question", "text": "Should the town pay for it?",
             "yes": "o1", "no": "o2"},
            {"id": "o1", "type": "outcome", "text": "Council tax rises"},
            {"id": "o2", "type": "outcome", "text": "A sponsor is sought"},
            {"id": "o3", "type": "outcome", "text": "The pier is demolished"},
        ],
    },
    {
        "title": "<script>window.__pwnedTitle = 1</script>",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": XSS_IMG, "yes": "o1", "no": "o2"},
            {"id": "o1", "type": "outcome", "text": XSS_SCRIPT},
            {"id": "o2", "type": "outcome", "text": "<b>not bold</b>"},
        ],
    },
    {
        "title": "A poll that has closed",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Was this poll closed?", "yes": "o1"},
            {"id": "o1", "type": "outcome", "text": "It was"},
        ],
    },
]
# fmt: on


# --- module fixtures ----------------------------------------------------------------------------


class Service:
    """The running pollserver and what the tests need to know about it."""

    def __init__(self, server: PollserverProcess, env: dict[str, str], polls: dict[str, str]):
        self.server = server
        self.env = env
        self.url = server.base_url
        self.polls = polls
        self.db = Database(database_url_of(env))

    @property
    def widget_src(self) -> str:
        return f"{self.url}/widget.js"

    def snippet(self, poll: str, attributes: str = "") -> str:
        return (
            f'<div data-reader-poll="{self.polls.get(poll, poll)}" {attributes}></div>'
            f'<script async src="{self.widget_src}"></script>'
        )


@pytest.fixture(scope="module")
def service(request, browser, tmp_path_factory):
    directory = tmp_path_factory.mktemp("widget-server")
    with fresh_database_env(request, directory) as env:
        env.update(RATELIMIT_ANSWERS="1000/minute", RESPONDENTS_PER_ADDRESS_PER_DAY="1000")
        server = PollserverProcess(env).start(directory / "server.log")
        try:
            polls = prepare_polls(env, directory, server.base_url)
            service = Service(server, env, polls)
            answer_as_other_readers(service.url, polls["seed"], SEED_READERS)
            yield service
            service.db.close()
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


def prepare_polls(env: dict[str, str], directory, base_url: str) -> dict[str, str]:
    """The seed poll ``serve`` opened, plus our hand-written polls imported and opened beside it.

    The closed poll shows its results once closed (``after_close``) and has one answer.
    """
    from pollserver.extensions import db
    from pollserver.services.polls import find_poll

    definitions = directory / "extra-polls.json"
    definitions.write_text(json.dumps(EXTRA_POLLS))
    with cli_app(env) as app:
        run_cli(app, "import", str(definitions))
        listed = {row["title"]: row for row in json.loads(run_cli(app, "polls", "list", "--json"))}
        polls = {
            "seed": listed["A Fragile Alliance Forged in Fire"]["id"],
            "pier": listed["Rebuild the pier?"]["id"],
            "xss": listed[EXTRA_POLLS[1]["title"]]["id"],
            "closed": listed["A poll that has closed"]["id"],
        }
        assert listed["A Fragile Alliance Forged in Fire"]["status"] == "open"
        for name in ("pier", "xss", "closed"):
            run_cli(app, "polls", "open", "--", polls[name])
        with app.app_context():
            poll = find_poll(db.session, polls["closed"])
            poll.settings = {**poll.settings, "results_visibility": "after_close"}
            db.session.commit()
        answer = {"respondent": None, "node": "q1", "answer": "yes"}
        url = f"{base_url}/api/v1/polls/{polls['closed']}/answers"
        assert http_json("POST", url, answer)[0] == 201
        run_cli(app, "polls", "close", "--", polls["closed"])
    return polls


# --- readers ------------------------------------------------------------------------------------


def test_full_walk_from_another_origin_ends_with_results_recorded_once(service, host, page):
    seed = service.polls["seed"]
    url = host.add(
        "/walk.html",
        host_page(
            "<h1>News</h1><p>An article.</p>"
            f'<div style="width:600px">{service.snippet("seed")}</div>'
        ),
    )
    assert not url.startswith(service.url)  # another origin: every API call is cross-origin
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    before = service.db.respondent_count(seed)

    page.goto(url)
    poll = widget(page, seed)
    yes = poll.get_by_role("button", name="Yes")
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    # Two requests to the first question: the script and the poll.
    assert [u for u in requests if u.startswith(service.url)] == [
        service.widget_src,
        f"{service.url}/api/v1/polls/{seed}",
    ]
    expect(poll.get_by_text("Question 1 of 2", exact=True)).to_be_visible()
    expect(poll.get_by_role("heading", level=2)).to_have_text("A Fragile Alliance Forged in Fire")
    save_screenshot(poll, "widget-question.png")

    yes.dblclick()  # an impatient double click answers once, and not the next question too
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()
    page.wait_for_timeout(300)
    assert service.db.answers_of(stored_token(page, seed)) == [("q1", "yes")]
    expect(poll.get_by_text("Question 2 of 2", exact=True)).to_be_visible()
    poll.get_by_role("button", name="Yes").click()

    # The outcome chain as one path, then how readers answered each question and where they ended.
    chain = "Operation had a good result → North Korean military given due recognition"
    expect(poll.locator(".o")).to_have_text(f"Your answers lead to: {chain}")
    expect(poll.get_by_role("heading", level=3, name=SEED_Q1)).to_be_visible()
    expect(poll.get_by_role("heading", level=3, name="Where readers ended up")).to_be_visible()
    text = shadow_text(page, f'[data-reader-poll="{seed}"]')
    assert re.search(r"Yes \(your answer\)\d+%\d+ readers", text), text
    assert "Self-selected, not representative." in text
    # The reader's own ending is marked among everyone's.
    expect(poll.locator(".e .l.m")).to_have_text(f"{chain} (your answer)")

    token = stored_token(page, seed)
    assert token
    assert service.db.answers_of(token) == [("q1", "yes"), ("q2", "yes")]
    assert service.db.respondent_count(seed) == before + 1


def test_two_polls_on_one_page_with_their_own_words_and_an_unknown_poll(service, host, page):
    seed, pier = service.polls["seed"], service.polls["pier"]
    url = host.add(
        "/two.html",
        host_page(
            service.snippet("seed")
            + "<p>Between the polls.</p>"
            + service.snippet("pier", 'data-lang="de" data-label-yes="Jawohl"')
            + service.snippet("no-such-poll")
        ),
    )
    page.goto(url)
    first, second = widget(page, seed), widget(page, pier)
    expect(first.get_by_text(SEED_Q1)).to_be_visible()
    expect(second.get_by_text("Should the pier be rebuilt?")).to_be_visible()
    expect(second.get_by_role("button", name="Nein")).to_be_visible()
    expect(second.get_by_text("Frage 1 von 2", exact=True)).to_be_visible()

    second.get_by_role("button", name="Jawohl").click()
    expect(second.get_by_text("Should the town pay for it?")).to_be_visible()
    expect(second.get_by_text("Frage 2 von 2", exact=True)).to_be_visible()
    # The other poll is untouched.
    expect(first.get_by_text("Question 1 of 2", exact=True)).to_be_visible()
    assert stored_token(page, pier) and not stored_token(page, seed)

    # An unknown poll takes no room and says nothing to readers.
    unknown = widget(page, "no-such-poll")
    expect(unknown).to_have_count(1)
    expect(unknown).to_be_hidden()
    assert unknown.evaluate("el => el.getBoundingClientRect().height") == 0
    # Pasting the snippet twice loaded the script twice: still one namespace, still one widget each.
    assert page.evaluate("document.querySelectorAll('script[src$=\"/widget.js\"]').length") == 3
    assert page.evaluate("typeof window.ReaderPoll.scan") == "function"


def test_a_script_added_after_load_renders_polls_and_leaves_one_global(service, host, page):
    seed, pier = service.polls["seed"], service.polls["pier"]
    url = host.add("/late.html", host_page("<p>The article loads first; the poll comes later.</p>"))
    page.goto(url)
    page.wait_for_load_state("load")
    globals_before = page.evaluate("Object.getOwnPropertyNames(window)")
    page.evaluate(
        """([pollId, src]) => {
            const div = document.createElement('div');
            div.dataset.readerPoll = pollId;
            document.querySelector('main').append(div);
            const script = document.createElement('script');
            script.src = src;
            document.body.append(script);
        }""",
        [seed, service.widget_src],
    )
    expect(widget(page, seed).get_by_text(SEED_Q1)).to_be_visible()
    # A poll added after the script ran is found too.
    page.evaluate(
        """(pollId) => setTimeout(() => {
            const div = document.createElement('div');
            div.setAttribute('data-reader-poll', pollId);
            document.querySelector('main').append(div);
        }, 100)""",
        pier,
    )
    expect(widget(page, pier).get_by_text("Should the pier be rebuilt?")).to_be_visible()
    added = set(page.evaluate("Object.getOwnPropertyNames(window)")) - set(globals_before)
    assert added == {"ReaderPoll"}
    assert page.evaluate("Object.isFrozen(window.ReaderPoll)")


def test_reload_mid_path_resumes_where_the_reader_left_off(service, host, page):
    seed = service.polls["seed"]
    url = host.add("/resume.html", host_page(service.snippet("seed")))
    page.goto(url)
    poll = widget(page, seed)
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()
    token = stored_token(page, seed)

    page.reload()
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()
    expect(poll.get_by_text("Question 2 of 2", exact=True)).to_be_visible()
    expect(poll.get_by_text(SEED_Q1)).to_have_count(0)
    poll.get_by_role("button", name="No").click()
    expect(poll.locator(".o")).to_contain_text("Operation failed")

    # A finished reader who comes back sees where their answers led, not the first question,
    # and their results one click away: the card takes no more room than the question did.
    page.reload()
    expect(poll.locator(".o")).to_contain_text("Your answers lead to: Operation failed")
    expect(poll.locator(".g")).to_have_count(0)
    assert poll.evaluate("el => el.getBoundingClientRect().height") <= 240  # 15rem
    poll.get_by_role("button", name="See results").click()
    expect(poll.locator(".g:not(.e) .l.m")).to_have_text(["Yes (your answer)", "No (your answer)"])
    assert stored_token(page, seed) == token
    assert service.db.answers_of(token) == [("q1", "yes"), ("q2", "no")]


def test_a_stale_token_is_dropped_and_the_reader_starts_afresh(service, host, context, page):
    seed = service.polls["seed"]
    url = host.add("/stale.html", host_page(service.snippet("seed")))
    page.goto(url)
    page.evaluate(f"localStorage.setItem('reader-poll:{seed}', 'x' + 'A'.repeat(31))")
    page.reload()
    poll = widget(page, seed)
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    assert stored_token(page, seed) is None
    poll.get_by_role("button", name="No").click()
    expect(poll.get_by_text("Your answer has been counted.", exact=True)).to_be_visible()
    assert service.db.answers_of(stored_token(page, seed)) == [("q1", "no")]


def test_blocked_storage_does_not_stop_a_reader(service, host, context, page):
    seed = service.polls["seed"]
    # As in a sandboxed frame or with site data blocked: touching localStorage throws.
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() {"
        " throw new DOMException('The operation is insecure.', 'SecurityError'); }})"
    )
    page.goto(host.add("/no-storage.html", host_page(service.snippet("seed"))))
    poll = widget(page, seed)
    poll.get_by_role("button", name="Yes").click()
    poll.get_by_text(SEED_Q2).wait_for()  # a click before it is ignored
    poll.get_by_role("button", name="No").click()
    expect(poll.locator(".o")).to_contain_text("Operation failed")


def test_offline_answer_shows_a_retry_that_works(service, host, context, page):
    seed = service.polls["seed"]
    url = host.add("/offline.html", host_page(service.snippet("seed")))
    page.goto(url)
    poll = widget(page, seed)
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()

    context.set_offline(True)
    poll.get_by_role("button", name="Yes").click()
    alert = poll.get_by_role("alert")
    expect(alert).to_contain_text("The poll could not be reached. Check your connection.")
    retry = poll.get_by_role("button", name="Try again")
    expect(retry).to_be_focused()

    context.set_offline(False)
    retry.click()
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()
    assert service.db.answers_of(stored_token(page, seed)) == [("q1", "yes")]


def test_a_poll_that_cannot_load_offers_a_retry(service, host, page):
    seed = service.polls["seed"]
    api = f"{service.url}/api/v1/polls/**"
    page.route(api, lambda route: route.abort("internetdisconnected"))
    page.goto(host.add("/unreachable.html", host_page(service.snippet("seed"))))
    poll = widget(page, seed)
    expect(poll.get_by_role("alert")).to_contain_text("The poll could not be reached.")
    page.unroute(api)
    poll.get_by_role("button", name="Try again").click()
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()


def test_too_many_answers_say_when_to_try_again(request, browser, host, tmp_path):
    with fresh_database_env(request, tmp_path) as env:
        # Per hour, not per minute: the sliding-window counter weighs the previous window, so two
        # answers just before a minute's end and a third just after it could all pass.
        env["RATELIMIT_ANSWERS"] = "2/hour"
        server = PollserverProcess(env).start(tmp_path / "limited.log")
        try:
            with cli_app(env) as app:
                seed = json.loads(run_cli(app, "polls", "list", "--json"))[0]["id"]
            # This address has used its two answers this hour.
            answer_url = f"{server.base_url}/api/v1/polls/{seed}/answers"
            first = {"respondent": None, "node": "q1", "answer": "no"}
            assert http_json("POST", answer_url, first)[0] == 201
            assert http_json("POST", answer_url, first)[0] == 201

            url = host.add(
                "/limited.html",
                host_page(
                    f'<div data-reader-poll="{seed}"></div>'
                    f'<script async src="{server.base_url}/widget.js"></script>'
                ),
            )
            context = browser.new_context()
            page = context.new_page()
            problems = PageProblems(page)
            page.goto(url)
            poll = widget(page, seed)
            poll.get_by_role("button", name="Yes").click()
            # When to try again, in words: never a raw count of seconds.
            expect(poll.get_by_role("alert")).to_contain_text(
                re.compile(
                    r"Too many answers from your network\. Try again in "
                    r"(\d+ minutes|1 minute|1 hour|([1-5]?\d) seconds?)\."
                )
            )
            expect(poll.get_by_role("button", name="Try again")).to_be_visible()
            expect(poll.get_by_text(SEED_Q1)).to_be_visible()  # the question stays
            assert stored_token(page, seed) is None
            context.close()
            assert problems.errors == []
        finally:
            server.stop()


def test_closed_poll_shows_a_short_note_and_its_results(service, host, page):
    closed = service.polls["closed"]
    page.goto(host.add("/closed.html", host_page(service.snippet("closed"))))
    poll = widget(page, closed)
    expect(poll.get_by_text("This poll has closed.")).to_be_visible()
    expect(poll.get_by_role("heading", level=3, name="Was this poll closed?")).to_be_visible()
    expect(poll.get_by_role("button")).to_have_count(0)
    # Below the minimum sample, counts instead of shares (and why), and always the note.
    expect(poll.locator(".g:not(.e)")).to_have_text("Yes1 readerNo0 readers")
    expect(poll.locator(".b")).to_have_count(0)
    expect(poll.locator(".e")).to_have_text("It was1 reader")
    expect(poll.locator(".f")).to_have_text(
        "1 reader · Self-selected, not representative. Percentages from 10 readers on."
    )


def test_a_poll_paused_while_the_reader_answers_says_so(service, host, page):
    pier = service.polls["pier"]
    page.goto(host.add("/paused.html", host_page(service.snippet("pier"))))
    poll = widget(page, pier)
    expect(poll.get_by_text("Should the pier be rebuilt?")).to_be_visible()
    with cli_app(service.env) as app:
        run_cli(app, "polls", "pause", "--", pier)
        try:
            poll.get_by_role("button", name="No").click()
            note = poll.get_by_text("This poll is paused. Come back later.")
            expect(note).to_be_visible()
            expect(note).to_be_focused()
            expect(poll.get_by_role("button")).to_have_count(0)
        finally:
            run_cli(app, "polls", "open", "--", pier)


def test_hostile_poll_texts_are_shown_as_text_and_run_nothing(service, host, page):
    xss = service.polls["xss"]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(host.add("/hostile.html", host_page(service.snippet("xss"))))
    poll = widget(page, xss)
    expect(poll.get_by_text(XSS_IMG)).to_be_visible()
    expect(poll.get_by_text(EXTRA_POLLS[1]["title"])).to_be_visible()
    poll.get_by_role("button", name="Yes").click()
    expect(poll.locator(".o bdi")).to_have_text(XSS_SCRIPT)
    counts = page.eval_on_selector(
        f'[data-reader-poll="{xss}"]',
        "el => ['img', 'script'].map(tag => el.shadowRoot.querySelectorAll(tag).length)",
    )
    assert counts == [0, 0]
    bold = poll.evaluate("el => [...el.shadowRoot.querySelectorAll('b')].map(b => b.textContent)")
    assert "not bold" not in bold
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert dialogs == []
    assert page.evaluate("[window.__pwned, window.__pwnedTitle]") == [None, None]


def test_host_css_does_not_reach_into_the_widget_and_theming_does(service, host, page):
    seed = service.polls["seed"]
    hostile_css = (
        "<style>button{display:none!important}"
        "p,section,div{color:red!important;font-size:40px!important;margin:0!important}"
        "*{background:yellow!important;font-family:monospace!important}"
        ".q,.t,.bs{display:none!important}</style>"
    )
    theme = (
        "--reader-poll-accent:rgb(120, 0, 60);--reader-poll-radius:0px;"
        "--reader-poll-font:Georgia, serif"
    )
    page.goto(
        host.add(
            "/css.html",
            host_page(
                f'<button id="host-button">Host</button><p class="q" id="host-p">Host text</p>'
                f'<div data-reader-poll="{seed}" style="{theme}"></div>'
                f'<script async src="{service.widget_src}"></script>',
                head=hostile_css,
            ),
        )
    )
    poll = widget(page, seed)
    yes = poll.get_by_role("button", name="Yes")
    expect(yes).to_be_visible()
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    style = yes.evaluate(
        "b => { const s = getComputedStyle(b);"
        " return [s.backgroundColor, s.borderTopLeftRadius, s.fontFamily]; }"
    )
    assert style == ["rgb(120, 0, 60)", "0px", "Georgia, serif"]
    question_color = poll.get_by_text(SEED_Q1).evaluate("p => getComputedStyle(p).color")
    assert question_color != "rgb(255, 0, 0)"
    # Nor does the widget's CSS leak out onto the host page.
    assert page.eval_on_selector("#host-button", "b => getComputedStyle(b).display") == "none"
    assert page.eval_on_selector("#host-p", "p => getComputedStyle(p).display") == "none"
    yes.click()
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()


def test_fits_a_320_px_phone(service, host, browser):
    seed = service.polls["seed"]
    context = browser.new_context(
        viewport={"width": 320, "height": 640}, device_scale_factor=2, reduced_motion="reduce"
    )
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(host.add("/phone.html", host_page(service.snippet("seed"))))
    poll = widget(page, seed)
    expect(poll.get_by_role("button", name="No")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    for name in ("Yes", "No"):
        box = poll.get_by_role("button", name=name).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320 and box["height"] >= 44
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()  # a click before it would be ignored
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text("Where readers ended up")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    animation = poll.locator(".v").evaluate("v => getComputedStyle(v).animationName")
    assert animation == "none"  # prefers-reduced-motion: nothing fades in
    context.close()
    assert problems.errors == []


def test_keyboard_only_walk_moves_focus_to_each_new_question(service, host, page):
    seed = service.polls["seed"]
    page.goto(host.add("/keyboard.html", host_page(service.snippet("seed"))))
    selector = f'[data-reader-poll="{seed}"]'
    poll = widget(page, seed)
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    assert focused_in_widget(page, selector) is None  # loading does not steal focus

    for _ in range(5):
        page.keyboard.press("Tab")
        if focused_in_widget(page, selector) == "Yes":
            break
    assert focused_in_widget(page, selector) == "Yes"
    yes = poll.get_by_role("button", name="Yes")
    outline = yes.evaluate(
        "b => getComputedStyle(b).outlineStyle + ' ' + getComputedStyle(b).outlineWidth"
    )
    assert outline == "solid 3px"  # a visible focus ring

    page.keyboard.press("Enter")
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()
    assert focused_in_widget(page, selector) == SEED_Q2  # focus moved to the new question
    expect(poll.locator(".sr[aria-live=polite]")).to_have_text("Answer saved. Question 2 of 2")

    page.keyboard.press("Tab")
    assert focused_in_widget(page, selector) == "Yes"
    page.keyboard.press("Space")
    expect(poll.get_by_text("Where readers ended up")).to_be_visible()
    chain = "Operation had a good result → North Korean military given due recognition"
    assert focused_in_widget(page, selector) == f"Your answers lead to: {chain}"
    live = poll.locator(".sr[aria-live=polite]")
    expect(live).to_have_text(f"Answer saved. Your answers lead to: {chain}")
    assert service.db.answers_of(stored_token(page, seed)) == [("q1", "yes"), ("q2", "yes")]


def test_iframe_embed_takes_the_height_of_the_poll(service, host, page):
    seed = service.polls["seed"]
    share_page = page.context.request.get(f"{service.url}/p/{seed}").text()
    snippets = [html.unescape(code) for code in re.findall(r"<code>(.*?)</code>", share_page, re.S)]
    iframe_snippet = next(snippet for snippet in snippets if snippet.startswith("<iframe"))
    page.goto(host.add("/iframe.html", host_page(iframe_snippet)))
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text(SEED_Q1)).to_be_visible()
    page.wait_for_function("() => document.querySelector('iframe').style.height !== ''")
    first_height = page.eval_on_selector("iframe", "f => f.getBoundingClientRect().height")
    content = frame.locator("main").evaluate("m => m.getBoundingClientRect().height")
    assert abs(first_height - content) <= 2
    frame.get_by_role("button", name="Yes").click()
    frame.get_by_text(SEED_Q2).wait_for()  # a click before it is ignored
    frame.get_by_role("button", name="Yes").click()
    expect(frame.get_by_text("Where readers ended up")).to_be_visible()
    grown = f"() => document.querySelector('iframe').offsetHeight > {first_height + 100}"
    page.wait_for_function(grown)


# --- the demo page: accessibility in light and dark ---------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_demo_page_has_no_axe_violations(service, browser, scheme):
    seed = service.polls["seed"]
    context = browser.new_context(viewport={"width": 900, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(f"{service.url}/articles/{SEED_SLUG}")
    page.emulate_media(color_scheme=scheme)
    poll = widget(page, seed)
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    background = poll.evaluate(
        "el => getComputedStyle(el.shadowRoot.querySelector('section')).backgroundColor"
    )
    assert background == ("rgb(31, 31, 35)" if scheme == "dark" else "rgb(255, 255, 255)")
    # Colours as readers see them once the widget has faded in: mid-fade, text is half opaque.
    poll.evaluate("el => Promise.all(el.shadowRoot.getAnimations().map(a => a.finished))")
    assert_no_axe_violations(page)
    if scheme == "dark":
        poll.scroll_into_view_if_needed()
        save_screenshot(poll, "widget-dark-question.png")

    poll.get_by_role("button", name="Yes").click()

    poll.get_by_text(SEED_Q2).wait_for()  # a click before it is ignored
    poll.get_by_role("button", name="No").click()
    expect(poll.get_by_text("Where readers ended up")).to_be_visible()
    poll.evaluate("el => Promise.all(el.shadowRoot.getAnimations().map(a => a.finished))")
    assert_no_axe_violations(page)
    if scheme == "dark":
        save_screenshot(poll, "widget-dark.png")
    context.close()
    assert problems.errors == []
