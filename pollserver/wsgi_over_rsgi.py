"""Serve a WSGI app from Granian's RSGI interface, reading each request body before a thread.

Granian's own WSGI interface hands a request to a Python thread as soon as its headers are in,
and the thread then waits for the body: 64 clients sending bodies a byte a second would hold
every thread, and Granian bounds only the time to read headers. Here the body is read on the
event loop, where a waiting client costs no thread, within a deadline and a size limit; only a
complete request reaches the thread pool that runs the app. The app itself stays WSGI (Flask).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import Any, TextIO

from granian.rsgi import ProtocolClosed as RSGIProtocolClosed

from pollserver.errors import error_payload

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Responses up to this size go out in one piece; a longer body (a CSV export) streams.
BUFFERED_RESPONSE_BYTES = 256 * 1024
# Request headers whose WSGI names carry no HTTP_ prefix (PEP 3333).
UNPREFIXED_HEADERS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


class RequestRefused(Exception):
    """A request turned away before it reaches the app."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def refuse(protocol: Any, status: int, message: str) -> int:
    protocol.response_bytes(*error_response(status, message))
    return status


def error_response(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """pollserver's one error shape, for the requests refused before they reach the app."""
    body = json.dumps(error_payload(status, message)).encode()
    return status, [("content-type", "application/json"), ("cache-control", "no-store")], body


class WsgiOverRsgi:
    """An RSGI app (``__rsgi__``) that runs ``wsgi_app`` on ``threads`` threads."""

    def __init__(
        self,
        wsgi_app: WsgiApp,
        *,
        threads: int,
        body_timeout: float,
        max_body_bytes: int,
        access_log: TextIO | None = None,
    ):
        self.wsgi_app = wsgi_app
        self.access_log = AccessLog(access_log) if access_log is not None else None
        self.threads = ThreadPoolExecutor(threads, thread_name_prefix="pollserver")
        self.body_timeout = body_timeout
        self.max_body_bytes = max_body_bytes

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Called once Granian has stopped taking requests and the ones in progress are done.
        self.threads.shutdown(wait=True)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":  # websockets are not served
            return
        started = time.perf_counter()
        status = 500
        try:
            status = await self.respond(scope, protocol)
        except RSGIProtocolClosed:
            status = 499  # the client went away mid-response: nothing to tell it
        except Exception:
            # Flask answers every error of the app itself; this is the bridge's own failure.
            log.exception("The request could not be served")
            with contextlib.suppress(Exception):  # a response may have started already
                protocol.response_bytes(*error_response(500, "The request could not be served."))
        finally:
            if self.access_log is not None:
                self.access_log.write(
                    scope.method, scope.path, status, time.perf_counter() - started
                )

    async def respond(self, scope: Any, protocol: Any) -> int:
        """Answer one request; returns the response's status."""
        try:
            body = await asyncio.wait_for(
                self.read_body(scope.headers, protocol), self.body_timeout
            )
        except TimeoutError:
            return refuse(
                protocol, 408, "The request's body did not arrive in time; send it again."
            )
        except RequestRefused as refusal:
            return refuse(protocol, refusal.status, refusal.message)
        environ = self.environ_for(scope, body)
        loop = asyncio.get_running_loop()
        # The app's contexts (Flask's request and app context are context variables) live in a
        # context of this request's own, entered by whichever thread runs the next part of it:
        # a streamed body's generator must see its request, and no thread may keep it after.
        context = contextvars.Context()
        status, response_headers, first, rest = await loop.run_in_executor(
            self.threads, context.run, self.call_app, environ
        )
        if rest is None:
            protocol.response_bytes(status, response_headers, first)
            return status
        transport = protocol.response_stream(status, response_headers)
        try:
            await transport.send_bytes(first)
            while chunk := await loop.run_in_executor(self.threads, context.run, next_chunk, rest):
                await transport.send_bytes(chunk)
        finally:
            await loop.run_in_executor(self.threads, context.run, close_body, rest)
        return status

    async def read_body(self, headers: Any, protocol: Any) -> bytes:
        """The whole body, as long as its Content-Length says (and no longer than allowed)."""
        length_header = headers.get("content-length")
        if length_header is None:
            if "transfer-encoding" in headers:
                # Granian ends a chunked body that breaks off as if it were complete: with no
                # length to check it against, a cut-off form or answer could pass as whole.
                raise RequestRefused(411, "Send the request's body with a Content-Length.")
            return b""
        if not length_header.isdigit():
            raise RequestRefused(400, "The request's Content-Length is not a number.")
        length = int(length_header)
        if length > self.max_body_bytes:
            raise RequestRefused(413, f"The request's body is over {self.max_body_bytes} bytes.")
        if length == 0:
            return b""
        chunks = []
        size = 0
        async for chunk in protocol:
            size += len(chunk)
            if size > length:
                break
            chunks.append(chunk)
        if size != length:
            # Granian ends the body early, without an error, when the connection breaks off.
            raise RequestRefused(400, "The request's body is not as long as its Content-Length.")
        return b"".join(chunks)

    @staticmethod
    def environ_for(scope: Any, body: bytes) -> dict[str, Any]:
        server_host, _, server_port = scope.server.rpartition(":")
        client_host, _, client_port = scope.client.rpartition(":")
        version = scope.http_version
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope.method,
            "SCRIPT_NAME": "",
            # PEP 3333: the path's bytes, each as one latin-1 character.
            "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": server_host.strip("[]"),
            "SERVER_PORT": server_port,
            "SERVER_PROTOCOL": "HTTP/2" if version == "2" else f"HTTP/{version}",
            "REMOTE_ADDR": client_host.strip("[]"),
            "REMOTE_PORT": client_port,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.scheme,
            "wsgi.input": BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in scope.headers.items():
            if "_" in name:
                # X_Forwarded_For would land on HTTP_X_FORWARDED_FOR beside the proxy's own
                # header, and ProxyFix would trust it: such names are dropped, as nginx does.
                continue
            key = UNPREFIXED_HEADERS.get(name) or "HTTP_" + name.upper().replace("-", "_")
            if key == "CONTENT_LENGTH":
                continue  # the body's own length, set above
            if key in environ:
                environ[key] += ("; " if key == "HTTP_COOKIE" else ", ") + value
            else:
                environ[key] = value
        return environ

    def call_app(
        self, environ: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], bytes, ClosingChunks | None]:
        """Run the app in a pool thread; return its first ``BUFFERED_RESPONSE_BYTES`` and the
        rest of its body (None when that was all)."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            # Nothing is sent before call_app returns, so a later call (with exc_info, PEP 3333)
            # may always replace the status and headers.
            started[:] = [int(status[:3]), headers]
            return write_not_supported

        body = self.wsgi_app(environ, start_response)
        chunks = []
        size = 0
        try:
            iterator = iter(body)
            for chunk in iterator:
                if chunk:
                    chunks.append(chunk)
                    size += len(chunk)
                if size > BUFFERED_RESPONSE_BYTES:
                    rest = ClosingChunks(body, iterator)
                    body = None  # closed by the caller, once the rest is sent
                    return started[0], started[1], b"".join(chunks), rest
        finally:
            if body is not None:
                close_body(body)
        if not started:
            raise RuntimeError("the app returned without calling start_response")
        return started[0], started[1], b"".join(chunks), None


# Control characters and the quote, written as \xNN in the access log.
LOG_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(32), 34, 127]}


class AccessLog:
    """One line per request: time, method, path, status and duration; never the client's
    address, user agent or query string (the README's Privacy).

    Written here rather than through ``logging``, whose records and formatting cost every
    request about a tenth of a millisecond of CPU (a twelfth of an answer); the time stamp is
    formatted once a second."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.second = 0
        self.stamp = ""

    def write(self, method: str, path: str, status: int, seconds: float) -> None:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(now))
        path = path.translate(LOG_ESCAPES)  # a decoded %0A must not start a forged line
        self.stream.write(f'[{self.stamp}] "{method} {path}" {status} {seconds * 1000:.1f}ms\n')
        self.stream.flush()


def write_not_supported(data: bytes) -> None:
    raise NotImplementedError("the WSGI write() callable is not supported")


class ClosingChunks:
    """The rest of a streamed body, keeping its ``close`` (PEP 3333) for the end."""

    def __init__(self, body: Iterable[bytes], iterator: Iterator[bytes]):
        self.body = body
        self.iterator = iterator

    def close(self) -> None:
        close_body(self.body)


def next_chunk(rest: ClosingChunks) -> bytes:
    for chunk in rest.iterator:
        if chunk:
            return chunk
    return b""


def close_body(body: Any) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()
