"""What an agent sees of the machine, the same under every backend: the system libraries and the
interpreter read-only, the interpreter's own site-packages hidden, the allowed packages at
/sia/site, its code at /sia/agent and the public inputs at /sia/dataset (read-only), its working
dir at /sia/work (the one writable bind), the model gateway's socket, read-only mounts at
/sia/<name>, and size- and inode-capped tmpfs at /tmp and /dev/shm. And who it runs as: when
sia-git is root, each run gets its own unprivileged uid (never root on the host)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sia_git.sandbox import packages as pkgs
from sia_git.sandbox.spec import GATEWAY_IN_SANDBOX, RunSpec, interpreter

SYSTEM = ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives")
AGENT_UID_BASE = 200_000  # far above login users; no passwd entry is needed
TMP_INODES = 8192


def agent_uid() -> int | None:
    """A fresh unprivileged uid for one run when sia-git is root (a uid of its own: the process
    cap RLIMIT_NPROC counts per uid), else None: the agent runs as the user, in namespaces."""
    if os.geteuid() != 0:
        return None
    return AGENT_UID_BASE + secrets.randbelow(60_000)


def prepare_work(spec: RunSpec, uid: int | None) -> None:
    """The working dir belongs to the agent's uid, and to nobody else."""
    if uid is not None:
        os.chown(spec.work, uid, uid)
    spec.work.chmod(0o700)


def binds(spec: RunSpec, site: list[Path]) -> list[tuple[str, str, bool]]:
    """(host path, path in the sandbox, writable), in mount order; missing host paths skipped
    by the backend."""
    _, prefix = interpreter()
    out = [(p, p, False) for p in SYSTEM]
    out.append((str(prefix), str(prefix), False))
    out += [(str(p), f"/sia/site/{p.name}", False) for p in site]
    out += [
        (str(spec.agent_dir), "/sia/agent", False),
        (str(spec.dataset_dir), "/sia/dataset", False),
        (str(spec.work), "/sia/work", True),
    ]
    if spec.gateway is not None:
        out.append((str(spec.gateway), GATEWAY_IN_SANDBOX, True))
    out += [(str(p), f"/sia/{name}", False) for name, p in spec.mounts.items()]
    return out


def hidden() -> list[str]:
    """The interpreter's own site-packages (and the system's), covered by empty tmpfs: only the
    allowed packages are importable."""
    _, prefix = interpreter()
    return sorted(
        {
            str(d.resolve())
            for d in pkgs.site_dirs()
            if d.resolve().is_relative_to(prefix) or d.resolve().is_relative_to("/usr")
        }
    )


def tmpfs(spec: RunSpec) -> list[tuple[str, int, int]]:
    """(path, bytes, inodes) of the agent's scratch tmpfs."""
    size = spec.limits.tmp_mb << 20
    return [("/tmp", size, TMP_INODES), ("/dev/shm", size, TMP_INODES)]


def gpu_nodes(spec: RunSpec) -> list[str]:
    """NVIDIA device nodes, when the machine has them and the agent runs a model."""
    if not spec.mounts:
        return []
    nodes = sorted(str(p) for p in Path("/dev").glob("nvidia*") if not p.is_dir())
    return nodes + sorted(str(p) for p in Path("/dev/nvidia-caps").glob("*"))
