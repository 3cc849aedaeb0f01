"""Polls in the language of their article, walked in a real browser (Debian's Chromium via
Playwright): a Russian poll and an Arabic one, built from articles in those languages, speak the
reader's language from the first question to the results (the Arabic one right to left), with
no English left over and nothing axe-core objects to."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from browser_support import (
    HostSite,
    PageProblems,
    assert_no_axe_violations,
    cli_app,
    fresh_database_env,
    host_page,
    run_cli,
    save_screenshot,
    settled,
    widget,
)
from support import PollserverProcess

pytestmark = [pytest.mark.browser, pytest.mark.server]

ARTICLES = {
    "ru": """Парк у реки: работать ли ему допоздна

Городской совет обсуждает часы работы парка.

Да
Нет
Должен ли парк работать допоздна?
Нужно ли освещение вдоль реки?
Парк работает допоздна, с фонарями
Парк работает допоздна, без фонарей

Решение примут в понедельник.
""",
    "ar": """حديقة النهر: هل تبقى مفتوحة ليلًا

يناقش المجلس البلدي ساعات عمل الحديقة.

نعم
لا
هل يجب أن تبقى الحديقة مفتوحة ليلًا؟
هل نحتاج إلى إنارة على ضفة النهر؟
تبقى الحديقة مفتوحة مع إنارة
تبقى الحديقة مفتوحة دون إنارة

يصدر القرار يوم الاثنين.
""",
}
# What the reader meets, in order: the two answers they give, the question counter, the words
# before their outcome, the self-selected note; and English that must not appear.
EXPECTED = {
    "ru": {
        "answers": ("Да", "Нет"),
        "step": "Вопрос 2 из 2",
        "lead": "Ваши ответы ведут к:",
        "outcome": "Парк работает допоздна, без фонарей",
        "note": "Участники выбрали себя сами, выборка не репрезентативна.",
        "direction": "ltr",
    },
    "ar": {
        "answers": ("نعم", "لا"),
        "step": "السؤال 2 من 2",
        "lead": "تقود إجاباتك إلى:",
        "outcome": "تبقى الحديقة مفتوحة دون إنارة",
        "note": "عيّنة اختارت نفسها، وليست تمثيلية.",
        "direction": "rtl",
    },
}
ENGLISH = re.compile(r"\b(Yes|No|Question|Reader poll|readers?|Your answers|Self-selected)\b")


@pytest.fixture(scope="module")
def service(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp("widget-languages")
    with fresh_database_env(request, directory) as env:
        env.update(RATELIMIT_ANSWERS="1000/minute")
        server = PollserverProcess(env, args=("--no-seed",)).start(directory / "server.log")
        try:
            polls = {}
            with cli_app(env) as app:
                for language, text in ARTICLES.items():
                    path = directory / f"park-{language}.txt"
                    path.write_text(text, encoding="utf-8")
                    run_cli(app, "import", str(path))
                for row in json.loads(run_cli(app, "polls", "list", "--json")):
                    run_cli(app, "polls", "open", "--", row["id"])
                    language = "ru" if "Парк" in row["title"] else "ar"
                    polls[language] = row["id"]
            yield server.base_url, polls
        finally:
            server.stop()
        assert "Traceback" not in server.log(), server.log()


@pytest.mark.parametrize("language", ["ru", "ar"])
def test_a_poll_speaks_its_articles_language_to_the_results(service, browser, language):
    base_url, polls = service
    poll_id = polls[language]
    expected = EXPECTED[language]
    site = HostSite()
    context = browser.new_context(viewport={"width": 700, "height": 900}, locale="en-US")
    page = context.new_page()
    problems = PageProblems(page)
    try:
        # No data-lang: the poll's own language, set from its article's Yes/No pair, decides.
        page.goto(
            site.add(
                f"/{language}.html",
                host_page(
                    f'<h1>Article</h1><div class="reader-poll" data-reader-poll="{poll_id}" '
                    f'style="min-height:15rem"></div>'
                    f'<script async src="{base_url}/widget.js"></script>'
                ),
            )
        )
        poll = widget(page, poll_id)
        box = poll.locator("section")
        expect(box).to_have_attribute("lang", language)
        expect(box).to_have_attribute("dir", expected["direction"])
        first, second = expected["answers"]
        poll.get_by_role("button", name=first, exact=True).click()
        expect(poll.get_by_text(expected["step"], exact=True)).to_be_visible()
        poll.get_by_role("button", name=second, exact=True).click()
        outcome = poll.locator(".o")
        expect(outcome).to_contain_text(expected["lead"])
        expect(outcome).to_contain_text(expected["outcome"])
        expect(poll.locator(".f")).to_contain_text(expected["note"])
        settled(poll)
        text = poll.evaluate("el => el.shadowRoot.textContent")
        assert not ENGLISH.search(text), text
        direction = box.evaluate("el => getComputedStyle(el).direction")
        assert direction == expected["direction"]
        # axe-core leaves Arabic script out of its contrast check (measured: the same poll
        # checked in English is); the colours are the ones the Russian run checks.
        assert_no_axe_violations(page, in_widget=language != "ar")
        save_screenshot(poll, f"widget-results-{language}.png")
        assert problems.errors == []
    finally:
        context.close()
        site.close()
