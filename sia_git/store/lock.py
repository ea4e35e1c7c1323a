"""One `evolve` per run at a time. The kernel drops an flock when its holder dies, so a SIGKILL
never leaves a stale lock that blocks resuming."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sia_git.core.errors import RunLocked, SiaError


class RunLock:
    def __init__(self, locks_dir: Path, run_id: str) -> None:
        locks_dir.mkdir(parents=True, exist_ok=True)
        self.path = locks_dir / f"{run_id}.lock"
        self.run_id = run_id
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except IsADirectoryError:
            raise SiaError(
                f"{self.path} is a folder where sia-git keeps the run's lock file; remove it"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunLocked(
                f"run '{self.run_id}' is already being evolved (pid {holder}); "
                "wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def holder(locks_dir: Path, run_id: str) -> int | None:
        """The pid evolving a run now, or None when it is idle."""
        path = locks_dir / f"{run_id}.lock"
        if not path.is_file():
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = path.read_text().strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None
