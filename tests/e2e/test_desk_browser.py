"""The editors' desk in a real browser (Debian's Chromium via Playwright), against a real server.

A newsroom's day, end to end through the pages' own forms and buttons: an editor signs in, pastes
an article, sees the builder's warning, fixes a question and gives the branch that ended an
outcome, previews it (nothing is stored), opens it, copies the embed snippet onto a publisher's
page on another origin where a reader answers, then makes a structural change as a new version
and opens it: the same embed now shows version 2, and version 1 keeps its answers. A moderator
hides and restores a spike; every page of the desk is axe-clean in light and dark and fits 375 px.
Only the setup (a server on a fresh database, the first token) happens outside the browser.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect, sync_playwright

from browser_support import (
    Database,
    HostSite,
    PageProblems,
    assert_no_axe_violations,
    cli_app,
    database_url_of,
    fresh_database_env,
    host_page,
    launch_chromium,
    save_screenshot,
)
from helpers import SEED_WITH_FLOWCHART
from support import PollserverProcess

pytestmark = [pytest.mark.browser, pytest.mark.server]

SEED_TITLE = "A Fragile Alliance Forged in Fire"
SEED_Q1 = "Russia allowed North Korean military in Ukraine?"
FIXED_Q1 = "Did Russia let North Korean troops fight in Ukraine?"
SEED_Q2 = "Was the operation a good result?"
NEW_OUTCOME = "No alliance on the battlefield"
LATER_OUTCOME = "Pyongyang keeps its distance"


@dataclass
class Desk:
    server: PollserverProcess
    env: dict[str, str]
    token: str  # an admin's
    host: HostSite
    database: Database

    def import_and_open_the_seed(self) -> tuple[str, int, str]:
        """The seed article imported and its poll opened, with the CLI: (poll id, article id,
        article slug)."""
        with cli_app(self.env) as app:
            runner = app.test_cli_runner()
            imported = runner.invoke(args=["import", str(SEED_WITH_FLOWCHART)])
            poll_id = re.search(r": ([A-Za-z0-9_-]{8}) \(v1, draft\)", imported.output).group(1)
            assert runner.invoke(args=["polls", "open", "--", poll_id]).exit_code == 0
        with self.database.engine.connect() as connection:
            article_id, slug = connection.exec_driver_sql("SELECT id, slug FROM articles").one()
        return poll_id, article_id, slug


@pytest.fixture
def desk(request, tmp_path):
    """A ``pollserver serve --no-seed`` on a brand-new database, an admin token, a host site."""
    with fresh_database_env(request, tmp_path) as env:
        env["POLLSERVER_TIMEZONE"] = "Europe/Berlin"
        server = PollserverProcess(env, args=("--no-seed",)).start(tmp_path / "server.log")
        host = HostSite()
        database = Database(database_url_of(env))
        try:
            with cli_app(env) as app:
                created = app.test_cli_runner().invoke(
                    args=["tokens", "create", "--name", "desk-admin", "--role", "admin"]
                )
            assert created.exit_code == 0, created.output
            yield Desk(server, env, created.stdout.strip(), host, database)
        finally:
            database.close()
            host.close()
            server.stop()
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/admin/")
    expect(page.get_by_label("Moderation token")).to_be_focused()
    page.get_by_label("Moderation token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/admin/polls")


def notice(page):
    return page.get_by_role("status").first


def test_an_editor_brings_in_edits_previews_publishes_and_versions_a_poll(desk, browser):
    token, host, database = desk.token, desk.host, desk.database
    base = desk.server.base_url
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    problems = PageProblems(page)
    sign_in(page, base, token)
    save_screenshot(page, "desk-polls.png")

    # Bring in an article: pasted, as a web producer would from the CMS.
    page.get_by_role("link", name="Bring in an article").first.click()
    page.get_by_label("Article text or HTML").fill(SEED_WITH_FLOWCHART.read_text())
    page.get_by_role("button", name="Bring it in").click()
    expect(notice(page)).to_have_text("The article is in.")
    expect(page.get_by_role("heading", level=1, name=SEED_TITLE)).to_be_visible()
    # The builder's warning sits beside the question it concerns.
    first_question = page.locator("li.node-question").filter(has_text=SEED_Q1)
    expect(first_question.locator(".warning")).to_contain_text("the No branch ends the poll")
    save_screenshot(page, "desk-article.png")

    # Fix the question's words and give the branch that ended an outcome.
    page.get_by_role("link", name="Edit").first.click()
    page.get_by_label("Text", exact=True).first.fill(FIXED_Q1)
    add = page.get_by_role("group", name="Add a question or an outcome where a path ends")
    add.get_by_label("Where").select_option(label=f"No of q1: {SEED_Q1}")
    add.get_by_label("Kind").select_option("outcome")
    add.get_by_label("Text").fill(NEW_OUTCOME)
    save_screenshot(page, "desk-editor.png")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(notice(page)).to_have_text("The tree is saved.")
    expect(page.get_by_role("group", name=re.compile(r"^Outcome o5"))).to_be_visible()
    expect(page.locator(".warning")).to_have_count(0)  # every answer now leads somewhere
    # A mistake comes back with the problem at its field, and what was typed kept.
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#title-errors")).to_contain_text("title is empty")
    expect(page.get_by_label("Text", exact=True).first).to_have_value(FIXED_Q1)
    page.get_by_label("Title").fill(SEED_TITLE)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(notice(page)).to_have_text("Nothing changed.")

    # Preview it to the end: the widget itself, walked in the page; nothing is stored.
    page.get_by_role("link", name="Back to the poll").click()
    poll_id = re.search(r"/admin/polls/([A-Za-z0-9_-]+)", page.url).group(1)
    poll_url = f"{base}/admin/polls/{poll_id}"
    page.get_by_role("link", name="Preview").first.click()
    preview = page.locator(f'[data-reader-poll="{poll_id}"]')
    expect(preview.get_by_text("Preview: nothing you answer here is counted.")).to_be_visible()
    expect(preview.get_by_text(FIXED_Q1)).to_be_visible()
    preview.get_by_role("button", name="No").click()
    expect(preview.get_by_text(NEW_OUTCOME, exact=True)).to_be_visible()
    save_screenshot(page, "desk-preview.png")
    preview.get_by_role("button", name="Start again").click()
    preview.get_by_role("button", name="Yes").click()
    preview.get_by_role("button", name="Yes").click()
    expect(preview.get_by_text("Operation had a good result", exact=True)).to_be_visible()
    assert database.respondent_count(poll_id) == 0

    # Open it, and copy the script snippet.
    page.goto(poll_url)
    page.get_by_role("button", name="Open now").click()
    expect(notice(page)).to_have_text("Version 1 is now open.")
    expect(page.locator("h1 + p .status")).to_have_text("open")
    embed = page.get_by_role("region", name="Embed")
    embed.get_by_role("button", name="Copy the script (recommended)").click()
    expect(embed.get_by_role("button", name="Copied the script (recommended)")).to_be_visible()
    snippet = page.evaluate("navigator.clipboard.readText()")
    assert snippet == embed.locator("#script_snippet").inner_text()
    assert f'data-reader-poll="{poll_id}"' in snippet

    # A reader on the publisher's page (another origin) answers No and meets the new outcome.
    article_url = host.add("/story.html", host_page(f"<h1>News</h1><p>Text.</p>{snippet}"))
    reader = context.new_page()
    reader.goto(article_url)
    widget = reader.locator(f'[data-reader-poll="{poll_id}"]')
    expect(widget.get_by_text(FIXED_Q1)).to_be_visible()
    widget.get_by_role("button", name="No").click()
    expect(widget.get_by_text(NEW_OUTCOME, exact=True)).to_be_visible()
    assert database.respondent_count(poll_id) == 1

    # A structural change to the answered poll: saved as version 2, opened.
    page.goto(f"{poll_url}/edit")
    expect(page.get_by_text("Readers have answered this version")).to_be_visible()
    add = page.get_by_role("group", name="Add a question or an outcome where a path ends")
    add.get_by_label("Where").select_option(label=f"After o5: {NEW_OUTCOME}")
    add.get_by_label("Text").fill(LATER_OUTCOME)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("structure is frozen")
    page.get_by_role("button", name="Save as a new version").click()
    expect(notice(page)).to_have_text("Version 2 is a draft: preview it, then open it.")
    assert f"/admin/polls/{poll_id}?version=2" in page.url
    page.get_by_role("button", name="Open now").click()
    expect(notice(page)).to_have_text("Version 2 is now open.")
    versions = page.get_by_role("navigation", name="Versions of this poll")
    expect(versions).to_contain_text("Version 1 closed")
    expect(versions).to_contain_text("Version 2 open, readers see it")

    # The same embed, reloaded, shows version 2 under the same id: a fresh walk for the reader.
    with reader.expect_response(f"{base}/api/v1/polls/{poll_id}") as fetched:
        reader.reload()
    assert json.loads(fetched.value.body())["version"] == 2
    expect(widget.get_by_text(FIXED_Q1)).to_be_visible()
    widget.get_by_role("button", name="No").click()
    expect(widget.get_by_text(LATER_OUTCOME, exact=True)).to_be_visible()

    # Version 1 keeps its answer and its results, readable on its page.
    versions.get_by_role("link", name="Version 1").click()
    results = page.get_by_role("region", name="Results of version 1")
    expect(results).to_contain_text("1 readers started, 1 finished")
    expect(page.get_by_text("Readers see version 2 now.")).to_be_visible()
    page.goto(f"{poll_url}?version=2")
    expect(page.get_by_role("region", name="Results of version 2")).to_contain_text(
        "1 readers started, 1 finished"
    )
    save_screenshot(page, "desk-poll.png", full_page=True)

    # The audit log says what happened, in words.
    page.get_by_role("link", name="Audit log", exact=True).click()
    log = page.locator("table.audit")
    expect(log).to_contain_text("Article brought in")
    expect(log).to_contain_text("Tree changed")
    expect(log).to_contain_text("replaced by version")
    save_screenshot(page, "desk-audit.png")

    context.close()
    assert problems.errors == [], problems.errors


def test_a_moderator_hides_and_restores_a_spike_seeing_what_it_answered(desk, browser):
    base = desk.server.base_url
    poll_id, _, _ = desk.import_and_open_the_seed()
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    problems = PageProblems(page)

    # Three readers from one browser profile's network: a small spike on one path.
    snippet = f'<div data-reader-poll="{poll_id}"></div><script async src="{base}/widget.js">'
    article_url = desk.host.add("/spike.html", host_page(snippet + "</script>"))
    for _ in range(3):
        reader = context.new_page()
        reader.goto(article_url)
        reader.evaluate("localStorage.clear()")
        reader.reload()
        widget = reader.locator(f'[data-reader-poll="{poll_id}"]')
        widget.get_by_role("button", name="Yes").click()
        widget.get_by_text(SEED_Q2).wait_for()  # a click before it is ignored
        widget.get_by_role("button", name="No").click()
        expect(widget.get_by_text("Operation failed", exact=True)).to_be_visible()
        reader.close()
    assert desk.database.respondent_count(poll_id) == 3

    sign_in(page, base, desk.token)
    page.goto(f"{base}/admin/polls/{poll_id}")
    results = page.get_by_role("region", name="Results of version 1")
    expect(results).to_contain_text("3 readers started, 3 finished")
    activity = page.get_by_role("region", name="Answers over time")
    expect(activity.locator("svg.chart")).to_be_visible()
    # The README's picture of the desk (docs/desk.png is a copy of it).
    top = {"x": 0, "y": 0, "width": 1200, "height": 1560}
    save_screenshot(page, "desk-readme.png", full_page=True, clip=top)
    expect(activity.get_by_text("Answers hidden by moderation")).to_be_visible()  # the legend
    activity.get_by_text("Every hour with answers, and who answered").click()
    hour_links = activity.get_by_role("link", name="Readers who started then")
    hour_links.first.click()

    spike = page.get_by_role("region", name=re.compile(r"^Readers who started"))
    group = spike.get_by_role("article").first
    # What the group answered, in words, before anything is hidden.
    expect(group).to_contain_text("3×")
    expect(group).to_contain_text(f"{SEED_Q2} No")
    expect(group).to_contain_text("Operation failed")
    expect(group.get_by_role("button", name=re.compile(r"^Restore"))).to_have_count(0)
    save_screenshot(page, "desk-spike.png", full_page=True)
    group.get_by_role("button", name=re.compile(r"^Hide 3 readers of group ")).click()
    expect(notice(page)).to_have_text("Hid 3 of 3 respondents; the results show it now.")
    expect(results).to_contain_text("0 readers started, 0 finished")
    group = spike.get_by_role("article").first
    expect(group.get_by_role("button", name=re.compile(r"^Hide"))).to_have_count(0)
    group.get_by_role("button", name=re.compile(r"^Restore 3 readers of group ")).click()
    expect(notice(page)).to_have_text("Restored 3 of 3 respondents; the results show it now.")
    expect(results).to_contain_text("3 readers started, 3 finished")
    # The whole hour: only the button that applies is shown.
    everyone = "everyone who started in this hour"
    expect(spike.get_by_role("button", name=f"Restore {everyone}")).to_have_count(0)
    spike.get_by_role("button", name=f"Hide {everyone}").click()
    expect(results).to_contain_text("0 readers started, 0 finished")
    expect(spike.get_by_role("button", name=f"Hide {everyone}")).to_have_count(0)
    spike.get_by_role("button", name=f"Restore {everyone}").click()
    expect(results).to_contain_text("3 readers started, 3 finished")

    # The exports come with the page's own session: no token to copy around.
    with page.expect_download() as download:
        results.get_by_role("link", name="Download every response (CSV)").click()
    exported = download.value.path().read_text()
    assert exported.count("\n") == 4 and "Operation failed" in exported
    context.close()
    assert problems.errors == [], problems.errors


DESK_PAGES = [
    ("polls", "/admin/polls"),
    ("poll", "/admin/polls/{poll_id}?hour={hour}"),
    ("editor", "/admin/polls/{poll_id}/edit"),
    ("preview", "/admin/polls/{poll_id}/preview"),
    ("articles", "/admin/articles"),
    ("article", "/admin/articles/{article_id}"),
    ("new-article", "/admin/articles/new"),
    ("audit", "/admin/audit"),
    ("tokens", "/admin/tokens"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_desk_page_is_axe_clean_and_fits_a_phone(desk, browser, scheme):
    base = desk.server.base_url
    poll_id, article_id, slug = desk.import_and_open_the_seed()
    for width in (1200, 375):
        context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
        page = context.new_page()
        problems = PageProblems(page)
        page.goto(f"{base}/admin/")  # the sign-in page, before signing in
        assert_no_axe_violations(page, in_widget=False)
        sign_in(page, base, desk.token)
        if width == 1200:  # a reader, so the poll's page has numbers, a chart and a spike
            reader = context.new_page()
            reader.goto(f"{base}/articles/{slug}")
            widget = reader.locator(f'[data-reader-poll="{poll_id}"]')
            widget.get_by_role("button", name="Yes").click()
            expect(widget.get_by_text(SEED_Q2)).to_be_visible()
            reader.close()
        hour = page.evaluate("new Date().toISOString().slice(0, 13) + ':00:00Z'")
        for name, path in DESK_PAGES:
            page.goto(base + path.format(poll_id=poll_id, article_id=article_id, hour=hour))
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            if name == "preview":
                preview = page.locator(f'[data-reader-poll="{poll_id}"]')
                expect(preview.get_by_role("button", name="Yes")).to_be_visible()
                preview.evaluate(
                    "el => Promise.all(el.shadowRoot.getAnimations().map(a => a.finished))"
                )
            assert_no_axe_violations(page, in_widget=name == "preview")
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (name, width, overflow)
            if width == 375 and scheme == "dark" and name in ("poll", "editor"):
                save_screenshot(page, f"desk-{name}-375-dark.png", full_page=True)
        context.close()
        assert problems.errors == [], problems.errors
