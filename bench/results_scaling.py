"""Does reading results cost the same at a thousand answers and at a million?

For each backend (SQLite file, PostgreSQL), fills the seeds/001 poll with N answers by bulk
insert (not HTTP) — respondents, answers and the running tallies that the answer path would have
kept — then times ``GET /api/v1/polls/{id}/results`` through the app, with the per-process results
cache emptied before every request (so every request sums the tallies) and, for comparison, warm.

    python bench/results_scaling.py [--sizes 1000 1000000] [--requests 300]
                                    [--backends sqlite postgresql]

Prints a table; the ratio column is the median at each size over the median at the smallest size,
measured in the same run. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from pollserver import create_app  # noqa: E402
from pollserver.core import builder, counters  # noqa: E402
from pollserver.core.lifecycle import PollStatus  # noqa: E402
from pollserver.core.tree import PollTree  # noqa: E402
from pollserver.extensions import db  # noqa: E402
from pollserver.results_cache import forget_results  # noqa: E402
from pollserver.services import tallies  # noqa: E402
from pollserver.services.articles import import_article  # noqa: E402
from pollserver.services.polls import change_status, definition_of, find_poll  # noqa: E402

SEED = REPO_ROOT / "seeds" / "001_3297866220564658.txt"
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# How readers walk the seed poll: (answers, share of readers).
WALK_MIX = [
    (["yes", "yes"], 0.50),
    (["yes", "no"], 0.30),
    (["no"], 0.15),
    (["yes"], 0.05),  # stopped at the second question
]
HOURS_SPREAD = 48
CHUNK = 50_000


def readers_for(answers: int) -> int:
    per_reader = sum(len(steps) * share for steps, share in WALK_MIX)
    return max(1, round(answers / per_reader))


def reader_walks(count: int):
    """Deterministic walks in the mix's proportions, one per reader."""
    for index in range(count):
        position = (index * 0.6180339887) % 1.0  # low-discrepancy spread over the mix
        cumulative = 0.0
        for steps, share in WALK_MIX:
            cumulative += share
            if position < cumulative:
                yield steps
                break
        else:
            yield WALK_MIX[-1][0]


def bulk_insert(engine, table: str, columns: list[str], rows) -> None:
    """COPY on PostgreSQL, executemany on SQLite, in chunks so memory stays flat."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
            chunk = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= CHUNK:
                    cursor.executemany(statement, chunk)
                    chunk.clear()
            if chunk:
                cursor.executemany(statement, chunk)
        connection.commit()
    finally:
        connection.close()


def fill_poll(app, poll_id: str, answers: int) -> int:
    """Insert readers, their answers and the tallies the answer path keeps; return answers made."""
    with app.app_context():
        poll = find_poll(db.session, poll_id)
        tree = PollTree.from_definition(definition_of(poll))
        internal_id = poll.id
        engine = db.engine
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        readers = readers_for(answers)
        is_sqlite = engine.dialect.name == "sqlite"

        def moment(index: int) -> dt.datetime:
            value = start + dt.timedelta(seconds=(index * 7919) % (HOURS_SPREAD * 3600))
            return value.replace(tzinfo=None) if is_sqlite else value

        counts: Counter[str] = Counter()
        walks = {tuple(steps): tree.walk_answers(steps) for steps, _ in WALK_MIX}
        readers_per_walk: Counter[tuple[str, ...]] = Counter()
        respondent_rows, answer_rows = [], []
        for index, steps in enumerate(reader_walks(readers)):
            walk = walks[tuple(steps)]
            when = moment(index)
            readers_per_walk[tuple(steps)] += 1
            counts[counters.hour(when.replace(tzinfo=dt.UTC))] += len(steps)
            respondent_rows.append(
                (
                    index + 1,
                    internal_id,
                    f"{index:064x}",
                    f"{index % 5000:064x}",
                    when,
                    when if walk.finished else None,
                    walk.current,
                    False,
                )
            )
            for key, value in walk.path:
                answer_rows.append((index + 1, internal_id, key, value, when))
        # What the answer path adds per reader, summed per kind of walk (hours counted above).
        for steps, number in readers_per_walk.items():
            for counter, value in counters.walk_contributions(walks[steps]).items():
                counts[counter] += value * number
        bulk_insert(
            engine,
            "respondents",
            [
                "id",
                "poll_id",
                "token_hash",
                "address_hash",
                "started_at",
                "finished_at",
                "current_node_key",
                "hidden",
            ],
            respondent_rows,
        )
        bulk_insert(
            engine,
            "answers",
            ["respondent_id", "poll_id", "node_key", "value", "answered_at"],
            answer_rows,
        )
        # The tallies, spread over the shards as concurrent writers would leave them.
        counter_rows = []
        for counter, total in counts.items():
            base, remainder = divmod(total, tallies.SHARDS)
            for shard in range(tallies.SHARDS):
                counter_rows.append(
                    (internal_id, counter, shard, base + (1 if shard < remainder else 0))
                )
        bulk_insert(
            engine, "result_counters", ["poll_id", "counter", "shard", "value"], counter_rows
        )
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        return len(answer_rows)


def time_results(app, poll_id: str, requests: int, *, cold: bool) -> list[float]:
    client = app.test_client()
    url = f"/api/v1/polls/{poll_id}/results"
    timings = []
    with app.app_context():
        poll = find_poll(db.session, poll_id)
    for _ in range(requests):
        if cold:
            forget_results(poll)
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    return timings


def new_database(backend: str, workdir: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.sqlite3"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pollserver_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


class FilledPoll:
    """One database holding one poll filled with ``size`` answers, ready to be timed."""

    def __init__(self, backend: str, size: int, workdir: Path):
        self.backend = backend
        self.url, self._drop = new_database(backend, workdir)
        os.environ["POLLSERVER_INSTANCE_PATH"] = str(workdir / "instance")
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": self.url, "RATELIMIT_ENABLED": False})
        with self.app.app_context():
            db.create_all()
            poll = import_article(db.session, builder.read_article(SEED)).polls[0]
            poll.settings = {**poll.settings, "results_visibility": "public"}
            change_status(poll, PollStatus.OPEN)
            db.session.commit()
            self.poll_id = poll.public_id
        began = time.perf_counter()
        self.answers = fill_poll(self.app, self.poll_id, size)
        self.fill_seconds = time.perf_counter() - began
        with self.app.app_context():
            if backend == "sqlite":
                # A long-running database has its WAL checkpointed; a fresh bulk load has not.
                with db.engine.begin() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            # The tallies must agree with the rows they summarise, or the timing means nothing.
            rows_say = db.session.execute(
                text(
                    "SELECT count(*) FROM answers a JOIN polls p ON p.id = a.poll_id "
                    "WHERE p.public_id = :poll AND a.node_key = 'q1' AND a.value = 'yes'"
                ),
                {"poll": self.poll_id},
            ).scalar_one()
        client = self.app.test_client()
        document = client.get(f"/api/v1/polls/{self.poll_id}/results").get_json()
        assert document["questions"]["q1"]["yes"] == rows_say, (document, rows_say)
        self.respondents = client.get(f"/api/v1/polls/{self.poll_id}/results").get_json()[
            "respondents"
        ]
        self.cold: list[float] = []
        self.warm: list[float] = []

    def close(self) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        self._drop()


def measure(backend: str, sizes: list[int], requests: int, workdir: Path) -> list[dict]:
    """Time every size in alternating rounds, so machine noise falls on all sizes alike."""
    polls = [FilledPoll(backend, size, workdir) for size in sorted(sizes)]
    try:
        for poll in polls:
            time_results(poll.app, poll.poll_id, 20, cold=True)  # warm connections and code
        rounds = 10
        for _ in range(rounds):
            for poll in polls:
                poll.cold += time_results(poll.app, poll.poll_id, requests // rounds, cold=True)
                poll.warm += time_results(poll.app, poll.poll_id, requests // rounds, cold=False)
        return [
            {
                "backend": backend,
                "answers": poll.answers,
                "respondents": poll.respondents,
                "fill_seconds": poll.fill_seconds,
                "cold_median": statistics.median(poll.cold),
                "cold_p90": statistics.quantiles(poll.cold, n=10)[-1],
                "warm_median": statistics.median(poll.warm),
            }
            for poll in polls
        ]
    finally:
        for poll in polls:
            poll.close()


def machine_description() -> str:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {model}"


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    options = parser.parse_args()

    print(f"results read cost vs poll size — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine_description()}")
    print(f"commit {git_commit()}; Python {platform.python_version()}")
    print(
        f"{options.requests} requests per figure, sizes timed in alternating rounds; "
        "cold = results cache emptied before each request"
    )
    print()
    print(
        "| backend | answers | respondents | fill s | cold median ms | cold p90 ms "
        "| warm median ms | cold median ÷ smallest |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="pollserver-bench-") as workdir:
        for backend in options.backends:
            rows = measure(backend, options.sizes, options.requests, Path(workdir))
            baseline = rows[0]["cold_median"]
            for row in rows:
                print(
                    f"| {row['backend']} | {row['answers']:,} | {row['respondents']:,} "
                    f"| {row['fill_seconds']:.1f} | {row['cold_median']:.2f} "
                    f"| {row['cold_p90']:.2f} | {row['warm_median']:.2f} "
                    f"| {row['cold_median'] / baseline:.2f}× |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
