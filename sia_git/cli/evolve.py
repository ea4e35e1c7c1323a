"""`sia-git evolve`: the flags are the settings model's (settings/options.py), plus the
invocation's own (--run, --json, --quiet)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sia_git.cli.common import F, repo_option
from sia_git.settings import EvolveConfig
from sia_git.settings.options import options

EVOLVE_OPTIONS = [
    click.option("--run", "run_id", help="Resume this run from its branch tip."),
    *options(EvolveConfig),
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        default=None,
        help="Print JSON lines for machines: one event per line (start, generation, candidate "
        "states, best, every message, end).",
    ),
    click.option(
        "--quiet",
        is_flag=True,
        default=None,
        help="Plain lines only, no live display (as in a pipe or CI).",
    ),
]


def evolve_options(f: F) -> F:
    """Apply every evolve flag, in the order `--help` lists them."""
    for option in reversed(EVOLVE_OPTIONS):
        f = option(f)
    return f


@click.command()
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
