"""The writer's git operations on values: trees, the generation's one ref transaction,
notes, stop records."""

from __future__ import annotations

from dataclasses import dataclass, field

from sia_git.core import faults
from sia_git.evolve.candidates import Outcome
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.store.records import (
    ATTEMPT_FILE,
    STOP_FILE,
    AttemptRecord,
    StopRecord,
    read_attempt,
    readable_json,
)
from sia_git.store.runs import CODE_DIR, note_path


def candidate_files(
    o: Outcome, *, gen: int, improvement: str, extra: dict[str, bytes | None] | None = None
) -> dict[str, bytes | None]:
    """What a candidate's commit changes on its parent: its agent, its notes, `extra`."""
    files: dict[str, bytes | None] = {f"{CODE_DIR}/{k}": v for k, v in o.files.items()}
    files[note_path(gen)] = improvement.encode()
    files.update(extra or {})
    return files


def candidate_tree(
    repo: Repo,
    parent: str,
    o: Outcome,
    *,
    gen: int,
    improvement: str,
    extra: dict[str, bytes | None] | None = None,
) -> str:
    return repo.make_tree(parent, candidate_files(o, gen=gen, improvement=improvement, extra=extra))


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
    """Attach each candidate's result as a git note (`git notes --ref sia show <sha>`) where a
    kill between a generation's transaction and its notes left none, from every attempt record
    of the run (at a resume); return how many were missing."""
    listed = repo.git("notes", "--ref", refs.NOTES, "list", check=False)
    have = {line.split()[1] for line in listed.splitlines() if line.strip()}
    missing: dict[str, str] = {}
    for line in repo.for_each_ref(H.ref(run_id, "attempts") + "/", "%(refname)"):
        found = refs.RunRef.parse(line)
        record = read_attempt(repo, run_id, found.gen) if found and found.gen else None
        if record is not None:
            missing.update(
                (sha, text) for sha, text in candidate_notes(record).items() if sha not in have
            )
    repo.add_notes(missing)
    return len(missing)


def write_notes(repo: Repo, record: AttemptRecord) -> None:
    """A generation's notes, once its transaction is in: one notes commit, whatever the
    number of candidates, and nothing read from earlier generations."""
    faults.point("notes")
    repo.add_notes(candidate_notes(record))


def candidate_notes(record: AttemptRecord) -> dict[str, str]:
    """Commit -> its note: the candidate's record without the per-item statuses, with the
    failed ones, and where it belongs."""
    out = {}
    for cand in record.candidates:
        if cand.commit:
            note = cand.model_dump(mode="json", exclude={"items"})
            note["failed_items"] = cand.failed()
            note["run"], note["generation"] = record.run, record.generation
            out[cand.commit] = readable_json(note) + "\n"
    return out


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
