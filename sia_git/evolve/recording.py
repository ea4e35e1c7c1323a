"""Turn a generation's outcomes into git: candidate commits with trailers, an attempt record with
traces, and one atomic ref transaction; then git notes, which are rebuilt if a kill lost them."""

from __future__ import annotations

import json
from typing import Any

from sia_git import faults, refs
from sia_git import history as H
from sia_git import trailers as T
from sia_git.evolve.candidates import Outcome
from sia_git.gates import summary as gate_summary
from sia_git.gitrepo import Repo
from sia_git.records import (
    ATTEMPT_FILE,
    STOP_FILE,
    AttemptRecord,
    CandidateRecord,
    StopRecord,
    read_attempt,
)
from sia_git.runs import CODE_DIR, IMPROVEMENT
from sia_git.task import Task

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
    }
    if ev:  # per-item statuses of the selection split only; sealed splits never carry any
        rec["items"] = {s: v.items for s, v in ev.splits.items() if v.items}
    return CandidateRecord.model_validate({**rec, "commit": commit, "verdict": verdict})


def message(
    run_id: str,
    gen: int,
    parent_gen: int | None,
    o: Outcome,
    task: Task,
    subject: str,
    body: str,
    extra: list[tuple[str, str]],
    model: str | None = None,
) -> str:
    metric = task.manifest.metric
    higher = "higher" if metric.direction == "maximize" else "lower"
    score = o.score(task.select)
    tr = [
        (T.RUN, run_id),
        (T.GENERATION, str(gen)),
        (T.PARENT, str(parent_gen) if parent_gen else "none"),
        (T.LEVER, o.proposal.lever if o.proposal else "harness"),
        (T.SCORE, T.score_value(score)),
        (T.METRIC, f"{metric.name} ({higher} is better, {task.plan.metric_note()})"),
    ]
    for split in task.splits[1:]:
        s = o.score(split)
        if s is not None:
            tr.append((T.SCORE_TEST if split == "test" else f"Sia-Score-{split}", T.score_value(s)))
    tr += [
        (T.MODEL, model or "none"),
        (T.COST, f"{o.cost_usd:.6f}"),
        (T.GATES, gate_summary(o.gates) or "none"),
    ]
    if o.proposal and o.proposal.knobs is not None:
        tr.append((T.KNOBS, T.knobs_value(o.proposal.knobs)))
    return T.render(f"gen {gen}: {subject}", body, tr + extra)


def candidate_tree(
    repo: Repo, parent: str, o: Outcome, improvement: str, extra: dict[str, bytes] | None = None
) -> str:
    files: dict[str, bytes | None] = {f"{CODE_DIR}/{k}": v for k, v in o.files.items()}
    files[IMPROVEMENT] = improvement.encode()
    files.update(extra or {})
    return repo.make_tree(parent, files)


def attempt_tree(repo: Repo, record: AttemptRecord, outcomes: list[Outcome]) -> str:
    files: dict[str, bytes | None] = {ATTEMPT_FILE: record.dumps()}
    for o in outcomes:
        for name, data in o.traces.items():
            files[f"c{o.index}/{name}"] = data
    return repo.make_tree(None, files)


def publish(
    repo: Repo,
    run_id: str,
    gen: int,
    commits: dict[int, str],
    accepted: int | None,
    branch_old: str | None,
    record: AttemptRecord,
    record_tree: str,
    extra_refs: list[tuple[str, str, str | None]] = (),
) -> None:
    """One transaction: the branch (when a candidate was accepted), each rejected candidate's
    ref, and the attempt record. A kill before it leaves nothing; after it, everything."""
    cost = record.cost_usd
    record_commit = repo.commit(
        record_tree,
        [],
        T.render(
            f"sia attempt record: run {run_id} gen {gen}", "", [(T.COST, format(cost, ".12g"))]
        ),
    )
    updates = list(extra_refs)
    if accepted is not None:
        updates.append((f"refs/heads/{H.branch(run_id)}", commits[accepted], branch_old))
    for index, sha in commits.items():
        if index != accepted:
            updates.append((refs.rejected(run_id, gen, index), sha, None))
    updates.append((refs.attempts(run_id, gen), record_commit, None))
    faults.point("committing")
    repo.update_refs(updates)


def ensure_notes(repo: Repo, run_id: str) -> int:
    """Attach each candidate's result as a git note (`git notes --ref sia show <sha>`), from the
    attempt records; return how many were missing (a kill between transaction and notes)."""
    listed = repo.git("notes", "--ref", refs.NOTES, "list", check=False)
    have = {line.split()[1] for line in listed.splitlines() if line.strip()}
    added = 0
    for line in repo.for_each_ref(H.ref(run_id, "attempts") + "/", "%(refname)"):
        found = refs.RunRef.parse(line)
        record = read_attempt(repo, run_id, found.gen) if found and found.gen else None
        for cand in record.candidates if record else []:
            sha = cand.commit
            if sha and sha not in have:
                note = cand.model_dump(mode="json", exclude={"items"})
                note["failed_items"] = cand.failed()
                note["run"], note["generation"] = record.run, record.generation
                repo.add_note(sha, json.dumps(note, indent=1) + "\n")
                added += 1
                faults.point("notes")
    return added


def record_stop(
    repo: Repo,
    run_id: str,
    gen: int,
    kind: str,
    why: str,
    spent_usd: float,
    budget_usd: float | None,
) -> None:
    """Why a run stopped early (the budget), on `refs/sia/<run>/stops/gNNNN`; resuming goes on."""
    data = StopRecord(
        run=run_id,
        generation=gen,
        kind=kind,
        reason=why,
        spent_usd=round(spent_usd, 8),
        budget_usd=budget_usd,
    )
    tree = repo.make_tree(None, {STOP_FILE: data.dumps()})
    sha = repo.commit(tree, [], f"sia stop: run {run_id} gen {gen}: {kind}\n\n{why}\n")
    name = refs.stops(run_id, gen)
    old = repo.rev_parse(name)
    repo.update_refs([(name, sha, old)])
