"""Plugins: packages that add sandbox backends, proposers or forges. A plugin declares an entry
point in the `sia_git.plugins` group naming a module (or a function to call) that registers
what it adds; sia-git loads them the first time it needs a registry (docs/EXTENDING.md)."""

from __future__ import annotations

import functools

from sia_git.core.errors import SiaError

GROUP = "sia_git.plugins"


@functools.cache
def load() -> tuple[str, ...]:
    """Import every installed plugin once; return their names."""
    from importlib.metadata import entry_points  # here: it costs ~10 ms, and few commands ask

    loaded = []
    for ep in entry_points(group=GROUP):
        try:
            obj = ep.load()
            if callable(obj):
                obj()
        except Exception as exc:  # a broken plugin is the user's to fix: name it
            raise SiaError(
                f"plugin '{ep.name}' ({ep.value}) failed to load: "
                f"{type(exc).__name__}: {exc}".splitlines()[0]
            ) from None
        loaded.append(ep.name)
    return tuple(loaded)
