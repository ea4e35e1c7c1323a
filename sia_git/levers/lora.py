"""The weights lever's settings to try: the LoRA settings' search space, and the proposals made
by the run's search strategy over it (history rebuilt from `Sia-Train` trailers). The settings
themselves (`HParams`) are part of a task's model spec (tasks/model_spec.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sia_git.levers.knob_source import Range, Space, Value
from sia_git.levers.search import Trial
from sia_git.tasks.model_spec import HParams

if TYPE_CHECKING:
    from sia_git.levers.strategies import Strategy


SPACE: Space = {
    "r": [4, 8, 16],
    "alpha_ratio": [1.0, 2.0, 4.0],
    "dropout": [0.0, 0.1],
    "lr": Range(1e-4, 5e-3, integer=False, log=True),
    "epochs": Range(1, 4, integer=True, log=False),
    "batch_size": [16, 32],
    "continue_from_incumbent": [False, True],
}


def propose(
    history: list[Trial],
    *,
    seed_key: str,
    direction: str,
    generation: int,
    n: int,
    seed: int,
    task_defaults: dict[str, Any] | None = None,
    strategy: Strategy | None = None,
) -> list[HParams]:
    """`n` untried settings: the defaults (the task's, over sia-git's) first, a sound starting
    point; then the search strategy's (TPE unless one is given)."""
    from sia_git.levers.strategies import TPE, Ask

    defaults = HParams.model_validate({**(task_defaults or {}), "seed": seed}).model_dump()
    out: list[dict[str, Value]] = []
    if not any(_same(t.knobs, defaults) for t in history):
        out.append(defaults)
    # A strategy never returns `current` (the defaults): it counts as tried.
    current = {k: defaults[k] for k in SPACE}
    if n > len(out):
        ask = Ask(space=SPACE, current=current, history=history, seed_key=f"{seed_key}/weights",
                  direction=direction, generation=generation, n=n - len(out),
                  screen=False)  # fmt: skip
        out += [{**defaults, **k} for k in (strategy or TPE()).propose(ask)]
    return [HParams.model_validate({**d, "seed": seed}) for d in out]


def _same(a: dict[str, Value], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in SPACE)
