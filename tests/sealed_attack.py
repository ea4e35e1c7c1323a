"""A score-oracle attacker: recover sealed test labels from the sealed scores a clone holds.

It works on runs of the flip fixture (tests/data/flip_task): the agent answers `neg` for every
item except the dev hints, and its knob `flip` flips the answer of sealed item number `flip`
(the sealed items in the public items.csv's order). A stored sealed score of a candidate that
flips an item differs from the unflipped baseline by +1/n or -1/n: the sign tells whether the
item's `neg` was right.

Usage (the whole API)::

    found = attack(clone, task_dir)     # {sealed item id: is the unflipped answer right?}
    truth = reference_right(task_dir)   # the same for every sealed item, from the answers
    hits = sum(found[i] == truth[i] for i in found)

`attack` returns an entry only for items whose flip changed a stored sealed score; an item
whose flipped candidates all stored the baseline value (or none at all) is left out: a guess
for it is at chance. `observations(clone)` lists every (knobs, sealed score) pair it read, from
commit trailers on every ref, attempt records and notes.
"""

from __future__ import annotations

import csv
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.tasks.task import load

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Observation:
    where: str  # the ref, record or note it was read from
    knobs: dict[str, Any]
    sealed: float


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, check=True
    ).stdout


def _from_trailers(repo: Path) -> list[Observation]:
    out = []
    fmt = "%H%x1f%(trailers:key=Sia-Knobs,valueonly)%x1f%(trailers:key=Sia-Score-Test,valueonly)"
    for line in _git(repo, "log", "--all", f"--format={fmt}").splitlines():
        sha, knobs, score = ([*line.split("\x1f"), "", ""])[:3]
        if knobs.strip() and score.strip() not in ("", "none"):
            out.append(Observation(sha, json.loads(knobs), float(score)))
    return out


def _records(repo: Path) -> list[tuple[str, dict[str, Any]]]:
    """Attempt records' candidates and notes, as (where, JSON object)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for ref in _git(repo, "for-each-ref", "--format=%(refname)", "refs/sia/").split():
        if "/attempts/" in ref:
            record = json.loads(_git(repo, "show", f"{ref}:attempt.json"))
            out += [(ref, c) for c in record.get("candidates", [])]
    for ref in _git(repo, "for-each-ref", "--format=%(refname)", "refs/notes/").split():
        for line in _git(repo, "notes", "--ref", ref, "list").splitlines():
            blob, target = line.split()
            try:
                note = json.loads(_git(repo, "cat-file", "blob", blob))
            except json.JSONDecodeError:
                continue
            if isinstance(note, dict):
                out.append((f"{ref}:{target}", note))
    return out


def observations(clone: Path) -> list[Observation]:
    """Every (knobs, sealed test score) a clone stores, wherever it is."""
    out = _from_trailers(clone)
    for where, obj in _records(clone):
        score = (obj.get("scores") or {}).get("test")
        if isinstance(obj.get("knobs"), dict) and isinstance(score, int | float):
            out.append(Observation(where, obj["knobs"], float(score)))
    return out


def _items(task_dir: Path) -> list[str]:
    with (task_dir / "public/items.csv").open(newline="") as f:
        return [r["id"] for r in csv.DictReader(f)]


def sealed_items(task_dir: Path) -> list[str]:
    task = load(task_dir, source=str(task_dir))
    return [i for i in _items(task_dir) if task.plan.side(i) == "test"]


def reference_right(task_dir: Path) -> dict[str, bool]:
    """For each sealed item: is the agent's unflipped answer (`neg`) its label?"""
    with (task_dir / "private/labels.csv").open(newline="") as f:
        gold = {r["id"]: r["label"] for r in csv.DictReader(f)}
    return {i: gold[i] == "neg" for i in sealed_items(task_dir)}


def attack(clone: Path, task_dir: Path) -> dict[str, bool]:
    """{sealed item id: whether the unflipped answer is right}, for each item a stored score
    gives away (see the module's docstring)."""
    items = sealed_items(task_dir)
    obs = observations(clone)
    unflipped = [o.sealed for o in obs if not 0 <= int(o.knobs.get("flip", -1)) < len(items)]
    if unflipped:
        baseline = max(set(unflipped), key=unflipped.count)
    elif obs:
        values = sorted(o.sealed for o in obs)
        baseline = (values[0] + values[-1]) / 2
    else:
        return {}
    votes: dict[str, int] = {}
    for o in obs:
        flip = int(o.knobs.get("flip", -1))
        if 0 <= flip < len(items):
            delta = o.sealed - baseline
            if abs(delta) > TOLERANCE:
                votes[items[flip]] = votes.get(items[flip], 0) + (1 if delta < 0 else -1)
    return {item: v > 0 for item, v in votes.items() if v}
