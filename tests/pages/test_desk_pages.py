"""The desk's forms, as a browser without JavaScript sends them: bringing in articles, the editor
and its checks, the preview that stores nothing, versions, the schedule in the newsroom's time
zone, settings, discarding and deleting, exports with the page's session, and tokens."""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pytest
from sqlalchemy import func, select

from pollserver.extensions import db
from pollserver.models import ApiToken, Article, AuditEvent, Poll, Respondent
from pollserver.services.polls import definition_of, find_poll

from helpers import HTML, SEED_WITH_FLOWCHART, sign_in, walk

SEED_TEXT = SEED_WITH_FLOWCHART.read_text()


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def follow(browser, response):
    assert response.status_code == 303, response.get_data(as_text=True)
    return text_of(browser.get(response.headers["Location"], headers=HTML))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def editor_form(browser, url: str, definition: dict, csrf: str, **changes: str) -> dict[str, str]:
    """The editor's fields for ``definition``, as the page at ``url`` draws them (with the state
    of the poll it was drawn from), with ``changes``."""
    page = browser.get(url, headers=HTML).get_data(as_text=True)
    form = {
        "based_on": re.search(r'name="based_on" value="([^"]+)"', page).group(1),
        "csrf_token": csrf,
        "title": definition["title"],
        "root": definition["root"],
        "nodes": ",".join(f"{node['id']}:{node['type']}" for node in definition["nodes"]),
        "action": "save",
    }
    for node in definition["nodes"]:
        form[f"text-{node['id']}"] = node["text"]
        for branch in ("yes", "no") if node["type"] == "question" else ("next",):
            form[f"{branch}-{node['id']}"] = node.get(branch) or ""
    form.update(changes)
    return form


@pytest.fixture
def moderator(app, tokens):
    return sign_in(app, tokens["moderator"])


# --- bringing in articles -------------------------------------------------------------------------


def test_an_article_pasted_in_becomes_a_draft_with_its_warning_by_the_node(app, moderator):
    browser, csrf = moderator
    page = follow(
        browser, browser.post("/admin/articles/new", data={"csrf_token": csrf, "body": SEED_TEXT})
    )
    assert "The article is in." in page
    assert "Builder: question q1: the No branch ends the poll" in page
    node = re.search(r'<li class="node node-question">.*?</li>', page, re.S).group(0)
    assert "Russia allowed North Korean military in Ukraine?" in node
    assert "the No branch ends the poll: readers who answer that get no outcome" in node

    # The same text again, from another "folder" (another source name), changes nothing.
    again = browser.post(
        "/admin/articles/new",
        data={"csrf_token": csrf, "body": SEED_TEXT, "source": "https://news.example/other"},
    )
    assert "This article was already here: nothing changed." in follow(browser, again)
    uploaded = browser.post(
        "/admin/articles/new",
        data={"csrf_token": csrf, "file": (io.BytesIO(SEED_TEXT.encode()), "copy.txt")},
        content_type="multipart/form-data",
    )
    assert "already here" in follow(browser, uploaded)
    with app.app_context():
        assert (count(Article), count(Poll)) == (1, 1)
        actions = db.session.scalars(select(AuditEvent.action)).all()
        assert actions == ["article.submit", "poll.create"]


def test_a_bad_article_form_says_why_and_keeps_what_was_typed(app, moderator):
    browser, csrf = moderator
    empty = browser.post(
        "/admin/articles/new", data={"csrf_token": csrf, "body": "  "}, headers=HTML
    )
    assert empty.status_code == 422
    assert "Paste the article" in text_of(empty)
    no_flowchart = browser.post(
        "/admin/articles/new",
        data={"csrf_token": csrf, "body": "Just one line of prose.", "source": "desk/prose"},
    )
    page = follow(browser, no_flowchart)
    assert "The builder found no poll" in page and "Write its poll by hand" in page
    bad_source = browser.post(
        "/admin/articles/new",
        data={"csrf_token": csrf, "body": SEED_TEXT, "source": "a\nb"},
        headers=HTML,
    )
    assert bad_source.status_code == 422
    assert SEED_TEXT.splitlines()[0] in text_of(bad_source)  # the pasted text is still there
    with app.app_context():
        assert count(Poll) == 0


# --- the editor -----------------------------------------------------------------------------------


def test_the_editor_adds_an_outcome_where_a_path_ended_and_checks_every_rule(app, moderator):
    browser, csrf = moderator
    follow(
        browser, browser.post("/admin/articles/new", data={"csrf_token": csrf, "body": SEED_TEXT})
    )
    with app.app_context():
        poll_id = db.session.scalar(select(Poll.public_id))
        definition = definition_of(find_poll(db.session, poll_id))
    url = f"/admin/polls/{poll_id}/edit?version=1"
    form = editor_form(browser, url, definition, csrf, **{"add-at": "q1.no", "add-type": "outcome",
                                            "add-text": "No alliance"})  # fmt: skip
    assert "The tree is saved." in follow(browser, browser.post(url, data=form))
    with app.app_context():
        saved = definition_of(find_poll(db.session, poll_id))
    assert saved["nodes"][0]["no"] == "o5"
    assert saved["nodes"][-1] == {
        "id": "o5",
        "type": "outcome",
        "text": "No alliance",
        "next": None,
    }

    # Problems come back at their fields, with nothing saved and everything typed kept.
    broken = editor_form(browser, url, saved, csrf, title="", **{"text-q2": "Typed but not saved?"})
    refused = browser.post(url, data=broken, headers=HTML)
    assert refused.status_code == 422
    page = text_of(refused)
    assert "Nothing was saved: 1 thing to fix" in page
    assert 'id="title-errors"' in page and "title is empty" in page
    assert "Typed but not saved?" in page
    unreachable = browser.post(
        url, data={**editor_form(browser, url, saved, csrf), "remove": "q2"}, headers=HTML
    )
    assert unreachable.status_code == 422
    errors = re.findall(r'<ul class="field-errors" id="errors-(\w+)">', text_of(unreachable))
    assert errors == ["o1", "o2", "o3", "o4"]  # each at the node that is no longer reachable
    root = browser.post(
        url, data={**editor_form(browser, url, saved, csrf), "remove": "q1"}, headers=HTML
    )
    assert "it cannot be removed" in text_of(root)
    relinked = editor_form(browser, url, saved, csrf, **{"next-o5": "o4"})  # a re-linked branch
    # A form drawn before someone else's change is not saved over it unseen.
    stale = {**relinked, "based_on": "2020-01-01T00:00:00+00:00"}
    refused_stale = browser.post(url, data=stale, headers=HTML)
    assert refused_stale.status_code == 409
    assert "This poll changed while you were editing it" in text_of(refused_stale)
    assert "The tree is saved." in follow(browser, browser.post(url, data=relinked))
    with app.app_context():
        assert definition_of(find_poll(db.session, poll_id)) != saved
        assert (
            db.session.scalar(select(func.count()).where(AuditEvent.action == "poll.definition"))
            == 2
        )


def test_an_answered_poll_takes_text_fixes_and_makes_a_new_version_for_a_new_tree(
    app, client, moderator, seed_poll_id
):
    browser, csrf = moderator
    walk(client, seed_poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.1")
    with app.app_context():
        definition = definition_of(find_poll(db.session, seed_poll_id))
    url = f"/admin/polls/{seed_poll_id}/edit?version=1"
    assert "Readers have answered this version" in text_of(browser.get(url, headers=HTML))
    fixed = editor_form(
        browser, url, definition, csrf, **{"text-q2": "Was the operation a success?"}
    )
    assert "readers see them now" in follow(browser, browser.post(url, data=fixed))

    changes = {"text-q2": "Was the operation a success?", "add-at": "q1.no"}
    grown = editor_form(browser, url, definition, csrf, **changes, **{"add-text": "No alliance"})
    refused = browser.post(url, data=grown, headers=HTML)
    assert refused.status_code == 409
    assert "structure is frozen" in text_of(refused)
    assert "No alliance" in text_of(refused)  # the form keeps the change, to save as a version
    made = browser.post(url, data={**grown, "action": "new_version"})
    assert made.headers["Location"].endswith(f"/admin/polls/{seed_poll_id}?version=2")
    assert "Version 2 is a draft" in follow(browser, made)
    with app.app_context():
        first, second = db.session.scalars(select(Poll).order_by(Poll.version)).all()
        assert (first.public_id, second.public_id) == (seed_poll_id, seed_poll_id)
        assert len(first.nodes) == 6 and len(second.nodes) == 7


# --- preview --------------------------------------------------------------------------------------


def test_a_draft_is_previewed_without_storing_anything(app, moderator):
    browser, csrf = moderator
    follow(
        browser, browser.post("/admin/articles/new", data={"csrf_token": csrf, "body": SEED_TEXT})
    )
    with app.app_context():
        poll_id = db.session.scalar(select(Poll.public_id))
    document = browser.get(f"/admin/polls/{poll_id}/preview.json").get_json()
    assert (document["id"], document["version"], document["status"]) == (poll_id, 1, "open")
    assert (
        browser.get(f"/admin/polls/{poll_id}/preview.json").headers["Cache-Control"] == "no-store"
    )
    page = text_of(browser.get(f"/admin/polls/{poll_id}/preview", headers=HTML))
    assert f'data-preview-src="/admin/polls/{poll_id}/preview.json?version=1"' in page
    assert "Nothing you answer here is sent or counted." in page
    # Without JavaScript the walk is links; a path that ends without an outcome says so.
    ended = text_of(browser.get(f"/admin/polls/{poll_id}/preview?walk=n", headers=HTML))
    assert "This path ends without an outcome." in ended
    finished = text_of(browser.get(f"/admin/polls/{poll_id}/preview?walk=yyy", headers=HTML))
    assert "Operation had a good result" in finished
    assert app.test_client().get(f"/admin/polls/{poll_id}/preview.json").status_code == 401
    with app.app_context():
        assert count(Respondent) == 0


# --- schedule and settings ------------------------------------------------------------------------


@pytest.fixture
def in_berlin(app_config):
    """The newsroom works in Europe/Berlin (asked for before ``app``)."""
    app_config["POLLSERVER_TIMEZONE"] = "Europe/Berlin"


def test_times_are_entered_and_shown_in_the_newsrooms_zone_and_the_past_is_refused(
    in_berlin, app, tokens, seed_poll_id
):
    browser, csrf = sign_in(app, tokens["moderator"])
    url = f"/admin/polls/{seed_poll_id}/schedule?version=1"
    saved = browser.post(url, data={"csrf_token": csrf, "close_at": "2030-06-01T09:00"})
    page = follow(browser, saved)
    assert "The schedule is saved." in page
    assert 'value="2030-06-01T09:00"' in page and "Times in Europe/Berlin." in page
    closes = dt.datetime(2030, 6, 1, 7, 0, tzinfo=dt.UTC)  # 09:00 summer time in Berlin
    with app.app_context():
        assert find_poll(db.session, seed_poll_id).close_at == closes

    for value, words in (
        ("2020-01-01T09:00", "the closing time is in the past"),
        ("2030-03-31T02:30", "does not exist in Europe/Berlin"),
        ("next tuesday", "is not a date and time"),
    ):
        refused = follow(browser, browser.post(url, data={"csrf_token": csrf, "close_at": value}))
        assert words in refused, value
    with app.app_context():  # nothing was applied
        assert find_poll(db.session, seed_poll_id).close_at == closes
    cleared = browser.post(url, data={"csrf_token": csrf, "close_at": ""})
    assert "The schedule is saved." in follow(browser, cleared)
    with app.app_context():
        assert find_poll(db.session, seed_poll_id).close_at is None


def test_settings_are_changed_in_the_page_and_a_bad_one_changes_nothing(
    app, moderator, seed_poll_id
):
    browser, csrf = moderator
    url = f"/admin/polls/{seed_poll_id}/settings?version=1"
    form = {
        "csrf_token": csrf,
        "results_visibility": "after_close",
        "allowed_origins": "https://News.Example/\nhttps://other.example",
        "language": "de",
        "allow_answer_changes": "on",
    }
    assert "The settings are saved." in follow(browser, browser.post(url, data=form))
    with app.app_context():
        settings = find_poll(db.session, seed_poll_id).settings
    assert settings["allowed_origins"] == ["https://news.example", "https://other.example"]
    assert (settings["results_visibility"], settings["language"]) == ("after_close", "de")
    assert settings["allow_answer_changes"] is True
    bad = {**form, "allowed_origins": "news.example", "language": "Deutsch"}
    page = follow(browser, browser.post(url, data=bad))
    assert "Nothing was saved." in page and "an origin is scheme://host" in page
    with app.app_context():
        assert find_poll(db.session, seed_poll_id).settings == settings


# --- discarding, deleting, exporting --------------------------------------------------------------


def test_a_draft_is_discarded_and_an_unanswered_article_deleted_from_the_page(app, moderator):
    browser, csrf = moderator
    follow(
        browser, browser.post("/admin/articles/new", data={"csrf_token": csrf, "body": SEED_TEXT})
    )
    with app.app_context():
        poll_id, article_id = db.session.execute(select(Poll.public_id, Poll.article_id)).one()
    discarded = browser.post(
        f"/admin/polls/{poll_id}/status?version=1", data={"csrf_token": csrf, "status": "discard"}
    )
    assert discarded.headers["Location"].endswith("/admin/polls")
    assert "Version 1 was discarded." in follow(browser, discarded)
    article_page = text_of(browser.get(f"/admin/articles/{article_id}", headers=HTML))
    assert "Write its poll by hand" in article_page  # back among the articles needing a poll
    deleted = browser.post(f"/admin/articles/{article_id}/delete", data={"csrf_token": csrf})
    assert "and its polls are deleted" in follow(browser, deleted)
    with app.app_context():
        assert (count(Article), count(Poll)) == (0, 0)
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions[-2:] == ["poll.discard", "article.delete"]


def test_an_answered_article_is_not_deleted(app, client, moderator, seed_poll_id):
    browser, csrf = moderator
    walk(client, seed_poll_id, [("q1", "no")], "203.0.113.1")
    with app.app_context():
        article_id = db.session.scalar(select(Poll.article_id))
    page = text_of(browser.get(f"/admin/articles/{article_id}", headers=HTML))
    assert "close and archive them instead" in page and "Delete this article" not in page
    refused = follow(
        browser, browser.post(f"/admin/articles/{article_id}/delete", data={"csrf_token": csrf})
    )
    assert "cannot be deleted" in refused
    with app.app_context():
        assert count(Respondent) == 1


def test_exports_download_with_the_page_session(app, client, tokens, seed_poll_id):
    walk(client, seed_poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.1")
    browser, _ = sign_in(app, tokens["analyst"])
    exported = browser.get(f"/admin/polls/{seed_poll_id}/responses.csv?version=1")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "Was the operation a good result? No" in exported.get_data(as_text=True)
    lines = browser.get(f"/admin/polls/{seed_poll_id}/responses.jsonl")
    assert lines.status_code == 200 and '"outcome_text"' in lines.get_data(as_text=True)
    assert app.test_client().get(f"/admin/polls/{seed_poll_id}/responses.csv").status_code == 401
    with app.app_context():
        actors = db.session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "responses.export")
        ).all()
    assert actors == ["analyst-token", "analyst-token"]


# --- tokens ---------------------------------------------------------------------------------------


def test_admins_make_and_revoke_tokens_in_the_page_and_see_a_new_one_once(app, tokens):
    browser, csrf = sign_in(app, tokens["admin"])
    made = browser.post(
        "/admin/tokens", data={"csrf_token": csrf, "name": "night desk", "role": "analyst"}
    )
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="token-secret">(ps_[A-Za-z0-9_-]+)</code>', text_of(made)).group(
        1
    )
    assert secret not in text_of(browser.get("/admin/tokens", headers=HTML))  # shown once
    night_desk, _ = sign_in(app, secret)  # it works at once
    assert night_desk.get("/admin/polls", headers=HTML).status_code == 200

    taken = browser.post(
        "/admin/tokens", data={"csrf_token": csrf, "name": "night desk", "role": "analyst"}
    )
    assert taken.status_code == 409 and "already exists" in text_of(taken)
    revoked = browser.post("/admin/tokens/night desk/revoke", data={"csrf_token": csrf})
    assert "is revoked" in follow(browser, revoked)
    assert night_desk.get("/admin/polls", headers=HTML).status_code == 401
    moderator, _ = sign_in(app, tokens["moderator"])
    assert moderator.get("/admin/tokens", headers=HTML).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.name == "night desk"))
