"""`sia-git tasks`: the built-in tasks."""

from __future__ import annotations

import json

import click

from sia_git.tasks.task import builtin_tasks, load


def run(as_json: bool = False) -> None:
    tasks = builtin_tasks()
    width = max(16, *(len(n) + 2 for n in tasks))
    if as_json:
        rows = []
        for name, root in tasks.items():
            m = load(root, source=f"builtin:{name}").manifest
            rows.append({"name": name, "description": m.description, "version": m.version,
                         "metric": m.metric.name, "direction": m.metric.direction,
                         "weights": m.weights.base_model if m.weights else None})  # fmt: skip
        click.echo(json.dumps(rows, indent=1))
        return
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
