"""Bytes no one should send — NUL, control characters — get clear refusals, never a 500.

PostgreSQL refuses NUL in text, so these matter most on the PostgreSQL leg of the suite.
"""

from __future__ import annotations

import json

import pytest

from pollserver.core.definition import DefinitionError, validate_definition

from helpers import SEED_DEFINITION, SEED_WITH_FLOWCHART


@pytest.mark.parametrize("character", ["\x00", "\x0b", "\x1b", "\x7f"])
def test_definition_texts_with_control_characters_are_refused(character):
    broken = json.loads(json.dumps(SEED_DEFINITION))
    broken["nodes"][0]["text"] = f"Allowed{character}here?"
    with pytest.raises(DefinitionError) as raised:
        validate_definition(broken)
    assert "q1" in str(raised.value) and "control character" in str(raised.value)


def test_import_of_a_definition_with_nul_fails_alone(app, runner, tmp_path):
    broken = json.loads(json.dumps(SEED_DEFINITION))
    broken["title"] = "T\u0000itle"
    (tmp_path / "a-broken.json").write_text(json.dumps(broken))
    (tmp_path / "b-good.txt").write_bytes(SEED_WITH_FLOWCHART.read_bytes())
    result = runner.invoke(args=["import", str(tmp_path)])
    assert result.exit_code == 1
    assert "1 created, 0 unchanged, 0 updated, 1 failed" in result.output
    assert "control character" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "path",
    [
        "/articles/%00",
        "/articles/a%00b",
        "/api/v1/polls/a%00b",
        "/api/v1/polls/a%00b/results",
        "/embed/a%00b",
        "/p/a%00b",
    ],
)
def test_nul_in_a_path_is_404_not_500(client, path):
    response = client.get(path)
    assert response.status_code == 404


def test_nul_in_an_answer_body_is_422(client, seed_poll_id):
    response = client.post(
        f"/api/v1/polls/{seed_poll_id}/answers",
        json={"respondent": "abc\u0000defghijklmnopqrstu", "node": "q1", "answer": "yes"},
    )
    assert response.status_code == 422


@pytest.mark.parametrize("character", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_definition_texts_with_bidi_controls_are_refused(character):
    broken = json.loads(json.dumps(SEED_DEFINITION))
    broken["nodes"][1]["text"] = f"Was it {character}on?seY"
    with pytest.raises(DefinitionError) as raised:
        validate_definition(broken)
    assert "q2" in str(raised.value) and f"U+{ord(character):04X}" in str(raised.value)


def test_right_to_left_marks_stay_allowed():
    definition = json.loads(json.dumps(SEED_DEFINITION))
    definition["nodes"][1]["text"] = "\u200fهل كانت العملية ناجحة؟"
    validate_definition(definition)


def test_an_article_with_a_bidi_override_is_refused_with_a_clear_error(runner, tmp_path):
    text = SEED_WITH_FLOWCHART.read_text(encoding="utf-8")
    question = "Was the operation a good result?"
    assert question in text
    (tmp_path / "spoofed.txt").write_text(
        text.replace(question, "Was the operation a \u202egood result?"), encoding="utf-8"
    )
    result = runner.invoke(args=["import", str(tmp_path)])
    assert result.exit_code == 1
    assert "U+202E" in result.output
    assert "Traceback" not in result.output
