"""A generation's change as something to move: taken out of a run's tip (`ablate`), or carried
onto another run's tip (`transfer`). Knob-level for a knob generation (the knobs it set go back,
or are set there where the other agent has them and the values fit), a three-way merge of its
agent files for any other (`git merge-file` per file, as `git revert -n` or `git cherry-pick -n`
would on those files). Only the agent's folder and its adapter pin change: the run's notes are
not part of the agent. None when the change cannot be moved cleanly, or changes nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sia_git.gitrepo import Repo
from sia_git.levers import knob_source as knobmod
from sia_git.store.runs import CODE_DIR, ENTRY, agent_files
from sia_git.weights.pins import PIN


def without(repo: Repo, tip: str, gen: str, *, knobs_only: bool) -> str | None:
    """The tree of `tip` without the change commit `gen` made, or None."""
    if knobs_only:
        files = _knobs(repo, tip, before=gen, after=f"{gen}^", only_where_set=True)
    else:
        files = _merged(repo, tip, before=gen, after=f"{gen}^", paths=[PIN])
    return repo.make_tree(tip, files) if files else None


def carried(repo: Repo, onto: str, gen: str, *, knobs_only: bool) -> dict[str, bytes] | None:
    """The agent folder of `onto` (path -> bytes, relative to it) with the change commit `gen`
    made to its parent applied, or None (a conflict, or nothing it changes is there to change).
    A weights generation's adapter pin does not travel: it belongs to its run's base model."""
    if knobs_only:
        changed = _knobs(repo, onto, before=f"{gen}^", after=gen, only_where_set=False)
    else:
        changed = _merged(repo, onto, before=f"{gen}^", after=gen, paths=[])
    if not changed:
        return None
    files = agent_files(repo, onto)
    for path, data in changed.items():
        name = path.removeprefix(f"{CODE_DIR}/")
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    return files


def _knobs(repo: Repo, onto: str, *, before: str, after: str, only_where_set: bool
           ) -> dict[str, bytes | None] | None:  # fmt: skip
    """Each knob `before`->`after` changed, set to its `after` value in `onto`'s agent: only
    where `onto` still has the `before` value (`only_where_set`: an undo keeps what later
    generations set), else wherever `onto`'s KNOB_SPACE has the knob and the value fits."""
    path = f"{CODE_DIR}/{ENTRY}"
    texts = repo.read_files([f"{c}:{path}" for c in (before, after, onto)])
    old_src, new_src, now = (texts[f"{c}:{path}"] for c in (before, after, onto))
    if old_src is None or new_src is None or now is None:
        return None
    try:
        parsed = [knobmod.read(t) for t in (old_src, new_src, now)]
    except knobmod.KnobError:
        return None
    if None in parsed:
        return None
    (old, _), (new, _), (current, space) = parsed  # type: ignore[misc]
    if only_where_set:
        want = {
            k: v for k, v in new.items() if k in old and old[k] != v and current.get(k) == old[k]
        }
    else:
        want = {k: v for k, v in new.items() if old.get(k) != v and current.get(k) != v
                and k in space and knobmod.inside(space[k], v)}  # fmt: skip
    if not want:
        return None
    return {path: knobmod.write(now, {**current, **want}).encode()}


def _merged(repo: Repo, onto: str, *, before: str, after: str, paths: list[str]
            ) -> dict[str, bytes | None] | None:  # fmt: skip
    """The files under the agent's folder (and `paths`) that the change `before`->`after`
    makes to `onto`, three-way merged; None on a conflict."""
    names = set(paths)
    for c in (before, after, onto):
        names |= set(repo.list_files(c, CODE_DIR))
    specs = [f"{c}:{p}" for p in sorted(names) for c in (before, after, onto)]
    blobs = repo.read_files(specs)
    out: dict[str, bytes | None] = {}
    for p in sorted(names):
        base, theirs, ours = (blobs[f"{c}:{p}"] for c in (before, after, onto))
        if base == theirs or ours == theirs:
            continue  # the change does not touch it, or `onto` has it already
        if ours == base:
            merged: str | None = theirs  # untouched there: take the change as it is
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
