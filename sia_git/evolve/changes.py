"""A run's tip with one generation's change taken out, as a tree: knob-level for a knob
generation (its knobs set back where the tip still has its values), a three-way undo of its
agent files for any other (git merge-file per file, as `git revert -n` would on those files).
Only the agent's folder and its adapter pin change: the run's notes are not part of the agent.
None when the change cannot be taken out cleanly (later generations rewrote the same lines)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sia_git.gitrepo import Repo
from sia_git.levers import knob_source as knobmod
from sia_git.store.runs import CODE_DIR, ENTRY
from sia_git.weights.pins import PIN


def without(repo: Repo, tip: str, gen: str, *, knobs_only: bool) -> str | None:
    """The tree of `tip` without the change commit `gen` made, or None."""
    files = _knob_undo(repo, tip, gen) if knobs_only else _file_undo(repo, tip, gen)
    if files is None:
        return None
    return repo.make_tree(tip, files) if files else None


def _knob_undo(repo: Repo, tip: str, gen: str) -> dict[str, bytes | None] | None:
    path = f"{CODE_DIR}/{ENTRY}"
    texts = repo.read_files([f"{c}:{path}" for c in (f"{gen}^", gen, tip)])
    before, after, now = (texts[f"{c}:{path}"] for c in (f"{gen}^", gen, tip))
    if before is None or after is None or now is None:
        return None
    try:
        parsed = [knobmod.read(t) for t in (before, after, now)]
    except knobmod.KnobError:
        return None
    if None in parsed:
        return None
    (old, _), (new, _), (current, _) = parsed  # type: ignore[misc]
    back = {k: old[k] for k, v in new.items() if k in old and old[k] != v and current.get(k) == v}
    if not back:
        return None  # later generations set those knobs again
    return {path: knobmod.write(now, {**current, **back}).encode()}


def _file_undo(repo: Repo, tip: str, gen: str) -> dict[str, bytes | None] | None:
    paths = set()
    for c in (f"{gen}^", gen, tip):
        paths |= set(repo.list_files(c, CODE_DIR))
    paths.add(PIN)
    specs = [f"{c}:{p}" for p in sorted(paths) for c in (f"{gen}^", gen, tip)]
    blobs = repo.read_files(specs)
    out: dict[str, bytes | None] = {}
    for p in sorted(paths):
        theirs, base, ours = (blobs[f"{c}:{p}"] for c in (f"{gen}^", gen, tip))
        if base == theirs:
            continue  # the generation did not touch it
        if ours == base:
            merged: str | None = theirs  # untouched since: take it back as it was
        elif None in (ours, base, theirs):
            return None  # deleted on one side, changed on the other
        else:
            merged = _merge(repo, ours or "", base=base or "", theirs=theirs or "")
            if merged is None:
                return None
        if merged != ours:
            out[p] = None if merged is None else merged.encode()
    return out


def _merge(repo: Repo, ours: str, *, base: str, theirs: str) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            (Path(tmp) / name).write_text(text)
            names.append(str(Path(tmp) / name))
        merged = repo.git("merge-file", "-p", *names, check=False)
    return None if "<<<<<<< " in merged else merged
