"""An OpenAI-compatible HTTP endpoint on 127.0.0.1 for a model served by `Engine`: what
`sia-git serve` runs, and what `--target-model` starts for a local model (the run's gateway
then calls it like any server). A request's `model` picks the weights: the served name (or
anything unknown) is the base model, `<name>@<adapter>` or a bare adapter name one of its
adapters. `/v1/models` states the context length (`max_model_len`, as vLLM does), so clients
can fit their prompts. A caller that hangs up is noticed within half a second and its request
is dropped from the batch, not generated to the end.
"""

from __future__ import annotations

import contextlib
import json
import queue
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sia_git.gateway import protocols
from sia_git.localmodel.engine import ContextTooLong, Engine, Request

# An Engine, or a stand-in that loads one on first use (hosted.HostedModel).
EngineLike = Engine | Any

MAX_REQUEST_BYTES = 4_000_000
POLL_S = 0.5


class LocalServer:
    """`with LocalServer(engine, name) as server:` serves `server.url` until the block ends."""

    def __init__(
        self,
        engine: EngineLike,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Path | None = None,
    ) -> None:
        self.engine, self.name, self.log = engine, name, log
        self.calls = 0
        self._log_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, n: int, r: Request, started: float) -> None:
        """One JSON line per request in the log file, if any."""
        if self.log is None:
            return
        line = {"call": n, "adapter": r.adapter, "prompt_tokens": r.prompt_tokens,
                "max_tokens": r.max_tokens, "completion_tokens": r.completion_tokens,
                "finish_reason": r.finish_reason, "error": str(r.error) if r.error else None,
                "caller_left": r.cancelled.is_set(),
                "seconds": round(time.monotonic() - started, 3)}  # fmt: skip
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
        return {
            "object": "list",
            "data": [{"id": i, "object": "model", "max_model_len": ctx} for i in ids],
        }

    def request_of(self, body: dict[str, Any]) -> Request:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("`messages` must be a non-empty list")
        asked = body.get("max_tokens") or body.get("max_completion_tokens")
        temperature = body.get("temperature", 1.0)
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            raise ValueError("`temperature` must be a number from 0 to 2")
        default = max(1, self.engine.context - len(self.engine.prompt_ids(messages)))
        return Request(
            messages=messages,
            max_tokens=int(asked) if isinstance(asked, int) and asked > 0 else default,
            temperature=float(temperature),
            adapter=self.adapter_of(body.get("model")),
        )


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, server.models())
            else:
                self._send(404, protocols.error("openai", 404, f"no endpoint {self.path}"))

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            size = int(self.headers.get("Content-Length") or 0)
            if self.path.split("?")[0].rstrip("/") not in ("/v1/chat/completions",):
                self._send(404, protocols.error("openai", 404, f"no endpoint {self.path}"))
                return
            if size > MAX_REQUEST_BYTES:
                self.close_connection = True
                self._send(413, protocols.error("openai", 413, "request too large"))
                return
            try:
                body = json.loads(self.rfile.read(size) or b"{}")
                request = server.request_of(body if isinstance(body, dict) else {})
                stream = bool(body.get("stream"))
                pieces: queue.Queue[str] = queue.Queue()
                if stream:
                    request.on_text = pieces.put
                server.engine.submit(request)
            except (ValueError, ContextTooLong, KeyError) as exc:
                self._send(400, protocols.error("openai", 400, str(exc).strip("'\"")))
                return
            server.calls += 1
            n, started = server.calls, time.monotonic()
            if stream:
                self._stream(request, pieces, n)
            else:
                self._wait(request)
                self._reply(request, n)
            request.done.wait()
            server.record(n, request, started)

        def _wait(self, request: Request) -> None:
            while not request.done.wait(POLL_S):
                if _hung_up(self.connection):
                    request.cancelled.set()

        def _reply(self, r: Request, n: int) -> None:
            if r.error is not None:
                self._send(500, protocols.error("openai", 500, f"generation failed: {r.error}"))
            elif r.finish_reason != "cancelled":
                usage = {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens}
                self._send(
                    200, protocols.openai_reply(n, server.name, r.text, r.finish_reason, usage)
                )

        def _stream(self, r: Request, pieces: queue.Queue[str], n: int) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.close_connection = True  # the stream ends when the connection does
            self.end_headers()
            base = {"id": f"sia-local-{n}", "object": "chat.completion.chunk",
                    "created": int(time.time()), "model": server.name}  # fmt: skip
            try:
                self._event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
                while not (r.done.is_set() and pieces.empty()):
                    try:
                        piece = pieces.get(timeout=POLL_S)
                    except queue.Empty:
                        if _hung_up(self.connection):
                            r.cancelled.set()
                        continue
                    self._event({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
                usage = {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                         "total_tokens": r.prompt_tokens + r.completion_tokens}  # fmt: skip
                end = {"index": 0, "delta": {}, "finish_reason": r.finish_reason}
                self._event({**base, "choices": [end], "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except OSError:  # the caller went away: stop generating for it
                r.cancelled.set()

        def _event(self, data: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        def _send(self, status: int, data: dict[str, Any]) -> None:
            payload = json.dumps(data).encode()
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

    return Handler


def _hung_up(conn: socket.socket) -> bool:
    """Whether the caller closed its end (readable, and nothing to read)."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
