"""The first JSON object in a model's free text (replies wrap JSON in prose and fences)."""

from __future__ import annotations

import json
from typing import Any


def first_object(text: str) -> dict[str, Any]:
    """The first JSON object in `text`; ValueError saying what is wrong otherwise."""
    at = text.find("{")
    if at < 0:
        raise ValueError("no JSON object")
    try:
        value, _ = json.JSONDecoder().raw_decode(text[at:])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the JSON object does not parse ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValueError("the JSON is not an object")
    return value
