"""Proof of work instead of a no: beyond the daily cap and during a surge of new readers, a new
reader is asked for a signed, single-use challenge's work, and counted once it is done."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import func, select

from pollserver.core import proof_of_work as pow_
from pollserver.extensions import db
from pollserver.models import Respondent
from pollserver.services.proof_of_work import NewReaderSurge, SpentInMemory, SpentInRedis

from helpers import ARTICLES_DIR, SEED_WITH_FLOWCHART, open_poll_from_article

SECRET = "test-secret"
# Tests ask little work (2^4 tries of 1,000 rounds: milliseconds); the policy is the same.
TEST_BITS = 4


# --- challenges, by hand --------------------------------------------------------------------------


def test_a_solved_challenge_stands_for_its_poll_only():
    now = time.time()
    challenge = pow_.issue_challenge(SECRET, "poll-a", TEST_BITS, now)
    nonce = pow_.solve(challenge)
    found = pow_.check_proof(SECRET, "poll-a", challenge, nonce, now)
    assert (found.bits, found.iterations) == (TEST_BITS, pow_.ITERATIONS)
    assert found.expires == int(now) + pow_.CHALLENGE_SECONDS
    assert pow_.leading_zero_bits(pow_.work(challenge, nonce, pow_.ITERATIONS)) >= TEST_BITS
    for secret, poll in ((SECRET, "poll-b"), ("another-secret", "poll-a")):
        with pytest.raises(pow_.ProofNotAccepted) as refused:
            pow_.check_proof(secret, poll, challenge, nonce, now)
        assert refused.value.reason == "forged"


def test_a_client_cannot_ease_its_own_challenge():
    now = time.time()
    challenge = pow_.issue_challenge(SECRET, "poll-a", 12, now)
    eased = "1" + challenge[2:]  # "12." -> "1." : one bit of work instead of twelve
    with pytest.raises(pow_.ProofNotAccepted) as refused:
        pow_.check_proof(SECRET, "poll-a", eased, pow_.solve(eased), now)
    assert refused.value.reason == "forged"


def test_a_proof_is_refused_when_late_short_of_work_or_malformed():
    now = time.time()
    challenge = pow_.issue_challenge(SECRET, "poll-a", TEST_BITS, now)
    nonce = pow_.solve(challenge)
    with pytest.raises(pow_.ProofNotAccepted) as late:
        pow_.check_proof(SECRET, "poll-a", challenge, nonce, now + pow_.CHALLENGE_SECONDS + 1)
    assert late.value.reason == "expired"
    short = next(
        str(number)
        for number in range(10_000)
        if pow_.leading_zero_bits(pow_.work(challenge, str(number), pow_.ITERATIONS)) < TEST_BITS
    )
    with pytest.raises(pow_.ProofNotAccepted) as unworked:
        pow_.check_proof(SECRET, "poll-a", challenge, short, now)
    assert unworked.value.reason == "insufficient"
    for bad_challenge, bad_nonce in ((challenge + "\n", nonce), (challenge, "12a"), ("x", "1")):
        with pytest.raises(pow_.ProofNotAccepted) as malformed:
            pow_.check_proof(SECRET, "poll-a", bad_challenge, bad_nonce, now)
        assert malformed.value.reason == "malformed"


def test_leading_zero_bits_by_hand():
    assert pow_.leading_zero_bits(bytes([0x80]) + bytes(31)) == 0
    assert pow_.leading_zero_bits(bytes([0x00, 0x01]) + bytes(30)) == 15
    assert pow_.leading_zero_bits(bytes(32)) == 256


def test_the_work_asked_grows_slowly_beyond_the_cap_and_with_a_surge():
    cap, base = 50, 11
    assert pow_.bits_beyond_cap(49, cap, base) == 0
    assert pow_.bits_beyond_cap(50, cap, base) == base  # the 51st reader of the day
    assert pow_.bits_beyond_cap(198, cap, base) == base
    assert pow_.bits_beyond_cap(199, cap, base) == base + 1  # fourfold the cap: twice the work
    assert pow_.bits_beyond_cap(799, cap, base) == base + 2
    assert pow_.bits_beyond_cap(10**9, cap, base) == base + pow_.MAX_EXTRA_BITS
    assert pow_.bits_beyond_cap(10**9, cap, 0) == 0  # no work asked: the caller refuses
    assert pow_.bits_for_surge(599, 600, base) == 0
    assert pow_.bits_for_surge(600, 600, base) == base
    assert pow_.bits_for_surge(1200, 600, base) == base + 1
    assert pow_.bits_for_surge(10**9, 600, base) == base + pow_.MAX_EXTRA_BITS
    assert pow_.bits_for_surge(10**9, 0, base) == 0  # surges off


# --- spent challenges and surges, in memory and in Redis ----------------------------------------


def test_a_challenge_is_spent_once_in_memory():
    spent = SpentInMemory()
    assert spent.spend("salt-one", int(time.time()) + 60)
    assert not spent.spend("salt-one", int(time.time()) + 60)
    assert spent.spend("salt-two", int(time.time()) + 60)


@pytest.mark.redis
def test_a_challenge_is_spent_once_across_processes_and_forgotten_with_it(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = f"pollserver-test-{uuid.uuid4().hex[:8]}"
    one_process, another = SpentInRedis(client, prefix), SpentInRedis(client, prefix)
    expires = int(time.time()) + 120
    assert one_process.spend("salt-one", expires)
    assert not another.spend("salt-one", expires)
    assert 100 < client.ttl(one_process.key_for("salt-one")) <= 122
    client.delete(one_process.key_for("salt-one"))
    client.close()


def test_a_surge_counts_the_busiest_of_the_last_minutes_in_memory():
    clock = [60.0 * 1000]
    surge = NewReaderSurge(clock=lambda: clock[0])
    for _ in range(5):
        surge.arrived("poll-a")
    surge.arrived("poll-b")
    clock[0] += 60
    surge.arrived("poll-a")
    assert surge.busiest_minute("poll-a") == 5  # the busier minute before
    assert surge.busiest_minute("poll-b") == 1
    clock[0] += 60 * 5  # five minutes on: the busy minute is past
    assert surge.busiest_minute("poll-a") == 0


@pytest.mark.redis
def test_a_surge_is_counted_across_processes(redis_url, monkeypatch):
    import redis

    from pollserver.services import proof_of_work as service

    monkeypatch.setattr(service, "SURGE_SYNC_SECONDS", 0.0)  # sync at every call
    client = redis.Redis.from_url(redis_url)
    prefix = f"pollserver-test-{uuid.uuid4().hex[:8]}"
    one_process, another = NewReaderSurge(client, prefix), NewReaderSurge(client, prefix)
    for _ in range(3):
        one_process.arrived("poll-a")
    another.arrived("poll-a")
    assert another.busiest_minute("poll-a") == 4
    assert one_process.busiest_minute("poll-a") == 4
    keys = client.keys(f"{prefix}:new-readers:*")
    assert keys and all(0 < client.ttl(key) <= (service.SURGE_MINUTES + 1) * 60 for key in keys)
    client.delete(*keys)
    client.close()


# --- the API ------------------------------------------------------------------------------------


def first_answer(client, poll_id: str, address: str, proof: dict | None = None):
    body = {"respondent": None, "node": "q1", "answer": "yes"}
    if proof is not None:
        body["proof"] = proof
    return client.post(
        f"/api/v1/polls/{poll_id}/answers", json=body, environ_base={"REMOTE_ADDR": address}
    )


def respondents(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Respondent))


def solved(refusal) -> dict:
    details = refusal.get_json()["error"]["details"]
    return {"challenge": details["challenge"], "nonce": pow_.solve(details["challenge"])}


@pytest.fixture
def capped_app(app):
    app.config.update(RESPONDENTS_PER_ADDRESS_PER_DAY=1, POLLSERVER_PROOF_OF_WORK_BITS=TEST_BITS)
    return app


def test_beyond_the_cap_a_new_reader_is_asked_for_work_and_counted_once_it_is_done(
    capped_app, client
):
    app = capped_app
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    assert first_answer(client, poll_id, "198.51.100.1").status_code == 201
    asked = first_answer(client, poll_id, "198.51.100.1")
    assert asked.status_code == 429
    error = asked.get_json()["error"]
    assert "proof of work" in error["message"]
    details = error["details"]
    assert details["reason"] == "proof_of_work" and details["why"] == "beyond_daily_cap"
    assert details["difficulty"] == TEST_BITS
    assert details["algorithm"] == "PBKDF2-HMAC-SHA256"
    assert details["iterations"] == pow_.ITERATIONS
    assert details["expires_in"] == pow_.CHALLENGE_SECONDS
    assert "Retry-After" not in asked.headers  # nothing to wait for: the work is the way in
    assert respondents(app) == 1  # nothing stored for the refused answer
    counted = first_answer(client, poll_id, "198.51.100.1", solved(asked))
    assert counted.status_code == 201 and counted.get_json()["respondent"]
    assert respondents(app) == 2


def test_a_proof_is_single_use_and_a_spent_one_gets_a_new_challenge(capped_app, client):
    poll_id = open_poll_from_article(capped_app, SEED_WITH_FLOWCHART)
    first_answer(client, poll_id, "198.51.100.2")
    proof = solved(first_answer(client, poll_id, "198.51.100.2"))
    assert first_answer(client, poll_id, "198.51.100.2", proof).status_code == 201
    again = first_answer(client, poll_id, "198.51.100.2", proof)
    assert again.status_code == 429
    details = again.get_json()["error"]["details"]
    assert (details["reason"], details["proof"]) == ("proof_of_work", "spent")
    assert details["challenge"] != proof["challenge"]
    assert "not accepted (spent)" in again.get_json()["error"]["message"]
    assert respondents(capped_app) == 2
    # The new challenge is the way in.
    assert first_answer(client, poll_id, "198.51.100.2", solved(again)).status_code == 201


def test_a_proof_for_another_poll_or_unworked_is_not_accepted(capped_app, client):
    app = capped_app
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    first_answer(client, poll_id, "198.51.100.3")
    challenge = pow_.issue_challenge(
        app.config["SECRET_KEY"], "another-poll", TEST_BITS, time.time()
    )
    moved = first_answer(
        client, poll_id, "198.51.100.3", {"challenge": challenge, "nonce": pow_.solve(challenge)}
    )
    assert moved.get_json()["error"]["details"]["proof"] == "forged"
    asked = first_answer(client, poll_id, "198.51.100.3").get_json()["error"]["details"]
    unworked = next(
        str(number)
        for number in range(10_000)
        if pow_.leading_zero_bits(pow_.work(asked["challenge"], str(number), pow_.ITERATIONS))
        < TEST_BITS
    )
    short = first_answer(
        client, poll_id, "198.51.100.3", {"challenge": asked["challenge"], "nonce": unworked}
    )
    assert short.get_json()["error"]["details"]["proof"] == "insufficient"
    assert respondents(app) == 1


@pytest.mark.parametrize(
    "proof",
    [
        {"challenge": "not-a-challenge", "nonce": "1"},
        {"challenge": "4.1000.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", "nonce": "12a"},
        {"nonce": "1"},
        "a string",
    ],
)
def test_a_malformed_proof_is_a_422_naming_it_and_stores_nothing(capped_app, client, proof):
    poll_id = open_poll_from_article(capped_app, SEED_WITH_FLOWCHART)
    refused = first_answer(client, poll_id, "198.51.100.4", proof)
    assert refused.status_code == 422
    fields = refused.get_json()["error"]["details"]["fields"]
    assert fields and all(path.split(".")[0] == "proof" for path in fields), fields
    assert respondents(capped_app) == 0


def test_the_work_asked_doubles_with_each_fourfold_beyond_the_cap(capped_app, client):
    poll_id = open_poll_from_article(capped_app, SEED_WITH_FLOWCHART)
    asked = []
    for _ in range(5):
        response = first_answer(client, poll_id, "198.51.100.5")
        if response.status_code == 429:
            asked.append(response.get_json()["error"]["details"]["difficulty"])
            response = first_answer(client, poll_id, "198.51.100.5", solved(response))
        assert response.status_code == 201
    # Readers 2 and 3 of a cap of 1 owe the base; from the 4th (4 started, fourfold), one bit more.
    assert asked == [TEST_BITS, TEST_BITS, TEST_BITS + 1, TEST_BITS + 1]


def test_a_surge_of_new_readers_asks_everyone_new_for_work(app, client):
    app.config.update(
        POLLSERVER_PROOF_OF_WORK_BITS=TEST_BITS, POLLSERVER_SURGE_READERS_PER_MINUTE=3
    )
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    for number in range(3):
        assert first_answer(client, poll_id, f"198.51.100.{10 + number}").status_code == 201
    asked = first_answer(client, poll_id, "198.51.100.20")  # an address never seen before
    assert asked.status_code == 429
    details = asked.get_json()["error"]["details"]
    assert (details["why"], details["difficulty"]) == ("surge", TEST_BITS)
    assert first_answer(client, poll_id, "198.51.100.20", solved(asked)).status_code == 201
    # A reader who has started goes on without work; another poll is not surging.
    other_poll = open_poll_from_article(app, ARTICLES_DIR / "one_question.txt")
    assert first_answer(client, other_poll, "198.51.100.21").status_code == 201
    assert respondents(app) == 5


def test_a_proof_sent_when_none_is_owed_does_no_harm(capped_app, client):
    poll_id = open_poll_from_article(capped_app, SEED_WITH_FLOWCHART)
    challenge = pow_.issue_challenge(
        capped_app.config["SECRET_KEY"], poll_id, TEST_BITS, time.time()
    )
    proof = {"challenge": challenge, "nonce": pow_.solve(challenge)}
    assert first_answer(client, poll_id, "198.51.100.6", proof).status_code == 201


def test_the_solver_is_a_module_any_page_may_import_and_the_widget_names_it(client):
    from pollserver.pages import widget_files
    from pollserver.widget_build import EXTRAS, WIDGET

    extras = widget_files.built_file(EXTRAS)
    assert f'"{extras.path}"'.encode() in widget_files.built_file(WIDGET).body
    served = client.get(f"/{extras.path}")
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("text/javascript")
    assert served.headers["Access-Control-Allow-Origin"] == "*"  # import() fetches with CORS
    assert b"export const work" in served.data and b"PBKDF2" in served.data
    # A widget.js cached from before an update asks for its own solver: sent to the current one.
    stale = client.get("/widget/extras.000000000000.js")
    assert stale.status_code == 307 and stale.headers["Location"].endswith(extras.path)
