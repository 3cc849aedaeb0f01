"""Engine settings that make one SQLite file a dependable server database, and write transactions.

SQLite serves concurrent requests well in WAL mode, with one rule: a transaction that will write
must take the write lock when it begins (``BEGIN IMMEDIATE``). A deferred transaction that reads
first and writes later cannot wait for the lock — SQLite fails it at once with "database is
locked" — so every write path starts with :func:`begin_write_transaction`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

from pollserver.extensions import db

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "pollserver_write"
WRITER_LOCK_KEY = "pollserver_sqlite_writer_lock"

# One lock per SQLite engine: the writers of one process take turns before asking SQLite.
_writer_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


def engine_options_for(url: str) -> dict:
    if url.startswith("sqlite"):
        return {
            "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        }
    if url.startswith("postgresql"):
        # Pre-ping replaces connections a database restart killed; the timeouts turn an outage
        # into a quick 503 instead of a hung request.
        return {
            "pool_pre_ping": True,
            "pool_size": 10,
            "max_overflow": 10,
            "pool_timeout": 10,
            "connect_args": {"connect_timeout": 5},
        }
    return {}


def configure_sqlite_engine(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def set_sqlite_pragmas(dbapi_connection, connection_record):
        # Let SQLAlchemy's "begin" event below issue BEGIN itself instead of pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin_sqlite_transaction(connection):
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write_transaction() -> None:
    """Start the request's transaction as a writer (on SQLite: take the write lock now).

    Call before the first query of a unit of work that writes. A read-only transaction already
    open is ended first, so the write transaction sees fresh data and holds the lock throughout.
    """
    session = db.session()  # the request's Session behind the scoped proxy
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write_transaction() called after changes were made")
        session.rollback()
    if WRITER_LOCK_KEY not in session.info:
        writer_lock = take_writer_lock(session.get_bind())
        if writer_lock is not None:
            session.info[WRITER_LOCK_KEY] = writer_lock
    try:
        session.connection(execution_options={WRITE_OPTION: True})
    except BaseException:
        release_writer_lock(session)
        raise


@contextmanager
def one_statement_read() -> Iterator[Connection]:
    """A connection for a read that is one statement, hence its own consistent snapshot.

    On PostgreSQL it runs outside a transaction: psycopg would send BEGIN before it and
    ROLLBACK when the connection is returned, each a round trip of its own around the one that
    matters. The pool restores the connection's isolation level when it comes back. SQLite's
    BEGIN costs no round trip, and reads there begin as usual.
    """
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


@contextmanager
def write_transaction(engine: Engine | None = None) -> Iterator[Connection]:
    """A Core connection in a write transaction, committed when the block ends, rolled back if
    it raises. For the hottest write (an answer), which needs no ORM ``Session``; the same
    rules as :func:`begin_write_transaction`: on SQLite, BEGIN IMMEDIATE behind the process's
    writer lock, released only after COMMIT or ROLLBACK. On ``engine`` when one is given (no
    app context needed), else on the app's."""
    engine = engine or db.engine
    writer_lock = take_writer_lock(engine)
    try:
        with engine.connect() as connection:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection
    finally:
        if writer_lock is not None:
            writer_lock.release()


def take_writer_lock(engine: Engine) -> threading.Lock | None:
    """Queue for this process's SQLite writer lock; the lock once held, or None (no lock here).

    Threads of this process queue on the lock, handing it over at once; without it they would
    all wait inside SQLite's busy handler, which polls with sleeps of up to 100 ms. The timeout
    keeps a lost lock from ever stopping writes: SQLite still serialises them.
    """
    writer_lock = _writer_locks.get(engine)
    if writer_lock is not None and writer_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        return writer_lock
    return None


def release_writer_lock(session: Session) -> None:
    writer_lock = session.info.pop(WRITER_LOCK_KEY, None)
    if writer_lock is not None:
        writer_lock.release()


@event.listens_for(Session, "after_transaction_end")
def release_writer_lock_when_done(session: Session, transaction) -> None:
    # After the outermost transaction's COMMIT or ROLLBACK has reached the database.
    if transaction.parent is None:
        release_writer_lock(session)


def in_write_transaction() -> bool:
    """True inside a unit of work begun with :func:`begin_write_transaction`."""
    session = db.session()
    if not session.in_transaction():
        return False
    return bool(session.connection().get_execution_options().get(WRITE_OPTION))


def check_database() -> None:
    """Raise if the database cannot answer a trivial query."""
    db.session.execute(text("SELECT 1"))
    db.session.rollback()


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            configure_sqlite_engine(engine)
            _writer_locks[engine] = threading.Lock()
