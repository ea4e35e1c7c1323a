"""What every forge is: the calls review.py makes, and the review they return."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry is read at start-up: no git module then
    from sia_git.gitrepo import Repo


@dataclass
class Review:
    number: int
    url: str
    state: str  # open | merged | closed
    head: str
    base: str


class Forge(ABC):
    name = "forge"  # its registry key (FORGES), set when the registry hands it out

    @abstractmethod
    def push(self, branch: str, sha: str) -> None:
        """Make `branch` on the forge point at `sha` (force: run branches are sia-git's)."""

    @abstractmethod
    def find(self, head: str, base: str) -> Review | None: ...

    @abstractmethod
    def open(self, head: str, base: str, title: str, *, body: str) -> Review: ...

    @abstractmethod
    def update(self, review: Review, title: str, body: str) -> None: ...

    @abstractmethod
    def comment(self, review: Review, body: str) -> None: ...

    @abstractmethod
    def merge(self, review: Review) -> None: ...

    @classmethod
    @abstractmethod
    def create(cls, repo: Repo, github_repo: str | None = None) -> Forge:
        """The forge for `repo`, from the run's settings and the environment."""
