"""What an agent sees of the machine, the same under every backend: the system libraries and the
interpreter read-only, the interpreter's own site-packages hidden, the allowed packages at
/sia/site, its code at /sia/agent and the public inputs at /sia/dataset (read-only), its working
dir at /sia/work (the one writable bind), the model gateway's socket, read-only mounts at
/sia/<name>, and size- and inode-capped tmpfs at /tmp and /dev/shm. And who it runs as: when
sia-git is root, each run gets its own unprivileged uid (never root on the host)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from sia_git.sandbox import environments
from sia_git.sandbox import packages as pkgs
from sia_git.sandbox.intercept import CA_IN_SANDBOX
from sia_git.sandbox.spec import GATEWAY_IN_SANDBOX, TLS_GATEWAY_IN_SANDBOX, RunSpec, interpreter

SYSTEM = ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives")
AGENT_UID_BASE = 200_000  # far above login users; no passwd entry is needed
TMP_INODES = 8192


def agent_uid() -> int | None:
    """A fresh unprivileged uid for one run when sia-git is root (a uid of its own: the process
    cap RLIMIT_NPROC counts per uid), else None: the agent runs as the user, in namespaces."""
    if os.geteuid() != 0:
        return None
    return AGENT_UID_BASE + secrets.randbelow(60_000)


def prepare_work(spec: RunSpec, uid: int | None) -> RunSpec:
    """The working dir belongs to the agent's uid, and to nobody else; what the agent must read
    is readable by it: sia-git's own copies (its code, the inputs) are opened up in place, and a
    mounted folder of the user's (a base model) with files others may not read is shown from a
    readable copy, made once."""
    if uid is not None:
        os.chown(spec.work, uid, uid)
    spec.work.chmod(0o700)
    if uid is None:
        return spec
    for folder in (spec.agent_dir, spec.dataset_dir):
        _open_up(folder)
    mounts = {n: p if _readable(p) else readable_copy(p) for n, p in spec.mounts.items()}
    return dataclasses.replace(spec, mounts=mounts)


def _walk(folder: Path) -> list[Path]:
    return [folder, *(p for p in folder.rglob("*") if not p.is_symlink())]


def _open_up(folder: Path) -> None:
    for p in _walk(folder):
        mode = p.stat().st_mode
        want = mode | (0o555 if p.is_dir() else 0o444)
        if want != mode:
            p.chmod(want)


def _readable(folder: Path) -> bool:
    return all(p.stat().st_mode & (0o005 if p.is_dir() else 0o004) for p in _walk(folder))


def readable_copy(folder: Path) -> Path:
    """A copy of `folder` that others may read, cached by its path, sizes and times."""
    h = hashlib.sha256(str(folder).encode())
    for p in _walk(folder):
        st = p.stat()
        h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    dest = environments.cache_root().parent / "readable" / h.hexdigest()[:16]
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".copying-", dir=dest.parent))
    shutil.copytree(folder, tmp, dirs_exist_ok=True, symlinks=False)
    _open_up(tmp)
    try:
        os.rename(tmp, dest)
    except OSError:  # another run made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


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
    if spec.gateway is not None and spec.tls_gateway is not None and spec.intercept is not None:
        out += [
            (str(spec.tls_gateway), TLS_GATEWAY_IN_SANDBOX, True),
            (str(spec.intercept.ca), CA_IN_SANDBOX, False),
            (str(spec.intercept.hosts), "/etc/hosts", False),
            (str(spec.intercept.nsswitch), "/etc/nsswitch.conf", False),
        ]
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
