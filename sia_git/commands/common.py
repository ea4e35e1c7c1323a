"""Helpers shared by the read-only commands."""

from __future__ import annotations

from pathlib import Path

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo, open_repo
from sia_git.store import history as H
from sia_git.store.history import match_run

__all__ = ["fmt_score", "match_run", "open_run"]


def open_run(
    repo_path: Path, run_id: str | None, *, write: bool = False
) -> tuple[Repo, H.RunHistory]:
    """The repository and a run's history: the named run, or the newest one. Commands that
    record something (refs, notes, commits) pass `write=True`: .git must be writable."""
    repo = open_repo(repo_path, write=write)
    runs = H.list_runs(repo)
    if run_id is None:
        if not runs:
            raise SiaError(
                "no sia-git runs in this repository; start one with `sia-git evolve --task NAME`"
            )
        run_id = runs[0]
    run_id = match_run(run_id, runs)
    hist = H.load(repo, run_id)
    if not hist.exists:
        known = ", ".join(runs[:5]) or "none"
        raise SiaError(f"unknown run '{run_id}' (runs here: {known})")
    return repo, hist


def fmt_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
