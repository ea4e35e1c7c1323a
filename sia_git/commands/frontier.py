"""`sia-git frontier [--run R]`: the run's generations that no other beats on every count at
once: score (its metric's direction), agent run time, code size and what the generation cost to
make. They are kept as refs `refs/sia/<run>/frontier/gNNNN` (replaced on every call), so
`git log --no-walk $(git for-each-ref --format='%(refname)' refs/sia/<run>/frontier)` shows them.
With `--task T`, the frontier over every run of that task whose dev scores are comparable,
kept as `refs/sia-frontier/<task>/<run>/gNNNN` (a task folder's path with each run of other
characters as one `-`)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import click

from sia_git.commands.common import fmt_score, open_run
from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo, open_repo
from sia_git.store import frontier as F
from sia_git.store import refs
from sia_git.store.frontier import Point

COUNTS = "(score, agent run time, code size, cost)"


def run(repo_path: Path, run_id: str | None, as_json: bool) -> None:
    repo, hist = open_run(repo_path, run_id, write=True)
    points = F.marked(repo, hist, maximize=F.maximizes(hist))
    best = [p for p in points if p.frontier]
    prefix = refs.run_ref(hist.run_id, "frontier")
    _keep(repo, prefix, {f"{prefix}/{refs.gen_name(p.gen)}": p.commit for p in best})
    if as_json:
        click.echo(json.dumps({"run": hist.run_id, "metric": F.metric_of(hist),
                               "points": [asdict(p) for p in points]}, indent=1))  # fmt: skip
        return
    click.echo(f"run {hist.run_id}: {len(best)} of {len(points)} generations on the frontier "
               f"{COUNTS}")  # fmt: skip
    _table(points, with_run=False)


def of_task(repo_path: Path, task: str, as_json: bool) -> None:
    repo = open_repo(repo_path, write=True)
    found = F.of_task(repo, task)
    if not found.runs:
        raise SiaError(f"no run of task '{task}' in this repository (`sia-git log` lists runs)")
    best = [p for p in found.points if p.frontier]
    prefix = f"refs/sia-frontier/{_ref_safe(task)}"
    wanted = {f"{prefix}/{p.run}/{refs.gen_name(p.gen)}": p.commit for p in best}
    _keep(repo, prefix, wanted)
    if as_json:
        click.echo(json.dumps({"task": task, "runs": found.runs, "left_out": found.left_out,
                               "points": [asdict(p) for p in found.points]}, indent=1))  # fmt: skip
        return
    click.echo(f"task {task}: {len(best)} of {len(found.points)} generations of "
               f"{len(found.runs)} runs on the frontier {COUNTS}")  # fmt: skip
    for run_id, why in found.left_out.items():
        click.echo(f"left out: run {run_id}: {why}")
    _table(found.points, with_run=True)


def _ref_safe(task: str) -> str:
    """A task folder's path (a task that is not built in) as one ref component."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", task).strip("-") or "task"


def _table(points: list[Point], *, with_run: bool) -> None:
    head = f"{'run':24}  " if with_run else ""
    click.echo(f"{head}{'gen':>4}  {'commit':10}  {'score':>7}  {'run s':>7}  {'bytes':>7}  "
               f"{'cost':>8}  frontier")  # fmt: skip
    for p in points:
        run_s = "-" if p.run_s is None else f"{p.run_s:.1f}"
        mark = "yes" if p.frontier else ""
        lead = f"{p.run:24}  " if with_run else ""
        click.echo(f"{lead}{p.gen:>4}  {p.commit[:10]}  {fmt_score(p.score):>7}  {run_s:>7}  "
                   f"{p.code_bytes:>7}  {p.cost_usd:>8.4f}  {mark}")  # fmt: skip


def _keep(repo: Repo, prefix: str, wanted: dict[str, str]) -> None:
    """Replace the refs under `prefix` with `wanted` (one transaction)."""
    old = repo.for_each_ref(prefix + "/", "%(refname)")
    lines = ["start"]
    lines += [f"delete {ref.strip()}" for ref in old if ref.strip() not in wanted]
    lines += [f"update {ref} {sha}" for ref, sha in wanted.items()]
    lines += ["prepare", "commit"]
    repo.git("update-ref", "--stdin", input="\n".join(lines) + "\n")
