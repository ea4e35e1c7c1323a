"""Start warm: what earlier runs of this repository tried on the same task, read from git.

A run's knob search begins with every earlier run's trials on the task (same name, same answers
and the same split plan, so their dev scores are comparable) as its own history, and its first
candidate is the best setting those runs found, unless this run has tried it already.
"""

from __future__ import annotations

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.store import history as H
from sia_git.store.runs import read_run_toml
from sia_git.store.trials import Trial
from sia_git.tasks.task import Task


def earlier_trials(repo: Repo, task: Task, run_id: str) -> list[Trial]:
    """Knob trials of every other run on `task` (with no adapter), oldest run first; their
    generation numbers are those runs' own."""
    from sia_git.tasks.layout import answers_digest

    ours, plan = answers_digest(task), task.plan.record()
    out: list[Trial] = []
    for other in reversed(H.list_runs(repo)):
        if other == run_id:
            continue
        try:
            rt = read_run_toml(repo, H.branch(other))
        except SiaError:
            continue  # not a run this version can read: nothing to learn from it
        same = rt.task_name == task.name and rt.answers_digest in (None, ours)
        if not same or (rt.split is not None and rt.split != plan):
            continue
        out += H.load(repo, other).trials(None)
    return out
