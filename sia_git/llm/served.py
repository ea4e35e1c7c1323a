"""What an OpenAI-compatible server says about itself in /models: its context length and
whether it enforces structured output. Asked once per server and remembered."""

from __future__ import annotations

from typing import Any

_served: dict[str, dict[str, Any]] = {}


def _served_model(api_base: str) -> dict[str, Any]:
    """The first model an OpenAI-compatible server lists in /models ({} when it cannot be
    asked), asked once per server."""
    if api_base not in _served:
        import json
        import urllib.request

        found: dict[str, Any] = {}
        try:
            url = api_base.rstrip("/") + "/models"
            with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310 (the user's endpoint)
                data = json.loads(r.read(1_000_000))
            first = data["data"][0]
            found = first if isinstance(first, dict) else {}
        except Exception:  # not a server that answers /models
            found = {}
        _served[api_base] = found
    return _served[api_base]


def served_context(api_base: str) -> int | None:
    """The context length an OpenAI-compatible server states in /models (`max_model_len`, as
    vLLM and `sia-git serve` write it); None when it states none or cannot be asked."""
    try:
        return int(_served_model(api_base).get("max_model_len") or 0) or None
    except (TypeError, ValueError):
        return None


def served_structured(api_base: str) -> bool:
    """Whether the server says in /models that it enforces JSON schemas (`sia-git serve`
    does; vLLM, llama.cpp and Ollama do too but do not say so: their profiles set
    `structured_output`)."""
    return "json_schema" in (_served_model(api_base).get("structured_output") or [])
