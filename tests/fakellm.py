"""A scripted OpenAI-compatible chat server on 127.0.0.1 for tests.

It stands in for a model provider (OpenAI, vLLM, Ollama's OpenAI endpoint): litellm talks to it
over real HTTP exactly as it would to a hosted model. A test gives it a `script`, a function from
the request body (and the number of requests seen so far) to a `Reply`; the server records every
request with its headers so tests can check what a model was shown.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    finish_reason: str | None = None
    delay_s: float = 0.0
    raw: bytes | None = None  # sent as the body as it is (a 20 MB reply, broken JSON)
    prompt_tokens: int = 100
    completion_tokens: int = 50


def text(content: str, **kw: Any) -> Reply:
    return Reply(content=content, **kw)


def tool(_name: str, **args: Any) -> Reply:
    return tools((_name, args))


def tools(*calls: tuple[str, dict[str, Any]]) -> Reply:
    return Reply(
        tool_calls=[
            {
                "id": f"call_{i}_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ]
    )


def error(status: int, message: str = "scripted error") -> Reply:
    return Reply(status=status, content=message)


def code_reply(source: str) -> Reply:
    return text(f"Here is the agent.\n\n```python\n{source}```\n")


Script = Callable[[dict[str, Any], int], Reply]


class FakeLLM:
    """`with FakeLLM(script) as llm:` serves on `llm.api_base` until the block ends."""

    def __init__(self, script: Script, port: int = 0) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            n = len(self.requests)
            self.requests.append(body)
            self.headers.append(headers)
        return self.script(body, n)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                size = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(size) or b"{}")
                reply = fake._next(body, dict(self.headers))
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                streamed = bool(body.get("stream")) and reply.raw is None and reply.status == 200
                if streamed:
                    payload, kind = _stream(body, reply), "text/event-stream"
                else:
                    payload = reply.raw if reply.raw is not None else _payload(body, reply)
                    kind = "application/json"
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

        return Handler


def _payload(body: dict[str, Any], r: Reply) -> bytes:
    if r.status != 200:
        return json.dumps(
            {"error": {"message": r.content or "error", "type": "scripted", "code": r.status}}
        ).encode()
    message: dict[str, Any] = {"role": "assistant", "content": r.content}
    if r.tool_calls:
        message["tool_calls"] = r.tool_calls
    finish = r.finish_reason or ("tool_calls" if r.tool_calls else "stop")
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1764100000,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "total_tokens": r.prompt_tokens + r.completion_tokens,
            },
        }
    ).encode()


def _stream(body: dict[str, Any], r: Reply) -> bytes:
    """The reply as a streaming server sends it (as OpenAI and vLLM do): the role, the text,
    each tool call, the finish reason, then the usage."""
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1764100000,
            "model": body.get("model", "fake")}  # fmt: skip
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if r.content:
        deltas.append({"content": r.content})
    for i, call in enumerate(r.tool_calls):
        deltas.append({"tool_calls": [{"index": i, **call}]})
    chunks = [
        {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    finish = r.finish_reason or ("tool_calls" if r.tool_calls else "stop")
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    usage = {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
             "total_tokens": r.prompt_tokens + r.completion_tokens}  # fmt: skip
    chunks.append({**base, "choices": [], "usage": usage})
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"
