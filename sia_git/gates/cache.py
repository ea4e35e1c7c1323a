"""Gate results cached by blob SHA: a file whose content, gate version and rules are unchanged
is never scanned twice. One small JSON file per (gate key, blob); written atomically, so
concurrent runs and kills leave either a whole entry or none."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def blob_sha(data: bytes) -> str:
    """The id git gives this content (`git hash-object`), computed without running git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def default_dir(start: Path) -> Path:
    """Inside the repository's .git when `start` is in one (shared with runs), else the user's
    cache folder."""
    here = start.resolve()
    for folder in (here, *here.parents):
        git = folder / ".git"
        if git.is_dir():
            return git / "sia" / "gate-cache"
        if git.is_file():  # a worktree or submodule: .git names the real folder
            text = git.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                gitdir = (folder / text.split(":", 1)[1].strip()).resolve()
                common = gitdir / "commondir"
                if common.is_file():
                    gitdir = (gitdir / common.read_text().strip()).resolve()
                return gitdir / "sia" / "gate-cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sia-git" / "gate-cache"


class Cache:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, key: str, sha: str) -> Path:
        assert self.folder is not None
        return self.folder / key / sha[:2] / f"{sha}.json"

    def get(self, key: str, sha: str) -> list[dict[str, Any]] | None:
        if self.folder is None:
            return None
        try:
            return json.loads(self._path(key, sha).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, sha: str, findings: list[dict[str, Any]]) -> None:
        if self.folder is None:
            return
        import tempfile

        path = self._path(key, sha)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(findings, f)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs time
