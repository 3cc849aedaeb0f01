"""Recording a reader's answer: the rules of a walk, idempotent retries, changes, and the tallies.

Plain Python over a SQLAlchemy ``Connection``; the caller owns the transaction (and, on SQLite,
begins it as a writer). Every refusal is a :class:`Refused` carrying the HTTP status the
API gives it, so the view stays a thin translation.

This is the busiest write in the service, so it speaks Core SQL, not the ORM. New readers are
started set-based: however many arrive together, one lock statement (PostgreSQL), one count,
one insert of readers and one of their answers; first answers that carry a request key cost one
indexed lookup more, for all of them at once. A returning reader is one locked read (reader
and answers together), one insert and one update. The tallies' changes are returned, for the
caller to apply once per transaction (``pollserver.services.answer_writer``). Statements are
built once and compiled once per process, and no objects are tracked between them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update

from pollserver.core import counters
from pollserver.core.lifecycle import PollStatus, effective_status, lets_its_readers_finish
from pollserver.core.poll_settings import settings_of
from pollserver.core.privacy import hash_token, new_respondent_token
from pollserver.core.proof_of_work import PROOF_OF_WORK_REASON, bits_beyond_cap
from pollserver.core.refusals import UNKNOWN_READER_REASON, Refused
from pollserver.core.tree import AnswerValue, PollTree, Walk
from pollserver.models import Answer, Respondent
from pollserver.services.polls import PollFacts

respondents = Respondent.__table__
answers = Answer.__table__

# The statements are built once, with named parameters: building one costs as much as running it.
READER_WITH_ANSWERS = (
    select(
        respondents.c.id,
        respondents.c.poll_id,
        respondents.c.finished_at,
        respondents.c.hidden,
        answers.c.node_key,
        answers.c.value,
        answers.c.answered_at,
    )
    .outerjoin(answers, answers.c.respondent_id == respondents.c.id)
    .where(
        respondents.c.token_hash == bindparam("token_hash"),
        # The reader may be part-way through an earlier version of the poll.
        respondents.c.poll_id.in_(bindparam("poll_ids", expanding=True)),
    )
    .order_by(answers.c.id)
)
# Serialises concurrent requests for one reader on PostgreSQL (SQLite's write lock does).
READER_WITH_ANSWERS_FOR_UPDATE = READER_WITH_ANSWERS.with_for_update(of=respondents)
# Readers already started under tokens derived from request keys (token_hash is unique).
STARTED_TOKEN_HASHES = select(respondents.c.token_hash).where(
    respondents.c.poll_id == bindparam("poll_id"),
    respondents.c.token_hash.in_(bindparam("token_hashes", expanding=True)),
)
RESPONDENTS_FROM_ADDRESSES = (
    select(respondents.c.address_hash, func.count())
    .where(
        respondents.c.poll_id == bindparam("poll_id"),
        respondents.c.address_hash.in_(bindparam("address_hashes", expanding=True)),
    )
    .group_by(respondents.c.address_hash)
)
LOCK_NEW_READERS = text(
    "SELECT pg_advisory_xact_lock(hashtext(key)) FROM unnest(CAST(:keys AS text[])) AS key"
)
# Many readers in one statement, their ids returned in the order the rows were given.
INSERT_RESPONDENTS_RETURNING_IDS = insert(respondents).returning(
    respondents.c.id, sort_by_parameter_order=True
)
INSERT_ANSWER = insert(answers)
UPDATE_READER = update(respondents).where(respondents.c.id == bindparam("reader_id"))


# What a 429 for the daily cap of new readers says in ``details.reason`` (flask-limiter's own
# limits say "rate_limit"): a client tells the reader to come back tomorrow.
DAILY_CAP_REASON = "daily_cap"


def seconds_until_next_utc_day(now: dt.datetime) -> int:
    """When the daily cap lifts: the address hash (and its count) start afresh at UTC midnight."""
    tomorrow = (now.astimezone(dt.UTC) + dt.timedelta(days=1)).date()
    midnight = dt.datetime.combine(tomorrow, dt.time(), tzinfo=dt.UTC)
    return max(1, int((midnight - now).total_seconds()))


class GivenAnswer(NamedTuple):
    node_key: str
    value: AnswerValue
    answered_at: dt.datetime


@dataclass
class Reader:
    """A respondent as the public API sees them: their state and the answers they gave.

    ``poll_id`` names the version of the poll they answer.
    """

    id: int
    poll_id: int
    finished_at: dt.datetime | None
    hidden: bool
    answers: list[GivenAnswer] = field(default_factory=list)


@dataclass
class RecordedAnswer:
    # The token, when the request did not send it: a new reader (the only time a random token
    # exists in clear), or a reader named by their request key.
    token: str | None
    reader: Reader
    walk: Walk
    created_respondent: bool
    stored: bool  # False for a retried request that changed nothing
    kind: str = "retry"  # what was stored: "new_reader", "next" or "changed"
    # The version of the poll the answer went to, when not the live one the request named.
    poll: PollFacts | None = None
    # What the answer adds to the poll's tallies; the caller applies them in the same
    # transaction (pollserver.services.answer_writer sums a whole batch into one upsert).
    tally_deltas: dict[str, int] = field(default_factory=dict)


def walk_of(tree: PollTree, given: list[GivenAnswer] | list[Answer]) -> Walk:
    return tree.walk({answer.node_key: str(answer.value) for answer in given})


def respondent_walk(tree: PollTree, respondent: Reader | Respondent) -> Walk:
    return walk_of(tree, respondent.answers)


def refuse_unless_accepting(poll: PollFacts, now: dt.datetime, *, started: bool = False) -> None:
    """Refuse an answer the poll version does not take now; ``started``: from a reader who has
    begun this version (they may finish one a newer version replaced)."""
    # A scheduled close counts from its time on; the status column catches up when a moderator
    # next touches the poll (writing it here would upgrade the answer's shared lock on the poll).
    if started and lets_its_readers_finish(poll, now):
        return
    status = effective_status(poll, now)
    if status is PollStatus.PAUSED:
        raise Refused(
            409, "This poll is paused: it is not taking answers right now.", {"status": "paused"}
        )
    if status is PollStatus.CLOSED:
        raise Refused(409, "This poll is closed: it takes no more answers.", {"status": "closed"})
    if status is not PollStatus.OPEN:
        raise Refused(404, "No such poll.")


def find_reader(
    connection: Connection, poll: PollFacts, token: str, *, for_update: bool
) -> tuple[Reader, PollFacts] | tuple[None, None]:
    """The reader with this token in any published version of this poll, with their answers
    (one statement), and the facts of that version; or (None, None)."""
    query = READER_WITH_ANSWERS_FOR_UPDATE if for_update else READER_WITH_ANSWERS
    rows = connection.execute(
        query, {"token_hash": hash_token(token), "poll_ids": poll.version_ids}
    ).all()
    if not rows:
        return None, None
    first = rows[0]
    given = [GivenAnswer(row.node_key, row.value, row.answered_at) for row in rows if row.node_key]
    version = poll.version_with_id(first.poll_id)
    assert version is not None  # the query asked for these versions only
    return Reader(first.id, first.poll_id, first.finished_at, first.hidden, given), version


def refuse_unless_a_question(
    poll: PollFacts, tree: PollTree, node_key: str, now: dt.datetime, *, started: bool = False
):
    refuse_unless_accepting(poll, now, started=started)
    if not tree.is_question(node_key):
        raise Refused(
            422,
            f"Node {node_key!r} is not a question of this poll.",
            fields={"node": [f"not a question of this poll: {node_key!r}"]},
        )


@dataclass
class FirstAnswer:
    """A new reader's first answer, as it arrived; ``token``: the one derived from its request
    key (``pollserver.core.privacy.respondent_token_for_key``), when it came with one."""

    node_key: str
    answer: str
    address_hash: str
    now: dt.datetime
    token: str | None = None
    proof_bits: int = 0  # the work of a proof the reader sent (already checked and spent)


@dataclass(frozen=True)
class StartedByKey:
    """A first answer whose request key names a reader who has already started (a retry after a
    lost reply, another tab): it is that reader answering again, by ``record_next_answer``'s
    rules, with this token."""

    token: str


# A new reader admitted under the daily cap: (index in the arrivals, their first answer, the walk
# it gives, when they finished or None). Plain tuples: this runs for every new reader.
_NewReader = tuple[int, GivenAnswer, Walk, dt.datetime | None]


NewReaderOutcome = RecordedAnswer | Refused | StartedByKey


def record_new_readers(
    connection: Connection,
    poll: PollFacts,
    tree: PollTree,
    arrivals: list[FirstAnswer],
    *,
    respondents_per_address: int,
    proof_of_work_bits: int = 0,
) -> list[NewReaderOutcome]:
    """Start a new reader for each first answer, in order; one outcome per answer.

    Set-based, so that many new readers cost what one does: one lock statement, one count, one
    insert of the readers and one of their answers. The daily cap counts earlier arrivals of the
    same list too. A first answer whose key names a reader who has started (before, or earlier
    in the list) is :class:`StartedByKey`, for the caller to answer as that reader: never a
    second reader, never counted against the cap. Beyond the cap, a new reader is started
    when they sent the proof of work it asks (``proof_of_work_bits`` is the base; 0: none is
    asked, and they are refused until tomorrow).
    """
    outcomes: list[NewReaderOutcome | None] = [None] * len(arrivals)
    candidates = _arrivals_at_the_first_question(poll, tree, arrivals, outcomes)
    addresses = sorted({arrivals[number].address_hash for number in candidates})
    # Every keyed arrival, refused above or not: if its reader exists, their rules apply instead.
    keyed_hashes = sorted({hash_token(arrival.token) for arrival in arrivals if arrival.token})
    _lock_new_readers(connection, poll.id, addresses, keyed_hashes)
    candidates = _set_aside_started_by_key(
        connection, poll.id, arrivals, candidates, keyed_hashes, outcomes
    )
    started_today = _readers_started_today(connection, poll.id, addresses)
    readers, tokens = _admit_under_the_daily_cap(
        tree,
        arrivals,
        candidates,
        started_today,
        outcomes,
        respondents_per_address,
        proof_of_work_bits,
    )
    if not readers:
        return outcomes
    ids = _insert_readers(connection, poll.id, arrivals, readers, tokens)
    _insert_first_answers(connection, poll.id, ids, readers)
    _record_started_readers(poll.id, outcomes, readers, tokens, ids)
    return outcomes


def _arrivals_at_the_first_question(
    poll: PollFacts,
    tree: PollTree,
    arrivals: list[FirstAnswer],
    outcomes: list[NewReaderOutcome | None],
) -> list[int]:
    """The indexes of the arrivals that may start; every other one gets its refusal."""
    candidates = []
    for number, arrival in enumerate(arrivals):
        try:
            refuse_unless_a_question(poll, tree, arrival.node_key, arrival.now)
            if arrival.node_key != tree.root:
                raise Refused(
                    409,
                    f"A new reader starts at question {tree.root!r}, not {arrival.node_key!r}.",
                    {"expected": tree.root},
                )
        except Refused as refusal:
            outcomes[number] = refusal
        else:
            candidates.append(number)
    return candidates


def _lock_new_readers(
    connection: Connection, poll_id: int, addresses: list[str], token_hashes: list[str]
) -> None:
    if (addresses or token_hashes) and connection.dialect.name == "postgresql":
        # Count-then-insert must not run twice at once for one address and poll, or parallel
        # new readers would all pass the cap; look-up-then-insert must not run twice at once for
        # one request key, or two tabs would both start a reader (one failing on the unique
        # token). SQLite's single writer already serialises both. Sorted keys: two transactions
        # take their locks in the same order, so never deadlock.
        keys = [f"new-reader:{poll_id}:{address}" for address in addresses]
        keys += [f"new-reader-token:{token_hash}" for token_hash in token_hashes]
        connection.execute(LOCK_NEW_READERS, {"keys": sorted(keys)})


def _set_aside_started_by_key(
    connection: Connection,
    poll_id: int,
    arrivals: list[FirstAnswer],
    candidates: list[int],
    keyed_hashes: list[str],
    outcomes: list[NewReaderOutcome | None],
) -> list[int]:
    """The candidates left once every arrival whose key names a started reader is set aside as
    :class:`StartedByKey` (one indexed lookup for them all, after the lock)."""
    if not keyed_hashes:
        return candidates
    started = set(
        connection.execute(
            STARTED_TOKEN_HASHES, {"poll_id": poll_id, "token_hashes": keyed_hashes}
        ).scalars()
    )
    if not started:
        return candidates
    for number, arrival in enumerate(arrivals):
        if arrival.token and hash_token(arrival.token) in started:
            outcomes[number] = StartedByKey(arrival.token)
    return [number for number in candidates if not isinstance(outcomes[number], StartedByKey)]


def _readers_started_today(
    connection: Connection, poll_id: int, addresses: list[str]
) -> dict[str, int]:
    """How many readers each address has started in the poll (addresses with none left out)."""
    # The address hash changes with the daily salt, so equal hashes are the same address today.
    return dict(
        connection.execute(
            RESPONDENTS_FROM_ADDRESSES, {"poll_id": poll_id, "address_hashes": addresses}
        ).all()
        if addresses
        else []
    )


def _admit_under_the_daily_cap(
    tree: PollTree,
    arrivals: list[FirstAnswer],
    candidates: list[int],
    started_today: dict[str, int],
    outcomes: list[NewReaderOutcome | None],
    respondents_per_address: int,
    proof_of_work_bits: int,
) -> tuple[list[_NewReader], list[str]]:
    """The candidates the cap admits, in order, with a token each (a new one, or the one their
    key gives); the others are refused.

    ``started_today`` counts each admitted reader, so later arrivals from one address meet
    the cap the earlier ones filled. A later arrival with the key of an admitted one is
    :class:`StartedByKey`: that reader's retry, once their first answer is written.
    """
    readers, tokens = [], []
    keyed_tokens: set[str] = set()
    admissible = set(candidates)
    for number, arrival in enumerate(arrivals):
        if arrival.token in keyed_tokens:  # refused above or not: that reader exists now
            outcomes[number] = StartedByKey(arrival.token)
            continue
        if number not in admissible:
            continue
        started = started_today.get(arrival.address_hash, 0)
        if started >= respondents_per_address:
            refusal = _refusal_beyond_the_cap(
                arrival, started, respondents_per_address, proof_of_work_bits
            )
            if refusal is not None:
                outcomes[number] = refusal
                continue
        started_today[arrival.address_hash] = started_today.get(arrival.address_hash, 0) + 1
        given = GivenAnswer(arrival.node_key, AnswerValue(arrival.answer), arrival.now)
        walk = walk_of(tree, [given])
        finished_at = given.answered_at if walk.finished else None
        readers.append((number, given, walk, finished_at))
        if arrival.token is None:
            tokens.append(new_respondent_token())
        else:
            tokens.append(arrival.token)
            keyed_tokens.add(arrival.token)
    return readers, tokens


def _refusal_beyond_the_cap(
    arrival: FirstAnswer, started: int, cap: int, proof_of_work_bits: int
) -> Refused | None:
    """What a new reader from an address that has had ``started`` readers today is told:
    nothing when they brought the work asked (see ``pollserver.core.proof_of_work``)."""
    owed = bits_beyond_cap(started, cap, proof_of_work_bits)
    if owed == 0:
        return Refused(
            429,
            "Too many new readers from your network have started this poll today; "
            "try again tomorrow.",
            {
                "reason": DAILY_CAP_REASON,
                "limit": f"{cap} new readers per address per poll per day",
            },
            retry_after=seconds_until_next_utc_day(arrival.now),
        )
    if arrival.proof_bits >= owed:
        return None
    # The API adds the signed challenge (pollserver.api.public.ask_for_work).
    return Refused(
        429,
        "Many new readers from your network have started this poll today: send this answer "
        "again with a proof of work (`proof`) for `details.challenge`.",
        {"reason": PROOF_OF_WORK_REASON, "difficulty": owed, "why": "beyond_daily_cap"},
    )


def _insert_readers(
    connection: Connection,
    poll_id: int,
    arrivals: list[FirstAnswer],
    readers: list[_NewReader],
    tokens: list[str],
) -> list[int]:
    """One insert for all the readers; their ids, in the order of ``readers``."""
    return (
        connection.execute(
            INSERT_RESPONDENTS_RETURNING_IDS,
            [
                {
                    "poll_id": poll_id,
                    "token_hash": hash_token(token),
                    "address_hash": arrivals[number].address_hash,
                    "started_at": given.answered_at,
                    "finished_at": finished_at,
                    "current_node_key": walk.current,
                    "hidden": False,
                }
                for token, (number, given, walk, finished_at) in zip(tokens, readers, strict=True)
            ],
        )
        .scalars()
        .all()
    )


def _insert_first_answers(
    connection: Connection, poll_id: int, ids: list[int], readers: list[_NewReader]
) -> None:
    connection.execute(
        INSERT_ANSWER,
        [
            answer_row(poll_id, respondent_id, given)
            for respondent_id, (_, given, _, _) in zip(ids, readers, strict=True)
        ],
    )


def _record_started_readers(
    poll_id: int,
    outcomes: list[NewReaderOutcome | None],
    readers: list[_NewReader],
    tokens: list[str],
    ids: list[int],
) -> None:
    """Each started reader's outcome: their token, once, and what they add to the tallies."""
    for token, respondent_id, (number, given, walk, finished_at) in zip(
        tokens, ids, readers, strict=True
    ):
        outcomes[number] = RecordedAnswer(
            token,
            Reader(respondent_id, poll_id, finished_at, False, [given]),
            walk,
            created_respondent=True,
            stored=True,
            kind="new_reader",
            tally_deltas=dict(counters.walk_contributions(walk, [given.answered_at])),
        )


def record_next_answer(
    connection: Connection,
    live: PollFacts,
    tree_of: Callable[[PollFacts], PollTree],
    *,
    token: str,
    node_key: str,
    answer: str,
    now: dt.datetime,
) -> RecordedAnswer:
    """A returning reader's answer: the next question, a retry, or a change; in the version of
    the poll they started (``live`` or one of its ``others``)."""
    reader, poll = find_reader(connection, live, token, for_update=True)
    if reader is None or poll is None:
        refuse_unless_accepting(live, now)
        raise Refused(
            422,
            "This respondent token is not known for this poll; start again without one.",
            {"reason": UNKNOWN_READER_REASON},
            fields={"respondent": ["unknown token for this poll"]},
        )
    tree = tree_of(poll)
    refuse_unless_a_question(poll, tree, node_key, now, started=True)
    old_walk = respondent_walk(tree, reader)
    previous = next((given for given in reader.answers if given.node_key == node_key), None)
    if previous is not None and str(previous.value) == answer:
        # A retried request: the same answer again counts nothing twice.
        return RecordedAnswer(
            None, reader, old_walk, created_respondent=False, stored=False, poll=poll
        )

    kept = reader.answers
    if previous is not None:
        if not settings_of(poll.settings).allow_answer_changes:
            raise Refused(
                409,
                f"You already answered {previous.value} to {node_key!r}; "
                "this poll does not allow changing answers.",
                {"node": node_key, "answer": str(previous.value)},
            )
        # Changing an answer replaces it and everything below it on the reader's path.
        replaced = {node_key, *old_walk.keys_below(node_key)}
        connection.execute(
            delete(answers).where(
                answers.c.respondent_id == reader.id, answers.c.node_key.in_(sorted(replaced))
            )
        )
        kept = [given for given in reader.answers if given.node_key not in replaced]
    elif node_key != old_walk.current:
        if old_walk.current is None:
            message = "Your path through this poll has ended; there is nothing more to answer."
        else:
            message = f"The next question for you is {old_walk.current!r}, not {node_key!r}."
        raise Refused(409, message, {"expected": old_walk.current})

    new_answer = GivenAnswer(node_key, AnswerValue(answer), now)
    connection.execute(INSERT_ANSWER, answer_row(poll.id, reader.id, new_answer))
    given = [*kept, new_answer]
    new_walk = walk_of(tree, given)
    finished_at = (reader.finished_at or now) if new_walk.finished else None
    updated = Reader(reader.id, reader.poll_id, finished_at, reader.hidden, given)
    connection.execute(
        UPDATE_READER,
        {
            "reader_id": reader.id,
            "current_node_key": new_walk.current,
            "finished_at": updated.finished_at,
        },
    )
    deltas = {}
    if not reader.hidden:
        old_counts = counters.walk_contributions(
            old_walk, [given.answered_at for given in reader.answers]
        )
        new_counts = counters.walk_contributions(
            new_walk, [given.answered_at for given in updated.answers]
        )
        deltas = counters.difference(new_counts, old_counts)
    return RecordedAnswer(
        None,
        updated,
        new_walk,
        created_respondent=False,
        stored=True,
        kind="changed" if previous is not None else "next",
        tally_deltas=deltas,
        poll=poll,
    )


def answer_row(poll_id: int, respondent_id: int, given: GivenAnswer) -> dict:
    return {
        "respondent_id": respondent_id,
        "poll_id": poll_id,
        "node_key": given.node_key,
        "value": given.value,
        "answered_at": given.answered_at,
    }
