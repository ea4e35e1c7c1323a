"""Sandbox backends, from the SANDBOXES registry (core/extensions.py): the config's allowed
values, the `--sandbox` help and `choose` come from it; a backend's module is imported only
when it is used. A plugin adds one with `SANDBOXES.register` (docs/EXTENDING.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sia_git.core.errors import SiaError
from sia_git.core.extensions import SANDBOXES

if TYPE_CHECKING:  # the registry is read at start-up (--help): the backends load when used
    from sia_git.sandbox.backends.base import Backend

__all__ = ["choose", "get"]


def get(name: str) -> type[Backend]:
    """The backend class registered as `name` (its `name` is the registry's key)."""
    cls: type[Backend] = SANDBOXES.get(name)
    cls.name = name
    return cls


def choose(requested: str) -> tuple[str, str | None]:
    """The backend to use and a warning to show, or a one-line error when none can run."""
    cls = get(requested)
    why = cls.probe()
    if why is None:
        return requested, cls.warning()
    if cls.fallback is not None and get(cls.fallback).probe() is None:
        fb = get(cls.fallback)
        return fb.name, (
            f"--sandbox {requested} cannot run here ({why[:120]}); using "
            f"{fb.name}" + (f": {fb.warning()}" if fb.warning() else "")
        )
    raise SiaError(cls.unavailable(why))
