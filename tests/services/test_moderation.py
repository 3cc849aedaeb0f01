"""The moderation rules on their own (no HTTP): edits, hiding arithmetic, spikes, exports."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import tracemalloc

import pytest
from sqlalchemy import func, insert, select, text

from pollserver.core import counters
from pollserver.core.lifecycle import PollStatus, effective_status
from pollserver.core.poll_settings import SETTING_KEYS
from pollserver.core.refusals import Refused
from pollserver.core.timestamps import utcnow
from pollserver.core.tree import PollTree
from pollserver.extensions import db
from pollserver.models import Answer, AuditEvent, Poll, Respondent
from pollserver.results_cache import tree_of
from pollserver.services import tallies
from pollserver.services.articles import default_article_source, submit_article
from pollserver.services.moderation import responses
from pollserver.services.moderation.activity import answers_per_hour, respondents_by_address
from pollserver.services.moderation.audit import (
    Action,
    AuditFilter,
    audit_events_query,
    record_audit,
)
from pollserver.services.moderation.edits import EditKind, classify_edit, create_new_version
from pollserver.services.moderation.exports import csv_lines, json_lines
from pollserver.services.moderation.polls import (
    effective_status_is,
    transition_poll,
    update_settings,
)
from pollserver.services.moderation.responses import (
    ResponseRecord,
    ResponseSelection,
    response_records,
    set_responses_hidden,
)
from pollserver.services.polls import definition_of, find_poll

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article, walk

DEFINITION = {
    "title": "Title",
    "root": "q1",
    "nodes": [
        {"id": "q1", "type": "question", "text": "First?", "yes": "q2", "no": None},
        {"id": "q2", "type": "question", "text": "Second?", "yes": "o1", "no": "o2"},
        {"id": "o1", "type": "outcome", "text": "One", "next": None},
        {"id": "o2", "type": "outcome", "text": "Two", "next": None},
    ],
}


def changed(**edits) -> dict:
    definition = json.loads(json.dumps(DEFINITION))
    for key, value in edits.items():
        if key.startswith("node_"):
            index, field = key.removeprefix("node_").split("_", 1)
            definition["nodes"][int(index)][field] = value
        else:
            definition[key] = value
    return definition


@pytest.mark.parametrize(
    ("new", "kind"),
    [
        (DEFINITION, EditKind.NONE),
        (changed(title="Better title"), EditKind.TEXT),
        (changed(node_1_text="Second, really?"), EditKind.TEXT),
        (changed(node_0_no="o2"), EditKind.STRUCTURE),
        (changed(node_3_next="o1"), EditKind.STRUCTURE),
        (changed(root="q2"), EditKind.STRUCTURE),
        (changed(nodes=[DEFINITION["nodes"][1], DEFINITION["nodes"][0], *DEFINITION["nodes"][2:]]),
         EditKind.STRUCTURE),
        (changed(nodes=DEFINITION["nodes"][:3]), EditKind.STRUCTURE),
    ],
)  # fmt: skip
def test_only_title_and_text_changes_count_as_text_fixes(new, kind):
    assert classify_edit(DEFINITION, new) is kind


def visible_counts(poll_id: int) -> dict[str, int]:
    counts = tallies.read_counts(db.session, poll_id)
    counts.pop(counters.HIDDEN_RESPONDENTS, None)
    return counts


def test_hiding_subtracts_whole_walks_and_restoring_adds_them_back(
    app, client, seed_poll_id, monkeypatch
):
    monkeypatch.setattr(responses, "HIDE_BATCH", 2)  # several locked batches, not one
    walks = [[("q1", "yes"), ("q2", "yes")], [("q1", "yes"), ("q2", "no")], [("q1", "no")]]
    for number, steps in enumerate(walks * 3):
        walk(client, seed_poll_id, steps, f"203.0.113.{number}")
    walk(client, seed_poll_id, [("q1", "yes")], "203.0.113.99")  # stopped half way

    with app.app_context():
        poll = find_poll(db.session, seed_poll_id)
        tree = tree_of(poll)
        before = visible_counts(poll.id)
        assert before[counters.STARTED] == 10
        everyone = ResponseSelection(started_from=utcnow() - dt.timedelta(days=1))
        outcome = set_responses_hidden(db.session, poll, tree, everyone, hidden=True, now=utcnow())
        db.session.commit()
        assert (outcome.matched, outcome.changed) == (10, 10)
        assert all(value == 0 for value in visible_counts(poll.id).values())
        assert tallies.read_counts(db.session, poll.id)[counters.HIDDEN_RESPONDENTS] == 10
        hidden_at = db.session.scalars(select(Respondent.hidden_at)).all()
        assert all(moment is not None for moment in hidden_at)

        again = set_responses_hidden(db.session, poll, tree, everyone, hidden=True, now=utcnow())
        assert (again.matched, again.changed) == (10, 0)

        some = ResponseSelection(respondent_ids=tuple(outcome.respondent_ids[:4]))
        restored = set_responses_hidden(db.session, poll, tree, some, hidden=False, now=utcnow())
        assert restored.changed == 4
        assert visible_counts(poll.id)[counters.STARTED] == 4
        set_responses_hidden(db.session, poll, tree, everyone, hidden=False, now=utcnow())
        db.session.commit()
        assert {key: value for key, value in visible_counts(poll.id).items() if value} == before
        assert tallies.read_counts(db.session, poll.id).get(counters.HIDDEN_RESPONDENTS, 0) == 0
        assert db.session.scalars(select(Respondent.hidden_at)).all() == [None] * 10

        with pytest.raises(ValueError, match="empty selection"):
            set_responses_hidden(
                db.session, poll, tree, ResponseSelection(), hidden=True, now=utcnow()
            )


@pytest.mark.parametrize("stored", list(PollStatus))
@pytest.mark.parametrize("close_in", [None, -60, 60])
def test_the_status_filter_in_sql_agrees_with_effective_status(app, stored, close_in):
    now = utcnow()
    with app.app_context():
        from pollserver.services.polls import create_poll

        poll = create_poll(db.session, DEFINITION)
        poll.status = stored
        poll.close_at = None if close_in is None else now + dt.timedelta(seconds=close_in)
        db.session.commit()
        for status in PollStatus:
            found = db.session.scalars(
                select(Poll.id).where(effective_status_is(status, now))
            ).all()
            assert (found == [poll.id]) is (effective_status(poll, now) is status), status


def insert_walks(poll: Poll, moments: list[dt.datetime], address_hash: str = "a" * 64) -> None:
    """Respondents who answered q1 yes and q2 no, each at its moment: bulk, not HTTP."""
    first_id = (db.session.scalar(select(Respondent.id).order_by(Respondent.id.desc())) or 0) + 1
    respondents, answers = [], []
    for offset, moment in enumerate(moments):
        respondent_id = first_id + offset
        respondents.append(
            {
                "id": respondent_id,
                "poll_id": poll.id,
                "token_hash": f"{poll.id}-{respondent_id}",
                "address_hash": address_hash,
                "started_at": moment,
                "finished_at": moment,
                "current_node_key": None,
                "hidden": False,
            }
        )
        for key, value in (("q1", "yes"), ("q2", "no")):
            answers.append(
                {
                    "respondent_id": respondent_id,
                    "poll_id": poll.id,
                    "node_key": key,
                    "value": value,
                    "answered_at": moment,
                }
            )
    db.session.execute(insert(Respondent), respondents)
    db.session.execute(insert(Answer), answers)
    db.session.commit()


def test_answers_per_hour_are_utc_hours_whatever_the_session_time_zone(app, seed_poll_id):
    base = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)
    with app.app_context():
        poll = find_poll(db.session, seed_poll_id)
        insert_walks(poll, [base + dt.timedelta(minutes=5)] * 2 + [base + dt.timedelta(hours=2)])
        insert_walks(poll, [base + dt.timedelta(minutes=59, seconds=59)], address_hash="b" * 64)
        if db.engine.dialect.name == "postgresql":
            # A half-hour offset would shift every bucket if hours were taken in local time.
            db.session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))
        hours = answers_per_hour(db.session, poll)
        assert [(h.hour, h.answers, h.respondents_started) for h in hours] == [
            ("2025-03-01T10:00:00Z", 6, 3),
            ("2025-03-01T12:00:00Z", 2, 1),
        ]
        window = answers_per_hour(
            db.session, poll, since=base + dt.timedelta(hours=1), until=base + dt.timedelta(hours=3)
        )
        assert [h.hour for h in window] == ["2025-03-01T12:00:00Z"]

        groups = respondents_by_address(
            db.session, poll, started_from=base, started_until=base + dt.timedelta(hours=1)
        )
        assert [(g.address_hash[0], g.respondents, g.finished) for g in groups] == [
            ("a", 2, 2),
            ("b", 1, 1),
        ]
        assert groups[0].first_started == base + dt.timedelta(minutes=5)
        db.session.rollback()


def test_the_export_streams_in_constant_memory(app, seed_poll_id):
    """Six times the respondents must not take six times the memory."""
    base = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)

    def peak_while_exporting() -> tuple[int, int]:
        poll = find_poll(db.session, seed_poll_id)
        tree = tree_of(poll)
        tracemalloc.start()
        try:
            lines = sum(1 for _ in csv_lines(response_records(db.session, poll, tree), tree))
            return lines, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            db.session.rollback()

    with app.app_context():
        poll = find_poll(db.session, seed_poll_id)
        insert_walks(poll, [base] * 2000)  # two batches of rows: the steady state
        small_lines, small_peak = peak_while_exporting()
        insert_walks(poll, [base] * 10000)
        large_lines, large_peak = peak_while_exporting()
    assert (small_lines, large_lines) == (2001, 12001)
    # Measured: about 2.6 MB both times; a list of all rows would be about six times as much.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


def test_export_rows_follow_each_walk(app, client, seed_poll_id):
    walk(client, seed_poll_id, [("q1", "yes"), ("q2", "no")], "203.0.113.1")
    walk(client, seed_poll_id, [("q1", "yes")], "203.0.113.2")
    with app.app_context():
        poll = find_poll(db.session, seed_poll_id)
        tree = tree_of(poll)
        records = list(response_records(db.session, poll, tree))
        assert [(r.path, r.outcome, r.finished_at is None) for r in records] == [
            ([("q1", "yes"), ("q2", "no")], ["o2", "o4"], False),
            ([("q1", "yes")], [], True),
        ]
        lines = list(json_lines(records, tree))
        assert json.loads(lines[1])["finished"] is None
        assert "address_hash" not in json.loads(lines[0])
        first = json.loads(lines[0])
        assert first["path"][1] == {
            "node": "q2",
            "answer": "no",
            "question": "Was the operation a good result?",
        }
        assert first["outcome_text"] == [
            "Operation failed",
            "North Korean military not given due recognition",
        ]
        csv_text = "".join(csv_lines(records, tree))
        assert csv_text.splitlines()[1].endswith(
            ",q1:yes>q2:no,o2>o4,false,"
            "Russia allowed North Korean military in Ukraine? Yes > "
            "Was the operation a good result? No,"
            "Operation failed > North Korean military not given due recognition"
        )


def test_audit_events_hold_json_and_filter_by_family(app):
    moment = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with app.app_context():
        record_audit(
            db.session,
            "alice",
            Action.POLL_STATUS,
            poll_public_id="abc",
            before={"status": PollStatus.OPEN, "close_at": moment},
            after={"status": PollStatus.CLOSED, "nested": [moment]},
            now=moment,
        )
        record_audit(db.session, "bob", Action.RESPONSES_HIDE, now=moment)
        db.session.commit()
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.actor == "alice"))
        assert event.before == {"status": "open", "close_at": "2025-01-02T03:04:05Z"}
        assert event.after == {"status": "closed", "nested": ["2025-01-02T03:04:05Z"]}

        def actors(**criteria) -> list[str]:
            query = audit_events_query(AuditFilter(**criteria))
            return [event.actor for event in db.session.scalars(query)]

        assert actors(action="poll.") == ["alice"]
        assert actors(action="poll") == []  # not a family without the dot
        assert actors(action="responses.hide") == ["bob"]
        assert actors(poll="abc") == ["alice"]
        assert sorted(actors(since=moment)) == ["alice", "bob"]
        assert actors(until=moment) == []


def test_submitting_the_same_bytes_twice_is_one_article(app):
    raw = SEED_WITH_FLOWCHART.read_bytes()
    with app.app_context():
        first = submit_article(
            db.session, raw, source=None, format=None, filename=None, actor="alice"
        )
        db.session.commit()
        second = submit_article(
            db.session, raw, source=None, format=None, filename=None, actor="alice"
        )
        db.session.commit()
        assert (first.status, second.status) == ("created", "unchanged")
        assert first.article.source == second.article.source
        assert first.article.source == default_article_source(raw, None)
        assert default_article_source(raw, "a.html").endswith("/a.html")
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["article.submit", "poll.create"]


def test_versions_keep_the_poll_id_and_come_one_draft_at_a_time(app):
    with app.app_context():
        from pollserver.services.polls import create_poll

        poll = create_poll(db.session, DEFINITION)
        with pytest.raises(Refused) as refused:
            create_new_version(db.session, poll, DEFINITION, "alice")  # v1 is still a draft
        assert (refused.value.status, refused.value.details) == (409, {"draft_version": 1})
        transition_poll(db.session, poll, PollStatus.OPEN, "alice")
        second = create_new_version(db.session, poll, DEFINITION, "alice")
        assert (second.public_id, second.version) == (poll.public_id, 2)
        assert second.previous_version_id == poll.id
        assert definition_of(second) == DEFINITION
        with pytest.raises(Refused):
            create_new_version(db.session, poll, DEFINITION, "alice")  # v2 is the draft now
        transition_poll(db.session, second, PollStatus.OPEN, "alice")
        third = create_new_version(db.session, poll, DEFINITION, "alice")
        assert (third.public_id, third.version) == (poll.public_id, 3)


def test_settings_that_do_not_change_record_nothing(app):
    open_poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART)
    with app.app_context():
        poll = find_poll(db.session, open_poll_id)
        recorded = db.session.scalar(select(func.count()).select_from(AuditEvent))
        same = {key: poll.settings[key] for key in SETTING_KEYS}
        assert update_settings(db.session, poll, same, "alice") == {}
        assert update_settings(db.session, poll, {"close_at": None}, "alice") == {}
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == recorded
        poll.status = PollStatus.ARCHIVED
        with pytest.raises(Refused) as refused:
            update_settings(db.session, poll, {"language": "fr"}, "alice")
        assert refused.value.status == 409
        db.session.rollback()


def test_csv_lines_quote_what_needs_quoting():
    record = ResponseRecord(
        respondent=7,
        started_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        finished_at=None,
        path=[("q,1", "yes")],
        outcome=[],
        hidden=True,
        address_hash=None,
    )
    tree = PollTree.from_definition(
        {
            "title": "T",
            "root": "q,1",
            "nodes": [
                {
                    "id": "q,1",
                    "type": "question",
                    "text": 'Say "yes", or no?',
                    "yes": None,
                    "no": None,
                }
            ],
        }
    )
    header, row = itertools.islice(csv_lines([record], tree), 2)
    assert header == ("respondent,started,finished,path,outcome,hidden,path_text,outcome_text\r\n")
    assert row == '7,2025-01-01T00:00:00Z,,"q,1:yes",,true,"Say ""yes"", or no? Yes",\r\n'
