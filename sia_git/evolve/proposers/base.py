"""The interface every proposer implements; see docs/EXTENDING.md."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from sia_git import history as H
from sia_git.evolve.proposal import Proposal
from sia_git.runs import ENTRY

if TYPE_CHECKING:
    from sia_git.evolve.context import Context

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

    @property
    def source(self) -> str:
        return self.files[ENTRY].decode()


class Proposer(ABC):
    """Writes a generation's candidates. One instance per run of `evolve`."""

    name: ClassVar[str]
    needs_model: ClassVar[bool] = False  # True: refused without --model

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @abstractmethod
    def propose(self, rnd: Round) -> list[Maker]:
        """One maker per candidate (at most --candidates). An empty list ends the run: say
        why with `self.ctx.echo` first."""

    @abstractmethod
    def describe(self) -> str:
        """How the start line names it ("knob search (no --model)")."""
