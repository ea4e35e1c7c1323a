"""The flags of `sia-git evolve` and `sia-git eval` (the longest lists of the command line;
cli.py stays short).
Backends, proposers and forges come from their registries, plugins' included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sia_git import forges
from sia_git.evolve import proposers
from sia_git.sandbox import backends

F = TypeVar("F", bound=Callable[..., Any])

EVOLVE_OPTIONS = [
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        default=None,
        help="Print JSON lines for machines: one event per line (start, generation, candidate "
        "states, best, every message, end).",
    ),
    click.option(
        "--edit-format",
        type=click.Choice(["auto", "tools", "text"]),
        help="How the Feedback-Agent edits: tool calls, or a text protocol (search/replace "
        "blocks) for models and servers without them; auto asks litellm, and for a model it "
        "does not know switches to text when the first reply calls no tool [auto].",
    ),
    click.option("--task", help="Built-in task to evolve (see `sia-git tasks`)."),
    click.option(
        "--task-dir",
        type=click.Path(path_type=Path),
        help="A task directory (task.toml layout, or SIA's data/public layout).",
    ),
    click.option(
        "--agent",
        type=click.Path(path_type=Path),
        help="Seed generation 1 with this agent file instead of the task's reference.",
    ),
    click.option("--run", "run_id", help="Resume this run from its branch tip."),
    click.option("--max-gen", type=int, help="Generations in the run, generation 1 included [8]."),
    click.option("--candidates", type=int, help="Candidates proposed per generation [2]."),
    click.option("--workers", type=int, help="Candidates evaluated at once [2]."),
    click.option("--sandbox", help=f"Where agents run: {backends.help_line()} [bwrap]."),
    click.option(
        "--seed", type=int, help="Seed for the search, also given to agents as SIA_SEED [0]."
    ),
    click.option(
        "--confirm-runs",
        type=int,
        help="Re-runs of an accepted generation; its gain must hold or it is reverted [1].",
    ),
    click.option(
        "--min-improvement",
        type=float,
        help="Margin by which a candidate must beat the incumbent [0].",
    ),
    click.option(
        "--agent-timeout",
        "agent_timeout_s",
        type=float,
        help="Seconds an agent may run (default: the task's).",
    ),
    click.option("--memory-mb", type=int, help="Memory limit for an agent (default: the task's)."),
    click.option(
        "--model",
        help="Model for the Meta- and Feedback-Agents: a litellm model string "
        "(openai/gpt-4o-mini, ollama/llama3, ...) or a profile name from the config. "
        "Without it, the offline knob search proposes.",
    ),
    click.option("--api-base", help="Endpoint for --model (a local or self-hosted server)."),
    click.option(
        "--api-key-env",
        help="NAME of the environment variable holding --model's key (the "
        "key itself is never stored).",
    ),
    click.option("--target-model", help="Model the target agent may call through the gateway."),
    click.option("--target-api-base", help="Endpoint for --target-model."),
    click.option("--target-api-key-env", help="NAME of the variable holding --target-model's key."),
    click.option(
        "--budget-usd",
        type=float,
        help="Hard limit on model spending for the run; the "
        "run stops before a call could pass it, and resumes with a higher limit.",
    ),
    click.option(
        "--model-timeout", "model_timeout_s", type=float, help="Seconds per model call [120]."
    ),
    click.option("--model-retries", type=int, help="Retries on rate limits and server errors [4]."),
    click.option("--feedback-turns", type=int, help="Tool-use turns per Feedback-Agent [16]."),
    click.option(
        "--meta-retries", type=int, help="Times the Meta-Agent may fix a broken first agent [2]."
    ),
    click.option(
        "--allow-rewrite/--no-allow-rewrite",
        default=None,
        help="Let the Feedback-Agent replace whole files, not only patch them [no].",
    ),
    click.option("--proposer", help=f"Who writes the candidates: {proposers.help_line()} [auto]."),
    click.option(
        "--lever",
        type=click.Choice(["auto", "harness", "knobs", "weights"]),
        help="Force one lever for every generation; auto lets the Feedback-Agent choose "
        "(offline: a bandit over the levers' measured gains) [auto].",
    ),
    click.option(
        "--train-timeout",
        "train_timeout_s",
        type=float,
        help="Seconds one LoRA adapter may train before it stops and is scored [900].",
    ),
    click.option(
        "--hub-repo",
        help="Also upload accepted adapters to this Hugging Face Hub model "
        "repo (user/name); HF_ENDPOINT and HF_TOKEN are honoured.",
    ),
    click.option(
        "--review",
        type=click.Choice(["none", "pr", "run-pr"]),
        help="Open a pull request per accepted generation (pr) or one for the run "
        "(run-pr), updated as the run goes on [none].",
    ),
    click.option(
        "--forge",
        help=f"Where pull requests go: {forges.help_line()} [local].",
    ),
    click.option("--review-base", help="Branch a run's pull request targets [main]."),
    click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        help="Where candidate agents run: here, in --workers sandboxed processes "
        "(local), or as Ray tasks, each in its sandbox on a worker (ray; needs "
        "`pip install 'sia-git[ray]'`). Gates and scoring stay here [local].",
    ),
    click.option(
        "--ray-address",
        help="A running Ray cluster (host:port, or auto) for --executor "
        "ray; without it a local Ray instance is started for the run.",
    ),
    click.option(
        "--name",
        help="Name the new run: its id and branch (sia/NAME), instead of <task>-<date>-<time>.",
    ),
    click.option(
        "--select-on-test",
        is_flag=True,
        default=None,
        help="For a task with one answer set that sia-git cannot split into dev and test: "
        "select on it (the test labels). Printed as a warning and recorded in every "
        "commit's Sia-Metric; there is then no sealed test score.",
    ),
    click.option(
        "--quiet",
        is_flag=True,
        default=None,
        help="Plain lines only, no live display (as in a pipe or CI).",
    ),
]


def evolve_options(f: F) -> F:
    """Apply every evolve flag, in the order `--help` lists them."""
    for option in reversed(EVOLVE_OPTIONS):
        f = option(f)
    return f


EVAL_OPTIONS = [
    click.option(
        "--pr-comment",
        type=int,
        metavar="NUMBER",
        help="Also post the Markdown table on GitHub pull request NUMBER, updating the one it "
        "posted before (GITHUB_TOKEN or GH_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL).",
    ),
    click.option(
        "--split",
        default="all",
        show_default=True,
        help="Split to report (dev, test, ...) or all; regressions are judged on the "
        "task's selection split.",
    ),
    click.option(
        "--baseline", help="Commit to compare with [default: REV's parent on the run branch]."
    ),
    click.option("--json", "as_json", is_flag=True, help="Print JSON for machines."),
    click.option("--markdown", is_flag=True, help="Print Markdown (a pull-request comment)."),
    click.option(
        "--fail-on-regression",
        is_flag=True,
        help="Exit 1 when the selection split's score falls below the baseline's by more "
        "than --tolerance.",
    ),
    click.option(
        "--tolerance",
        type=click.FloatRange(min=0),
        default=0.0,
        show_default=True,
        help="How far below the baseline still counts as no regression.",
    ),
    click.option(
        "--task-dir",
        type=click.Path(path_type=Path),
        help="The task folder to score with (in CI: the base branch's sia-agent/task with the "
        "private answers unpacked into it). Default: the task this machine's run used, else "
        "`task`/`task_dir` in sia-git.toml. The task a commit names is never used.",
    ),
    click.option(
        "--task",
        help="A built-in task to score with (see `sia-git tasks`), instead of --task-dir.",
    ),
    click.option(
        "--sandbox",
        help="The sandbox backend to run the agent in [default: the run's, else bwrap]; "
        "`none` runs it unsandboxed and is only ever taken from this flag.",
    ),
]


def eval_options(f: F) -> F:
    for option in reversed(EVAL_OPTIONS):
        f = option(f)
    return f
