"""What a SIA task's agent needs, read from the reference agent's imports when the task ships no
requirements.txt (SIA's wheel tasks don't: its Docker image has everything).

Each absolute import's top-level module, outside the standard library, is mapped to the installed
distributions that provide it. A module no installed distribution provides can't be shown to the
agent from this environment either way; it is reported, so the user can list it in
`data/task.toml` (`[agent] packages`) and have an environment built for it.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from importlib import metadata

from sia_git.core import pysource


@dataclass(frozen=True)
class Needs:
    packages: list[str]  # distribution names, sorted
    unknown: list[str]  # top-level modules no installed distribution provides


def imported_modules(source: str) -> set[str]:
    """The first two parts of every absolute import's dotted name in `source` (`google.genai`
    for `from google import genai`), at any depth: a function-local import is a need too.
    Relative imports are the agent's own files."""
    found: set[str] = set()
    for node in ast.walk(pysource.parse(source)):
        if isinstance(node, ast.Import):
            found.update(_two_parts(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.update(_two_parts(f"{node.module}.{alias.name}") for alias in node.names)
    return found


def _two_parts(dotted: str) -> str:
    return ".".join(dotted.split(".")[:2])


def needs_of(source: str) -> Needs | None:
    """The distributions `source` imports; None when it isn't Python this interpreter parses."""
    try:
        modules = imported_modules(source)
    except (SyntaxError, ValueError):
        return None
    providers = metadata.packages_distributions()
    packages: set[str] = set()
    unknown: set[str] = set()
    for name in sorted(modules):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        dists = _providers_of(name, providers.get(top, []))
        if dists:
            packages.update(dists)
        else:
            unknown.add(name if len(providers.get(top, [])) > 1 else top)
    return Needs(sorted(packages, key=str.lower), sorted(unknown))


def _providers_of(name: str, dists: list[str]) -> list[str]:
    """Of the distributions that install `name`'s top-level folder, those that install `name`
    itself: `google` is a folder many distributions share (protobuf, google-genai, ...)."""
    if len(dists) <= 1 or "." not in name:
        return dists
    prefix = name.replace(".", "/")
    return [d for d in dists if any(_under(str(f), prefix) for f in _files(d))]


def _under(path: str, prefix: str) -> bool:
    return path.startswith(prefix + "/") or path == prefix + ".py"


def _files(dist: str) -> list[object]:
    try:
        return list(metadata.files(dist) or [])
    except metadata.PackageNotFoundError:
        return []
