"""The read-only commands over a run's history: log, show, status, diff, compare, report,
audit."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sia_git.cli.common import json_option, repo_option, run_option


@click.command()
@run_option
@json_option
@repo_option
def log(run_id: str | None, as_json: bool, repo: Path) -> None:
    """Table of a run: gen, commit, lever, score, delta, status, cost."""
    from sia_git.commands import log as cmd

    cmd.run(repo, run_id, as_json)


@click.command()
@click.argument("generation", type=int)
@run_option
@json_option
@repo_option
def show(generation: int, run_id: str | None, as_json: bool, repo: Path) -> None:
    """A generation's improvement note, diff against its parent, metrics and gate results."""
    from sia_git.commands import show as cmd

    cmd.run(repo, run_id, generation, as_json=as_json)


@click.command()
@json_option
@repo_option
def status(as_json: bool, repo: Path) -> None:
    """The runs in this repository: branch, generations, best score, whether one is running."""
    from sia_git.commands import status as cmd

    cmd.run(repo, as_json)


@click.command("diff")
@click.argument("a")
@click.argument("b")
@run_option
@json_option
@repo_option
def diff_(a: str, b: str, run_id: str | None, as_json: bool, repo: Path) -> None:
    """Two generations side by side (numbers, or revisions of the run's commits): scores, lever,
    knobs, cost, and the diff of the agent from A to B."""
    from sia_git.commands import compare as cmd

    cmd.diff(repo, run_id, a, b=b, as_json=as_json)


@click.command()
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@json_option
@repo_option
def compare(runs: tuple[str, ...], as_json: bool, repo: Path) -> None:
    """A params-and-metrics table: one run's generations (the newest run by default), or, for
    several runs, each run's best generation (like `dvc exp show`)."""
    from sia_git.commands import compare as cmd

    cmd.compare(repo, runs, as_json)


@click.command()
@click.argument("run_arg", required=False, metavar="[RUN]")
@click.option("--run", "run_id", help="Run id, as for the other commands (or give it as RUN).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The HTML file to write [.git/sia/reports/sia-report-RUN.html]; the main plot goes "
    "beside it with the same name and .png.",
)
@json_option
@repo_option
def report(
    run_arg: str | None, run_id: str | None, out: Path | None, as_json: bool, repo: Path
) -> None:
    """Write an HTML report of a run (default: the newest): score per generation with every
    candidate's verdict and lever, dev against test, cumulative cost, improvement notes, diffs,
    gate failures and the best agent's commit. Self-contained: it opens offline."""
    from sia_git.commands import report as cmd

    if run_arg and run_id and run_arg != run_id:
        raise click.UsageError("give the run once: as RUN or as --run")
    cmd.run(repo, run_id or run_arg, out, as_json=as_json)


@click.command()
@run_option
@click.option(
    "--task-dir",
    type=click.Path(path_type=Path),
    help="The run's task folder (default: the one this machine's run used, else `task_dir` "
    "in sia-git.toml); the audit reads its answer files to know which items are sealed.",
)
@click.option("--task", help="The run's task, when it is a built-in one.")
@json_option
@repo_option
def audit(
    run_id: str | None, task_dir: Path | None, task: str | None, as_json: bool, repo: Path
) -> None:
    """Check a run for leaks of the sealed test split: every commit, tree, blob and note a
    clone would get is read; sealed items paired with their gold values, status words or a code
    for them (in any format, also encoded, compressed or in file names), a private answer file,
    or a score oracle (sealed scores that the release rule could not have produced) is a
    finding. A task that is not the run's is refused. Exit 1 on any finding."""
    from sia_git.commands import audit as cmd

    sys.exit(cmd.run(repo, run_id, task_dir, as_json=as_json, task=task))


@click.command()
@run_option
@click.option(
    "--task",
    help="The frontier over every run of this task (its name, or its folder for one that is "
    "not built in) whose dev scores are comparable, kept as refs/sia-frontier/<task>/.",
)
@json_option
@repo_option
def frontier(run_id: str | None, task: str | None, as_json: bool, repo: Path) -> None:
    """The run's Pareto frontier: the generations no other beats on score, agent run time, code
    size and cost at once, kept as refs/sia/<run>/frontier/gNNNN."""
    from sia_git.commands import frontier as cmd

    if task is not None and run_id is not None:
        raise click.UsageError("give --run or --task, not both")
    if task is not None:
        cmd.of_task(repo, task, as_json)
    else:
        cmd.run(repo, run_id, as_json)


@click.command()
@run_option
@json_option
@click.option("--task", help="A built-in task to score with, instead of the run's.")
@click.option("--task-dir", type=click.Path(path_type=Path), help="A task folder to score with.")
@repo_option
def ablate(
    run_id: str | None, as_json: bool, task: str | None, task_dir: Path | None, repo: Path
) -> None:
    """Which accepted changes carry the gain: the tip scored with each accepted generation's
    change taken out (knob by knob for knob generations), with the paired gain of keeping it
    and its 95% interval; kept as a note on the tip, so asking again is instant."""
    from sia_git.commands import ablate as cmd

    cmd.run(repo, run_id, as_json, task=task, task_dir=task_dir)
