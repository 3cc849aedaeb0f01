"""Group commit: answers that arrive together share a transaction and lose nothing.

These drive a real AnswerWriter on the test's database (SQLite or PostgreSQL). To make a batch
form deterministically, the first transaction is held open until the other answers are queued.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.exc import OperationalError

from pollserver.core.refusals import Refused
from pollserver.database import write_transaction
from pollserver.extensions import db
from pollserver.models import Answer, Respondent
from pollserver.results_cache import tree_of
from pollserver.services import tallies
from pollserver.services.answer_writer import GATHER_SECONDS, AnswerRequest, AnswerWriter
from pollserver.services.polls import find_poll

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article

WAIT_SECONDS = 10


class DeadlockDetected(Exception):
    """What psycopg raises for a transaction PostgreSQL picks as a deadlock victim."""

    sqlstate = "40P01"


class HeldWriter:
    """An AnswerWriter whose first transaction waits for ``release`` before it begins."""

    def __init__(
        self,
        app,
        *,
        cap: int = 50,
        fail_transaction: int | None = None,
        failure: Exception | None = None,
        gets_results=lambda poll, recorded: False,
        gather_seconds: float = GATHER_SECONDS,
    ):
        self.app = app
        self.release = threading.Event()
        self.first_started = threading.Event()
        self.batches: list[int] = []
        self.transactions = 0
        self.fail_transaction = fail_transaction  # which one (1 = the first) fails at COMMIT
        self.failure = failure or OperationalError("COMMIT", {}, DeadlockDetected())
        self.writer = AnswerWriter(
            self._transaction,
            tree_of,
            respondents_per_address=lambda: cap,
            request_key_secret="a test secret",
            on_batch_written=self.batches.append,
            gets_results=gets_results,
            gather_seconds=gather_seconds,
        )
        self.outcomes: dict[str, object] = {}

    @contextmanager
    def _transaction(self):
        if not self.first_started.is_set():
            self.first_started.set()
            assert self.release.wait(WAIT_SECONDS)
        self.transactions += 1
        with write_transaction() as connection:
            yield connection
            if self.transactions == self.fail_transaction:
                raise self.failure

    def submit(self, name: str, request: AnswerRequest) -> threading.Thread:
        def run():
            with self.app.app_context():
                try:
                    self.outcomes[name] = self.writer.write(request)
                except (Refused, OperationalError) as refusal:
                    self.outcomes[name] = refusal

        thread = threading.Thread(target=run, name=name)
        thread.start()
        return thread


def new_reader(
    poll_id: str, answer: str = "yes", address: str = "198.51.100.7", node_key: str = "q1"
) -> AnswerRequest:
    return AnswerRequest(
        poll_id=poll_id,
        token=None,
        node_key=node_key,
        answer=answer,
        client_address=address,
        now=dt.datetime.now(dt.UTC),
    )


def queued(held: HeldWriter, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while len(held.writer._queue) < count:
        assert time.monotonic() < deadline, "answers did not queue"
        time.sleep(0.005)


def counts(app, poll_id: str) -> tuple[int, int, dict[str, int]]:
    with app.app_context():
        poll = find_poll(db.session, poll_id)
        respondents = db.session.scalar(
            select(func.count()).select_from(Respondent).where(Respondent.poll_id == poll.id)
        )
        answers = db.session.scalar(
            select(func.count()).select_from(Answer).where(Answer.poll_id == poll.id)
        )
        return respondents, answers, tallies.read_counts(db.session, poll.id)


@pytest.fixture
def poll_id(app):
    return open_poll_from_article(app, SEED_WITH_FLOWCHART)


def test_answers_queued_behind_a_batch_are_written_together_in_arrival_order(app, poll_id):
    held = HeldWriter(app, cap=3)
    first = held.submit("first", new_reader(poll_id, address="198.51.100.1"))
    assert held.first_started.wait(WAIT_SECONDS)
    # While the first batch is held, six more arrive: three new readers from one address
    # (the cap is three, and "first" came from another), one over the cap, one unknown poll,
    # and one new reader who does not start at the first question.
    threads = []
    for number, request in enumerate(
        [
            new_reader(poll_id, "yes"),
            new_reader(poll_id, "no"),
            new_reader(poll_id, "yes"),
            new_reader(poll_id, "yes"),  # the fourth from 198.51.100.7 today: over the cap
            new_reader("NOSUCHID"),
            new_reader(poll_id, node_key="q2", address="198.51.100.8"),
        ]
    ):
        threads.append(held.submit(f"queued-{number}", request))
        queued(held, number + 1)
    held.release.set()
    for thread in [first, *threads]:
        thread.join(WAIT_SECONDS)
    assert held.batches == [1, 6]
    for name in ("first", "queued-0", "queued-1", "queued-2"):
        assert held.outcomes[name].recorded.created_respondent, name
    over_cap = held.outcomes["queued-3"]
    assert isinstance(over_cap, Refused) and over_cap.status == 429
    unknown = held.outcomes["queued-4"]
    assert isinstance(unknown, Refused) and unknown.status == 404
    wrong_start = held.outcomes["queued-5"]
    assert isinstance(wrong_start, Refused) and wrong_start.status == 409
    assert wrong_start.details == {"expected": "q1"}
    # One "no" ends the poll: the batch's readers share one commit time.
    assert held.outcomes["queued-1"].recorded.walk.finished
    assert held.outcomes["queued-0"].committed_at == held.outcomes["queued-1"].committed_at
    respondents, answers, tallies = counts(app, poll_id)
    assert (respondents, answers) == (4, 4)
    assert tallies["started"] == 4
    assert tallies["yes:q1"] == 3 and tallies["no:q1"] == 1
    assert tallies["finished"] == 1


def test_while_answers_come_in_company_a_batch_gathers_before_it_is_written(app, poll_id):
    # Long enough to tell apart: an answer written at once is back well within a second.
    gathering = 2.0
    held = HeldWriter(app, gather_seconds=gathering)
    first = held.submit("first", new_reader(poll_id, address="198.51.100.1"))
    assert held.first_started.wait(WAIT_SECONDS)
    company = [held.submit("company-0", new_reader(poll_id, address="198.51.100.2"))]
    queued(held, 1)
    company.append(held.submit("company-1", new_reader(poll_id, address="198.51.100.3")))
    queued(held, 2)
    held.release.set()
    for thread in [first, *company]:
        thread.join(gathering / 2)
    # The first answer came alone: neither it nor the two behind it waited for more.
    assert held.batches == [1, 2]
    # After a batch of two, the next answer waits for companions, and two more join it.
    lead = held.submit("lead", new_reader(poll_id, address="198.51.100.4"))
    queued(held, 1)
    joined = [held.submit("joined-0", new_reader(poll_id, address="198.51.100.5"))]
    queued(held, 2)
    joined.append(held.submit("joined-1", new_reader(poll_id, address="198.51.100.6")))
    queued(held, 3)
    for thread in [lead, *joined]:
        thread.join(WAIT_SECONDS)
    assert held.batches == [1, 2, 3]
    assert all(held.outcomes[name].recorded.created_respondent for name in ("lead", "joined-1"))
    # After a batch of three, a lone answer still gathers (for nobody), then is written alone;
    # the one after that batch of one is written at once.
    held.submit("alone", new_reader(poll_id, address="198.51.100.8")).join(WAIT_SECONDS)
    at_once = held.submit("at-once", new_reader(poll_id, address="198.51.100.9"))
    at_once.join(gathering / 2)
    assert not at_once.is_alive()
    assert held.batches == [1, 2, 3, 1, 1]
    assert counts(app, poll_id)[:2] == (8, 8)


def test_finishing_readers_of_a_batch_share_one_sum_that_counts_the_whole_batch(app, poll_id):
    held = HeldWriter(app, gets_results=lambda poll, recorded: recorded.walk.finished)
    first = held.submit("first", new_reader(poll_id, "no", address="198.51.100.1"))
    assert held.first_started.wait(WAIT_SECONDS)
    threads = []
    for number, answer in enumerate(["no", "yes", "no"]):  # "no" at q1 ends the poll
        threads.append(
            held.submit(
                f"queued-{number}", new_reader(poll_id, answer, f"198.51.100.{30 + number}")
            )
        )
        queued(held, number + 1)
    held.release.set()
    for thread in [first, *threads]:
        thread.join(WAIT_SECONDS)
    assert held.batches == [1, 3]
    alone = held.outcomes["first"]
    assert alone.summed.counts["started"] == 1 and alone.summed.counts["finished"] == 1
    # Summed once for the batch, inside its transaction after its writes: every reader of the
    # batch is counted, and the sum is what a fresh one after the commit reads.
    batch_sum = held.outcomes["queued-0"].summed
    assert held.outcomes["queued-2"].summed is batch_sum
    assert held.outcomes["queued-1"].summed is None  # not finished: gets no results
    assert batch_sum.counts["started"] == 4 and batch_sum.counts["finished"] == 3
    assert batch_sum.counts == counts(app, poll_id)[2]
    # Stamped with when the read began, before the commit: it vouches for nothing later.
    assert alone.committed_at <= batch_sum.summed_at < held.outcomes["queued-0"].committed_at


def test_a_batch_the_database_fails_is_written_again_answer_by_answer(app, poll_id):
    held = HeldWriter(app, fail_transaction=2)
    first = held.submit("first", new_reader(poll_id, address="198.51.100.1"))
    assert held.first_started.wait(WAIT_SECONDS)
    threads = []
    for number in range(4):
        threads.append(
            held.submit(
                f"queued-{number}", new_reader(poll_id, address=f"198.51.100.{20 + number}")
            )
        )
        queued(held, number + 1)
    held.release.set()
    for thread in [first, *threads]:
        thread.join(WAIT_SECONDS)
    # The batch of four failed as a whole (rolled back), then each answer was written alone.
    assert held.transactions == 6
    assert held.batches == [1, 1, 1, 1, 1]
    assert all(not isinstance(outcome, Exception) for outcome in held.outcomes.values())
    respondents, answers, tallies = counts(app, poll_id)
    assert (respondents, answers) == (5, 5)  # nothing lost, nothing twice
    assert tallies["started"] == 5 and tallies["yes:q1"] == 5


def test_a_lone_answer_whose_transaction_fails_is_tried_once_more(app, poll_id):
    held = HeldWriter(app, fail_transaction=1)
    held.release.set()
    held.submit("alone", new_reader(poll_id)).join(WAIT_SECONDS)
    assert held.transactions == 2
    assert held.outcomes["alone"].recorded.created_respondent
    respondents, answers, tallies = counts(app, poll_id)
    assert (respondents, answers, tallies["started"]) == (1, 1, 1)


def test_a_batch_the_database_cannot_take_fails_at_once_without_a_retry_per_answer(app, poll_id):
    unreachable = OperationalError("BEGIN", {}, Exception("server closed the connection"))
    held = HeldWriter(app, fail_transaction=2, failure=unreachable)
    first = held.submit("first", new_reader(poll_id, address="198.51.100.1"))
    assert held.first_started.wait(WAIT_SECONDS)
    threads = []
    for number in range(3):
        threads.append(
            held.submit(f"queued-{number}", new_reader(poll_id, address=f"10.0.0.{number}"))
        )
        queued(held, number + 1)
    held.release.set()
    for thread in [first, *threads]:
        thread.join(WAIT_SECONDS)
    assert held.transactions == 2  # the failed batch was not tried again answer by answer
    for number in range(3):
        assert held.outcomes[f"queued-{number}"] is unreachable
    respondents, answers, _ = counts(app, poll_id)
    assert (respondents, answers) == (1, 1)


def keyed_reader(poll_id: str, key: str, answer: str = "yes", address: str = "198.51.100.9"):
    request = new_reader(poll_id, answer, address)
    request.request_key = key
    return request


def test_one_request_key_in_one_batch_starts_one_reader_and_the_rest_answer_as_them(app, poll_id):
    held = HeldWriter(app, cap=1)
    first = held.submit("first", new_reader(poll_id, address="198.51.100.1"))
    assert held.first_started.wait(WAIT_SECONDS)
    threads = []
    # One browser's first answer three times (a retry, a second tab changing its mind), and
    # another browser behind the same address, which the cap of one now refuses.
    for number, request in enumerate(
        [
            keyed_reader(poll_id, "tab-one-key-0123456789"),
            keyed_reader(poll_id, "tab-one-key-0123456789"),
            keyed_reader(poll_id, "tab-one-key-0123456789", "no"),
            keyed_reader(poll_id, "another-browser-key-0123"),
        ]
    ):
        threads.append(held.submit(f"queued-{number}", request))
        queued(held, number + 1)
    held.release.set()
    for thread in [first, *threads]:
        thread.join(WAIT_SECONDS)
    assert held.batches == [1, 4]
    started = held.outcomes["queued-0"].recorded
    assert started.created_respondent and started.stored and started.token
    retry = held.outcomes["queued-1"].recorded
    assert (retry.created_respondent, retry.stored, retry.token) == (False, False, started.token)
    assert retry.reader.id == started.reader.id
    changed = held.outcomes["queued-2"]
    assert isinstance(changed, Refused) and changed.status == 409
    assert changed.details == {"node": "q1", "answer": "yes", "respondent": started.token}
    capped = held.outcomes["queued-3"]
    assert isinstance(capped, Refused) and capped.status == 429
    assert capped.details["reason"] == "daily_cap"
    respondents, answers, tallies = counts(app, poll_id)
    assert (respondents, answers) == (2, 2)
    assert tallies["started"] == 2 and tallies["yes:q1"] == 2


@pytest.mark.postgres
def test_one_request_key_in_two_concurrent_transactions_starts_one_reader(
    postgres_server, instance_path
):
    """Two processes writing one browser's first answer at the same moment, from two addresses
    (a phone changing networks), on PostgreSQL: the lock on the key makes the second wait, find
    the first's reader and answer as a retry; no unique-key failure, no transaction written
    again, one reader.

    To make the race certain, each transaction waits (up to a second) before inserting its
    reader for the other to get there too: without the lock both would, and one would fail."""
    from pollserver import create_app

    url = postgres_server.create_database("pollserver_request_key")
    engine = create_engine(url)
    db.metadata.create_all(engine)
    engine.dispose()
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    try:
        poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
        both_open = threading.Barrier(2, timeout=WAIT_SECONDS)
        both_inserting = threading.Barrier(2, timeout=1)
        transactions = []

        @contextmanager
        def transaction_begun_together():
            with write_transaction() as connection:
                transactions.append(connection)
                if len(transactions) <= 2:
                    both_open.wait()  # both transactions are open before either reads anything
                yield connection

        def wait_for_the_other_insert(conn, cursor, statement, parameters, context, many):
            if statement.startswith("INSERT INTO respondents"):
                # When the barrier breaks, the other is waiting for our lock: go on.
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_inserting.wait()

        outcomes = {}

        def write(name, address):
            writer = AnswerWriter(
                transaction_begun_together,
                tree_of,
                respondents_per_address=lambda: 50,
                request_key_secret="a test secret",
            )
            with app.app_context():
                request = keyed_reader(poll_id, "same-key-in-two-tabs-01", address=address)
                try:
                    outcomes[name] = writer.write(request)
                except Exception as error:  # reported by the assertions below
                    outcomes[name] = error

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", wait_for_the_other_insert)
        threads = [
            threading.Thread(target=write, args=(name, address))
            for name, address in (("one", "198.51.100.11"), ("two", "203.0.113.11"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_SECONDS)
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", wait_for_the_other_insert)
        assert len(transactions) == 2  # neither was written again after a unique-key failure
        recorded = sorted(
            (outcome.recorded for outcome in outcomes.values()),
            key=lambda item: not item.created_respondent,
        )
        assert [item.created_respondent for item in recorded] == [True, False]
        assert recorded[1].stored is False and recorded[0].token == recorded[1].token
        respondents, answers, tallies = counts(app, poll_id)
        assert (respondents, answers, tallies["started"]) == (1, 1, 1)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        postgres_server.drop_database(url)
