"""Content parts that make the model's client fetch something: an image or file named by URL
(litellm downloads `image_url` URLs for Anthropic models itself, from this machine and outside
the sandbox's network namespace: a way out for data) or by a provider's file id. Unless the
task allows them (`[agent] allow_content_urls`), the gateway refuses a request that holds one;
inline data (a `data:` URL, base64) is always fine."""

from __future__ import annotations

from typing import Any

HINT = (
    "send the data inline (a data: URL or base64) instead; a task that needs URLs sets "
    "[agent] allow_content_urls = true"
)


def remote_part(messages: Any) -> str | None:
    """What the first part naming a URL or a file in `messages` is, or None. Walks the whole
    structure (tool results nest content too) without recursion: a body nested a thousand deep
    must not raise here."""
    stack: list[Any] = [messages]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            found = _names_remote(node)
            if found:
                return found
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return None


def _names_remote(part: dict[str, Any]) -> str | None:
    kind = part.get("type")
    source = part.get("source")
    if isinstance(source, dict) and source.get("type") in ("url", "file"):
        return f"a {kind or 'content'} block whose source is a {source['type']}"  # Anthropic
    image = part.get("image_url")
    if image is not None:
        url = image.get("url") if isinstance(image, dict) else image
        if not _inline(url, plain=False):  # litellm fetches anything but a data: URL
            return "an image_url part with a URL"
    if kind == "input_audio" and isinstance(part.get("input_audio"), dict):
        audio = part["input_audio"]
        if "url" in audio or not _inline(audio.get("data", "")):
            return "an input_audio part with a URL"
    if kind == "file" and isinstance(part.get("file"), dict):
        file = part["file"]
        if file.get("file_id") is not None or not _inline(file.get("file_data", "")):
            return "a file part naming a file id or URL"
    return None


def _inline(value: Any, plain: bool = True) -> bool:
    """Whether a part's payload is the data itself (a data: URL, or with `plain` base64 text
    with no scheme), not a pointer to it."""
    if not isinstance(value, str):
        return False
    head = value.lstrip()[:64].lower()
    if head.startswith("data:"):
        return True
    return plain and ":" not in head  # base64 has no colon; every URL scheme does
