"""Everything a run works with, built once per `evolve` invocation: the sandbox, the staged
inputs, the gates, the weights runtime, the executor and the live display."""

from __future__ import annotations

import dataclasses
import shutil

from sia_git import childenv, trust
from sia_git.config import EvolveConfig
from sia_git.evolve import environment, executors, levers, proposers
from sia_git.evolve.context import Context, Echo
from sia_git.gates.precommit import CandidateGates
from sia_git.gitrepo import Repo
from sia_git.llm import roles
from sia_git.progress import Progress
from sia_git.redact import Redactor
from sia_git.runs import RunPaths
from sia_git.task import Task
from sia_git.weights import publish


def build_context(
    repo: Repo,
    paths: RunPaths,
    task: Task,
    cfg: EvolveConfig,
    echo: Echo,
    models: roles.Models,
    progress: Progress | None,
) -> Context:
    for w in models.warnings:
        echo(f"warning: {w}")
    if models.hosted is not None:
        models.hosted.say = echo
    levers.check_forced(
        cfg.lever, task.manifest.weights is not None, models.proposer is not None, task.name
    )
    proposers.check(cfg.proposer, models.proposer is not None)
    # Keys named by the model settings are secrets even when their names do not look it.
    childenv.mark_secret(models.key_names)
    repo = dataclasses.replace(repo, redactor=Redactor.from_env(key_names=models.key_names))
    paths = RunPaths(repo, paths.run_id)
    if paths.scratch.exists():
        shutil.rmtree(paths.scratch)  # what a killed process left behind
    env = environment.build(task, cfg, paths.scratch, publish.store_of(repo), echo)
    # The repository's own pre-commit hooks: this working tree's (never a branch's).
    gates = CandidateGates.for_run(
        trust.user_hooks(repo),
        repo.sia_dir / "gate-cache",
        task.manifest.agent.forbid_packages,
        paths.scratch / "hooks-setup",
        task.manifest.agent.allow_rules,
        repo.redactor.secrets,
    )
    # Last: a Ray executor starts processes that only loop's `_resumable` shuts down.
    runner = executors.make(cfg.executor, env.sandbox, cfg.ray_address, echo)
    shown = progress or Progress(echo)
    shown.start(paths.run_id, cfg.max_gen, lambda: models.budget.spent_usd, cfg.budget_usd)
    ctx = Context(
        repo,
        paths,
        task,
        cfg,
        echo,
        models,
        progress=shown,
        env=dataclasses.replace(
            env, sandbox=runner, gates=gates, target=models.target, hosted=models.hosted
        ),
    )
    ctx.proposer = proposers.make(cfg.proposer, ctx)
    return ctx
