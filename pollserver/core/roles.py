"""Who may do what in moderation: token roles, the permissions they carry, and the actor.

Roles nest: an analyst reads, a moderator also changes polls and responses, an admin also
manages tokens and deletes archived polls.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TokenRole(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    ANALYST = "analyst"


class Permission(enum.StrEnum):
    READ = "read"  # polls, articles, results, exports, audit log
    MODERATE = "moderate"  # lifecycle, edits, articles, response moderation
    ADMINISTER = "administer"  # tokens, hard deletion of archived polls


ROLE_PERMISSIONS: dict[TokenRole, frozenset[Permission]] = {
    TokenRole.ANALYST: frozenset({Permission.READ}),
    TokenRole.MODERATOR: frozenset({Permission.READ, Permission.MODERATE}),
    TokenRole.ADMIN: frozenset(Permission),
}


def role_allows(role: TokenRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def roles_with(permission: Permission) -> list[TokenRole]:
    return [role for role in TokenRole if role_allows(role, permission)]


@dataclass(frozen=True)
class Actor:
    """Who is making an admin request: a token's name and role, detached from the session."""

    token_id: int
    name: str
    role: TokenRole

    def can(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)
