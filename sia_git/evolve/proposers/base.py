"""The interface every proposer implements, and the port it sees the run through: read-only
views of the task's public side, the run's history and git objects, the run's seeds and
settings that concern proposing, and the model handles. See docs/EXTENDING.md."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sia_git.levers.proposal import ENTRY, Proposal
from sia_git.store import history as H

if TYPE_CHECKING:
    from sia_git.evolve.roles import Models
    from sia_git.gitrepo.reader import RepoReader
    from sia_git.levers.strategies import Strategy
    from sia_git.store.trials import Trial
    from sia_git.tasks.task import PublicTask

# One candidate's proposal, made when the loop calls it: the loop calls a generation's makers
# at once, in threads, and gates and runs each candidate as soon as its proposal is there.
Maker = Callable[[], Proposal]


@dataclass(frozen=True)
class Round:
    """What a proposer sees of one generation."""

    hist: H.RunHistory  # the run so far: commits, rejected candidates, scores
    files: dict[str, bytes]  # the incumbent agent's folder (path -> content)
    gen: int
    adapter: str | None  # the LoRA adapter the incumbent runs with, if any
    levers: tuple[str, ...]  # the levers that can change this agent (--lever narrows them)
    # Seconds one candidate's run takes (generation 1's, on its whole inputs); None: unknown.
    run_seconds: float | None = None

    @property
    def source(self) -> str:
        return self.files[ENTRY].decode()


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The run's settings that concern proposing."""

    candidates: int
    seed: int
    lever: str
    feedback_turns: int
    allow_rewrite: bool
    edit_format: str
    budget_usd: float | None


@dataclass(frozen=True, kw_only=True)
class ProposerPort:
    """All a proposer gets of the run."""

    run_id: str
    task: PublicTask
    repo: RepoReader
    dataset: Path  # the staged public inputs
    select: str  # the selection split: the only one whose results a proposer sees
    settings: Settings
    models: Models
    strategy: Strategy  # the search strategy for settings (--search)
    echo: Callable[[str], None]
    # Earlier runs' knob trials on the same task (evolve/prior.py): the search starts warm.
    prior: tuple[Trial, ...] = ()

    @property
    def seed_key(self) -> str:
        """The task and --seed: the same history proposes the same, whatever the run's id."""
        return f"{self.task.name}/{self.settings.seed}"

    @property
    def direction(self) -> str:
        return self.task.manifest.metric.direction

    @property
    def weights_defaults(self) -> dict[str, Any] | None:
        w = self.task.manifest.weights
        return w.hparams if w else None


class Proposer(ABC):
    """Writes a generation's candidates. One instance per run of `evolve`; `name` is its
    registry key (PROPOSERS)."""

    name: ClassVar[str]
    needs_model: ClassVar[bool] = False  # True: refused without --model

    def __init__(self, port: ProposerPort) -> None:
        self.port = port

    @abstractmethod
    def propose(self, rnd: Round) -> list[Maker]:
        """One maker per candidate (at most --candidates). An empty list ends the run: say
        why with `self.port.echo` first."""

    def fallback(self, rnd: Round, why: str) -> list[Maker]:
        """Candidates from a simpler ask, when every candidate of `rnd` failed for a reason
        that will repeat (`why`); none by default (the run's optimiser steps in)."""
        return []

    @abstractmethod
    def describe(self) -> str:
        """How the start line names it ("knob search (no --model)")."""
