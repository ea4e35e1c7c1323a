"""Commit objects, many at once: a generation's candidate commits in two git processes.

`commit-tree` is one process per commit, and a generation commits every candidate: at 128
candidates that was most of the driver's committing time (docs/SCALING.md). Here the author and
committer lines come from `git var -l` (git's own identity and date rules, the user's settings
and GIT_* variables included), each commit object is built in Python as `commit-tree` builds it
(headers, a blank line, the message as given), and all are written by one `hash-object`, which
checks them and must print the ids computed here. A repository whose commits git would change
(signed with commit.gpgSign, or an i18n.commitEncoding other than UTF-8) gets one `commit-tree`
per commit instead, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sia_git.gitrepo.trees import Git, object_id, write_objects


@dataclass(frozen=True)
class CommitSpec:
    tree: str
    parents: tuple[str, ...]
    message: str  # already redacted


def make_commits(git: Git, specs: list[CommitSpec], one: Callable[[CommitSpec], str]) -> list[str]:
    """The commit id of each spec, in order. `one` writes a single commit with `commit-tree`
    (for the repositories whose commits git would change)."""
    if not specs:
        return []
    settings = _var_list(git)
    if _git_would_change(settings):
        return [one(s) for s in specs]
    author, committer = settings["GIT_AUTHOR_IDENT"], settings["GIT_COMMITTER_IDENT"]
    objects = {}
    ids = []
    for s in specs:
        head = f"tree {s.tree}\n" + "".join(f"parent {p}\n" for p in s.parents)
        data = f"{head}author {author}\ncommitter {committer}\n\n{s.message}".encode()
        sha = object_id("commit", data)
        objects[sha] = data
        ids.append(sha)
    write_objects(git, "commit", objects)
    return ids


def _var_list(git: Git) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in git("var", "-l").splitlines():
        name, sep, value = line.partition("=")
        if sep:
            out[name.lower() if "." in name else name] = value
    return out


def _git_would_change(settings: dict[str, str]) -> bool:
    signs = settings.get("commit.gpgsign", "false").lower() in ("true", "yes", "on", "1")
    encoding = settings.get("i18n.commitencoding", "utf-8").lower().replace("-", "")
    return signs or encoding != "utf8" or "GIT_AUTHOR_IDENT" not in settings
