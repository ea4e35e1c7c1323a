"""The interface every lever implements (the LEVERS registry, core/extensions.py): what it can
change, how it proposes without a model, and what it records. See docs/EXTENDING.md."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sia_git.core.errors import SiaError

if TYPE_CHECKING:
    from sia_git.levers.proposal import Proposal
    from sia_git.levers.strategies import Strategy
    from sia_git.store.history import RunHistory
    from sia_git.store.trials import Trial


@dataclass(frozen=True, kw_only=True)
class Situation:
    """What decides whether a lever can change an agent now."""

    source: str  # the incumbent's target_agent.py
    task: str  # the task's name (for messages)
    has_weights: bool  # the task runs a model of its own ([weights] in task.toml)
    has_model: bool  # a model writes candidates (--model)


@dataclass(frozen=True, kw_only=True)
class Request:
    """One generation's offline proposals for one lever."""

    hist: RunHistory  # the run so far
    files: dict[str, bytes]  # the incumbent's agent folder
    gen: int
    n: int  # how many proposals
    adapter: str | None  # the LoRA adapter the incumbent runs with
    seed: int
    seed_key: str  # the task name and --seed: the same history proposes the same
    direction: str  # maximize | minimize
    strategy: Strategy  # the search strategy (--search) for settings to try
    weights_defaults: dict[str, Any] | None = None  # the task's [weights] hparams
    prior: tuple[Trial, ...] = ()  # earlier runs' knob trials on the task (no adapter)
    run_seconds: float | None = None  # one candidate's run (generation 1's), when known


class Lever(ABC):
    """What can change an agent between generations. One instance per use; `name` is its
    registry key."""

    name: ClassVar[str]
    needs_model: ClassVar[bool] = False  # only a model can pull it: no offline proposals

    @abstractmethod
    def unavailable(self, s: Situation) -> str | None:
        """Why this lever cannot change the agent now, or None when it can."""

    def refuse_forced(self, s: Situation) -> None:
        """`--lever NAME` the run cannot pull: one line, before anything runs."""
        why = self.unavailable(s)
        if why is not None:
            raise SiaError(f"--lever {self.name}: {why}")

    def propose(self, req: Request) -> list[Proposal]:
        """Up to `req.n` proposals made without a model (none for a lever that needs one)."""
        return []

    def trailers(self, p: Proposal) -> list[tuple[str, str]]:
        """Trailers a candidate of this lever carries besides the common ones."""
        return []
