"""How a run lays out its task in git: run.toml (written when a run starts: the task's source,
name, version, answers digest, the recorded settings and the split plan), the task copy committed
with generation 1, the public inputs staged for the agent, and the checks and notes that depend
on the task (a committed answer key is refused; a run that selected on the test labels says so)."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sia_git import __version__
from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store.runs import (
    MANIFEST,
    MAX_TASK_COPY,
    RUN_TOML_SCHEMA,
    TASK_COPY,
    read_run_toml,
)

if TYPE_CHECKING:  # `log` and `show` import this module: a task's models load only when used
    from sia_git.tasks.task import Task


def run_toml(
    run_id: str, task: Task, settings: dict[str, Any], *, repo_root: Path | None = None
) -> str:
    lines = [
        "# Written by sia-git when the run started; `evolve --run` reads it to resume.",
        f"schema_version = {RUN_TOML_SCHEMA}",
        f"run_id = {_toml(run_id)}",
        f"task_source = {_toml(portable_source(task.source, repo_root))}",
        f"task_name = {_toml(task.name)}",
        f"task_version = {_toml(task.manifest.version)}",
        f"answers_digest = {_toml(answers_digest(task))}",
        f"sia_git_version = {_toml(__version__)}",
        "",
        "[settings]",
    ]
    from sia_git.settings import EvolveConfig
    from sia_git.settings.fields import recorded_keys

    for key in recorded_keys(EvolveConfig):
        value = settings.get(key)
        if value is not None:
            lines.append(f"{key} = {_toml(value)}")
    # How dev and test were divided: a resume, `eval` and the audit use the same plan.
    lines += ["", "[split]", *(f"{k} = {_toml(v)}" for k, v in task.plan.record().items())]
    return "\n".join(lines) + "\n"


def answers_digest(task: Task) -> str:
    """What the run's answers were: audit and eval refuse a task folder with others."""
    from sia_git.tasks.answers import digest

    return digest(task.private_dir)


IN_REPO = "repo:"  # a task folder inside the repository, recorded relative to its top


def portable_source(source: str, repo_root: Path | None) -> str:
    """How a commit names the task: a built-in by name, a folder inside the repository
    relative to it (`repo:path`), any other folder by its name alone (`outside:name`): a
    commit holds no path of this machine's. This machine's own record of the run
    (`repo_root` None) keeps the whole path: that is how it finds the task again."""
    if repo_root is None or source.startswith("builtin:"):
        return source
    path, root = Path(source).resolve(), repo_root.resolve()
    if path.is_relative_to(root):
        return f"{IN_REPO}{path.relative_to(root).as_posix()}"
    return f"outside:{path.name}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)  # a TOML basic string or array (JSON's escapes are TOML's)
    return repr(value)


def selection_warning(repo: Repo, hist: Any) -> str | None:
    """For `log`, `show` and `report`: a line when the run selected on the test labels (a run
    from before sealed splits, on a task with one answer set, or one made with
    --select-on-test), read from what the run branch holds."""
    recorded = read_run_toml(repo, hist.tip.sha)
    if (recorded.split or {}).get("mode") == "select-on-test":
        return (
            f"run {hist.run_id} selected on the test labels (--select-on-test): its scores "
            "say nothing about unseen items"
        )
    return legacy_note(repo, hist.tip.sha, recorded)


def legacy_note(repo: Repo, rev: str, recorded: dict[str, Any]) -> str | None:
    """The note for a run made before sealed splits on a one-answer-set task, from the branch
    alone (the task's folder need not be here)."""
    from sia_git.tasks import splits

    manifest = repo.read_file(rev, f"{TASK_COPY}/{MANIFEST}")
    try:
        report = bool(manifest and tomllib.loads(manifest).get("splits", {}).get("report"))
    except tomllib.TOMLDecodeError:
        report = False
    return splits.legacy_note(recorded, manifest is not None, report)


def task_copy(task: Task) -> dict[str, bytes]:
    """Public task files committed with generation 1, so the branch is reviewable and re-runnable
    on its own (the private answers are never among them)."""
    files: dict[str, bytes] = {}
    total = 0
    manifest = task.root / MANIFEST
    if manifest.is_file():
        files[f"{TASK_COPY}/{MANIFEST}"] = manifest.read_bytes()
    for path in sorted(p for p in task.public_dir.rglob("*") if p.is_file()):
        total += path.stat().st_size
        if total > MAX_TASK_COPY:
            return {f"{TASK_COPY}/public/task.md": task.task_md.read_bytes(), **files}
        files[f"{TASK_COPY}/public/{path.relative_to(task.public_dir)}"] = path.read_bytes()
    return files


def stage_dataset(task: Task, dest: Path) -> Path:
    """Copy the public inputs the agent may read, leaving out an evaluator kept beside them."""
    evaluator = task.evaluator.resolve()
    shutil.copytree(
        task.public_dir,
        dest,
        symlinks=False,
        ignore=lambda d, names: [n for n in names if (Path(d) / n).resolve() == evaluator],
    )
    return dest


def check_private_untracked(repo: Repo, task: Task) -> None:
    """Refuse a task whose answer key is committed in this repository: the run branch, made
    from HEAD, would carry it."""
    private = task.private_dir.resolve()
    if not private.is_relative_to(repo.root.resolve()):
        return
    tracked = repo.git("ls-files", "--", str(private.relative_to(repo.root.resolve())))
    if tracked.strip():
        raise SiaError(
            f"{private}: the task's private answers are committed in this repository; "
            "move them out of it or `git rm --cached` them first"
        )
