"""Start a sandboxed process under resource limits, and make sure nothing of it outlives its run.

Limits are applied by a tiny launcher that the child executes before the real command, so no
`preexec_fn` is needed (that is not thread-safe, and candidates run in threads). A cgroup per run
(cgroups.py) caps processes and memory, tmpfs and shared memory included; a watcher enforces the
working dir's quota.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sia_git.core import faults
from sia_git.sandbox.cgroups import RunCgroup, pid_alive

__all__ = ["Finished", "Limits", "QuotaWatch", "pid_alive", "run_limited", "usage"]
QUOTA_POLL_S = 0.25

_LAUNCHER = r"""
import ctypes, json, os, resource, signal, sys
with open(sys.argv[1]) as f:  # a file: one argument may not pass 128 KiB (a long bind list)
    cfg = json.load(f)
# Die with sia-git: if it is killed (SIGKILL, OOM), nothing of the agent's run may go on.
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != cfg["parent"]:
    sys.exit(137)  # sia-git died before the line above took effect
for procs in cfg["cgroups"]:
    with open(procs, "w") as f:
        f.write(str(os.getpid()))
for name, value in cfg["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execvpe(cfg["argv"][0], cfg["argv"], cfg["env"])
"""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 120.0
    memory_mb: int = 2048
    cpu_s: int | None = None  # defaults to the wall timeout plus a little
    file_size_mb: int = 256
    open_files: int = 256
    max_procs: int = 64
    # Quotas of what the agent writes: its working dir, and its /tmp (and /dev/shm) tmpfs.
    work_mb: int = 1024
    work_files: int = 20_000
    tmp_mb: int = 256

    def rlimits(self) -> dict[str, int]:
        cpu = self.cpu_s if self.cpu_s is not None else int(self.timeout_s) + 5
        return {
            "RLIMIT_AS": self.memory_mb * 1024 * 1024,
            "RLIMIT_CPU": cpu,
            "RLIMIT_FSIZE": self.file_size_mb * 1024 * 1024,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_NPROC": self.max_procs,
            "RLIMIT_CORE": 0,
        }


@dataclass
class Finished:
    exit_code: int | None
    timed_out: bool
    duration_s: float
    leftovers_killed: int
    killed_for: str = ""  # a quota or the memory cap, when that is what ended the run


def run_limited(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    *,
    limits: Limits,
    stdout: Path,
    stderr: Path,
    quota_dir: Path | None = None,
) -> Finished:
    """Run argv with rlimits, a cgroup (processes, memory) and a wall timeout; kill everything
    it started. `quota_dir` (the working dir) is watched: past `work_mb` or `work_files` the run
    is killed."""
    cgroup = RunCgroup(limits.max_procs, limits.memory_mb)
    cfg = {
        "cgroups": cgroup.procs_files,
        "rlimits": limits.rlimits(),
        "argv": argv,
        "env": env,
        "parent": os.getpid(),
    }
    settings = stdout.parent / f".launch-{uuid.uuid4().hex[:8]}.json"
    settings.write_text(json.dumps(cfg))
    launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(settings)]
    start = time.monotonic()
    timed_out = False
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            launcher,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            env={},
        )
        faults.point("running")  # the agent is running: it must die with sia-git
        quota = QuotaWatch(quota_dir, limits, lambda: _killpg(proc.pid)) if quota_dir else None
        # A blocking wait, with a timer for the limit: Popen.wait(timeout=) polls with sleeps
        # of up to 50 ms, and that much idle time after every agent was a quarter of a short
        # candidate's run (bench/: throughput).
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _killpg(proc.pid)

        timer = threading.Timer(limits.timeout_s, expire)
        timer.daemon = True
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
            timed_out = expired.is_set()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            leftovers = cgroup.kill_all()
            proc.wait()
            oom = cgroup.oom_killed()
            cgroup.remove()
            if quota:
                quota.stop()
            settings.unlink(missing_ok=True)
    why = quota.reason if quota and quota.reason else ("the memory cap was reached" if oom else "")
    seconds = time.monotonic() - start
    return Finished(None if timed_out else proc.returncode, timed_out, seconds, leftovers, why)


class QuotaWatch:
    """Watches a working dir while its agent runs; past `work_files` or `work_mb` it calls
    `kill` once and keeps the reason. `stop()` ends the watch (every backend shares it)."""

    def __init__(self, folder: Path, limits: Limits, kill: Callable[[], None]) -> None:
        self.reason = ""
        self._folder, self._limits, self._kill = folder, limits, kill
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        limits = self._limits
        while not self._done.wait(QUOTA_POLL_S):
            files, size = usage(self._folder, limits.work_files + 1)
            if files > limits.work_files or size > limits.work_mb << 20:
                self.reason = (
                    f"the working dir passed its quota ({limits.work_files} files, "
                    f"{limits.work_mb} MB)"
                )
                self._kill()
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def usage(folder: Path, stop_at: int) -> tuple[int, int]:
    """(entries, bytes on disk) under `folder`, links not followed; counting stops at `stop_at`
    entries (past the quota the exact number does not matter)."""
    files = size = 0
    stack = [folder]
    while stack and files < stop_at:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            files += 1
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                size += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
    return files, size
