"""The command line: parses flags and dispatches to sia_git.commands. No logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sia_git import __version__, boundary, forges
from sia_git.cli_options import eval_options, evolve_options
from sia_git.cli_serve import serve

repo_option = click.option(
    "-C",
    "--repo",
    "repo",
    type=click.Path(path_type=Path),
    default=".",
    show_default=True,
    help="Repository to work in.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
run_option = click.option("--run", "run_id", help="Run id (default: the newest run).")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sia-git")
def cli() -> None:
    """Make an agent improve itself, one reviewable git commit per generation.

    \b
    Typical use, inside any git repository:
      sia-git tasks                              # the built-in tasks
      sia-git evolve --task penguins --max-gen 8 # a run on branch sia/<run-id>
      sia-git log                                # score per generation
      sia-git show 3                             # what generation 3 changed, and why
    """


@cli.command()
@json_option
def tasks(as_json: bool) -> None:
    """List the built-in tasks."""
    from sia_git.commands import tasks as cmd

    cmd.run(as_json)


@cli.command()
@click.option("--task", "name", help="Name of the new task (a folder of that name is made).")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to create it (default: ./NAME; with --ci alone: the repository).",
)
@click.option(
    "--ci",
    type=click.Choice(["github"]),
    help="Write a CI workflow that runs `sia-git eval` on pull requests from sia/* "
    "branches, comments the result and fails on a regression.",
)
def init(name: str | None, directory: Path | None, ci: str | None) -> None:
    """Scaffold a custom task (task.toml, task.md, evaluator, reference agent) that runs as is,
    and/or a CI workflow (--ci github)."""
    from sia_git.commands import init as cmd

    cmd.run(name, directory, ci)


@cli.command()
@evolve_options
@repo_option
def evolve(run_id: str | None, repo: Path, **flags: Any) -> None:
    """Run the generation loop: propose, gate, run in the sandbox, score, commit or reject.

    Work happens on branch sia/<run-id> in a worktree inside .git: your branch, index and files
    are never touched. Settings come from these flags, then sia-git.toml, then [tool.sia-git]
    in pyproject.toml. Kill it at any time; `sia-git evolve --run <run-id>` resumes.
    """
    from sia_git.commands import evolve as cmd

    cmd.run(repo, run_id, flags)


@cli.command()
@run_option
@click.option(
    "--task-dir",
    type=click.Path(path_type=Path),
    help="The task folder, when the path the run recorded is not here (the audit "
    "reads the answer files to know which item ids are sealed).",
)
@json_option
@repo_option
def audit(run_id: str | None, task_dir: Path | None, as_json: bool, repo: Path) -> None:
    """Check a run for leaks of the sealed test split: every commit, ref and note a clone would
    get is read; a test item's id next to a status, a score or a gold value, or a private answer
    file's content, is a finding. Exit 1 on any finding."""
    from sia_git.commands import audit as cmd

    sys.exit(cmd.run(repo, run_id, task_dir, as_json))


@cli.command()
@run_option
@json_option
@repo_option
def log(run_id: str | None, as_json: bool, repo: Path) -> None:
    """Table of a run: gen, commit, lever, score, delta, status, cost."""
    from sia_git.commands import log as cmd

    cmd.run(repo, run_id, as_json)


@cli.command()
@click.argument("generation", type=int)
@run_option
@json_option
@repo_option
def show(generation: int, run_id: str | None, as_json: bool, repo: Path) -> None:
    """A generation's improvement.md, diff against its parent, metrics and gate results."""
    from sia_git.commands import show as cmd

    cmd.run(repo, run_id, generation, as_json)


@cli.command()
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
    cmd.run(repo, run_id or run_arg, out, as_json)


@cli.command()
@json_option
@repo_option
def status(as_json: bool, repo: Path) -> None:
    """The runs in this repository: branch, generations, best score, whether one is running."""
    from sia_git.commands import status as cmd

    cmd.run(repo, as_json)


@cli.command("diff")
@click.argument("a")
@click.argument("b")
@run_option
@json_option
@repo_option
def diff_(a: str, b: str, run_id: str | None, as_json: bool, repo: Path) -> None:
    """Two generations side by side (numbers, or revisions of the run's commits): scores, lever,
    knobs, cost, and the diff of the agent from A to B."""
    from sia_git.commands import compare as cmd

    cmd.diff(repo, run_id, a, b, as_json)


@cli.command()
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@json_option
@repo_option
def compare(runs: tuple[str, ...], as_json: bool, repo: Path) -> None:
    """A params-and-metrics table: one run's generations (the newest run by default), or, for
    several runs, each run's best generation (like `dvc exp show`)."""
    from sia_git.commands import compare as cmd

    cmd.compare(repo, runs, as_json)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@json_option
@repo_option
def gc(dry_run: bool, as_json: bool, repo: Path) -> None:
    """Remove what finished runs and killed processes left on disk: run worktrees and scratch
    space under .git/sia/ (runs in progress are kept) and sia-git's temporary folders. Branches,
    refs and notes are never touched: `evolve --run` recreates a worktree."""
    from sia_git.commands import gc as cmd

    cmd.run(repo, dry_run, as_json)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--forbid-package",
    "forbid",
    multiple=True,
    help="A package agents must not import (the task's data source); repeatable.",
)
@click.option(
    "--allow-rule",
    "allow",
    multiple=True,
    help="A gate rule whose findings are reported but do not fail (a task's `allow_rules`, "
    "e.g. B602); repeatable.",
)
@json_option
def check(
    files: tuple[Path, ...], forbid: tuple[str, ...], allow: tuple[str, ...], as_json: bool
) -> None:
    """Run the candidate gates (ruff, bandit, semgrep, secret scan) on FILES.

    Exit 0 when every gate passes, 1 when one fails. Results are cached by content: an
    unchanged file is not scanned twice.
    """
    from sia_git.commands import check as cmd

    sys.exit(cmd.run(files, as_json, forbid, allow))


@cli.command("eval")
@click.argument("rev", required=False)
@eval_options
@repo_option
def eval_(rev: str | None, repo: Path, as_json: bool, markdown: bool, **opts: Any) -> None:
    """Run generation REV's agent again in the sandbox, with its pinned adapter (pulled from the
    hub if it is not stored here), and compare it with a baseline [default REV: the newest
    run's tip]. The commit decides only its agent: the task, settings and gates are this
    side's, and what the commit says otherwise is listed as ignored. The result is stored as a
    git note (`git notes --ref sia-eval show REV`) and cached by the agent's tree, adapter and
    task version."""
    from sia_git.commands import eval as cmd

    if as_json and markdown:
        raise click.UsageError("give at most one of --json and --markdown")
    fmt = "json" if as_json else "markdown" if markdown else "table"
    code = cmd.run(repo, rev, cmd.Options(fmt=fmt, **opts))
    if code:
        raise SystemExit(code)


@cli.command()
@click.argument("generation", type=int)
@run_option
@click.option("--reason", help="Why, for the revert commit's Sia-Reason trailer.")
@json_option
@repo_option
def revert(
    generation: int, run_id: str | None, reason: str | None, as_json: bool, repo: Path
) -> None:
    """Undo GENERATION with a `git revert` commit on the run branch, with trailers saying what,
    why and the score the branch returns to; `evolve --run` goes on from there."""
    from sia_git.commands import revert as cmd

    cmd.run(repo, run_id, generation, reason, as_json)


@cli.command()
@run_option
@click.option(
    "--review",
    "--mode",
    "mode",
    type=click.Choice(["pr", "run-pr"]),
    default="pr",
    show_default=True,
    help="A pull request per accepted generation, or one for the whole run.",
)
@click.option(
    "--forge",
    default="local",
    show_default=True,
    help=f"Where pull requests go: {forges.help_line()}.",
)
@click.option(
    "--review-base",
    "--base",
    "base_branch",
    default="main",
    show_default=True,
    help="Branch a run's pull request targets.",
)
@click.option("--github-repo", help="owner/name (default: GITHUB_REPOSITORY or origin's URL).")
@click.option("--merge", is_flag=True, help="Also merge the pull requests (oldest first).")
@json_option
@repo_option
def pr(
    run_id: str | None,
    mode: str,
    forge: str,
    base_branch: str,
    github_repo: str | None,
    merge: bool,
    as_json: bool,
    repo: Path,
) -> None:
    """Open or update pull requests for a run's generations (or the run), with score tables,
    improvement notes, gates, cost and lever."""
    from sia_git.commands import pr as cmd

    cmd.run(repo, run_id, mode, forge, base_branch, github_repo, merge, as_json)


@cli.command()
@click.argument("number", type=int, required=False)
@json_option
@repo_option
def reviews(number: int | None, as_json: bool, repo: Path) -> None:
    """The local forge's reviews: all of them, or review NUMBER with its body and comments."""
    from sia_git.commands import reviews as cmd

    cmd.run(repo, number, as_json)


@cli.group()
def adapters() -> None:
    """LoRA adapters of weights generations: stored by content hash, on the hub by commit."""


@adapters.command("list")
@run_option
@json_option
@repo_option
def adapters_list(run_id: str | None, as_json: bool, repo: Path) -> None:
    """Every weights generation: its adapter, whether it is stored here, and where on the hub."""
    from sia_git.commands import adapters as cmd

    cmd.list_(repo, run_id, as_json)


@adapters.command("pull")
@click.argument("rev")
@click.option("--hub-repo", help="Hub repo to fetch from (default: the one the run recorded).")
@click.option("--to", type=click.Path(path_type=Path), help="Also copy the adapter here.")
@repo_option
def adapters_pull(rev: str, hub_repo: str | None, to: Path | None, repo: Path) -> None:
    """Get exactly the adapter commit REV was scored with (checked against its hash); print
    the folder."""
    from sia_git.commands import adapters as cmd

    cmd.pull(repo, rev, hub_repo, to)


@adapters.command("push")
@run_option
@click.option("--hub-repo", help="Hub repo (user/name) for adapters whose run named none.")
@repo_option
def adapters_push(run_id: str | None, hub_repo: str | None, repo: Path) -> None:
    """Upload adapters still pending (stored while offline, or when the hub failed), with a
    model card, and tag each with its generation's commit SHA."""
    from sia_git.commands import adapters as cmd

    cmd.push(repo, run_id, hub_repo)


@cli.group()
def hooks() -> None:
    """sia-git's gates as pre-commit hooks in this repository."""


@hooks.command("install")
@repo_option
def hooks_install(repo: Path) -> None:
    """Add sia-git's gates to .pre-commit-config.yaml and install pre-commit's git hook."""
    from sia_git.commands import hooks as cmd

    cmd.run_install(repo)


cli.add_command(serve)


def main() -> None:
    """Entry point: every ending is an exit code and at most one line (boundary.py)."""
    boundary.run(lambda: cli.main(prog_name="sia-git", standalone_mode=False), cli)
