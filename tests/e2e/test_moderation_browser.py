"""The moderation page in a real browser (Debian's Chromium via Playwright), against a real server.

One moderator's afternoon, end to end: sign in at /admin with a token, open the draft poll that
``pollserver import`` built from seeds/001, answer it as a reader through the widget on the demo
page, hide that reader's response on the poll's page, see the results drop, and restore it.
Everything after the setup (a server on a fresh database, the import, the token) goes through
the browser's own clicks and forms.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from playwright.sync_api import expect, sync_playwright

from browser_support import PageProblems, cli_app, fresh_database_env, launch_chromium
from helpers import SEEDS_DIR
from support import PollserverProcess, http_json, pollserver_executable

pytestmark = [pytest.mark.browser, pytest.mark.server]

SEED_TITLE = "A Fragile Alliance Forged in Fire"
SEED_Q1 = "Russia allowed North Korean military in Ukraine?"
SEED_Q2 = "Was the operation a good result?"
SEED_OUTCOME = "Operation had a good result"
# A question's numbers on the poll's page: Reached, Yes, No, Dropped off, Yes share (a share only
# from the minimum sample on, so a dash here).
NOBODY = ["0", "0", "0", "0", "—"]
ONE_YES = ["1", "1", "0", "0", "—"]


def pollserver_command(server: PollserverProcess, *args: str) -> str:
    """Run ``pollserver ARGS…`` as a user would, on the server's database; return its stdout."""
    result = subprocess.run(
        [pollserver_executable(), *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def numbers_of(row) -> list[str]:
    """The numeric cells of a table row, as shown."""
    return [text.strip() for text in row.locator("td.number").all_inner_texts()]


def hour_rows(page):
    """The rows of the table under the hourly chart: Answers, Hidden, New readers, a link."""
    activity = page.get_by_role("region", name="Answers per hour")
    return activity.get_by_role("row").filter(has=page.locator("td.number"))


def expect_hourly_totals(page, answers: int, hidden: int) -> None:
    """Answers and hidden answers summed over the hours (two answers may straddle an hour)."""
    expect(hour_rows(page).first).to_be_visible()
    rows = [numbers_of(row) for row in hour_rows(page).all()]
    assert (sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows)) == (answers, hidden), rows


def results_section(page):
    return page.get_by_role("region", name="Results")


def question_row(page, text: str):
    return (
        results_section(page)
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name=re.compile(re.escape(text))))
    )


def expect_results_on_page(page, respondents: int, finished: int, q1: list[str], q2: list[str]):
    """The results the poll's page shows: readers, and each question's row of numbers
    (Reached, Yes, No, Dropped off, Yes share)."""
    summary = results_section(page).get_by_text(re.compile(r"readers started"))
    expect(summary).to_contain_text(f"{respondents} readers started, {finished} finished")
    for text, expected in ((SEED_Q1, q1), (SEED_Q2, q2)):
        row = question_row(page, text)
        expect(row.locator("td.number")).to_have_text(expected)


def api_results(base_url: str, token: str, poll_id: str) -> dict:
    status, body, _ = http_json(
        "GET",
        f"{base_url}/api/v1/admin/polls/{poll_id}/results",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 200, body
    return body


def counted(results: dict) -> tuple[int, int, int, int]:
    """(respondents, finished, q1 yes, q2 yes) from a results document."""
    questions = results["questions"]
    return (
        results["respondents"],
        results["finished"],
        questions["q1"]["yes"],
        questions["q2"]["yes"],
    )


@pytest.fixture
def served(request, tmp_path):
    """A ``pollserver serve --no-seed`` on a brand-new database, and the environment it runs in."""
    with fresh_database_env(request, tmp_path) as env:
        server = PollserverProcess(env, args=("--no-seed",)).start(tmp_path / "server.log")
        try:
            yield server, env
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def test_moderator_hides_and_restores_a_readers_answers(served, browser):
    server, env = served
    # Setup, as an operator would do it: the sample articles become draft polls, and a
    # moderator token (made in-process on the server's database: a second CLI start is slow).
    imported = pollserver_command(server, "import", str(SEEDS_DIR))
    assert re.search(r"001_\S+: [A-Za-z0-9_-]+ \(v1, draft\)", imported), imported
    with cli_app(env) as app:
        created = app.test_cli_runner().invoke(
            args=["tokens", "create", "--name", "browser-moderator", "--role", "moderator"]
        )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("ps_"), token
    base = server.base_url

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems = PageProblems(page)

    # Sign in with the token, typed into the form.
    page.goto(f"{base}/admin/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Moderation token")).to_be_focused()
    page.get_by_label("Moderation token").press_sequentially(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/admin/polls")
    expect(page.get_by_text("Signed in as browser-moderator (moderator)")).to_be_visible()

    # The seed's poll waits among the drafts; nothing is open yet.
    expect(page.get_by_role("heading", name="Open (0)")).to_be_visible()
    drafts = page.get_by_role("region", name=re.compile(r"^Draft"))
    drafts.get_by_role("link", name=SEED_TITLE).click()
    expect(page.get_by_role("heading", level=1, name=SEED_TITLE)).to_be_visible()
    poll_id = re.search(r"/admin/polls/([A-Za-z0-9_-]+)$", page.url).group(1)
    poll_url = page.url
    expect(page.locator(".status")).to_have_text("draft")

    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("The poll is now open.")
    expect(page.locator(".status")).to_have_text("open")
    expect_results_on_page(page, 0, 0, q1=NOBODY, q2=NOBODY)

    # A reader finds the article on the demo pages and answers Yes, Yes in the widget.
    page.goto(f"{base}/")
    page.get_by_role("link", name=SEED_TITLE).click()
    expect(page.get_by_role("heading", level=1, name=SEED_TITLE)).to_be_visible()
    poll = page.locator(f'[data-reader-poll="{poll_id}"]')
    expect(poll.get_by_text(SEED_Q1)).to_be_visible()
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text(SEED_Q2)).to_be_visible()
    poll.get_by_role("button", name="Yes").click()
    expect(poll.get_by_text("Thank you for taking part.", exact=True)).to_be_visible()
    expect(poll.get_by_text(SEED_OUTCOME, exact=True)).to_be_visible()
    expect(poll.get_by_text("How readers answered")).to_be_visible()
    before = api_results(base, token, poll_id)
    assert counted(before) == (1, 1, 1, 1)

    # Back on the poll's page: one reader, in one hour of the chart's table.
    page.goto(poll_url)
    expect_results_on_page(page, 1, 1, q1=ONE_YES, q2=ONE_YES)
    expect(page.get_by_text("1 counted, 1 finished, 0 hidden")).to_be_visible()
    expect_hourly_totals(page, answers=2, hidden=0)
    # Pick the hour the reader started in (the row whose "New readers" is 1): the two answers
    # may fall either side of an hour's turn.
    started = [row for row in hour_rows(page).all() if numbers_of(row)[2] == "1"]
    assert len(started) == 1, [numbers_of(row) for row in hour_rows(page).all()]
    started[0].get_by_role("link", name="Readers who started in this hour").click()

    spike = page.get_by_role("region", name=re.compile(r"^Readers who started"))
    expect(spike).to_be_visible()
    groups = spike.locator("tbody tr")
    expect(groups).to_have_count(1)
    expect(groups.first.locator("td.number")).to_have_text(["1", "1", "0"])

    # Hide that reader's address group: the results drop at once.
    groups.first.get_by_role("button", name=re.compile(r"^Hide 1 readers of group ")).click()
    expect(page.get_by_role("status")).to_have_text(
        "Hid 1 of 1 respondents; the results show it now."
    )
    expect_results_on_page(page, 0, 0, q1=NOBODY, q2=NOBODY)
    expect(page.get_by_text("0 counted, 0 finished, 1 hidden")).to_be_visible()
    expect(groups.first.locator("td.number")).to_have_text(["1", "1", "1"])
    expect_hourly_totals(page, answers=2, hidden=2)
    hidden = api_results(base, token, poll_id)
    assert counted(hidden) == (0, 0, 0, 0)

    # Restore it: exactly the numbers from before come back.
    groups.first.get_by_role("button", name=re.compile(r"^Restore 1 readers of group ")).click()
    expect(page.get_by_role("status")).to_have_text(
        "Restored 1 of 1 respondents; the results show it now."
    )
    expect_results_on_page(page, 1, 1, q1=ONE_YES, q2=ONE_YES)
    expect(page.get_by_text("1 counted, 1 finished, 0 hidden")).to_be_visible()
    expect(groups.first.locator("td.number")).to_have_text(["1", "1", "0"])
    expect_hourly_totals(page, answers=2, hidden=0)
    restored = api_results(base, token, poll_id)
    assert counted(restored) == counted(before)
    assert restored["questions"] == before["questions"]
    assert restored["outcomes"] == before["outcomes"]

    # No page on the way (sign-in, lists, the poll's page, the demo article) had a script error.
    context.close()
    assert problems.errors == [], problems.errors
