"""Folders as bytes and back: what travels through Ray (an agent and its inputs to a worker,
its outputs back, a candidate's outputs to a trusted node for scoring)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from sia_git.core.errors import SiaError

OUTPUT_BYTES = 1 << 30  # what one archive may hold (an agent's work/ and logs, a task)


def pack(folder: Path, names: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name in names:
            tar.add(folder / name, arcname=name)
    if buf.tell() > OUTPUT_BYTES:
        raise SiaError(f"{folder} holds more than {OUTPUT_BYTES >> 20} MB to send through Ray")
    return buf.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    """Extract an archive made by `pack`; the "data" filter refuses links or paths that would
    leave `dest` (an agent's outputs are untrusted)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
