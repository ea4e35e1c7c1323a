"""An OpenAI-compatible HTTP endpoint on 127.0.0.1 for a model served by `Engine`: what
`sia-git serve` runs, and what `--target-model` starts for a local model (the run's gateway
then calls it like any server). A request's `model` picks the weights: the served name (or
anything unknown) is the base model, `<name>@<adapter>` or a bare adapter name one of its
adapters. `/v1/models` states the context length (`max_model_len`, as vLLM does), so clients
can fit their prompts. A caller that hangs up is noticed within half a second and its request
is dropped from the batch, not generated to the end.

The HTTP side is the gateway's (gateway/httpd.py): bounded bodies, capped connections, idle
ones closed, one event-loop thread; a refused or malformed request is a line in the `--log`
file, never a traceback on the terminal. Requests wait for the engine without a thread each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from sia_git.gateway import httpd, protocols
from sia_git.localmodel.constrain import grammar_of, structured_output
from sia_git.localmodel.engine import ContextTooLong, Engine, Request

# An Engine, or a stand-in that loads one on first use (hosted.HostedModel).
EngineLike = Engine | Any

MAX_REQUEST_BYTES = 4_000_000
POLL_S = 0.5
BOUNDS = httpd.Bounds(max_body=MAX_REQUEST_BYTES, max_connections=256, drain_s=2.0)
PREPARERS = 4  # threads that tokenize prompts (and load the model, the first time)


class LocalServer:
    """`with LocalServer(engine, name) as server:` serves `server.url` until the block ends."""

    def __init__(
        self,
        engine: EngineLike,
        name: str,
        host: str = "127.0.0.1",
        *,
        port: int = 0,
        log: Path | None = None,
        bounds: httpd.Bounds = BOUNDS,
    ) -> None:
        self.engine, self.name, self.log = engine, name, log
        self.calls = 0
        self._log_lock = threading.Lock()
        sock = socket.create_server((host, port), backlog=128)  # bound here: errors are now
        self._address: tuple[str, int] = sock.getsockname()[:2]
        self._pool = ThreadPoolExecutor(PREPARERS, thread_name_prefix="sia-serve-prepare")
        self._endpoint = httpd.Endpoint(
            sock,
            self._route,
            self._refused,
            error_body=lambda status, message: protocols.error("openai", status, message),
            bounds=bounds,
            name="sia-serve",
        )

    @property
    def url(self) -> str:
        host, port = self._address
        return f"http://{host}:{port}/v1"

    def start(self) -> LocalServer:
        self._endpoint.start()
        return self

    def close(self) -> None:
        self._endpoint.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, n: int, r: Request, started: float) -> None:
        """One JSON line per request in the log file, if any."""
        line = {"call": n, "adapter": r.adapter, "prompt_tokens": r.prompt_tokens,
                "max_tokens": r.max_tokens, "completion_tokens": r.completion_tokens,
                "finish_reason": r.finish_reason, "error": str(r.error) if r.error else None,
                "caller_left": r.cancelled.is_set(),
                "seconds": round(time.monotonic() - started, 3)}  # fmt: skip
        self._write(line)

    def _refused(self, status: int, message: str) -> None:
        self._write({"refused": message[:500], "status": status})

    def _write(self, line: dict[str, Any]) -> None:
        if self.log is None:
            return
        with self._log_lock, self.log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def adapter_of(self, model: Any) -> str | None:
        name = str(model or "")
        if "@" in name:
            name = name.rsplit("@", 1)[1]
        return name if self.engine.has_adapter(name) else None

    def models(self) -> dict[str, Any]:
        ctx = self.engine.context
        ids = [self.name]
        entry: dict[str, Any] = {"object": "model", "max_model_len": ctx}
        if structured_output():
            entry["structured_output"] = ["json_schema", "json_object", "regex", "grammar"]
        return {"object": "list", "data": [{"id": i, **entry} for i in ids]}

    def request_of(self, body: dict[str, Any]) -> Request:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("`messages` must be a non-empty list")
        asked = body.get("max_tokens", body.get("max_completion_tokens"))
        if asked is not None and (not isinstance(asked, int) or isinstance(asked, bool)
                                  or asked < 1):  # fmt: skip
            raise ValueError("`max_tokens` must be a positive integer")
        temperature = body.get("temperature", 1.0)
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            raise ValueError("`temperature` must be a number from 0 to 2")
        default = max(1, self.engine.context - len(self.engine.prompt_ids(messages)))
        structured = grammar_of(body)
        matcher = None
        if structured is not None:
            try:
                matcher = self.engine.matcher(structured[1])
            except ValueError as exc:
                raise ValueError(f"`{structured[0]}`: {exc}") from None
        return Request(
            messages=messages,
            max_tokens=default if asked is None else asked,
            temperature=float(temperature),
            adapter=self.adapter_of(body.get("model")),
            matcher=matcher,
        )

    def _submit(self, body: dict[str, Any], done: threading.Event, pieces: Any) -> Request:
        """Tokenize and queue a request (on a preparing thread: the first one loads the
        model); a request the engine cannot take raises ValueError."""
        try:
            request = self.request_of(body)
        except (ValueError, ContextTooLong, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        request.done = done
        if body.get("stream"):
            request.on_text = pieces
        try:
            self.engine.submit(request)
        except (ValueError, ContextTooLong, KeyError, TypeError) as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        return request

    async def _route(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path.rstrip("/")
        if request.method == "GET" and path in ("/v1/models", "/models"):
            return httpd.json_reply(200, await self._prepared(self.models))
        if request.method != "POST" or path != "/v1/chat/completions":
            message = f"no endpoint {request.method} {path[:200]}"
            return httpd.json_reply(404, protocols.error("openai", 404, message))
        body = await httpd.read_json(request, self._endpoint.bounds)
        body = body if isinstance(body, dict) else {}
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        queue: asyncio.Queue[str] = asyncio.Queue()
        try:
            r = await self._prepared(
                self._submit, body, _Done(loop, finished), _threadsafe(loop, queue.put_nowait)
            )
        except ValueError as exc:
            raise httpd.Refused(400, str(exc)) from None
        self.calls += 1
        n, started = self.calls, time.monotonic()
        try:
            if body.get("stream"):
                return await self._stream(request, r, queue, finished=finished, n=n)
            await _wait(request, r, finished)
            return self._reply(r, n)
        finally:
            await asyncio.shield(finished)  # the engine drops a cancelled request quickly
            self.record(n, r, started)

    async def _prepared(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _reply(self, r: Request, n: int) -> web.StreamResponse:
        if r.error is not None:
            message = f"generation failed: {httpd.one_line(r.error)}"
            return httpd.json_reply(500, protocols.error("openai", 500, message))
        if r.finish_reason == "cancelled":  # the caller is gone; nothing to answer
            return httpd.json_reply(499, protocols.error("openai", 499, "cancelled"), True)
        usage = {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens}
        return httpd.json_reply(
            200, protocols.openai_reply(n, self.name, r.text, finish=r.finish_reason, usage=usage)
        )

    async def _stream(
        self,
        request: web.BaseRequest,
        r: Request,
        pieces: asyncio.Queue[str],
        *,
        finished: asyncio.Future[None],
        n: int,
    ) -> web.StreamResponse:
        out = web.StreamResponse(status=200, headers={"Cache-Control": "no-cache"})
        out.content_type = "text/event-stream"
        out.force_close()  # the stream ends when the connection does
        base = {"id": f"sia-local-{n}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": self.name}  # fmt: skip
        try:
            await out.prepare(request)
            await _event(out, {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
            while not (finished.done() and pieces.empty()):
                if _gone(request):
                    r.cancelled.set()
                try:
                    piece = await asyncio.wait_for(pieces.get(), POLL_S)
                except TimeoutError:
                    continue
                await _event(out, {**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
            usage = {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                     "total_tokens": r.prompt_tokens + r.completion_tokens}  # fmt: skip
            end = {"index": 0, "delta": {}, "finish_reason": r.finish_reason}
            await _event(out, {**base, "choices": [end], "usage": usage})
            await out.write(b"data: [DONE]\n\n")
        except (OSError, RuntimeError):  # the caller went away: stop generating for it
            r.cancelled.set()
        return out


class _Done(threading.Event):
    """A request's `done` that also wakes the event loop (the engine sets it from its thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, finished: asyncio.Future[None]) -> None:
        super().__init__()
        self._wake = _threadsafe(loop, lambda: finished.done() or finished.set_result(None))

    def set(self) -> None:
        super().set()
        self._wake()


def _threadsafe(loop: asyncio.AbstractEventLoop, fn: Any) -> Any:
    """`fn` called on the loop's thread, from any thread; nothing once the loop is closed."""

    def call(*args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the server stopped
            loop.call_soon_threadsafe(fn, *args)

    return call


async def _wait(request: web.BaseRequest, r: Request, finished: asyncio.Future[None]) -> None:
    while not finished.done():
        if _gone(request):
            r.cancelled.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(finished), POLL_S)


def _gone(request: web.BaseRequest) -> bool:
    """Whether the caller closed its end."""
    transport = request.transport
    return transport is None or transport.is_closing()


async def _event(out: web.StreamResponse, data: dict[str, Any]) -> None:
    await out.write(f"data: {json.dumps(data)}\n\n".encode())
