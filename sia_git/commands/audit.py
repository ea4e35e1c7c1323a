"""`sia-git audit`: check that nothing a clone of a run would get ties a sealed test item to its
result, and that no private answer file's content is in it (see sia_git/audit/)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sia_git.audit import audit
from sia_git.commands.common import open_run
from sia_git.evolve import trust
from sia_git.store.runs import read_run_toml
from sia_git.tasks import splits


def run(
    repo_path: Path, run_id: str | None, task_dir: Path | None, *, as_json: bool, task: str | None
) -> int:
    repo, hist = open_run(repo_path, run_id)
    recorded = read_run_toml(repo, hist.tip.sha)
    # The task comes from this side (trust.py), never the branch; a wrong one is refused.
    flags = {"task": task, "task_dir": task_dir}
    decided = trust.decide(repo, hist.run_id, recorded, flags=flags)
    task_ = decided.task
    result = audit(repo, hist.run_id, task_)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "run": result.run_id,
                    "objects": result.objects,
                    "sealed_items": result.sealed_items,
                    "clean": result.clean,
                    "findings": [
                        {"object": f.obj, "where": f.where, "what": f.what} for f in result.findings
                    ],
                },
                indent=1,
            )
        )
    else:
        for f in result.findings:
            click.echo(f.line())
        verdict = "clean" if result.clean else f"{len(result.findings)} finding(s)"
        items = (
            "every item sealed"
            if result.sealed_items < 0
            else f"{result.sealed_items} sealed test items checked"
        )
        click.echo(
            f"audit of run {result.run_id}: {verdict} ({result.objects} objects read, "
            f"{items}" + (f"; {splits.LEGACY_NOTE}" if task_.plan.mode == "legacy" else "") + ")",
            file=sys.stdout if result.clean else sys.stderr,
        )
    return 0 if result.clean else 1
