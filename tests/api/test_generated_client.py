"""A typed client generated from the app's own OpenAPI document works unchanged.

openapi-python-client (the generator the README's "Clients" section names) turns
``/api/v1/openapi.json`` into a package, with no warning; the test imports it and drives it
against the app, as a newsroom's data desk would: a reader's walk, progress with the reader's
header, public results and their picture, the admin list page by page, hiding and restoring a
response, and the CSV export read as a stream. The generated code talks HTTP through httpx;
here httpx's WSGI transport carries it to the app in this process.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from helpers import SEED_WITH_FLOWCHART, open_poll_from_article

REPOSITORY = Path(__file__).resolve().parents[2]
GENERATOR_CONFIG = REPOSITORY / "docs" / "clients" / "openapi-python-client.yaml"
PACKAGE = "pollserver_client"
BASE_URL = "http://pollserver.test"


@pytest.fixture
def generated(app, tmp_path):
    """The client package, generated from the app's own document."""
    folder = tmp_path / "generated"
    folder.mkdir()
    document = folder / "openapi.json"
    document.write_bytes(app.test_client().get("/api/v1/openapi.json").data)
    # The generator formats its output with ruff, from the same environment.
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"}
    environment["PATH"] += os.environ.get("PATH", "")
    generator = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(document),
            "--config",
            str(GENERATOR_CONFIG),
            "--output-path",
            str(folder / "client"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    said = generator.stdout + generator.stderr
    assert generator.returncode == 0, said
    for trouble in ("Warning", "WARNING", "Error", "Skipping", "not in PATH"):
        assert trouble not in said, said
    sys.path.insert(0, str(folder / "client"))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(folder / "client"))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def clients_of(app, generated, token: str):
    """A public and an admin client of the generated package, both talking to ``app``."""
    client_module = generated("client")
    transport = httpx.WSGITransport(app=app)
    public = client_module.Client(base_url=BASE_URL)
    public.set_httpx_client(httpx.Client(base_url=BASE_URL, transport=transport))
    admin = client_module.AuthenticatedClient(base_url=BASE_URL, token=token)
    admin.set_httpx_client(
        httpx.Client(
            base_url=BASE_URL,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    return public, admin


def test_the_generated_client_drives_a_reader_and_a_data_desk(app, tokens, generated):
    poll_id = open_poll_from_article(app, SEED_WITH_FLOWCHART, results_visibility="public")
    public, admin = clients_of(app, generated, tokens["moderator"])
    models = generated("models")
    get_poll = importlib.import_module(f"{PACKAGE}.api.polls.get_poll")
    answer_poll = importlib.import_module(f"{PACKAGE}.api.polls.answer_poll")
    get_progress = importlib.import_module(f"{PACKAGE}.api.polls.get_progress")
    get_results = importlib.import_module(f"{PACKAGE}.api.polls.get_results")
    get_picture = importlib.import_module(f"{PACKAGE}.api.polls.get_results_picture")

    # A reader: the poll, then each answer until the end. Every reply before the end has
    # results: null, which the generated models must take.
    poll = get_poll.sync(poll_id, client=public)
    assert isinstance(poll, models.PublicPoll) and poll.id == poll_id
    node, token, progress = poll.root, None, None
    while node is not None:
        progress = answer_poll.sync(
            poll_id,
            client=public,
            body=models.AnswerRequest(
                respondent=token, node=node, answer=models.AnswerRequestAnswer.YES
            ),
        )
        assert isinstance(progress, models.Progress), progress
        assert progress.results is None or isinstance(progress.results, models.Results)
        token, node = progress.respondent, progress.current
    assert progress.finished and isinstance(progress.results, models.Results)
    assert progress.results.respondents == 1

    # Progress with the reader's header; an unknown token is the one error shape.
    mine = get_progress.sync(poll_id, client=public, x_poll_respondent=token)
    assert isinstance(mine, models.Progress) and mine.respondent == token and mine.finished
    unknown = get_progress.sync(poll_id, client=public, x_poll_respondent="x" * 32)
    assert isinstance(unknown, models.ErrorResponse)
    assert unknown.error.details.reason == "unknown_respondent"

    # Public results, revalidated with the ETag, and their picture.
    results = get_results.sync_detailed(poll_id, client=public)
    assert results.status_code == 200 and results.parsed.finished == 1
    again = get_results.sync_detailed(poll_id, client=public, if_none_match=results.headers["ETag"])
    assert again.status_code == 304
    picture = get_picture.sync_detailed(poll_id, client=public)
    assert picture.status_code == 200
    assert picture.parsed.payload.read().startswith(b"<svg")

    # The data desk: the poll's article (a nullable reference, typed), a second poll written
    # by hand for it, then every poll, one to a page, with X-Pagination as the document says.
    get_poll_version = importlib.import_module(f"{PACKAGE}.api.admin.get_poll_version")
    create_article_poll = importlib.import_module(f"{PACKAGE}.api.admin.create_article_poll")
    detail = get_poll_version.sync(poll_id, client=admin)
    assert isinstance(detail.article, models.ArticleRef)
    question, outcome = models.DefinitionNodeType.QUESTION, models.DefinitionNodeType.OUTCOME
    drafted = create_article_poll.sync(
        detail.article.id,
        client=admin,
        body=models.Definition(
            title="Should the bridge reopen?",
            root="q1",
            nodes=[
                models.DefinitionNode(id="q1", type_=question, text="Reopen?", yes="o1", no="o2"),
                models.DefinitionNode(id="o1", type_=outcome, text="It reopens."),
                models.DefinitionNode(id="o2", type_=outcome, text="It stays shut."),
            ],
        ),
    )
    assert isinstance(drafted, models.PollDetail), drafted
    list_polls = importlib.import_module(f"{PACKAGE}.api.admin.list_polls")
    seen, page = [], 1
    while True:
        listed = list_polls.sync_detailed(client=admin, page=page, page_size=1)
        assert listed.status_code == 200
        pagination = json.loads(listed.headers["X-Pagination"])
        assert pagination["page"] == page and pagination["total"] >= 2
        seen += [summary.id for summary in listed.parsed]
        if "next_page" not in pagination:
            break
        page = pagination["next_page"]
    assert poll_id in seen and len(seen) == pagination["total"]
    past_the_end = list_polls.sync_detailed(client=admin, page=page + 5, page_size=1)
    assert past_the_end.parsed == []
    assert json.loads(past_the_end.headers["X-Pagination"])["page"] == page + 5

    # Hide the reader's response, then restore it: the results count them out, then in.
    list_respondents = importlib.import_module(f"{PACKAGE}.api.admin.list_respondents")
    hide = importlib.import_module(f"{PACKAGE}.api.admin.hide_responses")
    restore = importlib.import_module(f"{PACKAGE}.api.admin.restore_responses")
    respondents = list_respondents.sync(poll_id, client=admin)
    selection = models.ResponseSelection(respondents=[respondents[0].respondent])
    hidden = hide.sync(poll_id, client=admin, body=selection)
    assert isinstance(hidden, models.ModerationOutcome) and hidden.changed == 1
    assert get_results.sync(poll_id, client=public).respondents == 0
    restored = restore.sync(poll_id, client=admin, body=selection)
    assert restored.changed == 1
    assert get_results.sync(poll_id, client=public).respondents == 1

    # An article as a file, with and without its optional fields (a form has no null: a
    # field left out is absent, never the text "None").
    upload_article = importlib.import_module(f"{PACKAGE}.api.admin.upload_article")
    file_type = generated("types").File
    text = SEED_WITH_FLOWCHART.with_name("000_1434c06255666429.txt").read_bytes()
    uploaded = upload_article.sync_detailed(
        client=admin,
        body=models.ArticleUpload(
            file=file_type(payload=io.BytesIO(text), file_name="fire.txt"),
            source="https://news.example/fire",
        ),
    )
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.parsed.article.source == "https://news.example/fire"
    bare = upload_article.sync_detailed(
        client=admin,
        body=models.ArticleUpload(
            file=file_type(payload=io.BytesIO(b"No flowchart here.\n"), file_name="plain.txt")
        ),
    )
    assert bare.status_code == 201, bare.content
    assert bare.parsed.article.needs_poll and bare.parsed.article.source != "None"

    # The export, read as a stream through the generated request.
    export_csv = importlib.import_module(f"{PACKAGE}.api.admin.export_responses_csv")
    with admin.get_httpx_client().stream(**export_csv._get_kwargs(poll_id)) as stream:
        assert stream.status_code == 200
        assert stream.headers["Content-Type"].startswith("text/csv")
        rows = list(stream.iter_lines())
    assert rows[0].startswith("respondent,") and len(rows) == 2
    assert export_csv.sync(poll_id, client=admin).startswith("respondent,")
