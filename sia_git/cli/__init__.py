"""The command line: parses flags and dispatches to sia_git.commands; no logic lives here.
Each command's module is imported only when that command runs (or `--help` lists them), so a
read-only command starts without the settings model, the sandbox or the model client."""

from __future__ import annotations

import importlib
from typing import Any

import click

from sia_git import __version__
from sia_git.cli import boundary

# command -> "module:function" under sia_git.cli
COMMANDS = {
    "ablate": "inspect:ablate",
    "adapters": "adapters:adapters",
    "audit": "inspect:audit",
    "check": "setup:check",
    "compare": "inspect:compare",
    "diff": "inspect:diff_",
    "eval": "review:eval_",
    "evolve": "evolve:evolve",
    "export": "export:export",
    "frontier": "inspect:frontier",
    "gc": "setup:gc",
    "hooks": "setup:hooks",
    "init": "setup:init",
    "log": "inspect:log",
    "pr": "review:pr",
    "report": "inspect:report",
    "revert": "review:revert",
    "reviews": "review:reviews",
    "serve": "serve:serve",
    "show": "inspect:show",
    "status": "inspect:status",
    "tasks": "setup:tasks",
    "transfer": "review:transfer",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        command: click.Command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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


def main() -> None:
    """Entry point: every ending is an exit code and at most one line (boundary.py)."""
    boundary.run(lambda: cli.main(prog_name="sia-git", standalone_mode=False), cli)


__all__: list[Any] = ["cli", "main"]
