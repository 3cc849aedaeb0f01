"""A page on an origin the poll does not allow reads its refusal in a real browser (Debian's
Chromium), for a simple read, a read with the reader's header and a preflighted answer; and
that answer stores nothing. The API's side of the contract is in test_refusals.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from browser_support import (
    Database,
    HostSite,
    cli_app,
    database_url_of,
    fresh_database_env,
    host_page,
    launch_chromium,
)
from helpers import ARTICLES_DIR, open_poll_from_article
from support import PollserverProcess

pytestmark = [pytest.mark.browser, pytest.mark.server]

# What the page runs: each request as the widget makes it, reporting what the page could read.
FETCH_ALL = """async (api) => {
    const read = async (path, options) => {
        try {
            const response = await fetch(api + path, {credentials: "omit", ...options});
            return {
                status: response.status,
                body: await response.json(),
                retryAfter: response.headers.get("Retry-After"),
            };
        } catch (error) {
            return {status: "network error", body: String(error)};
        }
    };
    const post = {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({respondent: null, node: "q1", answer: "yes",
                              request_key: "bG9zdC1yZXBseS1rZXktMQ"}),
    };
    return {
        poll: await read(""),
        progress: await read("/progress", {headers: {"X-Poll-Respondent": "t".repeat(32)}}),
        answer: await read("/answers", post),
    };
}"""


def test_a_disallowed_origin_reads_a_403_saying_why_and_nothing_is_stored(request, tmp_path):
    host = HostSite()
    try:
        with fresh_database_env(request, tmp_path) as env:
            server = PollserverProcess(env).start(tmp_path / "server.log")
            try:
                with cli_app(env) as app:
                    poll_id = open_poll_from_article(
                        app,
                        ARTICLES_DIR / "one_question.txt",
                        allowed_origins=["https://paper.example"],
                    )
                url = host.add("/article.html", host_page("<p>An article.</p>"))
                with sync_playwright() as playwright:
                    browser = launch_chromium(playwright)
                    page = browser.new_page()
                    page.goto(url)
                    seen = page.evaluate(FETCH_ALL, f"{server.base_url}/api/v1/polls/{poll_id}")
                    browser.close()
                database = Database(database_url_of(env))
                respondents = database.respondent_count(poll_id)
                database.close()
            finally:
                server.stop()
    finally:
        host.close()
    for name in ("poll", "progress", "answer"):
        assert seen[name]["status"] == 403, (name, seen[name])
        error = seen[name]["body"]["error"]
        assert error["message"] == "This poll is not available on this page.", name
        assert error["details"] == {"reason": "origin_not_allowed", "origin": [host.base_url]}
    assert respondents == 0
