"""The results picture: readable numbers, escaped texts, the same visibility as the JSON."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from pollserver.core.lifecycle import PollStatus
from pollserver.extensions import db
from pollserver.services.polls import change_status, create_poll

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article
from scripted_walks import SCRIPTED_WALKS, post_walks

SVG = "{http://www.w3.org/2000/svg}"


def picture_texts(response) -> list[str]:
    root = ElementTree.fromstring(response.data)
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def test_picture_labels_every_branch_with_its_share(app, client, seed_poll_id):
    app.config["RESULTS_CACHE_SECONDS"] = 0  # the last walk does not finish: sum on every read
    post_walks(client, seed_poll_id, SCRIPTED_WALKS)
    response = client.get(f"/api/v1/polls/{seed_poll_id}/results.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    root = ElementTree.fromstring(response.data)
    assert root.get("width") == "600"
    texts = picture_texts(response)
    assert "11 readers started, 10 finished" in texts[1]
    # q1: 9 yes of 11 answered, 2 no; q2: 5 yes, 3 no; outcomes share of the 10 finished.
    for label in ("82% (9)", "18% (2)", "62% (5)", "38% (3)"):
        assert label in texts
    assert any(text.startswith("50% of finished (5)") for text in texts)
    assert any("Operation had a good result" in text for text in texts)
    assert "end of the poll" in texts
    assert any("self-selected sample" in text for text in texts)


def test_picture_shows_counts_only_below_the_minimum(client, seed_poll_id):
    post_walks(client, seed_poll_id, SCRIPTED_WALKS[:3])
    texts = picture_texts(client.get(f"/api/v1/polls/{seed_poll_id}/results.svg"))
    assert "3 readers" in texts
    assert not any("%" in text for text in texts)
    assert any("shares shown from 10 readers" in text for text in texts)


def test_poll_texts_are_escaped_in_the_picture(app, client):
    hostile = "<script>alert(1)</script>"
    definition = {
        "title": "</text><script>alert(2)</script>",
        "root": "q1",
        "nodes": [
            {"id": "q1", "type": "question", "text": hostile, "yes": "o1", "no": None},
            {"id": "o1", "type": "outcome", "text": '<img src=x onerror="alert(3)">', "next": None},
        ],
    }
    with app.app_context():
        poll = create_poll(db.session, definition, settings={"results_visibility": "public"})
        change_status(poll, PollStatus.OPEN)
        db.session.commit()
        poll_id = poll.public_id
    response = client.get(f"/api/v1/polls/{poll_id}/results.svg")
    root = ElementTree.fromstring(response.data)  # still well-formed XML
    assert [element.tag for element in root.iter() if "script" in element.tag.lower()] == []
    assert [element for element in root.iter() if element.tag.endswith("img")] == []
    assert b"<script>" not in response.data and b"&lt;script&gt;" in response.data
    assert any(hostile in text for text in picture_texts(response))


def test_picture_follows_the_results_visibility(app, client):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="after_close")
    hidden = client.get(f"/api/v1/polls/{poll_id}/results.svg")
    assert hidden.status_code == 403
    assert "when the poll closes" in hidden.get_json()["error"]["message"]
    assert client.get("/api/v1/polls/nosuchid/results.svg").status_code == 404


def test_a_tree_whose_branches_rejoin_draws_each_question_once(app, client):
    """Yes and No both lead on: 2^30 paths, but the picture stays small and quick."""
    count = 30
    nodes = [
        {
            "id": f"q{number}",
            "type": "question",
            "text": f"Question {number}?",
            "yes": f"q{number + 1}" if number < count else "o1",
            "no": f"q{number + 1}" if number < count else None,
        }
        for number in range(1, count + 1)
    ]
    nodes.append({"id": "o1", "type": "outcome", "text": "The end", "next": None})
    definition = {"title": "Rejoining", "root": "q1", "nodes": nodes}
    with app.app_context():
        poll = create_poll(db.session, definition, settings={"results_visibility": "public"})
        change_status(poll, PollStatus.OPEN)
        db.session.commit()
        poll_id = poll.public_id
    response = client.get(f"/api/v1/polls/{poll_id}/results.svg")
    assert response.status_code == 200
    texts = picture_texts(response)
    assert sum(text == f"Question {count}?" for text in texts) <= 1
    assert len(texts) < 400
