"""The models of a run, built from its settings: one client for the Meta- and Feedback-Agents,
one for target agents (through the gateway), one shared budget. Bad settings are rejected here,
before any work starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sia_git.core.errors import SiaError
from sia_git.llm.budget import Budget
from sia_git.llm.client import ModelClient, check_model
from sia_git.llm.profiles import resolve
from sia_git.localmodel.load import is_local
from sia_git.localmodel.load import resolve as local_model
from sia_git.settings import EvolveConfig


@dataclass
class Models:
    proposer: ModelClient | None  # writes agents: the Meta-Agent and the Feedback-Agents
    target: ModelClient | None  # what target agents may call through the gateway
    budget: Budget
    warnings: list[str]
    hosted: Any = field(default=None)  # localmodel.hosted.HostedModel: a local target model

    def close(self) -> None:
        if self.hosted is not None:
            self.hosted.close()

    @property
    def key_names(self) -> list[str]:
        return [
            c.profile.api_key_env
            for c in (self.proposer, self.target)
            if c is not None and c.profile.api_key_env
        ]

    @property
    def auth_error(self) -> str | None:
        return next(
            (c.auth_error for c in (self.proposer, self.target) if c is not None and c.auth_error),
            None,
        )

    @property
    def target_name(self) -> str:
        """How the start line names the agents' model."""
        if self.target is None:
            return "none"
        if self.hosted is not None:
            return f"{self.hosted.model.spec} (served here)"
        return self.target.profile.model

    @property
    def proposer_name(self) -> str:
        return self.proposer.profile.model if self.proposer else "none"


def build(cfg: EvolveConfig, spent_usd: float = 0.0, task_target: str | None = None) -> Models:
    """The run's models; `task_target` is the model the task's agent calls by default."""
    budget = Budget(cfg.budget_usd, spent_usd)
    clients: list[ModelClient | None] = []
    hosted = None
    target = cfg.target_model or task_target
    for i, (role, name, base, key) in enumerate(
        (
            (cfg.named("model"), cfg.model, cfg.api_base, cfg.api_key_env),
            (cfg.named("target_model"), target, cfg.target_api_base, cfg.target_api_key_env),
        )
    ):
        if name is None:
            if base or key:
                flag = role.replace("model", "api-base")
                raise SiaError(
                    f"{flag} / api-key-env are set but {role} is not; name the model too"
                )
            clients.append(None)
            continue
        profile = resolve(
            name,
            cfg.profiles,
            base,
            api_key_env=key,
            timeout_s=cfg.model_timeout_s,
            retries=cfg.model_retries,
        )
        if i == 1 and is_local(profile.model):
            from sia_git.localmodel.hosted import HostedModel

            if base:
                raise SiaError(
                    f"{role} {name} is a local model that sia-git serves itself; "
                    "drop the target api-base"
                )
            hosted = HostedModel(local_model(profile.model, role))
            profile = hosted.profile(profile)
        else:
            check_model(profile, role)
        clients.append(ModelClient(profile, budget))
    warnings = []
    if cfg.budget_usd is not None:
        if not any(clients):
            warnings.append("--budget-usd has no effect without --model or --target-model")
        for c in clients:
            if c is not None and not c.priced():
                warnings.append(
                    f"{c.profile.model} has no known price, so its calls count as "
                    "$0 against --budget-usd (set input_cost_per_token and "
                    "output_cost_per_token in its profile)"
                )
    if spent_usd and cfg.budget_usd is not None and spent_usd >= cfg.budget_usd:
        raise SiaError(
            f"the run has spent ${spent_usd:.4f} of its ${cfg.budget_usd:.4f} budget; "
            "raise --budget-usd to go on"
        )
    return Models(clients[0], clients[1], budget, warnings, hosted)
