"""The interface every sandbox backend implements; see docs/EXTENDING.md."""

from __future__ import annotations

import subprocess
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from sia_git.core import tmpfiles
from sia_git.sandbox.spec import RunResult, RunSpec


class Backend(ABC):
    """Runs `target_agent.py --dataset_dir --working_dir` under the sandbox's guarantees
    (docs/DESIGN.md, "The sandbox"). One instance per run of sia-git; `run` is called from
    several threads at once."""

    name: ClassVar[str]  # its registry key (SANDBOXES), set when the registry hands it out
    # Another backend's name to try when this one cannot run here (the warning says so).
    fallback: ClassVar[str | None] = None

    def __init__(self, site: list[Path]) -> None:
        self.site = site  # the allowed packages' folders, shown read-only at /sia/site

    @classmethod
    def probe(cls) -> str | None:
        """Why this backend cannot run on this machine, or None when it can. The default runs
        `python -c pass` through `probe_argv` once."""
        with tempfile.TemporaryDirectory(prefix=tmpfiles.prefix("probe")) as tmp:
            argv = cls.probe_argv(Path(tmp))
            try:
                done = subprocess.run(argv, capture_output=True, timeout=30, env={}, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return str(exc)
            return (
                None
                if done.returncode == 0
                else (
                    done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
                )
            )

    @classmethod
    def probe_argv(cls, tmp: Path) -> list[str]:
        raise NotImplementedError(f"{cls.__name__} must define probe() or probe_argv()")

    @classmethod
    def warning(cls) -> str | None:
        """A line shown when a run uses this backend (a weaker one says how)."""
        return None

    @classmethod
    def unavailable(cls, why: str) -> str:
        """The one-line error when neither this backend nor its fallback can run."""
        return f"--sandbox {cls.name} cannot run here ({why[:160]})"

    @abstractmethod
    def run(self, spec: RunSpec) -> RunResult:
        """Run the agent; `spec.work` exists and is empty. Never raise for what the agent did:
        a crash, a timeout or a kill is a RunResult."""

    def close(self) -> None:  # noqa: B027 (most backends hold nothing)
        """Release what the backend holds (a client, a daemon connection)."""
