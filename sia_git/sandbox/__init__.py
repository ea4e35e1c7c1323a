"""The sandbox: runs an untrusted target agent with no network, no secrets and hard limits.

`Sandbox` works out which packages an agent may import and hands each run (a `RunSpec`) to a
backend from the registry in `sandbox/backends/` (bwrap, unshare, docker, none; plugins add
more). What every backend guarantees is in docs/DESIGN.md, "The sandbox".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git.sandbox import backends

if TYPE_CHECKING:
    from sia_git.sandbox.procs import Limits
    from sia_git.sandbox.spec import RunResult, RunSpec

__all__ = ["Limits", "RunResult", "RunSpec", "Sandbox", "choose_backend"]


def __getattr__(name: str) -> Any:
    """The run types, imported when first named: the CLI reads the backend registry for its
    help on every command, and read-only commands never run an agent."""
    if name == "Limits":
        from sia_git.sandbox.procs import Limits

        return Limits
    if name in ("RunResult", "RunSpec"):
        from sia_git.sandbox import spec

        return getattr(spec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def choose_backend(requested: str) -> tuple[str, str | None]:
    """Return the backend to use and a warning to show, or raise when none can run."""
    return backends.choose(requested)


class Sandbox:
    """Runs `target_agent.py --dataset_dir --working_dir` for one candidate."""

    def __init__(self, backend: str, packages: list[str], forbid: list[str]) -> None:
        self.backend = backend
        self.packages = packages
        self.forbid = forbid
        from sia_git.sandbox import environments  # (packaging, pip: only when agents run)
        from sia_git.sandbox import packages as pkgs

        if "*" in packages:
            hidden = set(pkgs.hidden_paths(forbid))
            self.site = [p for d in pkgs.site_dirs() for p in d.iterdir() if p not in hidden]
        else:
            self.site = environments.site_paths(packages, forbid)
        # `import sia_gateway` works in every agent (the helper beside this package's relay)
        self.site.append(Path(__file__).with_name("sia_gateway.py"))
        self._backend = backends.get(backend)(list(self.site))

    def run(self, spec: RunSpec) -> RunResult:
        spec = spec.resolved()
        spec.work.mkdir(parents=True)
        return self._backend.run(spec)

    def close(self) -> None:
        self._backend.close()
