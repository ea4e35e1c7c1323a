"""Call the run's language model from inside the sia-git sandbox.

The sandbox has no network and no keys. sia-git serves an OpenAI-compatible endpoint on a Unix
socket (its path is in $SIA_GATEWAY) while the agent runs; sia-git holds the key, logs every
call into the generation's trace and charges it to the run's budget.

    import sia_gateway
    if sia_gateway.available():
        answer = sia_gateway.chat("Is 'delightful' positive or negative? One word.")

Standard library only, so any agent can import it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket

ENV = "SIA_GATEWAY"


class GatewayError(RuntimeError):
    """The gateway refused or failed the call (no model configured, budget spent, ...)."""


def available() -> bool:
    """Whether a model gateway is running for this agent."""
    path = os.environ.get(ENV, "")
    return bool(path) and os.path.exists(path)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def complete(messages: list[dict], max_tokens: int = 512, timeout: float = 300.0) -> dict:
    """One chat completion; returns the OpenAI-shaped response as a dict."""
    if not available():
        raise GatewayError("no model gateway: the run has no --target-model configured")
    conn = _UnixConnection(os.environ[ENV], timeout)
    try:
        body = json.dumps({"messages": messages, "max_tokens": max_tokens})
        conn.request(
            "POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        data = json.loads(response.read() or b"{}")
    finally:
        conn.close()
    if response.status != 200:
        message = data.get("error", {}).get("message", f"HTTP {response.status}")
        raise GatewayError(f"gateway: {message}")
    return data


def chat(prompt: str | list[dict], max_tokens: int = 512, timeout: float = 300.0) -> str:
    """The reply text for a prompt (a string, or a list of chat messages)."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    data = complete(messages, max_tokens=max_tokens, timeout=timeout)
    return data["choices"][0]["message"].get("content") or ""
