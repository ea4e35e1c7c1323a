"""sealed.py and evolve/release.py: sealed scores are released for committed generations only,
by the Ladder rule, so nothing a clone holds reads a sealed label back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sia_git.tasks import sealed
from tests.conftest import Runner, git, run_ids
from tests.sealed_attack import attack, observations, reference_right
from tests.test_sealed_split import fresh_clone

FLIP_TASK = Path(__file__).parent / "data" / "flip_task"


def test_the_step_is_one_standard_error_of_the_split() -> None:
    assert sealed.step(400) == pytest.approx(0.025)
    assert sealed.step(4) == pytest.approx(0.25)
    assert sealed.step(2) == pytest.approx(0.5)  # never finer than one item
    assert sealed.step(None, 0.8) == pytest.approx(0.016)
    assert sealed.step(None, 0.1) == pytest.approx(0.01)
    assert sealed.step(0, 50.0) == pytest.approx(1.0)


def test_a_score_is_rounded_towards_worse_onto_the_grid() -> None:
    assert sealed.on_grid(0.74, 0.05) == pytest.approx(0.70)
    assert sealed.on_grid(0.75, 0.05) == pytest.approx(0.75)  # on the grid stays
    assert sealed.on_grid(0.71, 0.05, "minimize") == pytest.approx(0.75)


def test_the_ladder_moves_only_by_whole_steps() -> None:
    eta = 0.05
    assert sealed.release(0.62, None, eta) == pytest.approx(0.60)
    assert sealed.release(0.64, 0.60, eta) == pytest.approx(0.60)  # less than a step: repeated
    assert sealed.release(0.58, 0.60, eta) == pytest.approx(0.60)  # worse: repeated
    assert sealed.release(0.651, 0.60, eta) == pytest.approx(0.65)  # a whole step
    assert sealed.release(0.9, 0.60, eta) == pytest.approx(0.90)
    assert sealed.release(0.30, 0.40, eta, direction="minimize") == pytest.approx(0.30)
    assert sealed.release(0.37, 0.40, eta, direction="minimize") == pytest.approx(0.40)


def test_one_item_never_moves_a_released_score() -> None:
    """Two agents that differ in one sealed item's answer (1/n apart) get the same released
    value unless the better one crosses a whole step on its own: from any published value,
    for every score, flipping one item changes the release only at a step's edge."""
    n = 40
    eta = sealed.step(n)
    for last in (None, 0.5):
        changed = 0
        for k in range(n):
            a, b = k / n, (k + 1) / n
            changed += sealed.release(a, last, eta) != sealed.release(b, last, eta)
        assert changed <= n * (1 / n) / eta + 1  # at most one edge per step of the grid


def test_violations_name_an_oracle_and_pass_a_ladder() -> None:
    eta = 0.05
    assert sealed.violations([0.6, 0.6, 0.65, 0.65, 0.8], eta) == []
    found = sealed.violations([0.6, 0.625, 0.6], eta)
    assert any("off the release grid" in f for f in found)
    assert any("wrong way" in f for f in found)


@pytest.mark.slow
def test_a_run_that_flips_one_sealed_item_per_candidate_gives_no_label_away(
    repo: Path, sia: Runner, tmp_path: Path
) -> None:
    """The flip fixture's agent flips one sealed item per candidate (its knob `flip`), and
    answers dev items from public hints (`dev_right`), so generations are accepted: 8
    generations x 3 candidates. Everything a clone holds gives the attacker nothing: its
    guesses of the sealed labels are no better than always guessing the commoner answer.
    The same attacker reads the labels off the run that the old rule made (test_audit)."""
    task = tmp_path / "flip"
    shutil.copytree(FLIP_TASK, task)
    done = sia(
        "evolve", "--accept", "1", "--task-dir", str(task), "--max-gen", "8", "--candidates", "3",
        "--confirm-runs", "0", "--quiet", cwd=repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [run_id] = run_ids(repo)
    clone = fresh_clone(repo, tmp_path / "clone")
    accepted = git(clone, "rev-list", f"refs/sia/{run_id}/base..sia/{run_id}").split()
    assert len(accepted) >= 3, "the test needs accepted generations to mean anything"
    rejected = git(clone, "for-each-ref", "--format=%(refname)", f"refs/sia/{run_id}/rejected/")
    assert len(rejected.split()) >= 10
    knobs = git(clone, "log", "--all", "--format=%(trailers:key=Sia-Knobs,valueonly)")
    flips = {json.loads(k)["flip"] for k in knobs.split("\n") if k.strip()}
    assert len(flips - {-1}) >= 5, "the candidates must flip many sealed items"
    released = {float(git(clone, "log", "-1", "--format=%(trailers:key=Sia-Score-Test,valueonly)",
                          sha).strip()) for sha in accepted}  # fmt: skip
    seen = observations(clone)
    assert seen and {o.sealed for o in seen} <= released  # nothing but what the run released

    truth = reference_right(task)
    found = attack(clone, task)
    common = max(sum(truth.values()), len(truth) - sum(truth.values()))
    guess = sum(truth.values()) * 2 >= len(truth)  # the commoner answer, for what is unknown
    right = sum(found.get(i, guess) == truth[i] for i in truth)
    assert right <= common, f"the attacker recovered {right} of {len(truth)} sealed labels"
    assert found == {}  # not one item's flip moved a stored score
    # Rejected candidates store no sealed score at all; committed ones the run's ladder.
    for ref in rejected.split():
        assert "Sia-Score-Test" not in git(clone, "log", "-1", "--format=%B", ref)
    audit = sia("audit", "--run", run_id, "--task-dir", str(task), cwd=clone)
    assert audit.returncode == 0, audit.stdout + audit.stderr
