"""The bridge from Granian's RSGI to a WSGI app gives the app the environ PEP 3333 promises and
streams long bodies, through a real Granian on 127.0.0.1 (apps/echo_wsgi.py)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
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


def test_a_chunked_body_arrives_whole(echo_server):
    port, _ = echo_server
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("PUT", "/", body=iter([b"first,", b"second"]), encode_chunked=True)
    response = connection.getresponse()
    seen = json.loads(response.read())
    assert seen["body"] == "first,second"
    assert seen["CONTENT_LENGTH"] == "12"


def test_a_long_body_streams_and_its_close_runs(echo_server):
    port, log_path = echo_server
    response, raw = request(port, "GET", "/stream")
    assert response.status == 200
    assert raw == b"x" * 8192 * 64
    deadline = time.monotonic() + 5
    while "stream closed" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "stream closed" in log_path.read_text()


def test_a_request_without_a_body_reads_none(echo_server):
    port, _ = echo_server
    _, raw = request(port, "GET", "/plain")
    seen = json.loads(raw)
    assert seen["body"] == ""
    assert "CONTENT_LENGTH" not in seen
