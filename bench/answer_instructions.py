"""How many CPU instructions one new reader's answer costs pollserver, counted by callgrind.

Timers on these shared machines vary by tens of percent from one minute to the next;
instruction counts do not (the same program and input give the same count, whatever else the
machine is doing). This runs the answer path in-process (Flask's test client, SQLite file,
limits off) under ``valgrind --tool=callgrind`` twice, with a few and with many new readers
answering the seeds/001 poll's first question, and divides the difference by the difference
in answers: start-up and warm-up cancel out.

    python bench/answer_instructions.py [--few 100] [--many 400] [--request-key]

``--request-key``: each first answer carries a request key of its own, as the widget sends it
(the server derives the reader's token from it and looks for a reader it already started).

To compare two commits, run it in a checkout of each. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "001_3297866220564658.txt"


def answer_new_readers(count: int, with_request_key: bool) -> None:
    """The measured program: a fresh app and database, then ``count`` new readers' answers."""
    instance = tempfile.mkdtemp()
    os.environ["POLLSERVER_INSTANCE_PATH"] = instance
    from flask_migrate import upgrade

    from pollserver import create_app
    from pollserver.core import builder
    from pollserver.core.lifecycle import PollStatus
    from pollserver.extensions import db
    from pollserver.services.articles import import_article
    from pollserver.services.polls import change_status

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/bench.sqlite3",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        upgrade()
        poll = import_article(db.session, builder.read_article(SEED), "bench").polls[0]
        change_status(poll, PollStatus.OPEN)
        db.session.commit()
        poll_id = poll.public_id
    client = app.test_client()
    for number in range(count):
        body = {"respondent": None, "node": "q1", "answer": "yes"}
        if with_request_key:
            body["request_key"] = f"bench-reader-{number:010d}"
        reply = client.post(
            f"/api/v1/polls/{poll_id}/answers",
            json=body,
            environ_base={"REMOTE_ADDR": f"10.0.{number // 250}.{number % 250 + 1}"},
        )
        assert reply.status_code == 201, reply.get_data(as_text=True)


def instructions(count: int, with_request_key: bool) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={scratch}/callgrind.out",
                sys.executable,
                __file__,
                "--run",
                str(count),
                *(["--request-key"] if with_request_key else []),
            ],
            capture_output=True,
            text=True,
            check=True,
            # Python randomises string hashing per process: fixed here, so counts repeat.
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=400)
    parser.add_argument("--request-key", action="store_true", help="first answers carry a key")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run is not None:
        answer_new_readers(args.run, args.request_key)
        return
    few = instructions(args.few, args.request_key)
    many = instructions(args.many, args.request_key)
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    keys = " with request keys" if args.request_key else ""
    print(
        f"commit {commit}{keys}: {few:,} instructions for {args.few} answers, "
        f"{many:,} for {args.many}"
    )
    print(f"per new reader's answer: {(many - few) / (args.many - args.few):,.0f} instructions")


if __name__ == "__main__":
    main()
