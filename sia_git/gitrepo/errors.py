"""What a failed git call raises (its own module: every part of gitrepo raises it)."""

from __future__ import annotations

from sia_git.core.errors import SiaError


class GitError(SiaError):
    pass
