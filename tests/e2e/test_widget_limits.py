"""The daily cap on new readers from one address, as a reader meets it in the widget (Debian's
Chromium via Playwright), in each of the widget's languages, against a real server whose cap is
low: the words say "tomorrow", never a count of seconds.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from browser_support import (
    HostSite,
    PageProblems,
    cli_app,
    fresh_database_env,
    host_page,
    launch_chromium,
    run_cli,
    save_screenshot,
    settled,
    stored_token,
    widget,
)
from support import PollserverProcess, http_json

pytestmark = [pytest.mark.browser, pytest.mark.server]

CAP = 2  # new readers per address, poll and day
SEED_Q1 = "Russia allowed North Korean military in Ukraine?"
CAP_MESSAGES = {
    "en": "Too many new readers from your network today. Try again tomorrow.",
    "de": "Heute zu viele neue Teilnehmende aus Ihrem Netz. Versuchen Sie es morgen wieder.",
    "fr": "Trop de nouveaux participants depuis votre réseau aujourd’hui. Réessayez demain.",
}
YES = {"en": "Yes", "de": "Ja", "fr": "Oui"}


@pytest.fixture(scope="module")
def capped(request, tmp_path_factory):
    """A pollserver whose seed poll has already had this address's new readers for today."""
    directory = tmp_path_factory.mktemp("widget-cap")
    with fresh_database_env(request, directory) as env:
        env.update(RATELIMIT_ANSWERS="1000/minute", RESPONDENTS_PER_ADDRESS_PER_DAY=str(CAP))
        server = PollserverProcess(env).start(directory / "server.log")
        try:
            with cli_app(env) as app:
                (seed,) = json.loads(run_cli(app, "polls", "list", "--json"))
            url = f"{server.base_url}/api/v1/polls/{seed['id']}/answers"
            first = {"respondent": None, "node": "q1", "answer": "no"}
            for _ in range(CAP):
                assert http_json("POST", url, first)[0] == 201
            status, body, headers = http_json("POST", url, first)
            assert status == 429 and body["error"]["details"]["reason"] == "daily_cap", body
            assert int(headers["Retry-After"]) > 0
            yield server.base_url, seed["id"]
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_the_daily_cap_says_try_again_tomorrow_in_the_readers_language(capped, browser, lang):
    base_url, seed = capped
    site = HostSite()
    context = browser.new_context(viewport={"width": 700, "height": 800})
    page = context.new_page()
    problems = PageProblems(page)
    try:
        page.goto(
            site.add(
                f"/cap-{lang}.html",
                host_page(
                    f'<h1>Article</h1><div class="reader-poll" data-reader-poll="{seed}" '
                    f'data-lang="{lang}" style="min-height:15rem"></div>'
                    f'<script async src="{base_url}/widget.js"></script>'
                ),
            )
        )
        poll = widget(page, seed)
        poll.get_by_role("button", name=YES[lang]).click()
        alert = poll.get_by_role("alert")
        expect(alert).to_contain_text(CAP_MESSAGES[lang])
        text = alert.text_content()
        assert not re.search(r"\d", text), text  # no count of seconds, nor any other
        expect(poll.locator(".q")).to_have_text(SEED_Q1)  # the question stays
        assert stored_token(page, seed) is None
        if lang == "de":
            settled(poll)
            save_screenshot(poll, "widget-cap-de.png")
    finally:
        context.close()
        site.close()
    assert problems.errors == []
