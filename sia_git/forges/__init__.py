"""Forges: where generations are reviewed as pull requests. `local` (the default, offline) keeps
a "pull request" as review state under `refs/sia/reviews/`; `github` opens real ones through
PyGithub. Both take the same calls from review.py."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from sia_git.errors import SiaError
from sia_git.gitrepo import Repo


@dataclass
class Review:
    number: int
    url: str
    state: str  # open | merged | closed
    head: str
    base: str


class Forge(ABC):
    name = "forge"

    @abstractmethod
    def push(self, branch: str, sha: str) -> None:
        """Make `branch` on the forge point at `sha` (force: run branches are sia-git's)."""

    @abstractmethod
    def find(self, head: str, base: str) -> Review | None: ...

    @abstractmethod
    def open(self, head: str, base: str, title: str, body: str) -> Review: ...

    @abstractmethod
    def update(self, review: Review, title: str, body: str) -> None: ...

    @abstractmethod
    def comment(self, review: Review, body: str) -> None: ...

    @abstractmethod
    def merge(self, review: Review) -> None: ...


def make(kind: str, repo: Repo, github_repo: str | None = None) -> Forge:
    if kind == "local":
        from sia_git.forges.local import LocalForge

        return LocalForge(repo)
    if kind == "github":
        from sia_git.forges.github import GitHubForge

        return GitHubForge.from_env(repo, github_repo)
    raise SiaError(f"unknown forge '{kind}' (local or github)")
