"""Slow clients cannot stall the server: 64 connections sending their headers or their bodies a
byte a second leave ``/livez`` as quick as ever for everyone else, and each of them is cut off
after ``POLLSERVER_READ_SECONDS``."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time

import pytest

from support import PollserverProcess

pytestmark = pytest.mark.server

SLOW_CONNECTIONS = 64
READ_SECONDS = 4


class Dripper:
    """Connections that each send one byte a second of a request they never finish in time."""

    def __init__(self, port: int, opening: bytes, count: int):
        self.sockets = []
        for _ in range(count):
            connection = socket.create_connection(("127.0.0.1", port), timeout=READ_SECONDS + 10)
            connection.sendall(opening)
            self.sockets.append(connection)
        self.opened_at = time.monotonic()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.drip, daemon=True)
        self.thread.start()

    def drip(self) -> None:
        while not self.stopping.wait(1.0):
            for connection in self.sockets:
                # OSError: cut off by the server, which is what the test waits for.
                with contextlib.suppress(OSError):
                    connection.send(b"a")

    def replies(self) -> list[tuple[bytes, float]]:
        """What each connection got back, and after how long, once the server is done with it."""
        replies = []
        for connection in self.sockets:
            received = b""
            while True:
                try:
                    chunk = connection.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    break
                if not chunk:
                    break
                received += chunk
            replies.append((received, time.monotonic() - self.opened_at))
        return replies

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        for connection in self.sockets:
            connection.close()


def read_one_reply(connection: socket.socket) -> bytes:
    """One HTTP reply with a Content-Length, however many reads it takes."""
    received = b""
    while True:
        head, separator, body = received.partition(b"\r\n\r\n")
        if separator:
            lengths = [
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ]
            if lengths and len(body) >= lengths[0]:
                return received
        chunk = connection.recv(65536)
        if not chunk:
            return received
        received += chunk


def livez_latencies_ms(port: int, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/livez")
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 200
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)
    return sorted(latencies)


@pytest.mark.parametrize(
    "part, opening",
    [
        ("headers", b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "),
        (
            "body",
            b"POST /api/v1/polls/none/answers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{",
        ),
    ],
)
def test_slow_senders_neither_delay_others_nor_hold_on_for_long(tmp_path, serve_env, part, opening):
    env = {**serve_env, "POLLSERVER_READ_SECONDS": str(READ_SECONDS)}
    # One worker with 8 threads: the embedded default, which 8 slow clients used to stall.
    with PollserverProcess(env).start(tmp_path / "serve.log") as server:
        dripper = Dripper(server.port, opening, SLOW_CONNECTIONS)
        try:
            latencies = livez_latencies_ms(server.port, READ_SECONDS - 1.0)
            replies = dripper.replies()
        finally:
            dripper.close()

    p99 = latencies[int(len(latencies) * 0.99)]
    assert len(latencies) > 50
    assert p99 < 100, f"/livez p99 {p99:.0f} ms while {SLOW_CONNECTIONS} clients dripped {part}"
    # Each slow client is cut off once its time is up (and not long after).
    assert all(READ_SECONDS - 1 <= after < READ_SECONDS + 3 for _, after in replies), replies
    if part == "body":
        for received, _ in replies:
            head, _, body = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), received
            assert json.loads(body)["error"]["code"] == 408


def test_a_body_over_the_limit_is_refused_before_it_is_read(tmp_path, serve_env):
    env = {**serve_env, "MAX_CONTENT_LENGTH": "1000"}
    with (
        PollserverProcess(env).start(tmp_path / "serve.log") as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection,
    ):
        # Announces 10 MB and sends none of it: the refusal must not wait for it.
        connection.sendall(
            b"POST /api/v1/polls/none/answers HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        reply = read_one_reply(connection)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), reply
    error = json.loads(body)["error"]
    assert error["code"] == 413 and "1000 bytes" in error["message"]
