"""Is a task folder the one a run was made with? An audit or an evaluation with another task's
answers would check the wrong ids or score against the wrong labels, and say nothing is wrong.

A run records its task's name (`task_name`) and the digest of its answer files
(`answers_digest`, answers.digest) in run.toml. Both must match; a run made before the digest
was recorded is checked by name only. A SIA-layout task without a data/task.toml name is named
by its folder, and moving the folder renames it: its name is not compared, only its answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sia_git.core.errors import SiaError
from sia_git.tasks import answers

if TYPE_CHECKING:
    from sia_git.tasks.task import Task


def check_task(recorded: dict[str, Any], task: Task, given: str = "--task-dir") -> None:
    """Raise SiaError (one line) unless `task` is the task of the run whose run.toml is
    `recorded` (see the module's docstring). `given` names where the folder came from."""
    digest = answers.digest(task.private_dir)
    name, theirs = recorded.get("task_name"), recorded.get("answers_digest")
    folder_named = task.kind == "sia" and task.name == task.root.name
    if (name in (None, task.name) or folder_named) and theirs in (None, digest):
        return
    raise SiaError(
        f"{given} {task.root}: it is task {task.name} with answers {digest}, but run "
        f"{recorded.get('run_id', '?')} was made with task {name or '?'} "
        f"({'answers ' + theirs if theirs else 'answers not recorded'})"
    )
