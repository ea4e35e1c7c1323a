"""The texts one object may hide: itself, reversed, and what its compressed, base64 (standard
or URL-safe) or hex parts decode to, two layers deep, within a byte budget per object."""

from __future__ import annotations

import base64
import binascii
import bz2
import lzma
import re
import zlib
from collections.abc import Iterator

MAX_INPUT = 8 << 20  # objects larger than this are read as they are, never decoded
MAX_OUTPUT = 8 << 20  # decoded bytes per object, all layers together
MAX_DEPTH = 2
MAX_RUNS = 100_000  # encoded runs tried per layer
_B64_LINES = re.compile(r"(?:^[ \t]*[A-Za-z0-9+/_-]{16,}={0,2}[ \t]*(?:\r?\n|\Z)){2,}", re.M)
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){16,}")


def texts(data: bytes) -> Iterator[tuple[str, str]]:
    """(how it was read, text): the object as text first, then each decoded layer."""
    budget = [MAX_OUTPUT]
    yield from _layer(data, "", 0, budget=budget)


def _layer(data: bytes, how: str, depth: int, *, budget: list[int]) -> Iterator[tuple[str, str]]:
    text = data.decode("utf-8", errors="replace")
    yield how, text
    yield _chain("reversed", how), text[::-1]
    if depth >= MAX_DEPTH or len(data) > MAX_INPUT:
        return
    for name, raw in _decoded(data, text, budget[0]):
        budget[0] -= len(raw)
        if budget[0] < 0:
            return
        yield from _layer(raw, _chain(name, how), depth + 1, budget=budget)


def _chain(name: str, how: str) -> str:
    return f"{name} of {how}" if how else name


def _decoded(data: bytes, text: str, room: int) -> Iterator[tuple[str, bytes]]:
    unpacked = _decompress(data, room)
    if unpacked is not None:
        yield unpacked
        return
    seen: set[str] = set()
    runs = [m.group(0) for m in _B64_LINES.finditer(text)]
    compact = "".join(text.split())
    if len(compact) >= 24 and _B64_RUN.fullmatch(compact):
        runs.insert(0, compact)
    runs += [m.group(0) for m in _B64_RUN.finditer(text)]
    for run in runs[:MAX_RUNS]:
        run = "".join(run.split())
        if run not in seen:
            seen.add(run)
            raw = _b64(run)
            if raw is not None:
                yield raw
    for m in list(_HEX_RUN.finditer(text))[:MAX_RUNS]:
        raw = _plausible(("hex", binascii.unhexlify(m.group(0))), room)
        if raw is not None:
            yield raw


def _b64(run: str) -> tuple[str, bytes] | None:
    urlsafe = "-" in run or "_" in run
    padded = run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 4)
    try:
        raw = (
            base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded, validate=True)
        )
    except (binascii.Error, ValueError):
        return None
    return _plausible(("url-safe base64" if urlsafe else "base64", raw), MAX_OUTPUT)


def _plausible(found: tuple[str, bytes], room: int) -> tuple[str, bytes] | None:
    """Decoded bytes worth reading: compressed data, or text."""
    name, raw = found
    unpacked = _decompress(raw, room)
    if unpacked is not None:
        return f"{unpacked[0]} of {name}", unpacked[1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\r\t" for c in text)
    return (name, raw) if text and printable >= 0.95 * len(text) else None


def _decompress(data: bytes, room: int) -> tuple[str, bytes] | None:
    room = min(room, MAX_OUTPUT)
    if room <= 0:  # zlib reads a limit of 0 as none
        return None
    try:
        if data[:2] == b"\x1f\x8b":
            return "gzip", zlib.decompressobj(wbits=31).decompress(data, room)
        if len(data) > 2 and data[0] == 0x78 and (data[0] << 8 | data[1]) % 31 == 0:
            return "zlib", zlib.decompressobj().decompress(data, room)
        if data[:3] == b"BZh":
            return "bz2", bz2.BZ2Decompressor().decompress(data, room)
        if data[:6] == b"\xfd7zXZ\x00":
            return "xz", lzma.LZMADecompressor().decompress(data, room)
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return None
    return None
