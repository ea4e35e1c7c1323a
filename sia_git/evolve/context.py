"""What one `evolve` invocation works with: the repository, the run's paths, the task, the
settings, the sandbox, the staged inputs and the models. Shared by the loop and the proposers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sia_git import refs
from sia_git.config import EvolveConfig
from sia_git.evolve.candidates import Outcome, try_candidate
from sia_git.evolve.executors import AgentRunner
from sia_git.evolve.proposal import Proposal
from sia_git.gates.precommit import CandidateGates
from sia_git.gitrepo import Repo
from sia_git.llm.roles import Models
from sia_git.progress import Progress
from sia_git.runs import RunPaths
from sia_git.sandbox import Limits
from sia_git.task import Task
from sia_git.weights import pins
from sia_git.weights.runtime import WeightsRuntime

if TYPE_CHECKING:
    from sia_git.evolve.proposers.base import Proposer

Echo = Callable[[str], None]
EPS = 1e-9


@dataclass
class Context:
    repo: Repo
    paths: RunPaths
    task: Task
    cfg: EvolveConfig
    sandbox: AgentRunner  # the sandbox, or an executor that runs it elsewhere (Ray)
    dataset: Path
    echo: Echo
    models: Models
    gates: CandidateGates
    # Agents in the sandbox (or training) at once (--workers); proposing and gating are not
    # limited by it.
    run_slots: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    weights: WeightsRuntime | None = None  # the task runs a model: the weights lever
    progress: Progress = field(default_factory=Progress)  # the live display, if any
    # Who writes the candidates (--proposer); set once the context exists (it is given it).
    proposer: Proposer = field(init=False)

    def __post_init__(self) -> None:
        self.run_slots = threading.Semaphore(self.cfg.workers)

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def select(self) -> str:
        return self.task.select

    def limits(self) -> Limits:
        a = self.task.manifest.agent
        return Limits(timeout_s=self.cfg.agent_timeout_s or a.timeout_s,
                      memory_mb=self.cfg.memory_mb or a.memory_mb)

    def beats(self, score: float, incumbent: float) -> bool:
        """Whether `score` improves on `incumbent` by more than the configured margin (with a
        tolerance for scores read back from trailers)."""
        d = score - incumbent if self.task.manifest.metric.direction == "maximize" else (
            incumbent - score)
        return d > self.cfg.min_improvement + EPS

    def adapter_at(self, rev: str) -> str | None:
        """The adapter the agent at `rev` runs with (None for a task without a model)."""
        if self.weights is None:
            return None
        pin = pins.read(self.repo, rev)
        return pin.address if pin else None

    def attempt(self, index: int, proposal: Proposal | None, files: dict[str, bytes],
                gen: int, seed_offset: int = 0, tag: str = "", gated: bool = True,
                adapter: str | None = None) -> Outcome:
        """Try an agent, with the LoRA `adapter` it runs with (a weights proposal trains its
        own). `gated=False` only for code that already passed the gates unchanged (a
        confirmation re-run of a committed generation)."""
        scratch = self.paths.scratch / refs.gen_name(gen) / f"c{index}-{seed_offset}{tag}"
        label = (f"c{index}" if index else "agent") + (
            f" re-run {seed_offset}" if seed_offset else "")
        return try_candidate(index, proposal, files, self.task, self.sandbox, self.dataset,
                             scratch, self.limits(), self.cfg.seed + seed_offset,
                             self.gates if gated else None, self.models.target,
                             self.run_slots, self.weights, adapter,
                             lambda line: self.echo(f"gen {gen} c{index}: {line}"),
                             lambda state: self.progress.state(gen, label, state))
