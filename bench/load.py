"""Load benchmark: pollserver under gunicorn on loopback, driven by wrk, per storage backend.

    python bench/load.py [--duration 8] [--connections 32] [--backends sqlite postgresql]

For each backend — SQLite with in-memory limits (one worker, the embedded default) and
PostgreSQL + Redis (four workers) — it starts ``pollserver serve`` on a fresh database and
measures, in the same run:

- the ceiling: ``GET /livez``, a trivial endpoint on the same app and server configuration;
- ``GET /api/v1/polls/{id}``, ``GET /widget.js``, ``GET …/results`` with the results cache warm;
- ``GET …/results`` just invalidated (a second server with ``RESULTS_CACHE_SECONDS=0``, so
  every request sums the tallies; its own ceiling is measured alongside);
- ``POST …/answers`` from distinct new readers, rate limiting on, each request from its own
  address through a trusted proxy header (``TRUSTED_PROXY_COUNT=1``).

It prints requests/s, p50 and p99 latency, non-2xx and socket errors, each throughput as a
ratio of the ceiling, and the CPU time one request cost each part of the stack (read from
``/proc`` around each wrk run: pollserver's processes, PostgreSQL's, Redis', and wrk's own),
which says where a ratio comes from. Targets (2-core machine): answers ≥ 0.4×, reads ≥ 0.8×.
Not a test.

The machine is shared and its speed drifts from minute to minute, so every figure is measured
in several interleaved rounds (ceiling, poll, widget, results, answers; ceiling, poll, …) and
the table gives each figure's median round; its ratio is to the ceiling's median.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH = Path(__file__).resolve().parent
REPO_ROOT = BENCH.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(BENCH))

from results_scaling import git_commit, machine_description  # noqa: E402

from support import PollserverProcess  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
READ_TARGET = 0.8
ANSWER_TARGET = 0.4


CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# Parts of the stack by process name; pollserver's own processes are found from the server's pid.
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
        ("pollserver", pid): process_cpu_seconds(pid)
        for pid in [server_pid, *descendants(server_pid)]
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
    used: dict[str, float] = {"pollserver": 0.0, "PostgreSQL": 0.0, "Redis": 0.0, "wrk": 0.0}
    for (part, pid), seconds in after.items():
        used[part] += seconds - before.get((part, pid), 0.0)  # new since: all of it counts
    return {part: 1000 * seconds / max(requests, 1) for part, seconds in used.items()}


@dataclass
class Figure:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    ceiling: float
    target: float | None
    cpu_ms: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.requests_per_second / self.ceiling if self.ceiling else 0.0


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
        import json

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
                POLLSERVER_WORKERS="4",
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


def measure_rounds(
    server: PollserverProcess,
    plan: list[tuple[str, str, str]],
    rounds: int,
    duration: int,
    connections: int,
) -> dict[str, list[dict]]:
    """Run every (name, path, script) of the plan once per round, in order; warm up first."""
    for _, path, script in plan:
        run_wrk(f"{server.base_url}{path}", script, 2, connections, round_number=99)
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in plan}
    for round_number in range(rounds):
        for name, path, script in plan:
            runs[name].append(
                run_wrk(
                    f"{server.base_url}{path}",
                    script,
                    duration,
                    connections,
                    round_number,
                    server_pid=server.process.pid,
                )
            )
    return runs


def median_run(runs: list[dict]) -> dict:
    """The round with the median throughput, with every round's errors added up."""
    middle = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
    return {
        **middle,
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": sum(run["socket_errors"] for run in runs),
    }


def measure_backend(
    name: str, rounds: int, duration: int, connections: int, workdir: Path
) -> list[Figure]:
    backend = Backend(name, workdir)
    env = backend.env()
    base_env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    figures: list[Figure] = []
    try:
        server = PollserverProcess({**base_env, **env}).start(workdir / f"{name}.log")
        try:
            poll_id = make_poll_results_public(backend.database_url)
            polls = f"/api/v1/polls/{poll_id}"
            plan = [
                ("ceiling: GET /livez", "/livez", "get.lua"),
                ("GET /api/v1/polls/{id}", polls, "get.lua"),
                ("GET /widget.js", "/widget.js", "get.lua"),
                ("GET …/results (warm)", f"{polls}/results", "get.lua"),
                ("POST …/answers", f"{polls}/answers", "answers.lua"),
            ]
            runs = measure_rounds(server, plan, rounds, duration, connections)
        finally:
            server.stop()
        ceiling = median_run(runs["ceiling: GET /livez"])["rps"]
        for figure_name, _, script in plan:
            target = None
            if not figure_name.startswith("ceiling"):
                target = ANSWER_TARGET if script == "answers.lua" else READ_TARGET
            figures.append(figure(figure_name, median_run(runs[figure_name]), ceiling, target))

        cold_env = {**base_env, **env, "RESULTS_CACHE_SECONDS": "0"}
        cold_server = PollserverProcess(cold_env).start(workdir / f"{name}-cold.log")
        try:
            cold_plan = [
                ("ceiling (cache-off server)", "/livez", "get.lua"),
                ("GET …/results (just invalidated)", f"{polls}/results", "get.lua"),
            ]
            cold_runs = measure_rounds(cold_server, cold_plan, rounds, duration, connections)
        finally:
            cold_server.stop()
        cold_ceiling = median_run(cold_runs["ceiling (cache-off server)"])["rps"]
        figures.append(
            figure(
                "ceiling (cache-off server)",
                median_run(cold_runs[cold_plan[0][0]]),
                cold_ceiling,
                None,
            )
        )
        figures.append(
            figure(
                "GET …/results (just invalidated)",
                median_run(cold_runs[cold_plan[1][0]]),
                cold_ceiling,
                READ_TARGET,
            )
        )
    finally:
        backend.drop()
    return figures


def figure(name: str, result: dict, ceiling: float, target: float | None) -> Figure:
    return Figure(
        name=name,
        requests_per_second=result["rps"],
        p50_ms=result["p50"],
        p99_ms=result["p99"],
        non_2xx=result["non_2xx"],
        socket_errors=result["socket_errors"],
        ceiling=ceiling,
        target=target,
        cpu_ms=result["cpu_ms"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per figure and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per figure")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    print(f"pollserver load benchmark — {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine_description()}")
    print(
        f"commit {git_commit()}; wrk -t2 -c{options.connections} -d{options.duration}s, "
        f"median of {options.rounds} interleaved rounds"
    )
    print()
    print(
        "| backend | figure | req/s | p50 ms | p99 ms | non-2xx | socket errors | × ceiling "
        "| target | CPU ms/request: pollserver · PostgreSQL · Redis · wrk |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    with tempfile.TemporaryDirectory(prefix="pollserver-load-") as workdir:
        for name in options.backends:
            label = "SQLite, 1 worker" if name == "sqlite" else "PostgreSQL + Redis, 4 workers"
            figures = measure_backend(
                name, options.rounds, options.duration, options.connections, Path(workdir)
            )
            for item in figures:
                verdict = ""
                if item.target is not None:
                    met = item.ratio >= item.target
                    verdict = f"≥ {item.target}× {'met' if met else 'MISSED'}"
                print(
                    f"| {label} | {item.name} | {item.requests_per_second:,.0f} "
                    f"| {item.p50_ms:.2f} | {item.p99_ms:.2f} | {item.non_2xx} "
                    f"| {item.socket_errors} | {item.ratio:.2f} | {verdict} "
                    f"| {item.cpu_ms['pollserver']:.2f} · {item.cpu_ms['PostgreSQL']:.2f} · "
                    f"{item.cpu_ms['Redis']:.2f} · {item.cpu_ms['wrk']:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
