"""A target model that sia-git serves itself (localmodel/hosted.py): the task names a local
model, the run starts an endpoint for it, and each candidate's agent reaches it through the
gateway with that generation's LoRA adapter applied. A tiny random Llama stands in for the
real model (tests/tinymodel.py); the agent uses the real `openai` SDK inside the sandbox."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids

pytestmark = pytest.mark.slow


def gateway_log(repo: Path, run_id: str, gen: int, cand: str) -> list[dict]:
    text = git(repo, "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:{cand}/gateway.jsonl")
    return [json.loads(line) for line in text.splitlines()]


def test_each_generation_is_served_with_its_own_adapter(
    repo: Path, sia: Runner, tiny_served_task: Path
) -> None:
    done = sia("evolve", "--task-dir", str(tiny_served_task), "--lever", "weights",
               "--candidates", "1", "--confirm-runs", "0", "--max-gen", "2", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    manifest = tomllib.loads((tiny_served_task / "task.toml").read_text())
    model = Path(manifest["agent"]["target_model"])
    assert "target model " in done.stdout and "(served here)" in done.stdout
    [run_id] = run_ids(repo)
    first, second = gateway_log(repo, run_id, 1, "c0"), gateway_log(repo, run_id, 2, "c1")
    assert len(first) == 80  # generation 1: every dev and test item, one call each
    # The candidate ran on dev alone (its staged sample, then the rest): no sealed item.
    assert 40 <= len(second) < 80
    assert {e["served_by"] for e in first} == {f"openai/{model.name}"}
    [served] = {e["served_by"] for e in second}
    record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g0002:attempt.json"))
    address = record["candidates"][0]["adapter"]
    assert served == f"openai/{model.name}@{address}"
    # Same prompts, temperature 0: the adapter changed the answers.
    asked = {e["request"]["messages"]: e["reply"] for e in first}
    changed = [e for e in second if asked[e["request"]["messages"]] != e["reply"]]
    assert changed
    assert all(e["status"] == 200 and e["temperature"] == 0 for e in first + second)


def test_eval_runs_a_generation_again_with_its_served_model(
    repo: Path, sia: Runner, tiny_served_task: Path
) -> None:
    """`sia-git eval` serves the run's local model to the agent again (no proposer model or key
    needed) and gets the score the run committed."""
    done = sia("evolve", "--task-dir", str(tiny_served_task), "--max-gen", "1", cwd=repo)
    assert done.returncode == 0, done.stderr
    again = sia("eval", "1", "--json", cwd=repo)
    assert again.returncode == 0, again.stderr + again.stdout
    dev = next(r for r in json.loads(again.stdout)["splits"] if r["split"] == "dev")
    assert dev["score"] == dev["committed"] is not None
