"""A run's Pareto frontier: its accepted generations that no other beats on every count at once
(score in the metric's direction, the agent's run time, its code size, what it cost to make)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import records

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


def marked(repo: Repo, hist: H.RunHistory, *, maximize: bool) -> list[Point]:
    """The run's points, each marked whether it is on the frontier."""
    points = _points(repo, hist)
    best = {p.gen for p in pareto(points, maximize=maximize)}
    return [Point(**{**asdict(p), "frontier": p.gen in best}) for p in points]


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
