"""`sia-git eval [REV]`: run a generation's agent again, with its pinned adapter, and compare
with the score in its commit."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sia_git import history as H
from sia_git import trailers as T
from sia_git.commands.common import fmt_score
from sia_git.errors import SiaError
from sia_git.gitrepo import open_repo
from sia_git.rescore import rescore


def run(repo_path: Path, rev: str | None, as_json: bool) -> None:
    repo = open_repo(repo_path)
    if rev is None:
        runs = H.list_runs(repo)
        if not runs:
            raise SiaError("no sia-git runs in this repository: name a commit (REV)")
        rev = H.branch(runs[0])
    result = rescore(repo, rev, lambda line: click.echo(line, err=True))
    o = result.outcome
    if not o.ok:
        raise SiaError(f"{rev}: the agent {o.status}: {o.reason}")
    committed = {result.task.manifest.splits.select: result.entry.score}
    for split in result.task.splits[1:]:
        key = T.SCORE_TEST if split == "test" else f"Sia-Score-{split}"
        committed[split] = T.read_float(result.entry.trailers.get(key))
    rows = [{"split": s, "score": o.score(s), "committed": committed.get(s),
             "same": _same(o.score(s), committed.get(s))} for s in result.task.splits]
    if as_json:
        click.echo(json.dumps({"commit": result.sha, "generation": result.entry.gen,
                               "adapter": o.adapter, "splits": rows}, indent=1))
        return
    click.echo(f"{result.sha[:10]} (generation {result.entry.gen}"
               + (f", adapter {o.adapter[:19]}" if o.adapter else "") + ")")
    click.echo(f"{'split':<8} {'now':>8} {'committed':>10}")
    for r in rows:
        mark = "" if r["same"] else "  (differs)"
        click.echo(f"{r['split']:<8} {fmt_score(r['score']):>8} "  # type: ignore[arg-type]
                   f"{fmt_score(r['committed']):>10}{mark}")  # type: ignore[arg-type]


def _same(now: float | None, committed: float | None) -> bool:
    if now is None or committed is None:
        return now is committed
    return float(T.score_value(now)) == committed
