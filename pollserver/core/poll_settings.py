"""A poll's settings: what each means, its default, and who may see the results when.

Settings are stored as a JSON object on the poll; every reader of them goes through
:func:`settings_of`, so a default is written here and nowhere else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pollserver.core.lifecycle import PollStatus


class ResultsVisibility(enum.StrEnum):
    PUBLIC = "public"  # anyone, at any time
    AFTER_ANSWER = "after_answer"  # a reader who has reached the end of their path
    AFTER_CLOSE = "after_close"  # anyone, once the poll is closed
    PRIVATE = "private"  # the newsroom only


RESULTS_VISIBILITIES = tuple(str(visibility) for visibility in ResultsVisibility)

DEFAULT_SETTINGS: dict[str, Any] = {
    # Readers see results once they have answered: showing them first would sway the answers.
    "results_visibility": str(ResultsVisibility.AFTER_ANSWER),
    "allow_answer_changes": False,
    # Empty means any origin may embed the poll and call its public API.
    "allowed_origins": [],
    "language": "en",
}
SETTING_KEYS = tuple(DEFAULT_SETTINGS)


@dataclass(frozen=True)
class PollSettings:
    results_visibility: str
    allow_answer_changes: bool
    allowed_origins: list[str]
    language: str

    def for_readers(self) -> dict[str, Any]:
        """What the widget is told (allowed origins are the server's business)."""
        return {
            "results_visibility": self.results_visibility,
            "allow_answer_changes": self.allow_answer_changes,
            "language": self.language,
        }

    def for_editors(self) -> dict[str, Any]:
        return {
            "results_visibility": self.results_visibility,
            "allow_answer_changes": self.allow_answer_changes,
            "allowed_origins": list(self.allowed_origins),
            "language": self.language,
        }


def settings_of(stored: Mapping[str, Any]) -> PollSettings:
    """A poll's settings with the defaults filled in."""
    return PollSettings(
        results_visibility=stored.get("results_visibility", DEFAULT_SETTINGS["results_visibility"]),
        allow_answer_changes=bool(stored.get("allow_answer_changes")),
        allowed_origins=list(stored.get("allowed_origins") or []),
        language=stored.get("language", DEFAULT_SETTINGS["language"]),
    )


def results_refusal(
    stored: Mapping[str, Any], status: PollStatus, *, reader_finished: bool
) -> str | None:
    """Why results are hidden from a reader (``reader_finished``: they reached the end of their
    path), given the poll's stored settings and effective status; None when they may see them."""
    visibility = stored.get("results_visibility", DEFAULT_SETTINGS["results_visibility"])
    if visibility == ResultsVisibility.PUBLIC:
        return None
    if visibility == ResultsVisibility.AFTER_ANSWER:
        if reader_finished:
            return None
        return "Results are shown to readers once they reach the end of their path."
    if visibility == ResultsVisibility.AFTER_CLOSE:
        if status is PollStatus.CLOSED:
            return None
        return "Results become visible when the poll closes."
    return "Results of this poll are for the newsroom only."
