"""The run's worktree: where the run branch is checked out, inside .git, never the user's."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git.core import faults
from sia_git.core.errors import SiaError

if TYPE_CHECKING:
    from sia_git.core.redact import Redactor


class Worktrees:
    """Worktree operations of `Repo` (gitrepo/__init__.py), which provides `git`."""

    redactor: Redactor

    def git(self, *args: str, **kwargs: Any) -> str:
        raise NotImplementedError

    def ensure_worktree(self, path: Path, branch: str) -> None:
        """Check the run branch out in its own worktree (the user's checkout is never used)."""
        self.git("worktree", "prune")
        for where, ref in self._checkouts():
            if ref == f"refs/heads/{branch}" and Path(where).resolve() != path.resolve():
                raise SiaError(
                    f"branch {branch} is checked out at {where}; switch that checkout "
                    "to another branch first (sia-git works on the run branch in its "
                    "own worktree, and moving it under your checkout would break it)"
                )
        if (path / ".git").exists():
            self.sync_worktree(path)
            return
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.git("worktree", "add", "--quiet", str(path), branch)

    def _checkouts(self) -> list[tuple[str, str]]:
        """(worktree path, checked-out ref) for every worktree of the repository."""
        out, where = [], ""
        for line in self.git("worktree", "list", "--porcelain").splitlines():
            if line.startswith("worktree "):
                where = line.split(" ", 1)[1]
            elif line.startswith("branch "):
                out.append((where, line.split(" ", 1)[1]))
        return out

    def sync_worktree(self, path: Path) -> None:
        """Make the worktree match its branch tip, clearing what a killed git left behind."""
        gitdir = Path(self.git("rev-parse", "--git-dir", cwd=path).strip())
        gitdir = gitdir if gitdir.is_absolute() else path / gitdir
        for leftover in ("index.lock", "REVERT_HEAD", "MERGE_MSG", "sequencer"):
            target = gitdir / leftover
            if target.is_dir():
                shutil.rmtree(target)
            else:
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
        self.git("reset", "--hard", "--quiet", "HEAD", cwd=path)
        self.git("clean", "-fdq", cwd=path)

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
        return self.git("rev-parse", "HEAD", cwd=worktree).strip()

    def remove_worktree(self, path: Path) -> None:
        """Remove a run's worktree (its branch and commits stay); a folder git no longer knows
        is deleted all the same."""
        self.git("worktree", "remove", "--force", str(path), check=False)
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        self.git("worktree", "prune")

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
