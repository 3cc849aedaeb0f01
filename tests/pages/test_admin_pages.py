"""The /admin moderation page: sign-in, session cookie, CSRF, roles on every page, lifecycle
buttons, results, the hourly chart, hiding and restoring a spike, the audit log."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import zlib

import pytest
from sqlalchemy import func, select, update

from pollserver import auth
from pollserver.core.lifecycle import PollStatus
from pollserver.core.roles import TokenRole, role_allows
from pollserver.extensions import db
from pollserver.models import AuditEvent, DeskSession, Poll
from pollserver.services.tokens import revoke_token

from helpers import HTML, SEED_WITH_FLOWCHART, csrf_of, sign_in, walk

ANONYMOUS_PAGES = {
    "admin_pages.index",
    "admin_pages.sign_in",
    "admin_pages.sign_out",
    "admin_pages.stylesheet",
    "admin_pages.script",
}


def session_cookie(response) -> str:
    [cookie] = [
        value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")
    ]
    return cookie


def cookie_payload(cookie: str) -> str:
    """The readable part of Flask's signed cookie (signed, not encrypted)."""
    value = cookie.split(";", 1)[0].removeprefix("session=")
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".", 1)[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def results_without_time(client, poll_id: str) -> dict:
    results = client.get(f"/api/v1/polls/{poll_id}/results").get_json()
    results.pop("as_of")
    return results


# --- signing in ---------------------------------------------------------------------------------


def test_sign_in_gives_an_http_only_lax_session_that_holds_no_token(app, tokens):
    browser = app.test_client()
    form = browser.get("/admin/", headers=HTML)
    assert form.status_code == 200
    page = form.get_data(as_text=True)
    assert '<label for="token">' in page and 'type="password"' in page
    cookie = session_cookie(form)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie

    signed_in = browser.post(
        "/admin/sign-in",
        data={"token": tokens["moderator"], "csrf_token": csrf_of(page), "next": "/admin/audit"},
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/admin/audit"
    cookie = session_cookie(signed_in)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert tokens["moderator"] not in cookie_payload(cookie)
    assert '"desk_session"' in cookie_payload(cookie)  # the server-side session's secret
    polls = browser.get("/admin/polls", headers=HTML)
    assert polls.status_code == 200
    assert "Signed in as <strong>moderator-token</strong> (moderator)" in polls.get_data(
        as_text=True
    )
    assert browser.get("/admin/", headers=HTML).headers["Location"] == "/admin/polls"


def test_the_session_cookie_is_secure_over_https(app, tokens):
    browser = app.test_client()
    form = browser.get("/admin/", headers=HTML, base_url="https://news.example")
    assert "Secure" in session_cookie(form)
    signed_in = browser.post(
        "/admin/sign-in",
        data={"token": tokens["analyst"], "csrf_token": csrf_of(form.get_data(as_text=True))},
        base_url="https://news.example",
    )
    assert "Secure" in session_cookie(signed_in)


def test_a_wrong_token_is_refused_with_the_form_again(app, tokens):
    browser = app.test_client()
    csrf = csrf_of(browser.get("/admin/", headers=HTML).get_data(as_text=True))
    refused = browser.post("/admin/sign-in", data={"token": "ps_wrong", "csrf_token": csrf})
    assert refused.status_code == 401
    page = refused.get_data(as_text=True)
    assert 'role="alert"' in page and "not valid" in page
    assert browser.get("/admin/polls").status_code == 401
    for target in ("//evil.example/", "https://evil.example/admin", "/api/v1/admin/tokens"):
        fresh = app.test_client()
        csrf = csrf_of(fresh.get("/admin/", headers=HTML).get_data(as_text=True))
        response = fresh.post(
            "/admin/sign-in", data={"token": tokens["analyst"], "csrf_token": csrf, "next": target}
        )
        assert response.headers["Location"] == "/admin/polls", target


def test_revoking_a_token_ends_its_sessions_and_sessions_expire(app, tokens):
    browser, _ = sign_in(app, tokens["analyst"])
    with app.app_context():
        revoke_token(db.session, "analyst-token")
        db.session.commit()
    assert browser.get("/admin/polls", headers=HTML).status_code == 401

    browser, _ = sign_in(app, tokens["moderator"])
    with app.app_context():  # signed in 13 hours ago: past the session's 12
        db.session.execute(
            update(DeskSession).values(started_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=13))
        )
        db.session.commit()
    assert browser.get("/admin/polls", headers=HTML).status_code == 401


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(app, tokens):
    browser, csrf = sign_in(app, tokens["moderator"])
    copied = app.test_client()  # another tab, or someone who copied the cookie
    cookie = browser.get_cookie("session", path="/admin")
    copied.set_cookie("session", cookie.value, path="/admin")
    assert copied.get("/admin/polls", headers=HTML).status_code == 200
    signed_out = browser.post("/admin/sign-out", data={"csrf_token": csrf})
    assert signed_out.status_code == 303
    assert copied.get("/admin/polls", headers=HTML).status_code == 401
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DeskSession)) == 0


def test_a_link_from_another_site_keeps_the_editor_signed_in(app, tokens):
    browser, _ = sign_in(app, tokens["moderator"])
    cookie = browser.get_cookie("session", path="/admin")
    assert cookie.same_site == "Lax"  # sent with a top-level navigation from another site
    followed = browser.get(
        "/admin/polls",
        headers={**HTML, "Referer": "https://chat.example/", "Sec-Fetch-Site": "cross-site"},
    )
    assert followed.status_code == 200
    assert browser.get_cookie("session", path="/admin").value == cookie.value


# --- who may do what ----------------------------------------------------------------------------


def test_every_page_but_sign_in_refuses_no_session_and_the_wrong_role(app, tokens, seed_poll_id):
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")]
    assert {rule.endpoint for rule in rules} >= ANONYMOUS_PAGES
    with app.test_request_context():
        anonymous = {
            rule.endpoint
            for rule in rules
            for method in rule.methods - {"HEAD", "OPTIONS"}
            if auth.required_permission(rule.endpoint, method) is None
        }
    assert anonymous == ANONYMOUS_PAGES

    with app.app_context():
        article_id = db.session.scalar(select(Poll.article_id))
    nobody = app.test_client()
    browsers = {role: sign_in(app, secret)[0] for role, secret in tokens.items()}
    checked = 0
    for rule in rules:
        if rule.endpoint in ANONYMOUS_PAGES:
            continue
        url = (
            rule.rule.replace("<poll_id>", seed_poll_id)
            .replace("<int:article_id>", str(article_id))
            .replace("<name>", "analyst-token")
        )
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            with app.test_request_context():
                permission = auth.required_permission(rule.endpoint, method)
            assert nobody.open(url, method=method).status_code == 401, (method, url)
            html_refusal = nobody.open(url, method=method, headers=HTML)
            assert html_refusal.status_code == 401
            assert 'action="/admin/sign-in"' in html_refusal.get_data(as_text=True)
            for role, browser in browsers.items():
                # No CSRF token: a permitted request stops at 400, never at 401/403.
                status = browser.open(url, method=method).status_code
                if role_allows(TokenRole(role), permission):
                    assert status not in (401, 403), (method, url, role)
                else:
                    assert status == 403, (method, url, role)
            checked += 1
    assert checked >= 5
    with app.app_context():
        assert db.session.scalar(select(Poll.status)) is PollStatus.OPEN


def test_every_form_needs_the_sessions_csrf_token(app, tokens, seed_poll_id):
    browser, csrf = sign_in(app, tokens["moderator"])
    _, other_csrf = sign_in(app, tokens["admin"])
    url = f"/admin/polls/{seed_poll_id}/status"
    for data in ({"status": "paused"}, {"status": "paused", "csrf_token": "forged"}):
        assert browser.post(url, data=data).status_code == 400
    assert browser.post(url, data={"status": "paused", "csrf_token": other_csrf}).status_code == 400
    assert browser.post("/admin/sign-out", data={}).status_code == 400
    assert app.test_client().post("/admin/sign-in", data={"token": "x"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Poll.status)) is PollStatus.OPEN
    assert browser.post(url, data={"status": "paused", "csrf_token": csrf}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Poll.status)) is PollStatus.PAUSED

    # Every form on the page carries the token.
    page = browser.get(f"/admin/polls/{seed_poll_id}", headers=HTML).get_data(as_text=True)
    forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, flags=re.S)
    assert forms
    assert all(f'name="csrf_token" value="{csrf}"' in form for form in forms)

    signed_out = browser.post("/admin/sign-out", data={"csrf_token": csrf})
    assert signed_out.status_code == 303
    assert browser.get("/admin/polls").status_code == 401


def test_pages_send_no_cors_headers_and_forbid_framing(app, tokens):
    browser, _ = sign_in(app, tokens["analyst"])
    response = browser.get("/admin/polls", headers={**HTML, "Origin": "https://evil.example"})
    assert not [name for name, _ in response.headers.items() if "access-control" in name.lower()]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy  # the desk's own file only
    assert response.headers["Cache-Control"] == "no-store"


# --- polls, lifecycle, results ------------------------------------------------------------------


def test_polls_are_listed_by_status(app, client, tokens, seed_poll_id):
    moderator = {"Authorization": f"Bearer {tokens['moderator']}"}
    body = SEED_WITH_FLOWCHART.read_text().replace("Operation failed", "Operation went badly")
    client.post("/api/v1/admin/articles", json={"body": body}, headers=moderator)
    browser, _ = sign_in(app, tokens["analyst"])
    page = browser.get("/admin/polls", headers=HTML).get_data(as_text=True)
    sections = re.findall(r'<h2 id="status-(\w+)">[^<]+<span class="count">\((\d+)\)', page)
    assert sections == [("open", "1"), ("paused", "0"), ("draft", "1"), ("closed", "0"),
                        ("archived", "0")]  # fmt: skip
    assert f'href="/admin/polls/{seed_poll_id}?version=1"' in page

    # A draft of a new version: the poll stays where readers see it, its draft pointed out.
    detail = client.get(f"/api/v1/admin/polls/{seed_poll_id}", headers=moderator).get_json()
    client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/versions",
        json=detail["definition"],
        headers=moderator,
    )
    page = browser.get("/admin/polls", headers=HTML).get_data(as_text=True)
    sections = re.findall(r'<h2 id="status-(\w+)">[^<]+<span class="count">\((\d+)\)', page)
    assert sections[:3] == [("open", "1"), ("paused", "0"), ("draft", "1")]
    assert f'href="/admin/polls/{seed_poll_id}?version=2">v2 is a draft</a>' in page


def test_lifecycle_buttons_move_a_poll_and_are_audited(app, tokens, seed_poll_id):
    browser, csrf = sign_in(app, tokens["moderator"])
    url = f"/admin/polls/{seed_poll_id}"
    page = browser.get(url, headers=HTML).get_data(as_text=True)
    buttons = re.findall(
        r'name="status" value="(\w+)">\s*<button type="submit"[^>]*>([\w ]+)</button>', page
    )
    assert buttons == [("paused", "Pause"), ("closed", "Close")]

    for status in ("paused", "open", "closed", "open", "closed", "archived"):
        moved = browser.post(f"{url}/status", data={"status": status, "csrf_token": csrf})
        assert moved.status_code == 303
        notice = browser.get(moved.headers["Location"], headers=HTML).get_data(as_text=True)
        assert f"Version 1 is now {status}." in notice
    refused = browser.post(f"{url}/status", data={"status": "open", "csrf_token": csrf})
    notice = browser.get(refused.headers["Location"], headers=HTML).get_data(as_text=True)
    assert 'role="alert"' in notice and "cannot become open" in notice
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "poll.status").order_by(AuditEvent.id)
        ).all()
        assert [event.after["status"] for event in events] == [
            "paused", "open", "closed", "open", "closed", "archived"
        ]  # fmt: skip
        assert {event.actor for event in events} == {"moderator-token"}

    analyst, _ = sign_in(app, tokens["analyst"])
    analyst_page = analyst.get(url, headers=HTML).get_data(as_text=True)
    assert 'name="status"' not in analyst_page


def test_poll_page_shows_preview_results_and_the_hourly_chart(app, client, tokens, seed_poll_id):
    walk(client, seed_poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.1")
    walk(client, seed_poll_id, [("q1", "no")], "203.0.113.2")
    browser, _ = sign_in(app, tokens["analyst"])
    page = browser.get(f"/admin/polls/{seed_poll_id}", headers=HTML).get_data(as_text=True)
    assert f'href="/admin/polls/{seed_poll_id}/preview?version=1"' in page
    assert "2 readers started, 2 finished" in page
    assert re.search(r"Was the operation a good result\?.*?<td class=\"number\">1</td>", page, re.S)
    assert '<svg class="chart"' in page and 'class="bar-counted"' in page
    assert "3 answers, 0 hidden" in page
    if any(rule.rule.endswith("/results.svg") for rule in app.url_map.iter_rules()):
        assert f'src="/api/v1/polls/{seed_poll_id}/results.svg"' in page
    assert "Russia allowed North Korean military in Ukraine?" in html.unescape(page)

    moderator = {"Authorization": f"Bearer {tokens['moderator']}"}
    body = SEED_WITH_FLOWCHART.read_text().replace("Operation failed", "Operation went badly")
    draft = client.post("/api/v1/admin/articles", json={"body": body}, headers=moderator)
    draft_id = draft.get_json()["polls"][0]["id"]
    draft_page = browser.get(f"/admin/polls/{draft_id}", headers=HTML).get_data(as_text=True)
    assert "<iframe" not in draft_page
    assert "Operation went badly" in draft_page  # the tree stands in for the preview
    assert browser.get("/admin/polls/nosuchid", headers=HTML).status_code == 404


def test_a_spike_is_hidden_and_restored_from_the_page(app, client, tokens, seed_poll_id):
    walk(client, seed_poll_id, [("q1", "yes"), ("q2", "yes")], "203.0.113.1")
    walk(client, seed_poll_id, [("q1", "no")], "203.0.113.2")
    for _ in range(5):
        walk(client, seed_poll_id, [("q1", "yes"), ("q2", "no")], "198.51.100.7")
    before = results_without_time(client, seed_poll_id)
    browser, csrf = sign_in(app, tokens["moderator"])
    page = browser.get(f"/admin/polls/{seed_poll_id}", headers=HTML).get_data(as_text=True)
    hour = re.search(r"[?&]hour=([0-9T:%A-Z-]+)", page).group(1)
    spike = browser.get(f"/admin/polls/{seed_poll_id}?hour={hour}", headers=HTML)
    spike_page = html.unescape(spike.get_data(as_text=True))
    assert "198.51.100.7" not in spike_page
    address_hash = re.search(
        r'name="address_hash" value="([0-9a-f]{64})">\s*<button type="submit"[^>]*>Hide 5',
        spike_page,
    ).group(1)
    hour_value = re.search(r'name="hour" value="([^"]+)"', spike_page).group(1)

    form = {"csrf_token": csrf, "hour": hour_value, "address_hash": address_hash}
    hidden = browser.post(f"/admin/polls/{seed_poll_id}/responses", data={**form, "action": "hide"})
    assert hidden.status_code == 303
    assert hidden.headers["Location"].endswith("#spike")
    notice = browser.get(hidden.headers["Location"], headers=HTML).get_data(as_text=True)
    assert "Hid 5 of 5 respondents" in notice
    assert "Restore 5" in notice
    during = results_without_time(client, seed_poll_id)
    assert (during["respondents"], during["questions"]["q2"]["no"]) == (2, 0)

    restored = browser.post(
        f"/admin/polls/{seed_poll_id}/responses", data={**form, "action": "restore"}
    )
    assert "Restored 5 of 5" in browser.get(restored.headers["Location"], headers=HTML).get_data(
        as_text=True
    )
    assert results_without_time(client, seed_poll_id) == before

    everyone = browser.post(
        f"/admin/polls/{seed_poll_id}/responses",
        data={"csrf_token": csrf, "hour": hour_value, "action": "hide"},
    )
    assert everyone.status_code == 303
    assert results_without_time(client, seed_poll_id)["respondents"] == 0
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == "moderator-token")
        ).all()
    assert actions == ["responses.hide", "responses.restore", "responses.hide"]
    no_hour = browser.post(
        f"/admin/polls/{seed_poll_id}/responses", data={"csrf_token": csrf, "action": "hide"}
    )
    assert no_hour.status_code == 400


def test_the_audit_log_page_filters(app, client, tokens, seed_poll_id):
    moderator = {"Authorization": f"Bearer {tokens['moderator']}"}
    client.post(
        f"/api/v1/admin/polls/{seed_poll_id}/status", json={"status": "paused"}, headers=moderator
    )
    client.post(
        "/api/v1/admin/tokens",
        json={"name": "desk", "role": "analyst"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    browser, _ = sign_in(app, tokens["analyst"])
    everything = browser.get("/admin/audit", headers=HTML).get_data(as_text=True)
    status_changed = '<td>Status changed <span class="hint">(version 1)</span></td>'
    assert status_changed in everything and "<td>Token created</td>" in everything
    filtered = browser.get("/admin/audit?action=token.create", headers=HTML).get_data(as_text=True)
    assert "<td>Token created</td>" in filtered and status_changed not in filtered
    by_poll = browser.get(f"/admin/audit?poll={seed_poll_id}", headers=HTML).get_data(as_text=True)
    assert status_changed in by_poll and "<td>Token created</td>" not in by_poll
    # Said in words, with the poll's title: not raw JSON, not only an id.
    assert "status</span>: open → paused" in by_poll
    assert "A Fragile Alliance Forged in Fire</a>" in by_poll
    nothing = browser.get("/admin/audit?actor=nobody", headers=HTML).get_data(as_text=True)
    assert "No events match." in nothing


def test_errors_are_html_for_browsers_and_json_for_others(app, tokens):
    browser, csrf = sign_in(app, tokens["moderator"])
    page = browser.post("/admin/polls/x/status", data={"status": "open"}, headers=HTML)
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "This form has expired" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)
    api_like = browser.post("/admin/polls/x/status", data={"status": "open"})
    assert api_like.mimetype == "application/json"
    assert api_like.get_json()["error"]["code"] == 400
    missing = browser.post("/admin/polls/x/status", data={"status": "open", "csrf_token": csrf})
    assert missing.status_code == 404


@pytest.fixture
def limited_app_config(app_config):
    app_config["RATELIMIT_ENABLED"] = True
    app_config["RATELIMIT_AUTH_FAILURES"] = "2/minute"
    return app_config


def test_refused_sign_ins_from_one_address_get_rate_limited(limited_app_config, app, tokens):
    browser = app.test_client()
    here = {"REMOTE_ADDR": "203.0.113.80"}
    csrf = csrf_of(browser.get("/admin/", headers=HTML, environ_base=here).get_data(as_text=True))
    empty = browser.post("/admin/sign-in", data={"csrf_token": csrf}, environ_base=here)
    assert empty.status_code == 401  # an empty form is not a guess and does not count
    for guess in ("ps_one", "ps_two"):
        refused = browser.post(
            "/admin/sign-in", data={"token": guess, "csrf_token": csrf}, environ_base=here
        )
        assert refused.status_code == 401
    limited = browser.post(
        "/admin/sign-in",
        data={"token": "ps_three", "csrf_token": csrf},
        headers=HTML,
        environ_base=here,
    )
    assert limited.status_code == 429
    assert limited.mimetype == "text/html"
    assert "Too many refused tokens" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    # A valid token from the same address signs in all the same: nobody is locked out by
    # someone else's guesses.
    signed_in = browser.post(
        "/admin/sign-in",
        data={"token": tokens["admin"], "csrf_token": csrf},
        headers=HTML,
        environ_base=here,
    )
    assert signed_in.status_code == 303
    # The refused tokens are in the audit log, said in words, by the address's pseudonym only.
    audit = browser.get("/admin/audit?action=auth.refused", headers=HTML, environ_base=here)
    page = audit.get_data(as_text=True)
    assert page.count("<td>Token refused</td>") == 2
    assert "presented at</span>: desk" in page
    assert "from address (pseudonym of the day)</span>:" in page
    assert "203.0.113.80" not in page
    elsewhere = app.test_client()
    sign_in_page = elsewhere.get(
        "/admin/", headers=HTML, environ_base={"REMOTE_ADDR": "203.0.113.81"}
    )
    assert sign_in_page.status_code == 200


def test_odd_input_is_refused_politely_never_a_500(app, tokens, seed_poll_id):
    browser, csrf = sign_in(app, tokens["moderator"])
    assert browser.get("/admin/polls/ab%00cd", headers=HTML).status_code == 404
    assert browser.get("/admin/polls/" + "x" * 300, headers=HTML).status_code == 404
    for hour in ("9999-12-31T23:00:00Z", "yesterday", "%00"):
        page = browser.get(f"/admin/polls/{seed_poll_id}?hour={hour}", headers=HTML)
        assert page.status_code == 200, hour
    audit = browser.get("/admin/audit?poll=a%00b&action=%00&actor=%00", headers=HTML)
    assert audit.status_code == 200
    url = f"/admin/polls/{seed_poll_id}/responses"
    hour = "2025-01-01T10:00:00Z"
    for form in (
        {"action": "hide", "hour": hour, "address_hash": "not-a-hash"},
        {"action": "delete", "hour": hour},
        {"action": "hide", "hour": "9999-12-31T23:59:00Z"},
    ):
        assert browser.post(url, data={**form, "csrf_token": csrf}).status_code == 400, form


def test_a_tree_whose_branches_rejoin_renders_one_line_per_node(app, tokens):
    """Yes and No both lead on for 30 questions: 2^30 paths, one line per node on the page."""
    from pollserver.core.lifecycle import PollStatus
    from pollserver.services.polls import change_status, create_poll

    count = 30
    nodes = [
        {
            "id": f"q{number}",
            "type": "question",
            "text": f"Question {number}?",
            "yes": f"q{number + 1}" if number < count else None,
            "no": f"q{number + 1}" if number < count else None,
        }
        for number in range(1, count + 1)
    ]
    with app.app_context():
        poll = create_poll(db.session, {"title": "Rejoining", "root": "q1", "nodes": nodes})
        change_status(poll, PollStatus.OPEN)
        db.session.commit()
        poll_id = poll.public_id
    browser, _ = sign_in(app, tokens["analyst"])
    page = browser.get(f"/admin/polls/{poll_id}", headers=HTML)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # Its node in the tree and the two links to it, the warnings on its two ending branches and
    # the results table: a constant number of times, however many paths lead there.
    assert html.count("Question 30?") <= 6
    assert len(html) < 200_000
