"""evolve/first_agent.py: generation 1. A generation 1 that fails is recorded like any candidate
(an attempt ref with its traces) and leaves no scratch space or cgroup behind."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Runner, git

CGROUP_ROOTS = [Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")]


def _cgroups() -> set[str]:
    return {str(p) for root in CGROUP_ROOTS if root.is_dir() for p in root.glob("sia-git-*")}


def _task(tmp_path: Path, sia: Runner, agent: str, timeout: str = "") -> Path:
    assert (
        sia("init", "--task", "crashy", "--dir", str(tmp_path / "crashy"), cwd=tmp_path).returncode
        == 0
    )
    task = tmp_path / "crashy"
    (task / "reference" / "target_agent.py").write_text(agent)
    if timeout:
        toml = task / "task.toml"
        text = toml.read_text().replace("timeout_s = 60   ", f"timeout_s = {timeout}   ", 1)
        assert f"timeout_s = {timeout}" in text
        toml.write_text(text)
    return task


def test_a_crashed_generation_1_is_recorded_and_leaves_nothing_behind(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    task = _task(tmp_path, sia, "import sys\nprint('looking for the data')\nsys.exit('boom')\n")
    before = _cgroups()
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "2", "--quiet", cwd=repo)
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "generation 1 (reference agent) crashed: exit code 1: boom" in line
    [ref] = git(repo, "for-each-ref", "--format=%(refname)", "refs/sia/").split()
    assert ref.endswith("/attempts/g0001") and f"its record is {ref}" in line
    record = json.loads(git(repo, "show", f"{ref}:attempt.json"))
    [cand] = record["candidates"]
    assert cand["status"] == "crashed" and "boom" in cand["reason"]
    assert "looking for the data" in git(repo, "show", f"{ref}:c0/stdout.txt")
    assert "boom" in git(repo, "show", f"{ref}:c0/stderr.txt")
    scratch = repo / ".git" / "sia" / "scratch"
    assert not scratch.exists() or not any(scratch.iterdir())
    assert _cgroups() <= before
    assert git(repo, "for-each-ref", "refs/heads/sia/") == ""  # no run branch: start anew


def test_a_timed_out_generation_1_says_so_once(repo: Path, sia: Runner, tmp_path: Path) -> None:
    task = _task(tmp_path, sia, "import time\ntime.sleep(30)\n", timeout="2")
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "2", "--quiet", cwd=repo)
    assert done.returncode == 2
    assert "timed out" in done.stderr and "timed out: timed out" not in done.stderr


def test_a_task_agent_that_breaks_a_gate_rule_is_told_the_key_that_allows_it(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """A task's own agent that reads a secret (not a provider's key variable, which the sandbox
    fills with a dummy): the line names the rule and the task.toml key that allows it."""
    agent = 'import os\nPW = os.environ.get("DB_PASSWORD", "")\nprint(len(PW))\n'
    task = _task(tmp_path, sia, agent)
    done = sia("evolve", "--task-dir", str(task), "--max-gen", "1", "--quiet", cwd=repo)
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "failed its gates: semgrep:" in line
    assert f'allow it in {task}/task.toml: [agent] allow_rules = ["sia-env-secrets"]' in line
