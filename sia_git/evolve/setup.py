"""Everything a run works with, built once per `evolve` invocation: the sandbox, the staged
inputs, the gates, the weights runtime, the executor and the live display."""

from __future__ import annotations

import dataclasses
import shutil

from sia_git.config import EvolveConfig
from sia_git.evolve import executors, levers, proposers
from sia_git.evolve.context import Context, Echo
from sia_git.gates.precommit import CONFIG, CandidateGates
from sia_git.gitrepo import Repo
from sia_git.llm import roles
from sia_git.progress import Progress
from sia_git.redact import Redactor
from sia_git.runs import RunPaths, stage_dataset
from sia_git.sandbox import Sandbox, choose_backend
from sia_git.task import Task
from sia_git.weights.runtime import WeightsRuntime, require_libraries
from sia_git.weights.store import AdapterStore


def build_context(repo: Repo, paths: RunPaths, task: Task, cfg: EvolveConfig, echo: Echo,
             models: roles.Models, base: str, progress: Progress | None) -> Context:
    backend, warning = choose_backend(cfg.sandbox)
    for w in ([warning] if warning else []) + models.warnings:
        echo(f"warning: {w}")
    # Keys named by the model settings are secrets even when their names do not look it.
    repo = dataclasses.replace(repo, redactor=Redactor.from_env(key_names=models.key_names))
    paths = RunPaths(repo, paths.run_id)
    a = task.manifest.agent
    if task.manifest.weights is not None:  # before the sandbox names torch alone (unpinned)
        require_libraries(f"task {task.name} (its agent runs a model)")
    sandbox = Sandbox(backend, a.packages, a.forbid_packages)
    if paths.scratch.exists():
        shutil.rmtree(paths.scratch)  # what a killed process left behind
    dataset = stage_dataset(task, paths.scratch / "dataset")
    # The repository's own pre-commit hooks, as of the commit the run started from.
    user_hooks = repo.read_file(base, CONFIG)
    gates = CandidateGates.for_run(user_hooks, repo.sia_dir / "gate-cache", a.forbid_packages,
                                   paths.scratch / "hooks-setup")
    w = task.manifest.weights
    levers.check_forced(cfg.lever, w is not None, models.proposer is not None, task.name)
    proposers.check(cfg.proposer, models.proposer is not None)
    weights = None if w is None else WeightsRuntime.build(
        w, task.name, dataset, AdapterStore(repo.sia_dir / "adapters"), cfg.train_timeout_s,
        cfg.train_memory_mb, cfg.hub_repo, task.evaluator_template())
    # Last: a Ray executor starts processes that only loop's `_resumable` shuts down.
    runner = executors.make(cfg.executor, sandbox, cfg.ray_address, echo)
    shown = progress or Progress(echo)
    shown.start(paths.run_id, cfg.max_gen, lambda: models.budget.spent_usd, cfg.budget_usd)
    ctx = Context(repo, paths, task, cfg, runner, dataset, echo, models, gates,
                  weights=weights, progress=shown)
    ctx.proposer = proposers.make(cfg.proposer, ctx)
    return ctx
