"""`sia-git evolve`: start a run, or resume one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sia_git.evolve import loop
from sia_git.evolve.progress import for_terminal


def run(repo: Path, run_id: str | None, flags: dict[str, Any]) -> None:
    progress = for_terminal(bool(flags.pop("quiet", False)), bool(flags.pop("as_json", False)))
    try:
        if run_id:
            loop.resume(repo, run_id, flags, echo=progress.echo, progress=progress)
        else:
            loop.start(repo, flags, progress.echo, progress=progress)
    finally:
        progress.close()
