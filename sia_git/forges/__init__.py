"""Forges: where generations are reviewed as pull requests, from the FORGES registry
(core/extensions.py). `local` (the default, offline) keeps a "pull request" as review state
under `refs/sia/reviews/`; `github` opens real ones through PyGithub. Both take the same calls
from review.py. A forge is imported only when it is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sia_git.core.extensions import FORGES
from sia_git.forges.base import Forge, Review

if TYPE_CHECKING:
    from sia_git.gitrepo import Repo

__all__ = ["Forge", "Review", "make"]


def make(kind: str, repo: Repo, github_repo: str | None = None) -> Forge:
    cls: type[Forge] = FORGES.get(kind)
    cls.name = kind
    return cls.create(repo, github_repo)
