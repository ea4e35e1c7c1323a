"""The `unshare` backend: for machines where bubblewrap cannot start but util-linux's `unshare`
can. The same guarantees as bwrap: `unshare` makes new mount, pid, network, IPC and UTS
namespaces (and a user namespace when sia-git is not root), and stage.py builds the same view
(view.py) in a fresh tmpfs root, pivots into it and drops every privilege before the agent runs.
If the namespaces cannot be made here, the backend is refused (never a weaker fallback)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from sia_git.sandbox import stage, view
from sia_git.sandbox.backends.base import Backend
from sia_git.sandbox.procs import Limits, run_limited
from sia_git.sandbox.spec import RunResult, RunSpec, agent_command, inside_env, interpreter

_STAGE = Path(stage.__file__).read_text(encoding="utf-8")
_NAMESPACES = ["--mount", "--pid", "--fork", "--kill-child", "--net", "--ipc", "--uts"]


class Unshare(Backend):
    @classmethod
    def probe(cls) -> str | None:
        if shutil.which("unshare") is None:
            return "util-linux's unshare is not installed"
        return super().probe()

    @classmethod
    def probe_argv(cls, tmp: Path) -> list[str]:
        spec = RunSpec(tmp, tmp, tmp, Limits())
        spec.work.mkdir()
        return command(spec, [], view.agent_uid(), agent=[interpreter()[0], "-S", "-c", "pass"])

    @classmethod
    def unavailable(cls, why: str) -> str:
        return (
            f"--sandbox unshare cannot make its namespaces here ({why[:120]}); use bubblewrap "
            "(the default) or a Docker engine with --sandbox docker"
        )

    def run(self, spec: RunSpec) -> RunResult:
        uid = view.agent_uid()
        spec = view.prepare_work(spec, uid)
        argv = command(spec, self.site, uid, agent=agent_command(spec))
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


def command(spec: RunSpec, site: list[Path], uid: int | None, *, agent: list[str]) -> list[str]:
    root = spec.scratch / "root"
    root.mkdir(exist_ok=True)
    binds = view.binds(spec, site)
    cfg = {
        "root": str(root),
        "binds": [list(b) for b in binds] + [[n, n, True] for n in view.gpu_nodes(spec)],
        # Empty tmpfs over the interpreter's own site-packages: only allowed packages import.
        "tmpfs": [[d, 4096, 16] for d in view.hidden()] + [list(t) for t in view.tmpfs(spec)],
        "cwd": "/sia/work",
        "uid": uid,
        "argv": agent,
        "env": inside_env(spec),
    }
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    settings = spec.scratch / "stage.json"
    settings.write_text(json.dumps(cfg))
    return [
        "unshare",
        *user,
        *_NAMESPACES,
        "--",
        interpreter()[0],
        "-S",
        "-c",
        _STAGE,
        str(settings),
    ]
