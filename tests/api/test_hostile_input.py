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
