"""`sia-git transfer GEN --to RUN` (sia_git/commands/transfer.py, sia_git/evolve/changes.py): a
generation's change carried to another run, tried there as its next generation, committed
with its origin when it wins and reported when it does not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Runner, git
from tests.test_evolve import trailers

pytestmark = pytest.mark.slow
AGENT = "sia-agent/agent/target_agent.py"


def by_hand(tree: Path, gen: int, lever: str, edits: list[tuple[str, str]], first: str) -> str:
    """A generation committed in a run's worktree with generation 1's trailers, renumbered."""
    agent = tree / AGENT
    text = agent.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    agent.write_text(text)
    kept = [line for line in first.splitlines() if not line.startswith(("Sia-Lever:", "Sia-Gen"))]
    body = "\n".join([*kept, f"Sia-Generation: {gen}", f"Sia-Lever: {lever}"])
    git(tree, "commit", "-qam", f"gen {gen}: {lever} by hand\n\n{body}")
    return git(tree, "rev-parse", "HEAD").strip()


def test_transfer_commits_a_change_that_wins_there_and_reports_one_that_does_not(
    repo: Path, sia: Runner
) -> None:
    """Run `a` (penguins): by hand, generation 2 switches to standardised knn on the body shape
    (knob values: a large gain), 3 sets `l2`, which knn ignores (no gain), 4 edits the code so
    that it never standardises (a loss). Run `b` is the reference agent alone. Generation 2
    carried to `b` wins there and is committed with its origin; 3 (as knob values) and 4 (as a
    three-way merge of the code) are tried and reported, not committed."""
    for name in ("a", "b"):
        done = sia("evolve", "--task", "penguins", "--max-gen", "1", "--name", name, cwd=repo)
        assert done.returncode == 0, done.stderr
    tree = repo / ".git" / "sia" / "worktrees" / "a"
    first = git(tree, "log", "-1", "--format=%(trailers)")
    knn = [('"model": "threshold"', '"model": "knn"'), ('"features": "mass"', '"features": '
           '"morpho"'), ('"standardize": False', '"standardize": True')]  # fmt: skip
    g2 = by_hand(tree, 2, "knobs", knn, first)
    by_hand(tree, 3, "knobs", [('"l2": 1.0', '"l2": 5.0')], first)
    never = ('    if knobs["standardize"]:\n', '    if not knobs["standardize"]:\n')
    by_hand(tree, 4, "harness", [never], first)

    done = sia("transfer", "2", "--run", "a", "--to", "b", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "transfer: generation 2 of run a is now generation 2 of run b" in done.stdout
    tip = git(repo, "rev-parse", "sia/b").strip()
    t = trailers(repo, tip)
    assert t["Sia-Transferred-From"] == f"a gen 2 {g2}" and t["Sia-Generation"] == "2"
    assert t["Sia-Lever"] == "knobs" and float(t["Sia-Score"]) > 0.85  # from 0.675
    carried = git(repo, "show", f"{tip}:{AGENT}")
    assert '"model": "knn"' in carried and '"standardize": True' in carried

    done = sia("transfer", "3", "--run", "a", "--to", "b", "--json", cwd=repo)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["committed"] is False and result["generation"] == 3 and result["says"]
    assert git(repo, "rev-parse", "sia/b").strip() == tip  # nothing committed

    done = sia("transfer", "4", "--run", "a", "--to", "b", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert re.search(r"transfer: not committed to run b: .+", done.stdout)
    tried = git(repo, "show", f"refs/sia/b/rejected/g0004-c1:{AGENT}")
    assert 'if not knobs["standardize"]:' in tried and '"model": "knn"' in tried
    assert git(repo, "rev-parse", "sia/b").strip() == tip

    for args, says in (
        (("1", "--run", "a", "--to", "b"), "generation 1 is its run's starting point"),
        (("2", "--run", "a", "--to", "a"), "is from that run; name another run"),
        (("2", "--run", "a", "--to", "b"), "that run has it already"),
        (("9", "--run", "a", "--to", "b"), "run a has no generation 9"),
    ):
        refused = sia("transfer", *args, cwd=repo)
        assert refused.returncode == 2 and says in refused.stderr, (args, refused.stderr)
