"""The settings of a run, each declared once (fields.py): defaults, validation, help, and
whether a config file may set it and run.toml records it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator

from sia_git.core import extensions as ext
from sia_git.llm.profiles import ModelProfile
from sia_git.settings.fields import setting

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
ONCE = {"file": False, "recorded": False}  # this invocation's only
_CHOICES = {"sandbox": ext.SANDBOXES, "proposer": ext.PROPOSERS, "forge": ext.FORGES,
            "lever": ext.LEVERS, "search": ext.STRATEGIES, "executor": ext.EXECUTORS,
            "edit_format": ext.EDIT_FORMATS}  # fmt: skip


class EvolveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str | None = setting(
        help="Built-in task to evolve (see `sia-git tasks`).", meta={"recorded": False}
    )
    task_dir: Path | None = setting(
        help="A task directory (task.toml layout, or SIA's data/public layout).",
        meta={"recorded": False},
    )
    agent: Path | None = setting(
        help="Seed generation 1 with this agent file instead of the task's reference.", meta=ONCE
    )
    max_gen: int = setting(
        8, help="Generations in the run, generation 1 included.", ge=1, le=100_000
    )
    candidates: int = setting(2, help="Candidates proposed per generation.", ge=1, le=1024)
    workers: int = setting(2, help="Candidates evaluated at once.", ge=1, le=1024)
    sandbox: str = setting(
        ext.SANDBOXES.default,
        help="Where agents run.",
        meta={"registry": ext.SANDBOXES},
    )
    seed: int = setting(0, help="Seed for the search, also given to agents as SIA_SEED.")
    confirm_runs: int = setting(
        1, help="Re-runs of an accepted generation; its gain must hold or it is reverted.",
        ge=0, le=10,
    )  # fmt: skip
    min_improvement: float = setting(
        0.0, help="Margin by which a candidate must beat the incumbent.", ge=0
    )
    accept: float = setting(
        0.05,
        help="Chance, over the whole run, of accepting a gain that is noise: a candidate is "
        "accepted only when its per-item gain over the incumbent is significant at a level "
        "that shrinks with each test (docs/DESIGN.md). 1 accepts any gain.",
        gt=0,
        le=1,
    )
    stage: float = setting(
        0.25,
        help="Share of dev items a candidate is scored on first (a fixed sample); only one "
        "that can still beat the incumbent there is scored on all of dev. 0 scores every "
        "candidate on all of dev; so are a task's whose inputs can't be cut to a sample, and "
        "a run's whose generation 1 agent ran under 2 s.",
        ge=0,
        lt=1,
    )
    agent_timeout_s: float | None = setting(
        help="Seconds an agent may run (default: the task's).",
        meta={"flag": "--agent-timeout"},
        gt=0,
    )
    memory_mb: int | None = setting(
        help="Memory limit for an agent in MB (default: the task's).", ge=64
    )
    # Models (litellm model strings or profile names). None: the offline knob search.
    model: str | None = setting(
        help="Model for the Meta- and Feedback-Agents: a litellm model string "
        "(openai/gpt-4o-mini, ollama/llama3, ...) or a profile name from the config. Without "
        "it, the offline knob search proposes.",
        min_length=1,
    )
    api_base: str | None = setting(
        help="Endpoint for --model (a local or self-hosted server).", min_length=1
    )
    api_key_env: str | None = setting(
        help="NAME of the environment variable holding --model's key (the key itself is "
        "never stored).",
        pattern=ENV_NAME,
    )
    target_model: str | None = setting(
        help="Model the target agent may call through the gateway.", min_length=1
    )
    target_api_base: str | None = setting(help="Endpoint for --target-model.", min_length=1)
    target_api_key_env: str | None = setting(
        help="NAME of the variable holding --target-model's key.", pattern=ENV_NAME
    )
    budget_usd: float | None = setting(
        help="Hard limit on model spending for the run; the run stops before a call could "
        "pass it, and resumes with a higher limit.",
        gt=0,
    )
    model_timeout_s: float | None = setting(
        help="Seconds per model call (default: the profile's, "
        f"{ModelProfile.model_fields['timeout_s'].default:g}).",
        meta={"flag": "--model-timeout"},
        gt=0,
    )
    model_retries: int | None = setting(
        help="Retries on rate limits and server errors (default: the profile's, "
        f"{ModelProfile.model_fields['retries'].default}).",
        ge=0,
        le=20,
    )
    feedback_turns: int = setting(16, help="Tool-use turns per Feedback-Agent.", ge=1, le=200)
    meta_retries: int = setting(
        2, help="Times the Meta-Agent may fix a broken first agent.", ge=0, le=10
    )
    allow_rewrite: bool = setting(
        False, help="Let the Feedback-Agent replace whole files, not only patch them."
    )
    lever: str = setting(
        ext.LEVERS.default,
        help="Force one lever for every generation.",
        meta={"registry": ext.LEVERS},
    )
    proposer: str = setting(
        ext.PROPOSERS.default,
        help="Who writes the candidates.",
        meta={"registry": ext.PROPOSERS},
    )
    search: str = setting(
        ext.STRATEGIES.default,
        help="How the offline levers pick the settings to try.",
        meta={"registry": ext.STRATEGIES},
    )
    edit_format: str = setting(
        ext.EDIT_FORMATS.default,
        help="How the Feedback-Agent edits.",
        meta={"registry": ext.EDIT_FORMATS},
    )
    train_timeout_s: float = setting(
        900.0,
        help="Seconds one LoRA adapter may train before it stops and is scored.",
        meta={"flag": "--train-timeout"},
        gt=0,
    )
    train_memory_mb: int = setting(16384, help="Memory limit for one LoRA training, in MB.", ge=512)
    hub_repo: str | None = setting(
        help="Also upload accepted adapters to this Hugging Face Hub model repo (user/name); "
        "HF_ENDPOINT and HF_TOKEN are honoured.",
        pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$",
    )
    hub_endpoint: str | None = setting(
        help="The Hugging Face Hub server (default: HF_ENDPOINT, else the public Hub).",
        pattern=r"^https?://",
    )
    review: Literal["none", "pr", "run-pr"] = setting(
        "none",
        help="Open a pull request per accepted generation (pr) or one for the run (run-pr), "
        "updated as the run goes on.",
    )
    forge: str = setting(
        ext.FORGES.default, help="Where pull requests go.", meta={"registry": ext.FORGES}
    )
    review_base: str | None = setting(
        help="Branch a run's pull request targets (default: the branch checked out, else main).",
        min_length=1,
    )
    github_repo: str | None = setting(
        help="The GitHub repository (owner/name) for --forge github (default: "
        "GITHUB_REPOSITORY, else origin's URL).",
        pattern=r"^[\w.-]+/[\w.-]+$",
    )
    executor: str = setting(
        ext.EXECUTORS.default,
        help="Where candidate agents run.",
        meta={"registry": ext.EXECUTORS, "recorded": False},
    )
    ray_address: str | None = setting(
        help="A running Ray cluster (host:port, or auto) for --executor ray; without it a "
        "local Ray instance is started for the run.",
        meta={"recorded": False},
        min_length=1,
    )
    profiles: dict[str, ModelProfile] = setting(
        help="Model profiles by name ([profiles.NAME] tables).",
        meta={"recorded": False, "cli": False},
        default_factory=dict,
    )
    select_on_test: bool = setting(
        False,
        help="For a task with one answer set that sia-git cannot split into dev and test: "
        "select on it (the test labels). Printed as a warning and recorded in every commit's "
        "Sia-Metric; there is then no sealed test score.",
        meta={**ONCE, "show_default": False},
    )
    name: str | None = setting(
        help="Name the new run: its id and branch (sia/NAME), instead of <task>-<date>-<time>.",
        meta=ONCE,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$",
    )

    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    def named(self, key: str) -> str:
        """How to name a setting in an error: the flag, or the file key it came from."""
        from sia_git.settings.fields import flag

        origin = self._origins.get(key, "")
        return f"{origin}{key}" if origin else flag(type(self), key)

    @field_validator("name")
    @classmethod
    def _ref_name(cls, value: str | None) -> str | None:
        # What the pattern lets through but git refuses in a ref name (git check-ref-format),
        # found now rather than in update-ref after generation 1 has run.
        if value is not None and (".." in value or value.endswith((".", ".lock"))):
            raise ValueError("git refuses it as a branch name (no '..', no trailing '.' or "
                             "'.lock'); choose another")  # fmt: skip
        return value

    @field_validator(*_CHOICES)
    @classmethod
    def _registered(cls, value: str, info: object) -> str:
        return _CHOICES[getattr(info, "field_name")].check(value)  # noqa: B009
