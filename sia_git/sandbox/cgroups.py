"""A cgroup per agent run: the process cap (RLIMIT_NPROC does not bind root) and the memory cap
that also counts what the agent keeps in tmpfs and shared memory (RLIMIT_AS does not). cgroup v1
(a `pids` and a `memory` hierarchy) or v2 (one group with both controllers); whatever the machine
does not offer is left out and `missing` says what."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
import uuid
from pathlib import Path

from sia_git.core.pids import pid_alive

STALE_CGROUP_S = 600
_V1 = {"pids": Path("/sys/fs/cgroup/pids"), "memory": Path("/sys/fs/cgroup/memory")}
_V2 = Path("/sys/fs/cgroup")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


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


def _make(root: Path, name: str, settings: dict[str, str]) -> Path | None:
    _sweep_stale(root)
    path = root / name
    try:
        path.mkdir()
        for key, value in settings.items():
            (path / key).write_text(value)
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return path


class RunCgroup:
    """The cgroups of one run. `procs_files` are what the launcher joins before it execs."""

    def __init__(self, max_procs: int, memory_mb: int | None = None) -> None:
        name = f"sia-git-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        memory = {} if memory_mb is None else {"memory": memory_mb * 1024 * 1024}
        self.paths: list[Path] = []
        self.controllers: set[str] = set()
        if (_V2 / "cgroup.controllers").exists():
            offered = set(_read(_V2 / "cgroup.controllers").split())
            settings = {"pids.max": str(max_procs)} if "pids" in offered else {}
            if memory and "memory" in offered:
                settings |= {"memory.max": str(memory["memory"]), "memory.swap.max": "0"}
            path = _make(_V2, name, settings) if settings else None
            if path is not None:
                self.paths.append(path)
                self.controllers = {k.split(".")[0] for k in settings}
            return
        v1 = {"pids": {"pids.max": str(max_procs)}}
        if memory:
            v1["memory"] = {"memory.limit_in_bytes": str(memory["memory"])}
        for controller, settings in v1.items():
            root = _V1[controller]
            if (root / "cgroup.procs").exists() and (path := _make(root, name, settings)):
                self.paths.append(path)
                self.controllers.add(controller)

    @property
    def procs_files(self) -> list[str]:
        return [str(p / "cgroup.procs") for p in self.paths]

    def missing(self) -> list[str]:
        return sorted({"pids", "memory"} - self.controllers)

    def pids(self) -> list[int]:
        return sorted({int(p) for path in self.paths for p in _read(path / "cgroup.procs").split()})

    def oom_killed(self) -> bool:
        """Whether the memory cap killed a process of the run."""
        for path in self.paths:
            for line in _read(path / "memory.events").splitlines():  # v2
                if line.startswith("oom_kill ") and line.split()[1] != "0":
                    return True
            if _read(path / "memory.failcnt").strip() not in ("", "0") and (
                "oom_kill 1" in _read(path / "memory.oom_control")
                or "under_oom 1" in _read(path / "memory.oom_control")
            ):
                return True
        return False

    def kill_all(self) -> int:
        """SIGKILL every process in the groups until they are empty; return how many died."""
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
        for path in self.paths:
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.02)
