"""Which installed files an agent may import: the task's allowed distributions and their needs."""

from __future__ import annotations

import site
import sysconfig
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from sia_git.core.errors import SiaError

# Never visible to an agent, whatever the task allows: sia-git itself carries the built-in tasks'
# private answers inside its package.
ALWAYS_HIDDEN = ("sia-git",)


def _top_levels(dist: metadata.Distribution) -> set[Path]:
    tops: set[Path] = set()
    for f in dist.files or []:
        first = f.parts[0]
        if first.endswith((".dist-info", ".egg-info")) or first in ("..", "__pycache__"):
            continue
        if len(f.parts) == 1 and not first.endswith((".py", ".so", ".pth")):
            continue
        if first.endswith(".pth"):
            continue
        tops.add(Path(str(dist.locate_file(first))))
    return {t for t in tops if t.exists()}


def _metadata_dir(dist: metadata.Distribution) -> set[Path]:
    """The distribution's .dist-info: libraries ask importlib.metadata for their dependencies'
    versions at import time (transformers does), which fails without it."""
    for f in dist.files or []:
        if f.parts[0].endswith(".dist-info"):
            path = Path(str(dist.locate_file(f.parts[0])))
            return {path} if path.is_dir() else set()
    return set()


def _requirements(dist: metadata.Distribution) -> list[str]:
    names = []
    for spec in dist.requires or []:
        try:
            req = Requirement(spec)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(req.name)
    return names


def allowed_paths(packages: list[str], forbid: list[str]) -> list[Path]:
    """Files and folders (from site-packages) to expose for the given distributions, with deps."""
    blocked = {norm(n) for n in (*forbid, *ALWAYS_HIDDEN)}
    seen: set[str] = set()
    paths: set[Path] = set()
    todo = [p for p in packages if p != "*"]
    while todo:
        name = todo.pop()
        key = norm(name)
        if key in seen or key in blocked:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in packages:
                raise SiaError(
                    f"the task lets its agent use '{name}', which is not installed "
                    f"here: pip install {name}"
                ) from None
            continue  # an optional dependency that is not installed
        paths |= _top_levels(dist) | _metadata_dir(dist)
        todo.extend(_requirements(dist))
    return sorted(paths)


def hidden_paths(forbid: list[str]) -> list[Path]:
    """Top-level files of distributions to hide when the whole environment is shown."""
    out: set[Path] = set()
    for name in (*forbid, *ALWAYS_HIDDEN):
        try:
            out |= _top_levels(metadata.distribution(name))
        except metadata.PackageNotFoundError:
            continue
    return sorted(out)


def site_dirs() -> list[Path]:
    """Every site-packages folder this interpreter (and its base interpreter) knows."""
    dirs = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    base = sysconfig.get_paths(
        vars={
            "base": sysconfig.get_config_var("installed_base"),
            "platbase": sysconfig.get_config_var("installed_platbase"),
        }
    )
    dirs |= {base["purelib"], base["platlib"], *site.getsitepackages()}
    dirs |= {"/usr/lib/python3/dist-packages", "/usr/local/lib/python3/dist-packages"}
    return sorted(Path(d) for d in dirs if Path(d).is_dir())


def norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
