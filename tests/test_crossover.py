"""levers/knobs.py's crossover: a candidate made of the incumbent's knobs and another
generation's, committed with both parents in `Sia-Parent`, and read back by the history."""

from __future__ import annotations

from pathlib import Path

import pytest

from sia_git.levers.knobs import KnobProposer
from sia_git.store import trailers as T
from sia_git.store.history import Entry, RunHistory
from sia_git.store.trials import Trial
from tests.conftest import Runner, git, run_ids

AGENT = b"""KNOBS = {"a": 1, "b": "x", "c": False}
KNOB_SPACE = {"a": [1, 2, 3], "b": ["x", "y"], "c": [False, True]}
"""


def test_a_crossover_takes_some_knobs_from_each_parent_and_names_both() -> None:
    history = [Trial({"a": 1, "b": "x", "c": False}, 0.5, 1),
               Trial({"a": 3, "b": "y", "c": True}, 0.7, 2),
               Trial({"a": 2, "b": "x", "c": False}, 0.6, 3)]  # fmt: skip
    child = KnobProposer("t/0", "maximize").crossover({"target_agent.py": AGENT}, history, 4,
                                                      parent=1)  # fmt: skip
    assert child is not None and child.also_from == (2,)  # the best other setting
    mixed = child.knobs or {}
    assert mixed not in [t.knobs for t in history]
    assert all(mixed[k] in ({"a": 1, "b": "x", "c": False}[k], history[1].knobs[k]) for k in mixed)
    assert "Crossover: the incumbent (generation 1) with generation 2" in child.improvement.body


def test_no_crossover_without_a_partner_that_differs_in_two_knobs() -> None:
    history = [Trial({"a": 2, "b": "x", "c": False}, 0.9, 2)]  # one knob apart
    assert KnobProposer("t/0", "maximize").crossover({"target_agent.py": AGENT}, history, 3,
                                                     parent=1) is None  # fmt: skip


def test_a_two_parent_trailer_reads_back_with_the_incumbent_first() -> None:
    assert T.parents("3, 5") == [3, 5] and T.parents("4") == [4] and T.parents("none") == []
    gen = {"Sia-Generation": "3", "Sia-Score": "0.5"}
    first = Entry("a" * 40, "gen 3", "generation", gen)
    child = Entry("b" * 40, "gen 4", "generation",
                  {"Sia-Generation": "4", "Sia-Score": "0.75", "Sia-Parent": "3, 2"})  # fmt: skip
    assert RunHistory("r", None, branch=[first, child]).delta(child) == pytest.approx(0.25)


@pytest.mark.slow
def test_a_run_commits_a_crossover_candidate_with_two_parents(repo: Path, sia: Runner) -> None:
    done = sia("evolve", "--task", "penguins", "--max-gen", "4", "--candidates", "3",
               "--confirm-runs", "0", "--stage", "0", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    [run_id] = run_ids(repo)
    refs = git(repo, "for-each-ref", "--format=%(refname)", f"refs/sia/{run_id}/rejected/",
               f"refs/heads/sia/{run_id}").split()  # fmt: skip
    bodies = [git(repo, "log", "-1", "--format=%B", r) for r in refs]
    crossed = [b for b in bodies if "Crossover: the incumbent" in b]
    assert crossed, done.stdout
    for body in crossed:
        parent = next(x for x in body.splitlines() if x.startswith("Sia-Parent: "))
        assert len(T.parents(parent.split(": ", 1)[1])) == 2
