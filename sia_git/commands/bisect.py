"""`sia-git eval --bisect --threshold X [REV]`: one step of `git bisect run`. It scores REV
(default HEAD, the commit bisect checked out) alone, on the task's selection split, and exits 0
when the score is on the good side of X (at or above it; at or below for a metric to minimise),
1 when it is not, and 125 (bisect's "skip") for a commit that is not a generation or whose agent
cannot be scored, so `git bisect run sia-git eval --bisect --threshold X` finds the generation
where the metric crossed the line."""

from __future__ import annotations

from pathlib import Path

import click

from sia_git.commands import eval as evalcmd
from sia_git.core.errors import SiaError
from sia_git.gitrepo import open_repo

GOOD, BAD, SKIP = 0, 1, 125


def step(repo_path: Path, rev: str, opts: evalcmd.Options) -> int:
    repo = open_repo(repo_path)
    threshold = opts.bisect
    assert threshold is not None
    try:
        report = evalcmd.report_of(repo, rev, opts)
    except SiaError as exc:  # not a generation, or its agent failed: neither good nor bad
        click.echo(f"skip {rev}: {exc}", err=True)
        return SKIP
    row = next((r for r in report["splits"] if r["score"] is not None), None)
    if row is None:
        click.echo(f"skip {rev}: no split was scored", err=True)
        return SKIP
    maximize = report["direction"] == "maximize"
    good = row["score"] >= threshold if maximize else row["score"] <= threshold
    side = ">=" if maximize else "<="
    click.echo(
        f"generation {report['generation']} ({report['commit'][:10]}): {row['split']} "
        f"{row['score']:.4f} {'' if good else 'not '}{side} {threshold:g}: "
        f"{'good' if good else 'bad'}"
    )
    return GOOD if good else BAD
