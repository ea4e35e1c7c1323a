"""Proposers: who writes a generation's candidates, from the PROPOSERS registry
(core/extensions.py); a proposer's module is imported only when it is used. A plugin adds one
with `PROPOSERS.register` (docs/EXTENDING.md).

Generation 1 is not a proposer's: it is the task's reference agent, an `--agent` file, or the
Meta-Agent's (first_agent.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sia_git.core.errors import SiaError
from sia_git.core.extensions import AUTO, PROPOSERS

if TYPE_CHECKING:  # the registry stays cheap to import: the CLI builds its help from it
    from sia_git.evolve.proposers.base import Proposer, ProposerPort

__all__ = ["check", "get", "make", "resolve"]


def resolve(name: str, has_model: bool) -> str:
    if name == AUTO:
        return "feedback" if has_model else "search"
    return name


def get(name: str) -> type[Proposer]:
    cls: type[Proposer] = PROPOSERS.get(name)
    cls.name = name
    return cls


def check(name: str, has_model: bool) -> None:
    """Refuse, before anything runs, a proposer the run cannot use."""
    name = resolve(name, has_model)
    if get(name).needs_model and not has_model:
        raise SiaError(f"--proposer {name} needs --model (a model to write the candidates)")


def make(name: str, port: ProposerPort) -> Proposer:
    return get(resolve(name, port.models.proposer is not None))(port)
