"""Load benchmark: pollserver beside the stacks it is compared with, on loopback, driven by wrk.

    python bench/load.py [--duration 5] [--rounds 3] [--connections 32]
                         [--backends sqlite postgresql] [--compare jawanndenn reference servers]

Every server is started by the harness on a free port of 127.0.0.1 and stopped by its pid at the
end, also after an error or Ctrl-C. They all run at once and are measured in the same
interleaved rounds (each figure once per round, in order; then again), so that the machine's
drift from minute to minute touches them alike. The table gives each figure's median round.

- pollserver, per backend, as ``pollserver serve`` runs it: SQLite with in-memory limits (one
  worker × 8 threads, the embedded default) and PostgreSQL + Redis (two workers, one per core),
  on a fresh database: ``GET /livez`` (the app's own ceiling), ``GET /api/v1/polls/{id}``,
  ``GET /widget.js``, ``GET …/results`` with the results cache warm, ``POST …/answers`` from
  distinct new readers (rate limiting on, each from its own address through a trusted proxy
  header, ``TRUSTED_PROXY_COUNT=1``), and ``GET …/results`` just invalidated (a second server
  with ``RESULTS_CACHE_SECONDS=0``, so every request sums the tallies).
- jawanndenn (``--compare jawanndenn``), a Django poll app from the package index, installed into
  a virtualenv of its own under ``--cache`` (bench/.cache), on SQLite, one yes/no poll made
  through its own form; its vote endpoint is posted as its page's form does (CSRF token and
  cookie, Origin), each vote a new voter from its own address (X-Forwarded-For, which it reads
  for its per-address limit). Two ways of serving it: as its own launcher does (gunicorn, one
  sync worker) and as pollserver is (one gthread worker × 8 threads; with IMMEDIATE SQLite
  transactions, without which most threaded votes fail with "database is locked"). The votes
  it stored are counted after the run against the successful responses wrk saw.
- The fixed stack reference (``--compare reference``): bench/reference_app.py, a plain Flask
  "hello" JSON on gunicorn, 1 worker × 8 threads.
- pollserver's app on the servers its own was chosen against (``--compare servers``; gunicorn
  gthread and Granian's WSGI interface, 1 worker × 8 threads each, ``pollserver.app:create_app``
  on the SQLite database above): ``/livez``, the poll document and answers.

It prints requests/s, p50 and p99 latency, non-2xx and socket errors, each figure's ratio to
jawanndenn's votes/s (the faster of its two setups) and to the reference's req/s, the targets of
issue 16 marked met or MISSED (answers ≥ 5× jawanndenn on SQLite, ≥ 4× on PostgreSQL + Redis;
poll document, widget.js and cached results ≥ 1.5× the reference; p99 ≤ 50 ms; pollserver CPU
per answer ≤ 0.8 ms on SQLite, ≤ 1.0 ms on PostgreSQL + Redis with PostgreSQL's share ≤ 0.4 ms)
and the CPU time one request cost each part of the stack, read from ``/proc`` around each wrk
run: the measured app's processes, PostgreSQL's, Redis', and wrk's own. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(BENCH))

from results_scaling import git_commit, machine_description  # noqa: E402
from stacks import AppOnServer, Jawanndenn, Reference  # noqa: E402

from support import PollserverProcess  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")

# Issue 16's targets.
ANSWER_TARGETS = {"sqlite": 5.0, "postgresql": 4.0}  # × jawanndenn's votes/s
READ_TARGET = 1.5  # × the reference's req/s
P99_TARGET_MS = 50.0
ANSWER_CPU_TARGETS_MS = {"sqlite": 0.8, "postgresql": 1.0}  # pollserver's processes
POSTGRES_CPU_TARGET_MS = 0.4
BACKEND_LABELS = {
    "sqlite": "pollserver, SQLite, 1×8",
    "postgresql": "pollserver, PostgreSQL + Redis, 2×8",
}

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# Parts of the stack by process name; the measured app's own processes (pollserver's, or a
# comparison stack's) are found from its server's pid.
PARTS_BY_PROCESS_NAME = {"postgres": "PostgreSQL", "redis-server": "Redis"}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND  # utime, stime


def descendants(pid: int) -> list[int]:
    children_file = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        children = [int(child) for child in children_file.read_text().split()]
    except OSError:
        return []
    return children + [grandchild for child in children for grandchild in descendants(child)]


def cpu_seconds_by_part(server_pid: int) -> dict[tuple[str, int], float]:
    """CPU time so far of every process of each part, keyed (part, pid). A process that starts
    between two readings counts in full; one that ends between them loses what it used since
    the first. wrk, a child of this process that has ended by the second reading, is read from
    this process's rusage of its children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    readings = {
        ("app", pid): process_cpu_seconds(pid) for pid in [server_pid, *descendants(server_pid)]
    }
    readings[("wrk", 0)] = children.ru_utime + children.ru_stime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name in PARTS_BY_PROCESS_NAME:
            readings[(PARTS_BY_PROCESS_NAME[name], int(entry.name))] = process_cpu_seconds(
                int(entry.name)
            )
    return readings


def cpu_ms_per_request(
    before: dict[tuple[str, int], float], after: dict[tuple[str, int], float], requests: int
) -> dict[str, float]:
    used: dict[str, float] = {"app": 0.0, "PostgreSQL": 0.0, "Redis": 0.0, "wrk": 0.0}
    for (part, pid), seconds in after.items():
        used[part] += seconds - before.get((part, pid), 0.0)  # new since: all of it counts
    return {part: 1000 * seconds / max(requests, 1) for part, seconds in used.items()}


def to_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(
    url: str,
    script: str,
    duration: int,
    connections: int,
    round_number: int = 0,
    server_pid: int | None = None,
    script_args: tuple[str, ...] = (),
) -> dict:
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "wrk" / script),
        url,
        "--",
        str(round_number),  # the scripts draw each round's addresses from their own range
        *script_args,
    ]
    cpu_before = cpu_seconds_by_part(server_pid) if server_pid else {}
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_after = cpu_seconds_by_part(server_pid) if server_pid else {}
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    latency = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": to_ms(latency["50"]),
        "p99": to_ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in socket.groups()) if socket else 0,
        "cpu_ms": cpu_ms_per_request(cpu_before, cpu_after, requests),
        "raw": output,
    }


def make_poll_results_public(database_url: str) -> str:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        poll_id, settings = connection.execute(
            text("SELECT public_id, settings FROM polls WHERE status = 'open'")
        ).one()
        settings = json.loads(settings) if isinstance(settings, str) else dict(settings)
        settings["results_visibility"] = "public"
        connection.execute(
            text("UPDATE polls SET settings = :settings WHERE public_id = :poll"),
            {"settings": json.dumps(settings), "poll": poll_id},
        )
    engine.dispose()
    return poll_id


class Backend:
    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.workdir = workdir
        self.database_url: str | None = None
        self._admin = None

    def env(self) -> dict[str, str]:
        env = {
            "POLLSERVER_INSTANCE_PATH": str(self.workdir / f"instance-{self.name}"),
            "TRUSTED_PROXY_COUNT": "1",
            "RATELIMIT_ENABLED": "true",
            # The answer path itself is measured: thousands of new readers a minute are load
            # here, not a surge to ask work of (bench/proof_of_work.py measures the work).
            "POLLSERVER_SURGE_READERS_PER_MINUTE": "0",
        }
        if self.name == "postgresql":
            self._admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            name = f"pollserver_load_{uuid.uuid4().hex[:10]}"
            with self._admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            self.database_url = (
                make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
            )
            env.update(
                DATABASE_URL=self.database_url,
                RATELIMIT_STORAGE_URI=REDIS_URL,
                RATELIMIT_KEY_PREFIX=f"pollserver-load-{uuid.uuid4().hex[:6]}",
                POLLSERVER_WORKERS="2",
            )
        else:
            self.database_url = (
                f"sqlite:///{self.workdir / f'instance-{self.name}' / 'pollserver.sqlite3'}"
            )
            env.update(RATELIMIT_STORAGE_URI="memory://", POLLSERVER_WORKERS="1")
        return env

    def drop(self) -> None:
        if self._admin is not None:
            name = make_url(self.database_url).database
            with self._admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self._admin.dispose()


@dataclass
class Item:
    """One figure of the plan: a wrk script against one server."""

    stack: str
    name: str
    url: str
    script: str
    server_pid: int
    kind: str  # ceiling, read, answer, invalidated, vote, reference
    backend: str | None = None  # a pollserver figure's backend (its targets)
    round_offset: int = 0  # keeps one database's addresses apart between two servers
    script_args: tuple[str, ...] = ()
    # PostgreSQL answers: the database whose WAL and commits each round also reads.
    database_url: str | None = None
    runs: list[dict] = field(default_factory=list)
    warm_up: dict | None = None


def median_run(runs: list[dict]) -> dict:
    """The round with the median throughput, with every round's errors added up."""
    middle = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
    return {
        **middle,
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": sum(run["socket_errors"] for run in runs),
    }


def measure(plan: list[Item], rounds: int, duration: int, connections: int) -> None:
    """Warm every item up (2 s), then run the whole plan once per round, in order."""
    for item in plan:
        item.warm_up = run_wrk(
            item.url,
            item.script,
            2,
            connections,
            round_number=99 + item.round_offset,
            script_args=item.script_args,
        )
    for round_number in range(rounds):
        for item in plan:
            before = database_activity(item.database_url) if item.database_url else None
            run = run_wrk(
                item.url,
                item.script,
                duration,
                connections,
                round_number + item.round_offset,
                server_pid=item.server_pid,
                script_args=item.script_args,
            )
            if before is not None:
                after = database_activity(item.database_url)
                run["wal_bytes"] = after[0] - before[0]
                run["commits"] = after[1] - before[1]
            item.runs.append(run)
        print(f"round {round_number + 1} of {rounds} done", file=sys.stderr, flush=True)


def database_activity(database_url: str) -> tuple[int, int]:
    """PostgreSQL's WAL position (bytes) and its database's committed transactions so far."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        wal = connection.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar()
        commits = connection.execute(
            text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        ).scalar()
    engine.dispose()
    return int(wal), int(commits)


def start_pollserver(
    cleanup: contextlib.ExitStack,
    name: str,
    workdir: Path,
    plan: list[Item],
    other_servers: list[AppOnServer],
) -> None:
    backend = Backend(name, workdir)
    cleanup.callback(backend.drop)
    env = backend.env()
    base_env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    stack = BACKEND_LABELS[name]

    server = PollserverProcess({**base_env, **env}).start(workdir / f"{name}.log")
    cleanup.callback(server.stop)
    poll_id = make_poll_results_public(backend.database_url)
    polls = f"/api/v1/polls/{poll_id}"
    cold = PollserverProcess(
        {
            **base_env,
            **env,
            "RESULTS_CACHE_SECONDS": "0",
        }
    ).start(workdir / f"{name}-cold.log")
    cleanup.callback(cold.stop)

    def item(name_: str, path: str, script: str, kind: str, on=server, **extra) -> Item:
        return Item(
            stack=extra.pop("stack", stack),
            name=name_,
            url=f"{on.base_url}{path}",
            script=script,
            server_pid=on.process.pid,
            kind=kind,
            backend=name,
            **extra,
        )

    plan += [
        item("GET /livez (the app's ceiling)", "/livez", "get.lua", "ceiling"),
        item("GET /api/v1/polls/{id}", polls, "get.lua", "read"),
        item("GET /widget.js", "/widget.js", "get.lua", "read"),
        item("GET …/results (warm)", f"{polls}/results", "get.lua", "read"),
        item(
            "POST …/answers",
            f"{polls}/answers",
            "answers.lua",
            "answer",
            database_url=backend.database_url if name == "postgresql" else None,
        ),
        item("GET /livez (cache-off server)", "/livez", "get.lua", "ceiling", on=cold),
        item(
            "GET …/results (just invalidated, cache-off server)",
            f"{polls}/results",
            "get.lua",
            "invalidated",
            on=cold,
        ),
    ]
    for offset, other in enumerate(other_servers if name == "sqlite" else [], start=1):
        other_server = other.start({**base_env, **env})
        cleanup.callback(other.stop)
        extra = {"stack": other.label, "round_offset": 100 * offset}
        plan += [
            item(
                "GET /livez (the app's ceiling)",
                "/livez",
                "get.lua",
                "ceiling",
                on=other_server,
                **extra,
            ),
            item("GET /api/v1/polls/{id}", polls, "get.lua", "read", on=other_server, **extra),
            item(
                "POST …/answers",
                f"{polls}/answers",
                "answers.lua",
                "answer",
                on=other_server,
                **extra,
            ),
        ]


def verdict(item: Item, result: dict, jawanndenn_rps: float, reference_rps: float) -> str:
    if item.backend is None:
        return ""
    checks = []

    def check(description: str, met: bool) -> None:
        checks.append(f"{description} {'met' if met else 'MISSED'}")

    if item.kind == "answer" and jawanndenn_rps:
        target = ANSWER_TARGETS[item.backend]
        check(f"≥ {target:g}× jawanndenn", result["rps"] >= target * jawanndenn_rps)
    if item.kind == "read" and reference_rps:
        check(f"≥ {READ_TARGET:g}× reference", result["rps"] >= READ_TARGET * reference_rps)
    if item.kind == "answer":
        cpu_target = ANSWER_CPU_TARGETS_MS[item.backend]
        check(f"CPU ≤ {cpu_target:g} ms", result["cpu_ms"]["app"] <= cpu_target)
        if item.backend == "postgresql":
            check(
                f"PostgreSQL ≤ {POSTGRES_CPU_TARGET_MS:g} ms",
                result["cpu_ms"]["PostgreSQL"] <= POSTGRES_CPU_TARGET_MS,
            )
    check(f"p99 ≤ {P99_TARGET_MS:g} ms", result["p99"] <= P99_TARGET_MS)
    if result["non_2xx"] or result["socket_errors"]:
        check("no errors", False)
    return "; ".join(checks)


def check_votes(jawanndenn: Jawanndenn, items: list[Item], connections: int) -> str:
    """Votes stored against successful responses seen (warm-up included). A request still in
    flight when a wrk run ends may be stored without being counted: at most one per connection
    and run, plus any that timed out."""
    runs = [run for item in items for run in [item.warm_up, *item.runs] if run]
    seen = sum(run["requests"] - run["non_2xx"] for run in runs)
    slack = len(runs) * connections + sum(run["socket_errors"] for run in runs)
    ballots, votes = jawanndenn.stored()
    options = 2
    ok = seen <= ballots <= seen + slack and votes == options * ballots
    return (
        f"{jawanndenn.label}: {ballots:,} ballots ({votes:,} option votes) stored; wrk saw "
        f"{seen:,} successful responses (stored may exceed seen by ≤ {slack} in flight at the "
        f"ends of runs): {'consistent' if ok else 'INCONSISTENT'}"
    )


def stop_cleanly_on_signals() -> None:
    """Ctrl-C and SIGTERM both unwind through the cleanup (servers stopped, database dropped),
    also when the harness was started with SIGINT ignored (as a background job of a script)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per figure and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per figure")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--compare",
        nargs="*",
        default=["jawanndenn", "reference", "servers"],
        choices=["jawanndenn", "reference", "servers"],
        help="comparison stacks measured beside pollserver (none: pollserver alone)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=BENCH / ".cache",
        help="where the harness installs jawanndenn's virtualenv (kept between runs)",
    )
    options = parser.parse_args()
    stop_cleanly_on_signals()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    jawanndenns: list[Jawanndenn] = []
    reference: Reference | None = None
    other_servers: list[AppOnServer] = []
    versions: dict[str, str] = {}
    with contextlib.ExitStack() as cleanup:
        workdir = Path(
            cleanup.enter_context(tempfile.TemporaryDirectory(prefix="pollserver-load-"))
        )
        plan: list[Item] = []
        if "reference" in options.compare:
            reference = Reference(workdir)
            server = reference.start()
            cleanup.callback(reference.stop)
            plan.append(
                Item(
                    reference.label,
                    "GET / (hello JSON)",
                    f"{server.base_url}/",
                    "get.lua",
                    server.process.pid,
                    "reference",
                )
            )
        if "jawanndenn" in options.compare:
            for threads in (1, 8):
                jawanndenn = Jawanndenn(options.cache, workdir, threads)
                versions.update(jawanndenn.install())
                jawanndenns.append(jawanndenn)
                server = jawanndenn.start()
                cleanup.callback(jawanndenn.stop)
                plan.append(
                    Item(
                        jawanndenn.label,
                        "POST /vote/{slug} (new voter)",
                        f"{server.base_url}{jawanndenn.vote_path}",
                        "jawanndenn_vote.lua",
                        server.process.pid,
                        "vote",
                        script_args=tuple(jawanndenn.wrk_args()),
                    )
                )
        if "servers" in options.compare:
            if "sqlite" in options.backends:
                other_servers = [AppOnServer(kind, workdir) for kind in AppOnServer.SERVERS]
            else:
                print("servers: compared on the SQLite backend only; skipped", file=sys.stderr)
        for name in options.backends:
            start_pollserver(cleanup, name, workdir, plan, other_servers)

        print(f"pollserver load benchmark — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
        print(f"machine: {machine_description()}")
        print(
            f"commit {git_commit()}; wrk -t2 -c{options.connections} -d{options.duration}s, "
            f"median of {options.rounds} interleaved rounds over every stack"
        )
        installed = ", ".join(f"{name} {version}" for name, version in sorted(versions.items()))
        print(f"installed by the harness: {installed or 'nothing'}")
        print(flush=True)

        measure(plan, options.rounds, options.duration, options.connections)

        results = {id(item): median_run(item.runs) for item in plan}
        jawanndenn_rps = max(
            (results[id(item)]["rps"] for item in plan if item.kind == "vote"), default=0.0
        )
        reference_rps = next(
            (results[id(item)]["rps"] for item in plan if item.kind == "reference"), 0.0
        )
        print(
            "| stack | figure | req/s | p50 ms | p99 ms | non-2xx | socket errors "
            "| × jawanndenn | × reference | targets (issue 16) "
            "| CPU ms/request: app · PostgreSQL · Redis · wrk |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for item in plan:
            result = results[id(item)]
            to_jawanndenn = f"{result['rps'] / jawanndenn_rps:.2f}" if jawanndenn_rps else "–"
            to_reference = f"{result['rps'] / reference_rps:.2f}" if reference_rps else "–"
            cpu = result["cpu_ms"]
            print(
                f"| {item.stack} | {item.name} | {result['rps']:,.0f} "
                f"| {result['p50']:.2f} | {result['p99']:.2f} | {result['non_2xx']} "
                f"| {result['socket_errors']} | {to_jawanndenn} | {to_reference} "
                f"| {verdict(item, result, jawanndenn_rps, reference_rps)} "
                f"| {cpu['app']:.2f} · {cpu['PostgreSQL']:.2f} · {cpu['Redis']:.2f} · "
                f"{cpu['wrk']:.2f} |"
            )
        print()
        if jawanndenn_rps or reference_rps:
            print(
                "× jawanndenn: to the faster of its two setups' median votes/s "
                f"({jawanndenn_rps:,.0f}); × reference: to the reference's median req/s "
                f"({reference_rps:,.0f}); – where that stack was not measured."
            )
        for jawanndenn in jawanndenns:
            items = [item for item in plan if item.stack == jawanndenn.label]
            print()
            print(check_votes(jawanndenn, items, options.connections))
        for item in plan:
            if item.database_url:
                print()
                print(database_writes(item))
        sys.stdout.flush()


def database_writes(item: Item) -> str:
    """What the answers cost PostgreSQL in WAL and commits, over every measured round: the
    figures that say when one primary's disk and commit rate would saturate."""
    answers = sum(run["requests"] - run["non_2xx"] for run in item.runs)
    wal = sum(run["wal_bytes"] for run in item.runs)
    commits = sum(run["commits"] for run in item.runs)
    return (
        f"{item.stack}, {item.name}: {answers:,} answers wrote {wal / answers:,.0f} bytes of "
        f"WAL each and took {commits:,} commits ({answers / commits:.1f} answers per commit, "
        "group commit)"
    )


if __name__ == "__main__":
    main()
