"""`sia-git frontier [--run R]`: the run's generations that no other beats on every count at
once: score (its metric's direction), agent run time, code size and what the generation cost to
make. They are kept as refs `refs/sia/<run>/frontier/gNNNN` (replaced on every call), so
`git log --no-walk $(git for-each-ref --format='%(refname)' refs/sia/<run>/frontier)` shows them."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from sia_git.commands.common import fmt_score, open_run
from sia_git.gitrepo import Repo
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.frontier import Point, marked


def run(repo_path: Path, run_id: str | None, as_json: bool) -> None:
    repo, hist = open_run(repo_path, run_id, write=True)
    metric = next((e.trailers.get(T.METRIC, "") for e in hist.branch), "")
    maximize = "lower is better" not in metric
    points = marked(repo, hist, maximize=maximize)
    best = [p for p in points if p.frontier]
    _keep(repo, hist.run_id, [p for p in points if p.frontier])
    if as_json:
        click.echo(json.dumps({"run": hist.run_id, "metric": metric,
                               "points": [asdict(p) for p in points]}, indent=1))  # fmt: skip
        return
    click.echo(f"run {hist.run_id}: {len(best)} of {len(points)} generations on the frontier "
               f"(score, agent run time, code size, cost)")  # fmt: skip
    click.echo(f"{'gen':>4}  {'commit':10}  {'score':>7}  {'run s':>7}  {'bytes':>7}  "
               f"{'cost':>8}  frontier")  # fmt: skip
    for p in points:
        run_s = "-" if p.run_s is None else f"{p.run_s:.1f}"
        mark = "yes" if p.frontier else ""
        click.echo(f"{p.gen:>4}  {p.commit[:10]}  {fmt_score(p.score):>7}  {run_s:>7}  "
                   f"{p.code_bytes:>7}  {p.cost_usd:>8.4f}  {mark}")  # fmt: skip


def _keep(repo: Repo, run_id: str, front: list[Point]) -> None:
    """Replace the run's frontier refs with these generations' (one transaction)."""
    prefix = refs.run_ref(run_id, "frontier")
    old = repo.for_each_ref(prefix + "/", "%(refname)")
    wanted = {f"{prefix}/g{p.gen:04d}": p.commit for p in front}
    lines = ["start"]
    lines += [f"delete {ref.strip()}" for ref in old if ref.strip() not in wanted]
    lines += [f"update {ref} {sha}" for ref, sha in wanted.items()]
    lines += ["prepare", "commit"]
    repo.git("update-ref", "--stdin", input="\n".join(lines) + "\n")
