"""The writer's git operations on values: trees, the generation's one ref transaction,
notes, stop records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sia_git.core import faults
from sia_git.evolve.candidates import Outcome
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.records import ATTEMPT_FILE, STOP_FILE, AttemptRecord, StopRecord, read_attempt
from sia_git.store.runs import CODE_DIR, note_path


def candidate_tree(
    repo: Repo,
    parent: str,
    o: Outcome,
    *,
    gen: int,
    improvement: str,
    extra: dict[str, bytes | None] | None = None,
) -> str:
    files: dict[str, bytes | None] = {f"{CODE_DIR}/{k}": v for k, v in o.files.items()}
    files[note_path(gen)] = improvement.encode()
    files.update(extra or {})
    return repo.make_tree(parent, files)


def attempt_tree(repo: Repo, record: AttemptRecord, outcomes: list[Outcome]) -> str:
    files: dict[str, bytes | None] = {ATTEMPT_FILE: record.dumps()}
    for o in outcomes:
        for name, data in o.traces.items():
            files[f"c{o.index}/{name}"] = data
    return repo.make_tree(None, files)


@dataclass(frozen=True, kw_only=True)
class Publication:
    """One generation, as one ref transaction: its commits, the verdict, its record."""

    run_id: str
    gen: int
    commits: dict[int, str]  # candidate index -> its commit
    accepted: int | None
    branch_old: str | None  # the branch tip the accepted commit goes on (None: a new branch)
    record: AttemptRecord
    record_tree: str
    extra_refs: list[tuple[str, str, str | None]] = field(default_factory=list)


def publish(repo: Repo, p: Publication) -> None:
    """One transaction: the branch (when a candidate was accepted), each rejected candidate's
    ref, and the attempt record. A kill before it leaves nothing; after it, everything."""
    record_commit = repo.commit(
        p.record_tree,
        [],
        T.render(
            f"sia attempt record: run {p.run_id} gen {p.gen}",
            "",
            [(T.COST, format(p.record.cost_usd, ".12g"))],
        ),
    )
    updates = list(p.extra_refs)
    if p.accepted is not None:
        updates.append((f"refs/heads/{H.branch(p.run_id)}", p.commits[p.accepted], p.branch_old))
    for index, sha in p.commits.items():
        if index != p.accepted:
            updates.append((refs.rejected(p.run_id, p.gen, index), sha, None))
    updates.append((refs.attempts(p.run_id, p.gen), record_commit, None))
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
    *,
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
