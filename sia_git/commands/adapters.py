"""`sia-git adapters list|pull|push`: the LoRA adapters of a repository's runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git import settings as configmod
from sia_git.commands.common import fmt_score
from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo, open_repo
from sia_git.store import history as H
from sia_git.store.runs import read_run_toml
from sia_git.weights import publish
from sia_git.weights.hub import Hub
from sia_git.weights.store import short


def _runs(repo: Repo, run_id: str | None) -> list[str]:
    runs = H.list_runs(repo)
    if run_id is not None:
        if run_id not in runs:
            raise SiaError(f"unknown run '{run_id}' (runs here: {', '.join(runs[:5]) or 'none'})")
        return [run_id]
    return runs


def list_(repo_path: Path, run_id: str | None, as_json: bool) -> None:
    repo = open_repo(repo_path)
    rows = publish.listing(repo, publish.trained(repo, _runs(repo, run_id)))
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo("no weights generations in this repository's runs")
        return
    click.echo(
        f"{'run':<34} {'gen':>4} {'commit':<10} {'status':<9} {'score':>7}  "
        f"{'adapter':<19} {'local':<5} hub"
    )
    for r in rows:
        click.echo(
            f"{r['run']:<34} {r['generation']:>4} {r['commit'][:10]:<10} "
            f"{r['status']:<9} {fmt_score(r['score']):>7}  "
            f"{short(r['adapter']):<19} {'yes' if r['local'] else 'no':<5} {r['hub']}"
        )


def pull(repo_path: Path, rev: str, hub_repo: str | None, *, to: Path | None) -> None:
    if to is not None and to.exists() and not to.is_dir():
        raise SiaError(f"--to {to}: a file, not a folder; name a new or empty folder")
    repo = open_repo(repo_path)
    cfg = configmod.load(repo.root, {})
    folder = publish.pull(repo, rev, hub_repo, endpoint=cfg.hub_endpoint)
    if to is not None:
        folder = publish.copy_to(folder, to)
    click.echo(str(folder))


def push(repo_path: Path, run_id: str | None, hub_repo: str | None) -> None:
    repo = open_repo(repo_path)
    cfg = configmod.load(repo.root, {})
    items = publish.trained(repo, _runs(repo, run_id))

    def hub_for(t: publish.Trained) -> Hub | None:
        name = hub_repo or t.pin.hub_repo or cfg.hub_repo
        return Hub(name, cfg.hub_endpoint) if name else None

    todo = [t for t in items if hub_for(t) is not None]
    if not todo:
        raise SiaError(
            "nothing to push: no weights generation names a hub repo; pass --hub-repo user/name"
            if items
            else "no weights generations to push"
        )
    left = publish.push_pending(
        repo,
        todo,
        hub_for,
        task_of=lambda t: read_run_toml(repo, t.sha).task_name or "?",
        say=click.echo,
    )
    if left:
        raise SiaError(
            f"{left} adapter(s) still pending; run `sia-git adapters push` again "
            "once the hub is reachable"
        )
    click.echo(f"{len(todo)} adapter(s) on the hub")
