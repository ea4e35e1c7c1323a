"""sia-git's temporary folders outside the repository (in TMPDIR) carry their owner's pid, so a
later `evolve` or `sia-git gc` removes what a killed process left behind."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from sia_git.core.pids import pid_alive

OURS = re.compile(r"sia-git-(\d+)-")
# Names older releases used, without a pid: removed once they are this old.
LEGACY = re.compile(r"sia-(semgrep|gw|ray|pull|hub|probe)-")
LEGACY_AGE_S = 6 * 3600


def prefix(kind: str) -> str:
    """The name prefix of a temporary folder of this process."""
    return f"sia-git-{os.getpid()}-{kind}-"


@functools.cache
def own() -> Path:
    """This process's folder for its children's temporary files (TMPDIR of git, the gates, the
    evaluator, training): removed at exit, and swept after a kill."""
    path = Path(tempfile.mkdtemp(prefix=prefix("tmp")))
    atexit.register(shutil.rmtree, path, True)
    return path


def sweep(root: Path | None = None) -> list[Path]:
    """Remove the temporary folders of sia-git processes that are gone; return them."""
    root = root or Path(tempfile.gettempdir())
    gone = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    now = time.time()
    for path in entries:
        owner = OURS.match(path.name)
        dead = owner is not None and not pid_alive(int(owner.group(1)))
        with contextlib.suppress(OSError):
            old = LEGACY.match(path.name) and now - path.stat().st_mtime > LEGACY_AGE_S
            if (dead or old) and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                gone.append(path)
    return gone
