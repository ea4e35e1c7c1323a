"""`sia-git reviews [N]`: the local forge's reviews (pull requests kept in refs/sia/reviews/)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git.forges.local import LocalForge
from sia_git.gitrepo import open_repo


def run(repo_path: Path, number: int | None, as_json: bool) -> None:
    forge = LocalForge(open_repo(repo_path))
    if number is not None:
        data = forge.show(number)
        if as_json:
            click.echo(json.dumps(data, indent=1))
            return
        click.echo(f"#{data['number']} [{data['state']}] {data['head']} -> {data['base']}")
        click.echo(f"{data['title']}\n\n{data['body']}")
        for i, comment in enumerate(data["comments"], start=1):
            click.echo(f"\n--- comment {i}\n{comment}")
        return
    reviews = forge.list()
    if as_json:
        click.echo(json.dumps(reviews, indent=1))
        return
    if not reviews:
        click.echo("no local reviews (sia-git pr opens them)")
    for r in reviews:
        comments = f"  ({len(r['comments'])} comments)" if r["comments"] else ""
        click.echo(f"#{r['number']:<4} {r['state']:7} {r['head']} -> {r['base']}  {r['title']}"
                   f"{comments}")  # fmt: skip
