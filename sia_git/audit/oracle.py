"""The score oracle: more distinct sealed scores stored than the release rule (sealed.py) allows.

Two candidates that differ in one sealed item's answer differ in their sealed score exactly by
that item's label, so every sealed score a clone can read is a query to the labels. The rule
allows one per committed generation, on the Ladder's grid, moving only up (or down, for a
metric to minimise) by whole steps. Found here:

- a sealed score stored for a candidate that was not committed: a rejected ref's trailers, an
  attempt record's candidate that was not accepted, a note on a rejected commit;
- a committed generation with a sealed score stored besides the one released on the branch;
- released scores, in generation order, that the rule could not have produced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sia_git.gitrepo import Repo
from sia_git.store import refs
from sia_git.store import trailers as T
from sia_git.tasks import sealed

_CANDIDATE = re.compile(r"/g(\d+)-c(\d+)$")
SEP = "\x1d"


@dataclass
class Stored:
    """The sealed scores a run stores, by where they sit."""

    rejected: dict[tuple[Any, ...], float] = field(default_factory=dict)
    committed: dict[int, set[float]] = field(default_factory=dict)  # generation -> values
    released: list[float] = field(default_factory=list)  # the branch's, oldest first


def trailer(split: str) -> str:
    """The trailer a sealed split's released score is written to (as the loop writes it)."""
    return T.SCORE_TEST if split == "test" else f"Sia-Score-{split}"


def check(
    repo: Repo, run_id: str, splits: frozenset[str], *, n_items: int | None, direction: str
) -> list[str]:
    """One line per kind of oracle found in run `run_id` (sealed `splits`)."""
    if not splits:
        return []
    stored = collect(repo, run_id, splits)
    out = []
    if stored.rejected:
        distinct = len(set(map(_key, stored.rejected.values())))
        out.append(
            f"score oracle: {len(stored.rejected)} sealed score(s) stored for candidates that "
            f"were not committed ({distinct} distinct value(s)); the release rule allows none"
        )
    extra = sorted(g for g, v in stored.committed.items() if len(v) > 1)
    if extra:
        out.append(
            f"score oracle: {len(extra)} committed generation(s) (first: {extra[0]}) have a "
            "sealed score stored besides the released one"
        )
    problems = _ladder(stored.released, n_items, direction)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        out.append(
            "score oracle: the committed generations' sealed scores are not the release "
            f"rule's: {problems[0]}{more}"
        )
    return out


def _ladder(released: list[float], n_items: int | None, direction: str) -> list[str]:
    """The rule's violations; a run's grid is the one its scores fit (the split's size as the
    evaluator counted it, or 2% of the first score when it reported no items)."""
    if not released:
        return []
    found = []
    for n in (n_items, None):
        eta = sealed.step(n, released[0])
        found.append(sealed.violations(_snapped(released, eta), eta, direction))
    return [] if not all(found) else found[0]


def _snapped(values: list[float], eta: float) -> list[float]:
    """Values on the grid but for the rounding of a trailer (6 decimals) put back on it
    exactly."""
    out = []
    for v in values:
        k = round(v / eta)
        out.append(round(k * eta, 9) if abs(v / eta - k) < 1e-3 else v)
    return out


def collect(repo: Repo, run_id: str, splits: frozenset[str]) -> Stored:
    stored = Stored()
    names = [trailer(s) for s in sorted(splits)]
    base = repo.rev_parse(refs.base(run_id))
    tip = repo.rev_parse(refs.branch_ref(run_id))
    branch: dict[str, int] = {}
    if tip:
        span = f"{base}..{tip}" if base else tip
        for sha, tr in reversed(_trailers(repo, ["--first-parent", span])):
            gen = T.read_float(tr.get(T.GENERATION))
            values = [v for v in (T.read_float(tr.get(n)) for n in names) if v is not None]
            if gen is None or T.REJECTED in tr or not values:
                continue
            branch[sha] = int(gen)
            stored.released.append(values[0])
            stored.committed.setdefault(int(gen), set()).update(map(_key, values))
    rejected = _rejected(repo, run_id, names, stored=stored)
    _records(repo, run_id, splits, stored=stored)
    _notes(repo, run_id, splits, stored=stored, branch=branch, rejected=rejected)
    return stored


def _trailers(repo: Repo, args: list[str]) -> list[tuple[str, dict[str, str]]]:
    fmt = "--format=%H%x1f%(trailers:unfold,separator=%x1d)%x1e"
    out = repo.git("log", fmt, *args, check=False)
    rows = [chunk.strip("\n").split("\x1f", 1) for chunk in out.split("\x1e") if chunk.strip()]
    return [(sha, T.parse(block, SEP)) for sha, block in rows]


def _rejected(
    repo: Repo, run_id: str, names: list[str], *, stored: Stored
) -> dict[str, tuple[Any, ...]]:
    tips = {}
    for line in repo.for_each_ref(refs.run_ref(run_id, "rejected"), "%(objectname) %(refname)"):
        sha, name = line.strip().split(" ", 1)
        m = _CANDIDATE.search(name)
        tips[sha] = (int(m.group(1)), int(m.group(2))) if m else (name,)
    if tips:
        for sha, tr in _trailers(repo, ["--no-walk=unsorted", *tips]):
            values = [v for v in (T.read_float(tr.get(n)) for n in names) if v is not None]
            if values:
                stored.rejected[tips[sha]] = values[0]
    return tips


def _records(repo: Repo, run_id: str, splits: frozenset[str], *, stored: Stored) -> None:
    names = repo.for_each_ref(refs.run_ref(run_id, "attempts"), "%(refname)")
    texts = repo.read_files([f"{n.strip()}:attempt.json" for n in names])
    for text in texts.values():
        try:
            record = json.loads(text or "")
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        gen = record.get("generation")
        for cand in record.get("candidates") or []:
            value = _sealed_value(cand, splits) if isinstance(cand, dict) else None
            if value is None:
                continue
            if cand.get("candidate") == record.get("accepted") and isinstance(gen, int):
                stored.committed.setdefault(gen, set()).add(_key(value))
            else:
                stored.rejected[(gen, cand.get("candidate"))] = value


def _notes(
    repo: Repo,
    run_id: str,
    splits: frozenset[str],
    *,
    stored: Stored,
    branch: dict[str, int],
    rejected: dict[str, tuple[Any, ...]],
) -> None:
    listed: list[tuple[str, str]] = []
    for ref in repo.for_each_ref("refs/notes/", "%(refname)"):
        if ref.strip().startswith(refs.NOTES):
            out = repo.git("notes", "--ref", ref.strip(), "list", check=False)
            listed += [tuple(line.split()) for line in out.splitlines() if line.strip()]
    by_blob = dict(listed)
    for blob, _, data in repo.iter_objects(list(by_blob)):
        try:
            note = json.loads(data)
        except ValueError:
            continue
        value = _sealed_value(note, splits) if isinstance(note, dict) else None
        target = by_blob[blob]
        if value is None:
            continue
        if target in branch:
            stored.committed.setdefault(branch[target], set()).add(_key(value))
        elif target in rejected:
            stored.rejected[rejected[target]] = value
        elif note.get("run") == run_id:
            stored.rejected[("note", target)] = value


def _key(value: float) -> float:
    """A score as trailers write it (10 significant digits): the same score stored in a record
    and a trailer is one value."""
    return float(f"{value:.9g}")


def _sealed_value(obj: dict[str, Any], splits: frozenset[str]) -> float | None:
    """A record's or note's sealed score: `scores: {test: x}` or an eval row for the split."""
    scores = obj.get("scores")
    if isinstance(scores, dict):
        for s in sorted(splits):
            if isinstance(scores.get(s), int | float) and not isinstance(scores[s], bool):
                return float(scores[s])
    for row in obj.get("splits") or []:
        if isinstance(row, dict) and row.get("split") in splits:
            score = row.get("score")
            if isinstance(score, int | float) and not isinstance(score, bool):
                return float(score)
    return None
