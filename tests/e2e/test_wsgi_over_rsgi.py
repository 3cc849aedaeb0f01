"""The bridge from Granian's RSGI to a WSGI app gives the app the environ PEP 3333 promises and
streams long bodies, through a real Granian on 127.0.0.1 (apps/echo_wsgi.py)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from support import free_port

pytestmark = pytest.mark.server

APPS = Path(__file__).parent / "apps"


def start_echo_server(log_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "rsgi",
            "--factory",
            "--no-ws",
            "--port",
            str(port),
            "echo_wsgi:make",
        ],
        env={**os.environ, "PYTHONPATH": str(APPS)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ready")
            connection.getresponse().read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.1)
    log.close()  # the child keeps its own descriptor
    return process, port


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    log_path = tmp_path_factory.mktemp("echo") / "granian.log"
    process, port = start_echo_server(log_path)
    yield port, log_path
    process.terminate()
    process.wait(timeout=15)


def test_a_stop_lets_the_request_in_progress_finish(tmp_path):
    process, port = start_echo_server(tmp_path / "granian.log")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.request("GET", "/slow?1.5")
    time.sleep(0.5)  # the request is on a thread now
    process.send_signal(signal.SIGTERM)
    response = connection.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["PATH_INFO"] == "/slow"
    assert process.wait(timeout=15) == 0


def log_once_it_has(log_path: Path, text: str) -> str:
    """The log, once a line with ``text`` is in it (written just after the response is sent)."""
    deadline = time.monotonic() + 5
    while text not in (log := log_path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return log


def read_all(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def request(port, method, target, body=None, headers=()):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, target, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    if body is not None:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    return response, response.read()


def test_the_app_sees_the_request_as_pep_3333_describes_it(echo_server):
    port, _ = echo_server
    response, raw = request(
        port,
        "POST",
        "/caf%C3%A9/a%2Fb?x=1&y=%C3%A9",
        body=b'{"a": 1}',
        headers=[
            ("Content-Type", "application/json"),
            ("X-Twice", "one"),
            ("X-Twice", "two"),
            ("Cookie", "a=1"),
            ("Cookie", "b=2"),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
    )
    assert response.status == 200
    assert response.getheader("X-Echo") == "yes"
    seen = json.loads(raw)
    assert seen["REQUEST_METHOD"] == "POST"
    # The path percent-decoded, its UTF-8 bytes as latin-1 characters; the query as sent.
    assert seen["PATH_INFO"] == "/café/a/b".encode().decode("latin-1")
    assert seen["QUERY_STRING"] == "x=1&y=%C3%A9"
    assert seen["SCRIPT_NAME"] == ""
    assert seen["CONTENT_TYPE"] == "application/json"
    assert seen["CONTENT_LENGTH"] == "8"
    assert seen["body"] == '{"a": 1}'
    assert seen["HTTP_X_TWICE"] == "one, two"
    assert seen["HTTP_COOKIE"] == "a=1; b=2"
    assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"  # a header, for ProxyFix to judge
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["SERVER_PORT"] == str(port)
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert seen["url_scheme"] == "http"


def test_a_chunked_body_is_refused_with_a_reason(echo_server):
    """Granian ends a chunked body that breaks off as if it were whole: only a body with a
    Content-Length can be checked for completeness, so only such a body is taken."""
    port, _ = echo_server
    # The whole request in one write: the server may answer 411 before the last chunk arrives,
    # and a client still sending chunk by chunk then meets a closed socket (seen in CI as a
    # BrokenPipeError in http.client, a race of the test's, not of the server's).
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nfirst,\r\n6\r\nsecond\r\n0\r\n\r\n"
        )
        reply = read_all(connection)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 411"), reply
    assert "Content-Length" in json.loads(body)["error"]["message"]


def test_a_body_cut_short_never_reaches_the_app(echo_server):
    port, _ = echo_server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /cut HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 20\r\n\r\nchoice=12"
        )
        connection.shutdown(socket.SHUT_WR)  # the client breaks off after 9 of 20 bytes
        reply = read_all(connection)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), reply
    assert "Content-Length" in json.loads(body)["error"]["message"]


def test_a_header_spelled_with_underscores_cannot_pose_as_the_proxys(echo_server):
    port, _ = echo_server
    _, raw = request(
        port,
        "GET",
        "/",
        headers=[("X-Forwarded-For", "10.0.0.1"), ("X_Forwarded_For", "6.6.6.6")],
    )
    assert json.loads(raw)["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"


def test_a_streamed_flask_body_keeps_its_request_and_leaves_no_thread_with_it(echo_server):
    """The export's chunks run on whichever of the pool's two threads is free, between other
    requests: each must see its own request, and none another's."""
    port, _ = echo_server
    others: list[dict] = []
    exporting = threading.Event()

    def other_requests():
        while not exporting.is_set():
            _, raw = request(port, "GET", "/flask/g")
            others.append(json.loads(raw))

    neighbour = threading.Thread(target=other_requests)
    neighbour.start()
    try:
        response, raw = request(port, "GET", "/flask/export")
    finally:
        exporting.set()
        neighbour.join()
    assert response.status == 200
    rows = [line.strip() for line in raw.decode().splitlines()]
    assert rows == [f"/flask/export,export,{number}" for number in range(64)]
    assert len(others) > 10
    assert all(other == {"g": {}, "path": "/flask/g"} for other in others), others[:3]


def test_an_app_that_never_starts_its_response_gets_a_json_500(echo_server):
    port, log_path = echo_server
    response, raw = request(port, "GET", "/forgets-to-start")
    assert response.status == 500
    assert json.loads(raw)["error"]["code"] == 500
    assert '"GET /forgets-to-start" 500' in log_once_it_has(log_path, "/forgets-to-start")


def test_the_access_log_cannot_be_given_a_forged_line(echo_server):
    port, log_path = echo_server
    request(port, "GET", '/x%0A[2026-01-01]%20"GET%20/forged"%20200')
    log = log_once_it_has(log_path, "/forged")
    lines = [line for line in log.splitlines() if "/x" in line]
    assert len(lines) == 1
    assert '\\x0a[2026-01-01] \\x22GET /forged\\x22 200" 200' in lines[0]


def test_a_long_body_streams_and_its_close_runs(echo_server):
    port, log_path = echo_server
    response, raw = request(port, "GET", "/stream")
    assert response.status == 200
    assert raw == b"x" * 8192 * 64
    assert "stream closed" in log_once_it_has(log_path, "stream closed")


def test_a_request_without_a_body_reads_none(echo_server):
    port, _ = echo_server
    _, raw = request(port, "GET", "/plain")
    seen = json.loads(raw)
    assert seen["body"] == ""
    assert "CONTENT_LENGTH" not in seen
