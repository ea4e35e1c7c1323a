"""Search strategies (the STRATEGIES registry, core/extensions.py): how the offline levers pick
settings to try, the knob values of the knobs lever and the LoRA settings of the weights
lever. `--search NAME` (or `search` in sia-git.toml) chooses one; `auto` by default: `screen`
where a candidate is slow to score, `tpe` where it is fast."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sia_git.levers.knob_source import Space, Value
from sia_git.levers.screening import screen
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
    # Whether the screen strategy may vary each knob alone first (screening.py): not for LoRA
    # settings, where a range's far end (lr 5e-3) collapses a small model.
    screen: bool = True
    # Seconds one candidate's run takes (the run's generation 1, on its whole inputs); None
    # when unknown. The auto strategy screens only where it is long.
    run_seconds: float | None = None


class Strategy(ABC):
    name: str = ""  # its registry key

    @abstractmethod
    def propose(self, ask: Ask) -> list[dict[str, Value]]:
        """Up to `ask.n` settings, none tried before (fewer when the space is exhausted)."""

    def resolve(self, ask: Ask) -> Strategy:
        """The strategy that answers `ask`: itself, but for one that picks another."""
        return self


class TPE(Strategy):
    """optuna's multivariate TPE, random samples when it keeps repeating itself, and the
    untried points of a small finite space last (search.search)."""

    def propose(self, ask: Ask) -> list[dict[str, Value]]:
        return self._search(ask, ask.n, avoid=[])

    @staticmethod
    def _search(ask: Ask, n: int, *, avoid: list[dict[str, Value]]) -> list[dict[str, Value]]:
        return search(ask.space, ask.current, ask.history, seed_key=ask.seed_key,
                      direction=ask.direction, generation=ask.generation, n=n,
                      avoid=avoid)  # fmt: skip


class Screen(TPE):
    """Each knob of the incumbent varied alone once first (screening.screen), then TPE. It
    finds a gain one knob holds in as many trials as there are knobs, and pays those trials
    where a gain needs several knobs at once (docs/BENCHMARKS.md: smollm2's and penguins')."""

    def propose(self, ask: Ask) -> list[dict[str, Value]]:
        first = screen(ask.space, ask.current, ask.history, seed_key=ask.seed_key,
                       generation=ask.generation, n=ask.n) if ask.screen else []  # fmt: skip
        if len(first) == ask.n:
            return first
        return first + self._search(ask, ask.n - len(first), avoid=first)


# A run whose candidates take this long or more to score tries tens of them in an hour, not
# thousands: too few for TPE's random start to land on the one knob that matters, as many as
# a screen needs (one per knob). Measured (docs/BENCHMARKS.md): word-sentiment-smollm2's
# candidates take about 40 s, and in 8 minutes a screen found +12 points on the sealed test
# where TPE found nothing; penguins' take 0.2 s, and there a screen's one-knob generations
# delayed the first gain from generation 2 to 8, at two candidates a generation.
SLOW_RUN_S = 10.0


class Auto(Strategy):
    """`screen` when a candidate's run takes SLOW_RUN_S or more, else (or when unknown) `tpe`."""

    def resolve(self, ask: Ask) -> Strategy:
        slow = ask.run_seconds is not None and ask.run_seconds >= SLOW_RUN_S
        return get("screen" if slow else "tpe")

    def propose(self, ask: Ask) -> list[dict[str, Value]]:
        return self.resolve(ask).propose(ask)


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
