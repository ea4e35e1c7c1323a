"""Every extension point of sia-git, one registry each (core/registry.py), with the built-in
implementations. This is the one place that names them; plugins add theirs here too:

    from sia_git.core.extensions import LEVERS
    LEVERS.register("my-lever", "my_plugin.levers:MyLever", "what it changes")

| registry | implements | chosen by |
|---|---|---|
| SANDBOXES | `sandbox.backends.base.Backend` (a class) | `--sandbox`, `sandbox` |
| PROPOSERS | `evolve.proposers.base.Proposer` (a class) | `--proposer`, `proposer` |
| FORGES | `forges.base.Forge` (a class) | `--forge`, `forge` |
| LEVERS | `levers.base.Lever` (a class) | `--lever`, `lever` (all of them by default) |
| STRATEGIES | `levers.strategies.Strategy` (a class) | `--search`, `search` |
| EXECUTORS | `evolve.executors.Executor` (makes an AgentRunner) | `--executor`, `executor` |
| EDIT_FORMATS | `agents.formats.EditFormat` (a class) | `--edit-format`, `edit_format` |
| GATES | `gates.runners.Runner` (a class) | all run; a task's `allow_rules` waives rules |
"""

from __future__ import annotations

from typing import Any

from sia_git.core.registry import Registry

AUTO = "auto"

SANDBOXES: Registry[Any] = Registry("sandbox backend", flag="--sandbox", default="bwrap")
SANDBOXES.register("bwrap", "sia_git.sandbox.backends.bwrap:Bubblewrap",
                   "the default: bubblewrap namespaces")  # fmt: skip
SANDBOXES.register("unshare", "sia_git.sandbox.backends.unshare:Unshare",
                   "`unshare` namespaces, when bubblewrap cannot start")  # fmt: skip
SANDBOXES.register("docker", "sia_git.sandbox.backends.docker:Docker",
                   "a container through Docker or podman's Docker-compatible service")  # fmt: skip
SANDBOXES.register("none", "sia_git.sandbox.backends.none:Unsandboxed",
                   "unsandboxed: prints a warning; only ever from the command line")  # fmt: skip

PROPOSERS: Registry[Any] = Registry(
    "proposer",
    flag="--proposer",
    default=AUTO,
    modes={AUTO: "feedback with --model, else search"},
)
PROPOSERS.register("search", "sia_git.evolve.proposers.search:OfflineSearch",
                   "offline: a bandit picks the lever, a search strategy its settings")  # fmt: skip
PROPOSERS.register("feedback", "sia_git.evolve.proposers.feedback:FeedbackAgents",
                   "a Feedback-Agent per candidate reads the run and changes the agent; "
                   "needs --model")  # fmt: skip

FORGES: Registry[Any] = Registry("forge", flag="--forge", default="local")
FORGES.register("local", "sia_git.forges.local:LocalForge",
                "review state in refs/sia/reviews, offline")  # fmt: skip
FORGES.register("github", "sia_git.forges.github:GitHubForge",
                "GitHub pull requests: GITHUB_TOKEN, pushes to origin")  # fmt: skip

LEVERS: Registry[Any] = Registry(
    "lever",
    flag="--lever",
    default=AUTO,
    modes={AUTO: "the Feedback-Agent chooses; offline, a bandit over measured gains"},
)
LEVERS.register("harness", "sia_git.levers.harness:Harness",
                "the agent's code, prompts and strategy; needs --model")  # fmt: skip
LEVERS.register("knobs", "sia_git.levers.knobs:Knobs",
                "the values of the agent's KNOBS within its KNOB_SPACE")  # fmt: skip
LEVERS.register("weights", "sia_git.levers.weights:Weights",
                "a LoRA adapter for the model the agent runs ([weights] in task.toml)")  # fmt: skip

STRATEGIES: Registry[Any] = Registry("search strategy", flag="--search", default="auto")
STRATEGIES.register("auto", "sia_git.levers.strategies:Auto",
                    "screen where a candidate's run takes 10 s or more, else tpe")  # fmt: skip
STRATEGIES.register("tpe", "sia_git.levers.strategies:TPE",
                    "optuna's tree-structured Parzen estimator")  # fmt: skip
STRATEGIES.register("screen", "sia_git.levers.strategies:Screen",
                    "each knob of the incumbent varied alone first, then tpe")  # fmt: skip
STRATEGIES.register("random", "sia_git.levers.strategies:Random",
                    "uniform samples of the space, none tried before")  # fmt: skip

EXECUTORS: Registry[Any] = Registry("executor", flag="--executor", default="local")
EXECUTORS.register("local", "sia_git.evolve.executors:local",
                   "here, in --workers sandboxed processes")  # fmt: skip
EXECUTORS.register("ray", "sia_git.evolve.executors:RayExecutor",
                   "as Ray tasks, each in its sandbox on a worker (pip install "
                   "'sia-git[ray]'); gates and scoring stay here")  # fmt: skip

EDIT_FORMATS: Registry[Any] = Registry(
    "edit format",
    flag="--edit-format",
    default=AUTO,
    modes={
        AUTO: "the profile's, else tools when litellm knows the model takes them, else "
        "tools first and text from a first reply that calls none"
    },  # fmt: skip
)
EDIT_FORMATS.register("tools", "sia_git.agents.formats:Tools",
                      "tool calls: read the run, patch files, finish")  # fmt: skip
EDIT_FORMATS.register("text", "sia_git.agents.formats:Text",
                      "a text protocol (TOOL lines, search/replace blocks, FINISH) for models "
                      "and servers without tool calls")  # fmt: skip

GATES: Registry[Any] = Registry("gate", flag=None, default=None)
GATES.register("ruff", "sia_git.gates.ruff:Ruff", "code that cannot run")
GATES.register("bandit", "sia_git.gates.bandit:Bandit", "insecure calls")
GATES.register("semgrep", "sia_git.gates.semgrep:Semgrep",
               "the offline rules in hooks/semgrep: what an agent must never do")  # fmt: skip
GATES.register("secrets", "sia_git.gates.secrets:Secrets",
               "detect-secrets, and the run's secret values")  # fmt: skip
