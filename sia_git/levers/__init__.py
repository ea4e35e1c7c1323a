"""Levers: what can change an agent between generations (the LEVERS registry,
core/extensions.py): `harness` (code, by a model), `knobs` (the agent's declared knob values)
and `weights` (a LoRA adapter), and any a plugin adds. `--lever NAME` forces one; `auto` lets
the Feedback-Agent choose, or offline a bandit (bandit.py) over the levers that need no
model."""

from __future__ import annotations

from sia_git.core.extensions import AUTO, LEVERS
from sia_git.levers.base import Lever, Request, Situation

__all__ = ["Lever", "Request", "Situation", "available", "check_forced", "get", "offline"]


def get(name: str) -> Lever:
    cls: type[Lever] = LEVERS.get(name)
    cls.name = name
    return cls()


def available(s: Situation) -> list[str]:
    """The levers that can change this agent now, in the registry's order."""
    return [name for name in LEVERS.implementations() if get(name).unavailable(s) is None]


def offline(names: list[str]) -> list[str]:
    """Those of `names` that propose without a model."""
    return [name for name in names if not get(name).needs_model]


def check_forced(name: str, s: Situation) -> None:
    """Refuse a forced lever (`--lever NAME`) the run cannot pull, before anything runs."""
    if name != AUTO:
        get(name).refuse_forced(s)
