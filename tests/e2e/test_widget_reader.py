"""What a reader meets in the widget, in a real browser (Debian's Chromium via Playwright),
against a real server, on a publisher's page from another origin.

The finished card reads as an editorial module (shares, readers, margin of error, where readers
ended up); every path has an ending; closed and paused polls show a card; public results can be
seen first; answers can be changed where the poll allows it; one browser is one reader however
many copies and tabs show the poll, and a lost reply retried stays one reader; messages say what
to do. One browser, one pollserver and one host site serve the module.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from browser_support import (
    Database,
    PageProblems,
    answer_as_other_readers,
    assert_no_axe_violations,
    change_poll_settings,
    cli_app,
    database_url_of,
    fresh_database_env,
    host_page,
    import_polls,
    run_cli,
    save_screenshot,
    settled,
    stored_token,
    widget,
)
from helpers import REPO_ROOT
from support import PollserverProcess, http_json

pytestmark = [pytest.mark.browser, pytest.mark.server]

SEED_TITLE = "A Fragile Alliance Forged in Fire"
SEED_Q1 = "Russia allowed North Korean military in Ukraine?"
SEED_Q2 = "Was the operation a good result?"
SEED_NO_ENDING = f"Said No to “\u2068{SEED_Q1}\u2069”"
GOOD = "Operation had a good result → North Korean military given due recognition"
FAILED = "Operation failed → North Korean military not given due recognition"
OTHER_READERS = 11  # enough, with the tests' own readers, for shares to be published

# fmt: off
POLLS = [
    {   # answers may be changed
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
    {   # results for anyone, at any time
        "title": "Open results",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Should the library open on Sundays?",
             "yes": "o1", "no": None},
            {"id": "o1", "type": "outcome", "text": "Sunday opening is trialled"},
        ],
    },
    {   # paused, results public
        "title": "A paused poll",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Is the ferry on time?", "yes": "o1"},
            {"id": "o1", "type": "outcome", "text": "Timetable kept"},
        ],
    },
    {   # closed, results once closed
        "title": "A poll that has closed",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Was this poll closed?", "yes": "o1"},
            {"id": "o1", "type": "outcome", "text": "It was"},
        ],
    },
    {   # two branches join into one outcome: "No" at once, or "Yes" then "No"
        "title": "Joined endings",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Is the bridge safe?", "yes": "q2",
             "no": "o1"},
            {"id": "q2", "type": "question", "text": "Should it stay open?", "yes": "o2",
             "no": "o1"},
            {"id": "o1", "type": "outcome", "text": "The bridge closes"},
            {"id": "o2", "type": "outcome", "text": "The bridge stays open"},
        ],
    },
    {   # a newer version opens while a reader has the page open
        "title": "Market hours",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Should the market open at seven?",
             "yes": "o1", "no": "o2"},
            {"id": "o1", "type": "outcome", "text": "Stalls open at seven"},
            {"id": "o2", "type": "outcome", "text": "Stalls open at eight"},
        ],
    },
    {   # only for a page elsewhere
        "title": "A guarded poll",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": "Is this page allowed?", "yes": "o1"},
            {"id": "o1", "type": "outcome", "text": "It is"},
        ],
    },
]
# fmt: on


# --- module fixtures ----------------------------------------------------------------------------


class Service:
    def __init__(self, server: PollserverProcess, env: dict[str, str], polls: dict[str, str]):
        self.url = server.base_url
        self.env = env
        self.polls = polls
        self.db = Database(database_url_of(env))

    def snippet(self, poll: str, attributes: str = "") -> str:
        """The documented script snippet: a box with a link, its reserved room, the script."""
        poll_id = self.polls.get(poll, poll)
        return (
            f'<div class="reader-poll" data-reader-poll="{poll_id}" style="min-height:15rem" '
            f'{attributes}><a href="{self.url}/p/{poll_id}">Reader poll</a></div>'
            f'<script async src="{self.url}/widget.js"></script>'
        )

    def results(self, poll: str, token: str) -> dict:
        """The results as a finished reader (token) may see them."""
        status, body, _ = http_json(
            "GET",
            f"{self.url}/api/v1/polls/{self.polls[poll]}/results",
            headers={"X-Poll-Respondent": token},
        )
        assert status == 200, body
        return body


@pytest.fixture(scope="module")
def service(request, browser, tmp_path_factory):
    directory = tmp_path_factory.mktemp("widget-reader")
    with fresh_database_env(request, directory) as env:
        env.update(RATELIMIT_ANSWERS="1000/minute", RESPONDENTS_PER_ADDRESS_PER_DAY="1000")
        server = PollserverProcess(env).start(directory / "server.log")
        try:
            ids = import_polls(env, directory, POLLS)
            with cli_app(env) as app:
                listed = json.loads(run_cli(app, "polls", "list", "--json"))
            polls = {
                "seed": next(row["id"] for row in listed if row["title"] == SEED_TITLE),
                "pier": ids["Rebuild the pier?"],
                "public": ids["Open results"],
                "paused": ids["A paused poll"],
                "closed": ids["A poll that has closed"],
                "guarded": ids["A guarded poll"],
                "joined": ids["Joined endings"],
                "versioned": ids["Market hours"],
            }
            change_poll_settings(env, polls["pier"], allow_answer_changes=True)
            for name in ("public", "paused"):
                change_poll_settings(env, polls[name], results_visibility="public")
            change_poll_settings(env, polls["closed"], results_visibility="after_close")
            change_poll_settings(env, polls["guarded"], allowed_origins=["https://news.example"])
            change_poll_settings(env, polls["joined"], results_visibility="public")
            for name in ("paused", "closed"):
                url = f"{server.base_url}/api/v1/polls/{polls[name]}/answers"
                answer = {"respondent": None, "node": "q1", "answer": "yes"}
                assert http_json("POST", url, answer)[0] == 201
            with cli_app(env) as app:
                run_cli(app, "polls", "pause", "--", polls["paused"])
                run_cli(app, "polls", "close", "--", polls["closed"])
            answer_as_other_readers(server.base_url, polls["seed"], OTHER_READERS)
            service = Service(server, env, polls)
            yield service
            service.db.close()
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


def article(body: str, *, title: str = "A publisher's article") -> str:
    return host_page(f"<h1>{title}</h1>{body}<p>The article goes on below the poll.</p>")


def walk_seed(poll, first: str, second: str) -> None:
    """Answer both seed questions, the second once it is asked."""
    poll.get_by_role("button", name=first, exact=True).click()
    expect(poll.locator(".q")).to_have_text(SEED_Q2)
    poll.get_by_role("button", name=second, exact=True).click()
    expect(poll.locator(".o")).to_be_visible()


def shares(locator) -> list[int]:
    return [int(text.rstrip("%")) for text in locator.all_inner_texts()]


def test_every_language_has_every_word_with_the_same_placeholders():
    folder = REPO_ROOT / "widget" / "words"
    english = json.loads((folder / "en.json").read_text())
    for language in ("de", "fr"):
        words = json.loads((folder / f"{language}.json").read_text())
        assert list(words) == list(english), language
        for key, text in words.items():
            assert text.strip(), (language, key)
            placeholders = sorted(re.findall(r"\{(\w)\}", text))
            assert placeholders == sorted(re.findall(r"\{(\w)\}", english[key])), (language, key)


# --- results --------------------------------------------------------------------------------------


def test_finished_card_reads_as_an_editorial_module_in_light_dark_and_on_a_phone(
    service, host, page
):
    seed = service.polls["seed"]
    page.goto(host.add("/finished.html", article(service.snippet("seed"))))
    poll = widget(page, seed)
    walk_seed(poll, "Yes", "No")

    # Where the reader's answers lead: one path, the outcomes in order.
    expect(poll.locator(".o")).to_have_text(f"Your answers lead to: {FAILED}")
    expect(poll.locator(".o bdi")).to_have_text(FAILED.split(" → "))
    expect(poll.locator("ol, ul, li")).to_have_count(0)
    # Headings: the title, then one per question and one for the endings.
    expect(poll.get_by_role("heading", level=2)).to_have_text(SEED_TITLE)
    expect(poll.get_by_role("heading", level=3)).to_have_text(
        [SEED_Q1, SEED_Q2, "Where readers ended up"]
    )

    # Each answer: its bar, its share, the readers behind it; the reader's own answer marked;
    # and the margin of error from the interval the API sends.
    results = service.results("seed", stored_token(page, seed))
    assert results["shares_published"]
    first = poll.locator(".r").nth(0)
    q1 = results["questions"]["q1"]
    expect(first.locator(".l")).to_have_text(["Yes (your answer)", "No"])
    expect(first.locator(".p")).to_have_text(
        [f"{round(q1['yes_share'] * 100)}%", f"{round((1 - q1['yes_share']) * 100)}%"]
    )
    expect(first.locator(".c")).to_have_text([f"{q1['yes']} readers", f"{q1['no']} readers"])
    low, high = q1["yes_interval"]
    expect(first.locator(".mt")).to_have_text(f"Margin of error ±{round((high - low) * 50)} points")
    widths = first.locator(".b i").evaluate_all(
        "bars => bars.map(i => i.getBoundingClientRect().width / i.parentNode.clientWidth)"
    )
    assert widths == pytest.approx([q1["yes_share"], 1 - q1["yes_share"]], abs=0.02)
    expect(poll.locator(".r").nth(1).locator(".l.m")).to_have_text("No (your answer)")

    # Where readers ended up: every ending, the reader's marked, adding up to every finished reader.
    endings = poll.locator(".e .l")
    expect(endings).to_have_count(len(results["endings"]))
    expect(poll.locator(".e .l.m")).to_have_text(f"{FAILED} (your answer)")
    assert set(endings.all_text_contents()) == {GOOD, f"{FAILED} (your answer)", SEED_NO_ENDING}
    assert sum(ending["respondents"] for ending in results["endings"]) == results["finished"]
    assert 99 <= sum(shares(poll.locator(".e .p"))) <= 101
    expect(poll.locator(".f")).to_have_text(
        f"{results['respondents']} readers · Self-selected, not representative."
    )

    # Not everything bold: the body text is regular, the headings and figures carry the weight.
    weights = poll.evaluate(
        """el => Object.fromEntries(['h2', 'h3', '.c', '.mt', '.e .l:not(.m)', '.f'].map(s =>
             [s, getComputedStyle(el.shadowRoot.querySelector(s)).fontWeight]))"""
    )
    assert weights == {
        "h2": "700",
        "h3": "600",
        ".c": "400",
        ".mt": "400",
        ".e .l:not(.m)": "400",
        ".f": "400",
    }
    settled(poll)
    save_screenshot(poll, "widget-results.png")

    page.emulate_media(color_scheme="dark")
    background = poll.evaluate(
        "el => getComputedStyle(el.shadowRoot.querySelector('section')).backgroundColor"
    )
    assert background == "rgb(31, 31, 35)"
    save_screenshot(poll, "widget-results-dark.png")

    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 375, "height": 800})
    height = poll.evaluate("el => el.getBoundingClientRect().height")
    assert height <= 600, f"the finished seed poll is {height} px tall at 375 px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    save_screenshot(poll, "widget-results-375.png")


def test_a_path_ending_on_no_says_the_answer_counted_and_how_readers_answered(service, host, page):
    seed = service.polls["seed"]
    page.goto(host.add("/no.html", article(service.snippet("seed"))))
    poll = widget(page, seed)
    poll.get_by_role("button", name="No").click()
    counted = poll.locator(".o")
    expect(counted).to_have_text("Your answer has been counted.")
    expect(counted).to_be_focused()
    expect(poll.get_by_text("Thank you", exact=False)).to_have_count(0)
    # How readers answered that question, and the endings: theirs is one of them.
    expect(poll.get_by_role("heading", level=3)).to_have_text([SEED_Q1, "Where readers ended up"])
    expect(poll.locator(".l.m")).to_have_text(
        ["No (your answer)", f"{SEED_NO_ENDING} (your answer)"]
    )
    token = stored_token(page, seed)
    assert service.db.answers_of(token) == [("q1", "no")]
    settled(poll)
    assert_no_axe_violations(page)


# --- closed, paused, public results ---------------------------------------------------------------


def test_a_closed_poll_shows_a_new_reader_a_card_with_its_results(service, host, page):
    closed = service.polls["closed"]
    page.goto(host.add("/closed.html", article(service.snippet("closed"))))
    poll = widget(page, closed)
    expect(poll.locator(".st")).to_have_text("This poll has closed.")
    expect(poll.get_by_role("button")).to_have_count(0)  # never a question without buttons
    expect(poll.get_by_role("heading", level=3, name="Was this poll closed?")).to_be_visible()
    # One reader: too few for shares, so counts, and why.
    expect(poll.locator(".g:not(.e)")).to_have_text("Yes1 readerNo0 readers")
    expect(poll.locator(".f")).to_contain_text("Percentages from 10 readers on.")
    settled(poll)
    save_screenshot(poll, "widget-closed.png")


def test_a_paused_poll_shows_a_new_reader_a_card_with_public_results(service, host, page):
    paused = service.polls["paused"]
    page.goto(host.add("/paused.html", article(service.snippet("paused"))))
    poll = widget(page, paused)
    expect(poll.locator(".st")).to_have_text("This poll is paused. Come back later.")
    expect(poll.get_by_role("button")).to_have_count(0)
    expect(poll.get_by_role("heading", level=3, name="Is the ferry on time?")).to_be_visible()
    expect(poll.locator(".e")).to_have_text("Timetable kept1 reader")


def test_public_results_can_be_seen_before_answering_and_the_reader_comes_back(service, host, page):
    public = service.polls["public"]
    page.goto(host.add("/public.html", article(service.snippet("public"))))
    poll = widget(page, public)
    see = poll.get_by_role("button", name="See results")
    expect(see).to_be_visible()
    see.click()
    expect(poll.get_by_role("heading", level=3, name="Should the library open on Sundays?"))
    expect(poll.locator(".l.m")).to_have_count(0)  # nothing of the reader's to mark yet
    expect(poll.get_by_role("button", name="Yes")).to_have_count(0)
    poll.get_by_role("button", name="Back to the question").click()
    question = poll.locator(".q")
    expect(question).to_have_text("Should the library open on Sundays?")
    expect(question).to_be_focused()
    poll.get_by_role("button", name="No").click()
    expect(poll.locator(".o")).to_have_text("Your answer has been counted.")
    expect(poll.locator(".l.m")).to_have_text(
        [
            "No (your answer)",
            "Said No to “\u2068Should the library open on Sundays?\u2069” (your answer)",
        ]
    )


# --- changing an answer ---------------------------------------------------------------------------


def test_a_reader_goes_back_and_changes_their_last_answer_and_the_counts_follow(
    service, host, page
):
    pier = service.polls["pier"]
    page.goto(host.add("/pier.html", article(service.snippet("pier"))))
    poll = widget(page, pier)
    expect(poll.get_by_role("button", name="Previous question")).to_have_count(0)  # none yet
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text("Question 2 of 2", exact=True)).to_be_visible()

    # Back to the first question, and a different answer: the path below it goes.
    poll.get_by_role("button", name="Previous question").click()
    expect(poll.get_by_text("Question 1 of 2", exact=True)).to_be_visible()
    expect(poll.locator(".q")).to_be_focused()
    poll.get_by_role("button", name="No").click()
    expect(poll.locator(".o")).to_have_text("Your answers lead to: The pier is demolished")
    token = stored_token(page, pier)
    assert service.db.answers_of(token) == [("q1", "no")]
    expect(poll.locator(".g:not(.e)")).to_have_text("Yes0 readersNo (your answer)1 reader")

    # The last answer changed at the end: the tallies follow.
    poll.get_by_role("button", name="Change my last answer").click()
    expect(poll.locator(".q")).to_have_text("Should the pier be rebuilt?")
    poll.get_by_role("button", name="Yes").click()
    expect(poll.locator(".q")).to_have_text("Should the town pay for it?")
    poll.get_by_role("button", name="Yes").click()
    expect(poll.locator(".o")).to_have_text("Your answers lead to: Council tax rises")
    assert service.db.answers_of(token) == [("q1", "yes"), ("q2", "yes")]
    expect(poll.locator(".g:not(.e)").first).to_have_text("Yes (your answer)1 readerNo0 readers")
    assert service.db.respondent_count(pier) == 1


def test_a_poll_without_answer_changes_offers_none(service, host, page):
    seed = service.polls["seed"]
    page.goto(host.add("/no-changes.html", article(service.snippet("seed"))))
    poll = widget(page, seed)
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text("Question 2 of 2", exact=True)).to_be_visible()
    expect(poll.get_by_role("button", name="Previous question")).to_have_count(0)
    poll.get_by_role("button", name="Yes").click()
    expect(poll.locator(".o")).to_contain_text("Your answers lead to:")
    expect(poll.get_by_role("button", name="Change my last answer")).to_have_count(0)


# --- one reader per browser -----------------------------------------------------------------------


def test_the_same_poll_twice_on_a_page_is_one_reader_drawn_twice(service, host, page):
    seed = service.polls["seed"]
    before = service.db.respondent_count(seed)
    page.goto(
        host.add(
            "/twice.html",
            article(
                service.snippet("seed") + "<p>Between the copies.</p>" + service.snippet("seed")
            ),
        )
    )
    first, second = widget(page, seed).nth(0), widget(page, seed).nth(1)
    first.get_by_role("button", name="Yes").click()
    # Both copies move on together; the second carries on the same reader's walk.
    expect(second.get_by_text("Question 2 of 2", exact=True)).to_be_visible()
    expect(first.get_by_text("Question 2 of 2", exact=True)).to_be_visible()
    second.get_by_role("button", name="No").click()
    for copy in (first, second):
        expect(copy.locator(".o")).to_have_text(f"Your answers lead to: {FAILED}")
    # Focus followed the reader in the copy they used, not in the other.
    expect(second.locator(".o")).to_be_focused()
    assert service.db.respondent_count(seed) == before + 1
    assert service.db.answers_of(stored_token(page, seed)) == [("q1", "yes"), ("q2", "no")]


def test_two_tabs_of_one_browser_are_one_reader_and_stay_in_step(service, host, context):
    seed = service.polls["seed"]
    before = service.db.respondent_count(seed)
    url = host.add("/tabs.html", article(service.snippet("seed")))
    one, two = context.new_page(), context.new_page()
    problems = [PageProblems(one), PageProblems(two)]
    one.goto(url)
    two.goto(url)
    expect(widget(two, seed).locator(".q")).to_have_text(SEED_Q1)
    widget(one, seed).get_by_role("button", name="Yes").click()
    # The other tab hears of it and follows.
    expect(widget(two, seed).locator(".q")).to_have_text(SEED_Q2)
    widget(two, seed).get_by_role("button", name="Yes").click()
    expect(widget(one, seed).locator(".o")).to_have_text(f"Your answers lead to: {GOOD}")
    assert service.db.respondent_count(seed) == before + 1
    assert stored_token(one, seed) == stored_token(two, seed)
    assert [p.errors for p in problems] == [[], []]


def test_a_tab_that_missed_the_news_answers_as_the_same_reader(service, host, context):
    """A tab that did not hear the other start the reader (its storage event lost, say) reads the
    stored token before it posts a first answer."""
    seed = service.polls["seed"]
    before = service.db.respondent_count(seed)
    url = host.add("/deaf-tab.html", article(service.snippet("seed")))
    one, two = context.new_page(), context.new_page()
    two.add_init_script(
        "window.addEventListener('storage', e => e.stopImmediatePropagation(), true)"
    )
    one.goto(url)
    two.goto(url)
    widget(one, seed).get_by_role("button", name="Yes").click()
    expect(widget(one, seed).locator(".q")).to_have_text(SEED_Q2)
    expect(widget(two, seed).locator(".q")).to_have_text(SEED_Q1)  # it heard nothing
    widget(two, seed).get_by_role("button", name="Yes").click()
    # Answered as the reader the other tab started: the server says where they stand.
    expect(widget(two, seed).locator(".q")).to_have_text(SEED_Q2)
    assert service.db.respondent_count(seed) == before + 1


def test_a_lost_reply_retried_stays_one_reader(service, host, page):
    seed = service.polls["seed"]
    before = service.db.respondent_count(seed)
    posted: list[dict] = []

    def lose_the_first_reply(route):
        if route.request.method != "POST":
            return route.continue_()
        posted.append(route.request.post_data_json)
        if len(posted) == 1:
            route.fetch()  # the server stores the answer...
            return route.abort("connectionreset")  # ...and its reply never arrives
        return route.continue_()

    page.route(f"{service.url}/api/v1/polls/{seed}/answers", lose_the_first_reply)
    page.goto(host.add("/lost.html", article(service.snippet("seed"))))
    poll = widget(page, seed)
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_role("alert")).to_contain_text("Check your connection.")
    assert service.db.respondent_count(seed) == before + 1  # stored, though the reader never knew
    poll.get_by_role("button", name="Try again").click()
    expect(poll.locator(".q")).to_have_text(SEED_Q2)
    assert service.db.respondent_count(seed) == before + 1
    key = posted[0]["request_key"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", key)
    assert [body["request_key"] for body in posted] == [key, key]
    assert service.db.answers_of(stored_token(page, seed)) == [("q1", "yes")]


# --- messages -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "yes", "said"),
    [
        ("en", "Yes", "Something went wrong.Try again"),
        ("de", "Ja", "Etwas ist schiefgegangen.Erneut versuchen"),
    ],
)
def test_a_refusal_the_widget_has_no_words_for_is_said_in_the_readers_language(
    service, host, page, lang, yes, said
):
    """The fallback for a refusal the widget has no words for: its own words, in the reader's
    language, never the server's message (English, and written for developers). The answer's
    reply is replaced here, because the real server gives no such refusal to a widget on demand
    (a database outage, the one refusal that is provoked for real, is
    tests/e2e/test_widget_limits.py's)."""
    seed = service.polls["seed"]
    page.route(
        f"{service.url}/api/v1/polls/{seed}/answers",
        lambda route: (
            route.continue_()
            if route.request.method != "POST"
            else route.fulfill(
                status=400,
                headers={"Access-Control-Allow-Origin": "*"},
                json={"error": {"code": 400, "message": "This poll takes no answers today."}},
            )
        ),
    )
    snippet = service.snippet("seed", f'data-lang="{lang}"')
    page.goto(host.add(f"/message-{lang}.html", article(snippet)))
    poll = widget(page, seed)
    poll.get_by_role("button", name=yes).click()
    expect(poll.get_by_role("alert")).to_have_text(said)
    expect(poll.get_by_role("alert").get_by_role("button")).to_be_focused()
    expect(poll.locator(".q")).to_have_text(SEED_Q1)  # the question stays


def test_a_page_the_poll_does_not_allow_is_told_so(service, host, page):
    guarded = service.polls["guarded"]
    page.goto(host.add("/elsewhere.html", article(service.snippet("guarded"))))
    poll = widget(page, guarded)
    expect(poll.get_by_role("alert")).to_have_text("This poll is not available on this page.")
    expect(poll.get_by_role("button")).to_have_count(0)  # trying again would not help
    settled(poll)
    save_screenshot(poll, "widget-message.png")


# --- publishers' hooks ----------------------------------------------------------------------------


def test_answer_and_finish_events_bubble_with_nothing_about_the_reader(service, host, page):
    seed = service.polls["seed"]
    page.add_init_script(
        """window.__events = [];
        for (const type of ['reader-poll:answer', 'reader-poll:finish']) {
          document.addEventListener(type, e => window.__events.push({type, bubbles: e.bubbles,
            on: e.target.dataset.readerPoll, detail: JSON.parse(JSON.stringify(e.detail))}));
        }"""
    )
    page.goto(host.add("/events.html", article(service.snippet("seed"))))
    poll = widget(page, seed)
    walk_seed(poll, "Yes", "No")
    version = http_json("GET", f"{service.url}/api/v1/polls/{seed}")[1]["version"]
    events = page.evaluate("window.__events")
    assert events == [
        {"type": "reader-poll:answer", "bubbles": True, "on": seed,
         "detail": {"poll": seed, "version": version, "node": "q1"}},
        {"type": "reader-poll:answer", "bubbles": True, "on": seed,
         "detail": {"poll": seed, "version": version, "node": "q2"}},
        {"type": "reader-poll:finish", "bubbles": True, "on": seed,
         "detail": {"poll": seed, "version": version, "node": "q2"}},
    ]  # fmt: skip
    token = stored_token(page, seed)
    assert token not in json.dumps(events)


def test_changed_attributes_redraw_the_poll(service, host, page):
    public = service.polls["public"]
    page.goto(host.add("/attributes.html", article(service.snippet("seed"))))
    poll = page.locator(".reader-poll")
    expect(poll.locator(".q")).to_have_text(SEED_Q1)
    poll.evaluate("el => el.dataset.lang = 'de'")
    expect(poll.get_by_text("Frage 1 von 2", exact=True)).to_be_visible()
    expect(poll.get_by_role("button", name="Nein")).to_be_visible()
    assert poll.evaluate("el => el.shadowRoot.querySelector('section').lang") == "de"
    poll.evaluate("el => el.dataset.theme = 'dark'")
    expect(poll.locator("section")).to_have_css("background-color", "rgb(31, 31, 35)")
    poll.evaluate(f"el => el.dataset.readerPoll = '{public}'")
    expect(poll.locator(".q")).to_have_text("Should the library open on Sundays?")
    expect(poll.get_by_role("button", name="Ergebnisse ansehen")).to_be_visible()
    expect(poll.locator("section")).to_have_count(1)


def test_language_and_direction_are_the_widgets_own(service, host, page):
    seed = service.polls["seed"]
    body = (
        service.snippet("seed")
        + '<div data-reader-poll="'
        + seed
        + '" data-lang="ar" data-label-yes="نعم"></div>'
    )
    page.goto(
        host.add(
            "/rtl.html",
            host_page(f"<h1>مقال</h1>{body}").replace('lang="en"', 'lang="ar" dir="rtl"'),
        )
    )
    english, arabic = widget(page, seed).nth(0), widget(page, seed).nth(1)
    expect(english.locator(".q")).to_have_text(SEED_Q1)
    # The English poll on an Arabic page: its own language and direction.
    assert english.evaluate("el => [el.shadowRoot.querySelector('section').lang,"
                            " getComputedStyle(el.shadowRoot.querySelector('section')).direction]"
                            ) == ["en", "ltr"]  # fmt: skip
    # Asked for in Arabic (words fall back to English, but any may be given): right to left.
    assert arabic.evaluate("el => [el.shadowRoot.querySelector('section').lang,"
                           " getComputedStyle(el.shadowRoot.querySelector('section')).direction]"
                           ) == ["ar", "rtl"]  # fmt: skip
    expect(arabic.get_by_role("button", name="نعم")).to_be_visible()
    # The editors' texts keep their own direction inside it.
    expect(arabic.locator(".q")).to_have_attribute("dir", "auto")
    expect(arabic.locator("h2")).to_have_attribute("dir", "auto")
    question = arabic.locator(".q").evaluate("q => getComputedStyle(q).direction")
    assert question == "ltr"
    # Everything else follows the widget's direction: the buttons and links run right to left.
    directions = arabic.evaluate(
        "el => ['.v', '.bs', '.k', '.lk'].map(s =>"
        " getComputedStyle(el.shadowRoot.querySelector(s)).direction)"
    )
    assert directions == ["rtl"] * 4


def test_result_bars_show_in_forced_colours(service, host, page):
    seed = service.polls["seed"]
    page.goto(host.add("/forced.html", article(service.snippet("seed"))))
    poll = widget(page, seed)
    walk_seed(poll, "Yes", "Yes")
    expect(poll.locator(".b").first).to_be_visible()
    page.emulate_media(forced_colors="active")
    bars = poll.locator(".b i").evaluate_all(
        "bars => bars.map(i => [i.getBoundingClientRect().width, i.getBoundingClientRect().height,"
        " getComputedStyle(i).backgroundColor])"
    )
    assert bars and all(width > 0 and height > 0 for width, height, _ in bars), bars
    assert all(colour not in ("transparent", "rgba(0, 0, 0, 0)") for *_, colour in bars), bars
    tracks = poll.locator(".b").evaluate_all(
        "bars => bars.map(b => getComputedStyle(b).borderTopStyle)"
    )
    assert set(tracks) == {"solid"}  # the whole scale is drawn, not only the filled part
    save_screenshot(poll, "widget-forced-colours.png")


# --- accessibility in every state -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_state_has_no_axe_violations(service, host, browser, scheme):
    """Question, results, closed, paused, an error message, a refusal and the desk's preview, on
    one page, checked by axe-core in light and dark."""
    polls = service.polls
    preview = http_json("GET", f"{service.url}/api/v1/polls/{polls['public']}")[1]
    host.add("/preview-document.json", json.dumps(preview))
    unreachable = "no-route-to-it"
    body = "".join(
        f"<h2>{name}</h2>{snippet}"
        for name, snippet in [
            ("Question", service.snippet("pier")),
            ("Results", service.snippet("seed")),
            ("Closed", service.snippet("closed")),
            ("Paused", service.snippet("paused")),
            ("Refused", service.snippet("guarded")),
            ("Unreachable", service.snippet(unreachable)),
            (
                "Preview",
                service.snippet("public", 'data-preview-src="/preview-document.json"'),
            ),
        ]
    )
    context = browser.new_context(viewport={"width": 900, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    problems = PageProblems(page)
    page.route(
        f"{service.url}/api/v1/polls/{unreachable}", lambda route: route.abort("addressunreachable")
    )
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.method + " " + request.url))
    page.goto(host.add(f"/states-{scheme}.html", article(body, title="Every state")))

    seed = widget(page, polls["seed"])
    walk_seed(seed, "Yes", "Yes")
    expect(seed.locator(".e")).to_be_visible()
    expect(widget(page, polls["pier"]).locator(".q")).to_be_visible()
    expect(widget(page, polls["closed"]).locator(".st")).to_be_visible()
    expect(widget(page, polls["paused"]).locator(".st")).to_be_visible()
    expect(widget(page, polls["guarded"]).get_by_role("alert")).to_be_visible()
    expect(widget(page, unreachable).get_by_role("alert")).to_contain_text("Check your connection")
    preview_box = page.locator("[data-preview-src]")
    expect(preview_box.locator(".pv")).to_have_text("Preview: nothing you answer here is counted.")
    preview_box.get_by_role("button", name="Yes").click()
    expect(preview_box.get_by_role("button", name="Start again")).to_be_visible()
    for box in page.locator("[data-reader-poll]").all():
        settled(box)
    assert_no_axe_violations(page)
    # The preview asked the public API nothing and kept nothing in the browser.
    assert not [r for r in sent if f"/api/v1/polls/{polls['public']}" in r]
    kept = page.evaluate("Object.keys(localStorage)")
    assert not [name for name in kept if polls["public"] in name], kept

    # Results seen before answering, then a message: no violations either.
    public = service.snippet("public")
    page.goto(host.add(f"/states-more-{scheme}.html", article(public, title="More states")))
    box = widget(page, polls["public"])
    box.get_by_role("button", name="See results").click()
    expect(box.get_by_role("button", name="Back to the question")).to_be_visible()
    settled(box)
    assert_no_axe_violations(page)
    context.close()
    assert problems.errors == []


# --- found in review ------------------------------------------------------------------------------


def test_the_readers_ending_is_marked_where_branches_join(service, host, page):
    """Readers reach "The bridge closes" from two branches; the ending is named after the branch
    most of them took (a first "No"). A reader who came by the other branch still finds it
    marked as theirs."""
    joined = service.polls["joined"]
    url = f"{service.url}/api/v1/polls/{joined}/answers"
    for _ in range(3):
        assert http_json("POST", url, {"respondent": None, "node": "q1", "answer": "no"})[0] == 201
    page.goto(host.add("/joined.html", article(service.snippet(joined))))
    poll = widget(page, joined)
    poll.get_by_role("button", name="Yes").click()
    expect(poll.locator(".q")).to_have_text("Should it stay open?")
    poll.get_by_role("button", name="No").click()
    expect(poll.locator(".o")).to_have_text("Your answers lead to: The bridge closes")
    expect(poll.locator(".e .l.m")).to_have_text("The bridge closes (your answer)")


def test_another_tab_follows_an_answer_with_one_request(service, host, context):
    """A tab hears of an answer given in another through storage: it asks where the reader
    stands, once, and nothing else."""
    seed = service.polls["seed"]
    url = host.add("/quiet-tabs.html", article(service.snippet("seed")))
    one, two = context.new_page(), context.new_page()
    one.goto(url)
    two.goto(url)
    expect(widget(two, seed).locator(".q")).to_have_text(SEED_Q1)
    asked: list[str] = []
    two.on("request", lambda request: asked.append(f"{request.method} {request.url}"))
    widget(one, seed).get_by_role("button", name="Yes").click()
    expect(widget(two, seed).locator(".q")).to_have_text(SEED_Q2)
    widget(one, seed).get_by_role("button", name="No").click()
    expect(widget(two, seed).locator(".o")).to_have_text(f"Your answers lead to: {FAILED}")
    two.wait_for_timeout(300)  # anything more would have been asked by now
    api = f"{service.url}/api/v1/polls/{seed}"
    assert asked == [f"GET {api}/progress", f"GET {api}/progress"]


def test_a_box_taken_off_the_page_is_let_go_and_drawn_again_when_it_comes_back(
    service, host, context
):
    """As on a single-page site: a poll removed from the page asks nothing more of the server,
    and the same box put back is drawn afresh."""
    seed = service.polls["seed"]
    url = host.add("/single-page.html", article(service.snippet("seed")))
    one, two = context.new_page(), context.new_page()
    one.goto(url)
    two.goto(url)
    expect(widget(one, seed).locator(".q")).to_have_text(SEED_Q1)
    one.evaluate("window.__box = document.querySelector('.reader-poll'); window.__box.remove()")
    asked: list[str] = []
    one.on("request", lambda request: asked.append(request.url))
    widget(two, seed).get_by_role("button", name="Yes").click()
    expect(widget(two, seed).locator(".q")).to_have_text(SEED_Q2)
    one.wait_for_timeout(300)
    assert asked == []  # the removed poll did not follow the other tab
    one.evaluate("document.querySelector('main').append(window.__box)")
    expect(widget(one, seed).locator(".q")).to_have_text(SEED_Q2)
    expect(widget(one, seed).locator("section")).to_have_count(1)


def test_a_version_opened_while_the_page_is_open_is_met_at_the_readers_next_answer(
    service, host, page
):
    poll_id = service.polls["versioned"]
    page.goto(host.add("/versions.html", article(service.snippet(poll_id))))
    poll = widget(page, poll_id)
    expect(poll.locator(".q")).to_have_text("Should the market open at seven?")

    # Meanwhile an editor opens a version 2 with a reworded question.
    with cli_app(service.env) as app:
        created = app.test_cli_runner().invoke(
            args=["tokens", "create", "--name", "editor", "--role", "moderator"]
        )
    assert created.exit_code == 0, created.output
    admin = {"Authorization": f"Bearer {created.stdout.strip()}"}
    document = http_json("GET", f"{service.url}/api/v1/polls/{poll_id}")[1]
    definition = {
        "title": document["title"],
        "root": document["root"],
        "nodes": [
            {**node, "text": "Should the market open at half past seven?"}
            if node["id"] == "q1"
            else node
            for node in document["nodes"]
        ],
    }
    url = f"{service.url}/api/v1/admin/polls/{poll_id}"
    status, body, _ = http_json("POST", f"{url}/versions", definition, headers=admin)
    assert status == 201, body
    status, body, _ = http_json("POST", f"{url}/status", {"status": "open"}, headers=admin)
    assert status == 200, body
    page.wait_for_timeout(1100)  # a process reuses a poll's document for a second

    # The reader answers the question they see: the server says a newer version is open, and
    # the widget shows it instead of counting an answer to the old one.
    poll.get_by_role("button", name="Yes").click()
    expect(poll.locator(".q")).to_have_text("Should the market open at half past seven?")
    assert stored_token(page, poll_id) is None
    assert service.db.respondent_count(poll_id) == 0
    poll.get_by_role("button", name="Yes").click()
    expect(poll.locator(".o")).to_have_text("Your answers lead to: Stalls open at seven")
    assert service.db.answers_of(stored_token(page, poll_id)) == [("q1", "yes")]
    assert page.evaluate(f"localStorage.getItem('reader-poll:{poll_id}')").startswith("2:")
