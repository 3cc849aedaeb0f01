"""`pollserver build`, `import` and `polls`: thin shells over the builder and the import rules."""

from __future__ import annotations

import json
import shutil

from sqlalchemy import func, select

from pollserver.core.lifecycle import PollStatus
from pollserver.extensions import db
from pollserver.models import Answer, Article, Poll
from pollserver.services.moderation.edits import edit_definition
from pollserver.services.polls import definition_of

from helpers import SEED_DEFINITION, SEED_WITH_FLOWCHART, SEED_WITHOUT_FLOWCHART, SEEDS_DIR


def test_build_prints_the_seed_definition_and_the_seed_error(runner):
    result = runner.invoke(args=["build", str(SEED_WITHOUT_FLOWCHART), str(SEED_WITH_FLOWCHART)])
    assert result.exit_code == 1
    entries = json.loads(result.output)
    assert entries == [
        {"source": str(SEED_WITHOUT_FLOWCHART), "polls": [], "error": "no yes/no flowchart found"},
        {
            "source": str(SEED_WITH_FLOWCHART),
            "polls": [SEED_DEFINITION],
            "warnings": ["question q1: the No branch ends the poll"],
        },
    ]


def test_build_exits_0_when_every_article_gives_a_poll(runner):
    result = runner.invoke(args=["build", str(SEED_WITH_FLOWCHART)])
    assert result.exit_code == 0
    assert len(json.loads(result.output)[0]["polls"]) == 1


def test_build_reports_each_bad_path_and_goes_on(runner, tmp_path):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    result = runner.invoke(
        args=["build", str(tmp_path / "missing.txt"), str(empty_dir), str(SEED_WITH_FLOWCHART)]
    )
    assert result.exit_code == 1
    entries = json.loads(result.output)
    assert [entry["source"] for entry in entries] == [
        str(tmp_path / "missing.txt"),
        str(empty_dir),
        str(SEED_WITH_FLOWCHART),
    ]
    assert entries[0]["error"] == "no such file or directory"
    assert "no articles" in entries[1]["error"]
    assert entries[2]["polls"] == [SEED_DEFINITION]
    assert "Traceback" not in result.output


def test_build_validates_a_hand_written_definition(runner, tmp_path):
    broken = json.loads(json.dumps(SEED_DEFINITION))
    broken["nodes"][1]["yes"] = "q9"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = runner.invoke(args=["build", str(path)])
    assert result.exit_code == 1
    entry = json.loads(result.output)[0]
    assert entry["polls"] == []
    assert "q2" in entry["error"] and "q9" in entry["error"]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_import_twice_changes_nothing_the_second_time(app, runner):
    first = runner.invoke(args=["import", str(SEEDS_DIR)])
    assert first.exit_code == 0, first.output
    assert "2 created, 0 unchanged, 0 updated, 0 failed" in first.output
    second = runner.invoke(args=["import", str(SEEDS_DIR)])
    assert second.exit_code == 0
    assert "0 created, 2 unchanged, 0 updated, 0 failed" in second.output
    assert count(app, Article) == 2
    assert count(app, Poll) == 1
    with app.app_context():
        no_flowchart = db.session.scalar(select(Article).where(Article.needs_poll.is_(True)))
        assert no_flowchart.source.endswith("000_1434c06255666429.txt")
        assert no_flowchart.polls == []


def test_a_relative_and_an_absolute_path_are_the_same_article(app, runner, monkeypatch):
    monkeypatch.chdir(SEEDS_DIR.parent)
    runner.invoke(args=["import", "seeds/001_3297866220564658.txt"])
    again = runner.invoke(args=["import", str(SEED_WITH_FLOWCHART)])
    assert "1 unchanged" in again.output
    assert count(app, Article) == 1


def test_changed_article_updates_an_unanswered_draft_in_place(app, runner, tmp_path):
    article = tmp_path / "article.txt"
    shutil.copy(SEED_WITH_FLOWCHART, article)
    runner.invoke(args=["import", str(article)])
    article.write_text(
        SEED_WITH_FLOWCHART.read_text().replace("Operation failed", "Operation went badly")
    )
    result = runner.invoke(args=["import", str(article)])
    assert "1 updated" in result.output
    with app.app_context():
        poll = db.session.scalars(select(Poll)).one()
        assert poll.version == 1
        assert [node.text for node in poll.nodes if node.key == "o2"] == ["Operation went badly"]


def test_changed_article_with_answers_gets_a_new_draft_version(app, runner, tmp_path, client):
    article = tmp_path / "article.txt"
    shutil.copy(SEED_WITH_FLOWCHART, article)
    runner.invoke(args=["import", str(article)])
    with app.app_context():
        poll_id = db.session.scalars(select(Poll.public_id)).one()
    assert runner.invoke(args=["polls", "open", poll_id]).exit_code == 0
    answered = client.post(
        f"/api/v1/polls/{poll_id}/answers", json={"respondent": None, "node": "q1", "answer": "yes"}
    )
    assert answered.status_code == 201

    article.write_text(
        SEED_WITH_FLOWCHART.read_text().replace("Operation failed", "Operation went badly")
    )
    result = runner.invoke(args=["import", str(article)])
    assert "1 updated" in result.output
    with app.app_context():
        old, new = db.session.scalars(select(Poll).order_by(Poll.version)).all()
        assert (old.public_id, old.status, old.version) == (poll_id, PollStatus.OPEN, 1)
        assert [node.text for node in old.nodes if node.key == "o2"] == ["Operation failed"]
        assert (new.status, new.version, new.previous_version_id) == (PollStatus.DRAFT, 2, old.id)
        assert new.public_id == old.public_id  # embeds follow the poll to its new version
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 1


def test_import_stores_a_hand_written_definition(app, runner, tmp_path):
    path = tmp_path / "hand-written.json"
    path.write_text(json.dumps({**SEED_DEFINITION, "title": "Hand written"}))
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        poll = db.session.scalars(select(Poll)).one()
        assert poll.title == "Hand written"
        assert poll.status is PollStatus.DRAFT


def test_import_reports_bad_files_and_keeps_the_good_ones(app, runner, tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 50)
    shutil.copy(SEED_WITH_FLOWCHART, tmp_path / "good.txt")
    result = runner.invoke(args=["import", str(tmp_path)])
    assert result.exit_code == 1
    assert "1 created, 0 unchanged, 0 updated, 2 failed" in result.output
    assert "Traceback" not in result.output
    assert count(app, Poll) == 1


def test_polls_list_and_lifecycle(app, runner):
    runner.invoke(args=["import", str(SEED_WITH_FLOWCHART)])
    listed = json.loads(runner.invoke(args=["polls", "list", "--json"]).output)
    assert [(row["status"], row["title"]) for row in listed] == [
        ("draft", "A Fragile Alliance Forged in Fire")
    ]
    poll_id = listed[0]["id"]
    assert len(poll_id) == 8
    assert all(character.isalnum() or character in "-_" for character in poll_id)

    refused = runner.invoke(args=["polls", "pause", poll_id])
    assert refused.exit_code == 1
    assert "is draft; it cannot become paused" in refused.output

    for verb, status in [
        ("open", "open"),
        ("pause", "paused"),
        ("open", "open"),
        ("close", "closed"),
        ("archive", "archived"),
    ]:
        result = runner.invoke(args=["polls", verb, poll_id])
        assert result.exit_code == 0, result.output
        assert f"is now {status}" in result.output

    unknown = runner.invoke(args=["polls", "open", "nosuchid"])
    assert unknown.exit_code == 1
    assert "no poll 'nosuchid'" in unknown.output
    assert "Traceback" not in unknown.output


def test_a_changed_article_is_merged_into_the_editors_tree_or_refused_whole(
    app, runner, tmp_path, client
):
    article = tmp_path / "article.txt"
    shutil.copy(SEED_WITH_FLOWCHART, article)
    runner.invoke(args=["import", str(article)])
    with app.app_context():
        poll = db.session.scalars(select(Poll)).one()
        poll_id = poll.public_id
        mine = json.loads(json.dumps(definition_of(poll)))
        mine["nodes"][1]["text"] = "Was the operation a success?"  # the editor's fix on the draft
        edit_definition(db.session, poll, mine, "editor")
        db.session.commit()

    # The article changes another line: the draft keeps the editor's fix and takes the change.
    article.write_text(
        SEED_WITH_FLOWCHART.read_text().replace("Operation failed", "Operation went badly")
    )
    result = runner.invoke(args=["import", str(article)])
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.output
    assert f"the article changed {poll_id}: o2: “Operation failed” → “Operation went badly”" in (
        result.output
    )
    with app.app_context():
        texts = {node.key: node.text for node in db.session.scalars(select(Poll)).one().nodes}
    assert texts["q2"] == "Was the operation a success?"
    assert texts["o2"] == "Operation went badly"

    # Once answered, the next change becomes a new draft version built from the same merge.
    assert runner.invoke(args=["polls", "open", "--", poll_id]).exit_code == 0
    answered = client.post(
        f"/api/v1/polls/{poll_id}/answers", json={"respondent": None, "node": "q1", "answer": "yes"}
    )
    assert answered.status_code == 201
    article.write_text(article.read_text().replace("Operation had a good result", "It worked"))
    assert runner.invoke(args=["import", str(article)]).exit_code == 0
    with app.app_context():
        old, new = db.session.scalars(select(Poll).order_by(Poll.version)).all()
        assert (new.public_id, new.version, new.status) == (poll_id, 2, PollStatus.DRAFT)
        new_texts = {node.key: node.text for node in new.nodes}
        assert new_texts["q2"] == "Was the operation a success?" and new_texts["o1"] == "It worked"
        assert {node.key: node.text for node in old.nodes}["o1"] == "Operation had a good result"

    # Both sides changed the same line: nothing is replaced, and the import says so.
    with app.app_context():
        draft = db.session.scalars(select(Poll).where(Poll.version == 2)).one()
        ours = json.loads(json.dumps(definition_of(draft)))
        ours["nodes"][2]["text"] = "It worked out"
        edit_definition(db.session, draft, ours, "editor")
        db.session.commit()
    before = article.read_text()
    article.write_text(before.replace("It worked", "It succeeded"))
    refused = runner.invoke(args=["import", str(article)])
    assert refused.exit_code == 1
    assert "conflict" in refused.output and "o1 text was changed here and in the article" in (
        refused.output
    )
    with app.app_context():
        stored = db.session.scalars(select(Article)).one()
        assert "It succeeded" not in stored.body  # the article itself is not replaced either
        draft = db.session.scalars(select(Poll).where(Poll.version == 2)).one()
        assert {node.key: node.text for node in draft.nodes}["o1"] == "It worked out"
