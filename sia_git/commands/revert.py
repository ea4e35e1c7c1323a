"""`sia-git revert GEN`: undo a generation with a `git revert` commit whose trailers say what was
reverted, why, and the score the branch is back to. The loop, `log`, the knob search and the
next generation follow the branch as it then is (as they do after a revert made by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git.commands.common import open_run
from sia_git.core.errors import SiaError
from sia_git.evolve import trust
from sia_git.forges import review
from sia_git.gitrepo import GitError, Repo
from sia_git.gitrepo.worktrees import kept_line
from sia_git.levers import knob_source as knobmod
from sia_git.store import history as H
from sia_git.store import trailers as T
from sia_git.store.lock import RunLock
from sia_git.store.runs import CODE_DIR, ENTRY, RunPaths


def run(
    repo_path: Path, run_id: str | None, gen: int, *, reason: str | None, as_json: bool = False
) -> None:
    repo, hist = open_run(repo_path, run_id, write=True)
    entry = hist.generation(gen)
    if entry is None:
        raise SiaError(
            f"run {hist.run_id} has no generation {gen} on its branch (see `sia-git log`)"
        )
    if gen == 1:
        raise SiaError(
            "generation 1 is the run's starting point: there is nothing before it to go back to"
        )
    if entry.status == "reverted":
        raise SiaError(f"generation {gen} ({entry.sha[:10]}) is already reverted")
    paths = RunPaths(repo, hist.run_id)
    with RunLock(paths.locks, hist.run_id):
        hist = H.load(repo, hist.run_id)
        # Back to a known state when nothing after it is still in force.
        is_tip = hist.tip.sha == entry.sha or not _live_after(hist, entry)
        why = reason or "reverted by hand with `sia-git revert`"
        before = _score_before(hist, entry) if is_tip else None
        trailers = [
            (T.RUN, hist.run_id),
            (T.REVERTS, entry.sha),
            (T.REASON, why),
            (T.SCORE, T.score_value(before)),
        ]
        body = (
            f"This reverts commit {entry.sha}.\n\nGeneration {gen} "
            f"({T.score_value(entry.score)} on its selection split) is undone: {why}."
            + (
                ""
                if is_tip
                else " Later generations stay; the branch's score is unknown "
                "until the next generation re-scores it."
            )
        )
        msg = T.render(f'Revert "{entry.subject}"', body, trailers)
        if kept := repo.ensure_worktree(paths.worktree, H.branch(hist.run_id)):
            click.echo(kept_line(paths.worktree, kept), err=True)
        try:
            sha = repo.revert(paths.worktree, entry.sha, msg)
        except GitError:
            repo.sync_worktree(paths.worktree, keep=False)  # our own revert's conflict
            sha = _revert_knobs(repo, hist, entry, msg=msg)
            if sha is None:
                raise SiaError(
                    f"generation {gen} cannot be reverted cleanly: later generations "
                    "changed the same lines; revert those first, newest first"
                ) from None
            repo.sync_worktree(paths.worktree, keep=False)
    if as_json:
        click.echo(json.dumps({"run": hist.run_id, "generation": gen, "reverted": entry.sha,
                               "commit": sha, "score": before}, indent=1))  # fmt: skip
    else:
        click.echo(
            f"gen {gen}: reverted by {sha[:10]} on {H.branch(hist.run_id)}"
            + (f"; the branch is back to {before:.4f}" if before is not None else "")
        )
    # Which forge and base to tell comes from this side, never the branch (trust.py).
    settings = trust.settings_for(repo, hist.run_id).model_dump()
    review.follow(repo, hist.run_id, settings, say=click.echo, revert=(entry, sha, why))


def _live_after(hist: H.RunHistory, entry: H.Entry) -> list[H.Entry]:
    """Generations after `entry` on the branch that are still in force (not reverted)."""
    gens = [e for e in hist.branch if e.kind == "generation"]
    at = next(i for i, e in enumerate(gens) if e.sha == entry.sha)
    return [e for e in gens[at + 1 :] if e.status == "accepted"]


def _revert_knobs(repo: Repo, hist: H.RunHistory, entry: H.Entry, *, msg: str) -> str | None:
    """Undo a knobs generation on the knob values: each knob it changed goes back to its old
    value unless a later generation changed it again; every other change stays. None when the
    generation changed more than knob values."""
    path = f"{CODE_DIR}/{ENTRY}"
    before, after = repo.read_file(f"{entry.sha}^", path), repo.read_file(entry.sha, path)
    tip = repo.read_file(hist.tip.sha, path)
    if before is None or after is None or tip is None:
        return None
    try:
        old, new, now = (knobmod.read(t) for t in (before, after, tip))
        if old is None or new is None or now is None:
            return None
        if knobmod.without_knobs(before) != knobmod.without_knobs(after):
            return None  # it changed more than knob values
    except knobmod.KnobError:
        return None
    values = dict(now[0])
    for name, value in new[0].items():
        if old[0].get(name) != value and values.get(name) == value and name in old[0]:
            values[name] = old[0][name]
    tree = repo.make_tree(hist.tip.sha, {path: knobmod.write(tip, values).encode()})
    sha = repo.commit(tree, [hist.tip.sha], msg)
    repo.update_refs([(f"refs/heads/{H.branch(hist.run_id)}", sha, hist.tip.sha)])
    return sha


def _score_before(hist: H.RunHistory, entry: H.Entry) -> float | None:
    """The score of the generation the branch returns to when its tip is reverted."""
    live = [
        e
        for e in hist.branch
        if e.kind == "generation" and e.status == "accepted" and e.sha != entry.sha
    ]
    return live[-1].score if live else None
