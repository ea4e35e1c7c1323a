"""evolve/prior.py and the knobs lever: a run's knob search starts from what earlier runs on the
same task tried, and proposes their best setting first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sia_git.levers.knobs import KnobProposer
from sia_git.store.trials import Trial
from tests.conftest import Runner, git, run_ids

AGENT = b"""KNOBS = {"k": 1, "mode": "a"}
KNOB_SPACE = {"k": [1, 2, 3, 4, 5, 6, 7, 8], "mode": ["a", "b", "c"]}
"""


def _propose(history: list[Trial], prior: list[Trial], n: int = 2) -> list[dict]:
    out = KnobProposer("t/0", "maximize").propose(
        {"target_agent.py": AGENT}, history, 2, n=n, prior=prior
    )
    return [p.knobs for p in out]


def test_the_best_earlier_setting_comes_first_and_the_rest_are_new() -> None:
    prior = [Trial({"k": 3, "mode": "b"}, 0.9, 4), Trial({"k": 5, "mode": "c"}, 0.6, 2),
             Trial({"k": 2, "mode": "a"}, None, 3)]  # fmt: skip
    found = _propose([], prior, n=3)
    assert found[0] == {"k": 3, "mode": "b"}
    assert len(found) == 3 and all(f not in [t.knobs for t in prior] for f in found[1:])


def test_a_best_setting_this_run_tried_already_is_not_proposed_again() -> None:
    prior = [Trial({"k": 3, "mode": "b"}, 0.9, 4)]
    found = _propose([Trial({"k": 3, "mode": "b"}, 0.9, 2)], prior)
    assert {"k": 3, "mode": "b"} not in found and len(found) == 2
    assert _propose([], []) == _propose([], [])  # cold: the same as before, reproducibly


@pytest.mark.slow
def test_a_later_run_starts_from_the_earlier_runs_best(repo: Path, sia: Runner) -> None:
    first = sia("evolve", "--task", "penguins", "--max-gen", "3", "--confirm-runs", "0", cwd=repo)
    assert first.returncode == 0, first.stderr + first.stdout
    [one] = run_ids(repo)
    scored = json.loads(sia("log", "--json", "--run", one, cwd=repo).stdout)["rows"]
    best = max(scored, key=lambda r: r["score"] or 0)
    assert best["gen"] > 1  # the search beat the reference agent: something to start from
    second = sia("evolve", "--task", "penguins", "--max-gen", "2", "--confirm-runs", "0",
                 "--seed", "7", cwd=repo)  # fmt: skip
    assert second.returncode == 0, second.stderr + second.stdout
    assert "warm start:" in second.stdout
    [two] = [r for r in run_ids(repo) if r != one]
    rows = json.loads(sia("log", "--json", "--run", two, cwd=repo).stdout)["rows"]
    [warm] = [r for r in rows if r["gen"] == 2 and r["knobs"] == best["knobs"]]
    body = git(repo, "log", "-1", "--format=%B", warm["commit"])
    assert "Warm start: the best setting earlier runs on this task found" in body
    assert "Sia-Candidate: 1/" in body
