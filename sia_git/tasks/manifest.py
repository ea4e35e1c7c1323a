"""A task's manifest (`task.toml`, or `data/task.toml` over a SIA-layout task's defaults):
its metric, splits, what its agent may use and how long, its evaluator, where its parts are,
and its model (`[weights]`). Every key is validated; an unknown one is an error."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sia_git.sandbox.intercept import valid_host
from sia_git.tasks.model_spec import WeightsSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricSpec(_Strict):
    name: str = "accuracy"
    direction: Literal["maximize", "minimize"] = "maximize"
    # Whether the metric is the share of items whose status is correct (then sia-git scores dev
    # and test from the evaluator's per-item statuses). None: decided by the metric's name.
    mean_over_items: bool | None = None


class SplitSpec(_Strict):
    select: str = "dev"
    report: list[str] = Field(default_factory=list)
    # A task with one answer set (no report split) is split into dev and test by sia-git:
    dev_fraction: float = Field(default=0.5, gt=0, lt=1)
    method: Literal["auto", "items", "narrow"] = "auto"
    id_field: str | None = Field(default=None, min_length=1)  # the answer files' id column/key


class AgentSpec(_Strict):
    timeout_s: float = Field(default=120.0, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    # Distributions the agent may import. "*" means the whole environment (SIA tasks' default).
    packages: list[str] = Field(default_factory=list)
    # Distributions that must never be importable by the agent (the task's data source).
    forbid_packages: list[str] = Field(default_factory=list)
    # Gate rules this task's agents may break (e.g. B602 and sia-subprocess for an agent whose
    # tool is a shell): reported, recorded in Sia-Gates, not failing. The sandbox still contains.
    allow_rules: list[str] = Field(default_factory=list)
    # More variables an agent's SDK reads its key from (e.g. TINKER_API_KEY): with a target
    # model, each is set to the gateway's dummy key, as OPENAI_API_KEY is.
    model_env: list[str] = Field(default_factory=list)
    # The model the agent calls when the run names no --target-model: a litellm model string
    # or a local model sia-git serves itself (package:<distribution>, local:<hub id>, a folder).
    target_model: str | None = Field(default=None, min_length=1)
    # Model calls one run of the agent may make through the gateway.
    # None: 4 per item of the task's answer set, at least 200 (Task.max_model_calls).
    max_model_calls: int | None = Field(default=None, ge=1, le=1_000_000)
    # Whether the agent's model calls may hold content parts that point at a URL or a file
    # (image_url URLs, Anthropic url/file sources): the model's client would fetch them from
    # outside the sandbox, so the gateway refuses them unless the task needs them.
    allow_content_urls: bool = False
    # More hosts whose HTTPS URLs reach the run's model inside the sandbox, beside the
    # well-known providers and the API URLs found in the agent's source.
    model_hosts: list[str] = Field(default_factory=list)

    @field_validator("model_hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        bad = [h for h in hosts if not valid_host(h.lower())]
        if bad:
            raise ValueError(f"not a host name: {bad[0]!r} (a DNS name such as api.example.com)")
        return [h.lower() for h in hosts]


class EvaluatorSpec(_Strict):
    path: str | None = None
    builtin: Literal["accuracy"] | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    # Its address space, at most: a trusted part, but an agent's outputs choose its input.
    memory_mb: int = Field(default=4096, ge=64)
    env: dict[str, str] = Field(default_factory=dict)  # added to the evaluator's environment
    args: list[str] = Field(default_factory=list)  # appended to its command line

    @model_validator(mode="after")
    def _one_source(self) -> EvaluatorSpec:
        if (self.path is None) == (self.builtin is None):
            raise ValueError("set exactly one of 'path' or 'builtin'")
        return self


class LayoutSpec(_Strict):
    public: str = "public"
    private: str = "private"
    reference: str = "reference/target_agent.py"


class Manifest(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    version: str = "1"
    metric: MetricSpec = Field(default_factory=MetricSpec)
    splits: SplitSpec = Field(default_factory=SplitSpec)
    agent: AgentSpec = Field(default_factory=AgentSpec)
    evaluator: EvaluatorSpec = Field(default_factory=lambda: EvaluatorSpec(builtin="accuracy"))
    layout: LayoutSpec = Field(default_factory=LayoutSpec)
    weights: WeightsSpec | None = None  # the model the agent runs; enables the weights lever
