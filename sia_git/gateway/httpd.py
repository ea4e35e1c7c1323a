"""The HTTP side of an endpoint that whoever can connect may abuse (the gateway, which the
sandboxed agent calls, and `sia-git serve`), on aiohttp. What a caller can make it spend is
bounded: a body is read only when its declared length fits (a missing, negative or oversized one
is refused with 413 before anything is read, a chunked one is cut at the limit), connections
are capped, a connection that sends no complete request within `idle_s` is closed, and one
event-loop thread serves them all however many there are. Every error is one line to the
owner's `report` (its log); nothing goes to the terminal.

The loop runs on its own thread, so the owners (gateway.server.Gateway,
localmodel.server.LocalServer) keep their synchronous `with` API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

Report = Callable[[int, str], None]  # an HTTP status (0: none was sent) and one line of text
ErrorBody = Callable[[int, str], dict[str, Any]]  # the JSON an error reply carries
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

MAX_REPORTS = 200  # lines one endpoint writes about refused requests (a flood is counted)
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Bounds:
    max_body: int = 1_000_000
    max_connections: int = 128
    idle_s: float = 60.0  # a connection with no complete request for this long is closed
    body_s: float = 30.0  # the most a request body may take to arrive
    drain_s: float = 5.0  # how long stop() lets requests being answered finish


class Refused(Exception):
    """A request refused before it was served: its status and the caller's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


async def read_json(request: web.BaseRequest, bounds: Bounds) -> Any:
    """The request's JSON body; raises Refused when its length is missing or over the limit,
    when it does not arrive within `body_s`, or when it is not JSON."""
    size = request.content_length
    if size is None and not request.body_exists:
        raise Refused(411, "a request body with a Content-Length is required")
    if size is not None and size > bounds.max_body:
        raise Refused(413, f"request body over {bounds.max_body} bytes")
    try:
        async with asyncio.timeout(bounds.body_s):
            data = await _read(request, bounds.max_body)
    except TimeoutError:
        raise Refused(408, f"the request body took over {bounds.body_s:g} s") from None
    except (HttpProcessingError, OSError) as exc:  # a broken chunk, a caller gone mid-body
        raise Refused(400, f"the request body could not be read ({one_line(exc)})") from None
    try:
        return json.loads(data or b"{}")
    except (ValueError, RecursionError):
        raise Refused(400, "body is not JSON") from None


async def _read(request: web.BaseRequest, limit: int) -> bytes:
    data = bytearray()
    while piece := await request.content.read(CHUNK):
        data += piece
        if len(data) > limit:  # a chunked body: stop reading at the limit
            raise Refused(413, f"request body over {limit} bytes")
    return bytes(data)


def json_reply(status: int, data: dict[str, Any], close: bool = False) -> web.Response:
    reply = web.Response(status=status, body=json.dumps(data).encode())
    reply.content_type = "application/json"
    if close:  # an unread body must not be taken for the next request
        reply.force_close()
    return reply


class Endpoint:
    """Serves `handler` on the listening `sock` from `start()` to `stop()`."""

    def __init__(
        self,
        sock: socket.socket,
        handler: Handler,
        report: Report,
        *,
        error_body: ErrorBody,
        bounds: Bounds,
        name: str = "sia-endpoint",
        tls: tuple[socket.socket, ssl.SSLContext] | None = None,
    ) -> None:
        self.sock, self.bounds, self.tls = sock, bounds, tls
        self._handler, self._report, self.error_body = handler, report, error_body
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._loop_error)
        self._runner: web.ServerRunner | None = None
        self._started = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._reports = 0
        self._reports_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()
        self._started.wait()
        if self._failed is not None:
            raise self._failed

    def stop(self) -> None:
        """Stop listening, let requests being answered finish for up to `drain_s` (then cancel
        them), and end the loop's thread."""
        if not self._thread.is_alive():
            self.sock.close()
            if self.tls is not None:
                self.tls[0].close()
            return
        if self._runner is not None:
            done = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop)
            with contextlib.suppress(Exception):  # cleanup's own faults change nothing now
                done.result(timeout=2 * self.bounds.drain_s + 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if self._reports > MAX_REPORTS:
            self._report(0, f"{self._reports - MAX_REPORTS} more refused requests not logged")

    def report(self, status: int, message: str) -> None:
        """One line to the owner's log; past MAX_REPORTS, only counted (an agent looping on
        bad requests must not fill the trace)."""
        with self._reports_lock:
            self._reports += 1
            shown = self._reports <= MAX_REPORTS
        if shown:
            with contextlib.suppress(Exception):  # the log may be gone; the caller still hears
                self._report(status, message)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._setup())
        except BaseException as exc:  # handed to start()'s caller
            self._failed = exc
            self._started.set()
            self.loop.close()
            return
        self._started.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def _setup(self) -> None:
        server = _Server(
            self._guarded,
            self,
            keepalive_timeout=self.bounds.idle_s,
            lingering_time=0,  # never read (and drop) what is left of a refused body
            access_log=None,
        )
        self._runner = web.ServerRunner(server, shutdown_timeout=self.bounds.drain_s)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()
        if self.tls is not None:  # the same handler, behind TLS (provider URLs, intercepted)
            await web.SockSite(self._runner, self.tls[0], ssl_context=self.tls[1]).start()

    async def _guarded(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await self._handler(request)
        except Refused as r:
            self.report(r.status, f"{request.method} {request.path}: {r.message}")
            return json_reply(r.status, self.error_body(r.status, r.message), close=True)
        except Exception as exc:  # a fault of ours: the caller gets a 500, the log one line
            self.report(500, f"{request.method} {request.path}: {one_line(exc)}")
            body = self.error_body(500, f"internal error ({type(exc).__name__})")
            return json_reply(500, body, close=True)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        text = context.get("message", "")
        self.report(0, f"{text}: {one_line(exc)}" if exc is not None else str(text))


class _Server(web.Server):
    """aiohttp's low-level server with a cap on connections: one over it is answered 503."""

    def __init__(self, handler: Handler, endpoint: Endpoint, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.endpoint = endpoint

    def __call__(self) -> asyncio.BaseProtocol:  # type: ignore[override]
        if len(self.connections) >= self.endpoint.bounds.max_connections:
            return _Busy(self.endpoint)
        return _Protocol(self, loop=self._loop, **self._kwargs)


class _Protocol(web.RequestHandler):
    """A connection's handler that reports a malformed request in one line, not a traceback."""

    def handle_error(  # positional: aiohttp calls it so (an override of its method)
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        endpoint: Endpoint = self._manager.endpoint  # type: ignore[union-attr]
        status, text = _refusal(status, exc, message, limit=endpoint.bounds.max_body)
        endpoint.report(status, f"malformed request: {text}")
        if request.writer.output_size > 0:  # a reply was begun: only closing is left
            raise ConnectionError("reply already started")
        return json_reply(status, endpoint.error_body(status, text), close=True)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        endpoint = getattr(self._manager, "endpoint", None)
        exc = kw.get("exc_info")
        if endpoint is not None:
            detail = one_line(exc) if isinstance(exc, BaseException) else ""
            endpoint.report(0, f"{args[0] if args else 'error'} {detail}".strip())

    def log_debug(self, *args: Any, **kw: Any) -> None:
        pass


def _refusal(
    status: int, exc: BaseException | None, message: str | None, *, limit: int
) -> tuple[int, str]:
    """The status and line for a request the parser refused: a length that is not a
    non-negative number is a body whose size is not known to fit (413); a header line or
    header count over the parser's limits is 431."""
    text = (message or (str(exc) if exc else "") or "bad request").strip().splitlines()[0][:300]
    if "Content-Length" in text and "Transfer-Encoding" not in text:
        return 413, f"{text} (request bodies need a Content-Length of at most {limit} bytes)"
    if "Got more than" in text or "Too many headers" in text or "too long" in text.lower():
        return 431, text
    return status, text


class _Busy(asyncio.Protocol):
    """A connection over the cap: told so, and closed."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        bounds = self.endpoint.bounds
        body = json.dumps(self.endpoint.error_body(503, "too many connections")).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.endpoint.report(503, f"connection refused: over {bounds.max_connections} open")
        transport.write(head.encode() + body)  # type: ignore[attr-defined]
        transport.close()
