"""Structured output for the local model: a request may ask for a JSON schema (OpenAI's
`response_format`), any JSON object, a regex or a grammar (vLLM's `guided_*` fields, llama.cpp's
`grammar`), and every token that would leave it is masked before the model picks one, so the
reply always parses (unless `max_tokens` cuts it first: then `finish_reason` is "length").

The masks come from llguidance (guidance-ai's Rust engine behind vLLM's and llama.cpp's
structured output): it reads a Hugging Face tokenizer directly and needs no GPU. Rows of one
batch each carry their own grammar, or none.
"""

from __future__ import annotations

import json
from typing import Any

# The request fields that ask for structured output, and the llguidance format each one is in.
_FIELDS = {
    "guided_json": "json_schema",
    "guided_regex": "regex",
    "guided_grammar": "grammar",  # Lark or GBNF
    "guided_choice": "choice",
    "grammar": "grammar",  # llama.cpp's server: GBNF
}


def grammar_of(body: dict[str, Any]) -> tuple[str, str] | None:
    """The request field that asks for structured output and its llguidance grammar, or None;
    a malformed ask raises ValueError naming the field."""
    asked = [(f, body[f]) for f in _FIELDS if body.get(f) is not None]
    fmt = body.get("response_format")
    if fmt is not None:
        schema = _schema_of(fmt)
        if schema is not None:
            asked.append(("response_format", schema))
    if len(asked) > 1:
        raise ValueError(f"ask for one structured output, not {', '.join(f for f, _ in asked)}")
    if not asked:
        return None
    field, value = asked[0]
    kind = "json_schema" if field == "response_format" else _FIELDS[field]
    if kind in ("json_schema", "choice") and not isinstance(value, str):
        value = json.dumps(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{field}` must not be empty")
    llguidance = _library()
    try:
        return field, str(llguidance.grammar_from(kind, value))  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`{field}` is not a valid {kind}: {exc}") from None


def structured_output() -> bool:
    """Whether this install can constrain replies (llguidance is there)."""
    import importlib.util

    return importlib.util.find_spec("llguidance") is not None


def _library() -> Any:
    try:
        import llguidance
    except ImportError:
        raise ValueError(
            "structured output needs llguidance on the server: pip install 'sia-git[weights]'"
        ) from None
    return llguidance


def _schema_of(fmt: Any) -> Any:
    """The JSON schema an OpenAI `response_format` asks for (None for plain text)."""
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ValueError("`response_format.json_schema.schema` must be a JSON schema object")
        return schema
    raise ValueError("`response_format.type` must be text, json_object or json_schema")


class Grammars:
    """Matchers for one model's tokenizer: `start(grammar)` checks a grammar and returns a fresh
    matcher for one reply; `Masker` applies them during generation."""

    def __init__(self, hf_tokenizer: Any) -> None:
        import llguidance.hf

        self.tokenizer = llguidance.hf.from_tokenizer(hf_tokenizer)

    def start(self, grammar: str) -> Any:
        import llguidance

        failed, problems = llguidance.LLMatcher.validate_grammar_with_warnings(
            grammar, self.tokenizer
        )
        if failed:
            first = problems[0].strip().splitlines()[0] if problems else "invalid"
            raise ValueError(f"the grammar cannot be used: {first}")
        matcher = llguidance.LLMatcher(self.tokenizer, grammar)
        if matcher.is_error():
            raise ValueError(f"the grammar cannot be used: {matcher.get_error()}")
        return matcher


class Masker:
    """A transformers logits processor for one batch: before each token, a row with a matcher
    may only pick a token its grammar allows (the end of the reply once the grammar is done)."""

    def __init__(self, matchers: list[Any], width: int, eos: int) -> None:
        self.matchers, self.width, self.eos = matchers, width, eos
        self.fed = [0] * len(matchers)  # reply tokens each matcher has consumed

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import llguidance.torch as lt

        mask = lt.allocate_token_bitmask(len(self.matchers), scores.shape[-1])
        for i, m in enumerate(self.matchers):
            if m is None:
                continue
            reply = input_ids[i, self.width :]
            while self.fed[i] < len(reply) and not m.is_stopped():
                m.consume_token(int(reply[self.fed[i]]))
                self.fed[i] += 1
            if m.is_stopped() or m.is_error():
                scores[i, :] = float("-inf")
                scores[i, self.eos] = 0.0  # the grammar is complete: only the end remains
                continue
            lt.fill_next_token_bitmask(m, mask, i)
            lt.apply_token_bitmask_inplace(scores[i : i + 1], mask[i : i + 1])
        return scores
