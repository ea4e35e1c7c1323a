"""`sia-git pr`: pull requests for a run's generations, or for the run, on a forge."""

from __future__ import annotations

from pathlib import Path

import click

from sia_git import review
from sia_git.commands.common import open_run
from sia_git.forges import make


def run(
    repo_path: Path,
    run_id: str | None,
    mode: str,
    forge_kind: str,
    base: str,
    github_repo: str | None,
    merge: bool,
) -> None:
    repo, hist = open_run(repo_path, run_id)
    forge = make(forge_kind, repo, github_repo)
    reviews = review.publish(forge, repo, hist, mode, base, click.echo)
    if not reviews:
        click.echo("no accepted generation after the first: nothing to review")
    if merge:
        for r in reviews:
            if r.state == "open":
                forge.merge(r)
                click.echo(f"review #{r.number}: merged {r.head} into {r.base}")
