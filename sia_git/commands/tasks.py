"""`sia-git tasks`: the built-in tasks."""

from __future__ import annotations

import click

from sia_git.task import builtin_tasks, load


def run() -> None:
    for name, root in builtin_tasks().items():
        task = load(root, source=f"builtin:{name}")
        m = task.manifest
        splits = f"select on {m.splits.select}" + (
            f", report {', '.join(m.splits.report)}" if m.splits.report else "")
        click.echo(f"{name:16} {m.description}")
        click.echo(f"{'':16} metric {m.metric.name} ({m.metric.direction}), {splits}")
