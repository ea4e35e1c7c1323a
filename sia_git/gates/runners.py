"""What the gates share: the options a run gives them, the interface each gate implements
(`Runner`: a name, a cache key, a scan of many files in one tool run), and how a tool is run.
The gates themselves are one module each (ruff, bandit, semgrep, secrets), registered in the
GATES registry (core/extensions.py); a plugin adds one the same way (docs/EXTENDING.md)."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sia_git.core import childenv

TOOL_TIMEOUT_S = 180
Findings = dict[str, list[dict[str, Any]]]  # path -> [{"line", "rule", "message"}]


class GateToolError(Exception):
    """The gate's tool could not run (missing, crashed): the gate fails with this reason."""


@dataclass(frozen=True)
class Options:
    forbid_packages: tuple[str, ...] = ()  # the task's data source: importing it is flagged
    allow_rules: tuple[str, ...] = ()  # the task's gate policy: these findings do not fail
    secret_values: tuple[str, ...] = field(default=(), repr=False)


class Runner(Protocol):
    name: str

    def key(self, opts: Options) -> str: ...

    def scan(self, paths: Sequence[Path], opts: Options) -> Findings: ...


@functools.cache
def _version(module: str) -> str:
    """A stand-in for the tool's version that is cheap to get on every `check` (the warm path
    must stay fast): where its module lives and when it was installed."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return "missing"
    st = os.stat(spec.origin)
    return _digest(spec.origin, str(st.st_mtime_ns), str(st.st_size))


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _run(
    argv: list[str], ok_codes: tuple[int, ...], what: str, *, env: dict[str, str] | None = None
) -> str:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            env=childenv.scrubbed(**(env or {})),
        )
    except FileNotFoundError:
        raise GateToolError(f"{what} is not installed (pip install sia-git again)") from None
    except subprocess.TimeoutExpired:
        raise GateToolError(f"{what} timed out after {TOOL_TIMEOUT_S}s") from None
    if done.returncode not in ok_codes:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
        raise GateToolError(f"{what} could not run (exit {done.returncode}): {last[0][:300]}")
    return done.stdout


class _Names:
    """Tool output names files its own way (`./a.py`, absolute); map each back to the caller's
    spelling, and collect findings under it."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.found: Findings = {str(p): [] for p in paths}
        self._map = {os.path.normpath(s): str(p) for p in paths for s in (str(p), str(p.resolve()))}

    def add(self, reported: str, finding: dict[str, Any]) -> None:
        name = self._map.get(os.path.normpath(reported), reported)
        self.found.setdefault(name, []).append(finding)


def all_runners() -> list[Runner]:
    """An instance of every registered gate (plugins' included), named by its registry key."""
    from sia_git.core.extensions import GATES

    out = []
    for name in GATES.implementations():
        cls = GATES.get(name)
        cls.name = name
        out.append(cls())
    return out
