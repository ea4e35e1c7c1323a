"""Where the CI workflow `init --ci github` writes installs sia-git from: a source the CI runner
can reach, never one that exists only on this machine. By default, the place this sia-git was
installed from (PEP 610's direct_url.json): a package index (`sia-git==VERSION`), a git URL at
the commit installed, or an archive URL; a local folder or file is refused, naming the flag."""

from __future__ import annotations

import json
import re
from importlib import metadata

from sia_git import __version__
from sia_git.core.errors import SiaError

_REMOTE = re.compile(r"^(git\+)?(https?|ssh)://[^\s\"'@]+(@[\w./-]+)?$")
FLAG = "--sia-git-from"


def requirement(given: str | None) -> str:
    """What follows `sia-git` in the workflow's pip lines: `==VERSION` or ` @ URL`."""
    if given is not None:
        return _checked(given)
    try:
        raw = metadata.distribution("sia-git").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        raw = None
    return _from_direct_url(json.loads(raw) if raw else None)


def _checked(given: str) -> str:
    text = given.strip()
    if re.fullmatch(r"==?\s*[\w.+!-]+", text):
        return "==" + text.lstrip("=").strip()
    if _REMOTE.match(text):
        return f" @ {text}"
    raise SiaError(
        f"{FLAG} {given!r}: give a version (==0.1.0) or a URL the CI runner can reach "
        "(git+https://github.com/OWNER/sia-git@v0.1.0, or https://…/sia_git-0.1.0-py3-none-any.whl)"
    )


def _from_direct_url(info: dict | None) -> str:
    if info is None:
        return f"=={__version__}"  # from a package index: the same version from there
    url = str(info.get("url", ""))
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and not url.startswith("file:"):
        return f" @ {vcs.get('vcs', 'git')}+{url}@{vcs.get('commit_id', '')}".rstrip("@")
    if "archive_info" in info and not url.startswith("file:"):
        return f" @ {url}"
    raise SiaError(
        f"this sia-git was installed from {url or 'a local path'}, which a CI runner cannot "
        f"reach: pass {FLAG} with a version or a URL it can (e.g. "
        "git+https://github.com/OWNER/sia-git@v0.1.0)"
    )
