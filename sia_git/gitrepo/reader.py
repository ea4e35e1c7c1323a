"""A read-only view of a repository: what proposers and their tools may do with git (read
commits, files, diffs), and nothing that writes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sia_git.gitrepo import Repo


class RepoReader:
    def __init__(self, repo: Repo) -> None:
        self._repo = repo

    def rev_parse(self, rev: str) -> str | None:
        return self._repo.rev_parse(rev)

    def read_file(self, rev: str, path: str) -> str | None:
        return self._repo.read_file(rev, path)

    def read_files(self, specs: list[str]) -> dict[str, str | None]:
        return self._repo.read_files(specs)

    def list_files(self, rev: str, prefix: str) -> list[str]:
        return self._repo.list_files(rev, prefix)

    def diff(self, a: str, b: str, paths: list[str]) -> str:
        return self._repo.diff(a, b, paths)

    def message(self, sha: str) -> str:
        """A commit's whole message."""
        return self._repo.git("log", "-1", "--format=%B", sha)
