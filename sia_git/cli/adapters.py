"""`sia-git adapters`: LoRA adapters of weights generations."""

from __future__ import annotations

from pathlib import Path

import click

from sia_git.cli.common import json_option, repo_option, run_option


@click.group()
def adapters() -> None:
    """LoRA adapters of weights generations: stored by content hash, on the hub by commit."""


@adapters.command("list")
@run_option
@json_option
@repo_option
def adapters_list(run_id: str | None, as_json: bool, repo: Path) -> None:
    """Every weights generation: its adapter, whether it is stored here, and where on the hub."""
    from sia_git.commands import adapters as cmd

    cmd.list_(repo, run_id, as_json)


@adapters.command("pull")
@click.argument("rev")
@click.option("--hub-repo", help="Hub repo to fetch from (default: the one the run recorded).")
@click.option("--to", type=click.Path(path_type=Path), help="Also copy the adapter here.")
@repo_option
def adapters_pull(rev: str, hub_repo: str | None, to: Path | None, repo: Path) -> None:
    """Get exactly the adapter commit REV was scored with (checked against its hash); print
    the folder."""
    from sia_git.commands import adapters as cmd

    cmd.pull(repo, rev, hub_repo, to=to)


@adapters.command("push")
@run_option
@click.option("--hub-repo", help="Hub repo (user/name) for adapters whose run named none.")
@repo_option
def adapters_push(run_id: str | None, hub_repo: str | None, repo: Path) -> None:
    """Upload adapters still pending (stored while offline, or when the hub failed), with a
    model card, and tag each with its generation's commit SHA."""
    from sia_git.commands import adapters as cmd

    cmd.push(repo, run_id, hub_repo)
