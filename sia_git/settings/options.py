"""The command-line options generated from the settings model: each setting's flag, type,
help and default come from its one declaration (fields.py); registries give their choices
and their names' help (plugins included)."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click
from pydantic import BaseModel

from sia_git.settings.fields import flag, keys, meta

F = TypeVar("F", bound=Callable[..., Any])


def _base(annotation: Any) -> Any:
    """`int` of `int | None`."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return args[0] if len(args) == 1 else str
    return annotation


def option(model: type[BaseModel], key: str) -> Callable[[F], F]:
    """The click option of one setting."""
    field = model.model_fields[key]
    info = meta(model, key)
    base = _base(field.annotation)
    name = flag(model, key)
    help_text = info.help
    if info.registry is not None:
        help_text = f"{help_text} {info.registry.help()}."
    default = field.default
    shown = default if info.registry is None else info.registry.default
    if info.show_default and shown is not None and not field.default_factory:
        shown = {True: "yes", False: "no"}.get(shown, shown) if isinstance(shown, bool) else shown
        help_text = f"{help_text} [{shown}]"
    kwargs: dict[str, Any] = {"help": help_text, "default": None}
    if base is bool:
        if key == "select_on_test":
            return click.option(name, key, is_flag=True, **kwargs)
        return click.option(f"{name}/--no-{name.removeprefix('--')}", key, **kwargs)
    if info.registry is not None:
        kwargs["type"] = info.registry.choice()
        kwargs["metavar"] = "NAME"
    elif typing.get_origin(base) is Literal:
        kwargs["type"] = click.Choice([str(a) for a in typing.get_args(base)])
    elif base is Path:
        kwargs["type"] = click.Path(path_type=Path)
    elif base in (int, float):
        kwargs["type"] = base
    return click.option(name, key, **kwargs)


def options(model: type[BaseModel]) -> list[Callable[[F], F]]:
    """Every setting's option that the command line takes, in the model's order."""
    return [option(model, k) for k in keys(model) if meta(model, k).cli]
