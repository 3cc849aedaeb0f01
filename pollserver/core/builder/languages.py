"""The flowchart rule's words in every language it reads: one row per language, easy to extend.

A block starts with a Yes/No label pair of one language (``Ja`` then ``Nein``; ``Ja`` then ``No``
is not a pair), and the pair sets the poll's language. Questions end in any language's question
mark (``?``, the full-width ``？`` of Japanese and Korean, the Arabic ``؟``; a Spanish ``¿…?``
ends in ``?``). Each language's page chrome (ad labels, sharing and comment links) is never
taken as a title or as a statement.

To add a language: a row in ``LANGUAGES`` (its code as the widget's ``words/`` files name it,
its Yes and No as scraped text writes them, its chrome), and its words in ``widget/words/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    yes: tuple[str, ...]  # every spelling of the label, as casefold() gives it
    no: tuple[str, ...]
    chrome: tuple[str, ...] = ()  # whole lines (casefolded) that are page chrome
    # Line beginnings that are page chrome: only phrases no poll's text would start with
    # ("Anzeige" alone is chrome, "Anzeige erstattet" may be an outcome).
    chrome_prefixes: tuple[str, ...] = ()


# In order of preference where two languages share a pair (Spanish and Italian "Si"/"No").
LANGUAGES: tuple[Language, ...] = (
    Language(
        "en",
        ("yes",),
        ("no",),
        ("skip to main content", "skip to content", "skip navigation", "skip to navigation",
         "menu", "main menu", "open menu", "close menu", "close", "search", "home",
         "comments", "comment", "show comments", "view comments", "leave a comment",
         "advertisement", "advertisements", "ad", "ads", "sponsored", "sponsored content",
         "share", "share this", "share this article", "share this story", "share article",
         "tweet", "email", "print", "copy link", "save", "listen", "listen to this article",
         "sign in", "sign out", "log in", "login", "log out", "logout", "register", "sign up",
         "subscribe", "subscribe now", "newsletter", "newsletters", "account", "my account",
         "related", "related articles", "related stories", "related content", "most read",
         "most popular", "trending", "read more", "more", "next", "previous", "back to top",
         "loading", "accept", "accept cookies", "cookie settings", "privacy policy",
         "terms of use", "terms of service", "contact us", "about us", "follow us",
         "facebook", "twitter", "x", "linkedin", "whatsapp", "instagram", "reddit"),
        ("related:", "related articles", "read more", "read next", "see also", "more from",
         "advertisement", "sponsored", "skip to", "jump to", "share on", "share this",
         "follow us", "sign in", "sign up", "subscribe", "photo:", "image:", "credit:",
         "listen to", "we use cookies", "this site uses cookies"),
    ),
    Language(
        "de",
        ("ja",),
        ("nein",),
        ("anzeige", "werbung", "kommentare", "teilen", "artikel teilen", "mehr zum thema",
         "zum inhalt springen", "abonnieren", "anmelden", "newsletter abonnieren", "drucken",
         "vorlesen", "merken", "weiterlesen", "lesen sie auch",
         "das könnte sie auch interessieren"),
        ("lesen sie auch", "mehr zum thema", "foto:", "bild:", "quelle:"),
    ),
    Language(
        "fr",
        ("oui",),
        ("non",),
        ("publicité", "partager", "commentaires", "s'abonner", "s’abonner", "se connecter",
         "lire aussi", "à lire aussi", "imprimer", "aller au contenu", "lire la suite"),
        ("lire aussi", "à lire aussi", "sur le même sujet", "photo :"),
    ),
    Language(
        "es",
        ("sí", "si"),
        ("no",),
        ("publicidad", "anuncio", "compartir", "comentarios", "suscríbete", "iniciar sesión",
         "lee también", "leer más", "imprimir", "ir al contenido"),
        ("lee también", "te puede interesar", "foto:"),
    ),
    Language(
        "it",
        ("sì", "si"),
        ("no",),
        ("pubblicità", "condividi", "commenti", "abbonati", "accedi", "leggi anche", "stampa"),
        ("leggi anche", "foto:"),
    ),
    Language(
        "pt",
        ("sim",),
        ("não", "nao"),
        ("publicidade", "anúncio", "compartilhar", "partilhar", "comentários", "assine",
         "entrar", "leia também", "leia mais", "imprimir"),
        ("leia também", "veja também", "foto:"),
    ),
    Language(
        "nl",
        ("ja",),
        ("nee",),
        ("advertentie", "delen", "reacties", "abonneren", "inloggen", "lees ook", "lees meer"),
        ("lees ook", "foto:"),
    ),
    Language(
        "pl",
        ("tak",),
        ("nie",),
        ("reklama", "udostępnij", "komentarze", "subskrybuj", "zaloguj się", "czytaj także",
         "czytaj więcej", "drukuj"),
        ("czytaj także", "czytaj też", "zobacz też", "fot."),
    ),
    Language(
        "ru",
        ("да",),
        ("нет",),
        ("реклама", "поделиться", "комментарии", "подписаться", "войти", "читайте также",
         "читать далее", "печать", "перейти к содержанию"),
        ("читайте также", "по теме:", "фото:"),
    ),
    Language(
        "uk",
        ("так",),
        ("ні",),
        ("реклама", "поділитися", "коментарі", "підписатися", "увійти", "читайте також",
         "читати далі", "друк"),
        ("читайте також", "по темі:", "фото:"),
    ),
    Language(
        "ko",
        ("예", "네"),
        ("아니요", "아니오"),
        ("광고", "공유", "공유하기", "댓글", "구독", "로그인", "관련 기사", "인쇄",
         "본문 바로가기"),
        ("관련 기사", "사진="),
    ),
    Language(
        "ja",
        ("はい",),
        ("いいえ",),
        ("広告", "シェア", "共有", "コメント", "購読", "ログイン", "関連記事", "印刷"),
        ("関連記事", "写真:", "写真："),
    ),
    Language(
        "ar",
        ("نعم",),
        ("لا",),
        ("إعلان", "اعلان", "شارك", "مشاركة", "تعليقات", "اشترك", "تسجيل الدخول", "اقرأ أيضا",
         "اقرأ أيضًا", "طباعة"),
        ("اقرأ أيضا", "اقرأ أيضًا"),
    ),
)  # fmt: skip

QUESTION_MARKS = ("?", "？", "؟")
# What ends a sentence in these languages (the full-width forms of Japanese and Korean too); an
# ellipsis is left out here: an outcome may trail off ("and then…").
SENTENCE_MARKS = (".", "!", ":", "。", "！", "：", "۔")

# A list item's marker and emphasis around a line, as articles and Markdown write a flowchart's
# boxes: "- **Yes**", "* Will it?", "__No__"; and "1. Yes" for a label.
_BULLET = re.compile(r"^[-*+•]\s+")
# A number marker only before a label: in a box, "1. FC Köln" is a name, not a list item.
_NUMBERED = re.compile(r"^\d{1,2}[.)]\s+")
_EMPHASIS = re.compile(r"^(\*\*|__|\*|_)(?P<text>\S(?:.*\S)?)\1$")
# After a label: "Yes →", "Yes:", "Yes ->".
_LABEL_END = re.compile(r"\s*(?:[:：→⟶➔➜▶›»]|->|=>)$")


def box_text(line: str) -> str:
    """A flowchart box's text without the list marker and emphasis around it."""
    text = _BULLET.sub("", line.strip())
    emphasised = _EMPHASIS.match(text)
    return (emphasised["text"] if emphasised else text).strip()


def label(line: str) -> str:
    """A line as a Yes/No label reads: casefolded, without list marker, emphasis, or a trailing
    colon or arrow (inside the emphasis or out)."""
    text = box_text(_LABEL_END.sub("", box_text(_NUMBERED.sub("", line.strip()))))
    return _LABEL_END.sub("", text).strip().casefold()


def pair_language(yes_line: str, no_line: str) -> Language | None:
    """The language whose Yes and No these two lines are, in that order; None if they are not a
    pair of one language."""
    yes, no = label(yes_line), label(no_line)
    for language in LANGUAGES:
        if yes in language.yes and no in language.no:
            return language
    return None


def is_chrome_line(line: str) -> bool:
    """Whether a whole line is one of the chrome lines of a language ("Advertisement",
    "Anzeige"): the surest kind, the only one that may end a flowchart block."""
    return " ".join(line.casefold().split()).strip(" .:|•·-–—>»«›‹…") in _CHROME_LINES


def is_language_chrome(normalized: str, bare: str) -> bool:
    """Whether a line (casefolded and white space collapsed; ``bare`` without the punctuation
    around it) is any language's page chrome."""
    return bare in _CHROME_LINES or normalized.startswith(_CHROME_PREFIXES)


_CHROME_LINES = frozenset(line for language in LANGUAGES for line in language.chrome)
_CHROME_PREFIXES = tuple(prefix for language in LANGUAGES for prefix in language.chrome_prefixes)
