"""Where settings come from: defaults, then `[tool.sia-git]` in pyproject.toml, then
sia-git.toml, then a run's recorded settings (when resuming, from this machine's record), then
command-line flags. Every source is validated against the model; an unknown key or a bad value
is one error naming the key and where it came from."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sia_git.core.errors import SiaError
from sia_git.settings.fields import file_keys, flag
from sia_git.settings.model import EvolveConfig


def _validate(data: dict[str, Any], origin: str, as_flags: bool) -> None:
    """Every problem at once, on one line: a user fixes them all in one go."""
    try:
        EvolveConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            shown = (
                flag(EvolveConfig, key)
                if as_flags and key in EvolveConfig.model_fields
                else ".".join(str(p) for p in err["loc"]) or "?"
            )
            msg = (
                "unknown key"
                if err["type"] == "extra_forbidden"
                else err["msg"].removeprefix("Value error, ")
            )
            got = f" (got {err['input']!r})" if err["type"] != "extra_forbidden" else ""
            problems.append(f"{shown}: {msg}{got}")
        raise SiaError(f"{origin}: " + "; ".join(problems)) from None


def _from_file(path: Path, table: list[str]) -> dict[str, Any]:
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SiaError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SiaError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise SiaError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    for key in table:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        raise SiaError(f"{path}: [{'.'.join(table)}] must be a table")
    out = {k.replace("-", "_"): v for k, v in data.items()}
    origin = f"{path}" + (f" [{'.'.join(table)}]" if table else "")
    unknown = sorted(set(out) - file_keys(EvolveConfig))
    if unknown:
        raise SiaError(f"{origin}: " + "; ".join(f"{k}: unknown key" for k in unknown))
    _validate(out, origin, as_flags=False)
    if out.get("sandbox") == "none":
        raise SiaError(
            f'{origin}: sandbox = "none": an unsandboxed run is only ever asked for on the '
            "command line (--sandbox none), never by a file"
        )
    if "task_dir" in out:
        out["task_dir"] = (path.parent / out["task_dir"]).resolve()
    return out


def load(
    repo_root: Path, flags: dict[str, Any], recorded: dict[str, Any] | None = None
) -> EvolveConfig:
    """Merge the sources. A resumed run's `recorded` settings win over the files (they are the
    run's own); flags given now win over everything."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    pyproject = repo_root / "pyproject.toml"
    if pyproject.is_file():
        found = _from_file(pyproject, ["tool", "sia-git"])
        merged.update(found)
        origins |= dict.fromkeys(found, f"{pyproject.name} [tool.sia-git] ")
    own = repo_root / "sia-git.toml"
    if own.is_file():
        found = _from_file(own, [])
        merged.update(found)
        origins |= dict.fromkeys(found, f"{own.name}: ")
    merged.update(recorded or {})
    origins |= dict.fromkeys(recorded or {}, "the run's recorded settings: ")
    given = {k: v for k, v in flags.items() if v is not None}
    _validate(given, "command line", as_flags=True)
    merged.update(given)
    origins |= dict.fromkeys(given, "")
    cfg = EvolveConfig.model_validate(merged)
    cfg._origins = origins
    if cfg.ray_address and cfg.executor != "ray":
        raise SiaError("--ray-address (ray_address) is only used with --executor ray")
    return cfg
