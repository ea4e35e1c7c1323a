"""Proposers: who writes a generation's candidates. The registry below is the one place that
names them (the config's allowed values and the `--proposer` help come from it); a proposer's
module is imported only when it is used. A plugin adds one with `register`
(docs/EXTENDING.md).

Generation 1 is not a proposer's: it is the task's reference agent, an `--agent` file, or the
Meta-Agent's (first_agent.py)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sia_git import plugins
from sia_git.errors import SiaError

if TYPE_CHECKING:  # the registry stays cheap to import: the CLI builds its help from it
    from sia_git.evolve.context import Context
    from sia_git.evolve.proposers.base import Proposer

__all__ = ["PROPOSERS", "check", "get", "help_line", "make", "names", "register"]

AUTO = "auto"

# name -> ("module:Class", one line of help)
PROPOSERS: dict[str, tuple[str, str]] = {
    "search": (
        "sia_git.evolve.proposers.search:OfflineSearch",
        "offline: a bandit picks the knobs or weights lever, optuna its settings",
    ),
    "feedback": (
        "sia_git.evolve.proposers.feedback:FeedbackAgents",
        "a Feedback-Agent per candidate reads the run and changes the agent; needs --model",
    ),
}


def register(name: str, target: str, help_text: str) -> None:
    """Add a proposer: `target` is "module:Class" of a Proposer subclass."""
    PROPOSERS[name] = (target, help_text)


def names() -> list[str]:
    plugins.load()
    return [AUTO, *PROPOSERS]


def help_line() -> str:
    return f"{AUTO} (feedback with --model, else search), " + ", ".join(
        f"{name} ({text})" for name, (_, text) in PROPOSERS.items()
    )


def resolve(name: str, has_model: bool) -> str:
    if name == AUTO:
        return "feedback" if has_model else "search"
    return name


def get(name: str) -> type[Proposer]:
    if name not in names():
        raise SiaError(f"--proposer {name}: unknown proposer (known: {', '.join(names())})")
    module, _, cls = PROPOSERS[name][0].partition(":")
    proposer: type[Proposer] = getattr(importlib.import_module(module), cls)
    return proposer


def check(name: str, has_model: bool) -> None:
    """Refuse, before anything runs, a proposer the run cannot use."""
    name = resolve(name, has_model)
    if get(name).needs_model and not has_model:
        raise SiaError(f"--proposer {name} needs --model (a model to write the candidates)")


def make(name: str, ctx: Context) -> Proposer:
    return get(resolve(name, ctx.models.proposer is not None))(ctx)
