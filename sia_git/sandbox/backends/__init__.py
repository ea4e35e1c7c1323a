"""Sandbox backends: the registry below is the one place that names them. The config's allowed
values, the `--sandbox` help and `choose` come from it; a backend's module is imported only when
it is used. A plugin adds one with `register` (docs/EXTENDING.md)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sia_git import plugins
from sia_git.errors import SiaError

if TYPE_CHECKING:  # the registry is read at start-up (--help): the backends load when used
    from sia_git.sandbox.backends.base import Backend

__all__ = ["BACKENDS", "choose", "get", "help_line", "names", "register"]

DEFAULT = "bwrap"

# name -> ("module:Class", one line of help)
BACKENDS: dict[str, tuple[str, str]] = {
    "bwrap": ("sia_git.sandbox.backends.bwrap:Bubblewrap", "the default: bubblewrap namespaces"),
    "unshare": (
        "sia_git.sandbox.backends.unshare:Unshare",
        "`unshare -n`, when bubblewrap cannot start",
    ),
    "docker": (
        "sia_git.sandbox.backends.docker:Docker",
        "a container through Docker or podman's Docker-compatible service",
    ),
    "none": ("sia_git.sandbox.backends.none:Unsandboxed", "unsandboxed: prints a warning"),
}


def register(name: str, target: str, help_text: str) -> None:
    """Add a backend: `target` is "module:Class" of a Backend subclass."""
    BACKENDS[name] = (target, help_text)


def names() -> list[str]:
    plugins.load()
    return list(BACKENDS)


def help_line() -> str:
    return "; ".join(f"{name} ({text})" for name, (_, text) in BACKENDS.items())


def get(name: str) -> type[Backend]:
    if name not in names():
        raise SiaError(f"--sandbox {name}: unknown backend (known: {', '.join(BACKENDS)})")
    module, _, cls = BACKENDS[name][0].partition(":")
    backend: type[Backend] = getattr(importlib.import_module(module), cls)
    return backend


def choose(requested: str) -> tuple[str, str | None]:
    """The backend to use and a warning to show, or a one-line error when none can run."""
    cls = get(requested)
    why = cls.probe()
    if why is None:
        return requested, cls.warning()
    if cls.fallback is not None and get(cls.fallback).probe() is None:
        fb = get(cls.fallback)
        return fb.name, (
            f"--sandbox {cls.name} cannot run here ({why[:120]}); using "
            f"{fb.name}" + (f": {fb.warning()}" if fb.warning() else "")
        )
    raise SiaError(cls.unavailable(why))
