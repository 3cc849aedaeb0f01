"""Hostile bytes against the real server, over raw sockets: whatever reaches pollserver is
answered in the one JSON error shape (never a 500, never an HTML page); what the HTTP server
refuses before pollserver sees it (bytes that are not HTTP it can parse) is a bare 4xx with no
body, as the README's Errors section says; and the server goes on serving."""

from __future__ import annotations

import json
import socket

import pytest

from support import PollserverProcess, http_json

pytestmark = pytest.mark.server


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lowercase names, body) of one request sent as these bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        reply = b""
        while chunk := connection.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def request(line: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    return b"\r\n".join([line, b"Host: 127.0.0.1", *headers, b"Connection: close", b"", body])


# Reach pollserver: answered by it, in JSON.
REACHING_POLLSERVER = {
    "a 5,000-character poll id": (request(b"GET /api/v1/polls/" + b"a" * 5000 + b" HTTP/1.1"), 404),
    "a 100 KB header": (request(b"GET /api/v1/polls/x HTTP/1.1", b"X-Big: " + b"a" * 100_000), 404),
    "a reader token that is not UTF-8": (
        request(b"GET /api/v1/polls/x/progress HTTP/1.1", b"X-Poll-Respondent: \xff\xfe"),
        404,
    ),
    "an Origin that is not UTF-8": (
        request(b"GET /api/v1/polls/x HTTP/1.1", b"Origin: https://\xff.example"),
        404,
    ),
    "an Authorization that is not UTF-8": (
        request(b"GET /api/v1/admin/polls HTTP/1.1", b"Authorization: Bearer \xff\xfe"),
        401,
    ),
    "Content-Length and Transfer-Encoding together": (
        request(
            b"POST /api/v1/polls/x/answers HTTP/1.1",
            b"Content-Type: application/json",
            b"Content-Length: 5",
            b"Transfer-Encoding: chunked",
            body=b"0\r\n\r\n",
        ),
        411,
    ),
    "a body that is not UTF-8": (
        request(
            b"POST /api/v1/polls/x/answers HTTP/1.1",
            b"Content-Type: application/json",
            b"Content-Length: 4",
            body=b'"\xff\xfe"',
        ),
        400,
    ),
}
# Refused by the HTTP server before pollserver sees them: no JSON can be given.
REFUSED_BY_THE_HTTP_SERVER = {
    "a path that is not UTF-8": (request(b"GET /api/v1/polls/\xff\xfe HTTP/1.1"), 400),
    "a control character in a header": (
        request(b"GET /api/v1/polls/x HTTP/1.1", b"X-A: a\x01b"),
        400,
    ),
    "two Content-Lengths that disagree": (
        request(
            b"POST /api/v1/polls/x/answers HTTP/1.1",
            b"Content-Length: 5",
            b"Content-Length: 6",
            body=b"hello!",
        ),
        400,
    ),
    "more than 100 headers": (
        request(b"GET /api/v1/polls/x HTTP/1.1", *(b"X-%d: 1" % n for n in range(200))),
        431,
    ),
    "TLS to the plain HTTP port": (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),
        400,
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("malformed")
    process = PollserverProcess(
        {"POLLSERVER_INSTANCE_PATH": str(directory / "instance"), "DATABASE_URL": ""}
    ).start(directory / "serve.log")
    yield process
    process.stop()
    assert "Traceback" not in process.log(), process.log()


@pytest.mark.parametrize("case", list(REACHING_POLLSERVER))
def test_what_reaches_pollserver_is_answered_in_json(server, case):
    data, expected = REACHING_POLLSERVER[case]
    status, headers, body = raw_request(server.port, data)
    assert status == expected, (status, body[:300])
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == expected and error["message"]
    assert len(body) < 1000  # nothing sent is echoed back whole


@pytest.mark.parametrize("case", list(REFUSED_BY_THE_HTTP_SERVER))
def test_what_the_http_server_refuses_is_a_bare_4xx_and_the_server_goes_on(server, case):
    data, expected = REFUSED_BY_THE_HTTP_SERVER[case]
    status, headers, body = raw_request(server.port, data)
    assert status == expected
    assert body == b"" and headers.get("content-length") == "0"  # no HTML page, no traceback
    assert http_json("GET", f"{server.base_url}/healthz")[0] == 200
