"""LoRA training settings: their validation, their search space, and the offline proposer that
searches it with the same optimiser as the knobs (history rebuilt from `Sia-Train` trailers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sia_git.core.errors import SiaError
from sia_git.levers.knob_source import Range, Space, Value
from sia_git.levers.search import Trial

if TYPE_CHECKING:
    from sia_git.levers.strategies import Strategy


class HParams(BaseModel):
    """One weights candidate's training settings (the `Sia-Train` trailer)."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=8, ge=1, le=256)
    alpha_ratio: float = Field(default=2.0, gt=0, le=64)  # lora_alpha = r * alpha_ratio
    dropout: float = Field(default=0.1, ge=0, lt=1)
    lr: float = Field(default=2e-3, gt=0, le=1)
    epochs: int = Field(default=2, ge=1, le=100)
    batch_size: int = Field(default=32, ge=1, le=1024)
    seed: int = 0
    # Go on from the incumbent's adapter instead of starting from the base model.
    continue_from_incumbent: bool = False
    group_size: int = Field(default=4, ge=2, le=64)  # generation: answers sampled per prompt
    temperature: float = Field(default=1.0, gt=0, le=2)  # generation: how answers are sampled

    @classmethod
    def parse(cls, data: dict[str, Any], origin: str) -> HParams:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "?"
            msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
            raise SiaError(f"{origin}: {key}: {msg}") from None


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
                  direction=direction, generation=generation, n=n - len(out))  # fmt: skip
        out += [{**defaults, **k} for k in (strategy or TPE()).propose(ask)]
    return [HParams.model_validate({**d, "seed": seed}) for d in out]


def _same(a: dict[str, Value], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in SPACE)
