"""A run's state, read from git alone: the branch, its trailers, and refs under refs/sia/<run>/.

Nothing else is consulted, so resuming, `log` and the optimiser's history all agree with what a
clone of the repository shows.
"""

from __future__ import annotations

import gc
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import history_cache, refs
from sia_git.store import trailers as T
from sia_git.store.trials import Trial

SEP, TSEP = "\x1f", "\x1d"
LOG_FMT = f"%H{SEP}%s{SEP}%(trailers:unfold,separator=%x1d){SEP}%b"
_REF_FMT = (
    f"%(refname){SEP}%(objectname){SEP}%(contents:subject){SEP}%(trailers:unfold,separator=%x1d)"
)
_REVERT_RE = re.compile(r"This reverts commit ([0-9a-f]{40})")


branch = refs.branch
ref = refs.run_ref


@dataclass
class Entry:
    sha: str
    subject: str
    kind: str  # generation | revert | other (a person's commit on the run branch)
    trailers: dict[str, str]
    status: str = "accepted"  # accepted | reverted | rejected | revert | other
    reverts: str | None = None
    ref: str | None = None

    # Read tens of thousands of times on a long run: set once, as plain attributes (a
    # property or cached_property costs a Python call per read).
    gen: int | None = field(init=False, repr=False, compare=False)
    score: float | None = field(init=False, repr=False, compare=False)
    cost: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        t = self.trailers
        v = t.get(T.GENERATION)
        self.gen = int(v) if v and v.isdigit() else None
        self.score = T.read_float(t.get(T.SCORE))
        self.cost = T.read_float(t.get(T.COST)) or 0.0

    @property
    def adapter(self) -> str | None:
        value = self.trailers.get(T.ADAPTER)
        return value.split()[0] if value else None


@dataclass
class RunHistory:
    run_id: str
    base: str | None
    branch: list[Entry] = field(default_factory=list)  # oldest first, from gen 1 to the tip
    rejected: list[Entry] = field(default_factory=list)
    attempts: set[int] = field(default_factory=set)
    confirmed: set[int] = field(default_factory=set)
    stops: dict[int, str] = field(default_factory=dict)  # generation -> why the run stopped
    # Dollars spent on models per generation: its candidates and its confirmation runs.
    costs: dict[int, float] = field(default_factory=dict)

    @property
    def total_cost_usd(self) -> float:
        return sum(self.costs.values())

    @property
    def exists(self) -> bool:
        return bool(self.branch)

    @property
    def tip(self) -> Entry:
        return self.branch[-1]

    @property
    def last_generation(self) -> int:
        gens = [e.gen or 0 for e in (*self.branch, *self.rejected)]
        return max([*gens, *self.attempts, 0])

    def in_order(self) -> list[Entry]:
        """Every entry in the order things happened: each generation, then its rejected
        candidates, then what followed it on the branch (reverts, a person's commits)."""
        keyed: list[tuple[tuple[int, int, int], Entry]] = []
        current = 0
        for seq, e in enumerate(self.branch):
            if e.kind == "generation":
                current = e.gen or current
                keyed.append(((current, 0, 0), e))
            else:
                keyed.append(((current, 2, seq), e))
        for e in self.rejected:
            cand = (e.trailers.get(T.CANDIDATE) or "0").split("/")[0]
            keyed.append(((e.gen or 0, 1, int(cand) if cand.isdigit() else 0), e))
        return [e for _, e in sorted(keyed, key=lambda ke: ke[0])]

    @cached_property
    def _by_gen(self) -> dict[int, Entry]:
        """The branch's generations by number (the first of a number wins, as a scan would):
        a lookup per row must not scan the branch, or a long run's `log` is quadratic."""
        found: dict[int, Entry] = {}
        for e in self.branch:
            if e.kind == "generation" and e.gen is not None:
                found.setdefault(e.gen, e)
        return found

    def generation(self, gen: int) -> Entry | None:
        return self._by_gen.get(gen)

    def delta(self, e: Entry) -> float | None:
        """How much `e` gained over the generation it tried to beat (its Sia-Parent): the one
        delta `log`, `show` and pull-request bodies all print."""
        parent = T.parents(e.trailers.get(T.PARENT))
        if e.score is None or not parent:
            return None
        found = self.generation(parent[0])
        base = None if found is None else found.score
        return None if base is None else round(e.score - base, 10)

    def incumbent(self) -> tuple[Entry, float | None]:
        """The generation whose code the tip holds, with its score when the tip's tree is exactly
        that generation's (a person's commit or an older revert makes the score unknown)."""
        live = [e for e in self.branch if e.kind == "generation" and e.status == "accepted"]
        tip = self.tip
        if tip.kind == "generation":
            return tip, tip.score
        if tip.kind == "revert" and len(self.branch) > 1 and self.branch[-2].sha == tip.reverts:
            return live[-1], live[-1].score
        return live[-1] if live else tip, None

    def trials(self, adapter: str | None = None) -> list[Trial]:
        """Every scored or failed knob setting: the optimiser's history. Only settings tried
        with the same adapter (or none) count: new weights change what the knobs do."""
        out = []
        for e in (*self.branch, *self.rejected):
            knobs = T.read_knobs(e.trailers.get(T.KNOBS))
            if knobs is not None and e.gen is not None and e.adapter == adapter:
                out.append(Trial(knobs, e.score, e.gen))
        return out

    def weight_trials(self) -> list[Trial]:
        """Every LoRA training tried (its `Sia-Train` settings) and what it scored."""
        return [
            Trial(train, e.score, e.gen)
            for e in (*self.branch, *self.rejected)
            if e.gen is not None and (train := T.read_knobs(e.trailers.get(T.TRAIN)))
        ]

    def model_reach(self) -> dict[str, tuple[int, int]]:
        """Per model that wrote candidates: how many of them reached the evaluator (were
        scored or failed in the sandbox, not lost to the model's reply or the budget), of all."""
        out: dict[str, tuple[int, int]] = {}
        for e in (*self.branch, *self.rejected):
            model = e.trailers.get(T.MODEL)
            if e.gen is None or model in (None, "none"):
                continue
            why = e.trailers.get(T.REJECTED) or ""
            lost = why.startswith(("model-failed", "budget-stopped"))
            reached, total = out.get(str(model), (0, 0))
            out[str(model)] = (reached + (not lost), total + 1)
        return out

    def lever_gains(self) -> dict[str, list[float]]:
        """What each lever gained over its parent generation, per candidate tried (0 for a
        candidate that failed or scored lower): the offline lever bandit's evidence."""
        scores = {e.gen: e.score for e in self.branch if e.kind == "generation"}
        out: dict[str, list[float]] = {}
        for e in (*self.branch, *self.rejected):
            lever, parent = e.trailers.get(T.LEVER), T.parents(e.trailers.get(T.PARENT))
            if e.gen is None or e.gen < 2 or not lever or not parent:
                continue
            before = scores.get(parent[0])
            gain = (e.score - before) if e.score is not None and before is not None else 0.0
            out.setdefault(lever, []).append(gain)
        return out


def load(repo: Repo, run_id: str) -> RunHistory:
    # A long run builds tens of thousands of records at once; the cycle collector would scan
    # them again and again while they are made (a sixth of `log`'s time), and they hold no
    # cycles.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _load(repo, run_id)
    finally:
        if paused:
            gc.enable()


def _load(repo: Repo, run_id: str) -> RunHistory:
    base = repo.rev_parse(ref(run_id, "base"))
    history = RunHistory(run_id, base)
    tip = repo.rev_parse(f"refs/heads/{branch(run_id)}")
    if tip is None or base is None:
        return history
    kinds = [ref(run_id, kind) + "/" for kind in ("rejected", "attempts", "confirmed")]
    records, ref_records = history_cache.read(
        repo,
        run_id,
        base,
        tip=tip,
        log_fmt=LOG_FMT,
        ref_fmt=_REF_FMT,
        prefixes=kinds,
        sep=SEP,
        convert=(_log_record, _ref_record),
    )
    entries = [_entry(r) for r in records]
    entries.reverse()
    reverted = {e.reverts for e in entries if e.reverts}
    for e in entries:
        if e.kind == "generation" and e.sha in reverted:
            e.status = "reverted"
    history.branch = entries
    for name, sha, subject, trailers, kind, gen, cost in ref_records:
        if gen is None:
            continue  # not one of the run's records (a hand-made ref)
        if kind == "rejected":
            history.rejected.append(
                Entry(sha, subject, "generation", trailers, status="rejected", ref=name)
            )
            continue
        (history.attempts if kind == "attempts" else history.confirmed).add(gen)
        if cost is None:  # a record written before records carried their cost
            from sia_git.store import records  # (pydantic: only for such old records)

            cost = records.record_cost(repo, name)
        history.costs[gen] = history.costs.get(gen, 0.0) + cost
    history.rejected.sort(key=lambda e: (e.gen or 0, e.ref or ""))
    for line in repo.for_each_ref(ref(run_id, "stops") + "/", f"%(refname){SEP}%(contents:body)"):
        name, body = line.strip("\n").split(SEP, 1)
        stop = refs.RunRef.parse(name)
        if stop is not None and stop.gen is not None:
            history.stops[stop.gen] = body.strip()
    return history


def _log_record(raw: str) -> list[Any]:
    """A line of LOG_FMT as the history cache keeps it: [sha, subject, trailers, body], the
    body only where it is read (a revert's, for the commit it reverts)."""
    sha, subject, block, body = raw.split(SEP, 3)
    return [
        sha,
        subject,
        _shared(T.parse(block, TSEP)),
        body if subject.startswith("Revert ") else "",
    ]


def _ref_record(line: str) -> list[Any]:
    """A line of _REF_FMT as the history cache keeps it: [subject, trailers, kind, generation,
    cost] (kind and generation None for a ref that is not a run's record). Of an attempt or a
    confirmation record only its cost is read: its one trailer, "Sia-Cost-USD: <dollars>"
    (None for a record written before records carried their cost)."""
    name, _sha, subject, block = line.strip("\n").split(SEP)
    parsed = refs.RunRef.parse(name)
    kind, gen = (parsed.kind, parsed.gen) if parsed is not None else (None, None)
    trailers = _shared(T.parse(block, TSEP))
    if kind == "rejected":
        return [subject, trailers, kind, gen, None]
    cost = T.read_float(trailers.get(T.COST)) if T.COST in trailers else None
    return ["", {}, kind, gen, cost]


def _shared(trailers: dict[str, str]) -> dict[str, str]:
    """Interned keys and values: the cache (marshal) then stores a repeated one once, and
    reads it back once (tens of thousands of commits share their trailer names and most
    values)."""
    return {sys.intern(k): sys.intern(v) for k, v in trailers.items()}


def entry(raw: str) -> Entry:
    return _entry(_log_record(raw))


def _entry(record: list[Any]) -> Entry:
    """An entry from a parsed log record: (sha, subject, trailers, body)."""
    sha, subject, tr, body = record
    reverts = tr.get(T.REVERTS)
    if not reverts and subject.startswith("Revert "):
        m = _REVERT_RE.search(body)
        reverts = m.group(1) if m else None
    if reverts:
        return Entry(sha, subject, "revert", tr, status="revert", reverts=reverts)
    kind = "generation" if T.GENERATION in tr else "other"
    return Entry(sha, subject, kind, tr, status="accepted" if kind == "generation" else "other")


def list_runs(repo: Repo) -> list[str]:
    """Run ids, newest first (by the tip's commit date)."""
    lines = repo.git(
        "for-each-ref", "--sort=-committerdate", "--format=%(refname:strip=3)", "refs/heads/sia/"
    ).split()
    # Only the base refs: a long run holds tens of thousands of other refs under refs/sia/.
    based = {
        name.strip().split("/")[2] for name in repo.for_each_ref("refs/sia/*/base", "%(refname)")
    }
    return [r for r in lines if r in based]


def match_run(given: str, runs: list[str]) -> str:
    """A run id, or a unique prefix of one (as git takes abbreviated commits)."""
    if given in runs:
        return given
    found = [r for r in runs if r.startswith(given)]
    if len(found) > 1:
        raise SiaError(f"run '{given}' is ambiguous: {', '.join(found[:5])}")
    return found[0] if found else given


def run_cost(repo: Repo, run_id: str) -> float:
    """Dollars the run has spent on models, from its attempt and confirmation records (failed
    and rejected candidates included): what a resumed run's budget starts from."""
    return load(repo, run_id).total_cost_usd
