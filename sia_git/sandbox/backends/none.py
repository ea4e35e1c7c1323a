"""The `none` backend: no sandbox, only when asked, with a warning. The limits, the working dir's
quota, fresh copies of the inputs and a clean environment still apply; nothing else does."""

from __future__ import annotations

import shutil

from sia_git.sandbox.backends.base import Backend
from sia_git.sandbox.procs import run_limited
from sia_git.sandbox.spec import RunResult, RunSpec, agent_env, interpreter


class Unsandboxed(Backend):
    @classmethod
    def probe(cls) -> str | None:
        return None

    @classmethod
    def warning(cls) -> str | None:
        return "sandbox disabled (--sandbox none): the agent runs with your file access"

    def run(self, spec: RunSpec) -> RunResult:
        # Fresh copies, so a candidate that scribbles on its inputs harms only itself.
        agent = shutil.copytree(spec.agent_dir, spec.scratch / "agent")
        data = shutil.copytree(spec.dataset_dir, spec.scratch / "dataset")
        site = spec.scratch / "site"
        site.mkdir()
        for p in self.site:
            (site / p.name).symlink_to(p)
        args = [str(agent / "target_agent.py"), "--dataset_dir", str(data),
                "--working_dir", str(spec.work)]  # fmt: skip
        # The adapter is copied too (the store stays intact); the base model is shown in place.
        shown = {
            n: (shutil.copytree(p, spec.scratch / f"mount-{n}") if n == "adapter" else p)
            for n, p in spec.mounts.items()
        }
        gateway = str(spec.gateway) if spec.gateway else None
        env = agent_env(str(site), str(spec.work), spec.seed, gateway=gateway, mounts=shown)
        argv = [interpreter()[0], "-S", *args]
        done = run_limited(
            argv,
            env,
            spec.work,
            limits=spec.limits,
            stdout=spec.stdout,
            stderr=spec.stderr,
            quota_dir=spec.work,
        )
        return RunResult.of(self.name, spec, done)
