"""`sia-git ablate [--run R]`: which accepted changes carry the run's gain. For each accepted
generation after the first, the tip is scored with only that generation's change taken out
(evolve/changes.py), on the selection split, and compared item by item with the tip itself:
the paired gain of keeping the change, with its 95% interval. A change whose interval reaches 0
is named as contributing nothing measurable. The table is kept as a git note on the tip
(`refs/notes/sia-ablate`), so asking again is instant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sia_git.commands.common import open_run
from sia_git.core.errors import SiaError
from sia_git.evolve import changes
from sia_git.gitrepo import Repo
from sia_git.store import evidence, refs
from sia_git.store import history as H
from sia_git.store import trailers as T

NOTES = refs.ABLATE_NOTES


def run(repo_path: Path, run_id: str | None, as_json: bool, *, task: str | None = None,
        task_dir: Path | None = None) -> None:  # fmt: skip
    repo, hist = open_run(repo_path, run_id, write=True)
    tip = hist.tip
    if tip.kind != "generation" or tip.gen is None:
        raise SiaError(f"run {hist.run_id}: its branch tip is not a generation; nothing to ablate")
    stored = repo.note(tip.sha, NOTES)
    table = json.loads(stored) if stored else _measure(repo, hist, task=task, task_dir=task_dir)
    if not stored:
        repo.add_note(tip.sha, json.dumps(table, indent=1), NOTES)
    if as_json:
        click.echo(json.dumps(table, indent=1))
        return
    click.echo(f"run {hist.run_id}: each accepted change taken out of generation {tip.gen} "
               f"({tip.sha[:10]}), scored on {table['split']}")  # fmt: skip
    for row in table["rows"]:
        click.echo(f"  gen {row['gen']:>3} {row['lever'] or '-':8} {row['says']}  "
                   f"{row['subject'][:60]}")  # fmt: skip


def _measure(repo: Repo, hist: H.RunHistory, *, task: str | None, task_dir: Path | None
             ) -> dict[str, Any]:  # fmt: skip
    from sia_git.evolve import trust
    from sia_git.evolve.rescore import rescore
    from sia_git.store import runrecord
    from sia_git.store.runs import read_run_toml

    tip = hist.tip
    decided = trust.decide(repo, runrecord.run_of(repo, tip.sha), read_run_toml(repo, tip.sha),
                           flags={"task": task, "task_dir": task_dir, "sandbox": None})  # fmt: skip
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    select = decided.task.select
    whole = rescore(repo, tip.sha, decided, say=say)
    mine = _statuses(whole, select)
    if mine is None:
        raise SiaError(f"generation {tip.gen}: its agent could not be scored on {select}")
    message = repo.git("log", "-1", "--format=%B", tip.sha)
    rows = []
    for e in hist.branch:
        if e.kind != "generation" or e.status != "accepted" or (e.gen or 0) < 2:
            continue
        knobs = e.trailers.get(T.LEVER) == "knobs"
        tree = changes.without(repo, tip.sha, e.sha, knobs_only=knobs)
        row: dict[str, Any] = {"gen": e.gen, "commit": e.sha, "lever": e.trailers.get(T.LEVER),
                               "subject": e.subject, "gain": None, "interval": None}  # fmt: skip
        if tree is None:
            row["says"] = "cannot be taken out cleanly (later generations changed it again)"
            rows.append(row)
            continue
        say(f"ablate: generation {e.gen} taken out")
        ablated = rescore(repo, repo.commit(tree, [tip.sha], message), decided, say=say,
                          generation=False)  # fmt: skip
        theirs = _statuses(ablated, select)
        ev = evidence.paired(theirs, [mine], lvl=None) if theirs is not None else None
        rows.append({**row, **_verdict(ev)})
    return {"tip": tip.sha, "split": select, "rows": rows}


def _statuses(r: Any, split: str) -> dict[str, bool] | None:
    if not r.outcome.ok or r.outcome.evaluation is None:
        return None
    scored = r.outcome.evaluation.splits.get(split)
    return evidence.statuses(scored.items) if scored is not None and scored.items else None


def _verdict(ev: evidence.Evidence | None) -> dict[str, Any]:
    if ev is None:
        return {"says": "without it, the agent could not be scored"}
    low, high = ev.interval
    nothing = low <= 0.0 <= high
    says = f"keeping it: {ev.gain:+.4f} [{low:+.4f}, {high:+.4f}] (n={ev.n})" + (
        ", contributes nothing measurable" if nothing else ""
    )
    return {"gain": ev.gain, "interval": [low, high], "nothing": nothing, "says": says}
