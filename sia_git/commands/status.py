"""`sia-git status`: the runs in this repository."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git.commands.common import fmt_score
from sia_git.gitrepo import open_repo
from sia_git.store import history as H
from sia_git.store.lock import RunLock
from sia_git.store.runs import RunPaths


def run(repo_path: Path, as_json: bool) -> None:
    repo = open_repo(repo_path, write=False)
    runs = []
    for run_id in H.list_runs(repo):
        hist = H.load(repo, run_id)
        inc, score = hist.incumbent()
        paths = RunPaths(repo, run_id)
        pid = RunLock.holder(paths.locks, run_id)
        runs.append(
            {
                "run": run_id,
                "branch": H.branch(run_id),
                "generations": hist.last_generation,
                "incumbent_generation": inc.gen,
                "score": score,
                "state": f"running (pid {pid})" if pid else "idle",
                "worktree": str(paths.worktree),
                "cost_usd": H.run_cost(repo, run_id),
            }
        )
    if as_json:
        click.echo(json.dumps(runs, indent=1))
        return
    if not runs:
        click.echo("no runs yet: `sia-git evolve --task NAME` starts one (`sia-git tasks` lists)")
    for r in runs:
        click.echo(
            f"{r['run']}: {r['state']}, {r['generations']} generation(s), incumbent gen "
            f"{r['incumbent_generation']} score {fmt_score(r['score'])}  ({r['branch']})"
        )
