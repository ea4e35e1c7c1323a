"""Git notes and ref locks of `Repo` (gitrepo/__init__.py): a note per object, or a generation's
notes in one notes commit."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sia_git.gitrepo.errors import GitError

NOTES_REF = "refs/notes/sia"  # the run notes (store/refs.py names it NOTES too)
STALE_LOCK_S = 2.0  # a ref lock this old was left by a killed git


class Notes:
    """Provided by `Repo`: `git`, `make_tree`, `commit`, `update_refs`, `redactor`,
    `common_dir`."""

    common_dir: Path
    redactor: Any

    def git(self, *args: str, **kwargs: Any) -> str:
        raise NotImplementedError

    def make_tree(self, base: str | None, files: dict[str, bytes | None]) -> str:
        raise NotImplementedError

    def commit(self, tree: str, parents: list[str], message: str) -> str:
        raise NotImplementedError

    def update_refs(self, updates: list[tuple[str, str, str | None]]) -> None:
        raise NotImplementedError

    def add_note(self, sha: str, text: str, ref: str = NOTES_REF) -> None:
        def write() -> None:
            self.git("notes", "--ref", ref, "add", "-f", "-F", "-", sha,
                     input=self.redactor.text(text))  # fmt: skip

        self._retrying(ref, write)

    def add_notes(self, notes: dict[str, str], ref: str = NOTES_REF) -> None:
        """Many objects' notes in one notes commit (a generation's candidates): a handful of
        git processes, however many notes, where `add_note` takes one each. Paths fan out as
        git's own do (`ab/cdef...`); git reads a notes tree with any mix of fanouts. Only for
        objects with no note yet (a second note for one object would be joined to the first).
        Another run's notes commit in between: read again and retry."""
        if not notes:
            return
        files: dict[str, bytes | None] = {
            f"{sha[:2]}/{sha[2:]}": text.encode() for sha, text in sorted(notes.items())
        }

        def write() -> None:
            old = self.git("rev-parse", "--verify", "--quiet", ref, check=False).strip() or None
            tree = self.make_tree(old, files)
            new = self.commit(tree, [old] if old else [], "Notes added by sia-git\n")
            self.update_refs([(ref, new, old)])

        self._retrying(ref, write)

    def _retrying(self, ref: str, write: Callable[[], None]) -> None:
        """`write` (one update of `ref`), again while another process holds the ref's lock or
        moved it: runs in one repository share the notes ref. A lock still there after the
        retries was left by a killed git (a live one holds it for milliseconds): it goes."""
        for attempt in range(6):
            try:
                write()
                return
            except GitError:
                if attempt == 5:
                    raise
                if attempt == 4:
                    self.clear_stale_locks([ref], older_than_s=STALE_LOCK_S)
                time.sleep(0.2 * (attempt + 1))

    def clear_stale_locks(self, refs_: list[str], older_than_s: float = 0.0) -> list[str]:
        """Remove the lock files a killed git left on these refs (and a ref folder below them),
        when older than `older_than_s`; return what was removed. Call it only for refs no
        other live process writes (a run's own refs, under its run lock), or with an age."""
        gone = []
        now = time.time()
        for name in refs_:
            path = self.common_dir / name
            found = [Path(f"{path}.lock")] + (list(path.rglob("*.lock")) if path.is_dir() else [])
            for lock in found:
                with contextlib.suppress(FileNotFoundError):
                    if now - lock.stat().st_mtime >= older_than_s:
                        lock.unlink()
                        gone.append(str(lock.relative_to(self.common_dir)))
        return gone

    def note(self, sha: str, ref: str = NOTES_REF) -> str | None:
        out = self.git("notes", "--ref", ref, "show", sha, check=False)
        return out or None
