"""A conversation with a model: the messages sent, the replies, their cost, and a transcript
(capped and redacted when stored) so a reviewer can read why a change was made."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from sia_git.llm.client import (
    PROMPT_SLACK,
    ChatReply,
    ModelClient,
    ModelError,
    context_window,
    count_tokens,
)

MAX_STORED_MESSAGE = 64_000


@dataclass
class Conversation:
    client: ModelClient
    role: str  # meta | feedback
    messages: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: float = 0.0
    calls: int = 0
    events: list[str] = field(default_factory=list)  # failures and notes, in order

    def system(self, text: str) -> None:
        self.messages.append({"role": "system", "content": text})

    def user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    def tool_result(self, call_id: str, text: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": text})

    def ask(
        self,
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> ChatReply:
        self.calls += 1
        fit = self._fit(tools)
        limit = min(fit, max_tokens) if fit and max_tokens else (max_tokens or fit)
        try:
            reply = self.client.chat(
                self.messages, tools, max_tokens=limit, temperature=temperature,
                response_format=response_format,
            )  # fmt: skip
        except ModelError as exc:
            self.cost_usd += exc.cost_usd
            self.events.append(f"call {self.calls} failed: {exc}")
            raise
        self.cost_usd += reply.cost_usd
        msg: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if reply.tool_calls:
            msg["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for c in reply.tool_calls
            ]
        self.messages.append(msg)
        if reply.finish_reason == "length":
            self.events.append(f"call {self.calls}: the reply was {reply.cut or 'cut off'}")
        return reply

    def _fit(self, tools: list[dict[str, Any]] | None) -> int | None:
        """Keep the prompt and the reply within the model's context: the reply gets at most a
        third of it; older messages are cut from the middle first (the system prompt, the task
        and the last two messages last), and each cut is noted in the transcript."""
        window = context_window(self.client.profile)
        if window is None:
            return None
        reply = min(self.client.profile.max_tokens, max(256, window // 3))
        room = (
            window
            - reply
            - count_tokens(
                self.client.profile.model, [{"role": "system", "content": json.dumps(tools)}]
            )
            if tools
            else window - reply
        )
        order = list(range(2, max(2, len(self.messages) - 2))) + [
            i for i in (len(self.messages) - 2, len(self.messages) - 1, 1, 0)
            if 0 <= i < len(self.messages)
        ]  # fmt: skip
        for i in order:
            # As the server may count it: litellm's tokenizer is not the model's.
            counted = count_tokens(self.client.profile.model, self.messages)
            over = math.ceil(counted * self.client.prompt_ratio) + PROMPT_SLACK - room
            if over <= 0:
                break
            content = self.messages[i].get("content")
            if isinstance(content, str) and len(content) > 400:
                keep = max(200, len(content) - over * 4 - 200)
                self.messages[i]["content"] = _middle_cut(content, keep)
                self.events.append(
                    f"call {self.calls}: cut message {i} ({self.messages[i]['role']}) from "
                    f"{len(content)} to {keep} characters to fit the {window}-token context"
                )
        return reply

    def transcript(self, outcome: str) -> bytes:
        stored = []
        for m in self.messages:
            m = dict(m)
            content = m.get("content")
            if isinstance(content, str):
                m["content"] = _cut(content)
            if "tool_calls" in m:
                m["tool_calls"] = [
                    {
                        **c,
                        "function": {
                            **c["function"],
                            "arguments": _cut(c["function"]["arguments"]),
                        },
                    }
                    for c in m["tool_calls"]
                ]
            stored.append(m)
        return json.dumps(
            {
                "role": self.role,
                "model": self.client.profile.model,
                "calls": self.calls,
                "cost_usd": round(self.cost_usd, 8),
                "outcome": outcome,
                "events": self.events,
                "messages": stored,
            },
            indent=1,
        ).encode()


def _middle_cut(text: str, keep: int) -> str:
    if len(text) <= keep:
        return text
    head, tail = keep // 2, keep - keep // 2
    return f"{text[:head]}\n[... {len(text) - keep} characters cut ...]\n{text[-tail:]}"


def _cut(text: str) -> str:
    if len(text) <= MAX_STORED_MESSAGE:
        return text
    return text[:MAX_STORED_MESSAGE] + f"\n[... {len(text) - MAX_STORED_MESSAGE} characters cut]"
