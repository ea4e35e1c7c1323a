"""The weights lever end to end, through the real command line, on a task that runs a tiny
random BERT (tests/tinymodel.py): a weights generation is a commit that pins its adapter, is
scored again to the same numbers, is undone by `git revert`, can be chosen by the
Feedback-Agent with its own settings, and can be forced or refused with `--lever`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GIT_ENV, Runner, git, run_ids
from tests.fakellm import FakeLLM, tool
from tests.test_evolve import branch_commits, trailers
from tests.test_evolve_llm import MODEL, finish, turn

pytestmark = pytest.mark.slow
WEIGHTS = ("--lever", "weights", "--candidates", "1", "--confirm-runs", "0")


def attempt(repo: Path, run_id: str, gen: int) -> dict:
    return json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:attempt.json"))


def test_a_weights_generation_pins_its_adapter_and_scores_the_same_again(
    repo: Path, sia: Runner, tiny_task: Path
) -> None:
    done = sia("evolve", "--task-dir", str(tiny_task), "--max-gen", "2", *WEIGHTS, cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "training: epoch" in done.stdout  # progress while it trains
    [run_id] = run_ids(repo)
    gen1, gen2 = branch_commits(repo, run_id)
    t = trailers(repo, gen2)
    assert t["Sia-Lever"] == "weights" and float(t["Sia-Score"]) > float(
        trailers(repo, gen1)["Sia-Score"]
    )
    train = json.loads(t["Sia-Train"])
    assert train["lr"] == 0.01 and train["epochs"] == 8 and train["seed"] == 0  # task defaults
    address = t["Sia-Adapter"]
    pin = json.loads(git(repo, "show", f"{gen2}:sia-agent/adapter.json"))
    assert pin["address"] == address and pin["base_revision"].startswith("sha256:")
    assert "Sia-Adapter" not in trailers(repo, gen1)
    stored = repo / ".git" / "sia" / "adapters" / address.removeprefix("sha256:")
    assert (stored / "adapter_model.safetensors").is_file()
    # Reproducibility: seeds, versions and the base revision are in the attempt record.
    record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g0002:c1/training.json"))
    assert record["address"] == address and record["hparams"]["seed"] == 0
    assert record["base_revision"] == pin["base_revision"] and "torch" in record["versions"]

    again = json.loads(sia("eval", gen2, "--json", cwd=repo).stdout)
    assert again["adapter"] == address
    # The selection split scores the same again; a sealed one is never scored afresh.
    assert all(
        row["score"] == row["committed"] if not row["sealed"] else row["score"] is None
        for row in again["splits"]
    ), again
    listed = json.loads(sia("adapters", "list", "--json", cwd=repo).stdout)
    assert [(r["commit"], r["adapter"], r["local"], r["hub"]) for r in listed] == [
        (gen2, address, True, "-")
    ]


def test_git_revert_of_a_weights_generation_takes_its_adapter_away(
    repo: Path, sia: Runner, tiny_task: Path
) -> None:
    assert (
        sia("evolve", "--task-dir", str(tiny_task), "--max-gen", "2", *WEIGHTS, cwd=repo).returncode
        == 0
    )
    [run_id] = run_ids(repo)
    worktree = repo / ".git" / "sia" / "worktrees" / run_id
    git(worktree, "revert", "--no-edit", "HEAD")
    assert not (worktree / "sia-agent" / "adapter.json").exists()
    done = sia("evolve", "--run", run_id, "--max-gen", "3", "--lever", "knobs", cwd=repo)
    assert done.returncode == 0, done.stderr
    record = attempt(repo, run_id, 3)
    assert [c["lever"] for c in record["candidates"]] == ["knobs"]
    assert all(c["adapter"] is None for c in record["candidates"])


def test_the_feedback_agent_chooses_weights_and_its_settings(
    repo: Path, sia: Runner, tiny_task: Path
) -> None:
    steps = [
        tool("list_generations"),
        finish(
            lever="weights",
            lever_reason="the frozen encoder limits it",
            subject="train an adapter",
            train={"lr": -1},
        ),
        finish(
            lever="weights",
            lever_reason="the frozen encoder limits it",
            subject="train an adapter",
            train={"lr": 0.02, "epochs": 6},
        ),
    ]
    with FakeLLM(lambda body, n: steps[min(turn(body), 2)]) as llm:
        done = sia(
            "evolve",
            "--task-dir",
            str(tiny_task),
            "--agent",
            str(tiny_task / "reference" / "target_agent.py"),
            "--model",
            MODEL,
            "--api-base",
            llm.api_base,
            "--candidates",
            "1",
            "--confirm-runs",
            "0",
            "--max-gen",
            "2",
            cwd=repo,
        )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    [c] = attempt(repo, run_id, 2)["candidates"]
    assert c["lever"] == "weights" and c["status"] == "ok"
    commit = c["commit"]
    t = trailers(repo, commit)
    assert t["Sia-Model"] == MODEL and t["Sia-Lever-Reason"] == "the frozen encoder limits it"
    assert json.loads(t["Sia-Train"])["lr"] == 0.02 and json.loads(t["Sia-Train"])["epochs"] == 6
    # The bad settings went back to the model as a tool error, and it called finish again.
    offered = llm.requests[-1]
    finish_spec = next(s for s in offered["tools"] if s["function"]["name"] == "finish")
    assert "weights" in finish_spec["function"]["parameters"]["properties"]["lever"]["enum"]
    assert any(
        "lr: Input should be greater than 0" in str(m.get("content")) for m in offered["messages"]
    )


def test_a_lever_the_run_cannot_pull_is_one_line(repo: Path, sia: Runner) -> None:
    done = sia("evolve", "--task", "penguins", "--lever", "weights", cwd=repo)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().endswith(
        "task penguins has no [weights] table (its agent runs no model to train)"
    )
    done = sia("evolve", "--task", "penguins", "--lever", "harness", cwd=repo)
    assert (
        "--lever harness: needs --model" in done.stderr
        and len(done.stderr.strip().splitlines()) == 1
    )


def test_a_generation_task_trains_on_its_evaluators_reward(
    repo: Path, sia: Runner, tiny_gen_task: Path
) -> None:
    done = sia("evolve", "--task-dir", str(tiny_gen_task), "--max-gen", "2", *WEIGHTS, cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "reward" in done.stdout  # progress shows the mean reward while it trains
    [run_id] = run_ids(repo)
    gen1, gen2 = branch_commits(repo, run_id)
    assert trailers(repo, gen2)["Sia-Lever"] == "weights"
    assert float(trailers(repo, gen2)["Sia-Score"]) > float(trailers(repo, gen1)["Sia-Score"])
    record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g0002:c1/training.json"))
    assert record["objective"] == "generation" and record["hparams"]["group_size"] == 8
    rewards = record["epoch_rewards"]
    assert rewards[-1] > rewards[0]  # the evaluator's reward on training items went up
    again = json.loads(sia("eval", gen2, "--json", cwd=repo).stdout)
    # The selection split scores the same again; a sealed one is never scored afresh.
    assert all(
        row["score"] == row["committed"] if not row["sealed"] else row["score"] is None
        for row in again["splits"]
    ), again


BLOCK_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers', 'peft'):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Block())
from sia_git.cli import main
sys.argv = ['sia-git', 'evolve', '--task', 'word-sentiment-lm']
main()
"""


def test_a_model_task_without_the_weights_extra_says_how_to_install_it(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "sia-git: error: task word-sentiment-lm (its agent runs a model) needs torch, "
        "transformers, peft, not installed here: pip install torch==2.13.0 && "
        "pip install 'sia-git[weights]'"
    )
