"""`sia-git tasks`: the built-in tasks."""

from __future__ import annotations

import click

from sia_git.task import builtin_tasks, load


def run() -> None:
    tasks = builtin_tasks()
    width = max(16, *(len(n) + 2 for n in tasks))
    for name, root in tasks.items():
        task = load(root, source=f"builtin:{name}")
        m = task.manifest
        splits = f"select on {m.splits.select}" + (
            f", report {', '.join(m.splits.report)}" if m.splits.report else ""
        )
        click.echo(f"{name:{width}}{m.description}")
        click.echo(
            f"{'':{width}}metric {m.metric.name} ({m.metric.direction}), {splits}"
            + (f"; runs {m.weights.base_model} (weights lever)" if m.weights else "")
        )
