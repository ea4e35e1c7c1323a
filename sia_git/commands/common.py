"""Helpers shared by the read-only commands."""

from __future__ import annotations

from pathlib import Path

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo, open_repo
from sia_git.store import history as H


def open_run(repo_path: Path, run_id: str | None) -> tuple[Repo, H.RunHistory]:
    """The repository and a run's history: the named run, or the newest one."""
    repo = open_repo(repo_path)
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


def match_run(given: str, runs: list[str]) -> str:
    """A run id, or a unique prefix of one (as git takes abbreviated commits)."""
    if given in runs:
        return given
    found = [r for r in runs if r.startswith(given)]
    if len(found) > 1:
        raise SiaError(f"run '{given}' is ambiguous: {', '.join(found[:5])}")
    return found[0] if found else given


def fmt_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
