"""Forges: where generations are reviewed as pull requests. `local` (the default, offline) keeps
a "pull request" as review state under `refs/sia/reviews/`; `github` opens real ones through
PyGithub. Both take the same calls from review.py.

The registry below is the one place that names them: the config's allowed values, the command
line's choices and their help come from it. A forge is imported only when it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sia_git import plugins
from sia_git.errors import SiaError
from sia_git.forges.base import Forge, Review

if TYPE_CHECKING:
    from sia_git.gitrepo import Repo

__all__ = ["FORGES", "Forge", "Review", "help_line", "make", "names", "register"]

# name -> ("module:Class", one line of help)
FORGES: dict[str, tuple[str, str]] = {
    "local": ("sia_git.forges.local:LocalForge", "review state in refs/sia/reviews, offline"),
    "github": (
        "sia_git.forges.github:GitHubForge",
        "GitHub pull requests: GITHUB_TOKEN, pushes to origin",
    ),
}


def register(name: str, target: str, help_text: str) -> None:
    """Add a forge: `target` is "module:Class" of a Forge subclass."""
    FORGES[name] = (target, help_text)


def names() -> list[str]:
    plugins.load()
    return list(FORGES)


def help_line() -> str:
    return "; ".join(f"{name} ({text})" for name, (_, text) in FORGES.items())


def make(kind: str, repo: Repo, github_repo: str | None = None) -> Forge:
    if kind not in names():
        raise SiaError(f"--forge {kind}: unknown forge (known: {', '.join(FORGES)})")
    module, _, cls = FORGES[kind][0].partition(":")
    forge: type[Forge] = getattr(importlib.import_module(module), cls)
    return forge.create(repo, github_repo)
