"""The wire formats the gateway speaks: OpenAI chat completions (plain and streamed as
server-sent events) and Anthropic messages, both answered by the run's one target model."""

from __future__ import annotations

import json
import time
from typing import Any


def from_anthropic(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int | None]:
    """An Anthropic /v1/messages request as chat messages and its max_tokens."""
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        out.append({"role": "system", "content": _text(system)})
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") in ("user", "assistant"):
            out.append({"role": m["role"], "content": _text(m.get("content", ""))})
    limit = body.get("max_tokens")
    return out, limit if isinstance(limit, int) else None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif isinstance(block, dict):
                parts.append(f"[{block.get('type', 'block')} not supported by the gateway]")
        return "\n".join(parts)
    return str(content)


def openai_reply(n: int, model: str, content: str, *, finish: str, usage: dict[str, int]) -> dict:
    return {
        "id": f"sia-gw-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]},
    }


def openai_stream(reply: dict) -> bytes:
    """A finished reply as the chunks a streaming client reads."""
    base = {k: reply[k] for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"
    choice = reply["choices"][0]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                              "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": choice["message"]["content"]},
                              "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
         "usage": reply["usage"]},
    ]  # fmt: skip
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


_STOP = {"stop": "end_turn", "length": "max_tokens"}


def anthropic_reply(n: int, model: str, content: str, *, finish: str, usage: dict) -> dict:
    return {
        "id": f"msg_sia_gw_{n}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": content}],
        "stop_reason": _STOP.get(finish, "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": usage["prompt_tokens"],
                  "output_tokens": usage["completion_tokens"]},
    }  # fmt: skip


def anthropic_stream(reply: dict) -> bytes:
    head = {
        **reply,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": reply["usage"]["input_tokens"], "output_tokens": 0},
    }
    events = [
        ("message_start", {"type": "message_start", "message": head}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta",
                                           "text": reply["content"][0]["text"]}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": reply["stop_reason"], "stop_sequence": None},
                           "usage": {"output_tokens": reply["usage"]["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events)


def error(api: str, status: int, message: str) -> dict:
    if api == "anthropic":
        return {"type": "error", "error": {"type": "api_error", "message": message}}
    return {"error": {"message": message, "code": status}}
