"""The local forge: a pull request is a head branch, a base branch, and review state (title,
body, comments, state) in a commit under `refs/sia/reviews/<n>`, each update a new commit on
top, so the review's history is plain git too."""

from __future__ import annotations

import json

from sia_git.core.errors import SiaError
from sia_git.forges.base import Forge, Review
from sia_git.gitrepo import Repo
from sia_git.store import refs

PREFIX = refs.REVIEWS


class LocalForge(Forge):
    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    @classmethod
    def create(cls, repo: Repo, github_repo: str | None = None) -> LocalForge:
        return cls(repo)

    def push(self, branch: str, sha: str) -> None:
        # Local branches are the run itself: never move one back to an older commit, and only
        # ever forward.
        current = self.repo.rev_parse(f"refs/heads/{branch}")
        if current is None:
            self.repo.update_refs([(f"refs/heads/{branch}", sha, None)])
        elif current == sha or self.repo.is_ancestor(sha, current):
            return
        elif self.repo.is_ancestor(current, sha):
            self.repo.fast_forward(branch, sha)
        else:
            raise SiaError(
                f"{branch} has moved on since the review was opened; merge by hand: "
                f"git switch {branch} && git merge {sha[:10]}"
            )

    def _load(self, number: int) -> dict:
        text = self.repo.read_file(f"{PREFIX}{number}", "review.json")
        if text is None:
            raise SiaError(f"no local review #{number}")
        return json.loads(text)

    def _save(self, number: int, data: dict, what: str) -> None:
        ref = f"{PREFIX}{number}"
        old = self.repo.rev_parse(ref)
        tree = self.repo.make_tree(None, {"review.json": json.dumps(data, indent=1).encode()})
        sha = self.repo.commit(tree, [old] if old else [], f"review #{number}: {what}\n")
        self.repo.update_refs([(ref, sha, old)])

    def _review(self, number: int, data: dict) -> Review:
        return Review(number, f"{PREFIX}{number}", data["state"], data["head"], data["base"])

    def numbers(self) -> list[int]:
        refs = self.repo.for_each_ref(PREFIX, "%(refname)")
        return sorted(int(r.strip().removeprefix(PREFIX)) for r in refs)

    def find(self, head: str, base: str) -> Review | None:
        for n in self.numbers():
            data = self._load(n)
            if data["head"] == head and data["base"] == base:
                return self._review(n, data)
        return None

    def open(self, head: str, base: str, title: str, *, body: str) -> Review:
        number = max(self.numbers(), default=0) + 1
        data = {
            "number": number,
            "head": head,
            "base": base,
            "title": title,
            "body": body,
            "state": "open",
            "comments": [],
        }
        self._save(number, data, "opened")
        return self._review(number, data)

    def update(self, review: Review, title: str, body: str) -> None:
        data = self._load(review.number)
        if (data["title"], data["body"]) == (title, body):
            return  # nothing changed: no empty "updated" commit
        data.update(title=title, body=body)
        self._save(review.number, data, "updated")

    def list(self) -> list[dict]:
        """Every local review, newest first."""
        return [self._load(n) for n in reversed(self.numbers())]

    def show(self, number: int) -> dict:
        return self._load(number)

    def comment(self, review: Review, body: str) -> None:
        data = self._load(review.number)
        data["comments"].append(body)
        self._save(review.number, data, "commented")

    def merge(self, review: Review) -> None:
        data = self._load(review.number)
        head = self.repo.rev_parse(f"refs/heads/{data['head']}")
        assert head is not None
        self.push(data["base"], head)
        data["state"] = "merged"
        self._save(review.number, data, "merged")
