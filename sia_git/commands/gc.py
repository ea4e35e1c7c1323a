"""`sia-git gc`: remove what finished runs and killed processes left on disk: run worktrees,
scratch space, temporary folders. Never a branch, a ref or a note: the runs stay whole."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import click

from sia_git.core import tmpfiles
from sia_git.core.pids import pid_alive
from sia_git.gitrepo import open_repo
from sia_git.gitrepo.worktrees import kept_line
from sia_git.store.lock import RunLock

_EVAL = re.compile(r"eval-(\d+)$")


def run(repo_path: Path, dry_run: bool, as_json: bool) -> None:
    repo = open_repo(repo_path)
    locks = repo.sia_dir / "locks"
    removed: list[str] = []
    kept: list[str] = []
    saved: list[str] = []  # what people left in worktrees, kept under refs
    for kind in ("worktrees", "scratch"):
        folder = repo.sia_dir / kind
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            owner = _EVAL.match(path.name)
            busy = (
                pid_alive(int(owner.group(1)))
                if owner
                else RunLock.holder(locks, path.name) is not None
            )
            if busy:
                kept.append(f"{kind}/{path.name} (in use)")
                continue
            changes = kind == "worktrees" and repo.changed(path) is not None
            note = " (its changes kept under refs/sia-kept/)" if changes else ""
            removed.append(f"{kind}/{path.name}{note}")
            if dry_run:
                continue
            if kind == "worktrees":
                if ref := repo.remove_worktree(path):
                    saved.append(kept_line(path, ref))
            else:
                shutil.rmtree(path, ignore_errors=True)
    temporary = [] if dry_run else [str(p) for p in tmpfiles.sweep()]
    if as_json:
        click.echo(json.dumps({"removed": removed, "kept": kept, "temporary": temporary,
                               "dry_run": dry_run}, indent=2))  # fmt: skip
        return
    verb = "would remove" if dry_run else "removed"
    for item in removed:
        click.echo(f"{verb} .git/sia/{item}")
    for item in temporary:
        click.echo(f"{verb} {item}")
    for item in kept:
        click.echo(f"kept .git/sia/{item}")
    for line in saved:
        click.echo(line)
    if not (removed or temporary):
        click.echo("nothing to remove")
