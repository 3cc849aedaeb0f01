"""SQLite as a server database: concurrent read-then-write never meets "database is locked"."""

from __future__ import annotations

import multiprocessing
import os
import threading

from sqlalchemy import select

THREADS_PER_PROCESS = 8
PROCESSES = 2
WRITES_PER_THREAD = 25


def hammer_counter(database_url: str, instance_path: str, errors_out) -> None:
    """In one process: many threads each read the counter row and write it back incremented."""
    os.environ["POLLSERVER_INSTANCE_PATH"] = instance_path
    from pollserver import create_app
    from pollserver.database import begin_write_transaction
    from pollserver.extensions import db
    from pollserver.models import ResultCounter

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test"})
    errors: list[str] = []

    def writer() -> None:
        for _ in range(WRITES_PER_THREAD):
            with app.app_context():
                try:
                    begin_write_transaction()
                    # Read, then write: the pattern that fails on a deferred SQLite transaction.
                    counter = db.session.scalars(select(ResultCounter)).one()
                    counter.value = counter.value + 1
                    db.session.commit()
                except Exception as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    db.session.rollback()

    threads = [threading.Thread(target=writer) for _ in range(THREADS_PER_PROCESS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors_out.put(errors)


def test_concurrent_writers_in_two_processes_lose_nothing_and_never_lock(tmp_path, instance_path):
    from pollserver import create_app
    from pollserver.extensions import db
    from pollserver.models import Article, Poll, ResultCounter

    url = f"sqlite:///{tmp_path / 'concurrent.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.create_all()
        article = Article(source="a", slug="a", body="", format="text", content_hash="0" * 64)
        poll = Poll(public_id="p1", title="t", root_key="q1", article=article)
        db.session.add_all([article, poll])
        db.session.flush()
        db.session.add(ResultCounter(poll_id=poll.id, counter="started", shard=0, value=0))
        db.session.commit()
        db.engine.dispose()

    context = multiprocessing.get_context("spawn")
    errors_out = context.Queue()
    processes = [
        context.Process(target=hammer_counter, args=(url, str(instance_path), errors_out))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    reported = [errors_out.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    assert reported == [[]] * PROCESSES
    with app.app_context():
        total = db.session.scalars(select(ResultCounter.value)).one()
        db.engine.dispose()
    assert total == PROCESSES * THREADS_PER_PROCESS * WRITES_PER_THREAD
