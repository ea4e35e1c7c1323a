"""`sia-git export`: runs written to the experiment trackers people already use."""

from __future__ import annotations

from pathlib import Path

import click

from sia_git.cli.common import json_option, repo_option


@click.group()
def export() -> None:
    """Write runs to an experiment tracker (each export updates what the last one wrote)."""


@export.command()
@click.option(
    "--tracking-uri",
    required=True,
    help="Where MLflow keeps runs: a tracking server's URL (http://host:5000), or a local "
    "folder (a path or file:///...; MLflow 3 keeps that store in maintenance mode, and sia-git "
    "opts into it for you).",
)
@click.option("--run", "run_id", help="Export only this run (default: every run here).")
@click.option(
    "--experiment", help="The MLflow experiment to write to (default: the run's task name)."
)
@json_option
@repo_option
def mlflow(
    tracking_uri: str, run_id: str | None, experiment: str | None, as_json: bool, repo: Path
) -> None:
    """Each run (or --run's) as one MLflow run: run.toml and generation 1's knobs as
    parameters; per generation (the step) its dev score, cost, agent run time and code size as
    metrics; the commits and the tip's knobs as tags; improvement notes and the report as
    artifacts. Exporting again updates the same MLflow run (found by the run's id and base
    commit) and logs only new points. Needs the mlflow extra: pip install '.[mlflow]'."""
    from sia_git.commands import export as cmd

    cmd.mlflow(repo, tracking_uri, run_id=run_id, experiment=experiment, as_json=as_json)
