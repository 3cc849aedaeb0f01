"""Group commit: answers that arrive together are written in one transaction.

Under load, an answer's own statements are cheap next to what surrounds them: taking a
connection, BEGIN, reading and locking the poll, the tally upsert, COMMIT (on PostgreSQL a
flush to disk), and on SQLite the wait for the one writer. So the request threads of a process
hand their answers to an :class:`AnswerWriter`. The first thread to find no batch being written
writes everything queued so far in one transaction and wakes the others; answers that arrive
meanwhile form the next batch. One answer alone is a batch of one, with no waiting.

Each answer in a batch follows exactly the rules of ``pollserver.answering``: new readers of a
poll are started together, in arrival order (two new readers from one address count against the
daily cap together), and returning readers' answers follow one by one. A refusal refuses that
answer only: refusals come before any write. If the database fails the whole transaction (a
constraint race, a deadlock), every answer of the batch is written again on its own, so one bad
answer never fails the others.

Plain Python: no Flask here. The caller supplies the write transaction and the poll trees.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from pollserver import tally
from pollserver.answering import (
    AnswerRefused,
    FirstAnswer,
    RecordedAnswer,
    record_new_readers,
    record_next_answer,
)
from pollserver.polls import PUBLIC_STATUSES, PollFacts, effective_status, find_poll_facts
from pollserver.privacy import hash_client_address
from pollserver.tree import PollTree


@dataclass
class AnswerRequest:
    """One reader's answer as it arrived: what the API was sent, and from where."""

    poll_id: str  # the public id
    token: str | None
    node_key: str
    answer: str
    client_address: str  # hashed with the day's salt inside the transaction, never stored
    now: dt.datetime


@dataclass
class WrittenAnswer:
    poll: PollFacts
    recorded: RecordedAnswer
    committed_at: float  # time.monotonic() once the transaction holding it had committed


@dataclass
class _Pending:
    request: AnswerRequest
    done: bool = False
    written: WrittenAnswer | None = None
    error: BaseException | None = None
    recorded: RecordedAnswer | None = field(default=None, repr=False)
    poll: PollFacts | None = field(default=None, repr=False)


class AnswerWriter:
    """Writes the answers of one process, in batches (see the module docstring)."""

    def __init__(
        self,
        write_transaction: Callable[[], AbstractContextManager[Connection]],
        tree_of: Callable[[PollFacts], PollTree],
        respondents_per_address: Callable[[], int],
        on_batch_written: Callable[[int], None] = lambda size: None,
    ):
        self._write_transaction = write_transaction
        self._on_batch_written = on_batch_written
        self._tree_of = tree_of
        self._respondents_per_address = respondents_per_address
        self._lock = threading.Lock()
        self._batch_written = threading.Condition(self._lock)
        self._queue: list[_Pending] = []
        self._writing = False

    def write(self, request: AnswerRequest) -> WrittenAnswer:
        """Write one answer (with whatever else is queued); raise its AnswerRefused if refused."""
        pending = _Pending(request)
        with self._lock:
            self._queue.append(pending)
            while not pending.done:
                if self._writing:
                    self._batch_written.wait()
                    continue
                batch, self._queue = self._queue, []
                self._writing = True
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

    def _write_batch(self, batch: list[_Pending]) -> None:
        try:
            try:
                self._write_together(batch)
            except SQLAlchemyError:
                # Again one at a time, so each answer meets only its own failure (a lone
                # answer too: a connection the database dropped is replaced for the retry).
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
        except SQLAlchemyError as error:
            pending.error = error
            pending.done = True

    def _write_together(self, batch: list[_Pending]) -> None:
        for pending in batch:
            pending.error, pending.recorded, pending.poll = None, None, None
        with self._write_transaction() as connection:
            polls: dict[str, PollFacts | None] = {}
            new_readers: dict[str, list[_Pending]] = {}
            returning: list[_Pending] = []
            for pending in batch:
                poll_id = pending.request.poll_id
                if poll_id not in polls:
                    polls[poll_id] = find_poll_facts(connection, poll_id, for_share=True)
                poll = polls[poll_id]
                if poll is None or effective_status(poll) not in PUBLIC_STATUSES:
                    pending.error = AnswerRefused(404, f"No poll {poll_id!r} is published here.")
                    continue
                pending.poll = poll
                if pending.request.token is None:
                    new_readers.setdefault(poll_id, []).append(pending)
                else:
                    returning.append(pending)
            # New readers of a poll are started together (they only meet through the daily cap,
            # which counts them in arrival order); returning readers one by one, in order.
            for poll_id, arrivals in new_readers.items():
                poll = polls[poll_id]
                outcomes = record_new_readers(
                    connection,
                    poll,
                    self._tree_of(poll),
                    [
                        FirstAnswer(
                            pending.request.node_key,
                            pending.request.answer,
                            hash_client_address(
                                connection, pending.request.client_address, pending.request.now
                            ),
                            pending.request.now,
                        )
                        for pending in arrivals
                    ],
                    respondents_per_address=self._respondents_per_address(),
                )
                for pending, outcome in zip(arrivals, outcomes, strict=True):
                    if isinstance(outcome, AnswerRefused):
                        pending.error = outcome
                    else:
                        pending.recorded = outcome
            for pending in returning:
                request = pending.request
                try:
                    pending.recorded = record_next_answer(
                        connection,
                        pending.poll,
                        self._tree_of(pending.poll),
                        token=request.token,
                        node_key=request.node_key,
                        answer=request.answer,
                        now=request.now,
                    )
                except AnswerRefused as refusal:
                    pending.error = refusal
            # One upsert per poll for the whole batch: fewer statements, and every transaction
            # locks the counter rows it touches in one sorted pass (no deadlocks between them).
            deltas: dict[int, Counter[str]] = {}
            for pending in batch:
                if pending.recorded is not None:
                    counts = deltas.setdefault(pending.poll.id, Counter())
                    counts.update(pending.recorded.tally_deltas)
            for poll_id, poll_deltas in deltas.items():
                tally.apply_counts(
                    connection, poll_id, {key: value for key, value in poll_deltas.items() if value}
                )
        committed_at = time.monotonic()
        self._on_batch_written(len(batch))
        for pending in batch:
            if pending.recorded is not None:
                pending.written = WrittenAnswer(pending.poll, pending.recorded, committed_at)
            pending.done = True
