"""`sia-git frontier [--run R]`: the run's generations that no other beats on every count at
once: score (its metric's direction), agent run time, code size and what the generation cost to
make. They are kept as refs `refs/sia/<run>/frontier/gNNNN` (replaced on every call), so
`git log --no-walk $(git for-each-ref --format='%(refname)' refs/sia/<run>/frontier)` shows them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from sia_git.commands.common import fmt_score, open_run
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import records, refs
from sia_git.store import trailers as T

AGENT_DIR = "sia-agent/agent"


@dataclass(frozen=True)
class Point:
    gen: int
    commit: str
    score: float
    run_s: float | None  # the agent's sandbox run, from the generation's attempt record
    code_bytes: int
    cost_usd: float
    frontier: bool = False


def pareto(points: list[Point], *, maximize: bool) -> list[Point]:
    """The points no other point dominates (as good on every count, better on one). A count a
    point lacks (no recorded run time) counts as its worst: it cannot win on what is unknown."""
    sign = 1 if maximize else -1

    def counts(p: Point) -> tuple[float, ...]:
        run_s = float("inf") if p.run_s is None else p.run_s
        return (-sign * p.score, run_s, float(p.code_bytes), p.cost_usd)

    def dominates(a: Point, b: Point) -> bool:
        pairs = list(zip(counts(a), counts(b), strict=True))
        return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)

    return [p for p in points if not any(dominates(q, p) for q in points if q is not p)]


def run(repo_path: Path, run_id: str | None, as_json: bool) -> None:
    repo, hist = open_run(repo_path, run_id)
    metric = next((e.trailers.get(T.METRIC, "") for e in hist.branch), "")
    maximize = "lower is better" not in metric
    points = _points(repo, hist)
    best = {p.gen for p in pareto(points, maximize=maximize)}
    points = [Point(**{**asdict(p), "frontier": p.gen in best}) for p in points]
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


def _points(repo: Repo, hist: H.RunHistory) -> list[Point]:
    live = [e for e in hist.branch if e.kind == "generation" and e.status == "accepted"]
    out = []
    for e in live:
        if e.gen is None or e.score is None:
            continue
        out.append(Point(e.gen, e.sha, e.score, _run_s(repo, hist.run_id, e.gen),
                         _code_bytes(repo, e.sha), e.cost))  # fmt: skip
    return out


def _run_s(repo: Repo, run_id: str, gen: int) -> float | None:
    record = records.read_attempt(repo, run_id, gen)
    if record is None or record.accepted is None:
        return None
    cand = next((c for c in record.candidates if c.candidate == record.accepted), None)
    seconds = (cand.run or {}).get("duration_s") if cand else None
    return float(seconds) if isinstance(seconds, int | float) else None


def _code_bytes(repo: Repo, sha: str) -> int:
    listing = repo.git("ls-tree", "-r", "-l", sha, "--", AGENT_DIR)
    return sum(int(line.split()[3]) for line in listing.splitlines() if line.split()[3].isdigit())


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
