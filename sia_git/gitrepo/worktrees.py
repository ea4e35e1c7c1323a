"""The run's worktree: where the run branch is checked out, inside .git, never the user's."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git.core import faults
from sia_git.core.errors import SiaError

if TYPE_CHECKING:
    from sia_git.core.redact import Redactor


KEPT = "refs/sia-kept/"  # what a person left in a run's worktree (keep_changes)
IN_PROGRESS = ("REVERT_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD")
SYNCED = "sia-synced"  # in a worktree's git dir: the commit sia-git last made its files match


@dataclass(frozen=True)
class Changes:
    base: str  # the commit sia-git last made the worktree match
    tree: str  # the worktree's files as a tree over it
    in_progress: list[str]  # REVERT_HEAD, ... when an operation is under way there


class Worktrees:
    """Worktree operations of `Repo` (gitrepo/__init__.py), which provides `git`."""

    redactor: Redactor

    def git(self, *args: str, **kwargs: Any) -> str:
        raise NotImplementedError

    def ensure_worktree(self, path: Path, branch: str) -> str | None:
        """Check the run branch out in its own worktree (the user's checkout is never used);
        the ref keeping what a person had left in it, if anything (`sync_worktree`)."""
        self.git("worktree", "prune")
        for where, ref in self._checkouts():
            if ref == f"refs/heads/{branch}" and Path(where).resolve() != path.resolve():
                raise SiaError(
                    f"branch {branch} is checked out at {where}; switch that checkout "
                    "to another branch first (sia-git works on the run branch in its "
                    "own worktree, and moving it under your checkout would break it)"
                )
        if (path / ".git").exists():
            return self.sync_worktree(path)
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.git("worktree", "add", "--quiet", str(path), branch)
        self._mark_synced(path)
        return None

    def _checkouts(self) -> list[tuple[str, str]]:
        """(worktree path, checked-out ref) for every worktree of the repository."""
        out, where = [], ""
        for line in self.git("worktree", "list", "--porcelain").splitlines():
            if line.startswith("worktree "):
                where = line.split(" ", 1)[1]
            elif line.startswith("branch "):
                out.append((where, line.split(" ", 1)[1]))
        return out

    def sync_worktree(self, path: Path, *, keep: bool = True) -> str | None:
        """Make the worktree match its branch tip, clearing what a killed git left behind.
        Whatever else was there (a person's edits, new files, a revert being resolved) is
        kept first under a ref (`keep_changes`), never discarded: the ref, or None.
        `keep=False` only right after sia-git's own git command failed there."""
        kept = self.keep_changes(path) if keep else None
        gitdir = self._gitdir(path)
        for leftover in ("index.lock", "REVERT_HEAD", "MERGE_MSG", "sequencer"):
            target = gitdir / leftover
            if target.is_dir():
                shutil.rmtree(target)
            else:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
        self.git("reset", "--hard", "--quiet", "HEAD", cwd=path)
        self.git("clean", "-fdq", cwd=path)
        self._mark_synced(path)
        return kept

    def _gitdir(self, path: Path) -> Path:
        gitdir = Path(self.git("rev-parse", "--git-dir", cwd=path).strip())
        return gitdir if gitdir.is_absolute() else path / gitdir

    def changed(self, path: Path) -> Changes | None:
        """What differs in the worktree at `path` from what sia-git last made it (the commit
        recorded by `_mark_synced`, else its index: sia-git moves the branch under a
        worktree without touching its files), or None when nothing does."""
        if not (path / ".git").exists():
            return None
        gitdir = self._gitdir(path)
        busy = [n for n in IN_PROGRESS if (gitdir / n).exists()]
        mark = gitdir / SYNCED
        base = mark.read_text().strip() if mark.is_file() else ""
        if base:
            base_tree = self.git("rev-parse", f"{base}^{{tree}}", check=False).strip()
        else:
            base = self.git("rev-parse", "HEAD", cwd=path).strip()
            base_tree = self.git("write-tree", cwd=path, check=False).strip()  # its index
        with tempfile.TemporaryDirectory(prefix="sia-kept-") as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", base, cwd=path, env=index)
            self.git("add", "-A", "--", ".", cwd=path, env=index)
            tree = self.git("write-tree", cwd=path, env=index).strip()
        if tree == base_tree and not busy:
            return None
        return Changes(base, tree, busy)

    def keep_changes(self, path: Path) -> str | None:
        """Commit everything in the worktree at `path` that sia-git did not put there (tracked
        edits, untracked files, a conflicted revert's files; not ignored ones) as a child of
        the commit it last synced to, under `refs/sia-kept/<folder>/<n>`, without touching the
        worktree or its index. The ref, or None when there is nothing to keep."""
        found = self.changed(path)
        if found is None:
            return None
        busy = found.in_progress
        what = f"; a {busy[0].split('_')[0].lower()} was in progress" if busy else ""
        sha = self.git("commit-tree", found.tree, "-p", found.base, "-m",
                       f"sia-git kept what was in {path}{what}", cwd=path).strip()  # fmt: skip
        taken = self.git("for-each-ref", "--format=%(refname)", f"{KEPT}{path.name}/").split()
        ref = f"{KEPT}{path.name}/{len(taken) + 1}"
        self.git("update-ref", ref, sha)
        return ref

    def _mark_synced(self, path: Path) -> None:
        """Record the commit the worktree's files now match (what `changed` compares with)."""
        head = self.git("rev-parse", "HEAD", cwd=path).strip()
        (self._gitdir(path) / SYNCED).write_text(head + "\n")

    def revert(self, worktree: Path, sha: str, message: str) -> str:
        """`git revert` a commit in the run's worktree with our message; return the new tip."""
        self.sync_worktree(worktree)
        self.git("revert", "--no-commit", sha, cwd=worktree)
        faults.point("reverting")
        self.git(
            "commit",
            "--quiet",
            "--no-verify",
            "-F",
            "-",
            cwd=worktree,
            input=self.redactor.text(message),
        )
        self._mark_synced(worktree)
        return self.git("rev-parse", "HEAD", cwd=worktree).strip()

    def remove_worktree(self, path: Path) -> str | None:
        """Remove a run's worktree (its branch and commits stay); a folder git no longer knows
        is deleted all the same. What a person left in it is kept first (`keep_changes`):
        the ref, or None."""
        kept = self.keep_changes(path)
        self.git("worktree", "remove", "--force", str(path), check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        self.git("worktree", "prune")
        return kept

    def checked_out_at(self, branch: str) -> Path | None:
        """The worktree where `branch` is checked out, if any."""
        for where, ref in self._checkouts():
            if ref == f"refs/heads/{branch}":
                return Path(where)
        return None

    def fast_forward(self, branch: str, sha: str) -> None:
        """Move `branch` forward to `sha` (a descendant); where it is checked out, as `git merge
        --ff-only` there does, so that checkout's files follow. Never anything else."""
        where = self.checked_out_at(branch)
        if where is None:
            current = self.git("rev-parse", f"refs/heads/{branch}").strip()
            self.git("update-ref", f"refs/heads/{branch}", sha, current)
            return
        if self.git("status", "--porcelain", "--untracked-files=no", cwd=where).strip():
            raise SiaError(
                f"{branch} is checked out at {where} with uncommitted changes; commit or "
                f"stash them, or merge by hand: git merge --ff-only {sha[:10]}"
            )
        self.git("merge", "--ff-only", "--quiet", sha, cwd=where)


def kept_line(path: Path, ref: str) -> str:
    """What to tell a person whose work in a run's worktree was kept under `ref`."""
    return (f"kept the changes found in {path} (not made by sia-git) as {ref}: `git diff "
            f"{ref}~ {ref}` shows them, `git cherry-pick --no-commit {ref}` in a checkout of "
            "the run branch brings them back")  # fmt: skip
