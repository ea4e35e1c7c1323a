"""A git process run to its end, even when sia-git is interrupted.

`subprocess.run` kills its child when Ctrl-C or a `kill` reaches the caller. A git killed
mid-command can leave the user's repository broken: `git worktree add` cut short leaves a
worktree whose HEAD points at nothing (`git fsck` then fails), a killed `update-ref` leaves its
`.lock` behind. sia-git's git calls are short and local, so an interrupt waits for the one
under way (up to FINISH_S), then goes on as an interrupt; a second one stops it at once, with
SIGTERM, which git answers by removing its locks and half-made worktree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO

FINISH_S = 60.0


def run_to_end(
    argv: list[str], *, cwd: Path, input: str | None, stderr: IO[bytes], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`argv` with its stdout captured as text; an interrupt while it runs is raised again
    once it has finished (see the module's docstring)."""
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
    )
    with proc:
        try:
            out, _ = proc.communicate(input)
        except KeyboardInterrupt:
            _finish(proc)
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, None)


def _finish(proc: subprocess.Popen[str]) -> None:
    try:
        proc.communicate(timeout=FINISH_S)
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        proc.terminate()
        proc.wait()
