"""Where a candidate runs and how it is tried: one builder for `evolve` and `eval`, so both run
an agent the same way (the same sandbox, staged inputs, limits and weights runtime)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sia_git.evolve.executors import AgentRunner
from sia_git.gates.precommit import CandidateGates
from sia_git.levers.proposal import Proposal
from sia_git.llm.client import ModelClient
from sia_git.sandbox import Limits, Sandbox, choose_backend
from sia_git.settings import EvolveConfig
from sia_git.tasks.evaluation import Evaluation
from sia_git.tasks.layout import stage_dataset
from sia_git.tasks.task import Task
from sia_git.weights.runtime import WeightsRuntime, require_libraries
from sia_git.weights.store import AdapterStore


@dataclass(frozen=True)
class RunEnvironment:
    """What every candidate of a run shares. `gates` None skips the gates (eval re-runs
    committed code; tests show the sandbox alone contains an agent). With a `target` model
    client, a gateway serves it to the agent while it runs. `slot` is held while an agent runs
    or trains (how many run at once is limited; gating is not)."""

    task: Task
    sandbox: AgentRunner  # the sandbox, or an executor that runs it elsewhere (Ray)
    dataset: Path  # the task's public inputs, staged once
    limits: Limits
    weights: WeightsRuntime | None = None  # the task runs a model: base model and adapters
    gates: CandidateGates | None = None
    target: ModelClient | None = None
    slot: AbstractContextManager[Any] | None = None
    hosted: Any = None  # localmodel.hosted.HostedModel when sia-git serves the target model
    # Scores a candidate's outputs: None is `evaluate` here; Ray's trusted nodes otherwise.
    score: Callable[[Task, Path, Path], Evaluation] | None = None


@dataclass(frozen=True)
class Attempt:
    """One try of one agent. `files` is the whole agent folder (path -> content), already
    holding the proposal; `adapter` the LoRA adapter it runs with (a proposal with training
    settings trains its own first, which replaces it). `say` prints a line; `on_state` hears
    each step reached (gating, waiting, training, running, scoring)."""

    index: int  # 1..N for candidates, 0 for a baseline or the reference agent
    files: dict[str, bytes]
    scratch: Path
    seed: int
    proposal: Proposal | None = None
    adapter: str | None = None
    gated: bool = True
    say: Callable[[str], None] | None = None
    on_state: Callable[[str], None] | None = None
    dataset: Path | None = None  # other public inputs than the run's (a stage's sample)


def limits_for(task: Task, cfg: EvolveConfig) -> Limits:
    a = task.manifest.agent
    return Limits(
        timeout_s=cfg.agent_timeout_s or a.timeout_s, memory_mb=cfg.memory_mb or a.memory_mb
    )


def build(
    task: Task, cfg: EvolveConfig, scratch: Path, *, store: AdapterStore, say: Callable[[str], None]
) -> RunEnvironment:
    """The sandbox (with a warning for a weaker backend), the staged inputs under `scratch`,
    the limits and the weights runtime of a run of `task` with settings `cfg`."""
    backend, warning = choose_backend(cfg.sandbox)
    if warning:
        say(f"warning: {warning}")
    a = task.manifest.agent
    w = task.manifest.weights
    if w is not None:  # before the sandbox names torch alone (unpinned)
        require_libraries(f"task {task.name} (its agent runs a model)")
    sandbox = Sandbox(backend, a.packages, a.forbid_packages)
    dataset = stage_dataset(task, scratch / "dataset")
    weights = (
        None
        if w is None
        else WeightsRuntime.build(
            w,
            task.name,
            dataset,
            store=store,
            max_seconds=cfg.train_timeout_s,
            memory_mb=cfg.train_memory_mb,
            hub_repo=cfg.hub_repo,
            evaluator=task.evaluator_template(),
        )
    )
    return RunEnvironment(task, sandbox, dataset, limits_for(task, cfg), weights)
