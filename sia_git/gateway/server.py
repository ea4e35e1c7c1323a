"""The gateway server: OpenAI-compatible chat completions (streamed too) and Anthropic-compatible
messages on a Unix socket, alive for one sandboxed run. The socket is bind-mounted into the
sandbox, where relay.py serves it on 127.0.0.1 for standard SDKs; the key stays in this process.
Whatever model an agent names, the run's target model answers (the log records the name asked).

Every call is appended to a JSON-lines log outside the sandbox (it becomes `gateway.jsonl` in
the candidate's trace, so a trace exists even when an agent logs nothing), and its cost goes to
the run's budget like any other call.
"""

from __future__ import annotations

import json
import shutil
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from sia_git import tmpfiles
from sia_git.gateway import protocols
from sia_git.llm.client import BudgetExhausted, ModelClient, ModelError

MAX_REQUEST_BYTES = 1_000_000
MAX_LOGGED_CHARS = 8_000
HELPER = Path(__file__).with_name("sia_gateway.py")
RELAY = Path(__file__).with_name("relay.py").read_text(encoding="utf-8")
ROUTES = {
    "/v1/chat/completions": "openai",
    "/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/messages": "anthropic",
}


class Gateway:
    """`with Gateway(client, log) as gw:` serves on `gw.socket` until the block ends."""

    def __init__(
        self,
        client: ModelClient,
        log_path: Path,
        max_calls: int = 200,
        on_call: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.log_path = log_path
        self.max_calls = max_calls
        self.on_call = on_call  # hears the number of calls answered so far (live progress)
        self.calls = 0
        self.cost_usd = 0.0
        self._lock = threading.Lock()
        # A short path: Unix socket paths are limited to ~107 bytes.
        self._dir = Path(tempfile.mkdtemp(prefix=tmpfiles.prefix("gw")))
        self.socket = self._dir / "gw.sock"
        self._server = socketserver.ThreadingUnixStreamServer(str(self.socket), _handler(self))
        # The agent may run as its own uid (sia-git as root): it must be able to connect. Only
        # the sandbox's bind reaches the socket; its folder stays 0700.
        self.socket.chmod(0o666)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def handle(self, body: dict[str, Any], api: str = "openai") -> tuple[int, dict[str, Any]]:
        """Serve one request in `api`'s format (openai or anthropic); return the HTTP status
        and the JSON reply."""
        with self._lock:
            self.calls += 1
            n = self.calls
        started = time.monotonic()
        entry: dict[str, Any] = {"call": n, "api": api, "request": _shown(body)}
        entry["served_by"] = self.client.profile.model  # with a served model: its adapter
        if body.get("model"):
            entry["requested_model"] = str(body["model"])[:200]  # always the run's model
        if api == "anthropic":
            messages, asked = protocols.from_anthropic(body)
        else:
            messages, asked = body.get("messages"), body.get("max_tokens")
            asked = asked if isinstance(asked, int) else body.get("max_completion_tokens")
        temperature = body.get("temperature")
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            temperature = None  # the run's setting (an agent's self-consistency votes need theirs)
        else:
            entry["temperature"] = temperature
        status, reply = self._answer(messages, asked, n, entry, api, temperature)
        entry.update(status=status, duration_s=round(time.monotonic() - started, 3))
        with self._lock:
            self.cost_usd += entry.get("cost_usd", 0.0)
            with self.log_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            answered = self.calls
        if self.on_call is not None:
            self.on_call(answered)
        return status, reply

    def _answer(
        self,
        messages: Any,
        asked: Any,
        n: int,
        entry: dict[str, Any],
        api: str,
        temperature: float | None = None,
    ) -> tuple[int, dict[str, Any]]:
        if not isinstance(messages, list) or not messages:
            return _error(entry, 400, "`messages` must be a non-empty list", api)
        if n > self.max_calls:
            return _error(entry, 429, f"call limit reached ({self.max_calls} per run)", api)
        limit = (
            min(asked, self.client.profile.max_tokens)
            if isinstance(asked, int) and (asked > 0)
            else None
        )
        try:
            reply = self.client.chat(messages, max_tokens=limit, temperature=temperature)
        except BudgetExhausted as exc:
            return _error(entry, 429, f"budget exhausted: {exc}", api)
        except ModelError as exc:
            entry["cost_usd"] = exc.cost_usd
            return _error(entry, 502, str(exc), api)
        usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        entry.update(reply=reply.content[:MAX_LOGGED_CHARS], cost_usd=reply.cost_usd, usage=usage)
        make = protocols.anthropic_reply if api == "anthropic" else protocols.openai_reply
        model = self.client.profile.model
        return 200, make(n, model, reply.content, reply.finish_reason or "stop", usage)


def _error(
    entry: dict[str, Any], status: int, message: str, api: str = "openai"
) -> tuple[int, dict[str, Any]]:
    entry["error"] = message
    return status, protocols.error(api, status, message)


def _shown(body: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(body.get("messages"))
    return {
        "messages": text
        if len(text) <= MAX_LOGGED_CHARS
        else text[:MAX_LOGGED_CHARS] + "[... cut]",
        "max_tokens": body.get("max_tokens"),
    }


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass  # every call is logged by Gateway.handle instead

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                model = gateway.client.profile.model
                self._send(200, {"object": "list", "data": [{"id": model, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no endpoint {self.path}"}})

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            size = int(self.headers.get("Content-Length") or 0)
            api = ROUTES.get(self.path.split("?")[0].rstrip("/"))
            if api is None:
                self._send(404, {"error": {"message": f"no endpoint {self.path}"}})
            elif size > MAX_REQUEST_BYTES:
                self.close_connection = True  # the unread body would be taken for a request
                self._send(413, protocols.error(api, 413, "request too large"))
            else:
                try:
                    body = json.loads(self.rfile.read(size) or b"{}")
                except ValueError:
                    self._send(400, protocols.error(api, 400, "body is not JSON"))
                    return
                body = body if isinstance(body, dict) else {}
                status, reply = gateway.handle(body, api)
                if body.get("stream") and status == 200:
                    stream = (
                        protocols.anthropic_stream
                        if api == "anthropic"
                        else (protocols.openai_stream)
                    )
                    self._send_raw(status, stream(reply), "text/event-stream")
                else:
                    self._send(status, reply)

        def _send_raw(self, status: int, payload: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _send(self, status: int, data: dict[str, Any]) -> None:
            self._send_raw(status, json.dumps(data).encode(), "application/json")

    return Handler
