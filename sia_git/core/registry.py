"""One extension point: the named implementations of an interface, built in or added by
plugins, in the one place that names them.

A registry feeds everything that lists or checks a name: the command line's help and choices,
the settings' validation (files and flags alike), the error for an unknown name, and `get`.
An implementation is registered as "module:attribute" (imported when first used, so `--help`
stays fast) or as the object itself; installed plugins (the `sia_git.plugins` entry point
group) are loaded before names are listed. Each implementation has one name: the registry's
key, which `get` hands out with it (`Named`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sia_git.core.errors import SiaError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    target: str | object  # "module:attribute", or the implementation itself
    help: str


class Registry(Generic[T]):
    """`Registry[T]("sandbox backend", flag="--sandbox", default="bwrap")`."""

    def __init__(
        self,
        point: str,
        *,
        flag: str | None,
        default: str | None,
        modes: dict[str, str] | None = None,
    ) -> None:
        self.point = point  # what an implementation is called, in messages
        self.flag = flag  # the option that names one, in messages
        self.default = default
        self.modes = dict(modes or {})  # names that are not implementations (auto: help)
        self._entries: dict[str, Entry] = {}
        self._loaded: dict[str, T] = {}

    def register(self, name: str, target: str | object, help_text: str) -> None:
        """Add an implementation (a plugin's too): `target` is "module:attribute" or the
        object; registering a name again replaces it."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise SiaError(f"{self.point} name {name!r}: letters, digits, '-' and '_' only")
        self._entries[name] = Entry(target, help_text)
        self._loaded.pop(name, None)

    def implementations(self) -> list[str]:
        _plugins()
        return list(self._entries)

    def names(self) -> list[str]:
        """Every name a setting may take: the modes, then the implementations."""
        return [*self.modes, *self.implementations()]

    def help(self) -> str:
        self.implementations()
        parts = [f"{name} ({text})" for name, text in self.modes.items()]
        parts += [f"{name} ({e.help})" for name, e in self._entries.items()]
        return "; ".join(parts)

    def check(self, name: str) -> str:
        """`name`, or ValueError naming the known ones (a pydantic validator's error)."""
        if name not in self.names():
            raise ValueError(f"unknown {self.point} (known: {', '.join(self.names())})")
        return name

    def get(self, name: str) -> T:
        """The implementation registered as `name`; a one-line SiaError when there is none."""
        if name not in self.implementations():
            where = f"{self.flag} {name}: " if self.flag else ""
            raise SiaError(
                f"{where}unknown {self.point} (known: {', '.join(self.implementations())})"
            )
        if name not in self._loaded:
            target = self._entries[name].target
            if isinstance(target, str):
                module, _, attr = target.partition(":")
                target = getattr(importlib.import_module(module), attr)
            self._loaded[name] = target  # type: ignore[assignment]
        return self._loaded[name]

    def choice(self) -> Any:
        """A click parameter type whose choices are read when the command line is parsed
        (plugins loaded), shown in `--help` from `help()`."""
        import click

        registry = self

        class _Choice(click.Choice):
            def __init__(self) -> None:
                super().__init__([])

            @property  # type: ignore[override]
            def choices(self) -> list[str]:  # noqa: D401
                return registry.names()

            @choices.setter
            def choices(self, value: Any) -> None:
                pass

        return _Choice()


def _plugins() -> None:
    from sia_git.core import plugins

    plugins.load()
