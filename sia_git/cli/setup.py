"""Commands that set things up or tidy: tasks, init, check, hooks, gc."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sia_git.cli.common import json_option, repo_option


@click.command()
@json_option
def tasks(as_json: bool) -> None:
    """List the built-in tasks."""
    from sia_git.commands import tasks as cmd

    cmd.run(as_json)


@click.command()
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
@click.option(
    "--sia-git-from",
    "source",
    metavar="SOURCE",
    help="Where the CI workflow installs sia-git: a version (==0.1.0) or a URL the runner can "
    "reach (git+https://github.com/OWNER/sia-git@v0.1.0, a wheel's https URL). Default: where "
    "this sia-git came from; a local folder or file is refused.",
)
def init(name: str | None, directory: Path | None, ci: str | None, source: str | None) -> None:
    """Scaffold a custom task (task.toml, task.md, evaluator, reference agent) that runs as is,
    and/or a CI workflow (--ci github)."""
    from sia_git.commands import init as cmd

    cmd.run(name, directory, ci, source=source)


class _GatesHelp(click.Command):
    """--help ends with the gates (plugins' included), read when it is shown."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from sia_git.core.extensions import GATES

        formatter.write_paragraph()
        formatter.write_text(f"Gates: {GATES.help()}.")


@click.command(cls=_GatesHelp)
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
    """Run the candidate gates (ruff, bandit, semgrep, secret scan, and plugins') on FILES.

    Exit 0 when every gate passes, 1 when one fails. Results are cached by content: an
    unchanged file is not scanned twice.
    """
    from sia_git.commands import check as cmd

    sys.exit(cmd.run(files, as_json, forbid, allow=allow))


@click.group()
def hooks() -> None:
    """sia-git's gates as pre-commit hooks in this repository."""


@hooks.command("install")
@repo_option
def hooks_install(repo: Path) -> None:
    """Add sia-git's gates to .pre-commit-config.yaml and install pre-commit's git hook."""
    from sia_git.commands import hooks as cmd

    cmd.run_install(repo)


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@json_option
@repo_option
def gc(dry_run: bool, as_json: bool, repo: Path) -> None:
    """Remove what finished runs and killed processes left on disk: run worktrees and scratch
    space under .git/sia/ (runs in progress are kept) and sia-git's temporary folders. Branches,
    refs and notes are never touched: `evolve --run` recreates a worktree."""
    from sia_git.commands import gc as cmd

    cmd.run(repo, dry_run, as_json)
