"""What decides how a run's commits are run, scored and audited: the evaluating side, never the
commit.

A commit decides only its agent: the code, its knob values and its adapter pin. Everything else
(the sandbox, limits, models, endpoints and key variables, gates, the task, its evaluator and
how its answers divide into dev and a sealed test split) comes from

1. the flags of the person running sia-git,
2. this machine's record of the run, written by the `evolve` that started it here
   (`.git/sia/runs/<run>.toml`: never committed, never pushed, so never a clone's to forge),
3. the repository's `sia-git.toml` / `pyproject.toml` in the working tree (in CI: the base
   branch's checkout, never the pull request's head).

What the branch's `sia-agent/run.toml` and task copy say is compared with that and every
difference is reported as ignored. `--sandbox none` is honoured only from the command line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store.runrecord import read_record
from sia_git.store.runs import TASK_COPY, RunToml

if TYPE_CHECKING:
    from sia_git.settings import EvolveConfig
    from sia_git.tasks.task import Task

# The settings that decide how an agent is run and scored (what `eval` compares); a resume
# compares every recorded setting.
RUN_KEYS = (
    "sandbox",
    "seed",
    "agent_timeout_s",
    "memory_mb",
    "target_model",
    "target_api_base",
    "target_api_key_env",
    "hub_repo",
    "hub_endpoint",
    "executor",
    "ray_address",
)
UNSANDBOXED = "none"
HOOKS_CONFIG = ".pre-commit-config.yaml"  # gates.precommit.CONFIG (not imported: it is heavy)


@dataclass
class Decided:
    """The trusted task and settings, and what the branch said that was ignored."""

    task: Task
    cfg: EvolveConfig
    ignored: list[str] = field(default_factory=list)
    local: bool = False  # this machine started the run (its record was found)


def decide(
    repo: Repo,
    run_id: str | None,
    branch: RunToml,
    *,
    flags: dict[str, Any],
    keys: tuple[str, ...] | None = RUN_KEYS,
) -> Decided:
    """The task and settings to run `run_id`'s commits with. `branch` is the run.toml the
    branch holds (only compared); `flags` the command line (`task`, `task_dir` and settings);
    `keys` the settings to compare (None: all recorded ones)."""
    from sia_git import settings as configmod

    local = read_record(repo, run_id)
    trusted = dict((local or {}).get("settings", {}))
    ignored: list[str] = []
    if trusted.get("sandbox") == UNSANDBOXED and flags.get("sandbox") != UNSANDBOXED:
        trusted.pop("sandbox")
        ignored.append(
            "sandbox = none (the run was started unsandboxed; only --sandbox none on this "
            "command line runs it so again)"
        )
    chosen = {k: v for k, v in flags.items() if k not in ("task", "task_dir")}
    cfg = configmod.load(repo.root, chosen, trusted)
    # Compared without this command line's flags: what the branch said that the trusted
    # sources would not have used anyway (a flag given now is the user's choice, not news).
    base = configmod.load(repo.root, {}, trusted)
    task = _task(repo, run_id, local, branch=branch, flags=flags, cfg=cfg)
    for key, value in sorted(branch.settings.items()):
        if (keys is None or key in keys) and getattr(base, key, value) != value:
            ignored.append(f"{key} = {value!r} (used: {getattr(cfg, key)!r})")
    ignored += _plan_notes(task, branch)
    return Decided(task, cfg, ignored, local is not None)


def settings_for(repo: Repo, run_id: str) -> EvolveConfig:
    """The settings to act for run `run_id` with (a forge to update, a hub to push to): this
    machine's record of it and the settings files, never what its branch says."""
    from sia_git import settings as configmod

    local = read_record(repo, run_id)
    trusted = dict((local or {}).get("settings", {}))
    if trusted.get("sandbox") == UNSANDBOXED:
        trusted.pop("sandbox")
    return configmod.load(repo.root, {}, trusted)


def _task(
    repo: Repo,
    run_id: str | None,
    local: RunToml | None,
    *,
    branch: RunToml,
    flags: dict[str, Any],
    cfg: EvolveConfig,
) -> Task:
    from sia_git.tasks import splits

    if flags.get("task") or flags.get("task_dir"):
        task = _load(flags.get("task"), flags.get("task_dir"))
        given = "--task" if flags.get("task") else "--task-dir"
    elif local is not None:
        source = str(local.get("task_source", ""))
        builtin = source.startswith("builtin:")
        task = _load(source.removeprefix("builtin:") if builtin else None,
                     None if builtin else Path(source))  # fmt: skip
        given = "the task this machine's run used,"
    elif cfg.task or cfg.task_dir:
        task = _load(cfg.task, cfg.task_dir)
        given = "sia-git.toml's task"
    else:
        raise SiaError(
            f"run {run_id or '?'} was not started in this repository: name the task to "
            "score it with (--task NAME or --task-dir DIR, or `task`/`task_dir` in "
            "sia-git.toml); the task its branch names is not trusted"
        )
    check_task({"run_id": run_id, **branch}, task, given)
    if local is not None and "split" in local:
        return task.with_plan(splits.from_record(task, local))
    mode = (branch.split or {}).get("mode")
    if "split" not in branch or mode in ("select-on-test", "legacy"):
        # A run from before sealed splits, or one selecting on test: no sealed split to
        # protect, so the branch's own (weaker) plan is what it was scored by.
        return task.with_plan(splits.from_record(task, branch))
    return task.with_plan(splits.default_plan(task))


def _load(name: str | None, folder: Path | None) -> Task:
    """A task to score committed agents with (it needs no reference agent: a run branch's task
    copy has none)."""
    from sia_git.tasks.task import load, resolve

    if folder is not None and name is None:
        return load(folder, str(folder.resolve()), need_reference=False)
    return resolve(name, folder)


def check_task(branch: Mapping[str, Any], task: Task, given: str) -> None:
    """Refuse a task that is not the run's: another name, or other answers than it recorded."""
    from sia_git.audit.taskcheck import check_task as check

    check(branch, task, given)


def _plan_notes(task: Task, branch: RunToml) -> list[str]:
    said = branch.split
    used = task.plan.record()
    if said is None or said == used:
        return []
    return [f"[split] {said} (used: {used})"]


def user_hooks(repo: Repo) -> str | None:
    """The repository's own pre-commit configuration, from the evaluating side's working tree
    (never a commit's: a `language: system` hook would run on this machine)."""
    path = repo.root / HOOKS_CONFIG
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise SiaError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise SiaError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def copy_differences(repo: Repo, sha: str, task: Task) -> list[str]:
    """The files of the commit's task copy (`sia-agent/task/`) that differ from the trusted
    task's own: what the commit changed and `eval` did not use."""
    from sia_git.tasks.layout import task_copy

    ours = {path: _blob_id(data) for path, data in task_copy(task).items()}
    out = repo.git("ls-tree", "-r", sha, "--", TASK_COPY, check=False)
    theirs = {}
    for line in out.splitlines():
        meta, _, path = line.partition("\t")
        theirs[path] = meta.split()[2]
    changed = sorted(p for p in set(ours) | set(theirs) if ours.get(p) != theirs.get(p))
    return [p.removeprefix(TASK_COPY + "/") for p in changed]


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
