"""Adapters stored by content: `<repo>/.git/sia/adapters/<sha256>/`, never in a worktree.

An adapter's address is the SHA-256 of its files' names and contents, so the same weights always
have the same address and `verify` proves a folder is exactly what a commit was scored with.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from sia_git.core.errors import SiaError

PREFIX = "sha256:"


# Not part of an adapter's weights: the hub's model card, and what hub downloads leave behind.
IGNORED = ("README.md", ".gitattributes", ".cache")


def digest(folder: Path) -> str:
    """`sha256:<hex>` over every file under `folder` (relative path and content)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.split("/")[0] in IGNORED:
            continue
        fh = hashlib.sha256(path.read_bytes()).hexdigest()
        h.update(f"{rel}\0{fh}\n".encode())
    return PREFIX + h.hexdigest()


class AdapterStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, address: str) -> Path:
        if not address.startswith(PREFIX) or len(address) != len(PREFIX) + 64:
            raise SiaError(f"not an adapter address: {address!r} (expected sha256:<64 hex>)")
        return self.root / address.removeprefix(PREFIX)

    def has(self, address: str) -> bool:
        return self.path(address).is_dir()

    def put(self, folder: Path) -> str:
        """Copy `folder` in (atomically: a kill leaves either nothing or the whole adapter) and
        return its address."""
        address = digest(folder)
        dest = self.path(address)
        if dest.is_dir():
            return address
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.root))
        try:
            shutil.copytree(
                folder,
                tmp,
                dirs_exist_ok=True,
                ignore=lambda d, names: [n for n in names if n in IGNORED],
            )
            for p in tmp.rglob("*"):
                if p.is_file():
                    p.chmod(0o444)  # stored adapters are never edited in place
            # Readable by an agent that runs as its own uid (sia-git as root); mkdtemp's is 0700.
            for d in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
                d.chmod(0o755)
            os.rename(tmp, dest)
        except OSError:
            if dest.is_dir():  # another process stored the same adapter first
                shutil.rmtree(tmp, ignore_errors=True)
                return address
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return address

    def get(self, address: str) -> Path:
        """The stored folder, checked against its address."""
        folder = self.path(address)
        if not folder.is_dir():
            raise SiaError(
                f"adapter {short(address)} is not stored here; `sia-git adapters pull` "
                "fetches it from the hub"
            )
        if digest(folder) != address:
            raise SiaError(
                f"the stored adapter {short(address)} does not match its hash "
                f"(damaged?): remove {folder} and pull it again"
            )
        return folder

    def sweep(self) -> None:
        """Remove what a killed `put` left half-copied."""
        for tmp in self.root.glob(".incoming-*"):
            shutil.rmtree(tmp, ignore_errors=True)


def short(address: str) -> str:
    return address[: len(PREFIX) + 12]
