"""The `unshare` backend: the fallback when bubblewrap cannot start. `unshare -n` cuts the
network; the agent gets fresh copies of its inputs, a clean environment and the same limits, but
the filesystem is otherwise visible."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sia_git.sandbox.backends.base import Backend
from sia_git.sandbox.procs import run_limited
from sia_git.sandbox.spec import RunResult, RunSpec, agent_env, interpreter


class Unshare(Backend):
    name = "unshare"

    @classmethod
    def prefix(cls) -> list[str]:
        return ["unshare", "-n" if os.geteuid() == 0 else "-rn", "--"]

    @classmethod
    def probe_argv(cls, tmp: Path) -> list[str]:
        return [*cls.prefix(), interpreter()[0], "-S", "-c", "pass"]

    @classmethod
    def unavailable(cls, why: str) -> str:
        return f"`unshare -n` cannot run here ({why[:120]}); try --sandbox bwrap"

    def run(self, spec: RunSpec) -> RunResult:
        # Fresh copies, so a candidate that scribbles on its inputs harms only itself.
        agent = shutil.copytree(spec.agent_dir, spec.scratch / "agent")
        data = shutil.copytree(spec.dataset_dir, spec.scratch / "dataset")
        site = spec.scratch / "site"
        site.mkdir()
        for p in self.site:
            (site / p.name).symlink_to(p)
        args = [
            str(agent / "target_agent.py"),
            "--dataset_dir",
            str(data),
            "--working_dir",
            str(spec.work),
        ]
        # No read-only binds here: the adapter is copied too (the store stays intact); the
        # base model is shown where it is.
        shown = {
            n: (shutil.copytree(p, spec.scratch / f"mount-{n}") if n == "adapter" else p)
            for n, p in spec.mounts.items()
        }
        env = agent_env(
            str(site), str(spec.work), spec.seed, str(spec.gateway) if spec.gateway else None, shown
        )
        argv = [*self.prefix(), interpreter()[0], "-S", *args]
        done = run_limited(argv, env, spec.work, spec.limits, spec.stdout, spec.stderr)
        return RunResult.read(
            self.name, spec, done.exit_code, done.timed_out, done.duration_s, done.leftovers_killed
        )
