"""The whole domain as typed SQLAlchemy 2.0 models.

Node references (``yes_key``/``no_key``/``next_key``) are node keys within the same poll, not
foreign keys: a poll's tree is written and validated as one definition, and keys are what the
public API and the widget speak.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from pollserver.core.definition import MAX_TEXT_LENGTH, NodeType
from pollserver.core.lifecycle import PollStatus
from pollserver.core.roles import TokenRole
from pollserver.core.timestamps import utcnow
from pollserver.core.tree import AnswerValue

MAX_TEXT = MAX_TEXT_LENGTH
MAX_KEY = 32
MAX_ARTICLE_ID = 2**31 - 1  # article ids are 32-bit integers on PostgreSQL

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for big tables.
BigIntegerKey = BigInteger().with_variant(Integer(), "sqlite")


# Named constraints so Alembic can drop and alter them on every backend
# (SQLite's batch mode needs names).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Plain SQLAlchemy: the services use the models without Flask (Flask-SQLAlchemy binds this
    metadata to the app's engine in ``pollserver.extensions``)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite stores it naive, we give it back aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def str_enum(enum_class: type[enum.Enum], name: str) -> Enum:
    # VARCHAR plus a CHECK constraint: portable, and adding a value is a plain migration.
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Where the article came from (a path, or a name given through the API); imports key on it.
    source: Mapped[str] = mapped_column(String(500), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str | None] = mapped_column(String(MAX_TEXT))
    body: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    # The same text imported again, from wherever, is the same article.
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # True when the builder found no flowchart: an editor must attach a hand-written definition.
    needs_poll: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    polls: Mapped[list[Poll]] = relationship(back_populates="article")


class Poll(Base):
    __tablename__ = "polls"
    __table_args__ = (
        Index("ix_polls_article_block", "article_id", "block_index"),
        # One row per version; the versions of a poll share its public id.
        UniqueConstraint("public_id", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Short, random, URL-safe and stable: it goes into embed snippets, and every version of the
    # poll keeps it, so embeds follow the poll to its newest published version.
    public_id: Mapped[str] = mapped_column(String(16))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    # Which flowchart block of the article this poll was built from (0 for the first).
    block_index: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(MAX_TEXT))
    status: Mapped[PollStatus] = mapped_column(
        str_enum(PollStatus, "poll_status"), default=PollStatus.DRAFT, index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The version a new draft was made from points back to it.
    previous_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("polls.id", ondelete="SET NULL")
    )
    root_key: Mapped[str] = mapped_column(String(MAX_KEY))
    # What the builder made of the article for this poll, before any editor's change: the base
    # of the merge when the article changes (see core.tree_merge). None for hand-made polls.
    built_definition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A scheduled opening (of a draft) and closing count from their moment on: see core.lifecycle.
    open_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    close_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # When a newer version replaced this open one: its readers may still finish it.
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    article: Mapped[Article | None] = relationship(back_populates="polls")
    nodes: Mapped[list[Node]] = relationship(
        back_populates="poll", order_by="Node.position", cascade="all, delete-orphan"
    )


class Node(Base):
    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("poll_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(MAX_KEY))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[NodeType] = mapped_column(str_enum(NodeType, "node_type"))
    text: Mapped[str] = mapped_column(String(MAX_TEXT))
    yes_key: Mapped[str | None] = mapped_column(String(MAX_KEY))
    no_key: Mapped[str | None] = mapped_column(String(MAX_KEY))
    next_key: Mapped[str | None] = mapped_column(String(MAX_KEY))

    poll: Mapped[Poll] = relationship(back_populates="nodes")


class Respondent(Base):
    """One reader's walk through one poll, known only by a random token the server hashed."""

    __tablename__ = "respondents"
    __table_args__ = (
        # The per-address cap counts a day's new respondents for one poll and one address hash.
        Index("ix_respondents_poll_address", "poll_id", "address_hash"),
        Index("ix_respondents_poll_started", "poll_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # HMAC of the client address under that day's salt; unlinkable once the salt is deleted.
    address_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    current_node_key: Mapped[str | None] = mapped_column(String(MAX_KEY))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="respondent", cascade="all, delete-orphan", order_by="Answer.id"
    )


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("respondent_id", "node_key"),
        Index("ix_answers_poll_node", "poll_id", "node_key"),
        Index("ix_answers_poll_answered", "poll_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True)
    respondent_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("respondents.id", ondelete="CASCADE"),
    )
    # Denormalised from the respondent so per-poll aggregates need no join.
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    node_key: Mapped[str] = mapped_column(String(MAX_KEY))
    value: Mapped[AnswerValue] = mapped_column(str_enum(AnswerValue, "answer_value"))
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    respondent: Mapped[Respondent] = relationship(back_populates="answers")


class ResultCounter(Base):
    """Running totals kept in the answer's transaction, split into shards so writers rarely collide.

    ``counter`` names what is counted ("started", "node:q1:yes", "path:yes.no", "hour:…");
    reading results sums the shards, which costs the same at a thousand answers or a million.
    """

    __tablename__ = "result_counters"

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    counter: Mapped[str] = mapped_column(String(100), primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[TokenRole] = mapped_column(str_enum(TokenRole, "token_role"))
    # SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so an operator can tell tokens apart in a list.
    token_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DeskSession(Base):
    """A signed-in session of the desk, so that signing out ends it for good: the cookie holds
    the session's secret, this row its SHA-256 (a copied cookie is worthless once the row is
    gone; a database dump holds no live session)."""

    __tablename__ = "desk_sessions"

    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuditEvent(Base):
    """Append-only record of an admin action.

    The poll is named by its public id, not a foreign key, so the record outlives a hard deletion.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_poll_created", "poll_public_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64), index=True)
    poll_public_id: Mapped[str | None] = mapped_column(String(16))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
