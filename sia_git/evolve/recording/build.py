"""What the writer writes, built from a generation's outcomes without touching git: a
candidate's record, its commit message (`Facts`), the attempt record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sia_git.evolve.candidates import Outcome
from sia_git.gates import summary as gate_summary
from sia_git.levers.proposal import Improvement
from sia_git.store import trailers as T
from sia_git.store.records import AttemptRecord, CandidateRecord
from sia_git.tasks.task import Task

DROPPED_SHOWN = 20


def outcome_record(o: Outcome, commit: str | None = None, verdict: str = "") -> CandidateRecord:
    ev = o.evaluation
    rec: dict[str, Any] = {
        "candidate": o.index,
        "status": o.status,
        "reason": o.reason,
        "lever": o.proposal.lever if o.proposal else "harness",
        "subject": o.proposal.subject if o.proposal else "",
        "knobs": o.proposal.knobs if o.proposal else None,
        "gates": {g.name: {"passed": g.passed, "report": g.report} for g in o.gates},
        "run": None
        if o.run is None
        else {
            "backend": o.run.backend,
            "exit_code": o.run.exit_code,
            "timed_out": o.run.timed_out,
            "duration_s": round(o.run.duration_s, 3),
            "leftover_processes_killed": o.run.leftovers_killed,
            "where": o.run.where or "here",
        },
        "scores": {s: v.score for s, v in ev.splits.items()} if ev else {},
        "scored_on": (ev.where or "here") if ev else "",
        "metrics": {s: v.metrics for s, v in ev.splits.items()} if ev else {},
        # A few examples and a count: an agent writing thousands of files cannot bloat it.
        "dropped_outputs": ev.dropped[:DROPPED_SHOWN] if ev else [],
        "dropped_outputs_count": len(ev.dropped) if ev else 0,
        "traces_dropped": o.traces_dropped,
        "cost_usd": round(o.cost_usd, 8),
        "model": o.proposal.model if o.proposal else None,
        "lever_reason": o.proposal.lever_reason if o.proposal else "",
        "gateway_calls": o.gateway_calls,
        "adapter": o.adapter,
        "train": o.proposal.train if o.proposal else None,
        "evidence": o.evidence.trailer() if o.evidence is not None else "",
        "key": o.key,
        "reused": o.reused,
        "stage": o.stage,
    }
    if ev:  # per-item statuses of the selection split only; sealed splits never carry any
        rec["items"] = {s: v.items for s, v in ev.splits.items() if v.items}
    return CandidateRecord.model_validate({**rec, "commit": commit, "verdict": verdict})


@dataclass(frozen=True, kw_only=True)
class Facts:
    """What a candidate's commit says besides its outcome's scores."""

    run_id: str
    gen: int
    parent_gen: int | None
    task: Task
    subject: str  # the commit's subject is "gen N: <subject>"
    improvement: Improvement  # its body is the commit's body
    extra: list[tuple[str, str]] = field(default_factory=list)
    model: str | None = None
    also_from: tuple[int, ...] = ()  # a crossover's other parents


def message(o: Outcome, f: Facts) -> str:
    metric = f.task.manifest.metric
    higher = "higher" if metric.direction == "maximize" else "lower"
    score = o.score(f.task.select)
    tr = [
        (T.RUN, f.run_id),
        (T.GENERATION, str(f.gen)),
        (
            T.PARENT,
            ", ".join(str(g) for g in (f.parent_gen, *f.also_from)) if f.parent_gen else "none",
        ),
        (T.LEVER, o.proposal.lever if o.proposal else "harness"),
        (T.SCORE, T.score_value(score)),
        (T.METRIC, f"{metric.name} ({higher} is better, {f.task.plan.metric_note()})"),
    ]
    for split in f.task.splits[1:]:
        s = o.score(split)
        if s is not None:
            tr.append((T.SCORE_TEST if split == "test" else f"Sia-Score-{split}", T.score_value(s)))
    tr += [
        (T.MODEL, f.model or "none"),
        (T.COST, f"{o.cost_usd:.6f}"),
        (T.GATES, gate_summary(o.gates) or "none"),
    ]
    if o.proposal and o.proposal.knobs is not None:
        tr.append((T.KNOBS, T.knobs_value(o.proposal.knobs)))
    return T.render(f"gen {f.gen}: {f.subject}", f.improvement.body, tr + f.extra)


def attempt_record(
    *,
    run_id: str,
    gen: int,
    select: str,
    incumbent: float | None,
    outcomes: list[Outcome],
    accepted: int | None,
    commits: dict[int, str],
    reasons: dict[int, str],
) -> AttemptRecord:
    cands = [
        outcome_record(
            o,
            commits.get(o.index),
            "accepted" if o.index == accepted else reasons.get(o.index, ""),
        )
        for o in outcomes
    ]
    return AttemptRecord(
        run=run_id,
        generation=gen,
        incumbent_score=incumbent,
        select_split=select,
        accepted=accepted,
        candidates=cands,
    )
