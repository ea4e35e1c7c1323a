"""`sia-git revert GEN`: undo a generation with a `git revert` commit whose trailers say what was
reverted, why, and the score the branch is back to. The loop, `log`, the knob search and the
next generation follow the branch as it then is (as they do after a revert made by hand)."""

from __future__ import annotations

from pathlib import Path

import click

from sia_git import history as H
from sia_git import review
from sia_git import trailers as T
from sia_git.commands.common import open_run
from sia_git.errors import SiaError
from sia_git.gitrepo import GitError
from sia_git.lock import RunLock
from sia_git.runs import RunPaths, read_run_toml


def run(repo_path: Path, run_id: str | None, gen: int, reason: str | None) -> None:
    repo, hist = open_run(repo_path, run_id)
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
        is_tip = hist.tip.sha == entry.sha
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
        repo.ensure_worktree(paths.worktree, H.branch(hist.run_id))
        try:
            sha = repo.revert(paths.worktree, entry.sha, msg)
        except GitError:
            repo.sync_worktree(paths.worktree)
            raise SiaError(
                f"generation {gen} cannot be reverted cleanly: later generations "
                "changed the same lines; revert those first, newest first"
            ) from None
    click.echo(
        f"gen {gen}: reverted by {sha[:10]} on {H.branch(hist.run_id)}"
        + (f"; the branch is back to {before:.4f}" if before is not None else "")
    )
    settings = read_run_toml(repo, sha).get("settings", {})
    review.follow(repo, hist.run_id, settings, click.echo, (entry, sha, why))


def _score_before(hist: H.RunHistory, entry: H.Entry) -> float | None:
    """The score of the generation the branch returns to when its tip is reverted."""
    live = [
        e
        for e in hist.branch
        if e.kind == "generation" and e.status == "accepted" and e.sha != entry.sha
    ]
    return live[-1].score if live else None
