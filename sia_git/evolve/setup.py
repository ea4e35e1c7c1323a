"""Everything a run works with, built once per `evolve` invocation: the sandbox, the staged
inputs, the gates, the weights runtime, the executor and the live display."""

from __future__ import annotations

import dataclasses
import shutil

from sia_git import levers
from sia_git.core import childenv
from sia_git.core.redact import Redactor
from sia_git.evolve import environment, executors, prior, proposers, reuse, roles, trust
from sia_git.evolve.context import Context, Echo
from sia_git.evolve.progress import Progress
from sia_git.evolve.proposers.base import ProposerPort, Settings
from sia_git.gates.precommit import CandidateGates
from sia_git.gitrepo import Repo
from sia_git.gitrepo.reader import RepoReader
from sia_git.levers import strategies
from sia_git.settings import EvolveConfig
from sia_git.store.runs import RunPaths
from sia_git.tasks.task import PublicTask, Task
from sia_git.weights import publish


def build_context(
    repo: Repo,
    paths: RunPaths,
    task: Task,
    *,
    cfg: EvolveConfig,
    echo: Echo,
    models: roles.Models,
    progress: Progress | None,
    source: str | None,
) -> Context:
    """`source`: the agent the run goes on from (generation 1's, or the branch tip's), to
    refuse a forced lever that cannot change it; None when a model writes generation 1."""
    for w in models.warnings:
        echo(f"warning: {w}")
    if models.hosted is not None:
        models.hosted.say = echo
    situation = levers.Situation(
        source=source or "",
        task=task.name,
        has_weights=task.manifest.weights is not None,
        has_model=models.proposer is not None,
    )
    if source is not None or cfg.lever != "knobs":
        levers.check_forced(cfg.lever, situation)
    proposers.check(cfg.proposer, models.proposer is not None)
    # Keys named by the model settings are secrets even when their names do not look it.
    childenv.mark_secret(models.key_names)
    repo = dataclasses.replace(repo, redactor=Redactor.from_env(key_names=models.key_names))
    paths = RunPaths(repo, paths.run_id)
    if paths.scratch.exists():
        shutil.rmtree(paths.scratch)  # what a killed process left behind
    env = environment.build(task, cfg, paths.scratch, store=publish.store_of(repo), say=echo)
    # The repository's own pre-commit hooks: this working tree's (never a branch's).
    gates = CandidateGates.for_run(
        trust.user_hooks(repo),
        repo.sia_dir / "gate-cache",
        task.manifest.agent.forbid_packages,
        scratch=paths.scratch / "hooks-setup",
        allow=task.manifest.agent.allow_rules,
        secrets=repo.redactor.secrets,
    )
    # Last: a Ray executor starts processes that only loop's `_resumable` shuts down.
    runner = executors.make(cfg.executor, env.sandbox, cfg.ray_address, echo=echo)
    score = runner.scorer(task, echo) if isinstance(runner, executors.RayExecutor) else None
    shown = progress or Progress(echo)
    shown.start(
        paths.run_id, cfg.max_gen, lambda: models.budget.spent_usd, budget_usd=cfg.budget_usd
    )
    ctx = Context(
        repo,
        paths,
        task,
        cfg,
        echo,
        models,
        progress=shown,
        env=dataclasses.replace(
            env,
            sandbox=runner,
            gates=gates,
            target=models.target,
            hosted=models.hosted,
            score=score,
        ),
    )
    ctx.prior = tuple(prior.earlier_trials(repo, task, paths.run_id))
    if ctx.prior:
        echo(f"warm start: {len(ctx.prior)} knob trial(s) of earlier runs on task {task.name}")
    ctx.proposer = proposers.make(cfg.proposer, proposer_port(ctx))
    ctx.reuse = reuse_index(ctx)
    return ctx


def reuse_index(ctx: Context) -> reuse.ReuseIndex:
    """Every candidate scored on this task in this repository, by what decides its result."""
    from sia_git.tasks.layout import answers_digest

    task = ctx.task
    base = reuse.base_digest({
        "task": task.name, "version": task.manifest.version, "answers": answers_digest(task),
        "plan": task.plan.record(), "limits": repr(ctx.env.limits),
        "target": ctx.models.target_name, "select": ctx.select,
    })  # fmt: skip
    return reuse.read_index(ctx.repo, select=ctx.select, base=base)


def proposer_port(ctx: Context) -> ProposerPort:
    """What the run's proposer sees of it (read-only)."""
    cfg = ctx.cfg
    settings = Settings(
        candidates=cfg.candidates,
        seed=cfg.seed,
        lever=cfg.lever,
        feedback_turns=cfg.feedback_turns,
        allow_rewrite=cfg.allow_rewrite,
        edit_format=cfg.edit_format,
        budget_usd=cfg.budget_usd,
    )
    return ProposerPort(
        run_id=ctx.run_id,
        task=PublicTask.of(ctx.task),
        repo=RepoReader(ctx.repo),
        dataset=ctx.dataset,
        select=ctx.select,
        settings=settings,
        models=ctx.models,
        strategy=strategies.get(cfg.search),
        echo=ctx.echo,
        prior=ctx.prior,
    )
