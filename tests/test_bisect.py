"""`git bisect run sia-git eval --bisect --threshold X` (sia_git/commands/bisect.py): each step
scores the commit bisect checked out, alone, and exits 0 (good), 1 (bad) or 125 (skip), so git
itself finds the generation where the score fell below the line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids

pytestmark = pytest.mark.slow
AGENT = Path("sia-agent") / "agent" / "target_agent.py"


def _plant(tree: Path, subject: str, trailers: str, gen: int) -> str:
    """A commit on the run branch made by hand, carrying a generation's trailers."""
    trailers = re.sub(r"Sia-Generation: \d+", f"Sia-Generation: {gen}", trailers)
    git(tree, "commit", "-qam", f"{subject}\n\n{trailers}")
    return git(tree, "rev-parse", "HEAD").strip()


def test_git_bisect_run_finds_a_planted_regression(repo: Path, sia: Runner) -> None:
    """A run's generation 1 scores 0.675 on dev; by hand, a generation that switches the model
    to `majority` (about 0.5) is planted, then a person's commit without trailers (skipped),
    then a harmless generation. `git bisect run` between generation 1 and the tip names the
    planted generation as the first bad commit."""
    done = sia("evolve", "--task", "penguins", "--max-gen", "1", cwd=repo)
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    tree = repo / ".git" / "sia" / "worktrees" / run_id
    good = git(tree, "rev-parse", "HEAD").strip()
    trailers = git(tree, "log", "-1", "--format=%(trailers)", good)
    agent = tree / AGENT
    agent.write_text(agent.read_text().replace('"model": "threshold"', '"model": "majority"', 1))
    bad = _plant(tree, "switch to the majority model", trailers, 2)
    (tree / "NOTES.md").write_text("a person's note\n")
    git(tree, "add", "NOTES.md")
    git(tree, "commit", "-qm", "a person's commit")
    agent.write_text(agent.read_text() + "\n# a comment\n")
    _plant(tree, "a harmless comment", trailers, 3)

    step = sia("eval", "--bisect", "--threshold", "0.6", good, cwd=tree)
    assert step.returncode == 0 and "good" in step.stdout, step.stderr + step.stdout
    step = sia("eval", "--bisect", "--threshold", "0.6", bad, cwd=tree)
    assert step.returncode == 1 and "bad" in step.stdout, step.stderr + step.stdout
    step = sia("eval", "--bisect", "--threshold", "0.6", "HEAD~1", cwd=tree)
    assert step.returncode == 125 and "not a sia-git generation" in step.stderr, step.stderr

    git(tree, "bisect", "start", "HEAD", good)
    found = git(tree, "bisect", "run", sys.executable, "-m", "sia_git", "eval", "--bisect",
                "--threshold", "0.6")  # fmt: skip
    git(tree, "bisect", "reset")
    assert f"{bad} is the first bad commit" in found, found


def test_bisect_flags_go_together(repo: Path, sia: Runner) -> None:
    for args in (("--bisect",), ("--threshold", "0.5"), ("--bisect", "--threshold", "0.5",
                                                         "--baseline", "HEAD")):  # fmt: skip
        done = sia("eval", *args, cwd=repo)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
