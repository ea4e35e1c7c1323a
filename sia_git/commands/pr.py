"""`sia-git pr`: pull requests for a run's generations, or for the run, on a forge."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git.commands.common import open_run
from sia_git.forges import make, review


def run(
    repo_path: Path,
    run_id: str | None,
    mode: str,
    *,
    forge_kind: str,
    base: str | None,
    github_repo: str | None,
    merge: bool,
    as_json: bool = False,
) -> None:
    repo, hist = open_run(repo_path, run_id, write=True)
    base_branch = review.base_of(repo, base, forge_kind=forge_kind)
    forge = make(forge_kind, repo, github_repo)
    say = (lambda _line: None) if as_json else click.echo
    reviews = review.publish(forge, repo, hist, mode=mode, base_branch=base_branch, say=say)
    if not reviews:
        say("no accepted generation after the first: nothing to review")
    merged = []
    if merge:
        for r in reviews:
            if r.state == "open":
                forge.merge(r)
                merged.append(r.number)
                say(f"review #{r.number}: merged {r.head} into {r.base}")
    if as_json:
        rows = [
            {"number": r.number, "url": r.url, "head": r.head, "base": r.base,
             "state": "merged" if r.number in merged else r.state}
            for r in reviews
        ]  # fmt: skip
        click.echo(json.dumps({"run": hist.run_id, "reviews": rows}, indent=1))
