"""The article builder: seeds, fixtures under tests/articles/, every kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pollserver.core.builder import (
    MAX_ARTICLE_BYTES,
    Article,
    ArticleError,
    BuildResult,
    NoFlowchartError,
    build_entry,
    build_polls_from_article,
    expand_article_paths,
    parse_article,
    read_article,
)
from pollserver.core.definition import validate_definition

from helpers import ARTICLES_DIR, SEED_DEFINITION, SEEDS_DIR

SEEDS = SEEDS_DIR
ARTICLES = ARTICLES_DIR

ALLIANCE = SEED_DEFINITION  # the definition DESIGN.md shows for seeds/001


def seed(prefix: str) -> Path:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path


def build(name: str) -> BuildResult:
    return build_polls_from_article(read_article(ARTICLES / name))


def build_text(text: str, source: str = "article.txt") -> BuildResult:
    return build_polls_from_article(parse_article(text.encode(), source))


def error_message(build_article: Callable[[], object], error: type[ArticleError]) -> str:
    """The message ``build_article`` fails with, checked to be one line."""
    with pytest.raises(error) as caught:
        build_article()
    message = str(caught.value)
    assert "\n" not in message
    return message


def fixture_error(name: str, error: type[ArticleError] = ArticleError) -> str:
    return error_message(lambda: build(name), error)


def text_error(text: str, error: type[ArticleError] = ArticleError) -> str:
    return error_message(lambda: build_text(text), error)


def outcome(node_id: str, text: str, next_id: str | None) -> dict[str, Any]:
    return {"id": node_id, "type": "outcome", "text": text, "next": next_id}


def question(node_id: str, text: str, yes: str | None, no: str | None) -> dict[str, Any]:
    return {"id": node_id, "type": "question", "text": text, "yes": yes, "no": no}


# Seeds ------------------------------------------------------------------------------------------


def test_seed_001_builds_exactly_the_design_example() -> None:
    result = build_polls_from_article(read_article(seed("001")))
    assert result.title == "A Fragile Alliance Forged in Fire"
    assert result.polls == [ALLIANCE]
    assert json.dumps(result.polls[0]) == json.dumps(ALLIANCE)  # canonical key order
    assert result.warnings == ["question q1: the No branch ends the poll"]


def test_seed_000_has_no_flowchart() -> None:
    article = read_article(seed("000"))
    assert article.title is not None and article.title.startswith("Late-Breaking: Putin")
    with pytest.raises(NoFlowchartError, match=r"^no yes/no flowchart found$"):
        build_polls_from_article(article)


def test_seed_entries_have_the_cli_shape() -> None:
    source = str(seed("001"))
    entry = build_entry(source, seed("001"))
    assert entry == {
        "source": source,
        "polls": [ALLIANCE],
        "warnings": ["question q1: the No branch ends the poll"],
    }
    source = str(seed("000"))
    assert build_entry(source, seed("000")) == {
        "source": source,
        "polls": [],
        "error": "no yes/no flowchart found",
    }


def test_article_fields() -> None:
    raw = seed("001").read_bytes()
    article = parse_article(raw, "001.txt")
    assert article.source == "001.txt"
    assert article.format == "text"
    assert article.body == raw.decode()
    assert len(article.content_hash) == 64
    assert article.lines[0] == "Skip to main content"
    assert article.lines[1] == ""
    yes_index = article.lines.index("Yes")
    assert article.lines[yes_index + 1] == "No"
    assert article.line_number(yes_index) == yes_index + 1


# Shapes of flowchart ----------------------------------------------------------------------------


def test_one_question_with_one_pair_of_outcomes() -> None:
    result = build("one_question.txt")
    assert result.title == "Town Weighs a Four-Day School Week"
    assert result.polls == [
        {
            "title": "Town Weighs a Four-Day School Week",
            "root": "q1",
            "nodes": [
                question("q1", "Should the district move to a four-day week?", "o1", "o2"),
                outcome("o1", "Families plan for a long weekend", None),
                outcome("o2", "Schedule stays as it is", None),
            ],
        }
    ]
    assert result.warnings == []


def test_three_questions_chain_along_yes() -> None:
    result = build("three_questions.txt")
    assert result.polls[0]["nodes"] == [
        question("q1", "Is the bridge unsafe?", "q2", None),
        question("q2", "Can it be repaired within a year?", "q3", None),
        question("q3", "Will the city pay for the repair?", "o1", "o2"),
        outcome("o1", "Bridge reopens next summer", None),
        outcome("o2", "Bridge stays closed", None),
    ]
    assert result.warnings == [
        "question q1: the No branch ends the poll",
        "question q2: the No branch ends the poll",
    ]


def test_outcome_chains_of_three_alternate_yes_and_no() -> None:
    result = build("outcome_chains.txt")
    assert result.polls[0]["nodes"] == [
        question("q1", "Will the weather hold?", "o1", "o2"),
        outcome("o1", "Fireworks go ahead", "o3"),
        outcome("o2", "Fireworks are postponed", "o4"),
        outcome("o3", "Crowds stay late on the quay", "o5"),
        outcome("o4", "Crowds leave early", "o6"),
        outcome("o5", "Traders report a record night", None),
        outcome("o6", "Traders count their losses", None),
    ]


def test_yes_no_in_any_case_with_stray_white_space() -> None:
    result = build("yes_no_casing.txt")
    assert result.polls[0]["nodes"] == [
        question("q1", "Should the library open on Sundays?", "o1", "o2"),
        outcome("o1", "Sunday opening begins in May", None),
        outcome("o2", "No change to opening hours", None),
    ]


def test_two_blocks_become_two_polls_each_titled_with_the_headline() -> None:
    # Readers see the title above the poll: the article's headline, never "Headline (2)".
    result = build("two_blocks.txt")
    assert [poll["title"] for poll in result.polls] == [
        "Two Questions for the New Mayor",
        "Two Questions for the New Mayor",
    ]
    assert result.polls[0]["nodes"][0]["text"] == "Will the tram line be extended?"
    assert result.polls[1]["nodes"][0]["text"] == "Will the old mill become flats?"
    assert result.warnings == []


def test_warnings_of_several_polls_are_prefixed_with_the_poll_number() -> None:
    text = "Title\n\nYes\nNo\nA?\nB?\nx\ny\n\nYes\nNo\nC?\nD?\nz\nw\n"
    assert build_text(text).warnings == [
        "poll 1: question q1: the No branch ends the poll",
        "poll 2: question q1: the No branch ends the poll",
    ]


def test_questions_in_prose_are_never_part_of_a_tree() -> None:
    result = build("prose_questions.txt")
    assert result.title == "Should the Park Close at Night"
    (poll,) = result.polls
    assert [n["text"] for n in poll["nodes"] if n["type"] == "question"] == [
        "Should the gates be locked at ten?"
    ]


def test_a_question_after_the_outcomes_ends_the_block() -> None:
    result = build_text("T\n\nYes\nNo\nQ?\nA\nB\nWhat do you think?\nMore text\n")
    assert [n["text"] for n in result.polls[0]["nodes"]] == ["Q?", "A", "B"]


def test_a_prose_line_ends_the_block() -> None:
    result = build_text("T\n\nYes\nNo\nQ?\nA\nB\nThe story goes on.\nC\n")
    assert [n["text"] for n in result.polls[0]["nodes"]] == ["Q?", "A", "B"]


def test_the_block_ends_at_the_end_of_the_text() -> None:
    result = build_text("T\n\nYes\nNo\nQ?\nA\nB")
    assert len(result.polls[0]["nodes"]) == 3


def test_a_lone_yes_no_pair_is_not_a_flowchart() -> None:
    text = "Title\n\nWas this article helpful?\nYes\nNo\n\nYes\nNo\nQ?\nA\nB\n"
    result = build_text(text)
    assert len(result.polls) == 1
    assert result.warnings == ["line 4: Yes/No without questions after them, ignored"]
    assert text_error("Title\n\nYes\nNo\n\nThe end.\n", NoFlowchartError)


# Titles -----------------------------------------------------------------------------------------


def test_page_chrome_is_never_the_title() -> None:
    result = build("chrome_title.txt")
    assert result.title == "A Quiet Village Votes on a Wind Farm"
    assert result.polls[0]["title"] == "A Quiet Village Votes on a Wind Farm"


@pytest.mark.parametrize(
    "chrome",
    ["Skip to main content", "Comments", "Advertisement", "Related: More news", "Share",
     "Menu", "Sign in", "Subscribe", "12 comments", "—", "Read more: other things"],
)  # fmt: skip
def test_each_chrome_line_is_skipped(chrome: str) -> None:
    assert build_text(f"{chrome}\nReal Headline\n\nYes\nNo\nQ?\nA\nB\n").title == "Real Headline"


def test_without_a_headline_the_first_question_titles_the_poll() -> None:
    result = build_text("Comments\n\nYes\nNo\nIs it raining?\nUmbrellas\nSunglasses\n")
    assert result.title is None
    assert result.polls[0]["title"] == "Is it raining?"


# Encodings and line ends ------------------------------------------------------------------------


def test_crlf_lone_cr_and_bom_read_like_plain_newlines() -> None:
    raw = (ARTICLES / "one_question.txt").read_bytes()
    expected = build("one_question.txt").polls
    for variant in (
        raw.replace(b"\n", b"\r\n"),
        raw.replace(b"\n", b"\r"),
        b"\xef\xbb\xbf" + raw,
        b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"),
    ):
        article = parse_article(variant, "one_question.txt")
        assert article.title == "Town Weighs a Four-Day School Week"
        assert not article.body.startswith("\ufeff")
        assert build_polls_from_article(article).polls == expected


# HTML -------------------------------------------------------------------------------------------


def test_html_article() -> None:
    article = read_article(ARTICLES / "flowchart.html")
    assert article.format == "html"
    assert article.title == "Fish & Chips: The Town’s Favourite?"
    assert not any("Hidden question" in line or "Trap" in line for line in article.lines)
    assert "Home" not in " ".join(article.lines)  # <nav> dropped
    result = build_polls_from_article(article)
    # The figure's end ends the block: the short line after it is not a third statement.
    assert result.polls == [
        {
            "title": "Fish & Chips: The Town’s Favourite?",
            "root": "q1",
            "nodes": [
                question("q1", "Will a buyer be found by June?", "o1", "o2"),
                outcome("o1", "The shop stays open & keeps its name", None),
                outcome("o2", "The shop closes for good", None),
            ],
        }
    ]
    yes_index = article.lines.index("Yes")
    assert article.line_number(yes_index) == 14  # the source line of <div>Yes</div>


def test_html_without_h1_takes_its_title_element() -> None:
    html = "<html><head><title>Page &amp; Title</title></head><body><ul><li>Yes<li>No<li>Q?"
    html += "<li>A<li>B</ul><p>After</p></body></html>"
    result = build_text(html, "page.html")
    assert result.title == "Page & Title"
    assert [n["text"] for n in result.polls[0]["nodes"]] == ["Q?", "A", "B"]


def test_html_prefers_the_article_headline_over_a_logo_h1() -> None:
    html = "<div><h1>Daily Gazette</h1></div><article><h1>Real Story</h1>"
    html += "<p>Yes</p><p>No</p><p>Q?</p><p>A</p><p>B</p></article>"
    assert build_text(html, "page.htm").title == "Real Story"


def test_html_container_end_ends_the_block() -> None:
    html = "<h1>T</h1><ol><li>Yes</li><li>No</li><li>Q?</li><li>A</li><li>B</li></ol>"
    html += "<p>Next</p><p>Last</p>"
    assert [n["text"] for n in build_text(html, "x.html").polls[0]["nodes"]] == ["Q?", "A", "B"]


def test_html_format_is_sniffed_when_the_suffix_says_nothing() -> None:
    html = b"<!doctype html><h1>Sniffed</h1><p>Yes</p><p>No</p><p>Q?</p><p>A</p><p>B</p>"
    article = parse_article(html, "-")
    assert (article.format, article.title) == ("html", "Sniffed")
    assert parse_article(b"Just text\n", "-").format == "text"
    assert parse_article(b'{"title": "T"}', "-").format == "definition"
    assert parse_article(html, "-", format="text").format == "text"


# Definition files -------------------------------------------------------------------------------


def test_a_json_definition_file_is_validated_and_made_canonical() -> None:
    result = build("poll.json")
    assert result.title == "Should the Pier Be Rebuilt?"
    (poll,) = result.polls
    assert poll["nodes"][0] == question("start", "Should the pier be rebuilt?", "cost", "gone")
    assert result.warnings == ["question cost: the No branch ends the poll"]


def test_a_json_file_may_hold_several_definitions_or_a_build_entry() -> None:
    poll = json.loads((ARTICLES / "poll.json").read_text())
    listed = build_polls_from_article(parse_article(json.dumps([poll, poll]).encode(), "p.json"))
    assert len(listed.polls) == 2
    assert listed.warnings[1] == "poll 2: question cost: the No branch ends the poll"
    entry = {"source": "x.txt", "polls": [poll], "warnings": []}
    assert len(build_polls_from_article(parse_article(json.dumps(entry).encode(), "e.json")).polls)


def test_an_invalid_json_definition_gives_the_schema_message() -> None:
    assert fixture_error("bad_poll.json") == "node start: 'yes' refers to unknown node 'cost'"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"title": ', "not valid JSON"),
        ("[]", "no poll definitions in the file"),
        ("42", "a definition file holds a JSON object"),
        ('[{"title": "T"}, 5]', "definition 1: 'root' is missing"),
    ],
)
def test_bad_json_files(content: str, expected: str) -> None:
    with pytest.raises(ArticleError) as caught:
        build_polls_from_article(parse_article(content.encode(), "poll.json"))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


# Malformed blocks -------------------------------------------------------------------------------


def test_unpairable_statements_name_the_block_line() -> None:
    assert fixture_error("odd_statements.txt") == (
        "block at line 5: 3 statements cannot be paired into yes/no outcomes"
    )


def test_a_block_without_a_question() -> None:
    assert fixture_error("no_question.txt") == (
        "block at line 3: no question (a line ending in '?') after Yes/No"
    )


def test_a_block_without_statements() -> None:
    assert fixture_error("no_statements.txt") == (
        "block at line 3: 2 questions but no outcome statements after them"
    )


def test_a_question_longer_than_the_limit() -> None:
    message = fixture_error("long_question.txt")
    assert message == "block at line 3: line 5 is longer than 280 characters"


def test_an_outcome_longer_than_the_limit() -> None:
    message = fixture_error("long_outcome.txt")
    assert message == "block at line 3: line 6 is longer than 280 characters"


def test_an_over_long_outcome_between_complete_pairs() -> None:
    long_line = "An outcome that goes on " + "and on " * 50
    text = f"T\n\nYes\nNo\nQ?\nA\nB\n{long_line}\nD\n"
    assert text_error(text) == "block at line 3: line 8 is longer than 280 characters"


def test_a_long_prose_paragraph_after_a_block_just_ends_it() -> None:
    paragraph = "This paragraph runs on " + "and on " * 50 + "until it stops."
    result = build_text(f"T\n\nYes\nNo\nQ?\nA\nB\n{paragraph}\nMore\n")
    assert len(result.polls[0]["nodes"]) == 3


def test_too_many_nodes() -> None:
    statements = "\n".join(f"Statement {number}" for number in range(50))
    message = text_error(f"T\n\nYes\nNo\nQ?\n{statements}\n")
    assert message == "block at line 3: 51 nodes, more than the 50 a poll may have"


def test_every_malformed_block_is_named_in_one_line() -> None:
    message = text_error("T\n\nYes\nNo\nQ?\nA\n\nYes\nNo\nA\nB\n")
    assert message == (
        "block at line 3: 1 statement cannot be paired into yes/no outcomes; "
        "block at line 8: no question (a line ending in '?') after Yes/No"
    )


# Bad input --------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=r"^no such file$"):
        read_article(tmp_path / "nothing.txt")


def test_a_directory_is_not_an_article(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match=r"^is a directory$"):
        read_article(tmp_path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "file is empty"),
        (b" \n\r\n\t", "file is empty"),
        (b"\xef\xbb\xbf\n", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file, not an article"),
        (bytes(range(1, 32)) * 10, "binary file, not an article"),
        (b"Headline\nSome text \xff here", "not valid UTF-8 text (byte 0xff at offset 19)"),
        (b"\xef\xbb\xbfAB\xc3", "not valid UTF-8 text (byte 0xc3 at offset 5)"),
        ("Yes".encode("utf-16"), "not valid UTF-8 text (the file is UTF-16; save it as UTF-8)"),
    ],
)
def test_unreadable_content(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(raw)
    with pytest.raises(ArticleError) as caught:
        read_article(path)
    assert str(caught.value) == expected
    assert build_entry("article.txt", path) == {
        "source": "article.txt",
        "polls": [],
        "error": expected,
    }


def test_a_file_over_2_mb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"a" * (MAX_ARTICLE_BYTES + 1))
    with pytest.raises(ArticleError, match=r"^file is larger than 2 MB$"):
        read_article(path)
    with pytest.raises(ArticleError, match=r"^file is larger than 2 MB$"):
        parse_article(path.read_bytes(), "huge.txt")
    path.write_bytes(b"a" * MAX_ARTICLE_BYTES)
    assert read_article(path).format == "text"  # exactly 2 MB is allowed


def test_expand_article_paths(tmp_path: Path) -> None:
    for name in ("b.txt", "a.HTML", "c.json", "d.htm", "notes.md", ".hidden.txt", "e.png"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.txt").write_text("x")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "picture.png").write_text("x")
    single = tmp_path / "e.png"

    expanded = expand_article_paths([str(tmp_path), str(single), str(empty), "/no/such/path"])
    # Markdown is an article in a directory as it is when named.
    names = ("a.HTML", "b.txt", "c.json", "d.htm", "notes.md")
    assert [(source, value) for source, value in expanded[:5]] == [
        (str(tmp_path / name), tmp_path / name) for name in names
    ]
    assert expanded[5] == (str(single), single)  # named explicitly: taken whatever its suffix
    source, error = expanded[6]
    assert source == str(empty)
    assert isinstance(error, ArticleError)
    assert str(error) == "no articles (.txt, .md, .markdown, .html, .htm, .json) in directory"
    source, error = expanded[7]
    assert (source, str(error)) == ("/no/such/path", "no such file or directory")
    assert len(expanded) == 8


def test_build_entry_never_raises_for_bad_input(tmp_path: Path) -> None:
    sources: list[str] = [str(tmp_path / "missing.txt"), str(tmp_path)]
    for name in ("odd_statements.txt", "long_question.txt", "long_outcome.txt", "bad_poll.json"):
        sources.append(str(ARTICLES / name))
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"a" * (MAX_ARTICLE_BYTES + 1))
    sources.append(str(huge))
    empty_directory = tmp_path / "empty"
    empty_directory.mkdir()
    sources.append(str(empty_directory))

    for source, path_or_error in expand_article_paths(sources):
        entry = build_entry(source, path_or_error)
        assert set(entry) == {"source", "polls", "error"}, entry
        assert entry["polls"] == []
        assert entry["error"] and "\n" not in entry["error"]
    assert build_entry("x", tmp_path)["error"] == "is a directory"
    assert build_entry("x", tmp_path / "missing.txt")["error"] == "no such file"


# Robustness -------------------------------------------------------------------------------------

LINES = st.sampled_from(
    ["Yes", "No", " yes ", "NO", "", "Will it work?", "Is it so?", "It works", "It fails",
     "A sentence.", "Skip to main content", "x" * 300, "y" * 299 + "?", "<p>", "&amp;"]
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(st.lists(LINES, max_size=40), st.sampled_from(["a.txt", "a.html"]))
def test_any_mix_of_lines_gives_valid_polls_or_one_article_error(
    lines: list[str], source: str
) -> None:
    raw = "\n".join(lines).encode()
    try:
        result = build_polls_from_article(parse_article(raw, source))
    except ArticleError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert result.polls
        for poll in result.polls:
            assert validate_definition(poll) == poll


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(["a.txt", "a.html", "a.json", "a"]))
def test_any_bytes_parse_or_fail_with_an_article_error(raw: bytes, source: str) -> None:
    try:
        article = parse_article(raw, source)
        build_polls_from_article(article)
    except ArticleError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert isinstance(article, Article)


def test_deeply_nested_html_does_not_overflow_the_stack() -> None:
    html = "<div>" * 5000 + "<p>Yes</p><p>No</p><p>Q?</p><p>A</p><p>B</p>" + "</div>" * 5000
    assert len(build_text(html, "deep.html").polls) == 1


def test_an_over_long_headline_is_shortened_to_fit_a_poll_title() -> None:
    headline = "Headline " * 40
    html = f"<h1>{headline}</h1><p>Yes</p><p>No</p><p>Q?</p><p>A</p><p>B</p>"
    html += "<div><p>Yes</p><p>No</p><p>R?</p><p>C</p><p>D</p></div>"
    titles = [poll["title"] for poll in build_text(html, "long.html").polls]
    assert all(len(title) <= 280 for title in titles)
    assert titles[0].endswith("…") and titles[1] == titles[0]
