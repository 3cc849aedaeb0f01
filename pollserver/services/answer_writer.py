"""Group commit: answers that arrive together are written in one transaction.

Under load, an answer's own statements are cheap next to what surrounds them: taking a
connection, BEGIN, reading and locking the poll, the tally upsert, COMMIT (on PostgreSQL a
flush to disk), and on SQLite the wait for the one writer. So the request threads of a process
hand their answers to an :class:`AnswerWriter`. The first thread to find no batch being written
writes everything queued so far in one transaction and wakes the others; answers that arrive
meanwhile form the next batch. While answers come in company (the last batch held more than
one), that thread first gathers for ``GATHER_SECONDS``: each batch then carries more answers for
the same fixed cost, and the whole process spends less per answer (measured in bench/RESULTS.md:
15-20% more answers per second on the same cores, and a lower p99, for the 2 ms a batch waits).
One answer alone, after a batch of one, is written at once.

Each answer in a batch follows exactly the rules of ``pollserver.services.answering``: new
readers of a poll are started together, in arrival order (two new readers from one address count
against the daily cap together), and returning readers' answers follow one by one. A first
answer whose request key names a reader who has started (earlier, or earlier in the batch) is
answered as that reader, among the returning ones. A refusal
refuses that answer only: refusals come before any write. If the database refuses the whole
transaction for a reason one answer may have caused (a unique-key race, a deadlock or
serialization failure), every answer of the batch is written again on its own, so one bad answer
never fails the others; any other failure (the database unreachable, a timeout) fails the batch
at once: trying each answer again would only multiply the wait. Locks are taken in a fixed order
(polls by id, then readers and addresses sorted), so two batches never wait for each other in a
cycle.

A reader whose answer brings results back (``gets_results``) gets the poll's tallies summed
inside the batch's own transaction, after its writes: they count the batch and every commit
before the sum, and cost one statement instead of a connection and transaction of their own.

No Flask here: the callables the caller supplies (the write transaction, the poll trees, the
metric) come bound to what they use, and run in the thread that writes the batch, which is one
of the waiting requests.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from pollserver.core.identifiers import echoed
from pollserver.core.lifecycle import is_published
from pollserver.core.privacy import address_hash, respondent_token_for_key
from pollserver.core.refusals import Refused
from pollserver.core.tree import PollTree
from pollserver.services import tallies
from pollserver.services.address_salts import AddressSalts, SaltsInMemory
from pollserver.services.answering import (
    FirstAnswer,
    RecordedAnswer,
    StartedByKey,
    record_new_readers,
    record_next_answer,
)
from pollserver.services.polls import PollFacts, find_poll_facts

log = logging.getLogger(__name__)


@dataclass
class AnswerRequest:
    """One reader's answer as it arrived: what the API was sent, and from where."""

    poll_id: str  # the public id
    token: str | None
    node_key: str
    answer: str
    client_address: str  # hashed with the day's salt inside the transaction, never stored
    now: dt.datetime
    version: int | None = None  # the version the reader was shown, when the widget says
    request_key: str | None = None  # a new reader's idempotency key, when the client sent one
    proof_bits: int = 0  # the work of the proof a new reader sent, checked and spent


@dataclass
class WrittenAnswer:
    poll: PollFacts
    recorded: RecordedAnswer
    committed_at: float  # time.monotonic() once the transaction holding it had committed
    # The poll's tallies summed in that transaction, for a reader who gets results back.
    summed: tallies.SummedCounts | None = None


@dataclass
class _Pending:
    request: AnswerRequest
    done: bool = False
    written: WrittenAnswer | None = None
    error: BaseException | None = None
    recorded: RecordedAnswer | None = field(default=None, repr=False)
    poll: PollFacts | None = field(default=None, repr=False)
    summed: tallies.SummedCounts | None = field(default=None, repr=False)
    # A first answer whose request key names a started reader: that reader's token.
    token_by_key: str | None = field(default=None, repr=False)

    @property
    def token(self) -> str | None:
        return self.request.token or self.token_by_key


# How long the thread about to write a batch gathers companions while answers arrive together
# (PostgreSQL's commit_delay, in the writer): a fraction of what a batch takes to write.
GATHER_SECONDS = 0.002


class AnswerWriter:
    """Writes the answers of one process, in batches (see the module docstring)."""

    def __init__(
        self,
        write_transaction: Callable[[], AbstractContextManager[Connection]],
        tree_of: Callable[[PollFacts, Connection], PollTree],
        respondents_per_address: Callable[[], int],
        *,
        proof_of_work_bits: Callable[[], int] = lambda: 0,
        request_key_secret: str,
        on_batch_written: Callable[[int], None] = lambda size: None,
        gets_results: Callable[[PollFacts, RecordedAnswer], bool] = lambda poll, recorded: False,
        gather_seconds: float = GATHER_SECONDS,
        address_salts: AddressSalts | None = None,
    ):
        self._write_transaction = write_transaction
        self._gets_results = gets_results
        self._on_batch_written = on_batch_written
        self._tree_of = tree_of
        self._respondents_per_address = respondents_per_address
        self._proof_of_work_bits = proof_of_work_bits
        self._request_key_secret = request_key_secret
        self._lock = threading.Lock()
        self._batch_written = threading.Condition(self._lock)
        self._queue: list[_Pending] = []
        self._writing = False
        self._gather_seconds = gather_seconds
        self._address_salts = address_salts or SaltsInMemory()
        self._last_batch_size = 0

    def write(self, request: AnswerRequest) -> WrittenAnswer:
        """Write one answer (with whatever else is queued); raise its Refused if refused."""
        pending = _Pending(request)
        with self._lock:
            self._queue.append(pending)
            while not pending.done:
                if self._writing:
                    self._batch_written.wait()
                    continue
                self._writing = True
                if self._last_batch_size > 1:
                    self._gather_companions()
                batch, self._queue = self._queue, []
                self._last_batch_size = len(batch)
                self._lock.release()
                try:
                    self._write_batch(batch)
                finally:
                    self._lock.acquire()
                    self._writing = False
                    self._batch_written.notify_all()
        if pending.error is not None:
            raise pending.error
        assert pending.written is not None
        return pending.written

    def _gather_companions(self) -> None:
        """Let answers arriving right behind this one join its batch: the lock is held, and a
        wait releases it so that they can queue (nothing notifies meanwhile: no batch is being
        written, and the other threads wait for one)."""
        deadline = time.monotonic() + self._gather_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._batch_written.wait(remaining)

    def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            try:
                self._write_together(batch)
            except SQLAlchemyError as error:
                if not one_answer_may_be_the_cause(error):
                    raise
                for pending in batch:
                    self._write_alone(pending)
        except BaseException as error:
            for pending in batch:
                if not pending.done:
                    pending.error = error
        finally:
            for pending in batch:
                pending.done = True

    def _write_alone(self, pending: _Pending) -> None:
        try:
            try:
                self._write_together([pending])
            except IntegrityError:
                # Two requests for one reader raced past each other in different processes; a
                # second attempt sees what the first stored and answers as a retry would.
                self._write_together([pending])
        except Exception as error:
            pending.error = error
            pending.done = True

    def _write_together(self, batch: list[_Pending]) -> None:
        for pending in batch:  # a batch written again answer by answer starts afresh
            pending.error, pending.recorded, pending.poll, pending.summed = None, None, None, None
            pending.token_by_key = None
        # The new readers' days' salts, looked up before the transaction: never wait on Redis
        # while holding the poll's lock (or, on SQLite, the one writer's).
        salts = {
            day: self._address_salts.for_day(day)
            for day in {
                pending.request.now.astimezone(dt.UTC).date()
                for pending in batch
                if pending.request.token is None
            }
        }
        with self._write_transaction() as connection:
            polls = _read_polls_for_share(connection, batch)
            new_readers, returning = _new_and_returning_readers(batch, polls)
            # New readers of a poll are started together (they only meet through the daily cap,
            # which counts them in arrival order); returning readers one by one, sorted by
            # token (a stable sort: one reader's answers keep their order).
            started_by_key = self._start_new_readers(connection, new_readers, salts)
            self._record_returning_readers(connection, [*returning, *started_by_key])
            _apply_tallies(connection, batch)
            self._sum_tallies_for_results(connection, batch)
        committed_at = time.monotonic()
        _hand_back(batch, committed_at)
        try:
            self._on_batch_written(len(batch))
        except Exception:  # a metric must never turn stored answers into errors
            log.exception("recording the batch size failed")

    def _start_new_readers(
        self,
        connection: Connection,
        new_readers: dict[int, list[_Pending]],
        salts: dict[dt.date, bytes],
    ) -> list[_Pending]:
        """Each poll's new readers in one go, polls in id order; returns the first answers
        whose request key names a started reader, to be answered as that reader."""
        started_by_key = []
        for poll_id in sorted(new_readers):
            arrivals = new_readers[poll_id]
            poll = arrivals[0].poll
            first_answers = _first_answers(
                arrivals, salts, self._address_salts, self._request_key_secret
            )
            outcomes = record_new_readers(
                connection,
                poll,
                self._tree_of(poll, connection),
                first_answers,
                respondents_per_address=self._respondents_per_address(),
                proof_of_work_bits=self._proof_of_work_bits(),
            )
            for pending, outcome in zip(arrivals, outcomes, strict=True):
                if isinstance(outcome, Refused):
                    pending.error = outcome
                elif isinstance(outcome, StartedByKey):
                    pending.token_by_key = outcome.token
                    started_by_key.append(pending)
                else:
                    pending.recorded = outcome
        return started_by_key

    def _record_returning_readers(self, connection: Connection, returning: list[_Pending]) -> None:
        for pending in sorted(returning, key=lambda item: item.token):
            request = pending.request
            try:
                pending.recorded = record_next_answer(
                    connection,
                    pending.poll,
                    lambda version: self._tree_of(version, connection),
                    token=pending.token,
                    node_key=request.node_key,
                    answer=request.answer,
                    now=request.now,
                )
            except Refused as refusal:
                if pending.token_by_key:
                    # The client may never have received the token: every reply carries it.
                    refusal.details = {**refusal.details, "respondent": pending.token_by_key}
                pending.error = refusal
            else:
                # The reader's own version: its tallies change, its results go back to them.
                pending.poll = pending.recorded.poll or pending.poll
                if pending.token_by_key:
                    pending.recorded.token = pending.token_by_key

    def _sum_tallies_for_results(self, connection: Connection, batch: list[_Pending]) -> None:
        """For each reader who gets results back, the poll's tallies: summed once per poll."""
        sums: dict[int, tallies.SummedCounts] = {}
        for pending in batch:
            if pending.recorded is None or not self._gets_results(pending.poll, pending.recorded):
                continue
            if pending.poll.id not in sums:
                sums[pending.poll.id] = tallies.sum_counts(connection, pending.poll.id)
            pending.summed = sums[pending.poll.id]


def _read_polls_for_share(
    connection: Connection, batch: list[_Pending]
) -> dict[str, PollFacts | None]:
    """The batch's polls by public id (None: no such poll), share-locked in sorted order."""
    polls: dict[str, PollFacts | None] = {}
    for public_id in sorted({pending.request.poll_id for pending in batch}):
        polls[public_id] = find_poll_facts(connection, public_id, for_share=True)
    return polls


def _new_and_returning_readers(
    batch: list[_Pending], polls: dict[str, PollFacts | None]
) -> tuple[dict[int, list[_Pending]], list[_Pending]]:
    """New readers by poll id and returning readers, in arrival order; an answer to a poll
    that is not published is refused here."""
    new_readers: dict[int, list[_Pending]] = {}
    returning: list[_Pending] = []
    for pending in batch:
        poll = polls[pending.request.poll_id]
        if poll is None or not is_published(poll):
            pending.error = Refused(
                404, f"No poll {echoed(pending.request.poll_id)} is published here."
            )
            continue
        pending.poll = poll
        if pending.request.token is None:
            version = pending.request.version
            if version is not None and version != poll.version:
                pending.error = Refused(
                    409,
                    f"This poll has changed (version {poll.version} replaced version {version}):"
                    " load it again to answer the new version.",
                    {"version": poll.version},
                )
                continue
            new_readers.setdefault(poll.id, []).append(pending)
        else:
            returning.append(pending)
    return new_readers, returning


def _first_answers(
    arrivals: list[_Pending],
    salts: dict[dt.date, bytes],
    address_salts: AddressSalts,
    request_key_secret: str,
) -> list[FirstAnswer]:
    """New readers' first answers, each address hashed with its day's salt (looked up once a
    batch), and the token each request key gives in the live version (a new version, new
    readers)."""
    first_answers = []
    for pending in arrivals:
        request, poll = pending.request, pending.poll
        day = request.now.astimezone(dt.UTC).date()
        if day not in salts:
            salts[day] = address_salts.for_day(day)
        token = None
        if request.request_key is not None:
            token = respondent_token_for_key(
                request_key_secret, poll.public_id, poll.version, request.request_key
            )
        first_answers.append(
            FirstAnswer(
                request.node_key,
                request.answer,
                address_hash(request.client_address, salts[day]),
                request.now,
                token,
                request.proof_bits,
            )
        )
    return first_answers


def _apply_tallies(connection: Connection, batch: list[_Pending]) -> None:
    # One upsert per poll for the whole batch, polls in id order, each upsert's rows
    # sorted: every transaction takes its counter-row locks in the same order.
    deltas: dict[int, Counter[str]] = {}
    for pending in batch:
        if pending.recorded is not None:
            counts = deltas.setdefault(pending.poll.id, Counter())
            counts.update(pending.recorded.tally_deltas)
    for poll_id in sorted(deltas):
        changed = {key: value for key, value in deltas[poll_id].items() if value}
        tallies.apply_counts(connection, poll_id, changed)


def _hand_back(batch: list[_Pending], committed_at: float) -> None:
    """Each stored answer's result for its waiting request; every answer of the batch is done."""
    for pending in batch:
        if pending.recorded is not None:
            pending.written = WrittenAnswer(
                pending.poll, pending.recorded, committed_at, pending.summed
            )
        pending.done = True


def one_answer_may_be_the_cause(error: SQLAlchemyError) -> bool:
    """Whether writing each answer on its own might succeed where the batch failed."""
    if isinstance(error, IntegrityError):
        return True
    # PostgreSQL's deadlock (40P01) and serialization failure (40001): a transaction to retry.
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, DBAPIError) and sqlstate in {"40001", "40P01"}
