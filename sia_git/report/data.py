"""What `sia-git report` shows, read from git alone: every candidate of a run with its verdict,
scores, lever, cost, gate results, improvement note and diff, and the best agent's commit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sia_git.gitrepo import Repo
from sia_git.store import frontier as front
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.runs import CODE_DIR, read_notes, read_run_toml
from sia_git.tasks.layout import selection_warning

DIFF_CHARS = 20_000  # per candidate: a rewrite of a big agent stays readable in the page


@dataclass
class Point:
    """One candidate (or a revert, or a person's commit on the run branch)."""

    gen: int | None
    sha: str
    status: str  # accepted | reverted | rejected | revert | other
    lever: str | None
    dev: float | None
    test: float | None
    cost_usd: float
    subject: str
    reason: str  # why it was rejected, or why a revert was made
    gates: str  # the Sia-Gates trailer, e.g. "ruff=pass bandit=fail ..."
    improvement: str = ""
    diff: str = ""

    @property
    def gate_failed(self) -> bool:
        return "=fail" in self.gates


@dataclass
class ReportData:
    run_id: str
    task: str
    metric: str  # the Sia-Metric trailer: "accuracy (higher is better, split dev)"
    maximize: bool
    points: list[Point]
    cost_by_gen: dict[int, float]
    stops: dict[int, str]
    best: Point | None  # the best-scoring accepted generation that is not reverted
    tip_gen: int | None  # the generation whose code the run branch holds now
    branch: str = ""
    settings: dict[str, object] = field(default_factory=dict)
    warning: str | None = None  # a run that selected on the test labels
    # Per model: its candidates that reached the evaluator, of all it wrote.
    model_reach: dict[str, tuple[int, int]] = field(default_factory=dict)
    ablation: list[dict[str, Any]] = field(default_factory=list)  # `sia-git ablate`'s rows
    # Each accepted generation's score, run time, code size and cost, marked on the frontier
    frontier: list[front.Point] = field(default_factory=list)

    @property
    def total_cost_usd(self) -> float:
        return sum(self.cost_by_gen.values())

    def candidates(self) -> list[Point]:
        return [p for p in self.points if p.status in ("accepted", "reverted", "rejected")]


def collect(repo: Repo, hist: H.RunHistory) -> ReportData:
    entries = hist.in_order()
    # Two git processes for every candidate's note and diff: a long run has thousands.
    notes = read_notes(repo, entries)
    diffs = repo.diffs_to_parent([e.sha for e in entries], [CODE_DIR])
    points = [_point(e, notes.get(e.sha, ""), diffs.get(e.sha, "")) for e in entries]
    metric = next((e.trailers.get(T.METRIC, "") for e in hist.branch if e.kind == "generation"), "")
    maximize = "lower is better" not in metric
    live = [p for p in points if p.status == "accepted" and p.dev is not None]
    best = None
    if live:
        # Among equal scores the latest generation wins: it is what the run kept.
        sign = 1 if maximize else -1
        best = max(live, key=lambda p: (sign * (p.dev or 0.0), p.gen or 0))
    inc, _ = hist.incumbent()
    settings = read_run_toml(repo, hist.tip.sha)
    return ReportData(
        hist.run_id,
        settings.task_name or "?",
        metric,
        maximize,
        points,
        hist.costs,
        hist.stops,
        best,
        inc.gen,
        H.branch(hist.run_id),
        settings.settings,
        selection_warning(repo, hist),
        hist.model_reach(),
        _ablation(repo, hist.tip.sha),
        front.marked(repo, hist, maximize=maximize),
    )


def _ablation(repo: Repo, tip: str) -> list[dict[str, Any]]:
    """The rows `sia-git ablate` kept for the tip, if it was asked."""
    stored = repo.note(tip, refs.ABLATE_NOTES)
    try:
        rows = json.loads(stored)["rows"] if stored else []
    except (ValueError, KeyError, TypeError):
        return []
    return [r for r in rows if isinstance(r, dict)]


def _point(e: H.Entry, improvement: str, diff: str) -> Point:
    t = e.trailers
    reason = t.get(T.REJECTED) or t.get(T.REASON) or ""
    if e.kind == "revert" and not reason:
        reason = f"reverts {e.reverts[:10]}" if e.reverts else "a revert"
    if len(diff) > DIFF_CHARS:
        diff = diff[:DIFF_CHARS] + f"\n[... {len(diff) - DIFF_CHARS} more characters]\n"
    return Point(
        e.gen,
        e.sha,
        e.status,
        t.get(T.LEVER),
        e.score,
        T.read_float(t.get(T.SCORE_TEST)),
        e.cost,
        e.subject,
        reason,
        t.get(T.GATES, ""),
        improvement,
        diff,
    )
