"""Hostile input gets the one JSON error shape, never a 500 (issue 17's findings, one by one)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from pollserver import create_app
from pollserver.api.public import answer_writer
from pollserver.extensions import db
from pollserver.request_json import MAX_JSON_DEPTH

from helpers import ARTICLES_DIR, SEED_WITH_FLOWCHART, bearer, limited_app, open_poll_from_article

DEEP_ARRAYS = b"[" * 1000 + b"]" * 1000
# Parses (well within the recursion limit) but deeper than any document of the API.
DEEP_OBJECTS = b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1)
JSON = {"Content-Type": "application/json"}
ANOTHER_ARTICLE = ARTICLES_DIR / "one_question.txt"


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == status
    return error


@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(app, client, tokens, body):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    admin = {**bearer(tokens["admin"]), **JSON}
    requests = [
        ("POST", f"/api/v1/polls/{poll_id}/answers", JSON),
        ("POST", "/api/v1/admin/articles", admin),
        ("PATCH", f"/api/v1/admin/polls/{poll_id}/settings", admin),
        ("PUT", f"/api/v1/admin/polls/{poll_id}/definition", admin),
        ("POST", f"/api/v1/admin/polls/{poll_id}/status", admin),
        ("POST", f"/api/v1/admin/polls/{poll_id}/responses/hide", admin),
        ("POST", "/api/v1/admin/tokens", admin),
    ]
    for method, url, headers in requests:
        response = client.open(url, method=method, data=body, headers=headers)
        assert_json_error(response, 400)


EXTREME_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_extreme_times_are_clamped_not_a_500(app, client, tokens, moment):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    admin = bearer(tokens["admin"])
    window = {"since": moment, "until": moment}
    for url in (
        f"/api/v1/admin/polls/{poll_id}/activity",
        f"/api/v1/admin/polls/{poll_id}/activity/groups",
        f"/api/v1/admin/polls/{poll_id}/respondents",
        "/api/v1/admin/audit",
    ):
        response = client.get(url, query_string=window, headers=admin)
        assert response.status_code in (200, 422), (url, response.get_data(as_text=True)[:300])
        assert response.mimetype == "application/json"
    for action in ("hide", "restore"):
        response = client.post(
            f"/api/v1/admin/polls/{poll_id}/responses/{action}",
            json={"started_from": EXTREME_TIMES[0], "started_until": EXTREME_TIMES[1]},
            headers=admin,
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    closing = client.patch(
        f"/api/v1/admin/polls/{poll_id}/settings", json={"close_at": moment}, headers=admin
    )
    assert closing.status_code in (200, 422), closing.get_data(as_text=True)[:300]
    assert closing.mimetype == "application/json"
    if moment.startswith("9999"):  # far in the future: taken, clamped into the year 9999
        assert closing.status_code == 200
        assert closing.get_json()["settings"]["close_at"].startswith("9999-01-01")


@pytest.mark.parametrize(
    "origin",
    [
        "https://news.example\n",
        "https://news.example/path",
        "https://user@news.example",
        "https://news.example?x=1",
        "javascript://news.example",
        "https://news.example:99999",
        "https://-news.example",
        "https://news..example",
        "https://news.example:0",
        " https://news.example",
    ],
)
def test_settings_refuse_what_is_not_an_origin(app, client, tokens, origin):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    response = client.patch(
        f"/api/v1/admin/polls/{poll_id}/settings",
        json={"allowed_origins": [origin]},
        headers=bearer(tokens["admin"]),
    )
    error = assert_json_error(response, 422)
    assert "scheme://host[:port]" in str(error["details"])


def test_origins_are_taken_normalised(app, client, tokens):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    response = client.patch(
        f"/api/v1/admin/polls/{poll_id}/settings",
        json={"allowed_origins": ["https://News.Example:8443/", "http://127.0.0.1:8000"]},
        headers=bearer(tokens["admin"]),
    )
    assert response.status_code == 200
    assert response.get_json()["settings"]["allowed_origins"] == [
        "http://127.0.0.1:8000",
        "https://news.example:8443",
    ]


def test_an_origin_stored_before_the_check_does_not_break_the_poll(app, client):
    # Stored as the settings API once took it, with a final newline.
    poll_id = open_poll_from_article(
        app,
        SEED_WITH_FLOWCHART,
        allowed_origins=["https://news.example\n", "https://paper.example"],
    )
    page = client.get(f"/embed/{poll_id}")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://news.example https://paper.example" in csp
    for origin in ("https://paper.example", "https://news.example"):
        read = client.get(f"/api/v1/polls/{poll_id}", headers={"Origin": origin})
        assert read.status_code == 200
        assert read.headers["Access-Control-Allow-Origin"] == origin


def test_a_poll_whose_stored_origins_all_fail_to_parse_stays_closed(app, client):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, allowed_origins=["javascript:x"])
    page = client.get(f"/embed/{poll_id}")
    assert "frame-ancestors 'self';" in page.headers["Content-Security-Policy"] + ";"
    refused = client.get(f"/api/v1/polls/{poll_id}", headers={"Origin": "https://any.example"})
    assert refused.status_code == 403


def test_responses_that_depend_on_the_origin_say_vary_origin(app, client):
    named = open_poll_from_article(
        app, SEED_WITH_FLOWCHART, allowed_origins=["https://paper.example"]
    )
    open_to_all = open_poll_from_article(app, ANOTHER_ARTICLE)
    for attempt in ("view", "memory"):  # the first read fills the memory the second is from
        for path in ("", "/results"):
            without = client.get(f"/api/v1/polls/{named}{path}")
            assert "Origin" in without.headers.get("Vary", ""), (attempt, path)
            assert "Access-Control-Allow-Origin" not in without.headers
            refused = client.get(
                f"/api/v1/polls/{named}{path}", headers={"Origin": "https://other.example"}
            )
            assert refused.status_code == 403
            assert "Origin" in refused.headers["Vary"]
        # A poll open to any page answers every request alike: nothing to vary on.
        anyone = client.get(f"/api/v1/polls/{open_to_all}")
        assert anyone.headers["Access-Control-Allow-Origin"] == "*"
        assert "Origin" not in anyone.headers.get("Vary", "")
    answer = client.post(
        f"/api/v1/polls/{named}/answers", json={"respondent": None, "node": "q1", "answer": "yes"}
    )
    assert answer.status_code == 201 and "Origin" in answer.headers["Vary"]


def new_reader_from(client, poll_id: str, address: str):
    return client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_an_ipv6_slash_64_meets_the_daily_cap_as_one_client(app, client):
    app.config["RESPONDENTS_PER_ADDRESS_PER_DAY"] = 2
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    for address in ("2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"):
        assert new_reader_from(client, poll_id, address).status_code == 201
    capped = new_reader_from(client, poll_id, "2001:db8:1:2::ffff")
    assert_json_error(capped, 429)
    # Beyond the cap: a proof of work is asked of the third reader of that /64.
    assert capped.get_json()["error"]["details"]["reason"] == "proof_of_work"
    # The next /64 is another client; an IPv4-mapped address is its IPv4 client.
    assert new_reader_from(client, poll_id, "2001:db8:1:3::1").status_code == 201
    assert new_reader_from(client, poll_id, "192.0.2.9").status_code == 201
    assert new_reader_from(client, poll_id, "::ffff:192.0.2.9").status_code == 201
    assert_json_error(new_reader_from(client, poll_id, "::ffff:192.0.2.9"), 429)


def test_an_ipv6_slash_64_meets_the_rate_limit_as_one_client(app_config):
    app = limited_app(app_config, RATELIMIT_ANSWERS="2/minute")
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    client = app.test_client()
    assert new_reader_from(client, poll_id, "2001:db8:5:6::1").status_code == 201
    assert new_reader_from(client, poll_id, "2001:db8:5:6::2").status_code == 201
    limited = new_reader_from(client, poll_id, "2001:db8:5:6:ffff::3")
    assert_json_error(limited, 429)
    assert limited.get_json()["error"]["details"]["reason"] == "rate_limit"
    assert new_reader_from(client, poll_id, "2001:db8:5:7::1").status_code == 201


def test_every_response_says_nosniff_and_https_ones_say_hsts(app, client, tokens):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="public")
    urls = [
        f"/api/v1/polls/{poll_id}",  # the view, then the fast lane from memory
        f"/api/v1/polls/{poll_id}",
        f"/api/v1/polls/{poll_id}/results.svg",
        "/widget.js",
        "/api/v1/polls/no-such-poll",
        f"/api/v1/admin/polls/{poll_id}/responses.csv",
    ]
    for url in urls:
        plain = client.get(url, headers=bearer(tokens["admin"]))
        assert plain.headers["X-Content-Type-Options"] == "nosniff", url
        assert "Strict-Transport-Security" not in plain.headers, url
        plain.close()  # the export is streamed: end it before the next request
        over_tls = client.get(url, base_url="https://localhost", headers=bearer(tokens["admin"]))
        assert over_tls.headers["Strict-Transport-Security"] == "max-age=31536000", url
        over_tls.close()
    answer = client.post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
        base_url="https://localhost",
    )
    assert answer.status_code == 201
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    picture = client.get(f"/api/v1/polls/{poll_id}/results.svg")
    assert picture.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_hsts_can_be_turned_off(app_config):
    app = create_app({**app_config, "POLLSERVER_HSTS_SECONDS": 0})
    response = app.test_client().get("/widget.js", base_url="https://localhost")
    assert "Strict-Transport-Security" not in response.headers


def test_a_database_dump_holds_no_address_salt(app, client):
    """The salt that keys the stored address hashes is nowhere in the database: a dump or a
    backup holds hashes nobody can reverse."""
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    assert new_reader_from(client, poll_id, "198.51.100.77").status_code == 201
    with app.app_context():
        today = dt.datetime.now(dt.UTC).date()
        salt = answer_writer()._address_salts.for_day(today)
        tables = inspect(db.engine).get_table_names()
        assert "address_salts" not in tables
        dumped = []
        for table in tables:
            for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
                dumped.append(repr(tuple(row)))
        dump = "\n".join(dumped)
    assert salt.hex() not in dump and repr(salt) not in dump
    # The address itself is not there either, only its hash.
    assert "198.51.100.77" not in dump


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_a_setting_that_is_a_boolean_takes_only_true_or_false(app, client, tokens, value):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    url = f"/api/v1/admin/polls/{poll_id}/settings"
    refused = client.patch(
        url, json={"allow_answer_changes": value}, headers=bearer(tokens["admin"])
    )
    assert_json_error(refused, 422)
    taken = client.patch(url, json={"allow_answer_changes": True}, headers=bearer(tokens["admin"]))
    assert taken.status_code == 200
    assert taken.get_json()["settings"]["allow_answer_changes"] is True


def test_the_services_own_pages_are_never_refused_behind_a_proxy(app_config):
    app = create_app({**app_config, "POLLSERVER_PUBLIC_URL": "https://polls.example.org"})
    poll_id = open_poll_from_article(
        app, SEED_WITH_FLOWCHART, allowed_origins=["https://paper.example"]
    )
    # A proxy that passes on its own Host: the share page's origin is the public URL.
    response = app.test_client().post(
        f"/api/v1/polls/{poll_id}/answers",
        json={"respondent": None, "node": "q1", "answer": "yes"},
        headers={"Origin": "https://polls.example.org", "Host": "pollserver.internal:8000"},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/polls/{id}",
        "/api/v1/polls/{id}/results",
        "/api/v1/polls/{id}/answers",
        "/api/v1/admin/polls/{id}",
        "/embed/{id}",
        "/p/{id}",
    ],
)
def test_a_5000_character_poll_id_is_a_404_that_does_not_repeat_it_whole(client, tokens, path):
    url = path.format(id="a" * 5000)
    answer = {"respondent": None, "node": "q1", "answer": "yes"}
    headers = bearer(tokens["moderator"]) if "/admin/" in path else {}
    if path.endswith("answers"):
        response = client.post(url, json=answer)
    else:
        response = client.get(url, headers=headers)
    assert_json_error(response, 404)
    message = response.get_json()["error"]["message"]
    assert "'" + "a" * 40 + "…'" in message and len(message) < 100, message


# Header values as they can arrive: any byte but CR and LF (as latin-1, which is how WSGI gives
# header bytes to the app).
header_values = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\r\n"),
    max_size=300,
)
HOSTILE_HEADERS = (
    "X-Poll-Respondent",
    "If-None-Match",
    "Origin",
    "Authorization",
    "Accept",
    "Accept-Encoding",
    "Content-Type",
    "X-Forwarded-For",
)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/polls/{id}"),
        ("GET", "/api/v1/polls/{id}/progress"),
        ("GET", "/api/v1/polls/{id}/results"),
        ("GET", "/api/v1/polls/{id}/results.svg"),
        ("POST", "/api/v1/polls/{id}/answers"),
        ("OPTIONS", "/api/v1/polls/{id}/answers"),
        ("GET", "/api/v1/admin/polls"),
        ("GET", "/widget.js"),
    ],
)
def test_any_header_values_never_make_a_5xx_and_errors_stay_json(app, seed_poll_id, method, path):
    client = app.test_client()
    url = path.format(id=seed_poll_id)

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(st.dictionaries(st.sampled_from(HOSTILE_HEADERS), header_values, max_size=4))
    def send(headers):
        body = {"respondent": None, "node": "q1", "answer": "yes"}
        response = client.open(
            url, method=method, headers=headers, json=body if method == "POST" else None
        )
        assert response.status_code < 500, (headers, response.status_code)
        if response.status_code >= 400:
            assert response.get_json()["error"]["code"] == response.status_code, headers

    send()
