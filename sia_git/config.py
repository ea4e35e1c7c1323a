"""Settings for `evolve`: defaults, then `[tool.sia-git]` in pyproject.toml, then sia-git.toml,
then command-line flags. Every source is validated; an unknown key or a bad value is an error
that names the key and where it came from."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from sia_git import forges
from sia_git.errors import SiaError
from sia_git.llm.profiles import ModelProfile
from sia_git.sandbox import backends

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class EvolveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str | None = None
    task_dir: Path | None = None
    agent: Path | None = None
    max_gen: int = Field(default=8, ge=1, le=100_000)
    candidates: int = Field(default=2, ge=1, le=1024)  # many machines: bench/scaling.py
    workers: int = Field(default=2, ge=1, le=1024)
    sandbox: str = "bwrap"  # a name in sandbox.backends.BACKENDS
    seed: int = 0
    confirm_runs: int = Field(default=1, ge=0, le=10)
    min_improvement: float = Field(default=0.0, ge=0)
    agent_timeout_s: float | None = Field(default=None, gt=0)
    memory_mb: int | None = Field(default=None, ge=64)
    # Models (litellm model strings or profile names). None: the offline knob search.
    model: str | None = Field(default=None, min_length=1)
    api_base: str | None = Field(default=None, min_length=1)
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    target_model: str | None = Field(default=None, min_length=1)
    target_api_base: str | None = Field(default=None, min_length=1)
    target_api_key_env: str | None = Field(default=None, pattern=ENV_NAME)
    budget_usd: float | None = Field(default=None, gt=0)
    model_timeout_s: float | None = Field(default=None, gt=0)
    model_retries: int | None = Field(default=None, ge=0, le=20)
    feedback_turns: int = Field(default=16, ge=1, le=200)
    meta_retries: int = Field(default=2, ge=0, le=10)
    allow_rewrite: bool = False
    # Which lever changes the agent: auto lets the Feedback-Agent (or, offline, a bandit over
    # measured gains) choose per generation.
    lever: Literal["auto", "harness", "knobs", "weights"] = "auto"
    # Who writes the candidates: a name in evolve.proposers.PROPOSERS, or auto.
    proposer: str = "auto"
    # How the Feedback-Agent edits: tool calls, the text protocol, or auto (the profile's
    # edit_format, else tools when litellm knows the model takes them, else text).
    edit_format: Literal["auto", "tools", "text"] = "auto"
    train_timeout_s: float = Field(default=900.0, gt=0)  # one adapter's training, at most
    train_memory_mb: int = Field(default=16384, ge=512)
    # Adapters also go to this Hugging Face Hub model repo ("user/name"); HF_ENDPOINT or
    # hub_endpoint picks the server, the token comes from HF_TOKEN or `hf auth login`.
    hub_repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    hub_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    # Review: a pull request per accepted generation (pr) or per run (run-pr), on a forge.
    review: Literal["none", "pr", "run-pr"] = "none"
    forge: str = "local"  # a name in forges.FORGES
    review_base: str = Field(default="main", min_length=1)  # what a run's pull request targets
    github_repo: str | None = Field(default=None, pattern=r"^[\w.-]+/[\w.-]+$")
    # Where agents run: here, or as Ray tasks (a local instance, or the cluster at ray_address).
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(default=None, min_length=1)
    profiles: dict[str, ModelProfile] = Field(default_factory=dict)
    # Only as a flag (never from a config file): select on a one-answer-set task's test labels.
    select_on_test: bool = False
    # The new run's id and branch name (sia/<name>), instead of <task>-<date>-<time>.
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")

    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    def named(self, key: str) -> str:
        """How to name a setting in an error: the flag, or the file key it came from."""
        origin = self._origins.get(key, "")
        return f"{origin}{key}" if origin else _flag(key)

    @field_validator("sandbox")
    @classmethod
    def _known_sandbox(cls, value: str) -> str:
        if value not in backends.names():
            raise ValueError(f"unknown sandbox backend (known: {', '.join(backends.names())})")
        return value

    @field_validator("proposer")
    @classmethod
    def _known_proposer(cls, value: str) -> str:
        from sia_git.evolve import proposers

        if value not in proposers.names():
            raise ValueError(f"unknown proposer (known: {', '.join(proposers.names())})")
        return value

    @field_validator("forge")
    @classmethod
    def _known_forge(cls, value: str) -> str:
        if value not in forges.names():
            raise ValueError(f"unknown forge (known: {', '.join(forges.names())})")
        return value


# Keys that make sense in a config file; the rest are per-invocation flags.
FILE_KEYS = {
    "task",
    "task_dir",
    "max_gen",
    "candidates",
    "workers",
    "sandbox",
    "seed",
    "confirm_runs",
    "min_improvement",
    "agent_timeout_s",
    "memory_mb",
    "model",
    "api_base",
    "api_key_env",
    "target_model",
    "target_api_base",
    "target_api_key_env",
    "budget_usd",
    "model_timeout_s",
    "model_retries",
    "feedback_turns",
    "meta_retries",
    "allow_rewrite",
    "profiles",
    "lever",
    "train_timeout_s",
    "train_memory_mb",
    "hub_repo",
    "hub_endpoint",
    "review",
    "forge",
    "proposer",
    "review_base",
    "github_repo",
    "executor",
    "ray_address",
}


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _validate(data: dict[str, Any], origin: str, as_flags: bool) -> None:
    """Every problem at once, on one line: a user fixes them all in one go."""
    try:
        EvolveConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            shown = _flag(key) if as_flags else ".".join(str(p) for p in err["loc"]) or "?"
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
    for key in table:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        raise SiaError(f"{path}: [{'.'.join(table)}] must be a table")
    out = {k.replace("-", "_"): v for k, v in data.items()}
    origin = f"{path}" + (f" [{'.'.join(table)}]" if table else "")
    unknown = sorted(set(out) - FILE_KEYS)
    if unknown:
        raise SiaError(f"{origin}: " + "; ".join(f"{k}: unknown key" for k in unknown))
    _validate(out, origin, as_flags=False)
    if out.get("sandbox") == "none":
        raise SiaError(
            f'{origin}: sandbox = "none": an unsandboxed run is only ever asked for on the '
            "command line (--sandbox none), never by a file"
        )
    for key in ("task_dir",):
        if key in out:
            out[key] = (path.parent / out[key]).resolve()
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
