"""Model profiles: which model a role uses, where it is served, which environment variable holds
its key (the NAME only: keys are read at call time and never stored), and its limits."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sia_git.core.errors import SiaError


class ModelProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=4096, ge=16, le=1_000_000)
    timeout_s: float = Field(default=120.0, gt=0)
    retries: int = Field(default=4, ge=0, le=20)
    backoff_s: float = Field(default=2.0, ge=0, le=600)
    max_reply_chars: int = Field(default=1_000_000, ge=1000)
    # Prices for models litellm's price map does not know (local servers are free by default).
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    # How fast the model writes (tokens/s), e.g. 10 for a small model on a CPU: a call's timeout
    # then grows with its max_tokens, so a slow server is not abandoned while it still works.
    tokens_per_s: float | None = Field(default=None, gt=0)
    # The longest a streamed reply may take (then it is cut, as if at max_tokens): for models
    # without a declared speed; a slow CPU model that rambles costs minutes per call otherwise.
    max_reply_s: float = Field(default=90.0, gt=0)
    # Tokens the model takes in (prompt and reply), when litellm does not know the model.
    context_window: int | None = Field(default=None, ge=512)
    # Stream replies (a live token count; a call given up on closes its stream, so the server
    # stops generating). Default: for models litellm does not know (local servers).
    stream: bool | None = None
    # How the Feedback-Agent edits: tool calls, or the text protocol (models without tools).
    edit_format: Literal["tools", "text"] | None = None
    # Whether the server enforces a JSON schema given as `response_format` (vLLM, llama.cpp's
    # server, Ollama): a model that cannot edit code then fills knob forms that always parse.
    # Unset: asked of the server (`sia-git serve` says so in /v1/models).
    structured_output: bool | None = None

    def call_timeout(self, max_tokens: int) -> float:
        """Seconds to wait for one reply: `timeout_s`, or longer for a slow model's long one."""
        if self.tokens_per_s is None:
            return self.timeout_s
        return max(self.timeout_s, 1.5 * max_tokens / self.tokens_per_s + 30)

    def api_key(self) -> str | None:
        """The key, read from the environment now; None lets litellm use its provider default."""
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if not value:
                raise SiaError(
                    f"model {self.model}: environment variable {self.api_key_env} "
                    "(its api_key_env) is not set"
                )
            return value
        # An OpenAI-compatible local server needs no key, but the client insists on one.
        return "no-key" if self.api_base else None


def resolve(
    name: str,
    profiles: dict[str, ModelProfile],
    api_base: str | None = None,
    *,
    api_key_env: str | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
) -> ModelProfile:
    """A profile by name, or a litellm model string; flags given on the command line win."""
    base = profiles.get(name) or ModelProfile(model=name)
    updates = {
        k: v
        for k, v in {
            "api_base": api_base,
            "api_key_env": api_key_env,
            "timeout_s": timeout_s,
            "retries": retries,
        }.items()
        if v is not None
    }
    profile = base.model_copy(update=updates)
    profile.api_key()  # a missing key is a configuration error: say so before any work starts
    return profile
