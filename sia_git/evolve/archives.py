"""Folders as bytes and back: what travels through Ray (an agent and its inputs to a worker,
its outputs back, a candidate's outputs to a trusted node for scoring).

The format is sia-git's own and small: a magic, then per entry its name, kind and size, then
its bytes, the whole compressed with zlib. tarfile did the same job with a header to parse and
a filter to run per member in Python, for every candidate's outputs, on the driver's critical
path on a Ray cluster (docs/SCALING.md). Only folders and regular files
travel (a link is left out); a name that is absolute, climbs out with `..` or is otherwise not
a plain relative path is refused on unpacking, as tarfile's "data" filter refused it: an
agent's outputs are untrusted.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zlib
from pathlib import Path, PurePosixPath

from sia_git.core.errors import SiaError

OUTPUT_BYTES = 1 << 30  # what one archive may hold (an agent's work/ and logs, a task)
MAGIC = b"SIA-ARCHIVE-1\n"
_HEAD = struct.Struct(">HBQ")  # name length, kind, data length
_DIR, _FILE, _EXEC = 0, 1, 2
_OUTSIDE = "not a path inside its folder"


def pack(folder: Path, names: list[str]) -> bytes:
    """`names` under `folder` (files, or folders with all under them), as one archive."""
    out = [MAGIC]
    size = 0
    for name in names:
        for rel, kind, path in _entries(folder, name):
            data = path.read_bytes() if kind != _DIR else b""
            size += len(data)
            if size > OUTPUT_BYTES:
                raise SiaError(
                    f"{folder} holds more than {OUTPUT_BYTES >> 20} MB to send through Ray"
                )
            encoded = rel.encode("utf-8", errors="surrogateescape")
            out += [_HEAD.pack(len(encoded), kind, len(data)), encoded, data]
    return zlib.compress(b"".join(out), 1)


def _entries(folder: Path, name: str) -> list[tuple[str, int, Path]]:
    top = folder / name
    if top.is_symlink() or not top.exists():
        return []
    if not top.is_dir():
        return [(_relative(folder, top), _kind(top), top)]
    found: list[tuple[str, int, Path]] = []
    for root, dirs, files in os.walk(top):
        here = Path(root)
        if here != folder:
            found.append((_relative(folder, here), _DIR, here))
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        for f in files:
            path = here / f
            if not path.is_symlink() and path.is_file():
                found.append((_relative(folder, path), _kind(path), path))
    return found


def _relative(folder: Path, path: Path) -> str:
    return path.relative_to(folder).as_posix()


def _kind(path: Path) -> int:
    return _EXEC if path.stat().st_mode & stat.S_IXUSR else _FILE


def unpack(data: bytes, dest: Path) -> None:
    """Write an archive made by `pack` under `dest`; a name that would leave `dest` is
    refused with SiaError (nothing past it is written)."""
    dest.mkdir(parents=True, exist_ok=True)
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(data, OUTPUT_BYTES + len(MAGIC) + 1)
    except zlib.error:
        raw = b""
    if inflate.unconsumed_tail or not raw.startswith(MAGIC):
        raise SiaError("an archive from a Ray node is not one sia-git made, or too large")
    pos = len(MAGIC)
    root = dest.resolve()
    checked: set[Path] = set()  # folders already known to lie inside root
    made: set[Path] = {root}  # folders known to exist (targets are built on root)
    while pos < len(raw):
        if pos + _HEAD.size > len(raw):
            raise SiaError("an archive from a Ray node is cut short")
        n, kind, size = _HEAD.unpack_from(raw, pos)
        pos += _HEAD.size
        name = raw[pos : pos + n].decode("utf-8", errors="surrogateescape")
        body = raw[pos + n : pos + n + size]
        pos += n + size
        if len(body) != size:
            raise SiaError("an archive from a Ray node is cut short")
        target = _inside(root, name, checked)
        try:
            _write(target, kind, body, made=made)
        except OSError as exc:  # e.g. a file and a folder of one name
            if exc.errno == errno.ELOOP:  # a link where the file goes: never written through
                raise SiaError(f"an archive from a Ray node names {name!r}: {_OUTSIDE}") from None
            raise SiaError(
                f"an archive from a Ray node cannot be written as {name!r}: {exc.strerror}"
            ) from None


def _write(target: Path, kind: int, body: bytes, *, made: set[Path]) -> None:
    """One entry; a folder is made once per archive, and a file opened without following
    a link at its name (O_NOFOLLOW: ELOOP), its mode set on the open file."""
    folder = target if kind == _DIR else target.parent
    if folder not in made:
        if folder.is_symlink():
            raise OSError(errno.ELOOP, "a link")
        folder.mkdir(parents=True, exist_ok=True)
        made.add(folder)
    if kind == _DIR:
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, 0o755 if kind == _EXEC else 0o644)
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _inside(root: Path, name: str, checked: set[Path]) -> Path:
    """Where `name` goes under `root`; SiaError for a name that is not a plain relative path
    or that a link already under `root` would carry elsewhere. `checked`: folders resolved
    before (each is resolved once per archive, not once per file)."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("..", "") for p in parts) or "\0" in name:
        raise SiaError(f"an archive from a Ray node names {name!r}: {_OUTSIDE}")
    target = root.joinpath(*parts)
    parent = target.parent
    if parent not in checked:
        if not parent.resolve().is_relative_to(root):
            raise SiaError(f"an archive from a Ray node names {name!r}: {_OUTSIDE}")
        checked.add(parent)
    return target
