"""A poll's settings: what each means, its default, and who may see the results when.

Settings are stored as a JSON object on the poll; every reader of them goes through
:func:`settings_of`, so a default is written here and nowhere else.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from marshmallow import validate

from pollserver.core.lifecycle import PollStatus
from pollserver.core.timestamps import UtcDateTime

# An origin as a browser sends it: scheme, host (DNS labels, an IPv4 address or a bracketed IPv6
# one) and an optional port; a trailing "/" is forgiven. Matched whole (fullmatch: "$" would
# accept a final newline, which later broke every header the origin went into).
ORIGIN_SYNTAX = re.compile(
    r"(?P<scheme>https?)://"
    r"(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?|\[(?P<ipv6>[0-9A-Fa-f:.]+)\])"
    r"(?::(?P<port>[0-9]{1,5}))?/?"
)
ORIGIN_ERROR = "an origin is scheme://host[:port], e.g. https://example.com"


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
        allowed_origins=readable_origins(stored.get("allowed_origins") or []),
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


# What a poll whose stored origins all fail to parse allows: nothing (it matches no page).
NO_ORIGIN = "about:invalid"


def readable_origins(stored: list[Any]) -> list[str]:
    """The stored origins as origins. A value stored before origins were checked this strictly
    (one with a final newline) is read without its surrounding space; one that still does not
    parse is left out, and if none is left the poll stays closed to every other page rather
    than open to all."""
    origins = [parse_origin(str(value).strip()) for value in stored]
    kept = [origin for origin in origins if origin is not None]
    if stored and not kept:
        return [NO_ORIGIN]
    return kept


def normalise_origin(origin: str) -> str:
    return origin.rstrip("/").lower()


def parse_origin(text: str) -> str | None:
    """``text`` as an origin (scheme, host, optional port; normalised), or None if it is not one."""
    matched = ORIGIN_SYNTAX.fullmatch(text)
    if matched is None or len(matched["host"]) > 253:
        return None
    if matched["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(matched["ipv6"])
        except ValueError:
            return None
    if matched["port"] is not None and not 0 < int(matched["port"]) <= 65535:
        return None
    return normalise_origin(text)


def validate_origin(text: str) -> None:
    if parse_origin(text) is None:
        raise ma.ValidationError(ORIGIN_ERROR)


class JsonBoolean(ma.fields.Boolean):
    """JSON's true and false only: marshmallow's Boolean also takes 0, 1, "yes" and "on"."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class SettingsChangeSchema(ma.Schema):
    """A change to a poll's settings, as the admin API and the desk's forms take it."""

    class Meta:
        unknown = ma.RAISE

    results_visibility = ma.fields.String(validate=validate.OneOf(RESULTS_VISIBILITIES))
    allow_answer_changes = JsonBoolean()
    allowed_origins = ma.fields.List(
        ma.fields.String(validate=validate_origin),
        validate=validate.Length(max=50),
        metadata={"description": "Origins allowed to embed the poll; empty means any"},
    )
    language = ma.fields.String(validate=validate.Regexp(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"))
    open_at = UtcDateTime(
        allow_none=True,
        metadata={"description": "When a draft opens by itself (in the future); null: when opened"},
    )
    close_at = UtcDateTime(
        allow_none=True,
        metadata={"description": "When the poll closes by itself (in the future); null: never"},
    )

    @ma.validates_schema
    def require_a_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("name at least one setting to change")

    @ma.post_load
    def normalise(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "allowed_origins" in data:
            data["allowed_origins"] = sorted({normalise_origin(o) for o in data["allowed_origins"]})
        return data
