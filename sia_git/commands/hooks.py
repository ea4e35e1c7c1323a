"""`sia-git hooks install`: sia-git's gates as a pre-commit hook in this repository."""

from __future__ import annotations

from pathlib import Path

import click

from sia_git.gates.precommit import HOOK_FILES, install
from sia_git.gitrepo import open_repo


def run_install(repo_path: Path) -> None:
    repo = open_repo(repo_path)
    path, existed = install(repo.root)
    click.echo(
        f"{'updated' if existed else 'wrote'} {path}: sia-git's gates (ruff, bandit, "
        f"semgrep, secrets) run on agent files ({HOOK_FILES}) at every commit, next to "
        "your own hooks, and on every candidate of a run."
    )
    click.echo(
        "installed the pre-commit git hook; commit the config to share it "
        "(`sia-git` must be on PATH when you commit)"
    )
