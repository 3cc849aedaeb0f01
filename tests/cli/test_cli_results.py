"""`pollserver results`: the numbers the API gives for the scripted walks, any visibility."""

from __future__ import annotations

import json

from pollserver.core.results import SELF_SELECTED_NOTE

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article
from scripted_walks import EXPECTED_NUMBERS, SCRIPTED_WALKS, post_walks


def test_results_command_prints_the_same_numbers(app, client, runner, seed_poll_id):
    post_walks(client, seed_poll_id, SCRIPTED_WALKS)
    as_json = runner.invoke(args=["results", seed_poll_id, "--json"])
    assert as_json.exit_code == 0
    document = json.loads(as_json.output)
    document.pop("as_of")
    document.pop("hourly")
    assert document == {"poll": seed_poll_id, "version": 1, **EXPECTED_NUMBERS}

    table = runner.invoke(args=["results", seed_poll_id])
    assert table.exit_code == 0
    assert "11 respondents, 10 finished" in table.output
    assert "81.8% (52.3–94.9%)" in table.output
    assert "q1 no" in table.output and SELF_SELECTED_NOTE in table.output

    missing = runner.invoke(args=["results", "nosuchid"])
    assert missing.exit_code == 1
    assert "no poll 'nosuchid'" in missing.output


def test_results_command_ignores_visibility(app, client, runner):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="private")
    post_walks(client, poll_id, SCRIPTED_WALKS[:2])
    assert client.get(f"/api/v1/polls/{poll_id}/results").status_code == 403
    assert "2 respondents" in runner.invoke(args=["results", poll_id]).output
