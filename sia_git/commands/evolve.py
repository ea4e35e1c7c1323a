"""`sia-git evolve`: start a run, or resume one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sia_git import loop


def run(repo: Path, run_id: str | None, flags: dict[str, Any]) -> None:
    def echo(line: str) -> None:
        click.echo(line)

    if run_id:
        loop.resume(repo, run_id, flags, echo)
    else:
        loop.start(repo, flags, echo)
