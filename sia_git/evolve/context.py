"""What one `evolve` invocation works with: the repository, the run's paths, the task, the
settings, the sandbox, the staged inputs and the models. Shared by the loop and the proposers."""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sia_git.evolve.candidates import Outcome, try_candidate
from sia_git.evolve.environment import Attempt, RunEnvironment
from sia_git.evolve.executors import AgentRunner
from sia_git.evolve.progress import Progress
from sia_git.evolve.roles import Models
from sia_git.gitrepo import Repo
from sia_git.levers.proposal import Proposal
from sia_git.settings import EvolveConfig
from sia_git.store import refs
from sia_git.store.runs import RunPaths
from sia_git.tasks.task import Task
from sia_git.weights import pins
from sia_git.weights.runtime import WeightsRuntime

if TYPE_CHECKING:
    from sia_git.evolve.proposers.base import Proposer
    from sia_git.evolve.reuse import ReuseIndex
    from sia_git.evolve.stages import Stage
    from sia_git.store.trials import Trial

Echo = Callable[[str], None]
EPS = 1e-9


@dataclass
class Context:
    repo: Repo
    paths: RunPaths
    task: Task
    cfg: EvolveConfig
    echo: Echo
    models: Models
    env: RunEnvironment  # the sandbox, staged inputs, gates, limits and weights runtime
    progress: Progress = field(default_factory=Progress)  # the live display, if any
    # Who writes the candidates (--proposer); set once the context exists (it is given it).
    proposer: Proposer = field(init=False)
    # Candidates already scored on this task, in any run (evolve/reuse.py); None: run them all.
    reuse: ReuseIndex | None = field(init=False, default=None)
    # Earlier runs' knob trials on this task (evolve/prior.py): where the knob search starts.
    prior: tuple[Trial, ...] = field(init=False, default=())
    # The run's first evaluation stage (evolve/stages.py), made at its first comparison;
    # False once the task turned out not to be stageable.
    stage: Stage | None | bool = field(init=False, default=None)
    # The public inputs with the sealed splits' rows cut (evolve/stages.py), what candidates
    # run on; False once the task turned out to have none to cut.
    dev_inputs: Path | None | bool = field(init=False, default=None)
    # How long generation 1's agent ran (evolve/selection.py), read once; False: unknown.
    first_run_s: float | None | bool = field(init=False, default=None)
    # Paired tests made so far (evolve/selection.py): each sets a stricter level.
    tests: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        # Agents in the sandbox (or training) at once (--workers); proposing and gating are
        # not limited by it.
        self.env = dataclasses.replace(self.env, slot=threading.Semaphore(self.cfg.workers))

    @property
    def sandbox(self) -> AgentRunner:
        return self.env.sandbox

    @property
    def dataset(self) -> Path:
        return self.env.dataset

    @property
    def weights(self) -> WeightsRuntime | None:
        return self.env.weights

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def select(self) -> str:
        return self.task.select

    def beats(self, score: float, incumbent: float) -> bool:
        """Whether `score` improves on `incumbent` by more than the configured margin (with a
        tolerance for scores read back from trailers)."""
        d = (
            score - incumbent
            if self.task.manifest.metric.direction == "maximize"
            else (incumbent - score)
        )
        return d > self.cfg.min_improvement + EPS

    def drop_scratch(self) -> None:
        """Remove the run's scratch space (staged inputs, agents' working dirs): once what
        matters of it is recorded in git."""
        shutil.rmtree(self.paths.scratch, ignore_errors=True)

    def adapter_at(self, rev: str) -> str | None:
        """The adapter the agent at `rev` runs with (None for a task without a model)."""
        if self.weights is None:
            return None
        pin = pins.read(self.repo, rev)
        return pin.address if pin else None

    def attempt(
        self,
        index: int,
        proposal: Proposal | None,
        files: dict[str, bytes],
        *,
        gen: int,
        seed_offset: int = 0,
        tag: str = "",
        gated: bool = True,
        adapter: str | None = None,
        dataset: Path | None = None,
    ) -> Outcome:
        """Try an agent, with the LoRA `adapter` it runs with (a weights proposal trains its
        own). Every attempt is gated (unchanged code hits the gate cache); `gated=False` is for
        tests that show the sandbox alone contains an agent."""
        scratch = self.paths.scratch / refs.gen_name(gen) / f"c{index}-{seed_offset}{tag}"
        label = (f"c{index}" if index else "agent") + (
            f" re-run {seed_offset}" if seed_offset else ""
        )
        return try_candidate(
            self.env,
            Attempt(
                index,
                files,
                scratch,
                self.cfg.seed + seed_offset,
                proposal,
                adapter,
                gated,
                lambda line: self.echo(f"gen {gen} c{index}: {line}"),
                lambda state: self.progress.state(gen, label, state),
                dataset,
            ),
        )
