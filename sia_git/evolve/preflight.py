"""Checks before a new run starts, so a problem a user can fix is one line before anything runs
(not a raw git error after generation 1, or a run that stops quietly after one generation)."""

from __future__ import annotations

from sia_git.core.errors import SiaError
from sia_git.gitrepo import Repo
from sia_git.levers import knob_source as knobmod
from sia_git.settings import EvolveConfig
from sia_git.tasks.task import Task


def check(repo: Repo, task: Task, cfg: EvolveConfig, *, has_model: bool) -> None:
    if repo.rev_parse("refs/heads/sia") is not None:
        raise SiaError(
            "a branch named `sia` exists: run branches are sia/<run-id>, which git cannot "
            "create beside it; rename it first (git branch -m sia sia-old)"
        )
    seed = cfg.agent or task.reference_agent
    if not seed.is_file():
        return
    problem = knobmod.problem(seed.read_text(encoding="utf-8", errors="replace"))
    # Offline the knobs are the only lever; with a model, only knobs that are plainly wrong stop.
    if problem and (not has_model or "declares" not in problem):
        raise SiaError(f"{seed}: the agent's knobs are unusable: {problem}")
