"""GitHub through PyGithub. The token is GITHUB_TOKEN (or GH_TOKEN); the repository is
`github_repo`, GITHUB_REPOSITORY, or read from the `origin` remote's URL; the API is
GITHUB_API_URL (GitHub Enterprise, or a test server) or api.github.com. Branches are pushed to
`origin` with plain git."""

from __future__ import annotations

import os
import re
from typing import Any

from sia_git.core.errors import SiaError
from sia_git.forges.base import Forge, Review
from sia_git.gitrepo import GitError, Repo

_REMOTE = re.compile(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$")


class GitHubForge(Forge):
    def __init__(self, repo: Repo, gh_repo: Any, owner: str) -> None:
        self.repo, self.gh, self.owner = repo, gh_repo, owner

    @classmethod
    def create(cls, repo: Repo, github_repo: str | None = None) -> GitHubForge:
        from github import Auth, Github

        token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
        if not token:
            raise SiaError("--forge github needs a token in GITHUB_TOKEN (or GH_TOKEN)")
        name = github_repo or os.environ.get("GITHUB_REPOSITORY") or _from_origin(repo)
        api = os.environ.get("GITHUB_API_URL", "https://api.github.com")
        try:
            gh_repo = Github(auth=Auth.Token(token), base_url=api).get_repo(name)
        except Exception as exc:
            raise SiaError(f"GitHub {api}: repository {name}: {_why(exc)}") from None
        return cls(repo, gh_repo, name.split("/")[0])

    def push(self, branch: str, sha: str) -> None:
        try:
            # The one git call that needs a token: handed to it alone (childenv drops them).
            token = {k: os.environ[k] for k in ("GITHUB_TOKEN", "GH_TOKEN") if k in os.environ}
            self.repo.git(
                "push", "--quiet", "--force", "origin", f"{sha}:refs/heads/{branch}", env=token
            )
        except GitError as exc:
            raise SiaError(f"pushing {branch} to origin failed: {exc}") from None

    def _review(self, pr: Any) -> Review:
        state = "merged" if pr.merged else pr.state
        return Review(pr.number, pr.html_url, state, pr.head.ref, pr.base.ref)

    def find(self, head: str, base: str) -> Review | None:
        pulls = self._call(
            lambda: list(self.gh.get_pulls(state="all", head=f"{self.owner}:{head}", base=base))
        )
        return self._review(pulls[0]) if pulls else None

    def open(self, head: str, base: str, title: str, *, body: str) -> Review:
        return self._review(
            self._call(lambda: self.gh.create_pull(title=title, body=body, head=head, base=base))
        )

    def update(self, review: Review, title: str, body: str) -> None:
        self._call(lambda: self.gh.get_pull(review.number).edit(title=title, body=body))

    def comment(self, review: Review, body: str) -> None:
        self._call(lambda: self.gh.get_pull(review.number).create_issue_comment(body))

    def upsert_comment(self, number: int, body: str, marker: str) -> str:
        """Edit the pull request's comment that carries `marker`, or add one; return which."""
        text = f"{body.rstrip()}\n\n{marker}\n"

        def go() -> str:
            issue = self.gh.get_issue(number)
            for comment in issue.get_comments():
                if marker in (comment.body or ""):
                    comment.edit(text)
                    return "updated"
            issue.create_comment(text)
            return "created"

        return self._call(go)

    def merge(self, review: Review) -> None:
        self._call(lambda: self.gh.get_pull(review.number).merge(merge_method="merge"))

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except SiaError:
            raise
        except Exception as exc:  # network, HTTP and auth errors from PyGithub
            raise SiaError(f"GitHub: {_why(exc)}") from None


def _from_origin(repo: Repo) -> str:
    url = repo.git("remote", "get-url", "origin", check=False).strip()
    m = _REMOTE.search(url)
    if not m:
        raise SiaError(
            "--forge github: cannot tell the GitHub repository from origin "
            f"({url or 'no origin remote'}); set GITHUB_REPOSITORY=owner/name"
        )
    return m.group(1)


def _why(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
