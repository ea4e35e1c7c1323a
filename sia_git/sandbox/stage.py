"""The `unshare` backend's stage: run by `unshare` inside new mount, pid, network, IPC and UTS
namespaces (and a user namespace when sia-git is not root), it builds the agent's whole view of
the machine in a fresh tmpfs root, as bubblewrap does, then pivots into it, drops every
privilege and runs the agent. Standard library only: it runs with `python -S`.

Its source is handed to the interpreter with `-c`; its one argument names the JSON settings."""

# ruff: noqa: S108 (the paths are inside the new root, not the host's /tmp)
from __future__ import annotations

import ctypes
import json
import os
import platform
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# statvfs flags that a bind mount in a user namespace must keep when it is made read-only
_LOCKED = {2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME,
           4096: MS_RELATIME}  # fmt: skip
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DEVICES = ("null", "zero", "full", "random", "urandom")

libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str | None, dst: str, fstype: str | None, *, flags: int, data: str = "") -> None:
    _check(
        libc.mount(
            src.encode() if src else None,
            dst.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {src or fstype} on {dst}",
    )


def _target(root: str, dst: str, is_dir: bool) -> str:
    path = root + dst
    os.makedirs(path if is_dir else os.path.dirname(path), mode=0o755, exist_ok=True)
    if not is_dir and not os.path.exists(path):
        open(path, "w").close()  # noqa: SIM115 (an empty file to bind onto)
    return path


def bind(root: str, src: str, dst: str, *, writable: bool) -> None:
    target = _target(root, dst, os.path.isdir(src))
    mount(src, target, None, flags=MS_BIND)
    if not writable:
        flags = os.statvfs(target).f_flag
        kept = sum(ms for st, ms in _LOCKED.items() if flags & st)
        mount(None, target, None, flags=MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def loopback_up() -> None:
    """A new network namespace's loopback starts down: bring it up (the model endpoint and any
    local server the agent starts live on it; nothing else is reachable)."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


def privileged_ports_from(port: int) -> None:
    """The relay binds port 443 (provider URLs) after privileges are dropped: in this network
    namespace, which holds nothing else, ports from 443 on need no privilege."""
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as f:
            f.write(str(port))
    except OSError:
        pass  # the relay says in one line that provider URLs are not reachable


def build_root(cfg: dict) -> None:
    root = cfg["root"]
    loopback_up()
    privileged_ports_from(443)
    mount(None, "/", None, flags=MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host
    mount("tmpfs", root, "tmpfs", flags=MS_NOSUID | MS_NODEV, data="size=1m,mode=0755")
    for src, dst, writable in cfg["binds"]:
        if os.path.exists(src):
            bind(root, src, dst, writable=writable)
    dev = _target(root, "/dev", True)
    mount("tmpfs", dev, "tmpfs", flags=MS_NOSUID | MS_NOEXEC, data="size=64k,mode=0755")
    for name in DEVICES:
        bind(root, f"/dev/{name}", f"/dev/{name}", writable=True)
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        os.symlink(f"/proc/self/fd/{fd}", f"{dev}/{name}")
    os.symlink("/proc/self/fd", f"{dev}/fd")
    for dst, size_bytes, inodes in cfg["tmpfs"]:
        data = f"size={size_bytes},nr_inodes={inodes},mode=1777"
        mount("tmpfs", _target(root, dst, True), "tmpfs", flags=MS_NOSUID | MS_NODEV, data=data)
    mount("proc", _target(root, "/proc", True), "proc", flags=MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    _check(libc.syscall(SYS_PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(libc.umount2(b".", 2), "detach the old root")  # MNT_DETACH
    os.chdir("/")
    mount(None, "/", None, flags=MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]


def drop_privileges(uid: int | None) -> None:
    """No way back: a real unprivileged uid when sia-git is root; else no capabilities left in
    the user namespace (root there, but unable to mount, unmount or remount anything)."""
    _check(libc.prctl(38, 1, 0, 0, 0), "no_new_privs")  # PR_SET_NO_NEW_PRIVS
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        return
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (EINVAL past the last capability)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data), "capset")


def main() -> None:
    with open(sys.argv[1]) as f:  # a file: one argument may not pass 128 KiB
        cfg = json.load(f)
    try:
        build_root(cfg)
        os.chdir(cfg["cwd"])
        drop_privileges(cfg["uid"])
    except OSError as exc:
        print(f"sia-git sandbox: {exc}", file=sys.stderr)
        sys.exit(125)
    child = os.fork()
    if child == 0:
        os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])
    # pid 1 of the namespace: reap orphans until the agent ends; its exit ends every process
    # left in the namespace.
    while True:
        pid, status = os.wait()
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
