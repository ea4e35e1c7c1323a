"""Trees on a base, many at once, in a few git processes: a generation's candidate trees.

A temporary index took four git processes per tree (read-tree, hash-object, update-index,
write-tree), and a generation records a tree per candidate, all on the run's tip: those
processes were most of the driver's recording time per candidate (docs/SCALING.md). Here the
base's trees along the changed paths are read once (`cat-file --batch`), each new tree is
computed in Python (git's tree format, its object ids), and every new blob and every new tree
is written by one `hash-object` each, whatever the number of trees. git checks what it writes
(`hash-object -t tree` refuses a malformed tree) and must print the ids computed here.

A path written is a regular file (100644), as in an index; None deletes a file; a folder left
empty goes, as it would from an index.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sia_git.core import tmpfiles

TREE_MODE = b"40000"
FILE_MODE = b"100644"
Entry = tuple[bytes, bytes]  # (mode, raw 20-byte id)
Git = Callable[..., str]


class ObjectMismatch(Exception):
    """git computed another object id than this module: a bug here, never written over."""


def object_id(kind: str, data: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data, usedforsecurity=False).hexdigest()


def make_trees(
    git: Git,
    run: Callable[[list[str], bytes], bytes],
    *,
    base: str | None,
    changes: list[dict[str, bytes | None]],
) -> list[str]:
    """One tree per entry of `changes`, each `base` (a commit or tree, or None) with those
    paths written (blobs already redacted) or deleted. `git` runs git for text, `run` for
    bytes (argv, stdin -> stdout)."""
    blobs = {object_id("blob", c): c for files in changes for c in files.values() if c is not None}
    folders = sorted({str(p) for files in changes for path in files
                      for p in PurePosixPath(path).parents})  # fmt: skip
    old = _read_base(run, base, folders) if base else {}
    made: dict[str, bytes] = {}
    roots = [_build(".", _layout(files), old=old, made=made) for files in changes]
    write_objects(git, "blob", blobs)
    write_objects(git, "tree", made)
    return roots


def _read_base(
    run: Callable[[list[str], bytes], bytes], base: str, folders: list[str]
) -> dict[str, dict[bytes, Entry]]:
    """The base's folders among `folders` ("." the top), by name; a missing one is absent."""
    names = [f"{base}^{{tree}}" if f == "." else f"{base}^{{tree}}:{f}" for f in folders]
    out = run(["cat-file", "--batch"], "".join(n + "\n" for n in names).encode())
    found: dict[str, dict[bytes, Entry]] = {}
    pos = 0
    for folder in folders:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing" or len(header) != 3:
            continue
        size = int(header[2])
        data = out[pos : pos + size]
        pos += size + 1
        if header[1] == b"tree":
            found[folder] = _parse(data)
    return found


def _parse(data: bytes) -> dict[bytes, Entry]:
    entries, pos = {}, 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        entries[data[space + 1 : nul]] = (data[pos:space], data[nul + 1 : nul + 21])
        pos = nul + 21
    return entries


@dataclass
class _Folder:
    files: dict[bytes, bytes | None] = field(default_factory=dict)  # name -> content
    folders: set[str] = field(default_factory=set)  # paths of the subfolders with changes


def _layout(files: dict[str, bytes | None]) -> dict[str, _Folder]:
    """The changes by folder: each folder's own files, and its subfolders that change."""
    out: dict[str, _Folder] = defaultdict(_Folder)
    for path, content in files.items():
        p = PurePosixPath(path)
        out[str(p.parent)].files[p.name.encode()] = content
        for child, parent in itertools.pairwise([p, *p.parents]):
            if child is not p:
                out[str(parent)].folders.add(str(child))
    return out


def _build(
    folder: str,
    layout: dict[str, _Folder],
    *,
    old: dict[str, dict[bytes, Entry]],
    made: dict[str, bytes],
) -> str:
    """The new tree of `folder` (its id; its object, and its new subtrees', into `made`)."""
    entries = dict(old.get(folder, {}))
    here = layout.get(folder) or _Folder()
    for name, content in here.files.items():
        if content is not None:
            entries[name] = (FILE_MODE, bytes.fromhex(object_id("blob", content)))
        elif name in entries and entries[name][0] != TREE_MODE:
            del entries[name]
    for sub in sorted(here.folders):
        name = PurePosixPath(sub).name.encode()
        tree = _build(sub, layout, old=old, made=made)
        if tree == EMPTY_TREE:
            entries.pop(name, None)
        else:
            entries[name] = (TREE_MODE, bytes.fromhex(tree))
    data = b"".join(
        mode + b" " + name + b"\0" + raw
        for name, (mode, raw) in sorted(entries.items(), key=_order)
    )
    tree_id = object_id("tree", data)
    made[tree_id] = data
    return tree_id


def _order(item: tuple[bytes, Entry]) -> bytes:
    """git's order of tree entries: a folder sorts as if its name ended in '/'."""
    name, (mode, _) = item
    return name + b"/" if mode == TREE_MODE else name


EMPTY_TREE = object_id("tree", b"")


def write_objects(git: Git, kind: str, objects: dict[str, bytes]) -> None:
    """Every object in one `hash-object -w` (no filters: the bytes as they are); git's ids
    must be ours."""
    if not objects:
        return
    with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("objects")) as tmp:
        paths = []
        for i, data in enumerate(objects.values()):
            path = Path(tmp) / f"{kind}-{i}"
            path.write_bytes(data)
            paths.append(str(path))
        got = git("hash-object", "-w", "--no-filters", "-t", kind, "--stdin-paths",
                  input="\n".join(paths) + "\n")  # fmt: skip
    if got.split() != list(objects):
        raise ObjectMismatch(f"git hash-object wrote other {kind} ids than sia-git computed")
