"""The environment of every process sia-git starts outside the sandbox (git, the gates, the
evaluator, training): sia-git's own, less every secret. A child never gets a key it does not
need; the one that needs one (a push to a forge) is handed it explicitly by its caller.

Git is also told to run no hooks (`core.hooksPath=/dev/null`) and no fsmonitor command, through
the environment (GIT_CONFIG_COUNT), so it holds for every git process a child starts too
(pre-commit's, and any a hook starts)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from sia_git.core import tmpfiles
from sia_git.core.redact import is_secret_name

_extra: set[str] = set()  # variables a model profile names as its key (any name)
_GIT_SAFE = {"core.hooksPath": "/dev/null", "core.fsmonitor": "false"}


def mark_secret(names: Iterable[str]) -> None:
    """Treat these variables as secrets too (a profile's `api_key_env`, whatever its name)."""
    _extra.update(names)


def secret(name: str) -> bool:
    if name.startswith("GIT_CONFIG_VALUE_"):
        return False  # the caller's git settings: GIT_CONFIG_COUNT counts on every one
    return name in _extra or is_secret_name(name)


def scrubbed(
    env: Mapping[str, str] | None = None, hooks_off: bool = True, **extra: str
) -> dict[str, str]:
    """`env` (default: this process's) without secrets, with git's hooks off (unless a person
    asked for hooks: `hooks install`), plus `extra`."""
    base = os.environ if env is None else env
    out = {k: v for k, v in base.items() if not secret(k)}
    if not hooks_off:
        return {**out, "TMPDIR": str(tmpfiles.own()), **extra}
    # After any settings the caller's environment gives git this way: the last one wins.
    start = int(out["GIT_CONFIG_COUNT"]) if out.get("GIT_CONFIG_COUNT", "").isdigit() else 0
    for i, (key, value) in enumerate(_GIT_SAFE.items(), start=start):
        out[f"GIT_CONFIG_KEY_{i}"], out[f"GIT_CONFIG_VALUE_{i}"] = key, value
    out["GIT_CONFIG_COUNT"] = str(start + len(_GIT_SAFE))
    out["TMPDIR"] = str(tmpfiles.own())  # what a killed child leaves is swept with it
    return {**out, **extra}
