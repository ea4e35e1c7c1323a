"""Start a sandboxed process under resource limits, and make sure nothing of it outlives its run.

Limits are applied by a tiny launcher that the child executes before the real command, so no
`preexec_fn` is needed (that is not thread-safe, and candidates run in threads). A pids cgroup,
when the machine offers one, caps the process count: RLIMIT_NPROC does not bind root.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sia_git import faults

_LAUNCHER = r"""
import ctypes, json, os, resource, signal, sys
cfg = json.loads(sys.argv[1])
# Die with sia-git: if it is killed (SIGKILL, OOM), nothing of the agent's run may go on.
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != cfg["parent"]:
    sys.exit(137)  # sia-git died before the line above took effect
if cfg["cgroup"]:
    with open(cfg["cgroup"], "w") as f:
        f.write(str(os.getpid()))
for name, value in cfg["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execvpe(cfg["argv"][0], cfg["argv"], cfg["env"])
"""

_CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
STALE_CGROUP_S = 600


@functools.cache
def _sweep_stale(root: Path) -> None:
    """Clean up after a killed sia-git: kill what is left in the cgroups of owners that are
    gone (named `sia-git-<owner pid>-...`), and remove empty cgroups. Only old empty ones: a
    sibling process may have just made one that its agent has not joined yet."""
    for path in root.glob("sia-git-*"):
        with contextlib.suppress(OSError):
            owner = path.name.split("-")[2]
            if owner.isdigit() and not pid_alive(int(owner)):
                for pid in _read(path / "cgroup.procs").split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), signal.SIGKILL)
            if (
                not _read(path / "cgroup.procs").strip()
                and time.time() - path.stat().st_mtime > STALE_CGROUP_S
            ):
                path.rmdir()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 120.0
    memory_mb: int = 2048
    cpu_s: int | None = None  # defaults to the wall timeout plus a little
    file_size_mb: int = 256
    open_files: int = 256
    max_procs: int = 64

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


class PidsCgroup:
    """A pids cgroup (v1 or v2) for one run, or nothing when the machine does not offer one."""

    def __init__(self, max_procs: int) -> None:
        self.path: Path | None = None
        for root in _CGROUP_ROOTS:
            if not (root / "cgroup.procs").exists():
                continue
            if root == Path("/sys/fs/cgroup") and "pids" not in _read(root / "cgroup.controllers"):
                continue
            _sweep_stale(root)
            path = root / f"sia-git-{os.getpid()}-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(max_procs))
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            self.path = path
            return

    @property
    def procs_file(self) -> str | None:
        return str(self.path / "cgroup.procs") if self.path else None

    def pids(self) -> list[int]:
        if not self.path:
            return []
        return [int(p) for p in _read(self.path / "cgroup.procs").split()]

    def kill_all(self) -> int:
        """SIGKILL every process in the group until it is empty; return how many were killed."""
        killed: set[int] = set()
        for _ in range(200):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            time.sleep(0.01)
        return len(killed)

    def remove(self) -> None:
        if self.path:
            for _ in range(100):
                try:
                    self.path.rmdir()
                    return
                except OSError:
                    self.kill_all()
                    time.sleep(0.02)


def run_limited(
    argv: list[str], env: dict[str, str], cwd: Path, limits: Limits, stdout: Path, stderr: Path
) -> Finished:
    """Run argv with rlimits, a pids cgroup and a wall timeout; kill everything it started."""
    cgroup = PidsCgroup(limits.max_procs)
    cfg = {
        "cgroup": cgroup.procs_file,
        "rlimits": limits.rlimits(),
        "argv": argv,
        "env": env,
        "parent": os.getpid(),
    }
    launcher = [sys.executable, "-S", "-c", _LAUNCHER, json.dumps(cfg)]
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
        try:
            proc.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            leftovers = cgroup.kill_all()
            proc.wait()
            cgroup.remove()
    return Finished(
        None if timed_out else proc.returncode, timed_out, time.monotonic() - start, leftovers
    )


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
