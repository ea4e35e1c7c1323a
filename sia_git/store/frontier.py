"""A run's Pareto frontier: its accepted generations that no other beats on every count at once
(score in the metric's direction, the agent's run time, its code size, what it cost to make);
and the frontier of every run of one task, over the runs whose dev scores are comparable."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import records
from sia_git.store import trailers as T
from sia_git.store.runs import RunToml, read_run_toml

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
    run: str = ""


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


def metric_of(hist: H.RunHistory) -> str:
    return next((e.trailers.get(T.METRIC, "") for e in hist.branch), "")


def maximizes(hist: H.RunHistory) -> bool:
    return "lower is better" not in metric_of(hist)


@dataclass(frozen=True)
class TaskFrontier:
    task: str
    points: list[Point]  # every accepted generation of the comparable runs, marked
    runs: list[str]  # the runs compared
    left_out: dict[str, str]  # run -> why its scores are not comparable with the first run's


def of_task(repo: Repo, task: str) -> TaskFrontier:
    """The frontier over every run of `task` in the repository. Runs are compared only when
    their dev scores mean the same thing: the same task version (answers digest), split plan
    and metric. The largest such group is compared (the newest run's, on a tie); the other
    runs are named with the reason."""
    hists = [H.load(repo, r) for r in H.list_runs(repo)]
    tomls = {h.run_id: t for h in hists if h.exists and (t := _run_toml(repo, h)) is not None}
    mine = [h for h in hists if h.run_id in tomls and _task_of(tomls[h.run_id]) == task]
    if not mine:
        return TaskFrontier(task, [], [], {})
    meaning = {h.run_id: _meaning(tomls[h.run_id], h) for h in mine}
    counts = Counter(meaning.values())
    first = max(mine, key=lambda h: counts[meaning[h.run_id]])  # the newest of equals
    left_out, kept = {}, []
    for h in mine:
        why = _why_apart(meaning[first.run_id], meaning[h.run_id])
        if why:
            left_out[h.run_id] = why
        else:
            kept.append(h)
    points = [p for h in kept for p in _points(repo, h)]
    best = {(p.run, p.gen) for p in pareto(points, maximize=maximizes(first))}
    marked_points = [Point(**{**asdict(p), "frontier": (p.run, p.gen) in best}) for p in points]
    return TaskFrontier(task, marked_points, [h.run_id for h in kept], left_out)


def _run_toml(repo: Repo, hist: H.RunHistory) -> RunToml | None:
    try:
        return read_run_toml(repo, hist.tip.sha)
    except SiaError:
        return None  # not a run this sia-git can read: it is of no task


def _task_of(toml: RunToml) -> str:
    return toml.task_name or toml.task_source


def _meaning(toml: RunToml, hist: H.RunHistory) -> tuple[str, str, str]:
    """What a run's dev scores mean: its task version, split plan and metric."""
    split = json.dumps(toml.split, sort_keys=True)
    return (toml.answers_digest or "", split, metric_of(hist))


def _why_apart(ref: tuple[str, str, str], other: tuple[str, str, str]) -> str:
    if ref[0] != other[0]:
        return "another version of the task (its answers differ)"
    if ref[1] != other[1]:
        return "another dev/test split"
    if ref[2] != other[2]:
        return f"another metric ({other[2] or 'none'})"
    return ""


def _points(repo: Repo, hist: H.RunHistory) -> list[Point]:
    live = [e for e in hist.branch if e.kind == "generation" and e.status == "accepted"]
    out = []
    for e in live:
        if e.gen is None or e.score is None:
            continue
        out.append(Point(e.gen, e.sha, e.score, _run_s(repo, hist.run_id, e.gen),
                         _code_bytes(repo, e.sha), e.cost, run=hist.run_id))  # fmt: skip
    return out


def _run_s(repo: Repo, run_id: str, gen: int) -> float | None:
    record = records.read_attempt(repo, run_id, gen)
    if record is None or record.accepted is None:
        return None
    cand = next((c for c in record.candidates if c.candidate == record.accepted), None)
    return records.run_seconds(cand)


def _code_bytes(repo: Repo, sha: str) -> int:
    listing = repo.git("ls-tree", "-r", "-l", sha, "--", AGENT_DIR)
    return sum(int(line.split()[3]) for line in listing.splitlines() if line.split()[3].isdigit())
