"""The flowchart rule in every language of its table, and the shapes it once lost a poll to.

Each language's article is written as a newsroom in that language would: its own Yes/No pair,
question mark and page chrome. The poll takes its language from the pair."""

from __future__ import annotations

import pytest

from pollserver.core.builder import (
    NoFlowchartError,
    build_polls_from_article,
    expand_article_paths,
    parse_article,
    read_article,
)
from pollserver.core.builder.build import build_entry
from pollserver.core.builder.languages import LANGUAGES

# language: (yes, no, question, yes outcome, no outcome, the language's own ad label)
SAMPLES = {
    "en": ("Yes", "No", "Should the park stay open late?", "The park stays open",
           "The park closes at dusk", "Advertisement"),
    "de": ("Ja", "Nein", "Soll der Park länger geöffnet bleiben?", "Der Park bleibt offen",
           "Der Park schließt bei Dämmerung", "Anzeige"),
    "fr": ("Oui", "Non", "Le parc doit-il rester ouvert tard ?", "Le parc reste ouvert",
           "Le parc ferme au crépuscule", "Publicité"),
    "es": ("Sí", "No", "¿Debe el parque abrir hasta tarde?", "El parque sigue abierto",
           "El parque cierra al anochecer", "Publicidad"),
    "it": ("Sì", "No", "Il parco deve restare aperto fino a tardi?", "Il parco resta aperto",
           "Il parco chiude al tramonto", "Pubblicità"),
    "pt": ("Sim", "Não", "O parque deve ficar aberto até tarde?", "O parque fica aberto",
           "O parque fecha ao anoitecer", "Publicidade"),
    "nl": ("Ja", "Nee", "Moet het park 's avonds open blijven?", "Het park blijft open",
           "Het park sluit bij zonsondergang", "Advertentie"),
    "pl": ("Tak", "Nie", "Czy park ma być otwarty do późna?", "Park zostaje otwarty",
           "Park zamyka się o zmroku", "Reklama"),
    "ru": ("Да", "Нет", "Должен ли парк работать допоздна?", "Парк остаётся открытым",
           "Парк закрывается в сумерках", "Реклама"),
    "uk": ("Так", "Ні", "Чи має парк працювати допізна?", "Парк залишається відкритим",
           "Парк зачиняється в сутінках", "Реклама"),
    "ko": ("예", "아니요", "공원을 늦게까지 열어야 할까요？", "공원이 계속 열린다",
           "공원이 해 질 녘에 닫는다", "광고"),
    "ja": ("はい", "いいえ", "公園は遅くまで開けるべきですか？", "公園は開いたまま",
           "公園は日暮れに閉まる", "広告"),
    "ar": ("نعم", "لا", "هل يجب أن تبقى الحديقة مفتوحة حتى وقت متأخر؟", "تبقى الحديقة مفتوحة",
           "تغلق الحديقة عند الغروب", "إعلان"),
}  # fmt: skip
HEADLINE = {"ru": "Парк у реки", "ar": "حديقة النهر", "ja": "川辺の公園", "ko": "강변 공원"}


def text_article(language: str, *, chrome_after: bool = False) -> str:
    yes, no, question, yes_outcome, no_outcome, ad = SAMPLES[language]
    lines = [HEADLINE.get(language, "The riverside park"), "", yes, no, question]
    lines += [yes_outcome, no_outcome]
    if chrome_after:
        lines.append(ad)  # directly after the last statement, no blank line
    return "\n".join([*lines, "", "Some closing words of the article."]) + "\n"


def build_text(text: str, source: str = "article.txt"):
    return build_polls_from_article(parse_article(text.encode(), source))


def test_the_table_holds_every_language_the_widget_speaks_to_newsrooms():
    assert {language.code for language in LANGUAGES} >= set(SAMPLES)


@pytest.mark.parametrize("language", list(SAMPLES))
def test_each_language_builds_in_text_with_its_own_words(language):
    result = build_text(text_article(language))
    _, _, question, yes_outcome, no_outcome, _ = SAMPLES[language]
    (poll,) = result.polls
    assert result.languages == [language]
    assert [node["text"] for node in poll["nodes"]] == [question, yes_outcome, no_outcome]
    assert poll["title"] == HEADLINE.get(language, "The riverside park")
    assert result.warnings == []


@pytest.mark.parametrize("language", list(SAMPLES))
def test_each_language_builds_in_html_and_its_chrome_after_the_outcomes_is_ignored(language):
    yes, no, question, yes_outcome, no_outcome, ad = SAMPLES[language]
    html = (
        f'<html lang="{language}"><head><title>{question} | Example</title></head><body>'
        f"<article><p>Intro.</p><p>{yes}</p><p>{no}</p><p>{question}</p><p>{yes_outcome}</p>"
        f"<p>{no_outcome}</p><p>{ad}</p><p>More text.</p></article></body></html>"
    )
    result = build_text(html, "article.html")
    (poll,) = result.polls
    assert result.languages == [language]
    assert [node["text"] for node in poll["nodes"]] == [question, yes_outcome, no_outcome]
    assert poll["title"] == question  # the <title> without the site's name


@pytest.mark.parametrize("language", list(SAMPLES))
def test_chrome_directly_after_the_last_statement_is_not_a_statement(language):
    (poll,) = build_text(text_article(language, chrome_after=True)).polls
    assert len(poll["nodes"]) == 3


@pytest.mark.parametrize(
    ("yes", "no"), [("Ja", "No"), ("Oui", "Nein"), ("Да", "Ні"), ("Yes", "Nee"), ("Tak", "Нет")]
)
def test_a_pair_of_two_languages_is_not_a_block(yes, no):
    text = f"Headline\n\n{yes}\n{no}\nShould it?\nIt should\nIt should not\n"
    with pytest.raises(NoFlowchartError):
        build_text(text)


def test_two_blocks_in_two_languages_make_two_polls_each_in_its_language():
    de = SAMPLES["de"]
    ru = SAMPLES["ru"]
    text = "\n".join(["Zwei Sprachen, ein Park", "", *de[:5], "", *ru[:5], ""])
    result = build_text(text)
    assert result.languages == ["de", "ru"]
    assert [poll["nodes"][0]["text"] for poll in result.polls] == [de[2], ru[2]]
    # Every poll takes the article's headline: readers see it above the poll.
    assert [poll["title"] for poll in result.polls] == ["Zwei Sprachen, ein Park"] * 2


def test_full_width_and_arabic_question_marks_end_a_question_and_spanish_opens_one():
    for question in ("公園は開くべき？", "هل نفتح الحديقة؟", "¿Abrimos el parque?"):
        result = build_text(f"Park\n\nYes\nNo\n{question}\nOpen\nClosed\n")
        assert result.polls[0]["nodes"][0]["text"] == question


def test_japanese_full_stop_ends_a_block_like_a_sentence():
    text = "公園\n\nはい\nいいえ\n公園は開くべき？\n開く\n閉まる\nこれは記事の続きです。\n"
    (poll,) = build_text(text).polls
    assert len(poll["nodes"]) == 3


# --- the shapes once lost ----------------------------------------------------------------------


def test_outcomes_that_trail_off_are_kept():
    text = "Park\n\nYes\nNo\nShould it stay open?\nIt stays open until…\nIt closes, and then...\n"
    (poll,) = build_text(text).polls
    assert [node["text"] for node in poll["nodes"][1:]] == [
        "It stays open until…",
        "It closes, and then...",
    ]


def test_a_good_block_is_kept_beside_a_warning_for_a_bad_one():
    text = (
        "Park\n\nYes\nNo\nShould it stay open?\nOpen\nClosed\n\n"
        "Yes\nNo\nShould it get lights?\nLights\n\n"  # one statement: cannot be paired
    )
    result = build_text(text)
    assert len(result.polls) == 1
    assert result.polls[0]["nodes"][0]["text"] == "Should it stay open?"
    (warning,) = result.warnings
    assert "block at line 9" in warning and "cannot be paired" in warning
    assert "skipped" in warning


def test_an_article_whose_only_block_is_bad_is_still_an_error():
    with pytest.raises(Exception, match="cannot be paired"):
        build_text("Park\n\nYes\nNo\nShould it?\nLights\n")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Should the park stay open late? | The Daily Example", "Should the park stay open late?"),
        ("Park to stay open late – The Daily Example", "Park to stay open late"),
        ("Tram vote | Politics | The Daily Example", "Tram vote"),
        ("Park plan - Local news - The Daily Example", "Park plan"),
        ("The Daily Example | Council votes to close the park early", None),
        ("Covid-19 in Europe - what now for schools", None),
        ("Brexit deal agreed - what happens next | Site", "Brexit deal agreed - what happens next"),
        ("Élections – ce qu'il faut savoir", None),
        ("Bundestag – Abstimmung heute", None),
    ],
)
def test_a_page_title_loses_the_sites_name_and_nothing_else(title, expected):
    html = f"<title>{title}</title><p>Yes</p><p>No</p><p>Q?</p><p>A</p><p>B</p>"
    result = build_text(html, "page.html")
    if title.startswith("The Daily Example |"):
        expected = "Council votes to close the park early"
    assert result.polls[0]["title"] == (expected or title)


@pytest.mark.parametrize(
    ("yes", "no"),
    [("Yes →", "No →"), ("Yes:", "No:"), ("- **Yes**", "- **No**"), ("* Ja", "* Nein"),
     ("1. Yes", "2. No"), ("Yes ->", "No ->")],
)  # fmt: skip
def test_labels_with_arrows_colons_and_list_markers_are_read(yes, no):
    text = f"Park\n\n{yes}\n{no}\n- Should it stay open?\n- **It stays open**\n- It closes\n"
    (poll,) = build_text(text).polls
    assert [node["text"] for node in poll["nodes"]] == [
        "Should it stay open?",
        "It stays open",
        "It closes",
    ]


MARKDOWN = """# Should the park stay open late?

The council votes on Monday.

- **Yes**
- **No**
- Should the park stay open late?
- The park stays open
- The park closes at dusk

---

More of the article.
"""


def test_markdown_is_read_the_same_as_a_file_and_in_a_directory(tmp_path):
    (tmp_path / "park.md").write_text(MARKDOWN)
    (tmp_path / "notes.markdown").write_text(MARKDOWN.replace("park", "pier"))
    listed = [source for source, _ in expand_article_paths([str(tmp_path)])]
    assert listed == [str(tmp_path / "notes.markdown"), str(tmp_path / "park.md")]
    result = build_polls_from_article(read_article(tmp_path / "park.md"))
    (poll,) = result.polls
    assert poll["title"] == "Should the park stay open late?"
    assert [node["text"] for node in poll["nodes"]][1:] == [
        "The park stays open",
        "The park closes at dusk",
    ]
    entry = build_entry(str(tmp_path / "park.md"), tmp_path / "park.md")
    assert entry["polls"] == [poll] and result.languages == ["en"]


def test_an_imported_poll_speaks_the_language_of_its_pair_and_an_editors_choice_stays(
    app, tmp_path
):
    from pollserver.extensions import db
    from pollserver.services.articles import import_article

    path = tmp_path / "park.txt"
    path.write_text(text_article("ru") + "\n".join(["", *SAMPLES["ar"][:5], ""]))
    with app.app_context():
        first, second = import_article(db.session, read_article(path), "tests").polls
        assert (first.settings["language"], second.settings["language"]) == ("ru", "ar")
        first.settings = {**first.settings, "language": "uk"}  # an editor's choice
        db.session.commit()
        path.write_text(path.read_text().replace("Парк у реки", "Парк у реки и моста"))
        again = import_article(db.session, read_article(path), "tests").polls
        db.session.commit()
        assert again[0].settings["language"] == "uk"


@pytest.mark.parametrize("chrome", ["Anzeige", "Реклама", "Publicité", "광고", "إعلان", "Werbung"])
def test_a_languages_chrome_is_never_the_title(chrome):
    text = f"{chrome}\nDer Park am Fluss\n\nJa\nNein\nSoll der Park offen bleiben?\nOffen\nZu\n"
    assert build_text(text).polls[0]["title"] == "Der Park am Fluss"


def test_an_outcome_that_only_starts_like_chrome_is_kept():
    text = "Park\n\nJa\nNein\nSoll der Park offen bleiben?\nAnzeige erstattet\nKeine Anzeige\n"
    (poll,) = build_text(text).polls
    assert [node["text"] for node in poll["nodes"][1:]] == ["Anzeige erstattet", "Keine Anzeige"]


# --- what a first version of this rule got wrong --------------------------------------------------


def test_a_bad_block_keeps_its_place_so_the_polls_after_it_stay_the_same(app, tmp_path):
    from pollserver.extensions import db
    from pollserver.services.articles import import_article

    good = "Yes\nNo\nShould the {0} open?\n{0} opens\n{0} stays shut\n"
    bad = "Yes\nNo\nShould the mill be flats?\nFlats\n"  # an outcome without its pair
    text = "Three questions\n\n" + good.format("park") + "\n" + bad + "\n" + good.format("pier")
    result = build_text(text)
    assert result.block_indexes == [0, 2]
    path = tmp_path / "three.txt"
    path.write_text(text)
    with app.app_context():
        first = import_article(db.session, read_article(path), "tests")
        db.session.commit()
        pier = {poll.block_index: poll.public_id for poll in first.polls}[2]
        path.write_text(text.replace("Flats\n", "Flats\nNo flats\n"))  # fixed
        fixed = import_article(db.session, read_article(path), "tests")
        db.session.commit()
        by_block = {poll.block_index: poll for poll in fixed.polls}
        assert sorted(by_block) == [0, 1, 2]
        assert by_block[2].public_id == pier  # the pier's poll is still the pier's
        assert by_block[1].nodes[0].text == "Should the mill be flats?"


@pytest.mark.parametrize(
    "outcomes",
    [("Accept", "Refuse"), ("Subscribers leave", "Subscribers stay"), ("Close", "Save")],
)
def test_outcomes_that_look_like_chrome_are_kept_when_more_follow(outcomes):
    text = "Park\n\nYes\nNo\nShould the park be sold?\nSell\nKeep\n" + "\n".join(outcomes)
    (poll,) = build_text(text + "\n").polls
    assert [node["text"] for node in poll["nodes"][1:]] == ["Sell", "Keep", *outcomes]


def test_prose_that_trails_off_after_a_block_is_not_an_outcome():
    html = (
        "<h1>Park</h1><div><p>Yes</p><p>No</p><p>Should it open?</p><p>Open</p><p>Shut</p>"
        "<p>What happens next is anyone's guess...</p></div>"
    )
    (poll,) = build_text(html, "park.html").polls
    assert len(poll["nodes"]) == 3
    quoted = 'Park\n\nYes\nNo\nShould it go on?\nGame "cancelled..."\nGame on\n'
    (poll,) = build_text(quoted).polls
    assert poll["nodes"][1]["text"] == 'Game "cancelled..."'


def test_a_numbered_name_in_a_box_keeps_its_number():
    text = "Fußball\n\nJa\nNein\nSteigt der Verein ab?\n1. FC Köln in der 2. Liga\nKlassenerhalt\n"
    (poll,) = build_text(text).polls
    assert poll["nodes"][1]["text"] == "1. FC Köln in der 2. Liga"


def test_direction_marks_of_right_to_left_text_are_not_part_of_its_words():
    text = "حديقة\n\nنعم\u200f\nلا\u200f\nهل تبقى مفتوحة؟\u200f\nمفتوحة\nمغلقة\u200e\n"
    result = build_text(text)
    assert result.languages == ["ar"]
    assert [node["text"] for node in result.polls[0]["nodes"]] == [
        "هل تبقى مفتوحة؟",
        "مفتوحة",
        "مغلقة",
    ]


def test_markdown_takes_its_heading_or_front_matter_title_and_a_clean_fallback():
    byline = "By Jane Doe\n\n# Park hours to change\n\n- Yes\n- No\n- **Open late?**\n- A\n- B\n"
    assert build_text(byline, "a.md").polls[0]["title"] == "Park hours to change"
    front = '---\ntitle: "Park hours"\nauthor: J. Doe\n---\n\nYes\nNo\nOpen late?\nA\nB\n'
    assert build_text(front, "b.md").polls[0]["title"] == "Park hours"
    # No headline at all: the first question, as readers would see it (no list marker).
    untitled = "- Yes\n- No\n- **Will it rain?**\n- Rain\n- Sun\n"
    assert build_text(untitled, "c.md").polls[0]["title"] == "Will it rain?"
