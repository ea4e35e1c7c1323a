"""Never pay twice: a candidate identical to one already scored on this task reuses the stored
result, in any run of the repository.

Identical means the same key: the agent folder's files, the adapter it runs with, the seed it is
given, the task (name, version, answers digest and split plan), the agent's limits and the
target model. Each candidate's key is kept in its attempt record (`key`), so the index is read
from git (every run's attempt refs) when a run starts, and grows as the run records candidates.

What is reused is the selection split's result (score, metrics, per-item statuses): sealed
scores are never stored, so a reused result that could win its generation is run again for real
(the only way to release its sealed score); one that can't is not run at all. The knob search
proposes the same settings again and again (TPE re-samples near the best), which is where this
saves most.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sia_git.core.errors import SiaError
from sia_git.evolve.outcome import Outcome
from sia_git.gitrepo import Repo
from sia_git.levers.proposal import Proposal
from sia_git.store import records
from sia_git.store.records import AttemptRecord, CandidateRecord, Status
from sia_git.tasks.evaluation import Evaluation, SplitScore


@dataclass
class ReuseIndex:
    select: str  # the selection split, whose results are reused
    base: str  # the digest of everything besides the agent, adapter and seed
    found: dict[str, tuple[str, CandidateRecord]] = field(
        default_factory=dict
    )  # key -> (where, it)

    def key(self, files: dict[str, bytes], adapter: str | None, seed: int) -> str:
        h = hashlib.sha256(self.base.encode())
        for path in sorted(files):
            h.update(b"\0" + path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
        h.update(f"\0{adapter or '-'}\0{seed}".encode())
        return h.hexdigest()

    def lookup(
        self, key: str, proposal: Proposal, index: int, *, could_win: Callable[[float], bool]
    ) -> Outcome | None:
        """The stored result for `key` as this candidate's outcome; None when there is none
        or it could beat the incumbent (then it runs, for its sealed score)."""
        hit = self.found.get(key)
        if hit is None:
            return None
        where, rec = hit
        score = rec.scores.get(self.select)
        if score is None or could_win(score):
            return None
        split = SplitScore(score, dict(rec.metrics.get(self.select, {})),
                           list(rec.items.get(self.select, [])))  # fmt: skip
        out = Outcome(index, proposal, proposal.files, Status.OK, key=key, reused=where)
        out.evaluation = Evaluation({self.select: split}, [], where=f"reused: {where}")
        out.cost_usd = proposal.cost_usd
        out.gates = []
        return out

    def add_outcomes(self, outcomes: list[Outcome], where: str) -> None:
        """This run's freshly scored candidates (their records are in git by now)."""
        for o in outcomes:
            score = o.score(self.select)
            whole = not o.stage.startswith("sample")  # a pruned candidate's is the sample's
            if o.key and o.ok and whole and not o.reused and score is not None and o.evaluation:
                split = o.evaluation.splits[self.select]
                rec = CandidateRecord(candidate=o.index, scores={self.select: score},
                                      metrics={self.select: split.metrics},
                                      items={self.select: split.items}, key=o.key)  # fmt: skip
                self.found.setdefault(o.key, (f"{where} c{o.index}", rec))

    def add(self, record: AttemptRecord, where: str) -> None:
        for cand in record.candidates:
            usable = cand.status == Status.OK and cand.scores.get(self.select) is not None
            whole = not cand.stage.startswith("sample")
            if cand.key and usable and whole and not cand.reused:
                self.found.setdefault(cand.key, (f"{where} c{cand.candidate}", cand))


def base_digest(parts: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def read_index(repo: Repo, *, select: str, base: str) -> ReuseIndex:
    """Every candidate scored in any run of `repo`, by key (one `git cat-file --batch`)."""
    index = ReuseIndex(select, base)
    names = repo.for_each_ref("refs/sia/", "%(refname)")
    attempts = [n.strip() for n in names if "/attempts/g" in n]
    blobs = repo.read_files([f"{ref}:{records.ATTEMPT_FILE}" for ref in attempts])
    for ref in attempts:
        try:
            record = records.parse(AttemptRecord, blobs.get(f"{ref}:{records.ATTEMPT_FILE}"), ref)
        except SiaError:
            continue  # a record this version can't read: its candidates are simply run again
        if record is not None:
            index.add(record, f"{record.run} gen {record.generation}")
    return index
