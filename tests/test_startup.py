"""Read-only commands start fast because they import nothing they do not use: no model client
(litellm alone takes 2.4 s to import), no plotting, no ML or cluster library, and an eval
answered from its cache none of these either. Checked with `python -X importtime`, which lists
every module a process imports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_repo, run_sia

HEAVY = {
    "litellm",
    "openai",
    "matplotlib",
    "transformers",
    "torch",
    "peft",
    "ray",
    "optuna",
    "huggingface_hub",
    "github",
    "numpy",
    "git",  # GitPython: two plumbing calls find the repository instead
}
COMMANDS = ["--version", "log", "log --json", "status", "show 1", "diff 1 2", "eval --json"]


def imported(repo: Path, command: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sia_git", *command.split()],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        m.group(1).split(".")[0]
        for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", done.stderr, re.M)
    }


@pytest.fixture(scope="module")
def run_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:

    repo = make_repo(tmp_path_factory.mktemp("startup") / "project")
    # --accept 1: generation 2's gain (8 of 80 items) is below the paired test's level, and
    # `diff 1 2` needs a generation 2 on the branch.
    args = ["evolve", "--task", "penguins", "--max-gen", "2", "--confirm-runs", "0",
            "--accept", "1"]  # fmt: skip
    done = run_sia(*args, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert run_sia("eval", "--json", cwd=repo).returncode == 0  # fills the evaluation cache
    return repo


@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_command_imports_no_model_plotting_or_ml_library(
    run_repo: Path, command: str
) -> None:
    found = imported(run_repo, command)
    assert "sia_git" in found  # the listing is real
    assert found & HEAVY == set()


def test_an_eval_answered_from_its_cache_loads_no_task_or_settings(run_repo: Path) -> None:
    """A cache hit prints the stored report: no task models, no pydantic, no evaluator."""
    found = imported(run_repo, "eval --json")
    assert {"pydantic", "yaml", "optuna"} & found == set()


def test_the_listing_would_show_a_heavy_import(run_repo: Path) -> None:
    """The check above can fail: `report` draws with matplotlib, and the listing shows it."""
    found = imported(run_repo, "report --out .git/report.html")
    assert "matplotlib" in found
