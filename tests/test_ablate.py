"""`sia-git ablate` (sia_git/commands/ablate.py, sia_git/evolve/changes.py): the tip scored with
each accepted generation's change taken out, paired item by item with the tip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Runner, git, run_ids

pytestmark = pytest.mark.slow
AGENT = Path("sia-agent") / "agent" / "target_agent.py"


def _generation(tree: Path, gen: int, lever: str, edits: list[tuple[str, str]], trailers: str
                ) -> str:  # fmt: skip
    agent = tree / AGENT
    text = agent.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    agent.write_text(text)
    trailers = re.sub(r"Sia-Generation: \d+", f"Sia-Generation: {gen}", trailers)
    trailers = re.sub(r"Sia-Lever: \S+", f"Sia-Lever: {lever}", trailers)
    git(tree, "commit", "-qam", f"generation {gen}: {lever}\n\n{trailers}")
    return git(tree, "rev-parse", "HEAD").strip()


def test_ablate_names_a_no_op_change_and_gives_the_others_intervals(
    repo: Path, sia: Runner
) -> None:
    """Generation 1 is penguins' reference (threshold on mass). By hand: generation 2 switches
    to k-nearest neighbours on the body shape (a knob change that gains), generation 3 changes
    `l2`, which only logistic regression reads (a no-op for knn), generation 4 edits the code to
    standardise. ablate finds generation 3 contributes exactly nothing, gives 2 and 4 their
    intervals, and a second call answers from its note."""
    done = sia("evolve", "--task", "penguins", "--max-gen", "1", cwd=repo)
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    tree = repo / ".git" / "sia" / "worktrees" / run_id
    trailers = git(tree, "log", "-1", "--format=%(trailers)")
    knn = [
        ('"model": "threshold"', '"model": "knn"'),
        ('"features": "mass"', '"features": "morpho"'),
    ]
    _generation(tree, 2, "knobs", knn, trailers)
    _generation(tree, 3, "knobs", [('"l2": 1.0', '"l2": 5.0')], trailers)
    _generation(tree, 4, "harness", [('"standardize": False', '"standardize": True')], trailers)

    first = sia("ablate", "--json", cwd=repo)
    assert first.returncode == 0, first.stderr
    rows = {r["gen"]: r for r in json.loads(first.stdout)["rows"]}
    assert sorted(rows) == [2, 3, 4]
    assert rows[3]["nothing"] and rows[3]["gain"] == 0.0 and rows[3]["interval"] == [0.0, 0.0]
    for gen in (2, 4):
        low, high = rows[gen]["interval"]
        assert low <= rows[gen]["gain"] <= high and high > low, rows[gen]
    assert rows[2]["gain"] > 0  # knn on the body shape beats a threshold on mass
    assert "ablate: generation" in first.stderr  # it ran the agents
    again = sia("ablate", cwd=repo)
    assert again.returncode == 0 and "ablate: generation" not in again.stderr  # from the note
    assert "contributes nothing measurable" in again.stdout
    page = repo.parent / "report.html"
    assert sia("report", run_id, "--out", str(page), cwd=repo).returncode == 0
    assert (
        'id="ablation"' in page.read_text() and "contributes nothing measurable" in page.read_text()
    )
