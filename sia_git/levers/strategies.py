"""Search strategies (the STRATEGIES registry, core/extensions.py): how the offline levers pick
settings to try, the knob values of the knobs lever and the LoRA settings of the weights
lever. `--search NAME` (or `search` in sia-git.toml) chooses one; `tpe` by default."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sia_git.levers.knob_source import Space, Value
from sia_git.levers.search import Trial, search


@dataclass(frozen=True, kw_only=True)
class Ask:
    """One request for settings: `n` points of `space` (merged over `current`) not in
    `history`; the same request always gives the same answer (seeded by `seed_key`)."""

    space: Space
    current: dict[str, Value]
    history: list[Trial]
    seed_key: str
    direction: str
    generation: int
    n: int


class Strategy(ABC):
    name: str = ""  # its registry key

    @abstractmethod
    def propose(self, ask: Ask) -> list[dict[str, Value]]:
        """Up to `ask.n` settings, none tried before (fewer when the space is exhausted)."""


class TPE(Strategy):
    """optuna's multivariate TPE, random samples when it keeps repeating itself, and the
    untried points of a small finite space last (knob_search.search)."""

    def propose(self, ask: Ask) -> list[dict[str, Value]]:
        return search(ask.space, ask.current, ask.history, seed_key=ask.seed_key,
                      direction=ask.direction, generation=ask.generation, n=ask.n)  # fmt: skip


class Random(Strategy):
    """Uniform samples of the space (optuna's RandomSampler), none tried before."""

    def propose(self, ask: Ask) -> list[dict[str, Value]]:
        return search(ask.space, ask.current, ask.history, seed_key=ask.seed_key,
                      direction=ask.direction, generation=ask.generation, n=ask.n,
                      sampler="random")  # fmt: skip


def get(name: str) -> Strategy:
    from sia_git.core.extensions import STRATEGIES

    strategy: Strategy = STRATEGIES.get(name)()
    strategy.name = name
    return strategy
