"""What an agent may import: the task's packages, from sia-git's own environment when it has them
at the versions asked, otherwise from an environment built for the task (once, cached by the
requirement set) with uv or pip. Only the named distributions and their dependencies are shown
to the agent, never the whole of sia-git's environment (except for `"*"`, a task's explicit
choice).

Offline, a build installs from the wheel folder in SIA_GIT_WHEELS (and whatever pip's own
settings, e.g. PIP_FIND_LINKS, give it); when it cannot, one line names every missing package
and the command that fixes it."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from sia_git.core import childenv
from sia_git.core.errors import SiaError
from sia_git.sandbox import packages as pkgs

BUILD_TIMEOUT_S = 900
WHEELS_ENV = "SIA_GIT_WHEELS"
_DONE = ".sia-complete"


def parse(packages: list[str]) -> list[Requirement]:
    out = []
    for spec in packages:
        if spec == "*":
            continue
        try:
            out.append(Requirement(spec))
        except InvalidRequirement:
            raise SiaError(
                f"agent.packages: '{spec}' is not a requirement (e.g. pandas>=2)"
            ) from None
    return out


def satisfied(req: Requirement) -> bool:
    """Installed in sia-git's environment at a version the requirement accepts."""
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return False
    return not req.specifier or req.specifier.contains(version, prereleases=True)


def site_paths(packages: list[str], forbid: list[str]) -> list[Path]:
    """The folders to show at /sia/site for a task's `packages` (not `"*"`)."""
    reqs = parse(packages)
    here = [r.name for r in reqs if satisfied(r)]
    missing = [str(r) for r in reqs if not satisfied(r)]
    paths = pkgs.allowed_paths(here, forbid)
    if missing:
        env = build(missing)
        blocked = {pkgs.norm(n) for n in (*forbid, *pkgs.ALWAYS_HIDDEN)}
        paths += [
            p
            for p in sorted(env.iterdir())
            if p.name not in ("bin", "__pycache__", _DONE) and pkgs.norm(_dist_of(p)) not in blocked
        ]
    return paths


def _dist_of(path: Path) -> str:
    return path.name.split("-")[0] if path.name.endswith(".dist-info") else path.name


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sia-git" / "envs"


def key(requirements: list[str]) -> str:
    text = "\n".join(sorted(requirements)) + f"\npython {sys.version_info[:2]}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(requirements: list[str]) -> Path:
    """The environment holding `requirements` (with their dependencies), built once."""
    dest = cache_root() / key(requirements)
    if (dest / _DONE).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=dest.parent))
    done = subprocess.run(
        _command(tmp, requirements),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env=childenv.scrubbed(),
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        why = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["?"]
        names = " ".join(shlex.quote(r) for r in requirements)  # `pkg>=1` is a redirect unquoted
        raise SiaError(
            f"the task's agent needs packages that are not installed here: {names} (building "
            f"its environment failed: {why[0][:160]}); install them with `pip install {names}`, "
            f"or put their wheels in a folder and set {WHEELS_ENV} to it"
        )
    for d in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
        d.chmod(0o755)  # readable by an agent that runs as its own uid
    (tmp / _DONE).write_text("\n".join(requirements) + "\n")
    try:
        os.rename(tmp, dest)
    except OSError:  # another process built the same one first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _command(target: Path, requirements: list[str]) -> list[str]:
    wheels = os.environ.get(WHEELS_ENV)
    offline = ["--no-index", "--find-links", wheels] if wheels else []
    uv = shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--quiet", "--target", str(target),
                "--python", sys.executable, *offline, *requirements]  # fmt: skip
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    return [*pip, "--no-warn-script-location", "--target", str(target), *offline, *requirements]
