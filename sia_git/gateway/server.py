"""The gateway server: OpenAI-compatible chat completions (streamed too) and Anthropic-compatible
messages on a Unix socket, alive for one sandboxed run. The socket is bind-mounted into the
sandbox, where relay.py serves it on 127.0.0.1 for standard SDKs; the key stays in this process.
Whatever model an agent names, the run's target model answers (the log records the name asked).

Every call is appended to a JSON-lines log outside the sandbox (it becomes `gateway.jsonl` in
the candidate's trace, so a trace exists even when an agent logs nothing), and its cost goes to
the run's budget like any other call. The agent is not trusted: the HTTP side (httpd.py) bounds
what it can make this process hold, model calls run on a bounded pool (more wait their turn),
content parts that would make the model's client fetch a URL are refused (content.py), and
calls still in flight when the run ends get `drain_s` to finish; the rest are logged as
cancelled, with what they may have cost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from sia_git.core import tmpfiles
from sia_git.gateway import content, httpd, protocols
from sia_git.llm.client import BudgetExhausted, ModelClient, ModelError, count_tokens, litellm
from sia_git.sandbox.intercept import Interception, issue

MAX_REQUEST_BYTES = 1_000_000
MAX_LOGGED_CHARS = 8_000
MAX_CONCURRENT_CALLS = 16  # model calls at once; the others queue (a slow model is not a thread)
DRAIN_S = 30.0
BOUNDS = httpd.Bounds(max_body=MAX_REQUEST_BYTES, max_connections=128, drain_s=DRAIN_S)
HELPER = Path(__file__).parent.parent / "sandbox" / "sia_gateway.py"
RELAY = (HELPER.parent / "relay.py").read_text(encoding="utf-8")
ROUTES = {
    "/v1/chat/completions": "openai",
    "/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/messages": "anthropic",
}
Answer = tuple[int, dict[str, Any]]


@dataclasses.dataclass
class _Call:
    n: int
    api: str
    entry: dict[str, Any]  # what the log shows of the request (set once, before serving)
    messages: Any = None
    asked: Any = None
    temperature: float | None = None
    refusal: tuple[int, str] | None = None
    started: float = dataclasses.field(default_factory=time.monotonic)
    sent: bool = False  # handed to the model client
    recorded: bool = False


class Gateway:
    """`with Gateway(client, log) as gw:` serves on `gw.socket` until the block ends."""

    def __init__(
        self,
        client: ModelClient,
        log_path: Path,
        max_calls: int = 200,
        *,
        on_call: Callable[[int], None] | None = None,
        allow_content_urls: bool = False,
        drain_s: float = DRAIN_S,
        intercept: Iterable[str] | None = None,
    ) -> None:
        self.client = client
        self.log_path = log_path
        self.max_calls = max_calls
        self.on_call = on_call  # hears the number of calls answered so far (live progress)
        self.allow_content_urls = allow_content_urls
        self.calls = 0
        self.cost_usd = 0.0
        self._lock = threading.Lock()
        self._open: dict[int, _Call] = {}
        self._pool = ThreadPoolExecutor(MAX_CONCURRENT_CALLS, thread_name_prefix="sia-gw-call")
        # A short path: Unix socket paths are limited to ~107 bytes.
        self._dir = Path(tempfile.mkdtemp(prefix=tmpfiles.prefix("gw")))
        self.socket = self._dir / "gw.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.socket))
        # The agent may run as its own uid (sia-git as root): it must be able to connect. Only
        # the sandbox's bind reaches the socket; its folder stays 0700.
        self.socket.chmod(0o666)
        sock.listen(128)
        # `intercept`: the hosts an agent's SDK may call by name; the same gateway serves them
        # behind TLS on a second socket, with a certificate of a one-run authority.
        self.tls: Interception | None = None
        self.tls_socket: Path | None = None
        tls = None
        if intercept is not None:
            self.tls = issue(intercept, self._dir)
            self.tls_socket = self._dir / "gw-tls.sock"
            tls = (_listen(self.tls_socket), _server_context(self.tls))
        self._endpoint = httpd.Endpoint(
            sock,
            self._route,
            self._refused,
            error_body=lambda status, message: protocols.error("openai", status, message),
            bounds=dataclasses.replace(BOUNDS, drain_s=drain_s),
            name="sia-gateway",
            tls=tls,
        )

    def __enter__(self) -> Gateway:
        self._endpoint.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._endpoint.stop()  # calls in flight get drain_s to finish, then are cancelled
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)  # queued calls never start
            self._cancel_open()
            shutil.rmtree(self._dir, ignore_errors=True)

    def handle(self, body: dict[str, Any], api: str = "openai") -> Answer:
        """Serve one request in `api`'s format (openai or anthropic); return the HTTP status
        and the JSON reply."""
        return self._serve(self._begin(body, api))

    def _begin(self, body: dict[str, Any], api: str) -> _Call:
        """Count the call and note what it asks; a request that cannot be read is refused when
        served, so it is logged like any other call."""
        with self._lock:
            self.calls += 1
            call = _Call(self.calls, api, {"call": self.calls, "api": api})
        try:
            self._read(call, body)
        except Exception as exc:  # malformed content of any kind: answered 400, logged
            call.refusal = (400, f"malformed request: {httpd.one_line(exc)}")
        with self._lock:
            self._open[call.n] = call
        return call

    def _read(self, call: _Call, body: dict[str, Any]) -> None:
        entry = call.entry
        entry["request"] = _shown(body)
        entry["served_by"] = self.client.profile.model  # with a served model: its adapter
        if body.get("model"):
            entry["requested_model"] = str(body["model"])[:200]  # always the run's model
        if call.api == "anthropic":
            remote = content.remote_part([body.get("system"), body.get("messages")])
            call.messages, call.asked = protocols.from_anthropic(body)
        else:
            call.messages, asked = body.get("messages"), body.get("max_tokens")
            call.asked = asked if isinstance(asked, int) else body.get("max_completion_tokens")
            remote = content.remote_part(call.messages)
        if remote and not self.allow_content_urls:
            call.refusal = (400, f"the request holds {remote}: {content.HINT}")
        temperature = body.get("temperature")
        if isinstance(temperature, int | float) and 0 <= temperature <= 2:
            call.temperature = entry["temperature"] = temperature
        # else the run's setting (an agent's self-consistency votes need theirs)

    def _serve(self, call: _Call) -> Answer:
        with self._lock:
            if call.recorded:  # the run ended before its turn came
                return 499, protocols.error(call.api, 499, "the run ended")
            call.sent = True
        out: dict[str, Any] = {}
        try:
            status, reply = self._answer(call, out)
        except Exception as exc:  # a fault in the model client: the call is still logged
            status, reply = _error(out, 500, f"gateway: {httpd.one_line(exc)}", api=call.api)
        self._record(call, {**out, "status": status})
        return status, reply

    def _answer(self, call: _Call, out: dict[str, Any]) -> Answer:
        api, messages, asked = call.api, call.messages, call.asked
        if call.refusal is not None:
            status, why = call.refusal
            return _error(out, status, why, api=api)
        if not isinstance(messages, list) or not messages:
            return _error(out, 400, "`messages` must be a non-empty list", api=api)
        if not all(isinstance(m, dict) for m in messages):
            return _error(out, 400, "each of `messages` must be an object", api=api)
        if call.n > self.max_calls:
            why = f"call limit reached ({self.max_calls} per run; [agent] max_model_calls)"
            return _error(out, 429, why, api=api)
        limit = self._limit(asked)
        try:
            reply = self.client.chat(messages, max_tokens=limit, temperature=call.temperature)
        except BudgetExhausted as exc:
            return _error(out, 429, f"budget exhausted: {exc}", api=api)
        except ModelError as exc:
            out["cost_usd"] = exc.cost_usd
            return _error(out, 502, str(exc), api=api)
        usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        out.update(reply=reply.content[:MAX_LOGGED_CHARS], cost_usd=reply.cost_usd, usage=usage)
        make = protocols.anthropic_reply if api == "anthropic" else protocols.openai_reply
        model = self.client.profile.model
        finish = reply.finish_reason or "stop"
        return 200, make(call.n, model, reply.content, finish=finish, usage=usage)

    def _limit(self, asked: Any) -> int | None:
        if isinstance(asked, int) and asked > 0:
            return min(asked, self.client.profile.max_tokens)
        return None

    def _record(self, call: _Call, out: dict[str, Any]) -> None:
        with self._lock:
            if call.recorded:  # the run ended first: it is logged as cancelled
                return
            call.recorded = True
            self._open.pop(call.n, None)
            entry = {**call.entry, **out, "duration_s": round(time.monotonic() - call.started, 3)}
            self.cost_usd += entry.get("cost_usd", 0.0)
            self._append(entry)
            answered = self.calls
        if self.on_call is not None:
            self.on_call(answered)

    def _cancel_open(self) -> None:
        """Log the calls the run's end cut off: one never sent cost nothing; one the model
        was still answering is charged its worst case (the run's budget settles the real
        cost when the reply comes, after this log is read)."""
        with self._lock:
            cut = [c for c in self._open.values() if not c.recorded]
            for c in cut:
                c.recorded = True
            self._open.clear()
        for c in sorted(cut, key=lambda c: c.n):
            entry = {**c.entry, "status": "cancelled",
                     "duration_s": round(time.monotonic() - c.started, 3)}  # fmt: skip
            if c.sent:
                entry.update(cost_usd=self._worst_case(c), cost_is="worst case (unanswered)",
                             error="the run ended while the model was answering")  # fmt: skip
            else:
                entry.update(cost_usd=0.0, error="the run ended before the call was sent")
            with self._lock:
                self.cost_usd += entry["cost_usd"]
                self._append(entry)

    def _worst_case(self, call: _Call) -> float:
        """The most a call can cost: its prompt and all the reply it may write, priced."""
        p = self.client.profile
        limit = self._limit(call.asked) or p.max_tokens
        try:
            prompt = count_tokens(p.model, call.messages)
            if p.input_cost_per_token is not None or p.output_cost_per_token is not None:
                return prompt * (p.input_cost_per_token or 0) + limit * (
                    p.output_cost_per_token or 0
                )
            a, b = litellm().cost_per_token(
                model=p.model, prompt_tokens=prompt, completion_tokens=limit
            )
            return float(a) + float(b)
        except Exception:  # a model the price map does not know costs what its profile says: 0
            return 0.0

    def _append(self, entry: dict[str, Any]) -> None:
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def _refused(self, status: int, message: str) -> None:
        """A request refused before it was a call (malformed, too large): one line."""
        with self._lock:
            self._append({"refused": message[:500], "status": status})

    async def _route(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path.rstrip("/")
        if request.method == "GET" and path.endswith("/models"):
            model = self.client.profile.model
            data = {"object": "list", "data": [{"id": model, "object": "model"}]}
            return httpd.json_reply(200, data)
        api = route(path)
        if request.method != "POST" or api is None:
            message = f"no endpoint {request.method} {path[:200]}"
            return httpd.json_reply(404, {"error": {"message": message}})
        try:
            body = await httpd.read_json(request, self._endpoint.bounds)
        except httpd.Refused as r:
            self._endpoint.report(r.status, f"POST {path}: {r.message}")
            return httpd.json_reply(r.status, protocols.error(api, r.status, r.message), True)
        body = body if isinstance(body, dict) else {}
        call = self._begin(body, api)
        loop = asyncio.get_running_loop()
        status, reply = await loop.run_in_executor(self._pool, self._serve, call)
        if body.get("stream") and status == 200:
            stream = protocols.anthropic_stream if api == "anthropic" else protocols.openai_stream
            events = web.Response(status=200, body=stream(reply))
            events.content_type = "text/event-stream"
            return events
        return httpd.json_reply(status, reply)


def route(path: str) -> str | None:
    """The API a request's path speaks. A provider's base URL may carry a prefix of its own
    (`/openai/v1/chat/completions`, `/api/v1/...`): the ending decides."""
    return next((api for end, api in ROUTES.items() if path == end or path.endswith(end)), None)


def _error(out: dict[str, Any], status: int, message: str, *, api: str = "openai") -> Answer:
    out["error"] = message
    return status, protocols.error(api, status, message)


def _shown(body: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(body.get("messages"))
    return {
        "messages": text
        if len(text) <= MAX_LOGGED_CHARS
        else text[:MAX_LOGGED_CHARS] + "[... cut]",
        "max_tokens": body.get("max_tokens"),
    }


def _listen(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    path.chmod(0o666)  # as the main socket: the agent's uid connects through the bind
    sock.listen(128)
    return sock


def _server_context(files: Interception) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files.cert, files.key)
    ctx.set_alpn_protocols(["http/1.1"])  # aiohttp speaks HTTP/1.1 only
    return ctx
