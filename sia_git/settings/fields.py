"""A setting is declared once, as a field of the settings model with `setting(...)`: its type,
default and validation (pydantic), its help, and where it may come from. Everything else is
generated from that declaration: the keys a config file may hold, the keys run.toml records,
and the command-line options with their help and defaults (settings/options.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class Meta:
    help: str
    file: bool = True  # may be set in sia-git.toml / [tool.sia-git]
    recorded: bool = True  # kept in run.toml (and this machine's record of the run)
    flag: str | None = None  # the option's name, when not --<key-with-dashes>
    cli: bool = True  # a command-line option of `evolve`
    registry: Any = None  # a core.registry.Registry whose names the value must be
    show_default: bool = True  # "[default]" at the end of the help


def setting(default: Any = None, *, help: str, meta: dict[str, Any] | None = None,
            **field: Any) -> Any:  # fmt: skip
    """A settings field: `help` for --help, `meta` for Meta's other fields (file, recorded,
    flag, cli, registry, show_default), the rest for pydantic's Field."""
    info = Meta(help=help, **(meta or {}))
    extra: Any = {"sia": info}
    if "default_factory" in field:
        return Field(description=help, json_schema_extra=extra, **field)
    return Field(default, description=help, json_schema_extra=extra, **field)


def meta(model: type[BaseModel], key: str) -> Meta:
    extra = model.model_fields[key].json_schema_extra
    found = extra.get("sia") if isinstance(extra, dict) else None
    return (
        found if isinstance(found, Meta) else Meta(help="", file=False, recorded=False, cli=False)
    )


def keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def file_keys(model: type[BaseModel]) -> set[str]:
    return {k for k in keys(model) if meta(model, k).file}


def recorded_keys(model: type[BaseModel]) -> list[str]:
    return [k for k in keys(model) if meta(model, k).recorded]


def flag(model: type[BaseModel], key: str) -> str:
    return meta(model, key).flag or "--" + key.replace("_", "-")
