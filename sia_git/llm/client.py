"""Every model call sia-git makes goes through here, and only this module imports litellm.

One `chat()` call: reserve the worst-case cost against the budget, call with a timeout, retry
with backoff on rate limits, server errors and timeouts, stop at once on authentication errors,
refuse oversized replies, and settle the real cost (litellm's price map, or the profile's own
prices for models the map does not know).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sia_git.llm.budget import Budget, BudgetExhausted
from sia_git.llm.profiles import ModelProfile
from sia_git.llm.served import served_context, served_structured

__all__ = [
    "BudgetExhausted",
    "ChatReply",
    "ModelAuthError",
    "ModelClient",
    "ModelError",
    "check_model",
    "litellm",
]


class ModelError(Exception):
    """A call failed for good (after retries): the candidate that made it fails, the run goes on."""

    def __init__(self, message: str, cost_usd: float = 0.0) -> None:
        super().__init__(message)
        self.cost_usd = cost_usd  # what the failed call still cost (an oversized reply is paid)


class ModelAuthError(ModelError):
    """The provider refused the key: every later call would fail too, so the run stops."""


@dataclass
class ChatReply:
    content: str
    tool_calls: list[dict[str, Any]]  # [{"id", "name", "arguments" (raw JSON text)}]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cut: str = ""  # when finish_reason is "length": which limit cut the reply, and what to change


_import_lock = threading.Lock()
_live = threading.local()


@contextlib.contextmanager
def live_tokens(callback: Callable[[int], None]) -> Iterator[None]:
    """Within the block, this thread's streamed calls report their reply's tokens so far."""
    _live.callback = callback
    try:
        yield
    finally:
        _live.callback = None


def litellm() -> Any:
    """Import litellm with its offline settings: it must not fetch a price map or phone home."""
    with _import_lock:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm as lib

        lib.suppress_debug_info = True
        lib.telemetry = False
        return lib


def context_window(profile: ModelProfile) -> int | None:
    """Tokens the model takes in: the profile's `context_window`, else litellm's model info."""
    if profile.context_window:
        return profile.context_window
    try:
        info = litellm().get_model_info(model=profile.model)
        return int(info.get("max_input_tokens") or info.get("max_tokens") or 0) or None
    except Exception:  # an unknown model: its server may say (vLLM and `sia-git serve` do)
        return served_context(profile.api_base) if profile.api_base else None


def count_tokens(model: str, messages: list[dict[str, Any]]) -> int:
    try:
        return int(litellm().token_counter(model=model, messages=messages))
    except Exception:
        return sum(len(str(m.get("content") or "")) for m in messages) // 3


def supports_tools(model: str) -> bool | None:
    """Whether litellm knows `model` to take tool calls; None when it does not know the model
    (a local server's, a new one): the first reply tells."""
    lib = litellm()
    try:
        lib.get_model_info(model=model)
    except Exception:  # litellm raises several types for a model it does not know
        return None
    try:
        return bool(lib.supports_function_calling(model=model))
    except Exception:
        return None


def check_model(profile: ModelProfile, role: str) -> None:
    """Reject a model string litellm cannot route, before any work starts."""
    from sia_git.core.errors import SiaError

    lib = litellm()
    try:
        lib.get_llm_provider(profile.model, api_base=profile.api_base)
    except Exception as exc:  # litellm raises several types for an unroutable name
        raise SiaError(
            f"{role}: litellm cannot call model '{profile.model}' "
            f"({str(exc).splitlines()[0][:160]}); use provider/model, e.g. "
            "openai/gpt-4o-mini, or a profile name"
        ) from None


PROMPT_MARGIN = 1.25  # servers count prompts up to a quarter above litellm's estimate
PROMPT_SLACK = 64  # tokens a chat template may add around the messages


@dataclass
class ModelClient:
    profile: ModelProfile
    budget: Budget
    sleep: Any = field(default=time.sleep, repr=False)  # replaced in tests of the backoff
    auth_error: str | None = None  # set once the provider refuses the key: the run must stop
    # The largest ratio seen of the server's prompt token count to litellm's estimate: servers
    # count differently (chat templates, tokenizers), and the budget's worst case must not miss.
    prompt_ratio: float = PROMPT_MARGIN
    _known: bool | None = field(default=None, repr=False)  # whether litellm knows the model
    measured_tps: float | None = None  # tokens/s of the last long streamed reply

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        *,
        temperature: float | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> ChatReply:
        """`response_format`: OpenAI's structured output (a JSON schema), for servers that
        enforce it (`structured()`)."""
        lib = litellm()
        limit = self._paced(max_tokens or self.profile.max_tokens)
        estimate = self._prompt_tokens(lib, messages, tools)
        reservation = self.budget.reserve(self._worst_case(lib, estimate, limit))
        cost, _live.cut = 0.0, ""
        try:
            response = self._call_with_retries(
                lib, messages, tools, limit=limit, temperature=temperature, fmt=response_format
            )
            reply = self._reply(lib, response)
            cost = reply.cost_usd
            if reply.prompt_tokens and estimate:
                self.prompt_ratio = max(self.prompt_ratio, reply.prompt_tokens / estimate)
            return reply
        finally:
            self.budget.settle(reservation, cost)

    def _call_with_retries(
        self,
        lib: Any,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        limit: int,
        temperature: float | None = None,
        fmt: dict[str, Any] | None = None,
    ) -> Any:
        p = self.profile
        kwargs: dict[str, Any] = {
            "model": p.model,
            "messages": messages,
            "temperature": p.temperature if temperature is None else temperature,
            "max_tokens": limit,
            "timeout": p.call_timeout(limit),
            "num_retries": 0,
            "max_retries": 0,
        }
        if p.api_base:
            kwargs["api_base"] = p.api_base
        key = p.api_key()
        if key:
            kwargs["api_key"] = key
        if tools:
            kwargs["tools"] = tools
        if fmt is not None:
            kwargs["response_format"] = fmt
        for attempt in range(p.retries + 1):
            try:
                if self._streams():
                    return self._streamed(lib, kwargs, limit)
                return lib.completion(**kwargs)
            except (lib.AuthenticationError, lib.PermissionDeniedError) as exc:
                self.auth_error = (
                    f"{p.model} refused the credentials ({_status(exc)}): check "
                    f"{p.api_key_env or 'the provider key variable'}"
                )
                raise ModelAuthError(self.auth_error) from None
            except (
                lib.RateLimitError,
                lib.InternalServerError,
                lib.ServiceUnavailableError,
                lib.APIConnectionError,
                lib.Timeout,
                lib.BadGatewayError,
            ) as exc:
                if attempt == p.retries:
                    raise ModelError(
                        f"{p.model}: {_describe(exc, p.api_base)} after {attempt + 1} attempt(s)"
                    ) from None
                self.sleep(p.backoff_s * (2**attempt) * (0.5 + random.random() / 2))  # noqa: S311
            except lib.APIError as exc:
                raise ModelError(f"{p.model}: {_describe(exc, p.api_base)}") from None
            except Exception as exc:  # a reply litellm cannot parse, among others
                raise ModelError(
                    f"{p.model}: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200] if str(exc) else ''}"
                ) from None
        raise AssertionError("unreachable")

    def _paced(self, limit: int) -> int:
        """`limit`, or fewer tokens when a model measured slow could not write them within a
        call's time (`max_reply_s`): asking for less than it would be cut at leaves room
        for the prompt and keeps the budget's worst case honest."""
        p = self.profile
        if p.tokens_per_s is not None or self.measured_tps is None:
            return limit
        return min(limit, max(256, int(self.measured_tps * p.max_reply_s)))

    def structured(self) -> bool:
        """Whether replies can be constrained to a JSON schema (`response_format`)."""
        p = self.profile
        if p.structured_output is not None:
            return p.structured_output
        return bool(p.api_base) and served_structured(str(p.api_base))

    def _streams(self) -> bool:
        if self.profile.stream is not None:
            return self.profile.stream
        if self._known is None:
            self._known = supports_tools(self.profile.model) is not None
        return not self._known

    def _streamed(self, lib: Any, kwargs: dict[str, Any], limit: int) -> Any:
        """One call, streamed: the reply's tokens are counted as they come (shown live). A reply
        still streaming at its time limit (`call_timeout` with a declared speed, else
        `max_reply_s`) is cut there: the stream is closed, which stops the server's work on it,
        and what was written is kept as a reply cut off at its length. A server that sends
        nothing for `timeout_s` fails the call (the read timeout), and it is retried."""
        p = self.profile
        allowed = p.call_timeout(limit) if p.tokens_per_s else p.max_reply_s
        cut_at = time.monotonic() + allowed
        kwargs = {**kwargs, "timeout": p.timeout_s, "stream": True}
        stream = lib.completion(**kwargs, stream_options={"include_usage": True})
        chunks, tokens, cut, first = [], 0, False, 0.0
        report = getattr(_live, "callback", None)
        try:
            for chunk in stream:
                chunks.append(chunk)
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is not None and (delta.content or delta.tool_calls):
                    tokens += 1
                    first = first or time.monotonic()
                    if report is not None and tokens % 8 == 1:
                        report(tokens)
                if time.monotonic() > cut_at:
                    cut = True
                    break
        finally:
            stream.close()
        if report is not None:
            report(tokens)
        if tokens >= 32:  # enough to say how fast the model writes
            self.measured_tps = tokens / max(time.monotonic() - first, 1e-3)
        response = lib.stream_chunk_builder(chunks, messages=kwargs["messages"])
        if cut:
            response.choices[0].finish_reason = "length"
            setting = "tokens_per_s" if p.tokens_per_s else "max_reply_s"
            _live.cut = (
                f"cut by time: {allowed:.0f} s at {tokens} tokens, below max_tokens {limit} "
                f"(raise the model profile's {setting}"
                + ("" if p.tokens_per_s else ", or set tokens_per_s to the model's speed")
                + ")"
            )
        return response

    def _reply(self, lib: Any, response: Any) -> ChatReply:
        choice = response.choices[0]
        msg = choice.message
        content = msg.content or ""
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments or ""}
            for c in (getattr(msg, "tool_calls", None) or [])
        ]
        size = len(content) + sum(len(c["arguments"]) for c in calls)
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = self._cost(lib, response, prompt, completion=completion)
        if size > self.profile.max_reply_chars:
            self.budget.settle(0.0, cost)
            raise ModelError(
                f"{self.profile.model}: reply of {size:,} characters is over the "
                f"limit of {self.profile.max_reply_chars:,}",
                cost,
            )
        finish = choice.finish_reason or "stop"
        cut, _live.cut = getattr(_live, "cut", ""), ""
        if finish == "length" and not cut:
            cut = f"cut at max_tokens ({completion or '?'} tokens written)"
        return ChatReply(content, calls, finish, prompt, completion, cost, cut)

    def _cost(self, lib: Any, response: Any, prompt: int, *, completion: int) -> float:
        p = self.profile
        if p.input_cost_per_token is not None or p.output_cost_per_token is not None:
            return prompt * (p.input_cost_per_token or 0) + completion * (
                p.output_cost_per_token or 0
            )
        try:
            return float(lib.completion_cost(completion_response=response) or 0.0)
        except Exception:  # a model missing from the price map costs what the profile says: 0
            return 0.0

    def _prompt_tokens(
        self, lib: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> int:
        try:
            return int(lib.token_counter(model=self.profile.model, messages=messages, tools=tools))
        except Exception:
            return sum(len(str(m.get("content") or "")) for m in messages) // 3 + 1000

    def _worst_case(self, lib: Any, estimate: int, limit: int) -> float:
        """The most a call can cost: the prompt as the server may count it (the estimate times
        the largest ratio seen, at least PROMPT_MARGIN) plus `limit` tokens of reply."""
        if self.budget.limit_usd is None:
            return 0.0
        prompt = math.ceil(estimate * self.prompt_ratio) + PROMPT_SLACK
        p = self.profile
        if p.input_cost_per_token is not None or p.output_cost_per_token is not None:
            return prompt * (p.input_cost_per_token or 0) + limit * (p.output_cost_per_token or 0)
        try:
            a, b = lib.cost_per_token(model=p.model, prompt_tokens=prompt, completion_tokens=limit)
            return float(a) + float(b)
        except Exception:
            return 0.0

    def priced(self) -> bool:
        """Whether this model's calls have a price (else a budget cannot limit them)."""
        p = self.profile
        if p.input_cost_per_token is not None or p.output_cost_per_token is not None:
            return True
        try:
            litellm().cost_per_token(model=p.model, prompt_tokens=1, completion_tokens=1)
            return True
        except Exception:
            return False


def _status(exc: Exception) -> str:
    code = getattr(exc, "status_code", None)
    return f"HTTP {code}" if code else type(exc).__name__


def _describe(exc: Exception, api_base: object) -> str:
    first = (str(exc).splitlines() or [""])[0]
    # litellm reports a server that is not there as an HTTP 500 "InternalServerError".
    if type(exc).__name__ == "APIConnectionError" or "Connection error" in first:
        where = f"the model server at {api_base}" if api_base else "the provider"
        return f"cannot connect to {where} (is it running, and is the address right?)"
    return f"{_status(exc)}: {first[:200]}"
