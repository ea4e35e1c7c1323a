"""A run's layout: what generation 1 commits under `sia-agent/`, its `run.toml`, and the scratch
space (inside .git, never in the user's working tree) where candidates are staged."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import refs

if TYPE_CHECKING:  # read-only commands (log, status) start without the task model
    pass

MANIFEST = "task.toml"  # a task's manifest (task.py reads it)

AGENT_DIR = "sia-agent"  # everything sia-git commits lives under this folder of the run branch
CODE_DIR = f"{AGENT_DIR}/agent"  # the agent's code: the only part the sandbox sees
ENTRY = "target_agent.py"
IMPROVEMENT = f"{AGENT_DIR}/improvement.md"
RUN_TOML = f"{AGENT_DIR}/run.toml"
TASK_COPY = f"{AGENT_DIR}/task"
MAX_TASK_COPY = 20 * 1024 * 1024


@dataclass(frozen=True)
class RunPaths:
    repo: Repo
    run_id: str

    @property
    def worktree(self) -> Path:
        return self.repo.sia_dir / "worktrees" / self.run_id

    @property
    def scratch(self) -> Path:
        return self.repo.sia_dir / "scratch" / self.run_id

    @property
    def locks(self) -> Path:
        return self.repo.sia_dir / "locks"


def named_run(repo: Repo, name: str) -> str:
    """A run id the user chose (--name): refused when a run or branch already has it."""
    if repo.rev_parse(refs.branch_ref(name)) or repo.rev_parse(refs.base(name)):
        raise SiaError(f"--name {name}: a run with that name exists; choose another")
    return name


def new_run_id(repo: Repo, task_name: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{task_name}-{stamp}", 1
    while repo.rev_parse(refs.branch_ref(run_id)) or repo.rev_parse(refs.base(run_id)):
        n += 1
        run_id = f"{task_name}-{stamp}-{n}"
    return run_id


def read_run_toml(repo: Repo, rev: str) -> dict[str, Any]:
    text = repo.read_file(rev, RUN_TOML)
    if text is None:
        raise SiaError(f"{rev[:10]} has no {RUN_TOML}; is this a sia-git run branch?")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiaError(f"{RUN_TOML} on the run branch is invalid TOML: {exc}") from None


def agent_files(repo: Repo, rev: str) -> dict[str, bytes]:
    """The agent's code at a revision, keyed by path inside the agent folder."""
    out = {}
    for path in repo.list_files(rev, CODE_DIR):
        text = repo.read_file(rev, path)
        if text is not None:
            out[path.removeprefix(CODE_DIR + "/")] = text.encode()
    if ENTRY not in out:
        raise SiaError(f"{rev[:10]} has no {CODE_DIR}/{ENTRY}")
    return out


def sweep_orphans(repo: Repo) -> list[str]:
    """Remove the scratch space of runs that were killed before their first generation was
    recorded (no branch, nobody holding their lock); return their ids."""
    from sia_git.store.lock import RunLock

    gone = []
    scratch = repo.sia_dir / "scratch"
    for folder in sorted(scratch.iterdir()) if scratch.is_dir() else []:
        run_id = folder.name
        if (
            repo.rev_parse(f"refs/heads/sia/{run_id}") is None
            and RunLock.holder(repo.sia_dir / "locks", run_id) is None
        ):
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(run_id)
    return gone
